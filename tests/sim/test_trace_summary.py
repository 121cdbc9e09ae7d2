"""A summary trace: at most max_spans busy intervals that cover every recorded span."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.sim import TraceRecorder, merge_spans
from tests.strategies.traces import trace_recorders


@settings(max_examples=60, deadline=None)
@given(trace_recorders(), st.integers(1, 50))
def test_summary_fits_covers_and_counts_every_span(trace, max_spans):
    summary = trace.summary(max_spans=max_spans)
    tracks = trace.tracks()
    assert summary.span_count <= max(max_spans, len(tracks))  # at least one interval per track
    assert summary.tracks() == tracks
    assert sum(args["spans"] for *_, args in summary.spans) == trace.span_count
    for process, track, _, start, end, _ in trace.spans:  # every span lies inside a busy interval
        assert any(p == process and t == track and a <= start and end <= b
                   for p, t, _, a, b, _ in summary.spans)


def test_summary_keeps_a_small_trace_span_for_span():
    trace = TraceRecorder()
    trace.span("ddr", "read", 0, 10)
    trace.span("ddr", "read", 100, 110)
    assert [(s[3], s[4], s[5]) for s in trace.summary(max_spans=10).spans] == [(0, 10, {"spans": 1}),
                                                                                (100, 110, {"spans": 1})]
    assert [(s[3], s[4], s[5]) for s in trace.summary(max_spans=1).spans] == [(0, 110, {"spans": 2})]


def test_merge_spans_sorts_and_joins_within_the_gap():
    assert merge_spans([(20, 30), (0, 10), (11, 15)], 1) == [(0, 15, 2), (20, 30, 1)]


def test_summary_refuses_no_spans():
    with pytest.raises(BadArgument, match="max_spans=0: expected >= 1"):
        TraceRecorder().summary(max_spans=0)
