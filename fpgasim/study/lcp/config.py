"""The LCP study YAML (``schema: 1``, top-level ``lcp_study:``): typed sections and loading.

Owns the config classes of an LCP study — the device every cluster member is (an FPGA board with
its kernel design, or a compute device), the link between them, the models, the configurations
(one device; LCP splits over n devices; the model-parallel baseline) and the paper's numbers —
and :func:`load_lcp_study`, which validates the file (every problem at once, with its place) and
resolves the board, kernel, compute device and link ids it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.config import Bool, DirName, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class, load, read_yaml
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw import is_board_path, load_board, load_compute_devices, load_link_types
from fpgasim.hw.board import Board
from fpgasim.hw.compute import ComputeSpec
from fpgasim.hw.links import LinkType
from fpgasim.kernels import TiledConvDesign
from fpgasim.kernels.loader import kernel_path, load_kernel
from fpgasim.nn import zoo_graph
from fpgasim.nn.graph import Graph
from fpgasim.nn.lcp_split import split_label

__all__ = ["FitPolicy", "MemorySpec", "DeviceSpec", "LinkSpec", "ModelSpec", "ConfigSpec", "PaperNumbers",
           "LcpStudy", "LcpStudyFile", "LoadedLcpStudy", "load_lcp_study"]


class FitPolicy(StrEnum):
    """What a kernel design that does not fit its board does."""

    #: refused before anything runs (exit 3), as everywhere in fpgasim.
    ENFORCE = "enforce"
    #: timed as published at its own tile; the verdict is printed beside every number.
    REPORT = "report"


@config_class
class MemorySpec:
    """The board memory channel the engine streams use and its DDR transaction size."""

    channel: Str
    burst_bytes: PosInt = 4096


@config_class
class DeviceSpec:
    """Every cluster member: ``board`` + ``kernel`` + ``memory`` (an FPGA) or ``compute`` (a CPU/GPU)."""

    #: board library id or a path (relative to the study file).
    board: Str | None = None
    #: kernel design file (relative to the study file) or a name in kernels/.
    kernel: Str | None = None
    memory: MemorySpec | None = None
    #: enforce | report (FPGA only).
    fit: FitPolicy = FitPolicy.ENFORCE
    #: compute device id in boards/compute.yaml.
    compute: Str | None = None
    #: bits per value on a compute device (FPGA: the design's).
    word_bits: PosInt = 32


@config_class
class LinkSpec:
    """The link between every two devices (a full mesh: each pair at the link's measured latency)."""

    #: link type id in boards/links.yaml.
    type: Str
    #: link transaction granularity, bytes (coarse keeps the emulation fast).
    packet_bytes: PosInt = 65536
    #: receive FIFO per direction, bytes.
    fifo_bytes: PosInt = 1048576


@config_class
class ModelSpec:
    """One network of the study."""

    #: the name in tables and in ``paper``.
    label: Str
    #: a zoo graph name (fpgasim network --help lists them).
    zoo: Str
    #: keep batch norms as their own nodes (software runs them as ops); None: the zoo's default
    #: (folded into the conv, as an accelerator runs them).
    batch_norm: Bool | None = None

    def graph(self) -> Graph:
        """The zoo graph.

        Raises:
            BadArgument: an unknown name or an argument the network does not take.
        """
        return zoo_graph(self.zoo) if self.batch_norm is None else zoo_graph(self.zoo, batch_norm=self.batch_norm)


@config_class
class ConfigSpec:
    """One configuration: ``devices`` devices running ``branches`` LCP branches, or the model-parallel
    baseline over ``devices`` (``model_parallel: true``)."""

    #: the name in tables and in ``paper`` (default: 1 dev, split8, split8-f40, mp4).
    label: Str | None = None
    devices: PosInt = 1
    branches: PosInt = 1
    #: LCP fattening in percent, a multiple of 10.
    fatten_pct: NonNegInt = 0
    model_parallel: Bool = False

    @property
    def name(self) -> str:
        """The label, or the derived one."""
        if self.label is not None:
            return self.label
        if self.model_parallel:
            return f"mp{self.devices}"
        return "1 dev" if self.branches == 1 and self.fatten_pct == 0 else split_label(self.branches, self.fatten_pct)


@config_class
class PaperNumbers:
    """Published numbers printed beside fpgasim's; never used in a computation."""

    #: citation.
    source: Str
    #: model label → config label → latency in ms.
    latency_ms: dict[Str, dict[Str, PosFloat]] = field(default_factory=dict)
    #: model label → config label → speedup over one device.
    speedup: dict[Str, dict[Str, PosFloat]] = field(default_factory=dict)
    #: the paper's geometric-mean speedup and the configurations it is taken over.
    geomean_speedup: PosFloat | None = None
    geomean_configs: tuple[Str, ...] = ()


@config_class
class LcpStudy:
    """An LCP study: models × configurations on a cluster of identical devices."""

    name: DirName
    device: DeviceSpec
    link: LinkSpec
    models: tuple[ModelSpec, ...]
    configs: tuple[ConfigSpec, ...]
    #: index of the device that holds the input, gathers and classifies.
    gather: NonNegInt = 0
    paper: PaperNumbers
    notes: Str | None = None


@config_class
class LcpStudyFile:
    """The document: ``schema: 1`` and ``lcp_study:``."""

    lcp_study: LcpStudy


def _checks(document: LcpStudyFile, doc: YamlDocument) -> list[Problem]:
    study, root = document.lcp_study, ("lcp_study",)
    problems: list[Problem] = []
    device = study.device
    if (device.board is None) == (device.compute is None):
        problems.append(doc.problem(root + ("device",), "expected `board` (with kernel and memory) or `compute`, "
                                    "exactly one"))
    elif device.board is not None and (device.kernel is None or device.memory is None):
        problems.append(doc.problem(root + ("device",), "an FPGA device needs `kernel` and `memory`"))
    labels = [config.name for config in study.configs]
    for i, config in enumerate(study.configs):
        at = root + ("configs", i)
        if labels.index(config.name) != i:
            problems.append(doc.problem(at + ("label",), f"duplicate configuration label {config.name!r}"))
        if config.model_parallel and (config.branches != 1 or config.fatten_pct or config.devices < 2):
            problems.append(doc.problem(at, "model_parallel splits every layer over `devices` (at least 2); it "
                                        "takes no branches or fatten_pct"))
        if config.devices < config.branches:
            problems.append(doc.problem(at + ("devices",), f"{config.devices} device(s) for {config.branches} "
                                        f"branches; expected at least {config.branches}, one per branch"))
        if study.gather >= config.devices:
            problems.append(doc.problem(root + ("gather",), f"gather device {study.gather} is not among the "
                                        f"{config.devices} device(s) of configuration {config.name!r} (0.."
                                        f"{config.devices - 1})"))
    models = [model.label for model in study.models]
    for i, model in enumerate(study.models):
        if models.index(model.label) != i:
            problems.append(doc.problem(root + ("models", i, "label"), f"duplicate model label {model.label!r}"))
        try:
            model.graph()
        except BadArgument as exc:
            problems.append(doc.problem(root + ("models", i, "zoo"), str(exc)))
    for key in ("latency_ms", "speedup"):
        for model, rows in getattr(study.paper, key).items():
            if model not in models:
                problems.append(doc.problem(root + ("paper", key, model), f"{model!r} is not a model label; "
                                            f"expected one of {', '.join(models)}"))
            problems += [doc.problem(root + ("paper", key, model, label), f"{label!r} is not a configuration "
                                     f"label; expected one of {', '.join(labels)}") for label in rows
                         if label not in labels]
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedLcpStudy:
    """A checked study with the hardware it names resolved.

    Attributes:
        study: the validated document. path: the study file. document: its YAML.
        board, design, kernel_file: the FPGA (None for a compute device).
        compute: the compute device's spec (None for an FPGA). link: the link type.
    """

    study: LcpStudy
    path: Path
    document: YamlDocument
    board: Board | None
    design: TiledConvDesign | None
    kernel_file: Path | None
    compute: ComputeSpec | None
    link: LinkType


def load_lcp_study(path: str | Path) -> LoadedLcpStudy:
    """Load and check the LCP study at ``path``, resolving its board, kernel, compute device and link.

    Raises:
        ConfigError: every problem of the document, each with its place (an unknown id names the
            closest known one).
    """
    path = Path(path)
    study = load(path, LcpStudyFile, checks=[_checks]).lcp_study
    doc = read_yaml(path)
    root = ("lcp_study",)
    problems: list[Problem] = []
    board = design = kernel_file = compute = link = None
    links = load_link_types()
    if study.link.type not in links:
        problems.append(doc.problem(root + ("link", "type"), f"link type {study.link.type!r} is not in "
                                    f"boards/links.yaml; known: {', '.join(sorted(links))}"))
    else:
        link = links[study.link.type]
    device, at = study.device, root + ("device",)
    if device.compute is not None:
        devices = load_compute_devices()
        if device.compute not in devices:
            problems.append(doc.problem(at + ("compute",), f"compute device {device.compute!r} is not in "
                                        f"boards/compute.yaml; known: {', '.join(sorted(devices))}"))
        else:
            compute = devices[device.compute]
    else:
        try:
            board = load_board(path.parent / device.board if is_board_path(device.board) else device.board)
        except (BadArgument, ConfigError) as exc:
            problems.append(doc.problem(at + ("board",), str(exc)))
        kernel_file = kernel_path(device.kernel)
        kernel_file = (path.parent / kernel_file).resolve() if not kernel_file.is_absolute() else kernel_file
        try:
            design = load_kernel(kernel_file)
        except (BadArgument, ConfigError) as exc:
            problems.append(doc.problem(at + ("kernel",), str(exc)))
        if design is not None and not isinstance(design, TiledConvDesign):
            problems.append(doc.problem(at + ("kernel",), f"{device.kernel}: expected a tiled_conv design"))
            design = None
        if board is not None and device.memory.channel not in [channel.id for channel in board.memory]:
            problems.append(doc.problem(at + ("memory", "channel"), f"board {board.id!r} has no memory channel "
                                        f"{device.memory.channel!r}; it has "
                                        f"{', '.join(channel.id for channel in board.memory)}"))
    if problems:
        raise ConfigError(problems)
    return LoadedLcpStudy(study=study, path=path.resolve(), document=doc, board=board, design=design,
                          kernel_file=kernel_file, compute=compute, link=link)
