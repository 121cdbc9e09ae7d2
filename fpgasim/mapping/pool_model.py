"""The pooling unit's closed-form latency: the analytical twin of the emulated pool unit.

Owns :func:`pool_estimate` (a max-plus recurrence over the pool unit's tiles with two-bank
buffers), its twin for the same unit streaming an element-wise node (:func:`vector_estimate`,
the analytical side of :func:`fpgasim.sim.vector_engine.vector_layer`), the chunk-pipelined DMA
time they use (:func:`dma_cycles`) and the rates they take (:class:`PoolRates`). The layer-list
planner prices pooling layers with it, the graph partitioner every pooling and vector node.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.kernels import TiledConvDesign
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.kernels.pool_schedule import PoolTiling, pool_compute_cycles, pool_tiles, split_evenly
from fpgasim.mapping.device import element_bytes
from fpgasim.mapping.spec import rate_from_bandwidth
from fpgasim.nn.graph import Node
from fpgasim.nn.layers import Pool

__all__ = ["PoolRates", "PoolEstimate", "dma_cycles", "pool_estimate", "vector_estimate", "vector_work"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolRates:
    """Elements per engine cycle of the DDR channel alone and of the IFM / OFM ports, and the DMA
    chunk in elements (for :func:`pool_estimate`)."""

    ddr: float
    ifm: float
    ofm: float
    chunk_elems: int

    @classmethod
    def for_design(cls, design: TiledConvDesign, *, ddr_bytes_per_s: float, burst_bytes: int) -> PoolRates:
        """The rates of ``design``'s unit on a DDR channel of ``ddr_bytes_per_s`` read in bursts of
        ``burst_bytes`` (the DMA chunk)."""
        nbytes = element_bytes(design.precision.word_bits)
        per_beat = design.elements_per_beat()
        return cls(ddr=rate_from_bandwidth(bandwidth_bytes_per_s=ddr_bytes_per_s, bytes_per_element=nbytes,
                                           clock_mhz=design.clock_mhz),
                   ifm=per_beat["ifm"], ofm=per_beat["ofm"], chunk_elems=max(1, burst_bytes // nbytes))


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolEstimate:
    """:func:`pool_estimate`'s result (engine cycles): the total, the tile count, each stage's
    summed time, the first tile's load + compute and the last tile's store."""

    cycles: float
    tiles: int
    load_cycles: float
    compute_cycles: float
    store_cycles: float
    fill_cycles: float
    drain_cycles: float


def dma_cycles(elems: int, chunk_elems: int, first: float, second: float) -> float:
    """Cycles of a chunk-pipelined DMA through two stages of ``first`` then ``second`` elements
    per cycle (DDR then port for a read): chunk i+1 on the first stage overlaps chunk i on the
    second, as :func:`fpgasim.sim.port.dma_read` / ``dma_write`` do."""
    sizes = [chunk_elems] * (elems // chunk_elems) + ([elems % chunk_elems] if elems % chunk_elems else [])
    total, previous = 0.0, 0.0
    for size in sizes:
        total += max(size / first, previous)
        previous = size / second
    return total + previous


def pool_estimate(layer: Pool, part: ConvPart, tiling: PoolTiling, *, lanes: int, rates: PoolRates) -> PoolEstimate:
    """The no-contention latency of :func:`pool_layer` on ``part``: the max-plus recurrence of
    its three stages over tiles k = 0..n−1 with two-bank input and output buffers (a load needs
    the input bank compute freed two tiles earlier; compute needs the output bank the store freed
    two tiles earlier)::

        L(k) = max(L(k−1), C(k−2)) + t_I(k)
        C(k) = max(L(k), C(k−1), S(k−2)) + t_C(k)
        S(k) = max(C(k), S(k−1)) + t_O(k)          cycles = S(n−1)

    t_I / t_O: :func:`dma_cycles` of the window read / the outputs written; t_C:
    :func:`pool_compute_cycles`. Read and write never contend for DDR here (the emulator's gap).

    Raises:
        BadArgument: an empty or out-of-range ``part``.
    """
    tiles = list(pool_tiles(layer, part, tiling))
    if not tiles:
        raise BadArgument(f"pool_estimate: part {part} of {layer.name} is empty")
    t_i = [dma_cycles(t.ifm_elems, rates.chunk_elems, rates.ddr, rates.ifm) for t in tiles]
    t_c = [float(pool_compute_cycles(t.ofm_elems, layer.kernel_h * layer.kernel_w, lanes)) for t in tiles]
    t_o = [dma_cycles(t.ofm_elems, rates.chunk_elems, rates.ofm, rates.ddr) for t in tiles]
    return _pipelined(t_i, t_c, t_o)


def vector_estimate(*, input_elems: list[int], output_elems: int, operations: int, lanes: int, tile_elems: int,
                    rates: PoolRates) -> PoolEstimate:
    """The no-contention latency of :func:`~fpgasim.sim.vector_engine.vector_layer`: tiles of at
    most ``tile_elems`` outputs, each reading its share of every input one after another, spending
    ⌈operations share / lanes⌉ cycles and writing its outputs — the same recurrence as
    :func:`pool_estimate`, the sizes cut by :func:`~fpgasim.kernels.pool_schedule.split_evenly` as there.

    Raises:
        BadArgument: lanes or tile_elems < 1.
    """
    if lanes < 1 or tile_elems < 1:
        raise BadArgument(f"vector_estimate: lanes={lanes}, tile_elems={tile_elems}: expected >= 1")
    tiles = max(1, -(-output_elems // tile_elems))

    reads = [split_evenly(elems, tiles) for elems in input_elems]
    writes, work = split_evenly(output_elems, tiles), split_evenly(operations, tiles)
    t_i = [sum(dma_cycles(share[k], rates.chunk_elems, rates.ddr, rates.ifm) for share in reads if share[k])
           for k in range(tiles)]
    t_c = [float(-(-work[k] // lanes)) for k in range(tiles)]
    t_o = [dma_cycles(writes[k], rates.chunk_elems, rates.ofm, rates.ddr) if writes[k] else 0.0 for k in range(tiles)]
    return _pipelined(t_i, t_c, t_o)


def vector_work(node: Node, batch: int, part: ConvPart | None = None) -> tuple[list[int], int, int]:
    """What the vector unit streams for ``node``, or for ``part`` of its output (a node split over
    boards): elements read from each input, elements written, element operations. A part takes
    its share of each in proportion to its outputs (rounded up)."""
    def volume(spans) -> int:
        size = 1
        for lo, hi in spans:
            size *= max(hi - lo, 0)
        return size

    total = batch * volume((0, dim) for dim in node.out_shape)
    inputs = [batch * volume((0, dim) for dim in shape) for shape in node.in_shapes]
    operations = max(node.elementwise_ops, 1) * batch
    if part is None:
        return inputs, total, operations
    out = volume((part.batch, part.out_ch, part.out_rows, part.out_cols))
    return [-(-elems * out // total) for elems in inputs], out, -(-operations * out // total)


def _pipelined(t_i: list[float], t_c: list[float], t_o: list[float]) -> PoolEstimate:
    """Load, compute and store of n tiles through two-bank buffers (the recurrence of :func:`pool_estimate`)."""
    n = len(t_i)
    load, comp, store = [0.0] * (n + 2), [0.0] * (n + 2), [0.0] * (n + 2)  # tile k at index k + 2
    for k in range(n):
        j = k + 2
        load[j] = max(load[j - 1], comp[j - 2]) + t_i[k]
        comp[j] = max(load[j], comp[j - 1], store[j - 2]) + t_c[k]
        store[j] = max(comp[j], store[j - 1]) + t_o[k]
    return PoolEstimate(cycles=store[n + 1], tiles=n, load_cycles=sum(t_i), compute_cycles=sum(t_c),
                        store_cycles=sum(t_o), fill_cycles=t_i[0] + t_c[0], drain_cycles=t_o[-1])
