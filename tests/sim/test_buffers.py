"""PingPong buffers: load/compute overlap, back-pressure, payload order, trace spans."""

import numpy as np
import pytest

from fpgasim.errors import BadArgument
from fpgasim.sim import PingPong, TraceRecorder


def _producer(env, buf, log, n, load_ps, payload=lambda k: None):
    for k in range(n):
        yield buf.reserve()
        log.append(("load", k, env.now))
        yield env.timeout(load_ps)
        buf.fill(payload(k))


def _consumer(env, buf, log, n, compute_ps, got=None):
    for k in range(n):
        tile = yield buf.get()
        if got is not None:
            got.append(tile)
        yield env.timeout(compute_ps)
        buf.release()
        log.append(("done", k, env.now))


def test_ping_pong_overlaps_load_and_compute_and_applies_back_pressure(env, log) -> None:
    buf = PingPong(env, "ifm", depth=2)
    env.process(_producer(env, buf, log, 4, load_ps=10))
    env.process(_consumer(env, buf, log, 4, compute_ps=30))
    env.run()
    assert sorted(log, key=lambda e: (e[2], e[0])) == [
        ("load", 0, 0),
        ("load", 1, 10),  # tile 1 loads while tile 0 is computed (10-40)
        ("done", 0, 40),
        ("load", 2, 40),  # both banks busy from 20 to 40: the producer waited
        ("done", 1, 70),
        ("load", 3, 70),
        ("done", 2, 100),
        ("done", 3, 130),
    ]
    assert buf.max_occupied == 2
    assert buf.tiles_done == 4


def test_single_bank_serialises_load_and_compute(env, log) -> None:
    buf = PingPong(env, "ifm", depth=1)
    env.process(_producer(env, buf, log, 3, load_ps=10))
    env.process(_consumer(env, buf, log, 3, compute_ps=30))
    env.run()
    assert [e for e in log if e[0] == "done"] == [("done", 0, 40), ("done", 1, 80), ("done", 2, 120)]


def test_load_bound_consumer_waits(env, log) -> None:
    buf = PingPong(env, "ifm", depth=2)
    env.process(_producer(env, buf, log, 3, load_ps=30))
    env.process(_consumer(env, buf, log, 3, compute_ps=10))
    env.run()
    assert [e for e in log if e[0] == "done"] == [("done", 0, 40), ("done", 1, 70), ("done", 2, 100)]


def test_numpy_payloads_come_out_in_order_and_unchanged(env, log) -> None:
    buf = PingPong(env, "w", depth=2)
    tiles = [np.full((2, 3), k, dtype=np.int16) for k in range(5)]
    got: list = []
    env.process(_producer(env, buf, log, 5, load_ps=7, payload=lambda k: tiles[k]))
    env.process(_consumer(env, buf, log, 5, compute_ps=3, got=got))
    env.run()
    assert len(got) == 5
    assert all(g is t for g, t in zip(got, tiles))


def test_put_is_reserve_and_fill(env, log) -> None:
    buf = PingPong(env, "b", depth=2)

    def producer():
        for k in range(3):
            yield buf.put(k)
            log.append(("put", k, env.now))

    def consumer():
        for _ in range(3):
            yield env.timeout(5)
            k = yield buf.get()
            yield env.timeout(5)
            buf.release()
            log.append(("got", k, env.now))

    env.process(producer())
    env.process(consumer())
    env.run()
    assert log == [("put", 0, 0), ("put", 1, 0), ("got", 0, 10), ("put", 2, 10), ("got", 1, 20), ("got", 2, 30)]


def test_trace_spans_per_bank_never_overlap(env, log) -> None:
    trace = TraceRecorder()
    buf = PingPong(env, "ifm", depth=2, trace=trace, process="board0")
    env.process(_producer(env, buf, log, 6, load_ps=10))
    env.process(_consumer(env, buf, log, 6, compute_ps=25))
    env.run()
    assert trace.tracks() == [("board0", "ifm/bank0"), ("board0", "ifm/bank1")]
    for proc, track in trace.tracks():
        spans = sorted((s[3], s[4]) for s in trace.spans if s[1] == track)
        assert len(spans) == 3
        assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:]))
    values = [e["args"]["value"] for e in trace.to_chrome_trace()["traceEvents"] if e["ph"] == "C"]
    assert max(values) == 2 and values[-1] == 0


def test_misuse_is_reported(env) -> None:
    with pytest.raises(BadArgument, match=r"ifm: depth=0 must be an int >= 1"):
        PingPong(env, "ifm", depth=0)
    buf = PingPong(env, "ifm")
    with pytest.raises(BadArgument, match=r"ifm: fill\(\) without a reserved bank"):
        buf.fill(None)
    with pytest.raises(BadArgument, match=r"ifm: release\(\) without a bank being read"):
        buf.release()
