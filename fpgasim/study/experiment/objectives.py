"""Evaluating one sweep point: the analytical model (every point) or the emulator (re-checks).

Owns: :class:`PointTask` (what a worker receives: plain data, picklable, no open files),
:class:`PointResult`, :func:`evaluate_point` (the default evaluator run in workers) and the
analytical objectives of a :class:`~fpgasim.study.experiment.setup.RunSetup`. A point that does not fit
or has bad input is a *result* (status ``does_not_fit`` / ``error``), never a crash of the sweep.

Analytical byte counts (whole cluster): per board, every outer tile loads ⌈N/Tn⌉ IFM and
weight tiles and stores one OFM tile; with XFER sharing the received share comes over the
link instead of DDR (the same terms as :func:`fpgasim.mapping.latency_arrays`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.errors import DoesNotFit, FpgasimError
from fpgasim.hw import load_dsp_types
from fpgasim.kernels.fit import Resource, evaluate_fit
from fpgasim.study.experiment.experiment import Mode, experiment_from_data
from fpgasim.study.experiment.setup import RunSetup, build_setup

__all__ = ["Fidelity", "Status", "PointTask", "PointResult", "evaluate_point", "analytical_objectives"]


class Fidelity(StrEnum):
    """Which model produced a result."""

    ANALYTICAL = "analytical"
    EMULATED = "emulated"


class Status(StrEnum):
    """Outcome of one point."""

    OK = "ok"
    DOES_NOT_FIT = "does_not_fit"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointTask:
    """One evaluation to run (plain data, so it pickles to any worker).

    Attributes:
        index, key: the point's index and content key. fidelity: which model.
        experiment_data: the experiment document of this point (kernel path absolute if a variant).
        base_dir: directory for relative paths in the experiment. file: name used in messages.
    """

    index: int
    key: str
    fidelity: Fidelity
    experiment_data: dict[str, Any]
    base_dir: str
    file: str
    #: ``experiment`` or ``ode_study`` (then ``experiment_data`` is the study document).
    kind: str = "experiment"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointResult:
    """The outcome of one :class:`PointTask`.

    Attributes:
        objectives: objective name → value (see :class:`~fpgasim.study.sweep.spec.Objective`).
        layers: per conv layer ``{name, latency_ms, tiling, partition}`` (analytical only).
        message: why a point failed ('' when ok). seconds: wall time of the evaluation (store only).
    """

    index: int
    key: str
    fidelity: Fidelity
    status: Status
    objectives: dict[str, float] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


def _resources(setup: RunSetup) -> dict[str, float]:
    fit = evaluate_fit(setup.board, setup.design, dsp_types=load_dsp_types())
    return {"dsp": float(fit.row(Resource.DSP).used), "bram18": float(fit.row(Resource.BRAM18).used),
            "uram": float(fit.row(Resource.URAM).used)}


def analytical_objectives(setup: RunSetup) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Objectives of a planned run by the complete analytical model, and per-layer rows.

    Returns:
        ``(objectives, layers)``; latency is the sum of the layer latencies (layers run one
        after another), bytes are whole-cluster totals, resources are per board.
    """
    clock_mhz, nbytes, boards = setup.clock_mhz, setup.element_bytes, setup.boards
    rates = setup.rates
    cycles = ddr_read = ddr_write = link = macs = 0.0
    layers = []
    for layer in setup.layers:
        lat = layer.analytical
        loads = lat.tiles * lat.steps
        ddr_read += loads * (lat.t_i_cycles * rates.ifm + lat.t_w_cycles * rates.weights)
        ddr_write += lat.tiles * lat.t_o_cycles * rates.ofm
        if rates.link is not None:
            link += loads * (lat.t_link_w_cycles + lat.t_link_i_cycles) * rates.link
        cycles += lat.cycles
        macs += layer.shape.macs
        t = layer.tiling
        layers.append({"name": layer.layer.name, "latency_ms": lat.time_ms(clock_mhz),
                       "tiling": f"Tm={t.tm},Tn={t.tn},Tr={t.tr},Tc={t.tc}", "partition": str(layer.partition),
                       "bottleneck": lat.bottleneck.value})
    latency_ms = cycles / (clock_mhz * 1e3)
    objectives = {"latency_ms": latency_ms, "throughput_gops": 2 * macs / (latency_ms * 1e-3) / 1e9,
                  "boards": float(boards), "ddr_read_bytes": ddr_read * nbytes * boards,
                  "ddr_write_bytes": ddr_write * nbytes * boards, "link_bytes": link * nbytes * boards}
    objectives["ddr_bytes"] = objectives["ddr_read_bytes"] + objectives["ddr_write_bytes"]
    objectives.update(_resources(setup))
    objectives["dsp_total"] = objectives["dsp"] * boards
    return objectives, layers


def _emulated(task: PointTask, loaded) -> dict[str, float]:
    from fpgasim.study.experiment import runner  # the emulator (imported lazily: heavy, and optional for analytics)

    summary = runner.run_loaded(loaded, mode=Mode.TIMING).summary()
    objectives = {name: float(value) for name, value in summary.items()
                  if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if "ddr_read_bytes" in objectives and "ddr_write_bytes" in objectives:
        objectives["ddr_bytes"] = objectives["ddr_read_bytes"] + objectives["ddr_write_bytes"]
    if "dsp" in objectives and "boards" in objectives:
        objectives["dsp_total"] = objectives["dsp"] * objectives["boards"]
    return objectives


def evaluate_point(task: PointTask) -> PointResult:
    """Evaluate one point with the model its fidelity names (the default sweep evaluator).

    Returns:
        A :class:`PointResult`; failures are reported in it (status and message), not raised.
    """
    start = time.perf_counter()
    common = {"index": task.index, "key": task.key, "fidelity": task.fidelity}
    try:
        if task.kind == "ode_study":  # the study's own model: fit + SimPy timing (both fidelities)
            from fpgasim.study.dsodenet._sweep import ode_objectives

            objectives, layers = ode_objectives(task.experiment_data)
            return PointResult(**common, status=Status.OK, objectives=objectives, layers=layers,
                               seconds=time.perf_counter() - start)
        loaded = experiment_from_data(task.experiment_data, file=task.file, base_dir=Path(task.base_dir))
        if task.fidelity is Fidelity.ANALYTICAL:
            objectives, layers = analytical_objectives(build_setup(loaded))
        else:
            objectives, layers = _emulated(task, loaded), []
    except DoesNotFit as exc:
        return PointResult(**common, status=Status.DOES_NOT_FIT, message=str(exc),
                           seconds=time.perf_counter() - start)
    except FpgasimError as exc:
        return PointResult(**common, status=Status.ERROR, message=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a bug in one point is recorded, the sweep goes on
        return PointResult(**common, status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                           seconds=time.perf_counter() - start)
    return PointResult(**common, status=Status.OK, objectives=objectives, layers=layers,
                       seconds=time.perf_counter() - start)
