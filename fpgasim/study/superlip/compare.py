"""The Super-LIP comparison: baselines (a), (b) and scale-out points (c), side by side.

Owns: deriving each configuration from the experiment (same board, kernel, memory and link;
tiling policy, board count and topology varied), running them on the emulator, the speedups
over (a) and (b) with the super-linear mark, and the comparison's report, ``results.json``
keys and speedup plot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpgasim.errors import BadArgument
from fpgasim.mapping.layer_plan import Planner
from fpgasim.study.experiment.experiment import (
    LoadedExperiment, Mode, NetworkRef, PartitionPolicy, PartitionSpec, TilingPolicy, TilingSpec,
)
from fpgasim.study.common.interrupts import WorkerPool
from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION, OutputSet
from fpgasim.study.common.plots import save_speedup_plot
from fpgasim.study.experiment.report import layer_rows, markdown_table, COLUMNS
from fpgasim.study.experiment.runner import RunResult, run_setup
from fpgasim.study.experiment.setup import RunSetup, build_setup

__all__ = ["ConfigResult", "Comparison", "ComparisonPlan", "plan_comparison", "run_comparison", "write_comparison"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigResult:
    """One configuration of one network."""

    label: str
    boards: int
    planner: Planner
    run: RunResult
    speedup_vs_a: float
    speedup_vs_b: float

    @property
    def super_linear(self) -> bool:
        """More than ``boards``× faster than baseline (a)."""
        return self.boards > 1 and self.speedup_vs_a > self.boards

    def to_dict(self) -> dict[str, Any]:
        """This configuration's entry in ``results.json``."""
        summary = self.run.summary()
        return {"label": self.label, "boards": self.boards, "planner": str(self.planner),
                "latency_ms": summary["latency_ms"],
                "analytical_latency_ms": summary["analytical_latency_ms"],
                "released_model_latency_ms": summary["released_model_latency_ms"],
                "speedup_vs_a": self.speedup_vs_a, "speedup_vs_b": self.speedup_vs_b,
                "super_linear": self.super_linear,
                "link_bytes": summary["link_bytes"], "ddr_read_bytes": summary["ddr_read_bytes"]}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """Every network's configurations, in order (a), (b), (c)..."""

    experiment: LoadedExperiment
    networks: dict[str, list[ConfigResult]]


def _variant(loaded: LoadedExperiment, network: NetworkRef, *, policy: TilingPolicy, boards: int,
             topology: str | None, planner: Planner) -> LoadedExperiment:
    spec = loaded.spec
    if topology is None:
        cluster = dataclasses.replace(spec.cluster, boards=boards)
    else:
        cluster = dataclasses.replace(spec.cluster, boards=boards, topology=topology)
    new = dataclasses.replace(spec, network=network, tiling=TilingSpec(policy=policy), cluster=cluster,
                              partition=PartitionSpec(policy=PartitionPolicy.SEARCH, planner=planner), comparison=None)
    return dataclasses.replace(loaded, spec=new)


def _plan(spec_network: NetworkRef, scale_out) -> list[tuple[str, TilingPolicy, int, str | None, Planner]]:
    plan = [("(a) 1 board, kernel tiling", TilingPolicy.KERNEL, 1, None, Planner.LINK_AWARE),
            ("(b) 1 board, best tiling per layer", TilingPolicy.SEARCH, 1, None, Planner.LINK_AWARE)]
    plan += [(f"(c) {p.boards} boards, {p.topology}" + (", blind planner" if p.planner is Planner.BLIND else ""),
              TilingPolicy.SEARCH, p.boards, str(p.topology), p.planner) for p in scale_out]
    return plan


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonPlan:
    """Every configuration of a comparison, planned and in order: (network, label, boards, planner, setup)."""

    experiment: LoadedExperiment
    configurations: tuple[tuple[str, str, int, Planner, RunSetup], ...]

    @property
    def name(self) -> str:
        """The experiment's name (the default output directory)."""
        return self.experiment.spec.name


def plan_comparison(loaded: LoadedExperiment) -> ComparisonPlan:
    """Plan (a), (b) and every scale-out point for each network (nothing is emulated).

    Raises:
        BadArgument: the experiment has no ``comparison`` section. ConfigError, DoesNotFit,
            BadArgument: a configuration cannot be planned (as :func:`build_setup`).
    """
    spec = loaded.spec
    if spec.comparison is None:
        raise BadArgument(f"{loaded.path}: plan_comparison needs an experiment.comparison section")
    configurations = []
    for ref in (spec.network, *spec.comparison.networks):
        name = ref.zoo + (f"/{ref.shapes}" if ref.shapes else "")
        for label, policy, boards, topology, planner in _plan(ref, spec.comparison.scale_out):
            setup = build_setup(_variant(loaded, ref, policy=policy, boards=boards, topology=topology,
                                         planner=planner))
            configurations.append((name, label, boards, planner, setup))
    return ComparisonPlan(experiment=loaded, configurations=tuple(configurations))


def _run_one(setup: RunSetup) -> RunResult:
    return run_setup(setup, mode=Mode.TIMING)


def run_comparison(plan: ComparisonPlan, *, workers: int = 1,
                   progress: Callable[[str], None] | None = None) -> Comparison:
    """Emulate every configuration of the plan in timing mode.

    Args:
        plan: :func:`plan_comparison` of an experiment with a ``comparison`` section.
        workers: processes running configurations at once (results do not depend on it).
        progress: called with a label as each configuration finishes.

    Raises:
        BadArgument: ``workers`` < 1.
    """
    if workers < 1:
        raise BadArgument(f"--workers={workers}: expected >= 1")
    labels = [(name, label, boards, planner) for name, label, boards, planner, _ in plan.configurations]
    setups = [setup for *_, setup in plan.configurations]
    if workers > 1:
        with WorkerPool(workers) as pool:
            futures = [pool.submit(_run_one, setup) for setup in setups]
            runs = []
            for future, (name, label, *_) in zip(futures, labels, strict=True):
                runs.append(future.result())
                if progress is not None:
                    progress(f"{name}: {label}")
    else:
        runs = []
        for setup, (name, label, *_) in zip(setups, labels, strict=True):
            runs.append(_run_one(setup))
            if progress is not None:
                progress(f"{name}: {label}")
    networks: dict[str, list[ConfigResult]] = {}
    for run, (name, label, boards, planner) in zip(runs, labels, strict=True):
        results = networks.setdefault(name, [])
        base_a = results[0].run.time_ms if results else run.time_ms
        base_b = results[1].run.time_ms if len(results) > 1 else run.time_ms
        results.append(ConfigResult(label=label, boards=boards, planner=planner, run=run,
                                    speedup_vs_a=base_a / run.time_ms, speedup_vs_b=base_b / run.time_ms))
    return Comparison(experiment=plan.experiment, networks=networks)


#: Model-vs-emulator gaps beyond this fraction get a line naming the layer and resource behind them.
GAP_NOTED = 0.05


def _gap(result: ConfigResult) -> float:
    return result.run.summary()["analytical_latency_ms"] / result.run.time_ms - 1


def _gap_note(result: ConfigResult) -> str:
    """Which layer differs most between model and emulator, and the emulator's busiest resource there."""
    def off(layer) -> float:
        return abs(layer.plan.analytical.cycles + layer.plan.redistribution_cycles - layer.emulated.cycles
                   - layer.emulated.redistribution_cycles)
    worst = max(result.run.layers, key=off)
    model = worst.plan.analytical.cycles + worst.plan.redistribution_cycles
    emulated = worst.emulated.cycles + worst.emulated.redistribution_cycles
    return (f"- {result.label}: model {100 * _gap(result):+.1f} %; most of it in {worst.plan.layer.name} "
            f"(model {model:,.0f} vs emulated {emulated:,.0f} cycles, of which redistribution before it "
            f"{worst.plan.redistribution_cycles:,.0f} vs {worst.emulated.redistribution_cycles:,}; partition "
            f"{worst.plan.partition}; the emulator's busiest resource while it ran: {worst.emulated.bottleneck})")


def _markdown(comparison: Comparison) -> str:
    spec = comparison.experiment.spec
    paper = spec.comparison.paper
    lines = [f"# {spec.name}\n", f"{spec.description or ''}\n"]
    headers = ["configuration", "latency ms (emulated)", "analytical ms", "model vs emulator",
               "released-model ms", "speedup vs (a)", "speedup vs (b)", "super-linear?"]
    for network, results in comparison.networks.items():
        # (a) comes before (b): no speedup of (a) vs (b) applies ("–"; results.json keeps 1.0)
        rows = [[r.label, f"{r.run.time_ms:.3f}", f"{r.run.summary()['analytical_latency_ms']:.3f}",
                 f"{100 * (r.run.summary()['analytical_latency_ms'] / r.run.time_ms - 1):+.1f} %",
                 f"{r.run.summary()['released_model_latency_ms']:.3f}", f"{r.speedup_vs_a:.2f}x",
                 "–" if index == 0 else f"{r.speedup_vs_b:.2f}x",
                 ("yes" if r.super_linear else "no") if r.boards > 1 else ""]
                for index, r in enumerate(results)]
        lines += [f"## {network}\n", markdown_table(headers, rows),
                  "Analytical: the plan's model latency (link-aware rows: XFER on the real routes and the "
                  "redistribution between layers; blind rows: the earlier model without them).\n"]
        lines += [_gap_note(r) for r in results if abs(_gap(r)) > GAP_NOTED] + [""]
        for result in results[:1] + [r for r in results if r.boards == 2][:1]:
            lines += [f"### {network}: {result.label}, per layer\n",
                      markdown_table([h for h, _, _ in COLUMNS], layer_rows(result.run))]
    if paper is not None:
        first = next(iter(comparison.networks.values()))
        ours = [r for r in first if r.boards == paper.boards and r.planner is Planner.LINK_AWARE]
        if ours:
            lines.append(f"**Published:** {paper.speedup:g}x with {paper.boards} boards ({paper.source}). "
                         f"**fpgasim:** {ours[0].speedup_vs_a:.2f}x over (a), {ours[0].speedup_vs_b:.2f}x over (b).\n")
    return "\n".join(lines)


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """``results.json``, ``report.md``, ``speedup.png`` — atomically."""
    spec = comparison.experiment.spec
    paper = spec.comparison.paper
    document: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "experiment": {"name": spec.name, "board": spec.board, "kernel": spec.kernel, "link": spec.cluster.link},
        "comparison": {network: [r.to_dict() for r in results] for network, results in comparison.networks.items()},
        "paper": None if paper is None else {"boards": paper.boards, "speedup": paper.speedup, "source": paper.source},
    }
    first = next(iter(comparison.networks.values()))
    if paper is not None:
        match = [r for r in first if r.boards == paper.boards and r.planner is Planner.LINK_AWARE]
        if match:
            document["headline"] = {"boards": paper.boards, "speedup_vs_a": match[0].speedup_vs_a,
                                    "speedup_vs_b": match[0].speedup_vs_b, "paper_speedup": paper.speedup,
                                    "super_linear": match[0].super_linear}
    curves = {}
    for network, results in comparison.networks.items():
        for planner in Planner:
            points = [(r.boards, r.speedup_vs_a) for r in results if r.boards > 1 and r.planner is planner]
            if points:
                name = network if planner is Planner.LINK_AWARE else f"{network} ({planner} planner)"
                curves[name] = [(1, 1.0)] + points
    out = OutputSet(out_dir)
    out.add_json("results.json", document)
    out.add_text("report.md", _markdown(comparison))
    out.add_writer("speedup.png", lambda path: save_speedup_plot(
        path, curves=curves, title=f"{spec.name}: speedup over (a)",
        paper=None if paper is None else (paper.boards, paper.speedup, f"paper ({paper.speedup:g}x)")))
    return out.commit()

