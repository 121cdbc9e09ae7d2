"""From an experiment file to a runnable plan: board, kernel design, network, tilings, partitions.

Owns: resolving every name the experiment gives (board id or path, kernel design, zoo network),
refusing what does not fit *before* any simulation (the fit verdict), turning board and design
numbers into the analytical model's stream rates, and choosing each conv layer's tiling and
partition with :mod:`fpgasim.mapping`. Fully connected layers run as a 1×1 convolution on a
1×1 map (``in_features`` → input channels); pooling layers run on the pooling unit, each board
pooling the region its next conv part needs (see docs/emulated-layers.md). The result,
:class:`RunSetup`, is what the emulator and the reports consume.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import Board, LinkType, is_board_path, load_board, load_dsp_types, load_link_types
from fpgasim.hw.platform import topology_edges
from fpgasim.kernels import TiledConvDesign, check_fit, load_kernel_file
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.mapping.device import element_bytes, linear_as_conv, pool_tiling, resource_bounds, stream_rates
from fpgasim.mapping import (
    Bottleneck, ConvShape, LayerLatency, ModelVariant, Partition, ResourceBounds, StreamRates, Tiling, conv_shape,
    layer_latency, rate_from_bandwidth, search_partition, search_tiling,
)
from fpgasim.nn import ZOO, Conv2d, Linear, Network, Pool, zoo_network
from fpgasim.kernels.pool_schedule import PoolTiling
from fpgasim.mapping.pool_model import PoolRates, pool_estimate
from fpgasim.study.experiment.experiment import LoadedExperiment, PartitionPolicy, TilingPolicy
from fpgasim.mapping.parts import board_parts
from fpgasim.mapping.redistribute import needed_input, through_pools

__all__ = ["LayerKind", "LayerSetup", "RunSetup", "build_setup", "resolve_board", "linear_as_conv",
           "element_bytes"]


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

    def pool_tiling(self) -> PoolTiling:
        """The pooling unit's output tile (channels = Tm, rows = Tr, columns = Tc)."""
        t = self.tiling
        return PoolTiling(channels=t.tm, rows=t.tr, cols=t.tc)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSetup:
    """Everything one run needs, resolved and checked."""

    experiment: LoadedExperiment
    board: Board
    design: TiledConvDesign
    network: Network
    layers: tuple[LayerSetup, ...]
    skipped: tuple[str, ...]
    rates: StreamRates
    bounds: ResourceBounds
    ddr_bytes_per_s: float
    link: LinkType | None
    boards: int

    @property
    def clock_mhz(self) -> float:
        """The engine clock."""
        return self.design.clock_mhz

    @property
    def element_bytes(self) -> int:
        """Bytes per value."""
        return element_bytes(self.design.precision.word_bits)


def _network(loaded: LoadedExperiment) -> Network:
    ref = loaded.spec.network
    kwargs = {"batch": ref.batch}
    if ref.shapes is not None:
        kwargs["shapes"] = ref.shapes
    try:
        return zoo_network(ref.zoo, **kwargs)
    except BadArgument as exc:
        key = ("experiment", "network") + (() if ref.zoo in ZOO else ("zoo",))
        raise ConfigError([loaded.document.problem(key, str(exc))]) from None


def resolve_board(loaded: LoadedExperiment) -> Board:
    """The board the experiment names: a library id or a path relative to the experiment file."""
    name = loaded.spec.board
    if is_board_path(name):
        return load_board(loaded.resolve(name))
    try:
        return load_board(name)
    except ConfigError:
        raise
    except BadArgument as exc:
        raise ConfigError([loaded.document.problem(("experiment", "board"), str(exc))]) from None


def _choose(shape: ConvShape, loaded: LoadedExperiment, design: TiledConvDesign, bounds: ResourceBounds,
            rates: StreamRates, boards: int) -> tuple[Tiling, Partition]:
    spec = loaded.spec
    if spec.partition.policy is PartitionPolicy.FIXED:
        factors = spec.partition.factors or {}
        partition = Partition(**{key: factors.get(key, 1) for key in ("pb", "pr", "pc", "pm")})
        partition.check(shape, boards=boards)
    else:
        partition = None
    fixed = {}
    if spec.tiling.policy is TilingPolicy.KERNEL:
        fixed = {"fixed_tm": design.parallelism.tm, "fixed_tn": design.parallelism.tn}
    if partition is None and boards > 1:
        choice = search_partition(shape, boards=boards, bounds=bounds, rates=rates,
                                  variant=ModelVariant.COMPLETE, **fixed)
        return choice.tiling, choice.partition
    partition = partition or Partition()
    choice = search_tiling(shape, bounds=bounds, rates=rates, variant=ModelVariant.COMPLETE,
                           partition=partition, **fixed)
    return choice.tiling, partition


def _check_cabling(loaded: LoadedExperiment, board: Board, link: LinkType, boards: int) -> None:
    """The topology must exist for this many boards and each board needs a port per cable."""
    spec = loaded.spec
    try:
        edges = topology_edges(str(spec.cluster.topology), boards)
    except BadArgument as exc:
        raise ConfigError([loaded.document.problem(("experiment", "cluster", "topology"), str(exc))]) from None
    degree = max(sum(1 for edge in edges if index in edge) for index in range(boards))
    kinds = {str(kind) for kind in link.port_kinds}
    ports = [port for port in board.io_ports if str(port.kind) in kinds]
    if len(ports) < degree:
        raise ConfigError([loaded.document.problem(
            ("experiment", "cluster", "link"),
            f"link type {spec.cluster.link!r} runs over {', '.join(sorted(kinds))} ports; a {spec.cluster.topology} "
            f"of {boards} boards needs {degree} per board and {board.id} has {len(ports)}")])


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
    schedule = PoolTiling(channels=tiling.tm, rows=tiling.tr, cols=tiling.tc)
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


def build_setup(loaded: LoadedExperiment) -> RunSetup:
    """Resolve and check everything the experiment names; plan every conv, FC and pooling layer.

    Raises:
        ConfigError: a name or file that does not resolve (with its place in the experiment).
        DoesNotFit: the kernel design does not fit the board (before any simulation).
    """
    spec = loaded.spec
    board = resolve_board(loaded)
    design = load_kernel_file(loaded.resolve(spec.kernel))
    if not isinstance(design, TiledConvDesign):
        raise ConfigError([loaded.document.problem(("experiment", "kernel"),
                                                   f"kernel type {design.type} cannot run this experiment; expected tiled_conv")])
    check_fit(board, design, dsp_types=load_dsp_types())
    try:
        channel = board.memory_channel(spec.memory.channel)
    except (BadArgument, KeyError) as exc:
        raise ConfigError([loaded.document.problem(("experiment", "memory", "channel"), str(exc))]) from None
    boards = spec.cluster.boards
    link = None
    if boards > 1:
        types = load_link_types()
        if spec.cluster.link not in types:
            raise ConfigError([loaded.document.problem(
                ("experiment", "cluster", "link"),
                f"unknown link type {spec.cluster.link!r}; known: {', '.join(sorted(types))}")])
        link = types[spec.cluster.link]
        _check_cabling(loaded, board, link, boards)
    network = _network(loaded)
    rates = stream_rates(design, channel.sustained_bytes_per_s, link)
    bounds = resource_bounds(board, design)
    flat = network.flat_layers()
    nbytes, per_beat = element_bytes(design.precision.word_bits), design.elements_per_beat()
    pool_rates = PoolRates(ddr=rate_from_bandwidth(bandwidth_bytes_per_s=channel.sustained_bytes_per_s,
                                                    bytes_per_element=nbytes, clock_mhz=design.clock_mhz),
                            ifm=per_beat["ifm"], ofm=per_beat["ofm"],
                            chunk_elems=max(1, spec.memory.burst_bytes // nbytes))
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
        tiling, partition = _choose(shape, loaded, design, bounds, rates, boards)
        kwargs = {"rates": rates, "partition": partition}
        planned[position] = LayerSetup(
            layer=conv, shape=shape, tiling=tiling, partition=partition, kind=kind, source=layer,
            analytical=layer_latency(shape, tiling, variant=ModelVariant.COMPLETE, **kwargs),
            released=layer_latency(shape, tiling, variant=ModelVariant.RELEASED, **kwargs))
    for position, layer in enumerate(flat):
        if isinstance(layer, Pool):
            if spec.network.pooling:
                planned[position] = _plan_pool(flat, position, planned, network, design, pool_rates)
            else:
                skipped.append(layer.name)
    layers = [planned[position] for position in sorted(planned)]
    if not any(item.kind is not LayerKind.POOL for item in layers):
        raise ConfigError([loaded.document.problem(("experiment", "network"), "the network has no conv layer to run")])
    return RunSetup(experiment=loaded, board=board, design=design, network=network, layers=tuple(layers),
                    skipped=tuple(skipped), rates=rates, bounds=bounds,
                    ddr_bytes_per_s=channel.sustained_bytes_per_s, link=link, boards=boards)

