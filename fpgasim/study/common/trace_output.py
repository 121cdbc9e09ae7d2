"""Which trace a run writes: every span, or beyond a limit a summary that says so.

Owns: :func:`trace_to_write` — a run that recorded more than ``--max-trace-spans`` spans writes
:meth:`~fpgasim.sim.TraceRecorder.summary` (busy intervals per resource) instead of hundreds of
MB of trace.json, and its report says so with the sentence returned here.
"""

from __future__ import annotations

from fpgasim.sim import TraceRecorder

__all__ = ["trace_to_write"]


def trace_to_write(trace: TraceRecorder, max_spans: int) -> tuple[TraceRecorder, str | None]:
    """The trace itself, or beyond ``max_spans`` spans its summary and a sentence saying so."""
    if trace.span_count <= max_spans:
        return trace, None
    summary = trace.summary(max_spans=max_spans)
    return summary, (f"trace.json is a summary: the run recorded {trace.span_count:,} spans, more than "
                     f"--max-trace-spans {max_spans:,}, so each resource's spans are merged into busy intervals "
                     f"({summary.span_count:,} in all; `args.spans` counts the spans each covers). Run again with "
                     f"--max-trace-spans {trace.span_count} for every span.")
