"""The experiment YAML: which network runs on which boards with which kernel design, and how.

Owns: the typed experiment document (``schema: 1``, top-level ``experiment:``) and the
resolution of the files it names (paths are relative to the experiment file). A missing file
is reported with the path that was tried and the key that named it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from fpgasim.config import Bool, DirName, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class, load, read_yaml
from fpgasim.config.yaml_source import KeyPath
from fpgasim.errors import ConfigError, Problem
from fpgasim.mapping.layer_plan import Planner
from fpgasim.nn.sources import GraphSpec
from fpgasim.study.common.documents import check_data

__all__ = [
    "MAX_BATCH",
    "MAX_BOARDS",
    "Mode",
    "TilingPolicy",
    "PartitionPolicy",
    "Topology",
    "GraphSpec",
    "NetworkRef",
    "PlacementSpec",
    "TilingSpec",
    "PartitionSpec",
    "MemorySpec",
    "ClusterSpec",
    "ScaleOutPoint",
    "PublishedPoint",
    "ComparisonSpec",
    "Experiment",
    "ExperimentFile",
    "LoadedExperiment",
    "load_experiment",
    "experiment_from_data",
]


#: Largest ``network.batch``: planning walks every pooling tile of the batch (1024 plans in about
#: a second; 65536 exhausts memory before any simulation starts).
MAX_BATCH = 1024
#: Largest ``cluster.boards`` (and scale-out point): a sanity limit well above published
#: multi-FPGA clusters (Super-LIP: 8); planning lists every cable of the topology and checks each
#: board's ports, which for a fully connected 1024 boards alone takes 16 s.
MAX_BOARDS = 64

#: A batch size within :data:`MAX_BATCH`.
Batch = Annotated[PosInt, Field(le=MAX_BATCH)]
#: A board count within :data:`MAX_BOARDS`.
BoardCount = Annotated[PosInt, Field(le=MAX_BOARDS)]


class Mode(StrEnum):
    """Functional mode moves and computes real tile data; timing mode skips the math."""

    TIMING = "timing"
    FUNCTIONAL = "functional"


class TilingPolicy(StrEnum):
    """How each layer's tile sizes are chosen."""

    #: Tm, Tn fixed by the kernel design (the synthesised engine); Tr, Tc chosen per layer
    #: by the analytical model within the design's buffers.
    KERNEL = "kernel"
    #: Every tile size chosen per layer under the board's DSP/BRAM limits (an idealised
    #: per-layer-optimal design, Super-LIP's baseline (b)).
    SEARCH = "search"


class PartitionPolicy(StrEnum):
    """How each layer is split over the boards."""

    #: Best (Pb, Pr, Pc, Pm) per layer by the analytical model.
    SEARCH = "search"
    #: The factors given in ``partition.factors`` for every layer.
    FIXED = "fixed"


class Topology(StrEnum):
    """How boards are cabled together."""

    PAIR = "pair"
    CHAIN = "chain"
    RING = "ring"
    FULLY_CONNECTED = "fully_connected"


@config_class
class NetworkRef:
    """The network, exactly one of: a zoo builder (``zoo`` names it, ``shapes``/``batch`` are its
    arguments), a graph written out (``graph``), a network YAML (``file``) or an ONNX model (``onnx``)."""

    #: builder name in the zoo (e.g. ``alexnet_conv``, ``vgg16_conv``).
    zoo: Str | None = None
    #: the network written out node by node (instead of ``zoo``).
    graph: GraphSpec | None = None
    #: a network file (``schema: 1`` + ``network:``), relative to the experiment file.
    file: Str | None = None
    #: an ONNX model, relative to the experiment file.
    onnx: Str | None = None
    #: [N, C, H, W] of an ONNX model with dynamic dimensions.
    input_shape: tuple[PosInt, ...] | None = None
    #: shape set for networks that have several (e.g. AlexNet ``merged``/``per_group``).
    shapes: Str | None = None
    #: batch size (at most :data:`MAX_BATCH`).
    batch: Batch = 1
    #: emulate pooling layers on the pool unit; false times the conv layers only (as Zhang
    #: FPGA'15 and Super-LIP do), and data between boards is still mapped through the pools.
    pooling: Bool = True


@config_class
class TilingSpec:
    """Tiling choice; see :class:`TilingPolicy`."""

    policy: TilingPolicy = TilingPolicy.KERNEL


@config_class
class PartitionSpec:
    """Partition choice over the boards; see :class:`PartitionPolicy`."""

    policy: PartitionPolicy = PartitionPolicy.SEARCH
    #: (Pb, Pr, Pc, Pm) used for every layer when ``policy: fixed``.
    factors: dict[Str, PosInt] | None = None
    #: ``link_aware`` prices the links (XFER routes, redistribution) and chooses partitions jointly;
    #: ``blind`` is the earlier per-layer planner (see :class:`~fpgasim.mapping.layer_plan.Planner`).
    planner: Planner = Planner.LINK_AWARE


@config_class
class MemorySpec:
    """Which DDR channel the engine's streams use and the transaction granularity."""

    #: memory channel id of the board (e.g. ``ps_ddr4``).
    channel: Str
    #: DDR transaction granularity in bytes (one SimPy event per burst).
    burst_bytes: PosInt = 4096


@config_class
class ClusterSpec:
    """Several identical boards joined by links."""

    #: number of boards (1 = single board; at most :data:`MAX_BOARDS`).
    boards: BoardCount = 1
    #: link type id from ``boards/links.yaml``.
    link: Str | None = None
    #: how the boards are cabled.
    topology: Topology = Topology.PAIR
    #: cable length in metres (propagation delay).
    cable_length_m: NonNegInt = 1
    #: link transaction granularity in bytes (one event per packet; the cut-through lag of
    #: XFER forwarding is one packet, so keep it small: 256 B = 32 beats of 64 bit).
    packet_bytes: PosInt = 256
    #: receive FIFO per link direction in bytes; credits = fifo_bytes // packet_bytes
    #: (8 KiB: an Aurora RX FIFO of 1024 x 64-bit words, a documented knob).
    fifo_bytes: PosInt = 8192


@config_class
class ScaleOutPoint:
    """One multi-board configuration of a comparison."""

    boards: BoardCount
    topology: Topology
    #: the planner of this configuration (``blind``: the earlier plan, for comparison).
    planner: Planner = Planner.LINK_AWARE


@config_class
class PublishedPoint:
    """A published result to show beside fpgasim's."""

    boards: PosInt
    speedup: PosFloat
    source: Str


@config_class
class ComparisonSpec:
    """Baselines side by side: (a) one board with the kernel's tiling, (b) one board with the
    best tiling per layer, (c) each scale-out point with the best partition and tiling."""

    scale_out: tuple[ScaleOutPoint, ...]
    #: further networks for the speedup plot (the experiment's own network comes first).
    networks: tuple[NetworkRef, ...] = ()
    paper: PublishedPoint | None = None


@config_class
class PlacementSpec:
    """Which device runs each node of a graph on a ``platform``."""

    #: device of every node not named in ``nodes`` (None: every node must be named).
    default: Str | None = None
    #: node name → device id.
    nodes: dict[Str, Str] = dataclasses.field(default_factory=dict)
    #: FPGA devices (one board model, one design) every node not named in ``nodes`` is
    #: partitioned over by the link-aware planner (docs/analytical-model.md, "Graphs"); instead
    #: of ``default``.
    partition: list[Str] | None = None


@config_class
class Experiment:
    """One run: network × board(s) × kernel design × plan — or network × platform × placement."""

    #: the output folder's name (``results/<name>``).
    name: DirName
    description: Str | None = None
    network: NetworkRef
    #: board id in the library or a path relative to the experiment file (with ``kernel`` and
    #: ``memory``: N identical boards; instead of them, a ``platform``).
    board: Str | None = None
    #: kernel design YAML, relative to the experiment file.
    kernel: Str | None = None
    memory: MemorySpec | None = None
    #: devices and cables (docs/boards.md "Platforms"), instead of board/kernel/memory/cluster.
    platform: dict[Str, Any] | None = None
    #: where each graph node runs (with ``platform``).
    placement: PlacementSpec | None = None
    mode: Mode = Mode.TIMING
    tiling: TilingSpec = TilingSpec()
    partition: PartitionSpec = PartitionSpec()
    cluster: ClusterSpec = ClusterSpec()
    #: seed for synthetic inputs and weights in functional mode.
    seed: NonNegInt = 0
    #: run the baselines and scale-out points side by side (the Super-LIP study).
    comparison: ComparisonSpec | None = None


@config_class
class ExperimentFile:
    """The document: ``schema: 1`` + ``experiment:``."""

    experiment: Experiment


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedExperiment:
    """An experiment plus the file it came from (for resolving relative paths)."""

    spec: Experiment
    path: Path
    document: YamlDocument

    def resolve(self, relative: str) -> Path:
        """Path of a file named in the experiment, relative to the experiment file."""
        return (self.path.parent / relative).resolve()


#: The keys that name the network; exactly one is given.
_NETWORK_FORMS = ("zoo", "graph", "file", "onnx")


def _one_form(obj: ExperimentFile, doc: YamlDocument) -> list[Problem]:
    """Exactly one network form; either board + kernel + memory or a platform with a placement."""
    spec, problems = obj.experiment, []
    forms = [key for key in _NETWORK_FORMS if getattr(spec.network, key) is not None]
    if len(forms) != 1:
        found = ", ".join(f"`{key}`" for key in forms) or "none"
        problems.append(doc.problem(("experiment", "network"), f"expected exactly one of `zoo`, `graph`, `file` or "
                                                               f"`onnx`; found {found}"))
    if spec.network.input_shape is not None and spec.network.onnx is None:
        problems.append(doc.problem(("experiment", "network", "input_shape"), "only an `onnx` network takes an "
                                                                              "input_shape"))
    if spec.platform is None:
        for key in ("board", "kernel", "memory"):
            if getattr(spec, key) is None:
                problems.append(doc.problem(("experiment",), f"missing `{key}` (or give a `platform` instead of "
                                                             "board, kernel and memory)"))
        if spec.placement is not None:
            problems.append(doc.problem(("experiment", "placement"), "a placement needs a `platform`"))
        if spec.comparison is not None:
            for index, network in enumerate(spec.comparison.networks):
                if network.zoo is None:
                    problems.append(doc.problem(("experiment", "comparison", "networks", index),
                                                "a comparison network names a zoo layer list (`zoo:`)"))
            if spec.network.zoo is None:
                problems.append(doc.problem(("experiment", "network"), "a comparison runs a zoo layer list (`zoo:`)"))
    else:
        for key in ("board", "kernel", "memory"):
            if getattr(spec, key) is not None:
                problems.append(doc.problem(("experiment", key), "not used with a `platform` (each device names its "
                                                                 "board, kernel and memory there)"))
        if spec.placement is None:
            problems.append(doc.problem(("experiment",), "missing `placement` (which device runs each node)"))
        elif spec.placement.partition is not None and spec.placement.default is not None:
            problems.append(doc.problem(("experiment", "placement", "default"), "not used with `partition` (every "
                                                                                "node not named in `nodes` is "
                                                                                "partitioned over its devices)"))
        if spec.comparison is not None:
            problems.append(doc.problem(("experiment", "comparison"), "a comparison runs on board/kernel/cluster, "
                                                                      "not on a platform"))
    return problems


def _files_exist(obj: ExperimentFile, doc: YamlDocument) -> list[Problem]:
    base = Path(doc.file).parent
    problems = _one_form(obj, doc)
    if obj.experiment.kernel is not None:
        kernel_path = base / obj.experiment.kernel
        if not kernel_path.is_file():
            problems.append(doc.problem(("experiment", "kernel"), f"file not found: {kernel_path}"))
    for key in ("file", "onnx"):
        named = getattr(obj.experiment.network, key)
        if named is not None and not (base / named).is_file():
            problems.append(doc.problem(("experiment", "network", key), f"file not found: {base / named}"))
    board = obj.experiment.board
    if board is not None and ("/" in board or board.endswith((".yaml", ".yml"))) and not (base / board).is_file():
        problems.append(doc.problem(("experiment", "board"), f"file not found: {base / board}"))
    return problems


def load_experiment(path: str | Path) -> LoadedExperiment:
    """Load and check an experiment file.

    Raises:
        ConfigError: every problem, each with file, line and key path.
    """
    spec = load(path, ExperimentFile, checks=(_files_exist,))
    return LoadedExperiment(spec=spec.experiment, path=Path(path).resolve(), document=read_yaml(path))


def experiment_from_data(data: dict, *, file: str, base_dir: Path,
                         places: dict[KeyPath, tuple[int, int]] | None = None) -> LoadedExperiment:
    """Check an experiment given as YAML data (e.g. a sweep point) through the same schema.

    Args:
        data: the whole document (``{"schema": 1, "experiment": {...}}``).
        file: the name used in messages (e.g. ``sweep.yaml#point-17``).
        base_dir: the directory relative file names in the experiment are resolved from.
        places: optional key path → (line, column) of the values, for messages.

    Returns:
        :class:`LoadedExperiment` whose ``path`` is ``base_dir / file-name`` (not read).

    Raises:
        ConfigError: every problem, each with its key path.
    """
    obj, doc = check_data(data, ExperimentFile, file=file, places=places)
    base = Path(base_dir).resolve()
    problems = _files_exist(obj, YamlDocument(file=str(base / "_"), data=doc.data, places=doc.places))
    if problems:
        raise ConfigError([Problem(file=file, line=p.line, column=p.column, key_path=p.key_path,
                                   message=p.message) for p in problems])
    return LoadedExperiment(spec=obj.experiment, path=base / Path(file).name, document=doc)
