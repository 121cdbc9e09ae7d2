"""The ScissionLite study YAML (``schema: 1``, top-level ``scission_study:``): schema and loading.

Owns the typed sections, the cross-field checks (every problem at once, with its place): split
and keep-on-device nodes that exist and are split points of the network, a released CSV whose
blocks match the network through the alignment (each aligned Keras layer ends a block, and the
tensors agree in size unless the entry says they differ), the released device and edge names,
and :class:`LoadedScission` (the study, its graph, its released data, its emulated platform).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from fpgasim.config import (
    Bool, DirName, NonNegFloat, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class, load, read_yaml,
)
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw.platform import FpgaDevice, Platform, PlatformSection, load_platform_section
from fpgasim.kernels import TiledConvDesign, load_kernel_file
from fpgasim.nn import zoo_graph
from fpgasim.nn.graph import Graph
from fpgasim.nn.split import ByteAccounting, SplitRule, check_split, split_points, tl_applies
from fpgasim.study.common.documents import check_data
from fpgasim.study.scission.predict import Predictor
from fpgasim.study.scission.released import ReleasedData, read_released

__all__ = ["ScissionStudy", "LoadedScission", "load_scission", "scission_from_data", "NPY_HEADER_BYTES"]

#: The header of the released tool's ``.npy`` files (float32 arrays of up to 4 dimensions).
NPY_HEADER_BYTES = 128
_ROOT = ("scission_study",)


@config_class
class NetworkSection:
    """A zoo network (one input, one output)."""

    #: zoo name (``fpgasim network`` lists them).
    zoo: Str
    #: keep batch norms as nodes (true: Keras' BN layers are split points of their own).
    batch_norm: Bool = True
    batch: PosInt = 1


@config_class
class LinkSection:
    """The device → edge link of the predictor and the what-if."""

    #: megabits per second (> 0).
    bandwidth_mbps: PosFloat
    #: round-trip ping added once per transfer, ms.
    ping_ms: NonNegFloat
    source: Str


@config_class
class AlignEntry:
    """A CSV block (by its Keras output layer) and the fpgasim split node that sends the same tensor."""

    node: Str
    keras_layer: NonNegInt
    #: false: the tensors differ in size (say why in ``note``).
    same_tensor: Bool = True
    note: Str | None = None


@config_class
class ReadmeRun:
    """The released README's printed run, shown beside the released predictor (never computed with)."""

    device: Str
    bandwidth_mbps: PosFloat
    #: [latency s, Keras layer of the split] of the printed top 5.
    top: tuple[tuple[PosFloat, NonNegInt], ...]
    tl_transfer_s: PosFloat
    transfer_s: PosFloat
    source: Str


@config_class
class ReleasedSection:
    """The released per-block measurements."""

    #: the CSV, relative to this file.
    csv: Str
    #: device names in the CSV to report.
    devices: tuple[Str, ...]
    edge: Str
    alignment: tuple[AlignEntry, ...] = ()
    readme: ReadmeRun | None = None


@config_class
class ConstraintsSection:
    """What the split must satisfy."""

    #: nodes that must run on the device (privacy).
    keep_on_device: tuple[Str, ...] = ()
    #: the split after block 0 is not allowed (the paper's privacy constraint).
    first_split_forbidden: Bool = False
    upload_cap_bytes: PosInt | None = None
    device_time_cap_s: PosFloat | None = None
    edge_time_cap_s: PosFloat | None = None


@config_class
class EmulatedSection:
    """fpgasim devices and links: each device with a cable to the edge."""

    platform: PlatformSection
    #: the edge device's id in ``platform``.
    edge: Str
    #: emulated device id → the released device it stands for (for the side-by-side table).
    stands_for: dict[Str, Str] = field(default_factory=dict)


@config_class
class WhatIfSection:
    """The bandwidth and ping grid of the what-if plot."""

    bandwidth_mbps: tuple[PosFloat, ...]
    ping_ms: tuple[NonNegFloat, ...]


@config_class
class FunctionalSection:
    """A float64 run of the network with the TL at these splits, against the run without."""

    splits: tuple[Str, ...]
    seed: NonNegInt = 0


@config_class
class FigureValue:
    """A combination of the paper's DenseNet-169 figure (values read from the plot)."""

    combination: Str
    scission_s: PosFloat
    scissionlite_s: PosFloat
    privacy_scission_s: PosFloat
    privacy_scissionlite_s: PosFloat


@config_class
class PaperSection:
    """Published numbers printed beside fpgasim's (never used in a computation)."""

    local_speedup: PosFloat
    scission_speedup: PosFloat
    figure: tuple[FigureValue, ...] = ()
    local_cpu_s: tuple[PosFloat, PosFloat] | None = None
    local_gpu_s: PosFloat | None = None
    source: Str


@config_class
class ScissionStudy:
    """A ScissionLite study: split points, the TL, released and emulated timings, best splits."""

    name: DirName
    network: NetworkSection
    split_rule: SplitRule = SplitRule.BRANCHES
    #: bytes of an emulated transfer: float32 data, or with the released .npy header (the released
    #: data always has .npy sizes).
    bytes: ByteAccounting = ByteAccounting.NPY
    predictor: Predictor = Predictor.CORRECTED
    link: LinkSection
    released: ReleasedSection | None = None
    emulated: EmulatedSection | None = None
    constraints: ConstraintsSection = ConstraintsSection()
    #: the paper's privacy scenario, reported beside the unconstrained best.
    privacy: ConstraintsSection | None = None
    whatif: WhatIfSection | None = None
    functional: FunctionalSection | None = None
    paper: PaperSection | None = None
    notes: Str | None = None


@config_class
class ScissionFile:
    """The document: ``schema: 1`` and ``scission_study:``."""

    scission_study: ScissionStudy


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScission:
    """A checked study with what it names.

    Attributes:
        study: the study. graph: its network. released: the CSV (None without a section).
        platform: the emulated devices (None without a section); designs: their FPGA designs.
        positions: Keras output layer → topological position of its aligned split node.
        document: the YAML document. path: the study file.
    """

    study: ScissionStudy
    graph: Graph
    released: ReleasedData | None
    platform: Platform | None
    designs: dict[str, TiledConvDesign]
    positions: dict[int, int]
    document: YamlDocument
    path: Path


def _graph(study: ScissionStudy, doc: YamlDocument) -> Graph:
    net = study.network
    try:
        return zoo_graph(net.zoo, batch=net.batch, batch_norm=net.batch_norm)
    except (BadArgument, TypeError) as exc:
        raise ConfigError([doc.problem(_ROOT + ("network", "zoo"), str(exc))]) from None


def _node_problems(study: ScissionStudy, graph: Graph, doc: YamlDocument) -> list[Problem]:
    problems = []
    named = [(("constraints", "keep_on_device", i), n, False) for i, n in enumerate(study.constraints.keep_on_device)]
    if study.privacy is not None:
        named += [(("privacy", "keep_on_device", i), n, False) for i, n in enumerate(study.privacy.keep_on_device)]
    if study.functional is not None:
        named += [(("functional", "splits", i), n, True) for i, n in enumerate(study.functional.splits)]
    names = {node.name for node in graph.nodes}
    for at, node, split in named:
        try:
            if split:
                check_split(graph, node, study.split_rule)
                _check_tl(graph, node)
            elif node not in names:
                check_split(graph, node, study.split_rule)  # raises: no such node, closest names
        except BadArgument as exc:
            problems.append(doc.problem(_ROOT + at, str(exc)))
    return problems


def _check_tl(graph: Graph, node: str) -> None:
    """Refuse a TL after ``node`` where :func:`~fpgasim.nn.split.with_transfer_layer` would."""
    shape = graph.node(node).out_shape
    if node in graph.outputs or not tl_applies(shape):
        raise BadArgument(f"transfer layer after {node!r}: its output {shape} is not (C, H, W) with H, W > 1 "
                          "(or it is the network's output); the 2x2 max pool does not apply")


def _alignment(study: ScissionStudy, graph: Graph, data: ReleasedData, doc: YamlDocument) -> tuple[dict[int, int],
                                                                                                   list[Problem]]:
    section, at = study.released, _ROOT + ("released",)
    problems: list[Problem] = []
    for i, name in enumerate(section.devices):
        if name not in data.devices:
            problems.append(doc.problem(at + ("devices", i), f"{name!r} is not a device of {data.path}; devices: "
                                        f"{', '.join(data.devices)}"))
    if section.edge not in data.edges:
        problems.append(doc.problem(at + ("edge",), f"{section.edge!r} is not an edge of {data.path}; edges: "
                                    f"{', '.join(data.edges)}"))
    positions: dict[int, int] = {}
    order = [node.name for node in graph.nodes]
    points = set(split_points(graph, study.split_rule))
    for name, blocks in data.devices.items():
        if len(blocks) != len(points):
            problems.append(doc.problem(at + ("csv",), f"{data.path}: device {name!r} has {len(blocks)} blocks, the "
                                        f"network {graph.name!r} {len(points)} (rule {study.split_rule}): the CSV's "
                                        "blocks do not match the network"))
    ends = {b.output_layer: b for b in next(iter(data.devices.values()))}
    for i, entry in enumerate(section.alignment):
        where = at + ("alignment", i)
        if entry.node not in points:
            try:
                check_split(graph, entry.node, study.split_rule)
            except BadArgument as exc:
                problems.append(doc.problem(where + ("node",), str(exc)))
            continue
        block = ends.get(entry.keras_layer)
        if block is None:
            problems.append(doc.problem(where + ("keras_layer",), f"{entry.keras_layer} ends no block of {data.path}; "
                                        f"block ends: {', '.join(map(str, ends))}"))
            continue
        elements = (block.output_bytes - NPY_HEADER_BYTES) // 4
        mine = graph.batch * prod(graph.node(entry.node).out_shape)
        if entry.same_tensor and elements != mine:
            problems.append(doc.problem(where, f"{entry.node!r} outputs {mine} elements, Keras layer "
                                        f"{entry.keras_layer} {elements} ({data.path}:{block.line}): the CSV's "
                                        "blocks do not match the network (or set same_tensor: false with a note)"))
        positions[entry.keras_layer] = order.index(entry.node)
    return positions, problems


def _designs(study: ScissionStudy, platform: Platform, doc: YamlDocument) -> dict[str, TiledConvDesign]:
    designs = {}
    for index, device in enumerate(platform.devices):
        if isinstance(device, FpgaDevice):
            design = load_kernel_file(device.kernel_path)
            if not isinstance(design, TiledConvDesign):
                raise ConfigError([doc.problem(_ROOT + ("emulated", "platform", "devices", index, "kernel"),
                                               "expected a tiled conv design")])
            designs[device.id] = design
    return designs


def _resolve(study: ScissionStudy, doc: YamlDocument, path: Path) -> LoadedScission:
    graph = _graph(study, doc)
    problems = _node_problems(study, graph, doc)
    released, positions = None, {}
    if study.released is not None:
        try:
            released = read_released((path.parent / study.released.csv).resolve())
        except BadArgument as exc:
            problems.append(doc.problem(_ROOT + ("released", "csv"), str(exc)))
        else:
            positions, more = _alignment(study, graph, released, doc)
            problems += more
    platform, designs = None, {}
    if study.emulated is not None:
        platform = load_platform_section(doc, _ROOT + ("emulated", "platform"), path.parent)
        ids = [device.id for device in platform.devices]
        if study.emulated.edge not in ids:
            problems.append(doc.problem(_ROOT + ("emulated", "edge"), f"{study.emulated.edge!r} is not a platform "
                                        f"device; devices: {', '.join(ids)}"))
        elif isinstance(platform.device(study.emulated.edge), FpgaDevice):
            problems.append(doc.problem(_ROOT + ("emulated", "edge"), "the edge must be a compute device (it runs "
                                        "the upsample TL, which no FPGA engine runs)"))
        designs = _designs(study, platform, doc)
    if problems:
        raise ConfigError(problems)
    return LoadedScission(study=study, graph=graph, released=released, platform=platform, designs=designs,
                          positions=positions, document=doc, path=path)


def load_scission(path: str | Path) -> LoadedScission:
    """Load and check a ScissionLite study file.

    Raises:
        ConfigError: every problem, with file, line and key path.
    """
    path = Path(path).resolve()
    study = load(path, ScissionFile).scission_study
    return _resolve(study, read_yaml(path), path)


def scission_from_data(data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedScission:
    """:func:`load_scission` of a document given as data (a sweep point).

    Raises:
        ConfigError: as :func:`load_scission`.
    """
    document, doc = check_data(data, ScissionFile, file=file)
    return _resolve(document.scission_study, doc, Path(base_dir).resolve() / Path(file).name)
