"""Planning a layer list on one or more identical boards: every conv, FC and pooling layer's
tiles, partition and model latency.

Owns :func:`plan_layers` — the per-layer choice the ``board``/``kernel``/``cluster`` form of an
experiment (Super-LIP, AlexNet, VGG16) runs and sweeps evaluate: a conv or FC layer (FC as a 1×1
convolution on a 1×1 map) gets its ⟨Tm,Tn,Tr,Tc⟩ from the analytical model (Tm, Tn fixed by the
design unless every tile size is searched) and its partition ⟨Pb,Pr,Pc,Pm⟩ (searched per layer,
or fixed); a pooling layer runs on the pool unit, each board pooling the region its next conv
part needs (docs/emulated-layers.md), priced by the pool unit's closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.kernels import TiledConvDesign
from fpgasim.kernels.conv_schedule import ConvPart, Tiling
from fpgasim.kernels.pool_schedule import PoolTiling
from fpgasim.mapping.device import element_bytes, linear_as_conv, pool_tiling
from fpgasim.mapping.latency import LayerLatency, layer_latency
from fpgasim.mapping.parts import board_parts
from fpgasim.mapping.pool_model import PoolRates, pool_estimate
from fpgasim.mapping.redistribute import needed_input, through_pools
from fpgasim.mapping.search import search_partition, search_tiling
from fpgasim.mapping.spec import (
    Bottleneck, ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, conv_shape, rate_from_bandwidth,
)
from fpgasim.nn import Conv2d, Linear, Network, Pool

__all__ = ["LayerKind", "LayerSetup", "plan_layers"]


class LayerKind(StrEnum):
    """How a planned layer runs: on the MAC array (conv, FC as 1×1 conv) or the pooling unit."""

    CONV = "conv"
    LINEAR = "linear"
    POOL = "pool"


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSetup:
    """One planned layer.

    Attributes:
        layer: conv and FC layers: the ``as_conv()`` form (FC: :func:`linear_as_conv`); pooling:
            the :class:`~fpgasim.nn.Pool` itself.
        shape: the analytical model's view of it (channels per group; a pool is a depthwise
            K×K window, so ``shape.macs`` counts window operations).
        tiling: tile sizes (pool: Tm = Tn = channels per tile, at most the design's Tn; Tr×Tc output
            elements whose input window fits the IFM buffer).
        partition: split over the boards (pool: its next conv's partition, or all 1).
        analytical: the complete model's prediction (pool: the closed form of
            docs/emulated-layers.md) for one board.
        released: the authors' released model (no halo, no fill/drain); pool: same closed form.
        kind: conv, linear or pool.
        source: the network's layer as declared (FC: the :class:`~fpgasim.nn.Linear`).
        regions: pool only: the output region each board pools (index = board).
    """

    layer: Conv2d | Pool
    shape: ConvShape
    tiling: Tiling
    partition: Partition
    analytical: LayerLatency
    released: LayerLatency
    kind: LayerKind = LayerKind.CONV
    source: object | None = None
    regions: tuple[ConvPart, ...] = ()


def _choose(shape: ConvShape, design: TiledConvDesign, bounds: ResourceBounds, rates: StreamRates, boards: int,
            *, search_all_tiles: bool, partition: Partition | None) -> tuple[Tiling, Partition]:
    if partition is not None:
        partition.check(shape, boards=boards)
    fixed = {} if search_all_tiles else {"fixed_tm": design.parallelism.tm, "fixed_tn": design.parallelism.tn}
    if partition is None and boards > 1:
        choice = search_partition(shape, boards=boards, bounds=bounds, rates=rates,
                                  variant=ModelVariant.COMPLETE, **fixed)
        return choice.tiling, choice.partition
    partition = partition or Partition()
    choice = search_tiling(shape, bounds=bounds, rates=rates, variant=ModelVariant.COMPLETE,
                           partition=partition, **fixed)
    return choice.tiling, partition


def _pool_regions(flat: tuple, position: int, planned: dict[int, LayerSetup], network: Network
                  ) -> tuple[tuple[ConvPart, ...], Partition]:
    """Each board's output region of the pool at ``position``: what its next conv part needs
    (through any later pools), or the whole output on board 0 when no conv follows directly."""
    pool: Pool = flat[position]
    later: list[Pool] = []
    for index in range(position + 1, len(flat)):
        layer = flat[index]
        if isinstance(layer, Pool):
            later.append(layer)
            continue
        nxt = planned.get(index)
        if network.chained and nxt is not None and nxt.kind is LayerKind.CONV:
            regions = []
            for part in board_parts(nxt.layer, network.batch, nxt.partition):
                need = through_pools(needed_input(nxt.layer, part), later)
                regions.append(ConvPart(batch=need.batch, out_ch=need.channels, out_rows=need.rows,
                                        out_cols=need.cols) if not part.is_empty else part)
            return tuple(regions), nxt.partition
        break
    whole = ConvPart(batch=(0, network.batch), out_ch=(0, pool.channels), out_rows=(0, pool.out_h),
                     out_cols=(0, pool.out_w))
    return (whole,), Partition()


def _pool_latency(pool: Pool, regions: tuple[ConvPart, ...], tiling: Tiling, rates: PoolRates,
                  lanes: int) -> LayerLatency:
    """The pooling unit's model latency on its busiest board (:func:`pool_estimate`); per-tile
    terms are averages (tiles × term = the total)."""
    best: LayerLatency | None = None
    schedule = PoolTiling.from_tiling(tiling)
    for part in regions:
        if part.is_empty:
            continue
        est = pool_estimate(pool, part, schedule, lanes=lanes, rates=rates)
        n, sums = est.tiles, (est.compute_cycles, est.load_cycles, est.store_cycles)
        label = (Bottleneck.COMPUTE, Bottleneck.DDR_READ_IFM, Bottleneck.DDR_WRITE_OFM)[sums.index(max(sums))]
        lat = LayerLatency(t_i_cycles=sums[1] / n, t_w_cycles=0.0, t_c_cycles=sums[0] / n, t_o_cycles=sums[2] / n,
                           t_link_w_cycles=0.0, t_link_i_cycles=0.0, t_link_cycles=0.0,
                           l_in_cycles=max(sums[0], sums[1]) / n, l_out_cycles=max(sums) / n, steps=1, tiles=n,
                           fill_cycles=est.fill_cycles, drain_cycles=est.drain_cycles, cycles=est.cycles,
                           bottleneck=label, variant=ModelVariant.COMPLETE)
        if best is None or lat.cycles > best.cycles:
            best = lat
    return best


def _plan_pool(flat: tuple, position: int, planned: dict[int, LayerSetup], network: Network,
               design: TiledConvDesign, rates: PoolRates) -> LayerSetup:
    """A pooling layer's plan: regions per board, tile, the pooling model's latency."""
    pool: Pool = flat[position]
    regions, partition = _pool_regions(flat, position, planned, network)
    tiling = pool_tiling(design, pool)
    shape = ConvShape(batch=network.batch, out_channels=1, in_channels=1, out_h=pool.out_h, out_w=pool.out_w,
                      kernel=pool.kernel, stride=pool.stride, padding=pool.padding, groups=pool.channels)
    latency = _pool_latency(pool, regions, tiling, rates, design.pooling_lanes)
    return LayerSetup(layer=pool, shape=shape, tiling=tiling, partition=partition, analytical=latency,
                      released=latency, kind=LayerKind.POOL, source=pool, regions=regions)


def plan_layers(network: Network, *, design: TiledConvDesign, rates: StreamRates, bounds: ResourceBounds,
                ddr_bytes_per_s: float, burst_bytes: int, boards: int, search_all_tiles: bool,
                partition: Partition | None, pooling: bool) -> tuple[tuple[LayerSetup, ...], tuple[str, ...]]:
    """Plan every conv, FC and pooling layer of ``network`` (composite blocks expanded).

    Args:
        network: the layer list.
        design: the tiled conv engine on every board.
        rates, bounds: its stream rates and the board's DSP/BRAM18 budget.
        ddr_bytes_per_s, burst_bytes: the DDR channel the pool unit streams through.
        boards: how many boards share each layer.
        search_all_tiles: search Tm, Tn too (an idealised per-layer design) instead of the design's.
        partition: the same partition for every layer, or None to search one per layer.
        pooling: emulate pooling layers on the pool unit (False: they are skipped and only map
            the data between boards).

    Returns:
        The planned layers in network order, and the names of the layers not emulated.

    Raises:
        BadArgument: a fixed partition that does not fit a layer or the boards.
        DoesNotFit: no tiling fits the board.
    """
    flat = network.flat_layers()
    nbytes, per_beat = element_bytes(design.precision.word_bits), design.elements_per_beat()
    pool_rates = PoolRates(ddr=rate_from_bandwidth(bandwidth_bytes_per_s=ddr_bytes_per_s,
                                                    bytes_per_element=nbytes, clock_mhz=design.clock_mhz),
                            ifm=per_beat["ifm"], ofm=per_beat["ofm"],
                            chunk_elems=max(1, burst_bytes // nbytes))
    planned: dict[int, LayerSetup] = {}
    skipped = []
    for position, layer in enumerate(flat):
        if isinstance(layer, Linear):
            conv, kind = linear_as_conv(layer), LayerKind.LINEAR
        elif hasattr(layer, "as_conv"):
            conv, kind = layer.as_conv(), LayerKind.CONV
        else:
            if not isinstance(layer, Pool):
                skipped.append(layer.name)
            continue
        shape = conv_shape(conv, batch=network.batch)
        tiling, chosen = _choose(shape, design, bounds, rates, boards, search_all_tiles=search_all_tiles,
                                 partition=partition)
        kwargs = {"rates": rates, "partition": chosen}
        planned[position] = LayerSetup(
            layer=conv, shape=shape, tiling=tiling, partition=chosen, kind=kind, source=layer,
            analytical=layer_latency(shape, tiling, variant=ModelVariant.COMPLETE, **kwargs),
            released=layer_latency(shape, tiling, variant=ModelVariant.RELEASED, **kwargs))
    for position, layer in enumerate(flat):
        if isinstance(layer, Pool):
            if pooling:
                planned[position] = _plan_pool(flat, position, planned, network, design, pool_rates)
            else:
                skipped.append(layer.name)
    layers = [planned[position] for position in sorted(planned)]
    return tuple(layers), tuple(skipped)
