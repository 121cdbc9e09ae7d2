"""From an experiment file to a runnable plan: board, kernel design, network, tilings, partitions.

Owns: resolving every name the experiment gives (board id or path, kernel design, zoo network,
memory channel, link type, cabling) with its place in the file, and refusing what does not fit
*before* any simulation (the fit verdict). The planning itself — each layer's tiles, partition
and model latency — is :func:`fpgasim.mapping.layer_plan.plan_layers`. The result,
:class:`RunSetup`, is what the emulator, the reports and the sweeps consume.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import Board, LinkType, is_board_path, load_board, load_dsp_types, load_link_types
from fpgasim.hw.platform import Platform, topology_edges
from fpgasim.kernels import TiledConvDesign, check_fit, load_kernel_file
from fpgasim.mapping import Partition, ResourceBounds, StreamRates
from fpgasim.mapping.device import element_bytes, resource_bounds, stream_rates
from fpgasim.mapping.layer_plan import LayerKind, LayerSetup, Planner, plan_layers
from fpgasim.mapping.link_model import LinkModel
from fpgasim.nn import ZOO, Network, zoo_network
from fpgasim.study.experiment.experiment import LoadedExperiment, PartitionPolicy, TilingPolicy

__all__ = ["RunSetup", "build_setup", "resolve_board", "cluster_platform"]


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
    platform: Platform

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


def cluster_platform(loaded: LoadedExperiment, board: Board) -> tuple[Platform, LinkType | None]:
    """The ``board``/``kernel``/``memory``/``cluster`` form as a platform: ``cluster.boards``
    identical boards cabled as ``cluster.topology`` with ``cluster.link``, and that link type.

    Raises:
        ConfigError: an unknown link type, or cabling the board cannot take.
    """
    spec = loaded.spec
    cluster, link = spec.cluster, None
    if cluster.boards > 1:
        types = load_link_types()
        if cluster.link not in types:
            raise ConfigError([loaded.document.problem(
                ("experiment", "cluster", "link"),
                f"unknown link type {cluster.link!r}; known: {', '.join(sorted(types))}")])
        link = types[cluster.link]
        _check_cabling(loaded, board, link, cluster.boards)
    platform = Platform.homogeneous(boards=cluster.boards, board=board, kernel_path=loaded.resolve(spec.kernel),
                                    memory_channel=spec.memory.channel, burst_bytes=spec.memory.burst_bytes,
                                    topology=str(cluster.topology), link_id=cluster.link if link else None,
                                    link=link, length_m=cluster.cable_length_m, packet_bytes=cluster.packet_bytes,
                                    fifo_bytes=cluster.fifo_bytes)
    return platform, link


def _check_cabling(loaded: LoadedExperiment, board: Board, link: LinkType, boards: int) -> None:
    """The topology must exist for this many boards and each board needs a port per cable."""
    spec = loaded.spec
    try:
        edges = topology_edges(str(spec.cluster.topology), boards)
    except BadArgument as exc:
        raise ConfigError([loaded.document.problem(("experiment", "cluster", "topology"), str(exc))]) from None
    degree = max(sum(1 for edge in edges if index in edge) for index in range(boards))
    if link.shared_medium:
        degree = min(degree, 1)  # every cable of a shared medium uses the board's one radio port
    kinds = {str(kind) for kind in link.port_kinds}
    ports = [port for port in board.io_ports if str(port.kind) in kinds]
    if len(ports) < degree:
        raise ConfigError([loaded.document.problem(
            ("experiment", "cluster", "link"),
            f"link type {spec.cluster.link!r} runs over {', '.join(sorted(kinds))} ports; a {spec.cluster.topology} "
            f"of {boards} boards needs {degree} per board and {board.id} has {len(ports)}")])


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
    platform, link = cluster_platform(loaded, board)
    network = _network(loaded)
    rates = stream_rates(design, channel.sustained_bytes_per_s, link)
    bounds = resource_bounds(board, design)
    factors = spec.partition.factors or {}
    fixed = (Partition(**{key: factors.get(key, 1) for key in ("pb", "pr", "pc", "pm")})
             if spec.partition.policy is PartitionPolicy.FIXED else None)
    links = None
    if boards > 1 and spec.partition.planner is Planner.LINK_AWARE:
        links = LinkModel.for_design(platform, design)
    layers, skipped = plan_layers(network, design=design, rates=rates, bounds=bounds,
                                  ddr_bytes_per_s=channel.sustained_bytes_per_s, burst_bytes=spec.memory.burst_bytes,
                                  boards=boards, search_all_tiles=spec.tiling.policy is TilingPolicy.SEARCH,
                                  partition=fixed, pooling=spec.network.pooling, links=links)
    if not any(item.kind is not LayerKind.POOL for item in layers):
        raise ConfigError([loaded.document.problem(("experiment", "network"), "the network has no conv layer to run")])
    return RunSetup(experiment=loaded, board=board, design=design, network=network, layers=tuple(layers),
                    skipped=tuple(skipped), rates=rates, bounds=bounds,
                    ddr_bytes_per_s=channel.sustained_bytes_per_s, link=link, boards=boards, platform=platform)

