"""Board-to-board links: serialisation, pipelined fixed latency and credit back-pressure.

A :class:`LinkDirection` is one direction of a link, the primitive; a :class:`Link` is two
independent directions (full duplex). Per direction:

* **Serialisation.** Packets of ``packet_bytes`` (the last one of a transfer may be
  shorter) are put on the wire one at a time at ``effective_bits_per_s`` (payload rate
  after line coding and protocol overhead, computed by the caller). Times are rounded at
  absolute byte edges of the wire (``8 * 10**12 / effective_bits_per_s`` ps per byte), and
  additionally up to edges of ``clock`` when given, so rounding never accumulates.
* **Contention.** Transfers of different source streams share the wire packet by packet,
  round robin in stream registration order (see ``_arbiter``).
* **Latency.** A packet enters the receive FIFO ``fixed_latency_ps`` after its last byte
  left (endpoint + propagation); many packets are in flight at once.
* **Back-pressure.** The receive FIFO holds ``fifo_bytes``, i.e.
  ``credits = fifo_bytes // packet_bytes`` packets. Sending a packet takes a credit; the
  credit comes back ``credit_latency_ps`` (default ``fixed_latency_ps``) after the receiver
  has consumed the packet's last byte. With one stream and an eager receiver, the rate is
  ``min(rate, credits * packet_bytes / (packet_time + fixed_latency + credit_latency))``.

``send(stream, nbytes)`` completes when the last byte is in the receive FIFO;
``consume(nbytes)`` completes when the receiver has taken ``nbytes`` out (it takes bytes
as they arrive, in order). ``packet_bytes`` is the granularity: one event per packet.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from numbers import Integral, Rational

import simpy
from simpy.events import Event, Timeout

from fpgasim.errors import BadArgument
from fpgasim.sim._arbiter import RoundRobinServer, _Job, check_nbytes
from fpgasim.sim.clock import Clock
from fpgasim.sim.trace import TraceRecorder

__all__ = ["Link", "LinkDirection"]


def _pos_int(owner: str, key: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise BadArgument(f"{owner}: {key}={value!r} must be an int >= {minimum}")
    return int(value)


class LinkDirection(RoundRobinServer):
    """One direction of a link: a wire shared round robin, a latency, a credit-based FIFO.

    Args:
        env: SimPy environment.
        name: direction name (trace track), e.g. ``"b0->b1"``.
        effective_bits_per_s: payload bit rate (int or Fraction, <= 8 * 10**12).
        fixed_latency_ps: endpoint + propagation latency per packet, int ps >= 0.
        packet_bytes: packet (granularity) size in bytes.
        fifo_bytes: receive FIFO capacity in bytes (>= packet_bytes).
        clock: optional clock; packet ends are rounded up to its edges.
        credit_latency_ps: delay for a credit to return (default ``fixed_latency_ps``).
        trace: recorder or None.
        process: board/device name for the trace.

    Raises:
        BadArgument: any argument out of range (names it and the expectation).
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        *,
        effective_bits_per_s: int | Fraction,
        fixed_latency_ps: int,
        packet_bytes: int,
        fifo_bytes: int,
        clock: Clock | None = None,
        credit_latency_ps: int | None = None,
        trace: TraceRecorder | None = None,
        process: str = "fpgasim",
    ):
        rate = effective_bits_per_s
        if isinstance(rate, bool) or not isinstance(rate, Rational) or rate <= 0:
            raise BadArgument(f"{name}: effective_bits_per_s={rate!r} must be a positive int or Fraction")
        self.fixed_latency_ps = _pos_int(name, "fixed_latency_ps", fixed_latency_ps, 0)
        self.credit_latency_ps = (
            self.fixed_latency_ps if credit_latency_ps is None
            else _pos_int(name, "credit_latency_ps", credit_latency_ps, 0)
        )
        packet_bytes = _pos_int(name, "packet_bytes", packet_bytes)
        fifo_bytes = _pos_int(name, "fifo_bytes", fifo_bytes)
        if fifo_bytes < packet_bytes:
            raise BadArgument(f"{name}: fifo_bytes={fifo_bytes} must be >= packet_bytes={packet_bytes}")
        if clock is not None and not isinstance(clock, Clock):
            raise BadArgument(f"{name}: clock={clock!r} must be a fpgasim.sim.Clock or None")
        self.effective_bits_per_s = Fraction(int(rate.numerator), int(rate.denominator))
        self.byte_clock = Clock.from_rate(self.effective_bits_per_s / 8, name=f"{name}.bytes")
        super().__init__(
            env, name, slot_clock=self.byte_clock, unit_bytes=packet_bytes, slots_for=lambda n: n,
            end_clock=clock, coalesce=False, trace=trace, process=process,
        )
        self.packet_bytes = packet_bytes
        self.fifo_bytes = fifo_bytes
        self.credits_total = fifo_bytes // packet_bytes
        self._credits = self.credits_total
        self._fifo: deque[list[int]] = deque()  # remaining bytes of each delivered packet
        self._fifo_level = 0
        self._consumers: deque[list] = deque()  # [bytes still wanted, event]
        self.bytes_delivered = 0
        self.bytes_consumed = 0

    @property
    def credits(self) -> int:
        """Credits (free receive-FIFO packet slots known to the sender) now."""
        return self._credits

    @property
    def fifo_level_bytes(self) -> int:
        """Bytes delivered and not yet consumed."""
        return self._fifo_level

    def send(self, stream: str, nbytes: int) -> Event:
        """Send ``nbytes`` for source ``stream``; fires when all are in the receive FIFO.

        Raises:
            BadArgument: bad stream or nbytes.
        """
        return self.submit(stream, nbytes)

    def consume(self, nbytes: int) -> Event:
        """Receiver: take ``nbytes`` out of the FIFO (as they arrive); fires when done.

        Raises:
            BadArgument: bad nbytes.
        """
        nbytes = check_nbytes(self.name, nbytes)
        ev = Event(self.env)
        if nbytes == 0:
            return ev.succeed()
        self._consumers.append([nbytes, ev])
        self._serve_consumers()
        return ev

    # ---------------------------------------------------------------- hooks
    def _can_grant(self) -> bool:
        return self._credits > 0

    def _on_grant(self, job: _Job, nbytes: int) -> None:
        self._credits -= 1

    def _on_unit_done(self, job: _Job, nbytes: int) -> None:
        if self.fixed_latency_ps == 0:
            self._deliver(job, nbytes)
        else:
            Timeout(self.env, self.fixed_latency_ps).callbacks.append(lambda _e: self._deliver(job, nbytes))

    def _on_job_done(self, job: _Job) -> None:
        return None  # completes on delivery

    # ------------------------------------------------------------- internals
    def _deliver(self, job: _Job, nbytes: int) -> None:
        self._fifo.append([nbytes])
        self._fifo_level += nbytes
        self.bytes_delivered += nbytes
        job.delivered += nbytes
        if job.delivered == job.total:
            job.done.succeed()
        self._serve_consumers()

    def _serve_consumers(self) -> None:
        while self._consumers and self._fifo:
            want = self._consumers[0]
            head = self._fifo[0]
            take = min(want[0], head[0])
            want[0] -= take
            head[0] -= take
            self._fifo_level -= take
            self.bytes_consumed += take
            if head[0] == 0:
                self._fifo.popleft()
                if self.credit_latency_ps == 0:
                    self._return_credit()
                else:
                    Timeout(self.env, self.credit_latency_ps).callbacks.append(lambda _e: self._return_credit())
            if want[0] == 0:
                self._consumers.popleft()
                want[1].succeed()

    def _return_credit(self) -> None:
        self._credits += 1
        self._kick()


class Link:
    """A full-duplex link: two independent :class:`LinkDirection` objects.

    Args:
        env: SimPy environment.
        name: link name; directions are named ``name + ".fwd"`` and ``name + ".rev"``.
        **params: the keyword arguments of :class:`LinkDirection` (same for both).

    Attributes:
        forward: the a -> b direction.
        reverse: the b -> a direction.
    """

    def __init__(self, env: simpy.Environment, name: str, **params: object):
        self.name = name
        self.forward = LinkDirection(env, f"{name}.fwd", **params)
        self.reverse = LinkDirection(env, f"{name}.rev", **params)
