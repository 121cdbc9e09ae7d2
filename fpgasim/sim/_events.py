"""Lean SimPy events for the hot path of the transaction servers (see ``_arbiter``).

Three exact shortcuts, each keeping the order in which SimPy would process everything:

* :class:`_Late` - a triggered event processed in the LATE phase, with only what
  ``env.step`` reads;
* :func:`_schedule_decision` - a decision asked for right after another decision of the
  same instant joins that decision's event;
* :func:`_fire` - a completion fired in place, where SimPy would process it next anyway.

``tests/sim/test_fast_paths.py`` checks them against the plain formulation.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

import simpy
from simpy.core import StopSimulation
from simpy.events import Event

__all__ = ["LATE", "IN_PLACE", "init_in_place_count", "processed_events"]

#: SimPy event priority after NORMAL (1): fires after every ordinary event of its instant.
LATE = 2


class _Late:
    """A triggered event for the LATE phase: only what ``env.step`` reads (lean, hot path).

    ``env.step`` pops it, runs ``callbacks`` and checks ``_ok``; nothing else ever sees it.
    """

    __slots__ = ("callbacks", "time_ps")
    _ok = True
    _value = None

    def __init__(self, env: simpy.Environment, delay_ps: int, callback: Callable[["_Late"], None]):
        self.callbacks = [callback]
        # env.schedule(self, LATE, delay_ps), inlined
        heappush(env._queue, (env._now + delay_ps, LATE, next(env._eid), self))  # noqa: SLF001


def _schedule_decision(env: simpy.Environment, callback: Callable[[_Late], None]) -> None:
    """Run ``callback`` in the LATE phase of now, as its own event would.

    If the last event scheduled in ``env`` (nothing took an event id since) is a decision of
    this instant that has not run yet, ``callback`` is appended to its callbacks instead: a
    new event would get the very next id at the same (time, LATE) and so be processed right
    after it, and decisions only schedule events in the future, so nothing can come between.
    One event less, same order. (The id is still taken: skipping one changes no order.)
    The last decision is remembered on ``env`` itself (no global state).
    """
    eid = next(env._eid)  # noqa: SLF001 - hot path
    last = getattr(env, "_fpgasim_last_decision", None)
    if last is not None and last[1] == eid - 1:
        event = last[0]
        if event.callbacks is not None and event.time_ps == env._now:  # noqa: SLF001
            event.callbacks.append(callback)
            last[1] = eid
            return
    event = _Late.__new__(_Late)
    event.callbacks = [callback]
    event.time_ps = env._now  # noqa: SLF001
    heappush(env._queue, (env._now, LATE, eid, event))  # noqa: SLF001
    if last is None:
        env._fpgasim_last_decision = [event, eid]  # noqa: SLF001
    else:
        last[0] = event
        last[1] = eid


_STOP = StopSimulation.callback  # the callback of env.run(until=event)

#: Attribute of ``env`` counting the events processed in place (``_fire`` and the servers'
#: own job completions): they run their callbacks without passing through SimPy's queue, so
#: SimPy's event ids do not count them.
IN_PLACE = "_fpgasim_in_place"


def init_in_place_count(env: simpy.Environment) -> None:
    """Start the in-place event count of ``env`` (idempotent; every server calls it)."""
    if not hasattr(env, IN_PLACE):
        setattr(env, IN_PLACE, 0)


def processed_events(env: simpy.Environment) -> int:
    """Events processed so far: every event id SimPy handed out (events through its queue, and
    decisions merged into a same-instant decision, whose callbacks run once each) plus the events
    processed in place. Reading SimPy's id counter takes one id (harmless: ids only order
    events), so read it once, after the run."""
    return next(env._eid) + getattr(env, IN_PLACE, 0)  # noqa: SLF001 - SimPy's id counter


def _fire(event: Event) -> None:
    """Succeed ``event`` and run its callbacks now, as ``env.step`` would when it pops it.

    Only called from a LATE callback at the instant the event would be processed anyway:
    ``succeed()`` would schedule it at (now, NORMAL), and nothing of that priority is left
    in the queue at now during the LATE phase, so it would be the very next event popped.
    Running its callbacks in place keeps the order of everything else (only the event's
    own queue entry disappears). Falls back to ``succeed()`` for ``env.run(until=event)``.
    """
    callbacks = event.callbacks
    if _STOP in callbacks:
        event.succeed()
        return
    event._ok = True  # noqa: SLF001 - what Event.succeed does
    event._value = None  # noqa: SLF001
    event.callbacks = None
    event.env._fpgasim_in_place += 1  # noqa: SLF001 - see IN_PLACE
    for callback in callbacks:
        callback(event)
