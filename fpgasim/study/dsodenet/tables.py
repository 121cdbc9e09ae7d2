"""The dsODENet / rODENet study: parameters, fit, fixed-point accuracy, timing and speedup.

Owns: :func:`plan_ode_study` (every check before simulating: networks, fit table, where each
timed variant keeps its state) and :func:`write_ode_study` (accuracy and timing runs →
``report.md``, ``results.json``, ``accuracy.png``, written atomically), and the four
computations they string together — :func:`param_table`, :func:`fit_table`,
:func:`accuracy_table`, :func:`timing_table`. The config schema is in :mod:`.config`, the
software model in :mod:`._cpu`, the fixed-point run in :mod:`._accuracy`, the SimPy run in
:mod:`._timing`, the report text in :mod:`._report`. See docs/dsodenet.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument, DoesNotFit
from fpgasim.fixedpoint import Overflow, Rounding
from fpgasim.hw import load_compute_devices, load_dsp_types
from fpgasim.hw.compute import ComputeSpec, OpClass
from fpgasim.kernels.design import AccumulatorSpec, FixedSpec, NumberKind, PrecisionSpec
from fpgasim.kernels.dsc_ode import DscOdeDesign
from fpgasim.kernels.fit import evaluate_fit
from fpgasim.kernels.network import layers_for
from fpgasim.mapping.device_fit import load_device_fits
from fpgasim.nn.composite import DscBlock, OdeBlock
from fpgasim.nn.network import Network
from fpgasim.nn.odenet import OdeNetSpec, core_params, odenet, param_rows
from fpgasim.sim.clock import us_from_ps
from fpgasim.study.dsodenet._accuracy import (
    AccuracyConfig, calibrate_int_bits, center_classifier, make_stages, new_ref_cache, run_accuracy,
)
from fpgasim.study.dsodenet._cpu import calibrated_spec
from fpgasim.study.dsodenet.config import CalibratedCpu, LoadedOdeStudy, OdeStudy, load_study
from fpgasim.study.dsodenet._report import accuracy_plot_writer, render_report
from fpgasim.study.dsodenet._timing import on_chip_names, time_variant
from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION, OutputSet

__all__ = ["OdePlan", "TimedVariant", "plan_ode_study", "write_ode_study", "run_ode_study", "param_table",
           "fit_table", "accuracy_table", "plan_timing", "timing_table", "fixed_precision"]


def param_table(study: OdeStudy) -> dict[str, Any]:
    """Per-layer parameters of every variant and each variant's core reduction vs the baseline."""
    nets = {v.name: odenet(study.spec(v)) for v in study.variants}
    base = core_params(nets[study.baseline])
    variants = []
    for name, net in nets.items():
        core = core_params(net)
        variants.append({"variant": name, "core_params": core, "total_params": net.params,
                         "reduction_percent": round(100.0 * (1.0 - core / base), 3),
                         "macs_per_image": net.macs,
                         "layers": [{"layer": r.layer, "role": r.role.value, "weights": r.weights, "biases": r.biases,
                                     "total": r.total} for r in param_rows(net)]})
    return {"baseline": study.baseline, "rule": "weights + biases, BatchNorm folded into one bias per output "
            "channel; ODE weights counted once (shared by every step); core = all layers except pre-processing "
            "(conv1) and post-processing (avgpool, fc)", "variants": variants}


def fixed_precision(precision: PrecisionSpec, bits: int) -> PrecisionSpec:
    """``precision`` at ``bits`` total bits (fixed point; integer bits kept, capped at ``bits``)."""
    base = precision.fixed or FixedSpec(total_bits=32, int_bits=12, signed=True, rounding=Rounding.TRUNCATE,
                                        overflow=Overflow.SATURATE,
                                        accumulator=AccumulatorSpec(bits=48, overflow=Overflow.SATURATE))
    return PrecisionSpec(kind=NumberKind.FIXED, fixed=replace(base, total_bits=bits,
                                                              int_bits=min(base.int_bits, bits)))


def _leaf_names(network: Network, names: frozenset[str]) -> frozenset[str]:
    leaves: set[str] = set()

    def walk(layer: Any) -> None:
        if isinstance(layer, (OdeBlock, DscBlock)):
            for sub in layer.layers:
                walk(sub)
        else:
            leaves.add(layer.name)

    for layer in network.layers:
        if layer.name in names:
            walk(layer)
    return frozenset(leaves)


def _on_chip_layers(design: DscOdeDesign, network: Network, names: frozenset[str]) -> tuple:
    keep = _leaf_names(network, names)
    return tuple(layer for layer in layers_for(design, network) if layer.name in keep)


def state_placement(study: OdeStudy, board: Any, design: DscOdeDesign, network: Network,
                    names: frozenset[str]) -> tuple[frozenset[str] | None, Any]:
    """Which on-chip blocks keep their state (feature maps) on chip, by the fit model.

    If the design fits with every block's feature maps on chip, nothing spills. Otherwise the
    blocks' states move to DDR one at a time, largest feature map first, until the design fits:
    a spilled block keeps its weight buffers but no longer sizes the feature-map buffers (its
    layers count as 1×1 maps there).

    Returns:
        ``(spilled block names, fit verdict)``; ``(None, verdict with every state on chip)`` when
        the design does not fit even with every state in DDR (the weights alone do not fit).
    """
    dsp_types = load_dsp_types()
    layers = _on_chip_layers(design, network, names)
    verdict = evaluate_fit(board, design, dsp_types=dsp_types, limits=study.fit_limits, layers=layers)
    if verdict.fits:
        return frozenset(), verdict
    blocks = sorted((layer for layer in network.layers if layer.name in names),
                    key=lambda layer: (-max(np.prod(layer.in_shape), np.prod(layer.out_shape)), layer.name))
    spilled: set[str] = set()
    for block in blocks:
        spilled.add(block.name)
        leaves = _leaf_names(network, frozenset(spilled))
        trial = tuple(replace(layer, in_h=1, in_w=1, out_h=1, out_w=1) if layer.name in leaves else layer
                      for layer in layers)
        result = evaluate_fit(board, design, dsp_types=dsp_types, limits=study.fit_limits, layers=trial)
        if result.fits:
            return frozenset(spilled), result
    return None, verdict


def state_label(spill_bytes_per_step: int) -> str:
    """``state on chip`` or ``state spilled to DDR: N bytes per step`` (read + write per evaluation)."""
    if not spill_bytes_per_step:
        return "state on chip"
    return f"state spilled to DDR: {spill_bytes_per_step:,} bytes per step"


def fit_table(study: OdeStudy, board: Any, design: DscOdeDesign) -> dict[str, Any]:
    """Fit verdict and utilisation of every variant × fixed-point width; the largest that fits."""
    dsp_types = load_dsp_types()
    rows = []
    for variant in study.variants:
        net = odenet(study.spec(variant))
        names = on_chip_names(net, variant.on_chip)
        bits_on_chip = sum(l.params_weights + l.params_biases for l in net.layers if l.name in names)
        for bits in study.fit_bit_widths:
            candidate = replace(design, precision=fixed_precision(design.precision, bits))
            result = evaluate_fit(board, candidate, dsp_types=dsp_types, limits=study.fit_limits,
                                  layers=_on_chip_layers(candidate, net, names))
            rows.append({"variant": variant.name, "bits": bits, "precision": result.precision, "fits": result.fits,
                         "verdict": result.verdict, "on_chip_params": bits_on_chip,
                         "on_chip_param_bits": bits_on_chip * bits,
                         "resources": {r.resource.value: {"used": r.used, "available": r.available,
                                                          "percent": None if r.percent is None else round(r.percent, 2)}
                                       for r in result.rows}})
    fitting = [r for r in rows if r["fits"]]
    best = max(fitting, key=lambda r: (r["on_chip_param_bits"], r["bits"])) if fitting else None
    return {"board": board.id, "kernel": design.name, "limits": study.fit_limits.value, "rows": rows,
            "largest_fit": None if best is None else {"variant": best["variant"], "bits": best["bits"]}}


def _accuracy_spec(study: OdeStudy) -> OdeNetSpec:
    """The network the accuracy study runs (its variant with the speed overrides, batch 1)."""
    acc = study.accuracy
    overrides: dict[str, Any] = {"batch": 1}
    if acc.input_hw is not None:
        overrides["input_hw"] = acc.input_hw
    if acc.channels is not None:
        overrides["channels"] = acc.channels
    return study.spec(study.variant(acc.variant), **overrides)


def accuracy_table(study: OdeStudy) -> dict[str, Any] | None:
    """Fixed point vs float64 per width (None when the study has no accuracy section)."""
    acc = study.accuracy
    if acc is None:
        return None
    spec = _accuracy_spec(study)
    net = odenet(spec)
    rng = np.random.default_rng(acc.seed)
    stages = make_stages(net, rng, end_time=study.network.end_time, h_frac_bits=acc.h_frac_bits)
    c, h, w = net.input_shape
    x = rng.standard_normal((acc.inputs, c, h, w))
    stages = center_classifier(stages, x)
    int_bits = calibrate_int_bits(stages, x, acc.headroom_bits)
    cache = new_ref_cache()
    widths = []
    for bits in acc.bit_widths:
        cfg = AccuracyConfig(bits=bits, act_int_bits=int_bits, max_weight_bits=acc.max_weight_bits,
                             rounding=acc.rounding, overflow=acc.overflow)
        res = run_accuracy(stages, x, cfg, cache=cache)
        widths.append({"bits": bits, "act_format": res.act_format, "top1_agreement": res.top1_agreement,
                       "float_classes_seen": res.classes_seen,
                       "stages": [{"stage": s.stage, "max_abs_error": s.max_abs_error, "snr_db": s.snr_db,
                                   "bound": s.bound, "overflow_output": s.overflow_output,
                                   "overflow_accumulator": s.overflow_accumulator} for s in res.stages]})
    return {"variant": acc.variant, "network": {"channels": list(spec.channels), "input_hw": spec.input_hw,
                                                "steps": list(spec.steps)},
        "inputs": acc.inputs, "seed": acc.seed, "act_int_bits": int_bits, "max_weight_bits": acc.max_weight_bits,
        "rounding": acc.rounding.value, "overflow": acc.overflow.value, "widths": widths}


@dataclass(frozen=True, slots=True, kw_only=True)
class TimedVariant:
    """A variant to time: its network, its on-chip blocks and the blocks whose state spills to DDR."""

    name: str
    network: Network
    on_chip: tuple[str, ...]
    spilled: frozenset[str]


def plan_timing(study: OdeStudy, board: Any, design: DscOdeDesign) -> tuple[TimedVariant, ...]:
    """The timed variants at the kernel's own precision, each with its state placement.

    Raises:
        BadArgument: a ``timing.variants`` entry is not a variant.
        DoesNotFit: a timed variant does not fit the board at the kernel's precision even with every
            block's state spilled to DDR (the verdict with every state on chip).
    """
    names = study.timing.variants or tuple(v.name for v in study.variants)
    timed = []
    for name in names:
        if name not in {v.name for v in study.variants}:
            raise BadArgument(f"timing.variants entry {name!r} is not a variant; expected one of: "
                              f"{', '.join(v.name for v in study.variants)}")
        variant = study.variant(name)
        net = odenet(study.spec(variant))
        spilled, verdict = state_placement(study, board, design, net, on_chip_names(net, variant.on_chip))
        if spilled is None:
            raise DoesNotFit(verdict.report)
        timed.append(TimedVariant(name=name, network=net, on_chip=variant.on_chip, spilled=spilled))
    return tuple(timed)


def timing_table(study: OdeStudy, board: Any, design: DscOdeDesign,
                 timed: tuple[TimedVariant, ...] | None = None) -> dict[str, Any]:
    """Emulated latency and speedup of each timed variant at the kernel's own precision.

    Args:
        timed: the variants as :func:`plan_timing` planned them (None: plan them here).

    Raises:
        BadArgument, DoesNotFit: as :func:`plan_timing`.
    """
    spec = study.timing
    calibrated, calibration = _calibrated(spec.calibrated_cpu)
    rows = []
    for item in plan_timing(study, board, design) if timed is None else timed:
        net, name = item.network, item.name
        res = time_variant(net, item.on_chip, design, board, spec, spilled=item.spilled, calibrated=calibrated)
        pl_macs = sum(layer.macs for layer in net.layers if layer.name in res.on_chip)
        rows.append({"variant": name, "on_chip": list(res.on_chip), "image_us": us_from_ps(res.image_ps),
                     "first_image_us": us_from_ps(res.first_image_ps), "weights_us": us_from_ps(res.weights_ps),
                     "software_us": us_from_ps(res.software_ps), "speedup": res.speedup,
                     "speedup_first_image": res.speedup_first, "pl_cycles_per_image": res.pl_cycles_per_image,
                     "pl_macs_per_image": pl_macs,
                     "pl_mac_utilisation": pl_macs / (res.pl_cycles_per_image * design.macs),
                     "breakdown_us": {k: us_from_ps(v) for k, v in res.breakdown_ps.items()},
                     "state": {block: state_label(n) for block, n in sorted(res.spill_bytes_per_step.items())},
                     "spill_bytes_per_step": dict(sorted(res.spill_bytes_per_step.items())),
                     "speedup_peak_bound": res.speedup})
        if calibrated is not None:
            rows[-1].update({"software_calibrated_us": us_from_ps(res.software_calibrated_ps),
                             "image_calibrated_us": us_from_ps(res.image_calibrated_ps),
                             "software_calibrated_dispatch_share":
                                 res.software_dispatch_ps / res.software_calibrated_ps,
                             "speedup_calibrated": res.speedup_calibrated})
    cpu, proc = spec.cpu, board.processor
    return {"board": board.id, "kernel": design.name, "precision": design.precision.describe(),
            "clock_mhz": design.clock_mhz, "engine_macs": design.macs,
            "cpu": {"core": proc.core, "cores": proc.cores, "clock_mhz": proc.clock_mhz, "simd_bits": proc.simd_bits,
                    "threads": cpu.threads or proc.cores, "element_bits": cpu.element_bits,
                    "simd_issue_fraction": cpu.simd_issue_fraction, "efficiency": cpu.efficiency,
                    "source": cpu.source},
            "calibrated_cpu": calibration, "rows": rows}


def _calibrated(spec: CalibratedCpu | None) -> tuple[ComputeSpec | None, dict[str, Any] | None]:
    """The calibrated software model's device, and what calibrated it (the fit and its measurements)."""
    if spec is None:
        return None, None
    devices = load_compute_devices()
    source_id = spec.efficiency_from or spec.device
    device = calibrated_spec(devices[spec.device], devices[spec.efficiency_from] if spec.efficiency_from else None)
    fits = {name: fit for name, fit in load_device_fits().items() if source_id in fit.apply_to}
    return device, {
        "device": spec.device, "efficiency_from": source_id,
        "efficiency": {str(op): device.efficiency.of(op) for op in OpClass},
        "dispatch_overhead_us": device.dispatch_overhead_us,
        "fits": {name: {"measured_on": fit.device,
                        "measurements_ms": {m.network: m.latency_ms for m in fit.measurements}}
                 for name, fit in sorted(fits.items())}}


@dataclass(frozen=True, slots=True, kw_only=True)
class OdePlan:
    """A planned ODE study: the tables computed without simulating, and the timed variants."""

    loaded: LoadedOdeStudy
    parameters: dict[str, Any]
    fit: dict[str, Any]
    timed: tuple[TimedVariant, ...]

    @property
    def name(self) -> str:
        """The study file's stem (the default output directory)."""
        return self.loaded.path.stem


def plan_ode_study(loaded: LoadedOdeStudy) -> OdePlan:
    """Every check before simulating: each variant's network, the fit table, the accuracy network
    and the state placement of each timed variant.

    Raises:
        BadArgument: bad values (unknown timing variant, untileable channels, …). DoesNotFit: a timed
            variant does not fit the board.
    """
    study, board, design = loaded.study, loaded.board, loaded.design
    params = param_table(study)
    fit = fit_table(study, board, design)
    if study.accuracy is not None:
        odenet(_accuracy_spec(study))
    return OdePlan(loaded=loaded, parameters=params, fit=fit, timed=plan_timing(study, board, design))


def write_ode_study(plan: OdePlan, out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """Run the accuracy and timing studies and write ``report.md``, ``results.json``, ``accuracy.png``.

    Returns:
        ``(the results document (also written as results.json), the paths written)``; the files
        appear together or not at all.
    """
    study, board, design = plan.loaded.study, plan.loaded.board, plan.loaded.design
    accuracy = accuracy_table(study)
    timing = timing_table(study, board, design, plan.timed)
    results = {"schema_version": RESULTS_SCHEMA_VERSION, "kind": "ode_study", "name": study.name,
               "parameters": plan.parameters, "fit": plan.fit, "accuracy": accuracy, "timing": timing,
               "paper": {"reduction_percent": list(study.paper.reduction_percent),
                         "speedups": dict(sorted(study.paper.speedups.items())), "source": study.paper.source}}
    out = OutputSet(Path(out_dir))
    out.add_text("report.md", render_report(study, results))
    out.add_json("results.json", results)
    if accuracy is not None:
        out.add_writer("accuracy.png", accuracy_plot_writer(accuracy))
    return results, out.commit()


def run_ode_study(path: Path, out_dir: Path) -> dict:
    """Load, plan and run the ODE study at ``path`` into ``out_dir`` (see :func:`write_ode_study`).

    Returns:
        The results document (also written as ``results.json``).

    Raises:
        ConfigError: invalid study, board or kernel file. BadArgument: bad values (unknown solver,
            untileable channels, …). DoesNotFit: a timed variant does not fit the board.
    """
    return write_ode_study(plan_ode_study(load_study(Path(path))), out_dir)[0]
