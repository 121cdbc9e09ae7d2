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
"""

from __future__ import annotations

from collections.abc import Generator
from numbers import Integral

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim._arbiter import Direction, RoundRobinServer, check_nbytes
from fpgasim.sim.clock import Clock
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.trace import TraceRecorder

__all__ = ["StreamPort", "dma_read", "dma_write"]

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


def _chunks(owner: str, nbytes: int, chunk_bytes: int) -> list[int]:
    nbytes = check_nbytes(owner, nbytes)
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, Integral) or chunk_bytes <= 0:
        raise BadArgument(f"{owner}: chunk_bytes={chunk_bytes!r} must be an int > 0")
    chunk_bytes = int(chunk_bytes)
    full, rest = divmod(nbytes, chunk_bytes)
    return [chunk_bytes] * full + ([rest] if rest else [])


def _pipeline(first, second, sizes: list[int]) -> Generator[Event, object, None]:
    """Two-stage chunk pipeline with the overlap rule of the module docstring."""
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

    Use as ``yield env.process(dma_read(env, ddr, port, "ifm", n))``.

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
    sizes = _chunks(f"dma_read {stream}", nbytes, ddr.burst_bytes if chunk_bytes is None else chunk_bytes)
    yield from _pipeline(
        lambda n: ddr.transfer(stream, n, Direction.READ), lambda n: port.transfer(stream, n), sizes
    )


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
    sizes = _chunks(f"dma_write {stream}", nbytes, ddr.burst_bytes if chunk_bytes is None else chunk_bytes)
    yield from _pipeline(
        lambda n: port.transfer(stream, n), lambda n: ddr.transfer(stream, n, Direction.WRITE), sizes
    )
