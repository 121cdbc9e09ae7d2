"""The 40GbE cluster's wires: topology of a placement and the time of every message on it.

Owns: :class:`Fabric` — the transmit side of every port (actor NICs, the learner's and the
server's NICs, each switch egress port) as a FIFO SimPy resource, the route of each message
for the placement's :class:`~fpgasim.study.dqn_replay.config.Position`, and :func:`transfer`,
the SimPy process that carries one message:

* every port is a :class:`FifoPort` (first come, first served);
* the sender's half of its stack (``(endpoint_fixed + software) / 2`` of its link type: the
  link type's per-transfer cost is split evenly between the two ends);
* on each port of the route, the message's frames (:meth:`~fpgasim.hw.links.LinkType.serialisation_ns`,
  every frame with its overhead, MTU segmentation) hold the port; the next port may start once
  the first frame has crossed the cable and the switch (port-to-port latency) — frames are
  stored and forwarded one at a time, so a long message is pipelined across hops;
* propagation ``per_meter × cable_m`` on every cable; then the receiver's half of its stack
  (for the server, charged on its core by the caller).

Topologies: ``separate`` — every node on the switch; ``on_path`` — actors on the switch, the
switch cabled to the server's port A, the server's port B cabled straight to the learner; the
learner's messages to actors are forwarded by the server (``forward_ns``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from fpgasim.hw.links import LinkType
from fpgasim.sim import TraceRecorder
from fpgasim.sim.clock import ps_from_ns
from fpgasim.study.dqn_replay.config import Position

__all__ = ["Fabric", "FifoPort", "Hop", "transfer", "nic_ps", "stack_ps", "LEARNER", "SERVER", "SWITCH"]

LEARNER, SERVER, SWITCH = "learner", "server", "switch"


class FifoPort:
    """A transmitter that serves claims in the order they are made (a FIFO server).

    A claim made at ``now`` for ``duration_ps`` starts when the port is free (``max(now,
    free_ps)``); claims are made by SimPy processes at the moment they reach the port, so the
    order is SimPy's event order — the same grant order as a capacity-1 ``simpy.Resource``,
    without its request/release events.
    """

    __slots__ = ("free_ps", "busy_ps")

    def __init__(self) -> None:
        self.free_ps = 0
        self.busy_ps = 0

    def claim(self, now_ps: int, duration_ps: int) -> int:
        """Reserve the port for ``duration_ps`` from the first free moment; returns the start, ps."""
        start = max(now_ps, self.free_ps)
        self.free_ps = start + duration_ps
        self.busy_ps += duration_ps
        return start


@dataclass(frozen=True, slots=True)
class Hop:
    """One port a message crosses: its owner (trace process), its name, the latency before it, ps."""

    owner: str
    port: str
    before_ps: int


class Fabric:
    """Ports and routes of one placement.

    Args:
        env: SimPy environment. actors: actor count. position: where the server sits.
        switch_latency_ns: switch port-to-port latency. forward_ns: on-path server forwarding cost.
        trace: recorder or None.
    """

    def __init__(self, env: simpy.Environment, *, actors: int, position: Position, switch_latency_ns: float,
                 forward_ns: float, trace: TraceRecorder | None):
        self.env, self.trace, self.position = env, trace, position
        self.actors = [f"actor{k:02d}" for k in range(actors)]
        self._ports: dict[str, FifoPort] = {}
        self._switch_ps = ps_from_ns(switch_latency_ns)
        self._forward_ps = ps_from_ns(forward_ns)

    def port(self, name: str) -> FifoPort:
        """The transmitter of port ``name`` (created on first use)."""
        if name not in self._ports:
            self._ports[name] = FifoPort()
        return self._ports[name]

    def route(self, src: str, dst: str) -> list[Hop]:
        """Ports from ``src`` to ``dst`` (node names: actorNN, learner, server)."""
        sw = self._switch_ps
        nic = Hop(src, "nic", 0) if src != SERVER else Hop(SERVER, "nic_a", 0)
        if self.position is Position.SEPARATE:
            return [nic, Hop(SWITCH, f"to_{dst}", sw)]
        # on_path: actors - switch - server(A | B) - learner
        if src == LEARNER and dst == SERVER:
            return [nic]
        if src == SERVER and dst == LEARNER:
            return [Hop(SERVER, "nic_b", 0)]
        if src == LEARNER:  # to an actor, through the server
            return [nic, Hop(SERVER, "nic_a", self._forward_ps), Hop(SWITCH, f"to_{dst}", sw)]
        return [nic, Hop(SWITCH, f"to_{dst}", sw)]


def transfer(fabric: Fabric, src: str, dst: str, size_bytes: int, *, src_link: LinkType, dst_link: LinkType,
             cable_m: float, label: str, send_stack: bool = True, receive_stack: bool = True) -> Generator:
    """SimPy process: one message of ``size_bytes`` from ``src`` to ``dst``; ends on delivery.

    Args:
        fabric: the placement's ports. src, dst: node names.
        size_bytes: payload bytes. src_link, dst_link: the link types of the two ends' stacks.
        cable_m: every cable's length. label: span name in the trace.
        send_stack: include the sender's half of its software stack (False: the caller charged it
            on the sender's core, as the server does for its replies).
        receive_stack: include the receiver's half of its software stack (False: the caller charges
            it, e.g. on the server's core); the receiver's NIC half is always included.
    """
    env = fabric.env
    wire_ps = ps_from_ns(src_link.serialisation_ns(size_bytes))
    first_ps = ps_from_ns(src_link.serialisation_ns(min(size_bytes, src_link.frames.mtu_payload_bytes)))
    prop_ps = ps_from_ns(src_link.latency_ns.per_meter * cable_m)
    yield env.timeout(nic_ps(src_link) + (stack_ps(src_link) if send_stack else 0))
    ready = env.now
    start = ready
    for k, hop in enumerate(fabric.route(src, dst)):
        if k:
            ready = start + first_ps + prop_ps + hop.before_ps
        if ready > env.now:
            yield env.timeout(ready - env.now)
        start = fabric.port(f"{hop.owner}.{hop.port}").claim(env.now, wire_ps)
        if fabric.trace is not None:
            fabric.trace.span(hop.port, label, start, start + wire_ps, process=hop.owner)
    yield env.timeout(start + wire_ps + prop_ps - env.now)
    yield env.timeout(nic_ps(dst_link) + (stack_ps(dst_link) if receive_stack else 0))


def nic_ps(link: LinkType) -> int:
    """One end's half of a link type's endpoint (NIC, PHY) latency, ps."""
    return ps_from_ns(link.latency_ns.endpoint_fixed / 2)


def stack_ps(link: LinkType) -> int:
    """One end's half of a link type's software (stack) cost per message, ps."""
    return ps_from_ns(link.latency_ns.software / 2)
