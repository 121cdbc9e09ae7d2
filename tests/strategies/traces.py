"""Hypothesis strategies for trace recorders: spans on a few tracks of a few processes.

Spans are drawn with start <= end (what :meth:`fpgasim.sim.TraceRecorder.span` accepts), in
any order, so a test never has to filter.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fpgasim.sim import TraceRecorder

__all__ = ["trace_recorders"]


@st.composite
def trace_recorders(draw, *, max_spans: int = 200) -> TraceRecorder:
    """A recorder holding 0..``max_spans`` spans on up to 2 processes × 3 tracks."""
    trace = TraceRecorder()
    for _ in range(draw(st.integers(0, max_spans))):
        start = draw(st.integers(0, 10**9))
        trace.span(draw(st.sampled_from(["ddr", "compute", "axis_ifm"])), "step", start,
                   start + draw(st.integers(0, 10**6)), process=draw(st.sampled_from(["board0", "board1"])))
    return trace
