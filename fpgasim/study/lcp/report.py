"""An LCP study's outputs: ``results.json``, ``report.md`` and one speedup-vs-devices plot per model.

Owns :func:`results_document` (the documented keys below), :func:`render_report` and
:func:`write_lcp_study` (all files or none, through :class:`~fpgasim.study.common.outputs.OutputSet`).

``results.json`` (``schema_version``): ``study`` {name, device, link, fit}, ``cases`` [{model,
config, devices, branches, fatten_pct, model_parallel, latency_ms, model_latency_ms (the executor's closed-form
twin, mapping/graph_model.py), unmodelled (the effects it leaves out), compute_ms, final_ms (gather and
classifier on the gather device), peak_bound_ms (FPGA: the busiest device's MACs at Tm·Tn per cycle), speedup,
speedup_compute, link_bytes, transfers, params, macs, branch_params, branch_macs,
weight_bytes_per_device, mac_ratio (the one-device model's MACs over the largest branch's: the speedup
of an ideal compute-bound device with a free classifier and free links), paper_latency_ms, paper_speedup}], ``speedup`` {model: {config label:
{devices, fpgasim, compute_only, paper}}}, ``geomean_speedup`` {fpgasim, compute_only, paper, configs},
``fit`` (the kernel design's verdict on its board, FPGA studies only). Speedups are over the
model's first configuration (one device); the geometric mean runs over every model and the
configurations ``paper.geomean_configs`` names (LCP's 7.35× is the mean over all 25 bars of its
Fig. 16b, the five 1.0 bars included).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpgasim.hw import load_dsp_types
from fpgasim.kernels import evaluate_fit
from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION, OutputSet
from fpgasim.study.common.plots import save_device_speedup_plot
from fpgasim.study.lcp.runs import CaseResult, LcpPlan

__all__ = ["results_document", "render_report", "write_lcp_study"]


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _fit(plan: LcpPlan) -> dict[str, Any] | None:
    loaded = plan.loaded
    if loaded.design is None:
        return None
    result = evaluate_fit(loaded.board, loaded.design, dsp_types=load_dsp_types())
    dsp = result.row("DSP")
    return {"board": loaded.board.id, "design": loaded.design.name, "fits": result.fits, "verdict": result.verdict,
            "dsp_used": dsp.used, "dsp_available": dsp.available, "policy": str(loaded.study.device.fit)}


def results_document(plan: LcpPlan, results: list[CaseResult]) -> dict[str, Any]:
    """The results document (keys in the module docstring)."""
    study = plan.loaded.study
    paper = study.paper
    base: dict[str, CaseResult] = {}
    cases, speedup = [], {}
    for result in results:
        case, config = result.case, result.case.config
        first = base.setdefault(case.model, result)
        row = {"model": case.model, "config": config.name, "devices": config.devices, "branches": config.branches,
               "fatten_pct": config.fatten_pct, "model_parallel": config.model_parallel,
               "latency_ms": result.latency_ms, "model_latency_ms": result.model_ms,
               "unmodelled": list(result.unmodelled), "compute_ms": result.compute_ms, "final_ms": result.final_ms,
               "peak_bound_ms": result.peak_bound_ms,
               "speedup": first.latency_ms / result.latency_ms, "speedup_compute": first.compute_ms / result.compute_ms,
               "link_bytes": result.link_bytes, "transfers": result.transfers, "params": case.counts.params,
               "macs": case.counts.macs, "branch_params": case.counts.branch_params,
               "branch_macs": case.counts.branch_macs, "weight_bytes_per_device": result.weight_bytes_per_device,
               "mac_ratio": first.case.counts.branch_macs / case.counts.branch_macs,
               "paper_latency_ms": paper.latency_ms.get(case.model, {}).get(config.name),
               "paper_speedup": paper.speedup.get(case.model, {}).get(config.name)}
        cases.append(row)
        speedup.setdefault(case.model, {})[config.name] = {"devices": config.devices, "fpgasim": row["speedup"],
                                                           "compute_only": row["speedup_compute"],
                                                           "paper": row["paper_speedup"]}
    chosen = [row for row in cases if row["config"] in paper.geomean_configs]
    device = study.device
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "study": {"name": study.name, "device": device.compute or f"{device.board} + {plan.loaded.design.name}",
                  "link": study.link.type, "gather": study.gather, "notes": study.notes,
                  "paper_source": paper.source},
        "fit": _fit(plan),
        "cases": cases,
        "speedup": speedup,
        "geomean_speedup": {"fpgasim": _geomean([row["speedup"] for row in chosen]),
                            "compute_only": _geomean([row["speedup_compute"] for row in chosen]),
                            "paper": paper.geomean_speedup, "configs": list(paper.geomean_configs)},
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def render_report(document: dict[str, Any]) -> str:
    """``report.md``: what ran, the fit verdict, latency and speedup beside the paper, and the work
    per branch that the super-linearity comes from."""
    study, fit, geo = document["study"], document["fit"], document["geomean_speedup"]
    lines = [f"# {study['name']}", "", f"Device: {study['device']}; devices joined pairwise by `{study['link']}`; "
             f"input, gather and classifier on dev{study['gather']}. Timing mode, one image.", ""]
    if study["notes"]:
        lines += [study["notes"].strip(), ""]
    if fit is not None:
        lines += [f"**Fit of {fit['design']} on {fit['board']}:** {fit['verdict']} (DSP {fit['dsp_used']} of "
                  f"{fit['dsp_available']}). Fit policy `{fit['policy']}`: "
                  + ("the design is timed as published although the block model says it does not fit."
                     if not fit["fits"] else "it fits."), ""]
    lines += ["## Latency and speedup", "",
              "`latency` includes every transfer over the link; `model` is the executor's closed-form twin "
              "(mapping/graph_model.py) for the same plan; `compute` is the busiest device's node time "
              "(the latency if communication were free). Speedups are over the model's one-device run.", "",
              "| model | config | devices | latency ms | model ms | paper ms | compute ms | speedup | speedup (compute) "
              "| paper speedup | link MB |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in document["cases"]:
        lines.append(f"| {row['model']} | {row['config']} | {row['devices']} | {_num(row['latency_ms'], 2)} | "
                     f"{_num(row['model_latency_ms'], 2)} | "
                     f"{_num(row['paper_latency_ms'], 1)} | {_num(row['compute_ms'], 2)} | {_num(row['speedup'], 2)}× | "
                     f"{_num(row['speedup_compute'], 2)}× | {_num(row['paper_speedup'], 1)}"
                     f"{'×' if row['paper_speedup'] else ''} | {row['link_bytes'] / 1e6:.2f} |")
    left_out = sorted({effect for row in document["cases"] for effect in row["unmodelled"]})
    if left_out:
        lines += ["", "Where `model` and `latency` differ, the effects the twin leaves out: " + "; ".join(left_out) + "."]
    lines += ["", f"Geometric-mean speedup over {', '.join(geo['configs'])} (every model): **"
              f"{_num(geo['fpgasim'], 2)}×** with communication, {_num(geo['compute_only'], 2)}× compute only; "
              f"paper {_num(geo['paper'], 2)}×.", "",
              "## Where the speedup comes from: work and weights per branch", "",
              "Splitting every layer's width by n divides a branch's MACs and weights by about n² (both operands "
              "of a layer shrink), so n branches do about 1/n of the work together and each 1/n² of the base: "
              "the compute speedup can exceed n. `final ms` is the gather and the un-split classifier on the "
              "gather device; `peak bound ms` the busiest device's MACs at the array's peak (FPGA).", "",
              "| model | config | params (M) | MACs (M) | largest branch MACs (M) | base MACs / branch MACs | "
              "weights per device (MB) | final ms | peak bound ms |", "|---|---|---|---|---|---|---|---|---|"]
    for row in document["cases"]:
        lines.append(f"| {row['model']} | {row['config']} | {row['params'] / 1e6:.2f} | {row['macs'] / 1e6:.1f} | "
                     f"{row['branch_macs'] / 1e6:.1f} | {row['mac_ratio']:.1f} | "
                     f"{row['weight_bytes_per_device'] / 1e6:.2f} | {_num(row['final_ms'], 2)} | "
                     f"{_num(row['peak_bound_ms'], 2)} |")
    lines += ["", f"Paper: {study['paper_source']}", ""]
    return "\n".join(lines)


def _plot_writer(model: str, rows: list[dict[str, Any]]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        save_device_speedup_plot(
            path, title=f"{model}: speedup over one device",
            curves={"fpgasim (with link)": [(r["devices"], r["speedup"], r["config"]) for r in rows],
                    "fpgasim (compute only)": [(r["devices"], r["speedup_compute"], r["config"]) for r in rows],
                    "base MACs / branch MACs": [(r["devices"], r["mac_ratio"], r["config"]) for r in rows]},
            paper=[(r["devices"], r["paper_speedup"], r["config"]) for r in rows if r["paper_speedup"]])
    return write


def plot_name(model: str) -> str:
    """The PNG of ``model``'s speedup plot."""
    return "speedup-" + "".join(c if c.isalnum() else "-" for c in model.lower()).strip("-") + ".png"


def write_lcp_study(plan: LcpPlan, results: list[CaseResult], out_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """Write ``report.md``, ``results.json`` and ``speedup-<model>.png`` into ``out_dir`` (all or none)."""
    document = results_document(plan, results)
    out = OutputSet(Path(out_dir))
    out.add_text("report.md", render_report(document))
    out.add_json("results.json", document)
    for model in dict.fromkeys(row["model"] for row in document["cases"]):
        out.add_writer(plot_name(model), _plot_writer(model, [r for r in document["cases"] if r["model"] == model]))
    return document, out.commit()
