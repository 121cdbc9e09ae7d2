"""TraceRecorder: Chrome trace-event export, non-overlapping resource spans, determinism."""

import json

import pytest
import simpy

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, DdrChannel, LinkDirection, PingPong, StreamPort, TraceRecorder, dma_read


def _scenario(trace: TraceRecorder | None) -> simpy.Environment:
    env = simpy.Environment()
    ddr = DdrChannel(env, "ddr0", bytes_per_s=3 * 10**9, burst_bytes=64, trace=trace, process="board0")
    port = StreamPort(env, "axis", width_bits=128, clock=Clock.from_mhz(300), trace=trace, process="board0")
    link = LinkDirection(env, "b0->b1", effective_bits_per_s=10**10, fixed_latency_ps=50_000,
                         packet_bytes=256, fifo_bytes=1024, trace=trace, process="board0")
    buf = PingPong(env, "ifm", trace=trace, process="board0")

    def producer():
        for _ in range(4):
            yield buf.reserve()
            yield env.process(dma_read(env, ddr, port, "ifm", 500))
            buf.fill(None)

    def consumer():
        for _ in range(4):
            yield buf.get()
            yield env.timeout(90_000)
            buf.release()
            yield link.send("ofm", 700)

    def other():
        yield ddr.transfer("wgt", 3000)

    def receiver():
        yield link.consume(2800)

    for proc in (producer(), consumer(), other(), receiver()):
        env.process(proc)
    env.run()
    assert type(env.now) is int  # every delay was an int number of ps
    return env


def test_chrome_trace_round_trips_and_has_the_required_keys() -> None:
    trace = TraceRecorder()
    _scenario(trace)
    doc = json.loads(json.dumps(trace.to_chrome_trace()))
    assert doc["displayTimeUnit"] == "ns"
    events = doc["traceEvents"]
    phases = {e["ph"] for e in events}
    assert phases == {"M", "X", "C"}
    for e in events:
        assert {"ph", "name", "pid", "tid"} <= e.keys()
        if e["ph"] == "X":
            assert {"ts", "dur", "cat", "args"} <= e.keys()
            assert e["dur"] >= 0
            assert e["ts"] == e["args"]["start_ps"] / 1e6
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"ddr0", "axis", "b0->b1", "ifm/bank0", "ifm/bank1"}
    xs = [e for e in events if e["ph"] != "M"]
    assert xs == sorted(xs, key=lambda e: e["ts"])


@pytest.mark.parametrize("track", ["ddr0", "axis", "b0->b1"])
def test_spans_of_one_transaction_resources_never_overlap(track: str) -> None:
    trace = TraceRecorder()
    _scenario(trace)
    spans = sorted((s[3], s[4]) for s in trace.spans if s[1] == track)
    assert len(spans) > 3
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert trace.busy_ps(track, process="board0") == sum(e - s for s, e in spans)


def test_same_inputs_give_byte_identical_traces() -> None:
    first, second = TraceRecorder(), TraceRecorder()
    _scenario(first)
    _scenario(second)
    a = json.dumps(first.to_chrome_trace(), sort_keys=True)
    assert a == json.dumps(second.to_chrome_trace(), sort_keys=True)


def test_disabled_or_absent_recorder_records_nothing_and_changes_no_time() -> None:
    off = TraceRecorder(enabled=False)
    on = TraceRecorder()
    assert _scenario(off).now == _scenario(None).now == _scenario(on).now
    assert off.spans == [] and off.to_chrome_trace()["traceEvents"] == []


def test_busy_ps_merges_overlaps_and_tracks_are_sorted() -> None:
    trace = TraceRecorder()
    trace.span("t", "a", 0, 10)
    trace.span("t", "b", 5, 20)
    trace.span("t", "c", 30, 35)
    trace.span("u", "x", 0, 1, process="b1")
    assert trace.busy_ps("t") == 25
    assert trace.tracks() == [("b1", "u"), ("fpgasim", "t")]


def test_backwards_span_is_rejected() -> None:
    with pytest.raises(BadArgument, match=r"trace span t/a: end_ps=1 < start_ps=2"):
        TraceRecorder().span("t", "a", 2, 1)
