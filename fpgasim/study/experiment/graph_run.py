"""Experiments on a platform: a network graph placed on devices, planned, executed and reported.

Owns the path of an experiment with a ``platform:`` section: build the graph (a zoo network, a
``network.graph`` written node by node, a network ``file`` or an ``onnx`` model with its weights), the platform (hw; a graph network named with
``board``/``kernel``/``memory`` runs on that one board), every FPGA device's kernel design,
and the plan (mapping) — turning every refusal of the graph builder, the platform loader or the
planner into a located :class:`~fpgasim.errors.ConfigError` (file, line, key) — then run it on
the graph executor (sim) and write ``report.md``, ``nodes.csv``, ``results.json``, with a trace
``trace.json`` and ``timeline.png``, and with ``save_outputs`` ``outputs.npz``, all or none.
A functional run takes seeded inputs or the user's (:mod:`~fpgasim.study.experiment.graph_values`)
and reports its outputs' agreement with the float64 reference per word width.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument, ConfigError, ShapeError
from fpgasim.hw.platform import FpgaDevice, Platform, load_platform_section
from fpgasim.hw import load_dsp_types
from fpgasim.kernels import Resource, TiledConvDesign, evaluate_fit, load_kernel_file
from fpgasim.mapping.graph_model import GraphPrediction, predict
from fpgasim.mapping.graph_partition import PartitionModel, plan_partitioned_graph
from fpgasim.mapping.graph_plan import GraphPlan, PlacementError, plan_graph
from fpgasim.mapping.layer_plan import Planner
from fpgasim.nn import zoo_graph
from fpgasim.nn.evaluate import NodeWeights, synthetic_weights
from fpgasim.nn.graph import Graph
from fpgasim.nn import onnx as onnx_import
from fpgasim.nn.sources import graph_from_section, load_network_file
from fpgasim.sim.clock import ms_from_ps
from fpgasim.sim.executor import GraphEmulation, Numerics, carried_values, execute
from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION, OutputSet
from fpgasim.study.common.plots import save_timeline
from fpgasim.study.common.trace_output import trace_to_write
from fpgasim.study.experiment.experiment import LoadedExperiment, Mode, PartitionPolicy
from fpgasim.study.experiment.graph_values import WidthAgreement, float_agreement, output_arrays, read_inputs
from fpgasim.study.experiment.setup import cluster_platform, resolve_board
from fpgasim.study.protocol import Limits

__all__ = ["GraphSetup", "GraphRunResult", "plan_graph_experiment", "run_graph_experiment", "write_graph_run",
           "graph_objectives"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphSetup:
    """A platform experiment, loaded and planned (everything ``run`` checks before simulating)."""

    experiment: LoadedExperiment
    plan: GraphPlan
    numerics: Numerics | None
    #: the network's own weights (an ONNX model's); None: synthetic weights from the seed.
    weights: Mapping[str, NodeWeights] | None = None
    #: an ONNX model's graph outputs: ONNX output name → the IR node computing it (None: not ONNX).
    onnx_outputs: Mapping[str, str] | None = None

    @property
    def name(self) -> str:
        """The experiment's name (the default output directory)."""
        return self.experiment.spec.name


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphRunResult:
    """A platform experiment's emulation."""

    setup: GraphSetup
    mode: Mode
    emulation: GraphEmulation
    #: functional mode: the file the inputs came from (None: seeded uniform(-1, 1) inputs).
    input_path: Path | None = None
    #: functional mode: each output against the float64 reference, per word width.
    agreement: tuple[WidthAgreement, ...] = ()
    #: the closed-form twin's timeline of the same plan (None: a node without a closed form).
    prediction: GraphPrediction | None = None


def _graph(loaded: LoadedExperiment) -> tuple[Graph, Mapping[str, NodeWeights] | None, Mapping[str, str] | None]:
    """The experiment's graph and, for an ONNX model, its weights and output names (else None:
    synthetic weights)."""
    ref = loaded.spec.network
    at = ("experiment", "network")
    if ref.graph is not None:
        return graph_from_section(loaded.document, at + ("graph",), ref.graph, name=loaded.spec.name,
                                  batch=ref.batch), None, None
    if ref.file is not None:
        return load_network_file(loaded.resolve(ref.file)), None, None
    try:
        if ref.onnx is not None:
            imported = onnx_import.import_onnx(loaded.resolve(ref.onnx), input_shape=ref.input_shape)
            return imported.graph, imported.weights, dict(imported.outputs)
        kwargs: dict[str, Any] = {"batch": ref.batch}
        if ref.shapes is not None:
            kwargs["shapes"] = ref.shapes
        return zoo_graph(ref.zoo, **kwargs), None, None
    except (BadArgument, ShapeError) as exc:
        key = at + (("onnx",) if ref.onnx is not None else ())
        raise ConfigError([loaded.document.problem(key, str(exc))]) from None


def _designs(loaded: LoadedExperiment, platform: Platform) -> dict[str, TiledConvDesign]:
    designs = {}
    for index, device in enumerate(platform.devices):
        if not isinstance(device, FpgaDevice):
            continue
        design = load_kernel_file(device.kernel_path)
        if not isinstance(design, TiledConvDesign):
            where = ("experiment", "platform", "devices", index, "kernel") if loaded.spec.platform else ("experiment", "kernel")
            raise ConfigError([loaded.document.problem(
                where,
                f"kernel type {design.type} cannot run graph nodes; expected tiled_conv")])
        designs[device.id] = design
    return designs


def _numerics(designs: dict[str, TiledConvDesign]) -> Numerics | None:
    for design in designs.values():
        fixed = design.precision.fixed
        if fixed is not None:
            requant = fixed.requantizer()
            return Numerics(fmt=requant.out, requant=requant)
    return None


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where the nodes go: pinned nodes, the default device, and the devices the rest is
    partitioned over (None: nodes are placed, not partitioned)."""

    nodes: dict[str, str]
    default: str | None
    partition: tuple[str, ...] | None


def _platform(loaded: LoadedExperiment) -> tuple[Platform, _Placement]:
    """The platform with the placement: the experiment's own, or — for a graph network named with
    ``board``/``kernel``/``memory`` — that one board running every node, or its ``cluster`` of
    boards with every node partitioned over them."""
    spec = loaded.spec
    if spec.platform is not None:
        platform = load_platform_section(loaded.document, ("experiment", "platform"), loaded.path.parent)
        group = spec.placement.partition
        return platform, _Placement(dict(spec.placement.nodes), spec.placement.default,
                                    None if group is None else tuple(group))
    board = resolve_board(loaded)
    try:
        board.memory_channel(spec.memory.channel)
    except (BadArgument, KeyError) as exc:
        raise ConfigError([loaded.document.problem(("experiment", "memory", "channel"), str(exc))]) from None
    if spec.cluster.boards > 1 and (spec.partition.policy is not PartitionPolicy.SEARCH
                                    or spec.partition.planner is not Planner.LINK_AWARE):
        raise ConfigError([loaded.document.problem(
            ("experiment", "partition"), "a graph network on a cluster is partitioned node by node by the "
                                         "link-aware search; `policy: fixed` and `planner: blind` are for layer "
                                         "lists")])
    platform, _ = cluster_platform(loaded, board)
    ids = tuple(device.id for device in platform.devices)
    if len(ids) == 1:
        return platform, _Placement({}, ids[0], None)
    return platform, _Placement({}, None, ids)


def plan_graph_experiment(loaded: LoadedExperiment) -> GraphSetup:
    """Load the graph, the platform and the designs, and plan every node (no simulation).

    Raises:
        ConfigError: a bad graph, platform or placement, located in the experiment file.
        DoesNotFit: a design does not fit its board.
    """
    spec = loaded.spec
    graph, weights, onnx_outputs = _graph(loaded)
    platform, placement = _platform(loaded)
    designs = _designs(loaded, platform)
    try:
        if placement.partition is not None:
            plan = plan_partitioned_graph(graph, platform, designs, placement.partition, pinned=placement.nodes)
        else:
            plan = plan_graph(graph, platform, designs, placement.nodes, default=placement.default)
    except PlacementError as exc:
        located = spec.placement is not None
        path = ("experiment", "placement") if located else ("experiment", "network")
        if located and exc.node in placement.nodes:
            path += ("nodes", exc.node)
        elif located and placement.partition is not None and exc.node is None:
            path += ("partition",)
        raise ConfigError([loaded.document.problem(path, str(exc))]) from None
    numerics = _numerics(designs)
    if spec.mode is Mode.FUNCTIONAL and numerics is None:
        raise ConfigError([loaded.document.problem(("experiment", "mode"), "functional mode on a platform needs a "
                                                                          "fixed-point design on an FPGA device")])
    return GraphSetup(experiment=loaded, plan=plan, numerics=numerics, weights=weights, onnx_outputs=onnx_outputs)


def run_graph_experiment(setup: GraphSetup, *, mode: Mode | None = None, trace: bool = False,
                         progress: Callable[[str], None] | None = None, input_path: Path | None = None
                         ) -> GraphRunResult:
    """Execute a planned platform experiment. Functional mode quantises float inputs — the arrays
    of ``input_path`` (.npy/.npz), else seeded uniform(-1, 1) — and the weights (the network's own,
    else seeded) to the design's format, and measures the outputs' agreement with the float64
    reference per word width.

    Raises:
        BadArgument: ``input_path`` in timing mode, or a bad input file (before anything runs).
    """
    spec = setup.experiment.spec
    mode = mode or spec.mode
    functional = mode is Mode.FUNCTIONAL
    if functional and setup.numerics is None:
        raise BadArgument("functional mode on a platform needs a fixed-point design on an FPGA device")
    if input_path is not None and not functional:
        raise BadArgument(f"--input {input_path}: values need functional mode, and this run is in {mode} mode "
                          "(pass --mode functional)")
    graph = setup.plan.graph
    prediction = predict(setup.plan)
    if not functional:
        emulation = execute(setup.plan, trace=trace, values=None, progress=progress)
        return GraphRunResult(setup=setup, mode=mode, emulation=emulation, prediction=prediction)
    if input_path is not None:
        inputs = read_inputs(input_path, graph)
    else:
        rng = np.random.default_rng(spec.seed)
        inputs = {node.name: rng.uniform(-1.0, 1.0, size=(graph.batch, *node.out_shape)) for node in graph.inputs}
    weights = setup.weights if setup.weights is not None else synthetic_weights(graph, seed=spec.seed)
    values = carried_values(setup.plan, setup.numerics, inputs, weights)
    emulation = execute(setup.plan, trace=trace, values=values, progress=progress)
    matches = float_agreement(graph, inputs, weights, setup.numerics, emulation.outputs, tables=values.tables)
    return GraphRunResult(setup=setup, mode=mode, emulation=emulation, input_path=input_path, agreement=matches,
                          prediction=prediction)


def node_rows(result: GraphRunResult) -> list[dict[str, Any]]:
    """One row per node (results.json ``nodes`` and nodes.csv)."""
    plan = result.setup.plan
    rows = []
    for item, run in zip(plan.nodes, result.emulation.nodes, strict=True):
        tiling = item.tiling
        rows.append({
            "name": run.name, "op": run.op, "device": run.device, "engine": run.engine,
            "inputs": list(item.node.inputs), "output_shape": list(item.node.out_shape),
            "macs": item.node.macs * plan.graph.batch,
            "tiling": None if tiling is None else {"tm": tiling.tm, "tn": tiling.tn, "tr": tiling.tr, "tc": tiling.tc},
            "ready_ms": ms_from_ps(run.ready_ps), "start_ms": ms_from_ps(run.start_ps),
            "end_ms": ms_from_ps(run.end_ps),
            "cycles": run.cycles, "analytical_cycles": run.analytical_cycles,
            "ddr_read_bytes": run.ddr_read_bytes, "ddr_write_bytes": run.ddr_write_bytes,
            "bit_exact": run.bit_exact,
        })
        if plan.model is not None:
            rows[-1].update(_partition_columns(item, run))
    return rows


def _partition_columns(item, run) -> dict[str, Any]:
    """A partitioned plan's extra per-node columns: where the node ran, how it was cut, and the
    model's time beside the emulator's (engine and redistribution)."""
    split = item.partition
    return {"devices": list(item.group),
            "partition": None if split is None else {"pb": split.pb, "pr": split.pr, "pc": split.pc, "pm": split.pm},
            "redistribution_bytes": sum(nbytes for *_, nbytes in item.redistribution),
            "redistribution_cycles": run.redistribution_cycles,
            "model_redistribution_cycles": item.model_redistribution_cycles, "bottleneck": run.bottleneck}


def _partition_label(row: dict[str, Any]) -> str:
    split = row["partition"]
    if split is None:
        return "whole" if len(row["devices"]) == 1 else f"{len(row['devices'])} boards"
    return f"⟨{split['pb']},{split['pr']},{split['pc']},{split['pm']}⟩"


def model_document(result: GraphRunResult) -> dict[str, Any] | None:
    """results.json ``model``: the closed-form twin's latency beside the emulator's, the effects it
    leaves out, and for a partitioned plan how its search went (None: no closed form)."""
    prediction = result.prediction
    if prediction is None:
        return None
    emulated = ms_from_ps(result.emulation.total_ps)
    doc: dict[str, Any] = {"latency_ms": prediction.time_ms, "emulated_latency_ms": emulated,
                           "gap_percent": 100.0 * (prediction.time_ms - emulated) / emulated if emulated else 0.0,
                           "unmodelled": list(prediction.unmodelled)}
    search: PartitionModel | None = result.setup.plan.model
    if search is not None:
        doc["partition"] = {"planner": "link_aware", "group": list(search.group), "search_states": search.states,
                            "beam": search.beam, "exact": search.exact}
    return doc


def results_document(result: GraphRunResult) -> dict[str, Any]:
    """The ``results.json`` document of a platform run."""
    plan, emulation = result.setup.plan, result.emulation
    spec = result.setup.experiment.spec
    functional = {}
    if result.mode is Mode.FUNCTIONAL:
        functional = {"agreement": [match.row() for match in result.agreement],
                      "input": None if result.input_path is None else str(result.input_path)}
    model = model_document(result)
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        **functional,
        **({} if model is None else {"model": model}),
        "experiment": {"name": spec.name, "mode": str(result.mode), "network": plan.graph.name,
                       "batch": plan.graph.batch, "word_bits": plan.word_bits,
                       "devices": [device.id for device in plan.platform.devices]},
        "totals": {"latency_ms": ms_from_ps(emulation.total_ps), "macs": plan.graph.macs_total,
                   "link_bytes": sum(t.nbytes for t in emulation.transfers)
                   + sum(nbytes for item in plan.nodes for *_, nbytes in item.redistribution),
                   "bit_exact": emulation.bit_exact,
                   "peak_memory_bytes": dict(emulation.peak_memory_bytes)},
        "nodes": node_rows(result),
        "transfers": [{"tensor": t.tensor, "source": t.source, "destination": t.destination, "nbytes": t.nbytes,
                       "start_ms": ms_from_ps(t.start_ps), "end_ms": ms_from_ps(t.end_ps)}
                      for t in emulation.transfers],
    }


_TABLE = (("node", "name"), ("op", "op"), ("device", "device"), ("engine", "engine"), ("start ms", "start_ms"),
          ("end ms", "end_ms"), ("cycles", "cycles"), ("model cycles", "analytical_cycles"),
          ("DDR read B", "ddr_read_bytes"), ("DDR write B", "ddr_write_bytes"), ("bit exact", "bit_exact"))


def _cell(key: str, value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.0f}" if key.endswith("cycles") else f"{value:.4f}"
    return str(value)


def table_rows(result: GraphRunResult) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the per-node table (a partitioned plan adds its split and the
    redistribution, emulated and modelled)."""
    rows, extra = [], result.setup.plan.model is not None
    for row in node_rows(result):
        cells = [_cell(key, row[key]) for _, key in _TABLE]
        if extra:
            cells[2:3] = [",".join(row["devices"]), _partition_label(row)]
            cells += [_cell("cycles", row["redistribution_cycles"]),
                      _cell("cycles", row["model_redistribution_cycles"])]
        rows.append(cells)
    headers = [header for header, _ in _TABLE]
    if extra:
        headers[2:3] = ["devices", "split"]
        headers += ["redistribution cycles", "model redistribution cycles"]
    return headers, rows


def report_markdown(result: GraphRunResult) -> str:
    """``report.md``: what ran where, the per-node table, the transfers and the memory peaks."""
    doc = results_document(result)
    headers, rows = table_rows(result)
    lines = [f"# {doc['experiment']['name']}", "",
             f"{doc['experiment']['network']} (batch {doc['experiment']['batch']}, {doc['experiment']['word_bits']}-bit "
             f"values), {result.mode} mode, on {', '.join(doc['experiment']['devices'])}: "
             f"**{doc['totals']['latency_ms']:.4f} ms**.", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "| tensor | from | to | bytes | start ms | end ms |", "|---|---|---|---|---|---|"]
    lines += [f"| {t['tensor']} | {t['source']} | {t['destination']} | {t['nbytes']} | {t['start_ms']:.4f} | "
              f"{t['end_ms']:.4f} |" for t in doc["transfers"]]
    if "model" in doc:
        lines += ["", *_model_markdown(result, doc["model"])]
    if result.setup.plan.model is not None:
        lines += ["", "Peak memory is not tracked for a partitioned plan (each board holds boxes of tensors)."]
    else:
        lines += ["", "Peak memory per device (tensors held until their last reader ran): "
                  + ", ".join(f"{device} {nbytes} B" for device, nbytes in doc["totals"]["peak_memory_bytes"].items())
                  + "."]
    if doc["totals"]["bit_exact"] is not None:
        verdict = "bit exact" if doc["totals"]["bit_exact"] else "NOT bit exact"
        lines += ["", f"Functional check: every node {verdict} against fpgasim.ops run node by node."]
    if result.mode is Mode.FUNCTIONAL:
        lines += ["", *_values_markdown(result)]
    return "\n".join(lines) + "\n"


#: a node's model–emulator gap worth naming: beyond this fraction of its own time and of the run's.
_GAP_NODE, _GAP_RUN = 0.05, 0.01


def _model_markdown(result: GraphRunResult, model: dict[str, Any]) -> list[str]:
    """The closed-form twin beside the emulator: the run's latency, the effects it leaves out, and
    every node whose engine time it misjudges, with the resource the emulator found busiest."""
    lines = ["## Model", ""]
    search = model.get("partition")
    if search is not None:
        how = "exact (every live-layout state kept)" if search["exact"] else \
            f"beam-limited ({search['search_states']} states at the widest step, {search['beam']} kept)"
        lines += [f"Every node partitioned over {', '.join(search['group'])} by the link-aware search "
                  f"(docs/analytical-model.md, \"Graphs\"), {how}.", ""]
    lines += [f"The closed-form twin of this plan (mapping/graph_model.py) predicts **{model['latency_ms']:.4f} ms**; "
              f"the emulator measured **{model['emulated_latency_ms']:.4f} ms** ({model['gap_percent']:+.1f} %)."]
    if model["unmodelled"]:
        lines += ["", "Effects of this run the prediction leaves out: " + "; ".join(model["unmodelled"]) + "."]
    runs = {run.name: run for run in result.emulation.nodes}
    total = max(result.emulation.total_ps, 1)
    named = []
    for node in result.prediction.nodes:
        run = runs[node.name]
        emulated = run.end_ps - run.start_ps
        gap = emulated - node.engine_ps
        if abs(gap) > _GAP_NODE * max(emulated, 1) and abs(gap) > _GAP_RUN * total:
            named.append(f"| {node.name} | {node.engine_ps / 1e6:.4f} | {emulated / 1e6:.4f} | "
                         f"{100 * gap / max(node.engine_ps, 1.0):+.1f} % | {run.bottleneck or '–'} |")
    if named:
        lines += ["", "Nodes whose emulated engine time differs from the model's by more than "
                  f"{_GAP_NODE:.0%} of their own time and {_GAP_RUN:.0%} of the run:", "",
                  "| node | model µs | emulated µs | gap | emulator's busiest resource |", "|---|---|---|---|---|", *named]
    else:
        lines += ["", f"No node's emulated engine time differs from the model's by more than {_GAP_NODE:.0%}."]
    return lines


def _values_markdown(result: GraphRunResult) -> list[str]:
    """Where the inputs came from and the outputs' agreement with the float64 reference."""
    source = f"`{result.input_path}`" if result.input_path is not None else \
        f"seeded uniform(−1, 1) (seed {result.setup.experiment.spec.seed})"
    lines = [f"Inputs: {source}, quantised to the design's format.", "",
             "Agreement of each output with fpgasim's float64 reference (fpgasim.nn.evaluate.evaluate_ref, same "
             "inputs and weights): logit SNR 10·log10(Σref²/Σ(out−ref)²) and the fraction of samples whose arg-max "
             "agrees. The design's width is the emulated run; the others evaluate the network node by node with "
             "the same integer bits, rounding and overflow.", "",
             "| output | bits | ⟨W, I⟩ | source | SNR dB | top-1 |", "|---|---|---|---|---|---|"]
    for match in result.agreement:
        snr = "∞ (identical)" if match.snr_db is None else f"{match.snr_db:.1f}"
        lines.append(f"| {match.output} | {match.word_bits} | ⟨{match.word_bits}, {match.int_bits}⟩ | "
                     f"{'emulated' if match.emulated else 'evaluate_fixed'} | {snr} | {match.top1:.3f} |")
    onnx = result.setup.onnx_outputs
    if onnx:
        lines += ["", "ONNX outputs: " + ", ".join(f"`{name}` is node `{node}`" for name, node in onnx.items()) + "."]
    return lines


def _csv(result: GraphRunResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    headers, rows = table_rows(result)
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def write_graph_run(result: GraphRunResult, out_dir: Path, *, max_trace_spans: int = Limits().max_trace_spans,
                    save_outputs: bool = False) -> list[Path]:
    """Write the run's files into ``out_dir``, all or none; beyond ``max_trace_spans`` spans
    trace.json is a summary (said in report.md). ``save_outputs`` adds ``outputs.npz``: each network
    output node's values, dequantised (float64, N×C×H×W), keyed by the node's name.

    Raises:
        BadArgument: ``save_outputs`` for a run that computed no values (timing mode).
    """
    if save_outputs and result.emulation.outputs is None:
        raise BadArgument(f"--save-outputs: a {result.mode} run computes no values (pass --mode functional)")
    out = OutputSet(out_dir)
    if save_outputs:
        out.add_npz("outputs.npz", output_arrays(result.emulation.outputs))
    trace, note = (None, None) if result.emulation.trace is None else \
        trace_to_write(result.emulation.trace, max_trace_spans)
    out.add_json("results.json", results_document(result))
    out.add_text("nodes.csv", _csv(result))
    out.add_text("report.md", report_markdown(result) + ("" if note is None else f"\n## Trace\n\n{note}\n"))
    if trace is not None:
        out.add_json("trace.json", trace.to_chrome_trace())
        full = result.emulation.trace
        nodes = [(run.name, run.start_ps, run.end_ps) for run in sorted(result.emulation.nodes,
                                                                       key=lambda run: (run.start_ps, run.name))]
        out.add_writer("timeline.png", lambda path: save_timeline(full, path, title=result.setup.experiment.spec.name,
                                                                  layers=nodes))
    return out.commit()


def graph_objectives(setup: GraphSetup) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """A sweep point's objectives for a graph run, emulated in timing mode (a heterogeneous
    platform has no closed form yet, so both sweep fidelities emulate), and per-node rows."""
    result = run_graph_experiment(setup, mode=Mode.TIMING, trace=False)
    emulation, plan = result.emulation, setup.plan
    latency_ms = ms_from_ps(emulation.total_ps)
    used = {"dsp": 0.0, "bram18": 0.0}
    for context in plan.fpgas.values():
        fit = evaluate_fit(context.board, context.design, dsp_types=load_dsp_types())
        used["dsp"] += float(fit.row(Resource.DSP).used)
        used["bram18"] += float(fit.row(Resource.BRAM18).used)
    objectives = {
        "latency_ms": latency_ms,
        "throughput_gops": 2 * plan.graph.macs_total / (latency_ms * 1e-3) / 1e9 if latency_ms else 0.0,
        "devices": float(len(plan.platform.devices)), "boards": float(len(plan.fpgas)),
        "ddr_read_bytes": float(sum(run.ddr_read_bytes for run in emulation.nodes)),
        "ddr_write_bytes": float(sum(run.ddr_write_bytes for run in emulation.nodes)),
        "link_bytes": float(sum(transfer.nbytes for transfer in emulation.transfers)), **used,
    }
    objectives["ddr_bytes"] = objectives["ddr_read_bytes"] + objectives["ddr_write_bytes"]
    objectives["dsp_total"] = objectives["dsp"]
    rows = [{"name": run.name, "latency_ms": ms_from_ps(run.end_ps - run.start_ps),
             "tiling": "–" if item.tiling is None else
             f"Tm={item.tiling.tm},Tn={item.tiling.tn},Tr={item.tiling.tr},Tc={item.tiling.tc}",
             "partition": run.device, "bottleneck": run.bottleneck or run.engine}
            for item, run in zip(plan.nodes, emulation.nodes, strict=True)]
    return objectives, rows
