"""The trace strategy draws only spans a recorder accepts, on the tracks it names."""

from hypothesis import given

from tests.strategies.traces import trace_recorders


@given(trace_recorders())
def test_trace_recorders_hold_valid_spans(trace):
    assert all(start <= end for _, _, _, start, end, _ in trace.spans)
    assert {track for _, track in trace.tracks()} <= {"ddr", "compute", "axis_ifm"}
    assert trace.span_count <= 200
