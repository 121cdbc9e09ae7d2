"""Planning a layer list on one or more identical boards: every conv, FC and pooling layer's
tiles, partition and model latency.

Owns :func:`plan_layers` and :class:`Planner` — the per-layer choice the ``board``/``kernel``/``cluster`` form of an
experiment (Super-LIP, AlexNet, VGG16) runs and sweeps evaluate: a conv or FC layer (FC as a 1×1
convolution on a 1×1 map) gets its ⟨Tm,Tn,Tr,Tc⟩ from the analytical model (Tm, Tn fixed by the
design unless every tile size is searched) and its partition ⟨Pb,Pr,Pc,Pm⟩ (searched per layer,
or fixed); a pooling layer runs on the pool unit, each board pooling the region its next conv
part needs (docs/emulated-layers.md), priced by the pool unit's closed form.

Two planners (:class:`Planner`): ``link_aware`` prices the platform's links
(:class:`~fpgasim.mapping.link_model.LinkModel`: XFER per tile step on the real routes, and the
redistribution between layers whose partitions differ) and chooses the partitions of all layers
jointly by dynamic programming over the layer order (state: the previous conv's partition);
``blind`` is the earlier planner — each layer's partition alone, the link a receive rate, no
redistribution — kept to compare against.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument, DoesNotFit
from fpgasim.kernels import TiledConvDesign
from fpgasim.kernels.conv_schedule import ConvPart, Tiling
from fpgasim.kernels.pool_schedule import PoolTiling, whole_pool_part
from fpgasim.mapping.device import element_bytes, linear_as_conv, pool_tiling
from fpgasim.mapping.latency import LayerLatency, layer_latency
from fpgasim.mapping.link_model import LinkModel
from fpgasim.mapping.parts import board_parts
from fpgasim.mapping.pool_model import PoolRates, pool_estimate
from fpgasim.mapping.redistribute import exchange_pairs, needed_input, through_pools, transfers
from fpgasim.mapping.search import TilingChoice, partition_candidates, search_partition, search_tiling
from fpgasim.mapping.spec import (
    Bottleneck, ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, conv_shape,
)
from fpgasim.nn import Conv2d, Linear, Network, Pool

__all__ = ["LayerKind", "LayerSetup", "Planner", "plan_layers", "layer_choices", "pool_layer_latency"]


class Planner(StrEnum):
    """How a multi-board plan sees the links."""

    #: XFER on the real routes and redistribution between layers priced; partitions chosen jointly.
    LINK_AWARE = "link_aware"
    #: The earlier planner: each layer's partition alone, the link as one receive rate, no redistribution.
    BLIND = "blind"


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
        redistribution_cycles: link-aware plans: the model's time to move the previous conv's
            outputs to the boards that need them before this layer (0 otherwise).
        redistribution_bytes: bytes that move for that, counted on every hop.
        xfer_link_bytes: link-aware plans: bytes the XFER exchange moves over every hop.
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
    redistribution_cycles: float = 0.0
    redistribution_bytes: float = 0.0
    xfer_link_bytes: float = 0.0


def layer_choices(shape: ConvShape, design: TiledConvDesign, bounds: ResourceBounds, rates: StreamRates,
                  boards: int, *, search_all_tiles: bool, partition: Partition | None, links: LinkModel | None,
                  devices: tuple[str, ...] | None = None) -> list[TilingChoice]:
    """The layer's candidate (partition, tiling) choices: the best partition alone (blind), every
    fitting partition with its best tiling (link-aware, for the joint choice), or the fixed one;
    ``devices`` (board index → device id, default the platform's first) prices XFER's routes."""
    if partition is not None:
        partition.check(shape, boards=boards)
    fixed = {} if search_all_tiles else {"fixed_tm": design.parallelism.tm, "fixed_tn": design.parallelism.tn}
    if partition is None and boards > 1:
        if links is None:
            return [search_partition(shape, boards=boards, bounds=bounds, rates=rates,
                                     variant=ModelVariant.COMPLETE, **fixed)]
        found, error = [], None
        for candidate in partition_candidates(shape, boards):
            try:
                found.append(search_tiling(shape, bounds=bounds, rates=rates, variant=ModelVariant.COMPLETE,
                                           partition=candidate, xfer=links.xfer(candidate, devices), **fixed))
            except DoesNotFit as exc:
                error = exc
        if not found:
            raise error if error is not None else BadArgument(f"no partition over {boards} boards fits {shape}")
        return found
    partition = partition or Partition()
    xfer = None if links is None else links.xfer(partition, devices)
    return [search_tiling(shape, bounds=bounds, rates=rates, variant=ModelVariant.COMPLETE,
                          partition=partition, xfer=xfer, **fixed)]


class _Exchange:
    """The model's redistribution between two consecutive conv layers for any pair of partitions."""

    def __init__(self, links: LinkModel, batch: int, nbytes: int):
        self.links, self.batch, self.nbytes = links, batch, nbytes
        self._parts: dict[tuple[str, Partition], list[ConvPart]] = {}

    def parts(self, layer: Conv2d, partition: Partition) -> list[ConvPart]:
        key = (layer.name, partition)
        if key not in self._parts:
            self._parts[key] = board_parts(layer, self.batch, partition)
        return self._parts[key]

    def cost(self, previous: Conv2d, before: Partition, layer: Conv2d, after: Partition,
             pools: tuple[Pool, ...]) -> tuple[float, float]:
        """(cycles, bytes over every hop) of moving ``previous``'s outputs for ``layer``."""
        moved = transfers(self.parts(previous, before), layer, self.parts(layer, after), list(pools))
        if not moved:
            return 0.0, 0.0
        ids = self.links.devices
        flows = [(ids[src], ids[dst], elems * self.nbytes, 0.0) for (src, dst), elems in moved.items()]
        hops = sum(size * self.links.hops(src, dst) for src, dst, size, _ in flows)
        return float(self.links.flows_cycles(flows)), float(hops)


def _joint(options: list[list[TilingChoice]], convs: list[Conv2d], links_between: list[tuple[Pool, ...] | None],
           exchange: _Exchange | None) -> list[tuple[TilingChoice, float, float]]:
    """Dynamic programming over the layer order: each layer's choice minimising the layers'
    model latency plus the redistribution between consecutive layers (state: the previous
    layer's choice; ties go to the earlier, preferred candidate). Returns each layer's choice
    with the redistribution cycles and bytes before it."""
    best: list[float] = [choice.latency.cycles for choice in options[0]]
    back: list[list[int]] = [[-1] * len(options[0])]
    for index in range(1, len(options)):
        pools = links_between[index]
        row, links = [], []
        for choice in options[index]:
            if pools is None or exchange is None:
                j = min(range(len(best)), key=lambda k: (best[k], k))
                row.append(best[j] + choice.latency.cycles)
            else:
                totals = [best[k] + exchange.cost(convs[index - 1], options[index - 1][k].partition, convs[index],
                                                  choice.partition, pools)[0] for k in range(len(best))]
                j = min(range(len(totals)), key=lambda k: (totals[k], k))
                row.append(totals[j] + choice.latency.cycles)
            links.append(j)
        best, back = row, back + [links]
    picks = [min(range(len(best)), key=lambda k: (best[k], k))]
    for index in range(len(options) - 1, 0, -1):
        picks.append(back[index][picks[-1]])
    picks.reverse()
    chosen = []
    for index, pick in enumerate(picks):
        choice, moved = options[index][pick], (0.0, 0.0)
        if index and links_between[index] is not None and exchange is not None:
            moved = exchange.cost(convs[index - 1], options[index - 1][picks[index - 1]].partition, convs[index],
                                  choice.partition, links_between[index])
        chosen.append((choice, *moved))
    return chosen


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
    whole = whole_pool_part(pool, network.batch)
    return (whole,), Partition()


def pool_layer_latency(pool: Pool, regions: tuple[ConvPart, ...], tiling: Tiling, rates: PoolRates,
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
                           l_in_cycles=max(sums[0], sums[1]) / n, inner_cycles=max(sums[0], sums[1]) / n,
                           l_out_cycles=max(sums) / n, steps=1, load_steps=1.0, tiles=n,
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
    latency = pool_layer_latency(pool, regions, tiling, rates, design.pooling_lanes)
    return LayerSetup(layer=pool, shape=shape, tiling=tiling, partition=partition, analytical=latency,
                      released=latency, kind=LayerKind.POOL, source=pool, regions=regions)


def plan_layers(network: Network, *, design: TiledConvDesign, rates: StreamRates, bounds: ResourceBounds,
                ddr_bytes_per_s: float, burst_bytes: int, boards: int, search_all_tiles: bool,
                partition: Partition | None, pooling: bool, links: LinkModel | None = None
                ) -> tuple[tuple[LayerSetup, ...], tuple[str, ...]]:
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
        links: the platform's links (:class:`Planner` ``link_aware``): XFER priced on them and the
            partitions of all layers chosen jointly with the redistribution they cause; None:
            the blind planner.

    Returns:
        The planned layers in network order, and the names of the layers not emulated.

    Raises:
        BadArgument: a fixed partition that does not fit a layer or the boards.
        DoesNotFit: no tiling fits the board.
    """
    flat = network.flat_layers()
    nbytes = element_bytes(design.precision.word_bits)
    pool_rates = PoolRates.for_design(design, ddr_bytes_per_s=ddr_bytes_per_s, burst_bytes=burst_bytes)
    planned: dict[int, LayerSetup] = {}
    skipped = []
    modelled = []  # (position, conv form, kind, shape, candidate choices)
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
        modelled.append((position, conv, kind, shape, layer_choices(
            shape, design, bounds, rates, boards, search_all_tiles=search_all_tiles, partition=partition,
            links=links if boards > 1 else None)))
    pairs = exchange_pairs(network)
    between = [None] + [pairs[position][1] if pairs.get(position, (None,))[0] == modelled[index][0] else None
                        for index, (position, *_) in enumerate(modelled[1:])]
    exchange = _Exchange(links, network.batch, nbytes) if links is not None and boards > 1 else None
    chosen = _joint([options for *_, options in modelled], [conv for _, conv, *_ in modelled], between,
                    exchange) if modelled else []
    for (position, conv, kind, shape, _), (choice, moved_cycles, moved_bytes) in zip(modelled, chosen, strict=True):
        tiling, part = choice.tiling, choice.partition
        xfer = links.xfer(part) if exchange is not None else None
        analytical = layer_latency(shape, tiling, variant=ModelVariant.COMPLETE, rates=rates, partition=part,
                                   xfer=xfer)
        xfer_bytes = analytical.tiles * analytical.steps * analytical.link_step_bytes
        planned[position] = LayerSetup(
            layer=conv, shape=shape, tiling=tiling, partition=part, kind=kind, source=flat[position],
            analytical=analytical, redistribution_cycles=moved_cycles, redistribution_bytes=moved_bytes,
            xfer_link_bytes=xfer_bytes,
            released=layer_latency(shape, tiling, variant=ModelVariant.RELEASED, rates=rates, partition=part))
    for position, layer in enumerate(flat):
        if isinstance(layer, Pool):
            if pooling:
                planned[position] = _plan_pool(flat, position, planned, network, design, pool_rates)
            else:
                skipped.append(layer.name)
    layers = [planned[position] for position in sorted(planned)]
    return tuple(layers), tuple(skipped)
