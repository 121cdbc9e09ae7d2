"""Sweep reports: Pareto front, CSV/JSON of all points, PNG, best design per layer, re-check table.

Owns: :func:`pareto_front` (non-dominated points of two objectives, each minimised or
maximised) and :func:`write_reports` (every report file of a sweep, written all-or-nothing
through :class:`~fpgasim.study.common.outputs.OutputSet`). Everything is sorted by point index, so
the same store gives byte-identical CSV/JSON/Markdown.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.study.sweep.evaluate import PointResult, Status
from fpgasim.study.common.outputs import OutputSet
from fpgasim.study.sweep.points import SweepPoint, overrides_text
from fpgasim.study.registry import STUDIES
from fpgasim.study.sweep.spec import MAXIMISE, OBJECTIVE_UNITS, LoadedSweep, Objective

__all__ = ["pareto_front", "write_reports", "REPORT_FILES", "SWEEP_SCHEMA_VERSION", "wide_range", "ties"]

#: Version of the points.json layout.
SWEEP_SCHEMA_VERSION = 1
#: Files written into the sweep's output directory.
REPORT_FILES = ("points.csv", "points.json", "pareto.csv", "pareto.png", "report.md")


def pareto_front(values: np.ndarray, *, maximise: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """Indices of the non-dominated rows of an (n, 2) array, sorted by the first column.

    A row dominates another when it is no worse in both objectives and better in one; equal
    rows do not dominate each other (both are kept).

    Raises:
        BadArgument: not an (n, 2) array of finite numbers.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 2 or not np.all(np.isfinite(values)):
        raise BadArgument(f"pareto_front: values of shape {values.shape}: expected (n, 2) finite numbers")
    signs = np.where(np.asarray(maximise), -1.0, 1.0)
    v = values * signs
    order = np.lexsort((np.arange(len(v)), v[:, 1], v[:, 0]))
    kept: list[int] = []
    best_b = math.inf
    last: tuple[float, float] | None = None
    for i in order:
        a, b = v[i]
        if b < best_b or (last is not None and (a, b) == last):
            kept.append(int(i))
            if b < best_b:
                best_b, last = b, (a, b)
    return np.asarray(kept, dtype=np.int64)


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _row(point: SweepPoint, analytical: PointResult | None, emulated: PointResult | None,
         objectives: list[Objective]) -> dict[str, Any]:
    row: dict[str, Any] = {"index": point.index, "key": point.key, "overrides": point.overrides,
                           "status": analytical.status.value if analytical else "pending",
                           "message": analytical.message if analytical else ""}
    row["analytical"] = {k: _number(v) for k, v in sorted((analytical.objectives if analytical else {}).items())}
    row["layers"] = analytical.layers if analytical else []
    if emulated is not None:
        row["emulated"] = {"status": emulated.status.value, "message": emulated.message,
                           **{k: _number(v) for k, v in sorted(emulated.objectives.items())}}
    return row


def _csv(rows: list[dict[str, Any]], keys: list[str], objectives: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    emulated = sorted({k for row in rows for k in row.get("emulated", {}) if k not in ("status", "message")})
    writer.writerow(["index", "key", *keys, "status", *objectives, *[f"emulated_{k}" for k in emulated],
                     "emulated_status", "message"])
    for row in rows:
        em = row.get("emulated", {})
        writer.writerow([row["index"], row["key"], *[row["overrides"].get(k, "") for k in keys], row["status"],
                         *[row["analytical"].get(o, "") for o in objectives], *[em.get(k, "") for k in emulated],
                         em.get("status", ""), row["message"] or em.get("message", "")])
    return buffer.getvalue()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def _best_per_layer(rows: list[dict[str, Any]]) -> list[list[Any]]:
    best: dict[str, tuple[float, int, dict[str, Any], dict[str, Any]]] = {}
    order: list[str] = []
    for row in rows:
        if row["status"] != Status.OK.value:
            continue
        for layer in row["layers"]:
            name = layer["name"]
            if name not in best:
                order.append(name)
            if name not in best or layer["latency_ms"] < best[name][0]:
                best[name] = (layer["latency_ms"], row["index"], row["overrides"], layer)
    return [[name, best[name][1], overrides_text(best[name][2]) or "base", best[name][0], best[name][3]["tiling"],
             best[name][3]["partition"], best[name][3]["bottleneck"]] for name in order]


#: An axis whose positive values span more than this factor is drawn on a log scale.
LOG_SPAN = 10.0


#: Shared positions labelled with their count at most (beyond it only those on the front).
MAX_TIE_LABELS = 20


def wide_range(values: list[float]) -> bool:
    """True when ``values`` are all positive and span more than :data:`LOG_SPAN` (a log axis
    then shows them; a linear one squeezes the small ones into a flat band)."""
    return bool(values) and min(values) > 0 and max(values) > LOG_SPAN * min(values)


def ties(points: list[tuple[float, float]]) -> dict[tuple[float, float], int]:
    """Positions shared by more than one point → how many (a scatter plot shows them as one)."""
    counts: dict[tuple[float, float], int] = {}
    for point in points:
        counts[point] = counts.get(point, 0) + 1
    return {point: n for point, n in sorted(counts.items()) if n > 1}


def _plot(path: Path, loaded: LoadedSweep, rows: list[dict[str, Any]], front_rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_obj, y_obj = loaded.pareto
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    ok = [r for r in rows if r["status"] == Status.OK.value]
    ax.scatter([r["analytical"][x_obj] for r in ok], [r["analytical"][y_obj] for r in ok], s=12, color="0.6",
               label=f"design points ({len(ok)})")
    ax.plot([r["analytical"][x_obj] for r in front_rows], [r["analytical"][y_obj] for r in front_rows], "o-",
            color="tab:red", ms=5, label=f"Pareto front ({len(front_rows)})", drawstyle="steps-post")
    em = [r for r in rows if r.get("emulated", {}).get("status") == Status.OK.value
          and x_obj in r["emulated"] and y_obj in r["emulated"]]
    if em:
        ax.scatter([r["emulated"][x_obj] for r in em], [r["emulated"][y_obj] for r in em], marker="x",
                   color="tab:blue", s=40, label="emulator re-check")
    shared = ties([(r["analytical"][x_obj], r["analytical"][y_obj]) for r in ok])
    if shared:
        ax.scatter([x for x, _ in shared], [y for _, y in shared], s=80, facecolors="none", edgecolors="black",
                   linewidths=0.8, label=f"points sharing a position ({sum(shared.values())}; ×count)")
        on_front = {(r["analytical"][x_obj], r["analytical"][y_obj]) for r in front_rows}
        for (x, y), n in shared.items():
            if len(shared) <= MAX_TIE_LABELS or (x, y) in on_front:
                ax.annotate(f"×{n}", (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7)
    xs = [r["analytical"][x_obj] for r in ok] + [r["emulated"][x_obj] for r in em]
    ys = [r["analytical"][y_obj] for r in ok] + [r["emulated"][y_obj] for r in em]
    log = (wide_range(xs), wide_range(ys))
    if log[0]:
        ax.set_xscale("log")
    if log[1]:
        ax.set_yscale("log")
    ax.set_xlabel(f"{x_obj} [{OBJECTIVE_UNITS[x_obj]}]" + (", log scale" if log[0] else ""))
    ax.set_ylabel(f"{y_obj} [{OBJECTIVE_UNITS[y_obj]}]" + (", log scale" if log[1] else ""))
    ax.set_title(f"sweep {loaded.spec.name}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def write_reports(out_dir: Path, loaded: LoadedSweep, points: list[SweepPoint], analytical: list[PointResult],
                  emulated: list[PointResult], *, pruned: dict[str, int], total: int) -> list[Path]:
    """Write every report file (all or none) and return their paths.

    Args:
        points: the points after pruning; analytical/emulated: stored results of those points.
        pruned: constraint → points it removed; total: points before pruning.
    """
    by_key_a = {r.key: r for r in analytical}
    by_key_e = {r.key: r for r in emulated}
    objectives = [o.value for o in loaded.spec.objectives]
    keys = list(dict.fromkeys(k for p in points for k in p.overrides))
    rows = [_row(p, by_key_a.get(p.key), by_key_e.get(p.key), loaded.spec.objectives) for p in points]
    x_obj, y_obj = loaded.pareto
    ok = [r for r in rows if r["status"] == Status.OK.value and x_obj in r["analytical"] and y_obj in r["analytical"]]
    front_idx = pareto_front(np.array([[r["analytical"][x_obj], r["analytical"][y_obj]] for r in ok]).reshape(-1, 2),
                             maximise=(x_obj in MAXIMISE, y_obj in MAXIMISE)) if ok else np.zeros(0, np.int64)
    front = [ok[i] for i in front_idx]
    counts = {s.value: sum(r["status"] == s.value for r in rows) for s in Status}
    document = {"schema_version": SWEEP_SCHEMA_VERSION, "sweep": loaded.spec.name, "points_total": total,
                "pruned": pruned, "status_counts": counts, "objectives": objectives, "pareto": [x_obj, y_obj],
                "pareto_front": [r["index"] for r in front], "points": rows}
    out = OutputSet(out_dir)
    out.add_json("points.json", document)
    out.add_text("points.csv", _csv(rows, keys, objectives))
    out.add_text("pareto.csv", _csv(front, keys, objectives))
    out.add_writer("pareto.png", lambda path: _plot(path, loaded, rows, front))
    out.add_text("report.md", _markdown(loaded, rows, front, keys, objectives, pruned=pruned, total=total,
                                        counts=counts))
    return out.commit()


def _markdown(loaded: LoadedSweep, rows, front, keys, objectives, *, pruned, total, counts) -> str:
    x_obj, y_obj = loaded.pareto
    lines = [f"# Sweep {loaded.spec.name}", ""]
    if loaded.spec.description:
        lines += [loaded.spec.description.strip(), ""]
    pruned_text = ", ".join(f"{n} by `{c}`" for c, n in pruned.items() if n) or "none"
    lines += [f"{total} points; pruned before running: {pruned_text}; evaluated: {len(rows)} "
              f"(ok {counts['ok']}, does not fit {counts['does_not_fit']}, error {counts['error']}).", ""]
    model = STUDIES[loaded.kind].sweep_model
    lines += [f"## Pareto front: {x_obj} vs {y_obj} ({model})", "", "![Pareto front](pareto.png)", ""]
    lines += _table(["index", *keys, *objectives],
                    [[r["index"], *[r["overrides"].get(k, "") for k in keys], *[r["analytical"].get(o, "")
                                                                               for o in objectives]] for r in front])
    checked = [r for r in rows if "emulated" in r]
    lines += ["", "## Emulator re-check (analytical vs emulated)", ""]
    if checked:
        lines += ["Each cell: analytical / emulated (difference relative to the analytical value).", ""]
        table = []
        for r in checked:
            em = r["emulated"]
            cells = []
            for o in objectives:
                a, e = r["analytical"].get(o), em.get(o)
                if e is None:
                    cells.append(f"{_fmt(a)} / {em['status'] if em['status'] != 'ok' else '-'}")
                    continue
                diff = "" if a in (None, 0) else f" ({100 * (e - a) / a:+.2f}%)"
                cells.append(f"{_fmt(a)} / {_fmt(e)}{diff}")
            table.append([r["index"], overrides_text(r["overrides"]) or "base", *cells])
        lines += _table(["index", "point", *objectives], table)
    else:
        lines.append("No point was re-checked (recheck.top_k: 0 and no recheck.points).")
    lines += ["", f"## Best design per layer ({model})", ""]
    lines += _table(["layer", "index", "point", "latency_ms", "tiling", "partition", "bottleneck"],
                    _best_per_layer(rows))
    failed = [r for r in rows if r["status"] != Status.OK.value]
    if failed:
        lines += ["", "## Points that did not run", ""]
        lines += _table(["index", "point", "status", "message"],
                        [[r["index"], overrides_text(r["overrides"]), r["status"], r["message"].replace("\n", " ")[:160]]
                         for r in failed[:50]])
    return "\n".join(lines) + "\n"
