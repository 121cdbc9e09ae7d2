"""The ScissionLite study's report: ``report.md``, ``results.json``, ``splits.png`` and ``whatif.png``.

Owns :func:`write_scission` (computes, then writes every file atomically, all or none) and the
Markdown text and figures of the results document of :func:`~fpgasim.study.scission.tables.compute`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgasim.study.common.outputs import RESULTS_SCHEMA_VERSION, OutputSet
from fpgasim.study.common.plots import Panel, save_panels
from fpgasim.study.scission.tables import ScissionPlan, compute

__all__ = ["write_scission", "render_report"]


def _s(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _split(split: dict[str, Any] | None) -> str:
    return "none allowed" if split is None else f"{split['label']}: {_s(split['latency_s'])} s"


def _summary_rows(devices: dict[str, Any], key: str) -> list[str]:
    rows = []
    for name, device in devices.items():
        s = device[key] if key in device else None
        if s is None:
            continue
        tl, plain = s["best_tl"], s["best_no_tl"]
        terms = "–" if tl is None else " / ".join(_s(tl[k]) for k in ("device_s", "tl_s", "transfer_s", "edge_s"))
        rows.append(f"| {name} | {_s(s['local_s'])} | {_split(tl)} | {terms} | {_split(plain)} | "
                    f"{_x(s['speedup_vs_local'])} | {_x(s['speedup_vs_no_tl'])} |")
    return rows


_SUMMARY_HEAD = ["| device | local s | best with TL (split: s) | device / TL / transfer / edge s | best without TL | "
                 "speedup vs local | vs no TL |", "|---|---|---|---|---|---|---|"]


def _paper(doc: dict[str, Any], paper: Any) -> list[str]:
    lines = ["## Beside the paper", "",
             f"Headline (ScissionLite, {paper.source}): **{paper.local_speedup}×** over device-only and "
             f"**{paper.scission_speedup}×** over Scission (no TL).", "",
             "| source | device | speedup vs local | vs no TL |", "|---|---|---|---|"]
    for path in ("released", "emulated"):
        for name, device in (doc.get(path) or {}).get("devices", {}).items():
            s = device["summary"]
            lines.append(f"| {path} | {name} | {_x(s['speedup_vs_local'])} | {_x(s['speedup_vs_no_tl'])} |")
    if paper.figure:
        lines += ["", "Paper figure (DenseNet-169, values read from the plot) beside fpgasim, seconds:", "",
                  "| paper combination | Scission → ScissionLite | privacy: Scission → ScissionLite |", "|---|---|---|"]
        lines += [f"| {f.combination} | {f.scission_s} → {f.scissionlite_s} | {f.privacy_scission_s} → "
                  f"{f.privacy_scissionlite_s} |" for f in paper.figure]
        lines += ["", "| fpgasim | best without TL → with TL | privacy: without → with |", "|---|---|---|"]
        for path in ("released", "emulated"):
            for name, device in (doc.get(path) or {}).get("devices", {}).items():
                s, p = device["summary"], device.get("privacy")
                pair = (lambda x: f"{_split(x['best_no_tl'])} → {_split(x['best_tl'])}")
                lines.append(f"| {path} {name} → {doc[path]['edge']} | {pair(s)} | {pair(p) if p else '–'} |")
    return lines + [""]


def render_report(doc: dict[str, Any], plan: ScissionPlan) -> str:
    """The report's Markdown."""
    study = plan.loaded.study
    net = doc["network"]
    lines = [f"# {study.name}", "",
             f"Network `{net['name']}` ({net['nodes']} nodes): {len(net['blocks'])} blocks between valid split points "
             f"(rule `{net['split_rule']}`). Link: {doc['link']['bandwidth_mbps']} Mb/s, ping "
             f"{doc['link']['ping_ms']} ms ({doc['link']['source']}). Predictor: `{doc['predictor']}` "
             "(`corrected`: the paper's equation, every term once; `released`: the released predictor, which "
             "counts the device TL and data-conversion time twice).", ""]
    released = doc.get("released")
    if released:
        lines += ["## Released data", "", f"Per-block measurements `{released['csv']}` (edge `{released['edge']}`, "
                  ".npy sizes). Best split (label: the Keras layer the split follows):", "", *_SUMMARY_HEAD,
                  *_summary_rows(released["devices"], "summary"), ""]
        if any("privacy" in d for d in released["devices"].values()):
            lines += ["With the privacy constraint:", "", *_SUMMARY_HEAD, *_summary_rows(released["devices"], "privacy"),
                      ""]
        run = released.get("readme_run")
        if run:
            printed = run["printed"]
            lines += [f"### Regression: the released predictor's printed output ({printed['source']})", "",
                      f"`predictor: released`, {run['device']}, {run['bandwidth_mbps']} Mb/s (the bandwidth the "
                      "printed transfer times imply; network_stats.csv says 60):", "",
                      "| rank | fpgasim s | Keras layer | TL MB | printed s | printed layer |", "|---|---|---|---|---|---|"]
            for i, (mine, theirs) in enumerate(zip(run["top"], printed["top"]), start=1):
                lines.append(f"| {i} | {_s(mine['latency_s'])} | {mine['keras_layer']} | {mine['tl_bytes'] / 1e6:.4f} | "
                             f"{theirs[0]:.4f} | {theirs[1]} |")
            lines += ["", f"Transfer of the best split with TL vs without: {_s(run['tl_transfer_s'])} s vs "
                      f"{_s(run['transfer_s'])} s (printed: {printed['tl_transfer_s']} vs {printed['transfer_s']}).", ""]
        lines += ["Alignment of the CSV's Keras blocks with fpgasim's split nodes:", "",
                  "| fpgasim node | Keras layer | same tensor | note |", "|---|---|---|---|"]
        lines += [f"| {a['node']} | {a['keras_layer']} | {a['same_tensor']} | {a['note'] or ''} |"
                  for a in released["alignment"]]
        lines.append("")
    emulated = doc.get("emulated")
    if emulated:
        lines += ["## Emulated (fpgasim devices and link)", "",
                  f"Edge `{emulated['edge']}`; every block timed by the executor, the tensor over the emulated cable.",
                  "", *_SUMMARY_HEAD, *_summary_rows(emulated["devices"], "summary"), ""]
        if any("privacy" in d for d in emulated["devices"].values()):
            lines += ["With the privacy constraint:", "", *_SUMMARY_HEAD, *_summary_rows(emulated["devices"], "privacy"),
                      ""]
    whatif = doc.get("whatif")
    if whatif:
        lines += ["## What-if: from which bandwidth on does the TL stop paying?", "",
                  "Closed-form link (ping + bytes / bandwidth) on every device's split times; predictor as above.", "",
                  "| device | " + " | ".join(f"ping {p} ms" for p in whatif["ping_ms"]) + " |",
                  "|---" * (len(whatif["ping_ms"]) + 1) + "|"]
        for name, curves in whatif["devices"].items():
            cells = []
            for c in curves.values():
                if c["tl_pays_from_mbps"] is None:
                    cells.append("never")
                    continue
                stop = c["tl_stops_paying_mbps"]
                cells.append(f"{c['tl_pays_from_mbps']}–{c['tl_pays_up_to_mbps']} Mb/s; stops by "
                             + (f"{stop} Mb/s" if stop is not None else f"> {whatif['bandwidth_mbps'][-1]} Mb/s"))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "(grid bandwidths at which the best split with the TL beats the best without, and the first "
                  "grid bandwidth above them where it no longer does; latencies in `whatif.png` and results.json)", ""]
    functional = doc.get("functional")
    if functional:
        lines += ["## The TL's numerical effect (functional run)", "",
                  f"Float64 reference with {functional['weights']} weights, seed {functional['seed']}. Accuracy needs "
                  "trained weights (the paper retrains with the TL inserted): out of scope here.", "",
                  "| split | edge input changed | edge input rel. RMS error | output SNR dB | top-1 agreement |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['split']} | {100 * r['edge_input_changed_fraction']:.1f} % | {r['edge_input_rel_rms']:.3f} | "
                  f"{r['output_snr_db']:.1f} | {r['top1_agreement']:.2f} |" for r in functional["splits"]]
        lines.append("")
    if study.paper is not None:
        lines += _paper(doc, study.paper)
    if study.notes:
        lines += ["## Notes", "", study.notes.strip(), ""]
    return "\n".join(lines)


def _split_panels(doc: dict[str, Any]) -> list[Panel]:
    panels = []
    for path in ("released", "emulated"):
        for name, device in (doc.get(path) or {}).get("devices", {}).items():
            rows = device["splits"]
            panels.append(Panel(title=f"{path}: {name} → {doc[path]['edge']}", xlabel="split after",
                                ylabel="latency, s", xticklabels=tuple(r["label"] for r in rows),
                                series={"without TL": [(i, r["latency_no_tl_s"]) for i, r in enumerate(rows)],
                                        "with TL": [(i, r["latency_tl_s"]) for i, r in enumerate(rows)]}))
    return panels


def _whatif_panels(doc: dict[str, Any]) -> list[Panel]:
    whatif = doc["whatif"]
    panels = []
    for name, curves in whatif["devices"].items():
        series = {}
        for ping, curve in curves.items():
            series[f"TL, ping {ping} ms"] = [(p["bandwidth_mbps"], p["best_tl_s"]) for p in curve["points"]]
            series[f"no TL, ping {ping} ms"] = [(p["bandwidth_mbps"], p["best_no_tl_s"]) for p in curve["points"]]
        panels.append(Panel(title=name, xlabel="bandwidth, Mb/s", ylabel="best-split latency, s", series=series,
                            log_x=True, vlines=((doc["link"]["bandwidth_mbps"], "study link"),)))
    return panels


def write_scission(plan: ScissionPlan, out: Path) -> tuple[dict[str, Any], list[Path]]:
    """Compute the study and write its files into ``out`` (all or none)."""
    doc = compute(plan)
    result = {"schema_version": RESULTS_SCHEMA_VERSION, "study": "scission", "name": plan.name, **doc}
    files = OutputSet(out)
    files.add_text("report.md", render_report(doc, plan))
    files.add_json("results.json", result)
    files.add_writer("splits.png", lambda path: save_panels(path, _split_panels(doc),
                                                            title="ScissionLite: latency per split point"))
    if doc.get("whatif"):
        files.add_writer("whatif.png", lambda path: save_panels(path, _whatif_panels(doc),
                                                                title="Best-split latency vs link bandwidth"))
    return result, files.commit()
