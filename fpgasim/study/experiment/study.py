"""The experiment as a study: how ``run``, ``validate`` and ``sweep`` read, plan and run ``experiment:``.

Owns: :data:`EXPERIMENT_STUDY` and its plan. Planning is
:func:`~fpgasim.study.experiment.setup.build_setup`; an experiment with a ``comparison:`` section
plans and runs every configuration of the Super-LIP comparison (:mod:`fpgasim.study.superlip`)
instead of one run. Sweep keys ``experiment.…`` are checked against the experiment schema.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpgasim.errors import BadArgument, FpgasimError
from fpgasim.hw import load_dsp_types
from fpgasim.kernels.fit import evaluate_fit
from fpgasim.nn import GRAPH_NAMES
from fpgasim.study.common.documents import schema_key_problem
from fpgasim.study.experiment.experiment import ExperimentFile, LoadedExperiment, Mode, experiment_from_data, load_experiment
from fpgasim.study.experiment.graph_run import (
    GraphSetup, graph_objectives, plan_graph_experiment, run_graph_experiment, table_rows, write_graph_run,
)
from fpgasim.study.experiment.guards import (
    RunEstimate, check_clock, check_device_clocks, check_limits, estimate_graph, guard_setups,
)
from fpgasim.study.experiment.objectives import analytical_objectives, emulated_objectives
from fpgasim.study.experiment.report import COLUMNS, layer_rows, write_run
from fpgasim.study.experiment.runner import run_setup
from fpgasim.study.experiment.setup import RunSetup, build_setup
from fpgasim.study.protocol import Fidelity, Limits, Objectives, RunOptions, RunOutput, TerminalTable
from fpgasim.study.superlip.compare import ComparisonPlan, plan_comparison, run_comparison, write_comparison

__all__ = ["EXPERIMENT_STUDY", "ExperimentStudy", "ExperimentPlan", "TERMINAL_COLUMNS"]

#: Columns shown in the terminal (report.md and layers.csv have all of them).
TERMINAL_COLUMNS = ("layer", "Tm,Tn,Tr,Tc", "Pb,Pr,Pc,Pm", "cycles", "time ms", "GOP/s", "DSP-array util",
                    "bottleneck (emulator)", "emu vs model", "bottleneck (model)")

#: Free mappings of the schema a sweep may reach into: dotted key → the keys allowed under it.
_SWEEP_MAPPINGS = {"experiment.partition.factors": ("pb", "pr", "pc", "pm")}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExperimentPlan:
    """One planned run and its estimated cost."""

    setup: RunSetup
    estimate: RunEstimate

    @property
    def name(self) -> str:
        """The experiment's name (the default output directory)."""
        return self.setup.experiment.spec.name


def _wrote(paths: list[Path]) -> str:
    return "wrote " + ", ".join(str(p) for p in paths)


def _values_flags(options: RunOptions) -> str | None:
    """The value flags given (``--input``, ``--save-outputs``), for messages; None: neither."""
    flags = [flag for flag, given in (("--input", options.input_path is not None),
                                      ("--save-outputs", options.save_outputs)) if given]
    return " and ".join(flags) or None


def _run_graph(setup: GraphSetup, out: Path, mode: Mode | None, options: RunOptions) -> RunOutput:
    """A graph on a platform: execute, write, and show the per-node table."""
    flags = _values_flags(options)
    effective = mode or setup.experiment.spec.mode
    if flags and effective is not Mode.FUNCTIONAL:
        raise BadArgument(f"{flags}: values need functional mode, and this run is in {effective} mode (pass "
                          "--mode functional)")
    result = run_graph_experiment(setup, mode=mode, trace=options.trace, progress=options.progress,
                                  input_path=options.input_path)
    headers, rows = table_rows(result)
    devices = ", ".join(device.id for device in setup.plan.platform.devices)
    table = TerminalTable(title=f"{setup.name} ({result.mode}, {devices})", columns=tuple(headers),
                          rows=tuple(tuple(row) for row in rows))
    lines = []
    if result.emulation.bit_exact is not None:
        verdict = "bit exact" if result.emulation.bit_exact else "NOT bit exact"
        lines.append(f"functional check: every node {verdict} against fpgasim.ops run node by node")
    for match in (match for match in result.agreement if match.emulated):
        snr = "identical" if match.snr_db is None else f"SNR {match.snr_db:.1f} dB"
        lines.append(f"agreement of {match.output} with the float64 reference at {match.word_bits} bits: {snr}, top-1 "
                     f"{match.top1:.3f} (other widths in report.md)")
    paths = write_graph_run(result, out, max_trace_spans=options.limits.max_trace_spans,
                            save_outputs=options.save_outputs)
    return RunOutput(paths=tuple(paths), table=table, lines=(*lines, _wrote(paths)))


class ExperimentStudy:
    """``experiment:`` documents (see :class:`~fpgasim.study.protocol.Study`)."""

    kind = "experiment"
    modes = tuple(mode.value for mode in Mode)
    sweep_model = "analytical model"
    sweep_needs_kernel = True
    takes_input_values = True

    def load(self, path: Path) -> LoadedExperiment:
        """:func:`load_experiment`."""
        return load_experiment(path)

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedExperiment:
        """:func:`experiment_from_data`."""
        return experiment_from_data(data, file=file, base_dir=base_dir)

    def plan(self, loaded: LoadedExperiment, *, limits: Limits = Limits()
             ) -> ExperimentPlan | ComparisonPlan | GraphSetup:
        """The run's setup, every configuration of the comparison, or the graph placed on the
        platform (a network that is not a zoo layer chain runs on the graph executor); layer-chain
        and graph runs are refused when their estimated cost is beyond ``limits``
        (:mod:`~fpgasim.study.experiment.guards`)."""
        network = loaded.spec.network
        if loaded.spec.platform is not None or network.zoo is None or network.zoo in GRAPH_NAMES:
            graph = plan_graph_experiment(loaded)
            check_device_clocks(graph.plan)
            check_limits(estimate_graph(graph.plan, limits), limits, name=loaded.spec.name)
            return graph
        if loaded.spec.comparison is not None:
            comparison = plan_comparison(loaded)
            guard_setups(loaded, [setup for *_, setup in comparison.configurations],
                         dataclasses.replace(limits, trace=False))
            return comparison
        setup = build_setup(loaded)
        return ExperimentPlan(setup=setup, estimate=guard_setups(loaded, [setup], limits))

    def run(self, plan: ExperimentPlan | ComparisonPlan, out: Path, options: RunOptions) -> RunOutput:
        """Emulate and write ``results.json``, ``layers.csv``, ``report.md`` (+ trace, timeline);
        a comparison writes its ``results.json``, ``report.md`` and ``speedup.png``."""
        flags = _values_flags(options)
        if flags and not isinstance(plan, GraphSetup):
            raise BadArgument(f"{flags}: only a graph network carries values end to end (a zoo graph, `graph`, `file` "
                              "or `onnx`); this experiment is a layer list, whose functional mode checks each layer "
                              "on its own seeded data")
        if isinstance(plan, ComparisonPlan):
            paths = write_comparison(run_comparison(plan, workers=options.workers, progress=options.progress), out)
            return RunOutput(paths=tuple(paths), text=(out / "report.md").read_text(encoding="utf-8"),
                             lines=(_wrote(paths),))
        mode = Mode(options.mode) if options.mode else None
        if isinstance(plan, GraphSetup):
            return _run_graph(plan, out, mode, options)
        result = run_setup(plan.setup, mode=mode, trace=options.trace, progress=options.progress)
        shown = [index for index, (header, _, _) in enumerate(COLUMNS) if header in TERMINAL_COLUMNS]
        table = TerminalTable(title=f"{plan.name} ({result.mode}, {result.setup.boards} x {result.setup.board.id})",
                              columns=tuple(COLUMNS[index][0] for index in shown),
                              rows=tuple(tuple(row[index] for index in shown) for row in layer_rows(result)))
        lines = []
        if result.bit_exact is not None:
            lines.append(f"functional check: {'bit exact' if result.bit_exact else 'NOT bit exact'} "
                         "against the direct kernel")
        paths = write_run(result, out, max_trace_spans=options.limits.max_trace_spans)
        return RunOutput(paths=tuple(paths), table=table, lines=(*lines, _wrote(paths)))

    def evaluate(self, loaded: LoadedExperiment, fidelity: Fidelity) -> Objectives:
        """The analytical model's objectives and per-layer rows, or the emulator's objectives (a graph
        run is emulated at both fidelities: a heterogeneous platform has no closed form yet)."""
        network = loaded.spec.network
        if loaded.spec.platform is not None or network.zoo is None or network.zoo in GRAPH_NAMES:
            return graph_objectives(plan_graph_experiment(loaded))
        setup = build_setup(loaded)
        check_clock(loaded, setup)
        if fidelity is Fidelity.ANALYTICAL:
            return analytical_objectives(setup)
        return emulated_objectives(setup), []

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """Against the experiment schema (a key need not be in the base document)."""
        return schema_key_problem(key, ExperimentFile, mappings=_SWEEP_MAPPINGS)

    def lookup(self, loaded: LoadedExperiment, key: str) -> Any:
        """The key's value with the experiment's defaults applied (enums as their values)."""
        node: Any = loaded.spec
        for part in key.split(".")[1:]:
            node = node.get(part) if isinstance(node, dict) else getattr(node, part)
            if node is None:
                return None
        return node.value if hasattr(node, "value") else node

    def fits(self, loaded: LoadedExperiment, board: Any, design: Any) -> bool:
        """The whole design fits the board (``fpgasim fit``); a design that cannot be checked does not."""
        try:
            return evaluate_fit(board, design, dsp_types=load_dsp_types()).fits
        except FpgasimError:
            return False


#: The registered experiment study.
EXPERIMENT_STUDY = ExperimentStudy()
