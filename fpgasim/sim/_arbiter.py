"""Round-robin transaction server shared by DDR channels, stream ports and link directions.

A server moves *jobs* (``nbytes`` for one named stream) one *unit* (burst, packet) at a time.
Grant policy: when the server is free it picks, among streams with queued jobs, the next
one after the last served stream in registration order (round robin between streams; jobs
of one stream are served FIFO). Decisions are taken in a LATE priority phase, after every
ordinary event of the same instant, so requests made "at the same time" always compete.

Time: a unit of ``b`` bytes occupies ``slots_for(b)`` edges of ``slot_clock`` starting at
the first edge at or after the grant (or, back to back, exactly where the previous unit
ended), and, when ``end_clock`` is given, is observed complete at the first ``end_clock``
edge at or after that. Durations are thus rounded at absolute edges and never accumulate.

Coalescing (``coalesce=True``): while only one stream has work, its whole remaining job is
granted as one transaction (one event instead of one per unit). When another stream
becomes active the run is cut at the first unit boundary at or after that instant, which
gives the same timeline as unit-by-unit arbitration (property-tested).

Speed without changing the timeline (``_events``; ``tests/sim/test_fast_paths.py``): a
finished job's event is fired in place rather than scheduled; decisions asked for one after
another in the same instant share one LATE event; grant times use the clocks' integer
formulas inline; hooks a subclass does not override are not called.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from heapq import heappush
from numbers import Integral

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim._events import LATE, _fire, _Late, _schedule_decision, init_in_place_count
from fpgasim.sim.clock import Clock
from fpgasim.sim.trace import TraceRecorder, active

__all__ = ["Direction", "StreamStats", "RoundRobinServer", "LATE", "check_nbytes"]



class Direction(StrEnum):
    """Direction of a memory transaction, seen from the accelerator."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    """Totals of one stream on one server.

    Attributes:
        bytes_read: bytes moved with ``Direction.READ``.
        bytes_written: bytes moved with ``Direction.WRITE``.
        bytes_moved: all bytes moved (also those without a direction).
        busy_ps: time the server was granted to this stream, in ps.
        grants: number of transactions granted (units, or coalesced runs).
    """

    bytes_read: int
    bytes_written: int
    bytes_moved: int
    busy_ps: int
    grants: int


_READ, _WRITE = Direction.READ, Direction.WRITE  # hot path: an enum member lookup costs ~100 ns


def check_nbytes(owner: str, nbytes: object) -> int:
    """Validate a byte count argument (Python or numpy integer).

    Returns:
        ``nbytes`` as a Python int.

    Raises:
        BadArgument: not an integer >= 0.
    """
    if type(nbytes) is int and nbytes >= 0:  # fast path; bool is not int by type
        return nbytes
    if isinstance(nbytes, bool) or not isinstance(nbytes, Integral) or nbytes < 0:
        raise BadArgument(f"{owner}: nbytes={nbytes!r} must be an int >= 0")
    return int(nbytes)


class _Job:
    """One queued job. With ``done=None`` the job is its own completion object (internal
    callers: it has the ``callbacks`` that the server runs when the job is complete, and saves
    an Event per job). Such a job is never an ``env.run(until=...)`` target, and is complete
    exactly when its ``callbacks`` are None, so it needs no ``_ok`` / ``_value`` of its own."""

    __slots__ = ("stream", "remaining", "delivered", "total", "direction", "done", "callbacks")
    _ok = True
    _value = None

    def __init__(self, stream: str, nbytes: int, direction: Direction | None, done: Event | None):
        self.stream = stream
        self.remaining = nbytes
        self.delivered = 0
        self.total = nbytes
        self.direction = direction
        if done is None:
            self.callbacks: list | None = []
            self.done = self
        else:
            self.done = done


class _Stream:
    __slots__ = ("name", "index", "queue", "read", "written", "moved", "busy", "grants")

    def __init__(self, name: str, index: int):
        self.name = name
        self.index = index
        self.queue: deque[_Job] = deque()
        self.read = self.written = self.moved = self.busy = self.grants = 0


class RoundRobinServer:
    """A resource holding one transaction at a time, granted round robin between streams.

    Args:
        env: the SimPy environment (``env.now`` in int ps).
        name: resource name (trace track).
        slot_clock: the clock whose edges count the transaction time.
        unit_bytes: arbitration granularity in bytes (burst or packet size).
        slots_for: edges of ``slot_clock`` needed by a unit of ``b`` bytes.
        end_clock: optional clock to which completions are rounded up.
        coalesce: grant whole remaining jobs while one stream is alone (same timeline).
        trace: recorder or None.
        process: trace process (board/device) name.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        *,
        slot_clock: Clock,
        unit_bytes: int,
        slots_for: Callable[[int], int],
        end_clock: Clock | None = None,
        coalesce: bool = True,
        trace: TraceRecorder | None = None,
        process: str = "fpgasim",
    ):
        if isinstance(unit_bytes, bool) or not isinstance(unit_bytes, int) or unit_bytes <= 0:
            raise BadArgument(f"{name}: unit_bytes={unit_bytes!r} must be an int > 0")
        self.env = env
        init_in_place_count(env)
        self.name = name
        self.unit_bytes = unit_bytes
        self.coalesce = coalesce
        self._slot_clock = slot_clock
        self._end_clock = end_clock
        self._slots_for = slots_for
        self._unit_slots = slots_for(unit_bytes)
        self._trace = active(trace)
        self._process = process
        self._streams: list[_Stream] = []  # registration order
        self._by_name: dict[str, _Stream] = {}
        self._active = 0  # streams with queued jobs
        self._last = -1  # index of the last served stream
        self._pending: _Late | None = None  # end of the current transaction
        self._late: _Late | None = None  # the last end event made (reused once processed)
        self._finish_bound = self._finish_cb  # bound once (hot path)
        self._decide_bound = self._decide_cb
        self._deciding = False
        self._free_slot = 0
        self._release_ps = -1
        # current transaction: stream, job, nbytes, start_slot, end_slot, start_ps, coalesced
        self._run: tuple[_Stream, _Job, int, int, int, int, bool] | None = None
        self._slot_exact = slot_clock.exact_terms()
        self._end_exact = None if end_clock is None else end_clock.exact_terms()
        self._slots_memo: dict[int, int] = {}
        # hot path: skip calls to hooks a subclass does not override
        cls = type(self)
        self._gated = (cls._can_grant is not RoundRobinServer._can_grant
                       or cls._on_grant is not RoundRobinServer._on_grant)
        self._hooked = (cls._on_unit_done is not RoundRobinServer._on_unit_done
                        or cls._on_job_done is not RoundRobinServer._on_job_done)

    # ----------------------------------------------------------------- public
    def register(self, stream: str) -> None:
        """Add ``stream`` to the round-robin order (done implicitly on first use).

        Raises:
            BadArgument: ``stream`` is not a non-empty str.
        """
        if not isinstance(stream, str) or not stream:
            raise BadArgument(f"{self.name}: stream={stream!r} must be a non-empty str")
        if stream not in self._by_name:
            st = _Stream(stream, len(self._streams))
            self._streams.append(st)
            self._by_name[stream] = st

    def streams(self) -> list[str]:
        """Stream names in registration (round-robin tie-break) order."""
        return [st.name for st in self._streams]

    def stats(self) -> dict[str, StreamStats]:
        """Per-stream totals so far, keyed in registration order."""
        return {
            st.name: StreamStats(bytes_read=st.read, bytes_written=st.written, bytes_moved=st.moved,
                                 busy_ps=st.busy, grants=st.grants)
            for st in self._streams
        }

    def busy_ps(self) -> int:
        """Total time the resource held a transaction, in ps."""
        return sum(st.busy for st in self._streams)

    def submit(self, stream: str, nbytes: int, direction: Direction | None = None) -> Event:
        """Queue a job; the returned event fires when the job is complete."""
        if type(nbytes) is not int or nbytes < 0:
            nbytes = check_nbytes(self.name, nbytes)
        st = self._by_name.get(stream)
        if st is None:
            self.register(stream)
            st = self._by_name[stream]
        done = Event(self.env)
        if nbytes == 0:
            return done.succeed()
        self._enqueue(st, nbytes, direction, done)
        return done

    def _stream(self, stream: str) -> _Stream:
        """The stream record of ``stream``, registering it now if new (as ``submit`` does)."""
        st = self._by_name.get(stream)
        if st is None:
            self.register(stream)
            st = self._by_name[stream]
        return st

    def _enqueue(self, st: _Stream, nbytes: int, direction: Direction | None, done: Event | None,
                 reuse: _Job | None = None) -> _Job:
        """Queue a checked job of ``nbytes`` > 0; ``job.done`` is fired when it is complete.

        ``reuse``: a complete job of ``st`` that was its own completion, with this ``direction``
        and no remaining reference but the caller's; it is queued again for ``nbytes`` instead
        of a new job (the DMA pipeline's stages have one job in flight each).

        Returns:
            The job; with ``done=None`` it is its own completion object (see ``_Job``).
        """
        queue = st.queue
        if reuse is None:
            job = _Job(st.name, nbytes, direction, done)
        else:
            job = reuse
            job.remaining = job.total = nbytes
            job.delivered = 0
            job.callbacks = []
        queue.append(job)
        if len(queue) == 1:
            self._active += 1
            run = self._run
            if run is not None and run[6] and run[0] is not st:
                self._cut()
        if self._run is None and not self._deciding:  # _kick(), inlined
            self._deciding = True
            _schedule_decision(self.env, self._decide_bound)
        return job

    # ------------------------------------------------------------ subclass hooks
    def _can_grant(self) -> bool:
        return True

    def _on_grant(self, job: _Job, nbytes: int) -> None:
        """Called when a unit/run is granted."""

    def _on_unit_done(self, job: _Job, nbytes: int) -> None:
        """Called when ``nbytes`` of ``job`` finished on the resource (default: nothing)."""

    def _on_job_done(self, job: _Job) -> Event | None:
        """Called when ``job`` is complete; returns an event to fire after the next decision."""
        return job.done

    # --------------------------------------------------------------- internals
    def _kick(self) -> None:
        if self._run is None and not self._deciding and self._active:
            self._deciding = True
            _schedule_decision(self.env, self._decide_bound)

    def _decide_cb(self, _event: _Late) -> None:
        self._deciding = False
        if self._run is None and self._active:
            self._decide()

    def _end_ps(self, end_slot: int) -> int:
        t = self._slot_clock.time_of(end_slot)
        if self._end_clock is not None:
            t = self._end_clock.time_of(self._end_clock.edge_at_or_after(t))
        return t

    def _run_slots(self, nbytes: int) -> int:
        full, rest = divmod(nbytes, self.unit_bytes)
        return full * self._unit_slots + (self._slots_for(rest) if rest else 0)

    def _decide(self) -> None:
        if not self._active or (self._gated and not self._can_grant()):
            return
        streams = self._streams
        if len(streams) == 1:
            st = streams[0]
        else:
            n = len(streams)
            i = self._last + 1
            while True:
                if i >= n:
                    i = 0
                st = streams[i]
                if st.queue:
                    break
                i += 1
        job = st.queue[0]
        env = self.env
        now = env._now  # noqa: SLF001 - hot path
        unit = self.unit_bytes
        remaining = job.remaining
        coalesced = self.coalesce and self._active == 1 and remaining > unit
        if coalesced:
            nbytes = remaining
            slots = self._run_slots(remaining)
        elif remaining >= unit:
            nbytes = unit
            slots = self._unit_slots
        else:
            nbytes = remaining
            slots = self._slots_memo.get(remaining)
            if slots is None:
                slots = self._slots_memo[remaining] = self._slots_for(remaining)
        # Clock.edge_at_or_after / Clock.time_of, inlined (hot path; same integer formulas)
        num2, den, den2 = self._slot_exact
        if now == self._release_ps:
            start_slot = self._free_slot
        else:
            top = den2 * now - den
            start_slot = 0 if top <= 0 else -((-top) // num2)
        end_slot = start_slot + slots
        end_ps = (end_slot * num2 + den) // den2
        if self._end_exact is not None:
            e_num2, e_den, e_den2 = self._end_exact
            top = e_den2 * end_ps - e_den
            end_ps = 0 if top <= 0 else (-((-top) // e_num2) * e_num2 + e_den) // e_den2
        self._run = (st, job, nbytes, start_slot, end_slot, now, coalesced)
        if self._gated:
            self._on_grant(job, nbytes)
        late = self._late
        if late is not None and late.callbacks is None:  # processed: reuse it (no allocation)
            late.callbacks = [self._finish_bound]
            heappush(env._queue, (end_ps, LATE, next(env._eid), late))  # noqa: SLF001
        else:
            late = self._late = _Late(env, end_ps - now, self._finish_bound)
        self._pending = late

    def _cut(self) -> None:
        """Shorten the coalesced run to the first unit boundary at or after now."""
        stream, job, nbytes, start_slot, end_slot, start_ps, _ = self._run
        now = self.env.now
        if self._end_clock is None:
            min_slot = self._slot_clock.edge_at_or_after(now)
        else:
            e = self._end_clock.edge_at_or_after(now)
            min_slot = 0 if e == 0 else self._slot_clock.edge_at_or_after(self._end_clock.time_of(e - 1) + 1)
        k = max(1, -((start_slot - min_slot) // self._unit_slots))
        if k * self.unit_bytes >= nbytes:
            self._run = (stream, job, nbytes, start_slot, end_slot, start_ps, False)
            return
        new_end = start_slot + k * self._unit_slots
        self._run = (stream, job, k * self.unit_bytes, start_slot, new_end, start_ps, False)
        self._pending = self._late = _Late(self.env, self._end_ps(new_end) - now, self._finish_cb)

    def _finish_cb(self, event: _Late) -> None:
        if event is not self._pending:
            return  # superseded by a cut
        st, job, nbytes, _start_slot, end_slot, start_ps, _ = self._run
        now = self.env._now  # noqa: SLF001 - hot path
        direction = job.direction
        if direction is _READ:
            st.read += nbytes
        elif direction is _WRITE:
            st.written += nbytes
        st.moved += nbytes
        st.busy += now - start_ps
        st.grants += 1
        if self._trace is not None:
            args = {"bytes": nbytes}
            if direction is not None:
                args["direction"] = str(direction)
            self._trace.span(self.name, st.name, start_ps, now, process=self._process, args=args)
        self._free_slot = end_slot
        self._release_ps = now
        self._last = st.index
        self._run = None
        self._pending = None
        job.remaining -= nbytes
        if self._hooked:
            self._on_unit_done(job, nbytes)
        done = None
        if job.remaining == 0:
            queue = st.queue
            queue.popleft()
            if not queue:
                self._active -= 1
            done = self._on_job_done(job) if self._hooked else job.done
        if self._active:
            self._decide()
        if done is job:  # its own completion: _fire without the env.run(until=...) check
            callbacks = job.callbacks
            job.callbacks = None
            self.env._fpgasim_in_place += 1  # noqa: SLF001 - see _events.IN_PLACE
            for callback in callbacks:
                callback(job)
        elif done is not None:
            _fire(done)
