"""The ODE-study YAML (``schema: 1``, top-level ``ode_study:``): typed sections and loading.

Owns: the config classes of an ODE study, :func:`load_ode_study`, which validates the file
(unknown keys rejected, every problem at once with its place) and checks the cross-field rules
(variant names unique, the baseline and accuracy variant exist, ``on_chip`` names real blocks,
bit widths in 8..32), and :class:`LoadedOdeStudy`: the study with the board and the dsc_ode
kernel it names (paths relative to the study file), from a file (:func:`load_study`) or from
in-memory data (:func:`study_from_data`, a sweep point).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpgasim.config import Bool, DirName, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class, load, read_yaml
from fpgasim.errors import BadArgument, Problem
from fpgasim.fixedpoint import Overflow, Rounding
from fpgasim.hw import load_board, load_compute_devices
from fpgasim.kernels.dsc_ode import DscOdeDesign
from fpgasim.kernels.fit import FitLimits
from fpgasim.kernels.loader import kernel_path, load_kernel
from fpgasim.nn.composite import OdeSolver
from fpgasim.nn.odenet import DscScope, OdeNetSpec
from fpgasim.study.common.documents import check_data
from fpgasim.study.dsodenet._cpu import CpuModel

__all__ = ["NetworkDefaults", "VariantSpec", "AccuracySpec", "CalibratedCpu", "TimingSpec", "PaperSpec", "OdeStudy",
           "OdeStudyFile", "load_ode_study", "ALL_ON_CHIP", "LoadedOdeStudy", "load_study", "study_from_data"]

#: ``on_chip: [all]`` keeps every block except pre/post-processing on the PL.
ALL_ON_CHIP = "all"


@config_class
class NetworkDefaults:
    """Fields shared by every variant (see :class:`fpgasim.nn.odenet.OdeNetSpec`)."""

    channels: tuple[PosInt, PosInt, PosInt] = (64, 128, 256)
    input_hw: PosInt = 32
    in_channels: PosInt = 3
    classes: PosInt = 10
    solver: OdeSolver = OdeSolver.EULER
    down_convs: PosInt = 1
    stem_kernel: PosInt = 3
    #: integration time T of every ODE block; the step size is h = T / steps (> 0).
    end_time: PosFloat = 1.0


@config_class
class VariantSpec:
    """One network variant of the study."""

    #: unique name (appears in every table).
    name: Str
    #: none | ode | ode_and_down.
    dsc: DscScope = DscScope.NONE
    #: solver steps of layer1, layer2_2, layer3_2 (each >= 1).
    steps: tuple[int, int, int] = (10, 10, 10)
    #: which ODE blocks exist.
    ode_blocks: tuple[Bool, Bool, Bool] = (True, True, True)
    #: top-level blocks on the PL (["all"]: everything except pre/post-processing).
    on_chip: tuple[Str, ...] = (ALL_ON_CHIP,)


@config_class
class AccuracySpec:
    """The fixed-point accuracy study (float64 reference vs fixed point on the same weights)."""

    #: variant to evaluate.
    variant: Str
    #: datapath widths (8..32): activations and state; weights min(width, max_weight_bits).
    bit_widths: tuple[PosInt, ...]
    #: synthetic inputs (standard normal images).
    inputs: PosInt
    #: input size override for speed (None: the network's input_hw).
    input_hw: PosInt | None = None
    #: channel override for speed (None: the network's channels).
    channels: tuple[PosInt, PosInt, PosInt] | None = None
    #: seed of the numpy Generator for weights and inputs.
    seed: NonNegInt = 0
    #: fraction bits of the dyadic step size h ≈ 1/steps.
    h_frac_bits: PosInt = 8
    #: extra integer bits above the calibrated activation range.
    headroom_bits: NonNegInt = 1
    #: widest weight word (DSP48E2 multiplier B port: 18 bits, boards.md §0.1).
    max_weight_bits: PosInt = 18
    #: rounding after each layer.
    rounding: Rounding = Rounding.HALF_EVEN
    #: overflow of outputs.
    overflow: Overflow = Overflow.SATURATE


@config_class
class CalibratedCpu:
    """The calibrated software model: a compute device of ``boards/compute.yaml`` (its peak and
    bandwidth) with the fitted efficiencies and dispatch overhead of a calibrated device."""

    #: compute device id whose cores run the software (e.g. zcu104_ps_a53).
    device: Str
    #: calibrated device whose efficiencies and overhead are used (None: ``device``'s own).
    efficiency_from: Str | None = None


@config_class
class TimingSpec:
    """The emulated latency on the board versus the software model."""

    #: variants to time (empty: all); each must fit at the kernel's precision (else exit 3).
    variants: tuple[Str, ...] = ()
    #: images run back to back (weights loaded once before the first).
    images: PosInt = 2
    #: fill latency of each engine pass.
    pipeline_depth_cycles: NonNegInt = 20
    #: DMA pipelining granularity in bytes.
    dma_chunk_bytes: PosInt = 4096
    #: DDR arbitration granularity in bytes.
    burst_bytes: PosInt = 128
    #: board memory channel the PS–PL DMA uses.
    memory: Str = "ps_ddr4"
    #: board host port of the DMA (its width; it runs at the engine clock, capped at its max).
    host_port: Str = "s_axi_hp"
    #: software model of the Arm cores at the SIMD peak (the bound: ``speedup_peak_bound``).
    cpu: CpuModel
    #: the software model fitted to measurements (``speedup_calibrated``; None: not reported).
    calibrated_cpu: CalibratedCpu | None = None


@config_class
class PaperSpec:
    """Published numbers printed beside fpgasim's (never used in a computation)."""

    #: parameter reduction range in percent.
    reduction_percent: tuple[PosFloat, PosFloat]
    #: label → published speedup.
    speedups: dict[Str, PosFloat]
    #: citation.
    source: Str


@config_class
class OdeStudy:
    """An ODE study: variants × precisions fit, parameters, accuracy, timing and speedup."""

    #: study name (output directory name).
    name: DirName
    #: board id or path (relative to this file).
    board: Str
    #: kernel YAML path (relative to this file) or a name in kernels/.
    kernel: Str
    #: variant whose core parameters are the 100 % of the reduction column.
    baseline: Str
    #: shared network fields.
    network: NetworkDefaults
    #: the variants.
    variants: tuple[VariantSpec, ...]
    #: fixed-point widths swept in the fit table.
    fit_bit_widths: tuple[PosInt, ...]
    #: device | finn.
    fit_limits: FitLimits = FitLimits.DEVICE
    #: accuracy study (None: skipped).
    accuracy: AccuracySpec | None = None
    #: timing study.
    timing: TimingSpec
    #: published numbers.
    paper: PaperSpec
    #: free text.
    notes: Str | None = None

    def spec(self, variant: VariantSpec, **overrides: object) -> OdeNetSpec:
        """The :class:`OdeNetSpec` of ``variant`` (shared fields from ``network``)."""
        net = self.network
        fields = dict(name=variant.name, channels=net.channels, steps=variant.steps,
                      ode_blocks=variant.ode_blocks, solver=net.solver, dsc=variant.dsc,
                      down_convs=net.down_convs, input_hw=net.input_hw, in_channels=net.in_channels,
                      classes=net.classes, stem_kernel=net.stem_kernel)
        fields.update(overrides)
        return OdeNetSpec(**fields)

    def variant(self, name: str) -> VariantSpec:
        """The variant called ``name``."""
        return next(v for v in self.variants if v.name == name)


@config_class
class OdeStudyFile:
    """The document: ``schema: 1`` and ``ode_study:``."""

    ode_study: OdeStudy


def _checks(document: OdeStudyFile, doc: YamlDocument) -> list[Problem]:
    study, root = document.ode_study, ("ode_study",)
    problems: list[Problem] = []
    names = [v.name for v in study.variants]
    if not names:
        problems.append(doc.problem(root + ("variants",), "expected at least one variant"))
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(doc.problem(root + ("variants", i, "name"), f"duplicate variant name {name!r}"))
    if study.baseline not in names:
        problems.append(doc.problem(root + ("baseline",), f"{study.baseline!r} is not a variant; expected one "
                                    f"of: {', '.join(names)}"))
    for i, variant in enumerate(study.variants):
        try:
            study.spec(variant)
        except BadArgument as exc:
            problems.append(doc.problem(root + ("variants", i), str(exc)))
    for i, bits in enumerate(study.fit_bit_widths):
        if not 8 <= bits <= 32:
            problems.append(doc.problem(root + ("fit_bit_widths", i), f"{bits}: expected 8..32"))
    problems += _calibrated_cpu_problems(study.timing.calibrated_cpu, doc, root + ("timing", "calibrated_cpu"))
    acc = study.accuracy
    if acc is not None:
        if acc.variant not in names:
            problems.append(doc.problem(root + ("accuracy", "variant"), f"{acc.variant!r} is not a variant; "
                                        f"expected one of: {', '.join(names)}"))
        for i, bits in enumerate(acc.bit_widths):
            if not 8 <= bits <= 32:
                problems.append(doc.problem(root + ("accuracy", "bit_widths", i), f"{bits}: expected 8..32"))
        if acc.input_hw is not None and acc.input_hw % 4:
            problems.append(doc.problem(root + ("accuracy", "input_hw"), f"{acc.input_hw}: expected a multiple of 4"))
    return problems


def _calibrated_cpu_problems(spec: CalibratedCpu | None, doc: YamlDocument, at: tuple) -> list[Problem]:
    """Unknown compute-device ids, and an efficiency source that is not calibrated."""
    if spec is None:
        return []
    devices = load_compute_devices()
    problems = [doc.problem(at + (key,), f"unknown compute device {name!r}; known: {', '.join(sorted(devices))}")
                for key, name in (("device", spec.device), ("efficiency_from", spec.efficiency_from))
                if name is not None and name not in devices]
    source = spec.efficiency_from or spec.device
    if not problems and not devices[source].efficiency.calibrated:
        calibrated = sorted(name for name, device in devices.items() if device.efficiency.calibrated)
        problems.append(doc.problem(at + ("efficiency_from" if spec.efficiency_from else "device",),
                                    f"compute device {source!r} is not calibrated; calibrated: "
                                    f"{', '.join(calibrated) or 'none'}"))
    return problems


def load_ode_study(path: str | Path) -> OdeStudy:
    """Load and check an ODE-study YAML.

    Raises:
        ConfigError: every problem, with file, line and key path.
    """
    return load(path, OdeStudyFile, checks=[_checks]).ode_study


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedOdeStudy:
    """A checked ODE study, the board and kernel design it names, and the document it came from."""

    study: OdeStudy
    board: Any
    design: DscOdeDesign
    document: YamlDocument
    #: the study file (for a sweep point: its nominal place in the base directory).
    path: Path


def _resolve(base: Path, text: str, *, kind: str) -> str:
    """A path relative to the study file when it looks like a path; a bare name otherwise."""
    if "/" in text or text.endswith((".yaml", ".yml")):
        return str((base / text).resolve())
    return text if kind == "board" else str(kernel_path(text))


def _with_inputs(study: OdeStudy, document: YamlDocument, path: Path) -> LoadedOdeStudy:
    base = path.parent
    board = load_board(_resolve(base, study.board, kind="board"))
    design = load_kernel(_resolve(base, study.kernel, kind="kernel"))
    if not isinstance(design, DscOdeDesign):
        raise BadArgument(f"ode_study.kernel={study.kernel!r} is a {design.type.value} design; expected a dsc_ode "
                          "kernel (the on-chip ODE engine)")
    return LoadedOdeStudy(study=study, board=board, design=design, document=document, path=path)


def load_study(path: str | Path) -> LoadedOdeStudy:
    """Load the study, its board and its kernel (paths relative to the study file).

    Raises:
        ConfigError: any of the three files is invalid. BadArgument: the kernel is not a dsc_ode design.
    """
    return _with_inputs(load_ode_study(path), read_yaml(path), Path(path).resolve())


def study_from_data(data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedOdeStudy:
    """:func:`load_study` of a document given as data; ``file`` names it in messages, relative
    paths resolve from ``base_dir``.

    Raises:
        ConfigError, BadArgument: as :func:`load_study`.
    """
    document, doc = check_data(data, OdeStudyFile, file=file, checks=[_checks])
    return _with_inputs(document.ode_study, doc, Path(base_dir).resolve() / Path(file).name)
