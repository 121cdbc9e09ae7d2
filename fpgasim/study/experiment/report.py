"""Human-readable reports of a run: the per-layer table (terminal, Markdown, CSV) and the files.

Owns: the columns of the per-layer table and their units, and :func:`write_run`, which queues
``results.json``, ``layers.csv``, ``report.md``, ``timeline.png`` and ``trace.json`` into one
atomic :class:`~fpgasim.study.common.outputs.OutputSet`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fpgasim.study.common.outputs import OutputSet
from fpgasim.study.common.plots import LayerSpan, save_timeline
from fpgasim.study.common.trace_output import trace_to_write
from fpgasim.study.experiment.runner import RunResult
from fpgasim.study.protocol import Limits

__all__ = ["COLUMNS", "layer_rows", "markdown_table", "write_run", "run_markdown", "layer_spans"]

#: (header, results.json key, format) of the per-layer table.
COLUMNS = (
    ("layer", "name", "{}"),
    ("Tm,Tn,Tr,Tc", "tiling", "{}"),
    ("Pb,Pr,Pc,Pm", "partition", "{}"),
    ("cycles", "cycles", "{:,}"),
    ("time ms", "time_ms", "{:.3f}"),
    ("GOP/s", "gops", "{:.1f}"),
    ("DSP-array util", "dsp_array_utilisation", "{:.0%}"),
    ("DDR read MB", "ddr_read_bytes", "{:.2f}"),
    ("DDR write MB", "ddr_write_bytes", "{:.2f}"),
    ("link MB", "link_bytes", "{:.2f}"),
    ("redistribution cycles", "redistribution_cycles", "{:,}"),
    ("bottleneck (emulator)", "bottleneck", "{}"),
    ("model cycles", "analytical_cycles", "{:,.0f}"),
    ("emu vs model", "analytical_diff_pct", "{:+.2f}%"),
    ("bottleneck (model)", "analytical_bottleneck", "{}"),
)


def _cell(key: str, fmt: str, value: object) -> str:
    if value is None:
        return "–"
    if key in ("tiling", "partition"):
        return ",".join(str(v) for v in value.values())
    if key.endswith("_bytes"):
        value = value / 1e6
    return fmt.format(value)


def layer_rows(result: RunResult) -> list[list[str]]:
    """The table's rows as strings, one per layer, plus a total row."""
    rows = []
    for layer in result.layers:
        entry = layer.to_dict()
        rows.append([_cell(key, fmt, entry[key]) for _, key, fmt in COLUMNS])
    summary = result.summary()
    total = {"name": "total", "cycles": result.cycles, "time_ms": result.time_ms, "gops": summary["throughput_gops"],
             "ddr_read_bytes": summary["ddr_read_bytes"], "ddr_write_bytes": summary["ddr_write_bytes"],
             "link_bytes": summary["link_bytes"], "redistribution_cycles": result.redistribution_cycles,
             "analytical_cycles": result.analytical_cycles,
             "analytical_diff_pct": 100.0 * (result.cycles - result.analytical_cycles) / result.analytical_cycles}
    rows.append([_cell(key, fmt, total[key]) if key in total else "" for _, key, fmt in COLUMNS])
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def run_markdown(result: RunResult, *, trace_note: str | None = None) -> str:
    """``report.md``: what ran, the per-layer table, the functional check, how to read it, and
    ``trace_note`` (what trace.json holds when it is a summary)."""
    setup = result.setup
    spec = setup.experiment.spec
    lines = [
        f"# {spec.name}\n",
        f"{spec.description or ''}\n",
        f"- network: `{setup.network.name}` (batch {setup.network.batch}); skipped (not emulated): "
        f"{', '.join(setup.skipped) or 'none'}",
        f"- boards: {setup.boards} × `{setup.board.id}`"
        + (f", link `{spec.cluster.link}` ({spec.cluster.topology})" if setup.boards > 1 else ""),
        f"- kernel: `{setup.design.name}` ({setup.design.precision.describe()}, {setup.design.clock_mhz:g} MHz, "
        f"{setup.design.engine_label}); DSP {result.dsp}, BRAM18 {result.bram18} per board",
        f"- DDR channel `{spec.memory.channel}`: {setup.ddr_bytes_per_s / 1e9:.2f} GB/s sustained; stream rates "
        f"(elements/cycle) w={setup.rates.weights:g} i={setup.rates.ifm:g} o={setup.rates.ofm:g}"
        + (f" link={setup.rates.link:g}" if setup.rates.link else ""),
        f"- mode: {result.mode}; tiling policy: {spec.tiling.policy}\n",
        "## Per layer\n",
        markdown_table([header for header, _, _ in COLUMNS], layer_rows(result)),
        f"Released Super-LIP model (no halo, no fill/drain) for the same plan: "
        f"{result.released_cycles:,.0f} cycles.\n",
    ]
    if result.bit_exact is not None:
        worst = max((layer.emulated.max_abs_error or 0.0) for layer in result.layers)
        lines.append("## Functional check\n")
        lines.append(f"Assembled outputs vs the direct kernel: **{'bit exact' if result.bit_exact else 'not bit exact'}** "
                     f"(largest |difference| {worst:.3g}; fixed point must be bit exact, fp32 differs only by "
                     "the tile-wise float summation order).\n")
    lines.append("How to read this: `cycles` are emulated engine-clock cycles from a layer's first load to its "
                 "last store; `bottleneck (emulator)` is the resource with the highest busy fraction during the "
                 "layer (see `busy` in results.json); `redistribution cycles` move the previous layer's outputs "
                 "between boards when the partition changes (before the layer; in the total, not in the model); "
                 "`model cycles` is the complete analytical model for the same tiling; a gap above ~1% names "
                 "contention or latency the model does not see. Pooling rows run on the pooling unit "
                 f"({setup.design.pooling_lanes} window operations per cycle; Tm = Tn = channels per tile), count "
                 "window operations as MACs and are modelled by the pooling pipeline recurrence "
                 "(docs/emulated-layers.md); FC rows run on the MAC array as 1×1 convolutions on a 1×1 map.\n")
    if trace_note is not None:
        lines.append(f"## Trace\n\n{trace_note}\n")
    return "\n".join(lines)


def _csv(result: RunResult) -> str:
    buffer = io.StringIO()
    keys = [key for _, key, _ in COLUMNS if key not in ("tiling", "partition")]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "tm", "tn", "tr", "tc", "pb", "pr", "pc", "pm", *keys[1:]])
    for layer in result.layers:
        entry = layer.to_dict()
        writer.writerow([entry["name"], *entry["tiling"].values(), *entry["partition"].values(),
                         *(entry[key] for key in keys[1:])])
    return buffer.getvalue()


def layer_spans(result: RunResult) -> list[LayerSpan]:
    """Each layer's (name, start ps, end ps) on the timeline: layers run one after another, each
    after its redistribution."""
    ps_per_cycle = 1e6 / result.setup.clock_mhz
    spans, cycles = [], 0
    for layer in result.layers:
        cycles += layer.emulated.redistribution_cycles
        spans.append((layer.emulated.name, round(cycles * ps_per_cycle),
                      round((cycles + layer.emulated.cycles) * ps_per_cycle)))
        cycles += layer.emulated.cycles
    return spans


def write_run(result: RunResult, out_dir: Path, *, max_trace_spans: int = Limits().max_trace_spans) -> list[Path]:
    """Write the run's files atomically (all or none) and return their paths; beyond
    ``max_trace_spans`` spans trace.json is a summary (said in report.md)."""
    out = OutputSet(out_dir)
    trace, note = (None, None) if result.emulation.trace is None else \
        trace_to_write(result.emulation.trace, max_trace_spans)
    out.add_json("results.json", result.to_dict())
    out.add_text("layers.csv", _csv(result))
    out.add_text("report.md", run_markdown(result, trace_note=note))
    if trace is not None:
        out.add_text("trace.json", json.dumps(trace.to_chrome_trace(), sort_keys=True) + "\n")
        full = result.emulation.trace
        out.add_writer("timeline.png", lambda path: save_timeline(full, path, title=result.setup.experiment.spec.name,
                                                                  layers=layer_spans(result)))
    return out.commit()
