"""DDR channel: one shared memory channel, arbitrated burst by burst between named streams.

Timing model. The channel sustains ``bytes_per_s`` (= interface width x transfer rate x
efficiency, computed by the caller). Internally it runs a *byte clock* of frequency
``bytes_per_s``: edge ``n`` is the instant the ``n``-th byte has passed, at
``round(n * 10**12 / bytes_per_s)`` ps. A burst of ``b`` bytes granted at ``t`` occupies
``b`` byte edges from the first edge at or after ``t`` (or exactly from the end of the
previous burst when it follows back to back), so a single stream moving ``N`` bytes from
an idle channel at ``t0`` finishes at ``byte_clock.time_of(edge(t0) + N)``: exactly
``N / bytes_per_s`` with one rounding in total, however many bursts. A last partial burst
costs only its bytes. With ``clock`` given (e.g. the memory controller's user clock),
each completion is observed at the first edge of that clock at or after it.

Arbitration. Transaction granularity is one burst of ``burst_bytes``. Streams are served
round robin in registration order (first use, or :meth:`DdrChannel.register`); a stream
with 1000 queued bursts gets every other burst against a second active stream. Requests
made at the same instant all compete in the decision of that instant.

Speed. With ``coalesce=True`` (default) a stream alone on the channel gets its whole
remaining transfer as one transaction; it is cut at the next burst boundary as soon as
another stream asks. The timeline is the same as burst by burst; only trace spans are
coarser (one span per grant).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Rational

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim._arbiter import Direction, RoundRobinServer, StreamStats
from fpgasim.sim.clock import Clock
from fpgasim.sim.trace import TraceRecorder

__all__ = ["DdrChannel", "Direction", "StreamStats"]


def _exact_rate(owner: str, key: str, value: object) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Rational) or value <= 0:
        raise BadArgument(f"{owner}: {key}={value!r} must be a positive int or Fraction (no float)")
    return Fraction(int(value.numerator), int(value.denominator))


class DdrChannel(RoundRobinServer):
    """A DDR channel shared by streams, one burst at a time, round robin.

    Args:
        env: SimPy environment (``env.now`` in int ps).
        name: channel name, e.g. ``"ddr0"`` (trace track).
        bytes_per_s: sustained bandwidth in bytes/s (int or Fraction), at most 10**12.
        burst_bytes: arbitration granularity in bytes (e.g. 64 for a DDR4 BL8 x64 burst,
            or an AXI burst of 4096).
        clock: optional controller clock; completions are rounded up to its edges.
        coalesce: see the module docstring; False forces one event per burst.
        trace: recorder (one span per grant on track ``name``) or None.
        process: board/device name for the trace.

    Raises:
        BadArgument: a non-positive or float bandwidth, or a bad ``burst_bytes``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        *,
        bytes_per_s: int | Fraction,
        burst_bytes: int,
        clock: Clock | None = None,
        coalesce: bool = True,
        trace: TraceRecorder | None = None,
        process: str = "fpgasim",
    ):
        rate = _exact_rate(name, "bytes_per_s", bytes_per_s)
        if isinstance(burst_bytes, bool) or not isinstance(burst_bytes, int) or burst_bytes <= 0:
            raise BadArgument(f"{name}: burst_bytes={burst_bytes!r} must be an int > 0")
        if clock is not None and not isinstance(clock, Clock):
            raise BadArgument(f"{name}: clock={clock!r} must be a fpgasim.sim.Clock or None")
        self.bytes_per_s = rate
        self.byte_clock = Clock.from_rate(rate, name=f"{name}.bytes")
        super().__init__(
            env, name, slot_clock=self.byte_clock, unit_bytes=burst_bytes, slots_for=_identity,
            end_clock=clock, coalesce=coalesce, trace=trace, process=process,
        )
        self.burst_bytes = burst_bytes

    def transfer(self, stream: str, nbytes: int, direction: Direction | str = Direction.READ) -> Event:
        """Move ``nbytes`` for ``stream`` as ceil(nbytes / burst_bytes) bursts.

        Yield the returned event from a process: ``yield ddr.transfer("ifm", 4096)``.

        Args:
            stream: stream name (the round-robin party), e.g. ``"board0.ifm"``.
            nbytes: bytes to move (int >= 0; 0 completes at once).
            direction: ``Direction.READ`` or ``Direction.WRITE`` (or "read"/"write").

        Returns:
            An event that fires when the last burst has completed.

        Raises:
            BadArgument: bad stream, nbytes or direction.
        """
        try:
            direction = Direction(direction)
        except ValueError as exc:
            raise BadArgument(f"{self.name}: direction={direction!r}; expected one of read, write") from exc
        return self.submit(stream, nbytes, direction)

    def ideal_ps(self, nbytes: int) -> int:
        """Time to move ``nbytes`` from byte edge 0 on an idle channel (no clock rounding), in ps."""
        return self.byte_clock.time_of(nbytes)


def _identity(nbytes: int) -> int:
    return nbytes
