"""One experiment run: load → plan → emulate → report, as named steps.

Owns: :class:`RunResult` (the per-layer and total numbers of one run, with the analytical
model's prediction beside the emulator's), its ``results.json`` document (schema in the
README), and :func:`run_setup` / :func:`run_loaded` / :func:`run_experiment`, which the CLI, the comparison study
and the sweeps call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpgasim.hw import load_dsp_types
from fpgasim.kernels import evaluate_fit
from fpgasim.sim import ms_from_cycles
from fpgasim.study.experiment.emulate import Emulation, LayerEmulation, emulate
from fpgasim.study.experiment.experiment import LoadedExperiment, Mode, load_experiment
from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION
from fpgasim.mapping.layer_plan import LayerKind, LayerSetup
from fpgasim.study.experiment.setup import RunSetup, build_setup

__all__ = ["LayerResult", "RunResult", "run_loaded", "run_setup", "run_experiment"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerResult:
    """One layer: the plan, the emulator's measurement and the model's prediction."""

    plan: LayerSetup
    emulated: LayerEmulation
    clock_mhz: float
    macs_per_cycle_peak: int

    @property
    def time_ms(self) -> float:
        """Emulated latency in ms."""
        return ms_from_cycles(self.emulated.cycles, self.clock_mhz)

    @property
    def gops(self) -> float:
        """Achieved GOP/s (2 operations per MAC)."""
        return 2 * self.emulated.macs / (self.time_ms * 1e6) if self.time_ms else 0.0

    @property
    def dsp_array_utilisation(self) -> float | None:
        """MACs done ÷ (cycles × the layer's Tm·Tn MAC units on every board); None for pooling,
        which runs on the pool unit, not the MAC array."""
        if not self.macs_per_cycle_peak:
            return None
        return self.emulated.macs / max(self.emulated.cycles * self.macs_per_cycle_peak, 1)

    @property
    def analytical_diff_pct(self) -> float:
        """(emulated − analytical) ÷ analytical, in percent."""
        model = self.plan.analytical.cycles
        return 100.0 * (self.emulated.cycles - model) / model  # the model has no redistribution

    def to_dict(self) -> dict[str, Any]:
        """The layer's entry in ``results.json``."""
        t, p, e = self.plan.tiling, self.plan.partition, self.emulated
        return {
            "name": e.name,
            "tiling": {"tm": t.tm, "tn": t.tn, "tr": t.tr, "tc": t.tc},
            "partition": {"pb": p.pb, "pr": p.pr, "pc": p.pc, "pm": p.pm},
            "cycles": e.cycles,
            "time_ms": self.time_ms,
            "macs": e.macs,
            "gops": self.gops,
            "dsp_array_utilisation": self.dsp_array_utilisation,
            "ddr_read_bytes": e.ddr_read_bytes,
            "ddr_write_bytes": e.ddr_write_bytes,
            "link_bytes": e.link_bytes,
            "redistribution_cycles": e.redistribution_cycles,
            "redistribution_bytes": e.redistribution_bytes,
            "bottleneck": e.bottleneck,
            "busy": {name: round(value, 6) for name, value in sorted(e.busy.items())},
            "analytical_cycles": self.plan.analytical.cycles,
            "analytical_bottleneck": str(self.plan.analytical.bottleneck),
            "analytical_diff_pct": self.analytical_diff_pct,
            "released_model_cycles": self.plan.released.cycles,
            "bit_exact": e.bit_exact,
            "max_abs_error": e.max_abs_error,
            "output_overflows": e.overflows,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """A whole run."""

    setup: RunSetup
    mode: Mode
    layers: tuple[LayerResult, ...]
    emulation: Emulation
    dsp: int
    bram18: int

    @property
    def redistribution_cycles(self) -> int:
        """Cycles spent moving outputs between boards between layers."""
        return sum(layer.emulated.redistribution_cycles for layer in self.layers)

    @property
    def cycles(self) -> int:
        """Emulated cycles of the network: layers one after another, plus redistribution."""
        return sum(layer.emulated.cycles for layer in self.layers) + self.redistribution_cycles

    @property
    def time_ms(self) -> float:
        """Emulated latency of the network in ms."""
        return ms_from_cycles(self.cycles, self.setup.clock_mhz)

    @property
    def analytical_cycles(self) -> float:
        """The complete analytical model's total (with the redistribution a link-aware plan predicts)."""
        return sum(layer.plan.analytical.cycles + layer.plan.redistribution_cycles for layer in self.layers)

    @property
    def released_cycles(self) -> float:
        """The authors' released model's total for the same plan."""
        return sum(layer.plan.released.cycles for layer in self.layers)

    @property
    def bit_exact(self) -> bool | None:
        """Functional mode: every layer bit exact (None in timing mode)."""
        flags = [layer.emulated.bit_exact for layer in self.layers]
        return None if any(flag is None for flag in flags) else all(flags)

    def summary(self) -> dict[str, Any]:
        """Objectives of the run (what sweeps and comparisons read)."""
        macs = sum(layer.emulated.macs for layer in self.layers)
        ms = self.time_ms
        return {
            "latency_ms": ms,
            "analytical_latency_ms": ms_from_cycles(self.analytical_cycles, self.setup.clock_mhz),
            "released_model_latency_ms": ms_from_cycles(self.released_cycles, self.setup.clock_mhz),
            "throughput_gops": 2 * macs / (ms * 1e6) if ms else 0.0,
            "cycles": self.cycles,
            "dsp": self.dsp,
            "bram18": self.bram18,
            "ddr_read_bytes": sum(layer.emulated.ddr_read_bytes for layer in self.layers),
            "ddr_write_bytes": sum(layer.emulated.ddr_write_bytes for layer in self.layers),
            "link_bytes": sum(layer.emulated.link_bytes + layer.emulated.redistribution_bytes for layer in self.layers),
            "redistribution_cycles": self.redistribution_cycles,
            "boards": self.setup.boards,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` document."""
        spec = self.setup.experiment.spec
        return {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "experiment": {
                "name": spec.name, "mode": str(self.mode), "board": self.setup.board.id,
                "boards": self.setup.boards, "kernel": self.setup.design.name,
                "network": self.setup.network.name, "batch": self.setup.network.batch,
                "clock_mhz": self.setup.clock_mhz, "tiling_policy": str(spec.tiling.policy),
                "link": spec.cluster.link if self.setup.boards > 1 else None,
            },
            "totals": {**self.summary(), "bit_exact": self.bit_exact,
                       "analytical_diff_pct": 100.0 * (self.cycles - self.analytical_cycles) / self.analytical_cycles},
            "layers": [layer.to_dict() for layer in self.layers],
            "skipped_layers": list(self.setup.skipped),
        }


def run_loaded(loaded: LoadedExperiment, *, mode: Mode | None = None, trace: bool = False,
               progress: Callable[[str], None] | None = None) -> RunResult:
    """Plan and emulate an experiment that is already loaded (see :func:`run_setup`).

    Raises:
        ConfigError, DoesNotFit, BadArgument: bad input, before any simulation.
    """
    return run_setup(build_setup(loaded), mode=mode, trace=trace, progress=progress)


def run_setup(setup: RunSetup, *, mode: Mode | None = None, trace: bool = False,
              progress: Callable[[str], None] | None = None) -> RunResult:
    """Emulate a planned experiment.

    Args:
        setup: the plan (:func:`~fpgasim.study.experiment.setup.build_setup`).
        mode: overrides the experiment's ``mode``.
        trace: record the timeline (needed for ``trace.json`` and ``timeline.png``).
        progress: called with each layer name as it starts.
    """
    mode = mode or setup.experiment.spec.mode
    emulation = emulate(setup, functional=mode is Mode.FUNCTIONAL, trace=trace, progress=progress)
    layers = tuple(LayerResult(plan=plan, emulated=emulated, clock_mhz=setup.clock_mhz,
                               macs_per_cycle_peak=0 if plan.kind is LayerKind.POOL
                               else plan.tiling.tm * plan.tiling.tn * setup.boards)
                   for plan, emulated in zip(setup.layers, emulation.layers, strict=True))
    fit = evaluate_fit(setup.board, setup.design, dsp_types=load_dsp_types())
    used = {str(row.resource): row.used for row in fit.rows}
    return RunResult(setup=setup, mode=mode, layers=layers, emulation=emulation,
                     dsp=int(used.get("DSP", 0)), bram18=int(used.get("BRAM18", 0)))


def run_experiment(path: str | Path, *, mode: Mode | None = None, trace: bool = False) -> RunResult:
    """Load and run the experiment at ``path`` (see :func:`run_loaded`)."""
    return run_loaded(load_experiment(path), mode=mode, trace=trace)
