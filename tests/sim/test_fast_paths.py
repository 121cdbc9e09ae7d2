"""The emulator's fast paths give exactly the timeline of the plain SimPy formulation.

Fast paths under test (``sim/_arbiter.py``, ``sim/port.py``):

* a finished job's event is fired in place instead of being scheduled (``_fire``);
* a decision requested right after another decision of the same instant joins its event
  (``_schedule_decision``);
* the DMA chunk pipeline is driven by callbacks (``_Pipeline``) instead of a generator, and
  ``start_dma_read`` / ``start_dma_write`` start it without a process.

The slow reference below is the pre-optimisation formulation: ``done.succeed()``, one event
per decision, and the two-stage pipeline as a generator inside ``env.process``. Random
scenarios (several DMA streams with their own ports sharing one DDR channel, same-instant
requests, partial chunks, coalescing on/off, a controller clock) must give the same
completion log (order included), the same per-stream statistics and the same trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import fpgasim.sim._arbiter as arbiter
from fpgasim.errors import BadArgument
from fpgasim.sim import (
    Clock, DdrChannel, Direction, StreamPort, TraceRecorder, dma_read, dma_write, processed_events,
)
from fpgasim.sim._events import LATE
from fpgasim.sim.port import start_dma_read, start_dma_write

CLK_250 = Clock.from_mhz(250)
CLK_300 = Clock.from_mhz(300)


class _SlowDdr(DdrChannel):
    def _on_job_done(self, job):  # the scheduled (not in-place) completion event
        job.done.succeed()
        return None


class _SlowPort(StreamPort):
    def _on_job_done(self, job):
        job.done.succeed()
        return None


def _slow_decision(env, callback):
    """One event per decision (the behaviour before merging)."""
    event = simpy.events.Event(env)
    event._ok, event._value = True, None
    event.callbacks = [callback]
    env.schedule(event, LATE, 0)


@contextmanager
def _unmerged_decisions() -> Iterator[None]:
    fast = arbiter._schedule_decision
    arbiter._schedule_decision = _slow_decision
    try:
        yield
    finally:
        arbiter._schedule_decision = fast


def _slow_pipeline(first, second, sizes):
    if not sizes:
        return
    a_ev = first(sizes[0])
    b_ev = None
    for i in range(len(sizes)):
        yield a_ev
        if b_ev is not None:
            yield b_ev
        if i + 1 < len(sizes):
            a_ev = first(sizes[i + 1])
        b_ev = second(sizes[i])
    yield b_ev


def _slow_dma(ddr, port, stream, nbytes, chunk, write):
    sizes = [chunk] * (nbytes // chunk) + ([nbytes % chunk] if nbytes % chunk else [])
    ddr_stage = (lambda n: ddr.transfer(stream, n, Direction.WRITE if write else Direction.READ))
    port_stage = (lambda n: port.transfer(stream, n))
    if write:
        yield from _slow_pipeline(port_stage, ddr_stage, sizes)
    else:
        yield from _slow_pipeline(ddr_stage, port_stage, sizes)


# one stream: a list of (delay_ps before it, nbytes, write?)
_dmas = st.lists(st.tuples(st.sampled_from([0, 0, 1, 3999, 4000, 17_000]), st.integers(0, 700), st.booleans()),
                 min_size=1, max_size=4)
_scenarios = st.fixed_dictionaries({
    "streams": st.lists(_dmas, min_size=1, max_size=3),
    "chunk": st.sampled_from([16, 64, 100]),
    "burst": st.sampled_from([16, 64]),
    "rate": st.sampled_from([10**9, 3 * 10**9, 16 * 10**9]),
    "widths": st.lists(st.sampled_from([8, 32, 64, 200]), min_size=3, max_size=3),
    "coalesce": st.booleans(),
    "ddr_clock": st.booleans(),
})


def _run(scenario: dict, mode: str) -> tuple:
    """mode: "slow" (reference), "process" (dma_read in a process), "direct" (start_dma_*)."""
    env = simpy.Environment()
    trace = TraceRecorder()
    ddr_cls, port_cls = (_SlowDdr, _SlowPort) if mode == "slow" else (DdrChannel, StreamPort)
    ddr = ddr_cls(env, "ddr", bytes_per_s=scenario["rate"], burst_bytes=scenario["burst"],
                  clock=CLK_300 if scenario["ddr_clock"] else None, coalesce=scenario["coalesce"], trace=trace)
    names = [f"s{k}" for k in range(len(scenario["streams"]))]
    for name in names:
        ddr.register(name)  # fixed round-robin order in every mode
    ports = {name: port_cls(env, f"p_{name}", width_bits=w, clock=CLK_250, trace=trace)
             for name, w in zip(names, scenario["widths"])}
    log = []
    chunk = scenario["chunk"]

    def user(name, dmas):
        for index, (delay_ps, nbytes, write) in enumerate(dmas):
            yield env.timeout(delay_ps)
            if mode == "slow":
                yield env.process(_slow_dma(ddr, ports[name], name, nbytes, chunk, write))
            elif mode == "process":
                fn = dma_write if write else dma_read
                yield env.process(fn(env, ddr, ports[name], name, nbytes, chunk_bytes=chunk))
            else:
                fn = start_dma_write if write else start_dma_read
                yield fn(ddr, ports[name], name, nbytes, chunk_bytes=chunk)
            log.append((name, index, env.now))

    for name, dmas in zip(names, scenario["streams"]):
        env.process(user(name, dmas))
    env.run()
    stats = (ddr.stats(), {n: p.stats() for n, p in ports.items()})
    _EVENTS[mode] = processed_events(env)
    return log, stats, trace.spans, trace.to_chrome_trace()


_EVENTS: dict[str, int] = {}  # processed_events of the last _run per mode


@settings(max_examples=60, deadline=None)
@given(_scenarios)
def test_fast_paths_equal_the_slow_formulation(scenario) -> None:
    with _unmerged_decisions():
        slow = _run(scenario, "slow")
    fast = _run(scenario, "process")
    assert fast == slow  # same log order, stats and trace spans in recording order
    # the fast paths process the same events (fewer through SimPy's queue), plus one completion
    # event per non-empty DMA (the slow pipeline's process waits on its chunks directly)
    dmas = sum(1 for dmas in scenario["streams"] for _, nbytes, _ in dmas if nbytes)
    assert _EVENTS["process"] == _EVENTS["slow"] + dmas
    direct = _run(scenario, "direct")
    # without the process hop, same-instant completions may be logged in another order
    assert sorted(direct[0]) == sorted(slow[0])
    assert direct[1] == slow[1]
    assert sorted(direct[2], key=repr) == sorted(slow[2], key=repr)


def _popped_events(env: simpy.Environment) -> int:
    popped = 0
    while env.peek() != float("inf"):
        env.step()
        popped += 1
    return popped


def test_decisions_of_one_instant_share_an_event() -> None:
    counts = []
    for merged in (True, False):
        env = simpy.Environment()
        ddr = DdrChannel(env, "ddr", bytes_per_s=16 * 10**9, burst_bytes=64)  # 4000 ps / burst
        port = StreamPort(env, "p", width_bits=64, clock=CLK_250)  # 32000 ps / 64 B
        if merged:
            done = start_dma_read(ddr, port, "s", 640)
            counts.append(_popped_events(env))
        else:
            with _unmerged_decisions():
                done = start_dma_read(ddr, port, "s", 640)
                counts.append(_popped_events(env))
        assert done.processed
        assert env.now == 4000 + 9 * 32_000 + 32_000  # port bound: a + (n-1) max(a, b) + b
    # port-bound: the port decision of chunk i and the DDR decision of chunk i+1 are asked
    # together (chunks 0..8), so 9 of the 20 decisions share an event
    assert counts[1] - counts[0] == 9


def test_run_until_a_transfer_still_stops_there() -> None:
    env = simpy.Environment()
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)
    first = ddr.transfer("a", 64)
    ddr.transfer("a", 6400)
    env.run(until=first)  # the completion is scheduled, not fired in place
    assert env.now == 64_000
    assert ddr.stats()["a"].bytes_read == 64


def test_start_dma_bad_arguments_and_zero_bytes() -> None:
    env = simpy.Environment()
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)
    port = StreamPort(env, "p", width_bits=64, clock=CLK_250)
    with pytest.raises(BadArgument, match=r"start_dma_read s: ddr='ddr' must be a fpgasim.sim.DdrChannel"):
        start_dma_read("ddr", port, "s", 10)  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match=r"start_dma_write s: port=None must be a fpgasim.sim.StreamPort"):
        start_dma_write(ddr, None, "s", 10)  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match=r"start_dma_read s: chunk_bytes=0 must be an int > 0"):
        start_dma_read(ddr, port, "s", 10, chunk_bytes=0)
    with pytest.raises(BadArgument, match=r"start_dma_write s: nbytes=-3 must be an int >= 0"):
        start_dma_write(ddr, port, "s", -3)
    done = start_dma_read(ddr, port, "s", 0)
    assert done.triggered
    env.run()
    assert env.now == 0 and ddr.stats() == {}
