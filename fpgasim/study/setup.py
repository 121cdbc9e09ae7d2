"""From an experiment file to a runnable plan: board, kernel design, network, tilings, partitions.

Owns: resolving every name the experiment gives (board id or path, kernel design, zoo network),
refusing what does not fit *before* any simulation (the fit verdict), turning board and design
numbers into the analytical model's stream rates, and choosing each conv layer's tiling and
partition with :mod:`fpgasim.mapping`. The result, :class:`RunSetup`, is what the emulator
and the reports consume.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import Board, LinkType, load_board, load_dsp_types, load_link_types
from fpgasim.kernels import TiledConvDesign, check_fit, load_kernel_file
from fpgasim.kernels.conv_schedule import Tiling as ScheduleTiling
from fpgasim.mapping import (
    ConvShape, LayerLatency, ModelVariant, Partition, ResourceBounds, StreamRates, Tiling, conv_shape,
    layer_latency, rate_from_bandwidth, search_partition, search_tiling,
)
from fpgasim.nn import Conv2d, Network, alexnet_conv, vgg16_conv
from fpgasim.sim.cluster import topology_edges
from fpgasim.study.experiment import LoadedExperiment, PartitionPolicy, TilingPolicy

__all__ = ["LayerSetup", "RunSetup", "build_setup", "NETWORKS", "element_bytes"]

#: Zoo builders an experiment may name in ``network.zoo``.
NETWORKS = {"alexnet_conv": alexnet_conv, "vgg16_conv": vgg16_conv}


def element_bytes(word_bits: int) -> int:
    """Bytes one value occupies in DDR and on a stream (1, 2 or 4)."""
    return 1 if word_bits <= 8 else 2 if word_bits <= 16 else 4


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerSetup:
    """One conv layer's plan.

    Attributes:
        layer: the layer (``as_conv()`` form).
        shape: the analytical model's view of it (channels per group).
        tiling: tile sizes.
        partition: split over the boards.
        analytical: the complete model's prediction for this tiling/partition (one board).
        released: the authors' released model for the same choice (no halo, no fill/drain).
    """

    layer: Conv2d
    shape: ConvShape
    tiling: Tiling
    partition: Partition
    analytical: LayerLatency
    released: LayerLatency

    def schedule_tiling(self) -> ScheduleTiling:
        """The tiling in the engine schedule's type."""
        t = self.tiling
        return ScheduleTiling(tm=t.tm, tn=t.tn, tr=t.tr, tc=t.tc)


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
    builder = NETWORKS.get(ref.zoo)
    if builder is None:
        raise ConfigError([loaded.document.problem(
            ("experiment", "network", "zoo"),
            f"unknown network {ref.zoo!r}; known: {', '.join(sorted(NETWORKS))}")])
    kwargs = {"batch": ref.batch}
    if ref.shapes is not None:
        kwargs["shapes"] = ref.shapes
    try:
        return builder(**kwargs)
    except (BadArgument, TypeError) as exc:
        raise ConfigError([loaded.document.problem(("experiment", "network"), str(exc))]) from None


def _board(loaded: LoadedExperiment) -> Board:
    name = loaded.spec.board
    if "/" in name or name.endswith((".yaml", ".yml")):
        return load_board(loaded.resolve(name))
    try:
        return load_board(name)
    except ConfigError:
        raise
    except BadArgument as exc:
        raise ConfigError([loaded.document.problem(("experiment", "board"), str(exc))]) from None


def _rates(loaded: LoadedExperiment, board: Board, design: TiledConvDesign, link: LinkType | None,
           ddr_bytes_per_s: float) -> StreamRates:
    """Elements per cycle of each stream: the slower of its port and the DDR channel alone."""
    per_beat = design.elements_per_beat()
    nbytes = element_bytes(design.precision.word_bits)
    ddr_rate = rate_from_bandwidth(bandwidth_bytes_per_s=ddr_bytes_per_s, bytes_per_element=nbytes,
                                   clock_mhz=design.clock_mhz)
    link_rate = None
    if link is not None:
        # XFER forwards the weight stream's beats: at most one stream width per cycle.
        link_rate = min(per_beat["weights"], rate_from_bandwidth(
            bandwidth_bytes_per_s=link.effective_gbps * 1e9 / 8, bytes_per_element=nbytes,
            clock_mhz=design.clock_mhz))
    return StreamRates(weights=min(per_beat["weights"], ddr_rate), ifm=min(per_beat["ifm"], ddr_rate),
                       ofm=min(per_beat["ofm"], ddr_rate), link=link_rate)


def _bounds(board: Board, design: TiledConvDesign) -> ResourceBounds:
    bits = design.precision.word_bits
    if bits not in (16, 32):
        raise BadArgument(f"tiling search supports 16- or 32-bit data; design {design.name} has {bits}")
    return ResourceBounds(dsp=board.fabric.available_dsp, bram18=board.fabric.available_bram18, data_bits=bits)


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


def build_setup(loaded: LoadedExperiment) -> RunSetup:
    """Resolve and check everything the experiment names; plan every conv layer.

    Raises:
        ConfigError: a name or file that does not resolve (with its place in the experiment).
        DoesNotFit: the kernel design does not fit the board (before any simulation).
    """
    spec = loaded.spec
    board = _board(loaded)
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
    rates = _rates(loaded, board, design, link, channel.sustained_bytes_per_s)
    bounds = _bounds(board, design)
    layers, skipped = [], []
    for layer in network.flat_layers():
        if not hasattr(layer, "as_conv"):
            skipped.append(layer.name)
            continue
        conv = layer.as_conv()
        shape = conv_shape(conv, batch=network.batch)
        tiling, partition = _choose(shape, loaded, design, bounds, rates, boards)
        kwargs = {"rates": rates, "partition": partition}
        layers.append(LayerSetup(layer=conv, shape=shape, tiling=tiling, partition=partition,
                                 analytical=layer_latency(shape, tiling, variant=ModelVariant.COMPLETE, **kwargs),
                                 released=layer_latency(shape, tiling, variant=ModelVariant.RELEASED, **kwargs)))
    if not layers:
        raise ConfigError([loaded.document.problem(("experiment", "network"), "the network has no conv layer to run")])
    return RunSetup(experiment=loaded, board=board, design=design, network=network, layers=tuple(layers),
                    skipped=tuple(skipped), rates=rates, bounds=bounds,
                    ddr_bytes_per_s=channel.sustained_bytes_per_s, link=link, boards=boards)

