"""Software efficiencies of a compute device, fitted to published whole-network latencies.

Owns: the fit document (``boards/device_fits.yaml``: ``schema: 1``, ``device_fits:``, ``sources:``;
each fit names a device of ``boards/compute.yaml``, the op classes it fits, the measured
latencies with their sources, and the devices its result applies to), and :func:`fit_device`.

The model is the executor's: a network run node after node on one device takes
``Σ_nodes max(work / (peak × efficiency[class]), bytes / bandwidth) + dispatch`` (see
:mod:`fpgasim.mapping.software`). With every fitted class compute bound, a network's latency is
linear in ``x_c = 1 / efficiency_c`` and the per-node dispatch ``d``::

    t = Σ_c A_c · x_c + N · d + R      (A_c: class-c work at peak, s; N: timed nodes; R: the rest)

so ``x_c − 1 ≥ 0`` and ``d ≥ 0`` are found by non-negative least squares on the relative errors
(every measurement weighs the same, whatever its size). A class no measured network has stays
at the peak bound (``unidentified``). The residuals are then recomputed with the exact roofline,
and each network is predicted by a fit to the others (leave one out).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fpgasim.config import PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.hw._cited import load_cited
from fpgasim.hw.compute import ComputeSpec, OpClass, load_compute_devices
from fpgasim.hw.library import boards_dir
from fpgasim.mapping.software import graph_software_s, node_work, takes_time
from fpgasim.nn.graph import Graph
from fpgasim.nn.zoo import zoo_graph

__all__ = ["FITS_FILE", "Measurement", "DeviceFitSpec", "DeviceFitsDocument", "FitResult", "load_device_fits",
           "fit_device", "stored_value"]

#: The fit document's file name in the boards directory.
FITS_FILE = "device_fits.yaml"
#: Significant digits of a fitted number as ``boards/compute.yaml`` stores it.
STORED_DIGITS = 4


@config_class
class Measurement:
    """One published latency of a whole network on one device."""

    #: zoo network id (``fpgasim network --list``).
    network: Str
    #: build the zoo network with its BatchNorm layers as separate nodes (a framework that runs them).
    batch_norm: bool = False
    latency_ms: PosFloat


@config_class
class DeviceFitSpec:
    """What one fit fits, to what, and where its result goes."""

    #: the device whose peak and bandwidth the measurements ran on (``boards/compute.yaml``).
    device: Str
    #: bits per value in the measured software (32: fp32).
    element_bits: PosInt
    #: op classes whose efficiency is fitted (the others keep their stored value).
    fitted: tuple[OpClass, ...]
    measurements: tuple[Measurement, ...]
    #: devices of the same core that take the fitted efficiencies and dispatch overhead.
    apply_to: tuple[Str, ...]


@config_class
class DeviceFitsDocument:
    device_fits: dict[Str, DeviceFitSpec]
    sources: dict[Str, Str]


def _checks(document: DeviceFitsDocument, doc: YamlDocument) -> Iterable[Problem]:
    devices = load_compute_devices()
    for name, fit in document.device_fits.items():
        for key, ids in (("device", (fit.device,)), ("apply_to", fit.apply_to)):
            for position, device in enumerate(ids):
                if device not in devices:
                    path = ("device_fits", name, key) + (() if key == "device" else (position,))
                    yield doc.problem(path, f"unknown compute device {device!r}; known: {', '.join(sorted(devices))}")
        seen: set[str] = set()
        for position, measurement in enumerate(fit.measurements):
            if measurement.network in seen:
                yield doc.problem(("device_fits", name, "measurements", position, "network"),
                                  f"network {measurement.network!r} is measured twice; expected each once")
            seen.add(measurement.network)
        if len(fit.measurements) < 2:
            yield doc.problem(("device_fits", name, "measurements"),
                              "a fit needs at least 2 measurements (one is held out)")


def load_device_fits(path: str | Path | None = None) -> dict[str, DeviceFitSpec]:
    """Load the fit document (default :data:`FITS_FILE` in the boards directory).

    Raises:
        ConfigError: every problem (types, uncited latencies, unknown device ids), with places.
    """
    document, _ = load_cited(boards_dir() / FITS_FILE if path is None else path, DeviceFitsDocument,
                             sources_at=("sources",), checks=(_checks,))
    return dict(document.device_fits)


def stored_value(value: float) -> float:
    """``value`` rounded as ``boards/compute.yaml`` stores a fitted number."""
    return float(f"{value:.{STORED_DIGITS}g}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FitResult:
    """A fitted device and how well it predicts.

    Attributes:
        name: the fit's id.
        efficiency: fitted efficiency per fitted class (rounded as stored).
        dispatch_overhead_us: fitted per-node overhead, µs (rounded as stored).
        unidentified: fitted classes no measured network has (left at the peak bound).
        spec: the device with the stored (rounded) numbers.
        measured_ms, predicted_ms: per network, the measurement and the exact-roofline prediction.
        held_out_ms: per network, its prediction by the fit to the other networks.
        held_out_unidentified: per network, the classes the fit without it could not identify.
    """

    name: str
    efficiency: dict[str, float]
    dispatch_overhead_us: float
    unidentified: tuple[str, ...]
    spec: ComputeSpec
    measured_ms: dict[str, float]
    predicted_ms: dict[str, float]
    held_out_ms: dict[str, float]
    held_out_unidentified: dict[str, tuple[str, ...]]

    def residual(self, network: str) -> float:
        """Relative error of the fitted model on ``network`` (prediction / measurement − 1)."""
        return self.predicted_ms[network] / self.measured_ms[network] - 1

    def held_out_error(self, network: str) -> float:
        """Relative error of ``network``'s held-out prediction."""
        return self.held_out_ms[network] / self.measured_ms[network] - 1


def _graph(measurement: Measurement) -> Graph:
    return zoo_graph(measurement.network, **({"batch_norm": True} if measurement.batch_norm else {}))


def _row(graph: Graph, base: ComputeSpec, fitted: tuple[OpClass, ...], element_bits: int) -> np.ndarray:
    """``[A_c for c in fitted] + [N, R]`` of one network (module docstring), seconds / count."""
    peak = base.peak_macs_per_s(element_bits)
    nbytes = -(-element_bits // 8)
    work_s = dict.fromkeys(fitted, 0.0)
    nodes, rest_s = 0, 0.0
    for node in graph.nodes:
        if not takes_time(node):
            continue
        nodes += 1
        work = node_work(node, graph.batch, nbytes)
        if work.op_class in work_s:
            work_s[work.op_class] += (work.macs + work.elementwise_ops) / peak
        else:
            rest_s += base.node_time_s(op_class=work.op_class, macs=work.macs, elementwise_ops=work.elementwise_ops,
                                       bytes_moved=work.bytes_moved, element_bits=element_bits)
    return np.array([*work_s.values(), nodes, rest_s])


def _nnls(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Non-negative least squares by enumerating supports (exact for the few unknowns here)."""
    best, best_cost = np.zeros(matrix.shape[1]), float(target @ target)
    for size in range(1, matrix.shape[1] + 1):
        for support in itertools.combinations(range(matrix.shape[1]), size):
            sub = matrix[:, support]
            coef = np.linalg.lstsq(sub, target, rcond=None)[0]
            if np.all(coef >= 0):
                cost = float(np.sum((sub @ coef - target) ** 2))
                if cost < best_cost - 1e-15:
                    best = np.zeros(matrix.shape[1])
                    best[list(support)] = coef
                    best_cost = cost
    return best


def _solve(rows: np.ndarray, measured_s: np.ndarray, fitted: tuple[OpClass, ...], base: ComputeSpec
           ) -> tuple[ComputeSpec, tuple[str, ...]]:
    """The device with the fitted efficiencies and dispatch (rounded as stored) from ``rows``."""
    classes = len(fitted)
    work, nodes, rest = rows[:, :classes], rows[:, classes], rows[:, classes + 1]
    # t = Σ A_c (1 + y_c) + N d + R  →  Σ A_c y_c + N d = t − R − Σ A_c, each row divided by t
    matrix = np.column_stack([work, nodes]) / measured_s[:, None]
    target = (measured_s - rest - work.sum(axis=1)) / measured_s
    identified = [c for c in range(classes) if np.any(work[:, c] > 0)]
    solution = _nnls(matrix[:, identified + [classes]], target)
    y = np.zeros(classes)
    y[identified] = solution[:-1]
    efficiency = {str(op): stored_value(1.0 / (1.0 + y[c])) for c, op in enumerate(fitted)}
    unidentified = tuple(str(fitted[c]) for c in range(classes) if c not in identified)
    spec = replace(base, efficiency=replace(base.efficiency, calibrated=True, **efficiency),
                   dispatch_overhead_us=stored_value(solution[-1] * 1e6))
    return spec, unidentified


def fit_device(name: str, fit: DeviceFitSpec, devices: dict[str, ComputeSpec] | None = None) -> FitResult:
    """Fit ``fit`` (module docstring) and predict every measured network, held in and held out.

    Args:
        name: the fit's id (reports).
        fit: the fit's specification.
        devices: the compute-device library (default: the shipped one).

    Raises:
        BadArgument: an unknown device or network, or a network the device cannot run.
    """
    devices = load_compute_devices() if devices is None else devices
    if fit.device not in devices:
        raise BadArgument(f"fit {name!r}: unknown compute device {fit.device!r}; known: {', '.join(sorted(devices))}")
    stored = devices[fit.device]
    base = replace(stored, dispatch_overhead_us=0.0,
                   efficiency=replace(stored.efficiency, **{str(op): 1.0 for op in fit.fitted}))
    graphs = {m.network: _graph(m) for m in fit.measurements}
    measured_s = np.array([m.latency_ms / 1e3 for m in fit.measurements])
    rows = np.array([_row(graphs[m.network], base, fit.fitted, fit.element_bits) for m in fit.measurements])
    spec, unidentified = _solve(rows, measured_s, fit.fitted, base)
    names = [m.network for m in fit.measurements]
    held_out, held_unidentified = {}, {}
    for k, network in enumerate(names):
        keep = [j for j in range(len(names)) if j != k]
        fold, fold_unidentified = _solve(rows[keep], measured_s[keep], fit.fitted, base)
        held_out[network] = graph_software_s(graphs[network], fold, fit.element_bits) * 1e3
        held_unidentified[network] = fold_unidentified
    return FitResult(name=name, efficiency={str(op): spec.efficiency.of(op) for op in fit.fitted},
                     dispatch_overhead_us=spec.dispatch_overhead_us, unidentified=unidentified, spec=spec,
                     measured_ms={m.network: m.latency_ms for m in fit.measurements},
                     predicted_ms={n: graph_software_s(graphs[n], spec, fit.element_bits) * 1e3 for n in names},
                     held_out_ms=held_out, held_out_unidentified=held_unidentified)
