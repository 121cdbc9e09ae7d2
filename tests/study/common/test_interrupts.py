"""The interrupt helpers: signals become ``Interrupted``, deferred sections stay whole, pools die with an exception."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from fpgasim.study.common.interrupts import (
    Interrupted, WorkerPool, deferred_interrupts, handle_interrupts,
)


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _handlers() -> dict[int, object]:
    return {signo: signal.getsignal(signo) for signo in (signal.SIGINT, signal.SIGTERM)}


@pytest.mark.parametrize("signo, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_becomes_interrupted_and_the_handlers_are_restored(signo, code):
    before = _handlers()
    with pytest.raises(Interrupted) as caught, handle_interrupts():
        os.kill(os.getpid(), signo)
        time.sleep(1)  # the handler raises at the next bytecode
    assert caught.value.exit_code == code
    assert str(caught.value) == f"interrupted by {signal.Signals(signo).name}; nothing was written"
    assert _handlers() == before


def test_a_second_signal_does_not_interrupt_the_clean_up():
    with pytest.raises(Interrupted) as caught, handle_interrupts():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: the first signal wins
            time.sleep(0.1)
    assert caught.value.signo == signal.SIGINT


class _SlowDestructor:
    """A library object whose ``__del__`` is running when the signal arrives."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler raises in here, and Python drops exceptions raised in __del__


def test_a_signal_that_lands_in_a_destructor_is_not_lost():
    before = _handlers()
    with pytest.raises(Interrupted) as caught, handle_interrupts():
        doomed = _SlowDestructor()
        del doomed
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the command would run on if the signal were lost
            pass
    assert caught.value.signo == signal.SIGINT
    assert _handlers() == before


def test_deferred_section_completes_then_raises_with_what_it_kept():
    done = []
    with pytest.raises(Interrupted) as caught, handle_interrupts():
        with deferred_interrupts(kept="all three renamed"):
            for step in range(3):
                os.kill(os.getpid(), signal.SIGTERM)
                done.append(step)
        done.append("after")
    assert done == [0, 1, 2]
    assert caught.value.signo == signal.SIGTERM and caught.value.kept == "all three renamed"


def test_a_pool_left_by_an_exception_kills_its_busy_workers_at_once():
    others = set(multiprocessing.active_children())
    start = time.monotonic()
    with pytest.raises(Interrupted), WorkerPool(2) as pool:
        futures = [pool.submit(_sleep, 30) for _ in range(10)]
        while not all(f.running() for f in futures[:2]):
            time.sleep(0.01)
        raise Interrupted(signal.SIGINT)
    assert time.monotonic() - start < 5
    deadline = time.monotonic() + 2
    while not all(f.done() for f in futures) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(f.done() for f in futures)  # each cancelled or failed (BrokenProcessPool): nobody waits on a dead pool
    while not set(multiprocessing.active_children()) <= others and time.monotonic() < deadline:
        time.sleep(0.01)  # killed workers are reaped a moment later
    assert set(multiprocessing.active_children()) <= others


def test_a_pool_left_normally_waits_for_its_results():
    with WorkerPool(2) as pool:
        futures = [pool.submit(_sleep, 0.2) for _ in range(3)]
    assert all(f.done() and not f.cancelled() for f in futures)


def test_workers_ignore_ctrl_c_sent_to_the_whole_group():
    with WorkerPool(1) as pool:
        pid = pool.submit(_sleep, 0).result()
        os.kill(pid, signal.SIGINT)
        assert pool.submit(_sleep, 0).result() == pid  # the same worker, alive


def test_the_program_ignores_a_signal_that_arrives_after_its_command_finished():
    before = _handlers()
    try:
        with handle_interrupts(then_exit=True):
            pass
        assert set(_handlers().values()) == {signal.SIG_IGN}
    finally:
        for signo, handler in before.items():
            signal.signal(signo, handler)
