"""fpgasim.sim: the SimPy emulator layer.

Hardware primitives (this file lists the public API):

* :class:`Clock` - exact cycle <-> ps conversion (``env.now`` is an int count of ps), and the
  named ns/s/MHz -> ps and ps/cycles -> report-unit helpers beside it.
* :class:`DdrChannel` - a DDR channel shared by streams, burst-level round robin.
* :class:`StreamPort`, :func:`dma_read`, :func:`dma_write` - width x clock ports and
  pipelined DMA through a port and a DDR channel.
* :class:`PingPong` - multi-bank on-chip buffer between a producer and a consumer.
* :class:`Link`, :class:`LinkDirection` - serialisation, latency, credit back-pressure.
* :class:`TraceRecorder` - spans and counters, Chrome/Perfetto trace export.
* :func:`processed_events` - events an environment has processed (queue, merged, in place).

See docs/emulator-primitives.md.
"""

from fpgasim.sim._arbiter import LATE, Direction, StreamStats
from fpgasim.sim._events import processed_events
from fpgasim.sim.buffers import PingPong
from fpgasim.sim.clock import (
    MAX_FREQ_HZ, PS_PER_NS, PS_PER_S, PS_PER_US, Clock, duration_ps_ceil, exact_decimal, hz_from_mhz,
    ms_from_cycles, ms_from_ps, ps_from_ns, us_from_ps,
)
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.link import Link, LinkDirection
from fpgasim.sim.port import StreamPort, dma_read, dma_write
from fpgasim.sim.trace import TraceRecorder, merge_spans

__all__ = [
    "LATE",
    "MAX_FREQ_HZ",
    "PS_PER_NS",
    "PS_PER_S",
    "PS_PER_US",
    "Clock",
    "DdrChannel",
    "Direction",
    "Link",
    "LinkDirection",
    "PingPong",
    "StreamPort",
    "StreamStats",
    "TraceRecorder",
    "merge_spans",
    "dma_read",
    "dma_write",
    "duration_ps_ceil",
    "exact_decimal",
    "hz_from_mhz",
    "ms_from_cycles",
    "ms_from_ps",
    "processed_events",
    "ps_from_ns",
    "us_from_ps",
]
