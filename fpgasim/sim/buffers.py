"""Ping-pong (multi-bank) on-chip buffers between a producer and a consumer process.

A :class:`PingPong` has ``depth`` banks (2 = classic ping-pong). A bank cycles through
free -> being filled -> full -> being read -> free. The producer reserves a bank *before*
loading a tile into it and the consumer frees it only *after* computing on it, so with
depth 2 the load of tile k+1 overlaps the compute of tile k, and a third load waits::

    def producer(env, buf, ddr):                     def consumer(env, buf):
        for k in range(n):                               for k in range(n):
            yield buf.reserve()   # blocks: no free bank      tile = yield buf.get()
            yield ddr.transfer("ifm", tile_bytes)             yield env.timeout(compute_ps)
            buf.fill(tile_k)      # numpy array or None        buf.release()

``yield buf.put(tile)`` is ``reserve`` + ``fill`` at once (for a producer whose load time
is modelled elsewhere). Tiles come out in fill order. Payloads are opaque: a numpy array
in functional mode, ``None`` in timing mode.

Trace: one span per bank use (``name/bankI``, from reserve to release, named ``tile K``)
and a counter ``name.occupied`` (banks not free).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim.trace import TraceRecorder, active

__all__ = ["PingPong"]


class PingPong:
    """A ``depth``-bank on-chip buffer with blocking reserve/get.

    Args:
        env: SimPy environment.
        name: buffer name (trace track prefix).
        depth: number of banks (>= 1; 2 = ping-pong).
        trace: recorder or None.
        process: board/device name for the trace.

    Raises:
        BadArgument: ``depth`` is not an int >= 1.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        *,
        depth: int = 2,
        trace: TraceRecorder | None = None,
        process: str = "fpgasim",
    ):
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise BadArgument(f"{name}: depth={depth!r} must be an int >= 1")
        self.env = env
        self.name = name
        self.depth = depth
        self._trace = active(trace)
        self._process = process
        self._reserved = 0  # banks handed to the producer so far
        self._filled = 0
        self._got = 0
        self._released = 0
        self._reserve_waiters: deque[Event] = deque()
        self._get_waiters: deque[Event] = deque()
        self._tiles: deque[Any] = deque()
        self._reserve_ps: dict[int, int] = {}
        self.max_occupied = 0

    @property
    def occupied(self) -> int:
        """Banks not free (being filled, full or being read)."""
        return self._reserved - self._released

    @property
    def tiles_done(self) -> int:
        """Tiles released by the consumer so far."""
        return self._released

    def reserve(self) -> Event:
        """Ask for a free bank; the event fires (value: bank index) when one is free."""
        ev = Event(self.env)
        self._reserve_waiters.append(ev)
        self._serve_reserve()
        return ev

    def fill(self, tile: Any = None) -> None:
        """Mark the oldest bank being filled as full, holding ``tile``.

        Raises:
            BadArgument: no bank is reserved and unfilled.
        """
        if self._filled >= self._reserved:
            raise BadArgument(f"{self.name}: fill() without a reserved bank; yield reserve() first")
        self._filled += 1
        self._tiles.append(tile)
        self._serve_get()

    def put(self, tile: Any = None) -> Event:
        """Reserve a bank and fill it with ``tile`` as soon as it is granted."""
        ev = self.reserve()
        ev.callbacks.append(lambda _e: self.fill(tile))
        return ev

    def get(self) -> Event:
        """Ask for the oldest full bank; the event's value is its tile."""
        ev = Event(self.env)
        self._get_waiters.append(ev)
        self._serve_get()
        return ev

    def release(self) -> None:
        """Free the oldest bank being read.

        Raises:
            BadArgument: no bank is being read.
        """
        if self._released >= self._got:
            raise BadArgument(f"{self.name}: release() without a bank being read; yield get() first")
        k = self._released
        self._released += 1
        if self._trace is not None:
            start = self._reserve_ps.pop(k)
            self._trace.span(f"{self.name}/bank{k % self.depth}", f"tile {k}", start, self.env.now,
                             process=self._process, args={"tile": k})
            self._trace.counter(f"{self.name}.occupied", self.env.now, self.occupied, process=self._process)
        self._serve_reserve()

    def _serve_reserve(self) -> None:
        while self._reserve_waiters and self.occupied < self.depth:
            k = self._reserved
            self._reserved += 1
            self.max_occupied = max(self.max_occupied, self.occupied)
            if self._trace is not None:
                self._reserve_ps[k] = self.env.now
                self._trace.counter(f"{self.name}.occupied", self.env.now, self.occupied, process=self._process)
            self._reserve_waiters.popleft().succeed(k % self.depth)

    def _serve_get(self) -> None:
        while self._get_waiters and self._tiles:
            self._got += 1
            self._get_waiters.popleft().succeed(self._tiles.popleft())
