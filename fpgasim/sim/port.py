"""Stream ports (AXI-stream / DMA ports) and DMA processes through a port and a DDR channel.

A :class:`StreamPort` moves ``width_bits`` per cycle of its clock: a transaction of
``nbytes`` takes ``ceil(nbytes * 8 / width_bits)`` cycles, starting at the first edge at
or after the grant (back-to-back transactions continue at the exact edge where the
previous one ended). One transaction at a time; several streams sharing a port are
served round robin, one whole transaction each (or ``unit_bytes`` at a time).

DMA overlap rule (:func:`dma_read`, :func:`dma_write`): the transfer is cut into chunks
of ``chunk_bytes`` (default: the DDR burst). Reads go DDR -> port, writes port -> DDR;
call the first stage A and the second B. Chunk ``i`` enters B when A has finished chunk
``i`` and B has finished chunk ``i-1``; at that same instant A is asked for chunk ``i+1``
(a two-chunk skid buffer: one chunk in B, one in A). Uncontended, with per-chunk times
``a`` and ``b``, ``n`` equal chunks take exactly ``a + (n-1) * max(a, b) + b``: the rate is
the minimum of the two. A shared DDR only makes stage times longer.

:func:`start_dma_read` / :func:`start_dma_write` run the same pipeline without a SimPy
process and return its completion event (fewer events; the engine's default loaders use
them). The pipeline itself is driven by callbacks, chunk by chunk, exactly as the generator
formulation would be (``tests/sim/test_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Generator
from numbers import Integral

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim._arbiter import Direction, RoundRobinServer, _Job, check_nbytes
from fpgasim.sim._events import _fire
from fpgasim.sim.clock import Clock
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.trace import TraceRecorder

__all__ = ["StreamPort", "dma_read", "dma_write", "start_dma_read", "start_dma_write"]

_WHOLE = 1 << 62


class StreamPort(RoundRobinServer):
    """A port moving ``width_bits`` per cycle of ``clock``.

    Args:
        env: SimPy environment.
        name: port name (trace track), e.g. ``"axis_ifm"``.
        width_bits: data width in bits per cycle (int > 0).
        clock: the port's clock domain.
        unit_bytes: arbitration granularity between streams; None = whole transactions.
        trace: recorder or None.
        process: board/device name for the trace.

    Raises:
        BadArgument: bad width or unit.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        *,
        width_bits: int,
        clock: Clock,
        unit_bytes: int | None = None,
        trace: TraceRecorder | None = None,
        process: str = "fpgasim",
    ):
        if isinstance(width_bits, bool) or not isinstance(width_bits, int) or width_bits <= 0:
            raise BadArgument(f"{name}: width_bits={width_bits!r} must be an int > 0")
        if not isinstance(clock, Clock):
            raise BadArgument(f"{name}: clock={clock!r} must be a fpgasim.sim.Clock")
        self.width_bits = width_bits
        self.clock = clock

        def slots_for(nbytes: int) -> int:
            return -((-8 * nbytes) // width_bits)

        super().__init__(
            env, name, slot_clock=clock, unit_bytes=_WHOLE if unit_bytes is None else unit_bytes,
            slots_for=slots_for, coalesce=False, trace=trace, process=process,
        )

    def cycles_for(self, nbytes: int) -> int:
        """Cycles one transaction of ``nbytes`` takes: ``ceil(nbytes * 8 / width_bits)``."""
        return -((-8 * check_nbytes(self.name, nbytes)) // self.width_bits)

    def transfer(self, stream: str, nbytes: int) -> Event:
        """Move ``nbytes`` through the port for ``stream``.

        Args:
            stream: stream name.
            nbytes: bytes (int >= 0).

        Returns:
            An event firing when the transaction has completed.

        Raises:
            BadArgument: bad stream or nbytes.
        """
        return self.submit(stream, nbytes)


def _chunks(kind: str, stream: str, nbytes: int, chunk_bytes: int) -> list[int]:
    """Chunk sizes of a DMA of ``nbytes`` (errors name ``"<kind> <stream>"``; checked once per DMA,
    with a fast path for plain ints: an ABC ``isinstance`` costs about 0.5 µs)."""
    if type(nbytes) is not int or nbytes < 0:
        nbytes = check_nbytes(f"{kind} {stream}", nbytes)
    if type(chunk_bytes) is not int or chunk_bytes <= 0:
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, Integral) or chunk_bytes <= 0:
            raise BadArgument(f"{kind} {stream}: chunk_bytes={chunk_bytes!r} must be an int > 0")
        chunk_bytes = int(chunk_bytes)
    full, rest = divmod(nbytes, chunk_bytes)
    return [chunk_bytes] * full + ([rest] if rest else [])


class _Pipeline:
    """The two-stage chunk pipeline of the module docstring, driven by event callbacks.

    It issues exactly the submissions of the generator below, at the same callback points
    (so the same timeline), without a SimPy process of its own::

        a = first(sizes[0]); b = None
        for i in range(n):
            yield a
            if b is not None: yield b
            if i + 1 < n: a = first(sizes[i + 1])
            b = second(sizes[i])
        yield b

    A stage event already processed is passed at once, as a process does. When the last
    chunk has left stage B, ``done`` is fired in place (see ``_events._fire``), where the
    generator's process would have resumed. Stages are server jobs queued without the checks
    of ``submit`` (chunk sizes are validated once), each job its own completion; a stage's
    stream is registered on its server at its first chunk, as ``submit`` would.
    """

    __slots__ = ("server_a", "server_b", "stream", "dir_a", "dir_b", "st_a", "st_b", "sizes", "index", "a_ev",
                 "b_ev", "done")

    def __init__(self, server_a: RoundRobinServer, dir_a: Direction | None, server_b: RoundRobinServer,
                 dir_b: Direction | None, stream: str, sizes: list[int]):
        self.server_a, self.dir_a = server_a, dir_a
        self.server_b, self.dir_b = server_b, dir_b
        self.stream = stream
        self.st_a = server_a._stream(stream)  # noqa: SLF001 - same layer, hot path
        self.st_b = None
        self.sizes = sizes
        self.index = 0
        self.b_ev: _Job | None = None
        self.done = Event(server_a.env)
        self.a_ev = server_a._enqueue(self.st_a, sizes[0], dir_a, None)  # noqa: SLF001
        self._wait_a()

    def _wait_a(self) -> None:
        callbacks = self.a_ev.callbacks
        if callbacks is not None:
            callbacks.append(self._a_done)
        else:
            self._a_done(None)

    def _a_done(self, _event: _Job | None) -> None:
        b_ev = self.b_ev
        if b_ev is not None and b_ev.callbacks is not None:
            b_ev.callbacks.append(self._advance)
        else:
            self._advance(None)

    def _advance(self, _event: _Job | None) -> None:
        i = self.index
        sizes = self.sizes
        more = i + 1 < len(sizes)
        if more:
            # the previous job of each stage is complete here and only referenced by self: reused
            self.a_ev = self.server_a._enqueue(self.st_a, sizes[i + 1], self.dir_a, None, self.a_ev)  # noqa: SLF001
        st_b = self.st_b
        if st_b is None:
            st_b = self.st_b = self.server_b._stream(self.stream)  # noqa: SLF001
        self.b_ev = self.server_b._enqueue(st_b, sizes[i], self.dir_b, None, self.b_ev)  # noqa: SLF001
        self.index = i + 1
        if more:
            self._wait_a()
        else:
            self.b_ev.callbacks.append(self._finish)  # just submitted, nbytes > 0: pending

    def _finish(self, _event: _Job) -> None:
        _fire(self.done)


def _read_pipeline(ddr: DdrChannel, port: StreamPort, stream: str, sizes: list[int]) -> _Pipeline:
    return _Pipeline(ddr, Direction.READ, port, None, stream, sizes)


def _write_pipeline(ddr: DdrChannel, port: StreamPort, stream: str, sizes: list[int]) -> _Pipeline:
    return _Pipeline(port, None, ddr, Direction.WRITE, stream, sizes)


def _pipeline_done(kind: str, make_pipeline, ddr: DdrChannel, port: StreamPort, stream: str, nbytes: int,
                   chunk_bytes: int | None) -> Event | None:
    """Start ``make_pipeline`` for a DMA of ``nbytes`` (arguments checked) and return its completion
    event, or None when there is nothing to move."""
    sizes = _chunks(kind, stream, nbytes, ddr.burst_bytes if chunk_bytes is None else chunk_bytes)
    return make_pipeline(ddr, port, stream, sizes).done if sizes else None


def _check_resources(kind: str, stream: str, ddr: object, port: object) -> None:
    if not isinstance(ddr, DdrChannel):
        raise BadArgument(f"{kind} {stream}: ddr={ddr!r} must be a fpgasim.sim.DdrChannel")
    if not isinstance(port, StreamPort):
        raise BadArgument(f"{kind} {stream}: port={port!r} must be a fpgasim.sim.StreamPort")


def dma_read(
    env: simpy.Environment,
    ddr: DdrChannel,
    port: StreamPort,
    stream: str,
    nbytes: int,
    *,
    chunk_bytes: int | None = None,
) -> Generator[Event, object, None]:
    """Process: read ``nbytes`` from ``ddr`` into the fabric through ``port``, pipelined.

    Use as ``yield env.process(dma_read(env, ddr, port, "ifm", n))``, or use
    :func:`start_dma_read` to get an event without a process.

    Args:
        env: SimPy environment (unused, kept for the process signature convention).
        ddr: the DDR channel (``stream`` competes there with its other users).
        port: the stream port.
        stream: stream name on both resources.
        nbytes: bytes to move.
        chunk_bytes: pipeline granularity (default ``ddr.burst_bytes``); larger = fewer events,
            longer fill/drain of one chunk.

    Raises:
        BadArgument: bad nbytes or chunk size (raised when the process starts).
    """
    done = _pipeline_done("dma_read", _read_pipeline, ddr, port, stream, nbytes, chunk_bytes)
    if done is not None:
        yield done


def dma_write(
    env: simpy.Environment,
    ddr: DdrChannel,
    port: StreamPort,
    stream: str,
    nbytes: int,
    *,
    chunk_bytes: int | None = None,
) -> Generator[Event, object, None]:
    """Process: write ``nbytes`` from the fabric through ``port`` into ``ddr``, pipelined.

    Same arguments and overlap rule as :func:`dma_read`, stages swapped (port, then DDR).
    """
    done = _pipeline_done("dma_write", _write_pipeline, ddr, port, stream, nbytes, chunk_bytes)
    if done is not None:
        yield done


def start_dma_read(
    ddr: DdrChannel, port: StreamPort, stream: str, nbytes: int, *, chunk_bytes: int | None = None
) -> Event:
    """Start :func:`dma_read` now, without a process; returns the event of its completion.

    The first chunk is requested at the call (a process would request it when SimPy starts
    it, later in the same instant); everything after is the same timeline. Yield the event.

    Args:
        ddr: the DDR channel.
        port: the stream port.
        stream: stream name on both resources.
        nbytes: bytes to move (0: an event that is already triggered).
        chunk_bytes: pipeline granularity (default ``ddr.burst_bytes``).

    Returns:
        An event firing when the last chunk has left the port.

    Raises:
        BadArgument: bad resources, nbytes or chunk size (at the call).
    """
    _check_resources("start_dma_read", stream, ddr, port)
    done = _pipeline_done("start_dma_read", _read_pipeline, ddr, port, stream, nbytes, chunk_bytes)
    return Event(ddr.env).succeed() if done is None else done


def start_dma_write(
    ddr: DdrChannel, port: StreamPort, stream: str, nbytes: int, *, chunk_bytes: int | None = None
) -> Event:
    """Start :func:`dma_write` now, without a process; returns the event of its completion.

    Same arguments and timing as :func:`start_dma_read`, stages swapped (port, then DDR).

    Raises:
        BadArgument: bad resources, nbytes or chunk size (at the call).
    """
    _check_resources("start_dma_write", stream, ddr, port)
    done = _pipeline_done("start_dma_write", _write_pipeline, ddr, port, stream, nbytes, chunk_bytes)
    return Event(ddr.env).succeed() if done is None else done
