"""Figures: the Gantt timeline of a run and the speedup-versus-boards plot.

Owns: rendering with matplotlib's non-interactive Agg backend (no display needed), merging
spans that touch so a timeline of thousands of transactions stays readable, the resource kind
of a trace track (one colour each), and writing PNGs
to the path an :class:`~fpgasim.study.common.outputs.OutputSet` gives (format stated explicitly,
since that path ends in ``.tmp``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.patches import Patch  # noqa: E402

from fpgasim.sim import TraceRecorder, merge_spans, us_from_ps  # noqa: E402

__all__ = ["save_timeline", "save_speedup_plot", "save_device_speedup_plot", "SpeedupPoint", "Panel", "save_panels",
           "resource_kind", "LayerSpan", "RESOURCE_KINDS", "save_figure", "finish_axes"]

#: Timeline rows shown at most (the busiest tracks first within each board).
MAX_TRACKS = 40

#: Resource kinds of the timeline's rows, in legend order, each with its colour.
RESOURCE_KINDS = {"compute": "tab:blue", "stream port": "tab:orange", "DDR": "tab:green", "link": "tab:red",
                  "other": "tab:grey"}

#: A layer (graph node) on the timeline: name, start ps, end ps.
LayerSpan = tuple[str, int, int]


def save_figure(fig, path: Path, *, dpi: int = 110) -> None:
    """Lay out, write as PNG (format explicit: the path ends in ``.tmp``) and free ``fig``."""
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=dpi)
    plt.close(fig)


def finish_axes(ax, title: str, *, legend_fontsize: int = 8) -> None:
    """The house style of a line plot's axes: a light grid, a small legend, the title."""
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=legend_fontsize)
    ax.set_title(title)


def resource_kind(track: str) -> str:
    """The kind of a trace track, from its last name part (``board0.compute`` → compute)."""
    last = track.rsplit(".", 1)[-1]
    if last in ("compute", "pool", "vector", "cores"):
        return "compute"
    if last.startswith("axis_"):
        return "stream port"
    if "ddr" in last:
        return "DDR"
    if last in ("fwd", "rev"):
        return "link"
    return "other"


def save_timeline(trace: TraceRecorder, path: Path, *, title: str, layers: Sequence[LayerSpan] = ()) -> None:
    """Gantt chart: one row per engine, port, DDR channel and link direction, coloured by kind
    (with a legend), and each layer's (node's) name over a dotted line at its start.

    Args:
        trace: the run's recorder.
        path: where to write the PNG.
        title: figure title.
        layers: layers or graph nodes in start order; their boundaries are drawn.
    """
    per_track: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for process, track, _name, start, end, _args in trace.spans:
        if "/bank" in track:
            continue
        per_track[(process, track)].append((start, end))
    end_ps = max((end for spans in per_track.values() for _, end in spans), default=1)
    keys = sorted(per_track)[:MAX_TRACKS]
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(keys) + 2.2))
    for row, key in enumerate(keys):
        bars = merge_spans(per_track[key], end_ps // 2000)
        ax.broken_barh([(us_from_ps(a), us_from_ps(b - a)) for a, b, _ in bars], (row - 0.4, 0.8),
                       color=RESOURCE_KINDS[resource_kind(key[1])])
    for name, start_ps, _end_ps in layers:
        ax.axvline(us_from_ps(start_ps), color="black", linestyle=":", linewidth=0.8)
        ax.annotate(name, (us_from_ps(start_ps), 0), xycoords=("data", "axes fraction"), xytext=(2, 2),
                    textcoords="offset points", rotation=90, fontsize=7, va="bottom")
    shown = sorted({resource_kind(track) for _, track in keys}, key=list(RESOURCE_KINDS).index)
    ax.legend(handles=[Patch(color=RESOURCE_KINDS[kind], label=kind) for kind in shown], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_yticks(range(len(keys)), [track for _, track in keys], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time (µs)")
    ax.set_title(title)
    save_figure(fig, path)


def save_speedup_plot(path: Path, *, curves: dict[str, list[tuple[int, float]]],
                      paper: tuple[int, float, str] | None, title: str) -> None:
    """Speedup vs number of boards, one line per network, the linear line and the paper's point.

    Args:
        path: where to write the PNG.
        curves: network → [(boards, speedup), ...].
        paper: (boards, speedup, label) of the published point, or None.
        title: figure title.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    counts = sorted({b for points in curves.values() for b, _ in points} | {1})
    ax.plot(counts, counts, linestyle="--", color="grey", label="linear speedup")
    for name, points in sorted(curves.items()):
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=name)
    if paper is not None:
        ax.plot([paper[0]], [paper[1]], marker="*", markersize=14, linestyle="none", color="red", label=paper[2])
    ax.set_xlabel("boards")
    ax.set_ylabel("speedup over baseline (a)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts)
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    finish_axes(ax, title)
    save_figure(fig, path)


#: A labelled point of a speedup plot: (devices, speedup, configuration label).
SpeedupPoint = tuple[int, float, str]


def save_device_speedup_plot(path: Path, *, curves: dict[str, list[SpeedupPoint]], paper: list[SpeedupPoint],
                             title: str) -> None:
    """Speedup vs devices for one network: each series' configurations (several may share a device
    count, e.g. split8 and split8-f40), the paper's points beside them, and the linear line.

    Args:
        path: where to write the PNG.
        curves: series name → its points (the first series' points are labelled).
        paper: the published points (drawn as red stars, labelled).
        title: figure title.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    counts = sorted({d for points in curves.values() for d, _, _ in points} | {d for d, _, _ in paper} | {1})
    ax.plot(counts, counts, linestyle="--", color="grey", label="linear speedup")
    for name, points in curves.items():
        xs, ys, _ = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", linestyle="none", label=name)
    if paper:
        xs, ys, _ = zip(*paper, strict=True)
        ax.plot(xs, ys, marker="*", markersize=12, linestyle="none", color="red", label="paper")
    for d, s, label in next(iter(curves.values()), []):
        ax.annotate(label, (d, s), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("devices")
    ax.set_ylabel("speedup over one device")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(counts)
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    finish_axes(ax, title)
    save_figure(fig, path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    """One axes of :func:`save_panels`.

    Attributes:
        title, xlabel, ylabel: texts. series: label → [(x, y), ...] (y None: no point there).
        log_x: logarithmic x axis. xticklabels: names of the integer x positions 0, 1, ... (empty: numbers).
        vlines: (x, label) dashed vertical markers.
    """

    title: str
    xlabel: str
    ylabel: str
    series: dict[str, list[tuple[float, float | None]]]
    log_x: bool = False
    xticklabels: tuple[str, ...] = ()
    vlines: tuple[tuple[float, str], ...] = field(default_factory=tuple)


def save_panels(path: Path, panels: Sequence[Panel], *, title: str) -> None:
    """Line plots, one per panel, two panels per row (the ScissionLite per-split and what-if figures)."""
    columns = min(2, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.0 * columns, 4.8 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, panel in zip(axes.flat, panels):
        for label, points in panel.series.items():
            xs = [x for x, y in points if y is not None]
            ax.plot(xs, [y for _, y in points if y is not None], marker="o", markersize=3, label=label)
        for x, label in panel.vlines:
            ax.axvline(x, linestyle="--", color="grey", linewidth=0.8)
            ax.annotate(label, (x, 0.98), xycoords=("data", "axes fraction"), fontsize=7, rotation=90, va="top")
        if panel.log_x:
            ax.set_xscale("log")
        if panel.xticklabels:
            ax.set_xticks(range(len(panel.xticklabels)))
            ax.set_xticklabels(panel.xticklabels, rotation=90, fontsize=6)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.set_title(panel.title, fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, path)
