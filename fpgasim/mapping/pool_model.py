"""The pooling unit's closed-form latency: the analytical twin of the emulated pool unit.

Owns :func:`pool_estimate` (a max-plus recurrence over the pool unit's tiles with two-bank
buffers), the chunk-pipelined DMA time it uses (:func:`dma_cycles`) and the rates it takes
(:class:`PoolRates`). The layer-list planner prices pooling layers with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.kernels.pool_schedule import PoolTiling, pool_compute_cycles, pool_tiles
from fpgasim.nn.layers import Pool

__all__ = ["PoolRates", "PoolEstimate", "dma_cycles", "pool_estimate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolRates:
    """Elements per engine cycle of the DDR channel alone and of the IFM / OFM ports, and the DMA
    chunk in elements (for :func:`pool_estimate`)."""

    ddr: float
    ifm: float
    ofm: float
    chunk_elems: int


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
    t_c = [float(pool_compute_cycles(t.ofm_elems, layer.kernel, lanes)) for t in tiles]
    t_o = [dma_cycles(t.ofm_elems, rates.chunk_elems, rates.ofm, rates.ddr) for t in tiles]
    n = len(tiles)
    load, comp, store = [0.0] * (n + 2), [0.0] * (n + 2), [0.0] * (n + 2)  # tile k at index k + 2
    for k in range(n):
        j = k + 2
        load[j] = max(load[j - 1], comp[j - 2]) + t_i[k]
        comp[j] = max(load[j], comp[j - 1], store[j - 2]) + t_c[k]
        store[j] = max(comp[j], store[j - 1]) + t_o[k]
    return PoolEstimate(cycles=store[n + 1], tiles=n, load_cycles=sum(t_i), compute_cycles=sum(t_c),
                        store_cycles=sum(t_o), fill_cycles=t_i[0] + t_c[0], drain_cycles=t_o[-1])
