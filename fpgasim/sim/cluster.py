"""Several boards in one SimPy environment, cabled by links, and the XFER exchange between them.

Owns: building each board's DDR channel and stream ports, the links of a topology (pair,
chain, ring, fully connected) with shortest-path routing (multi-hop forwarding where two
boards share no cable), and Super-LIP's XFER: boards that need the same operand tile each read
``1/P`` of it from their own DDR and exchange the shares over the links, concurrently with
their DDR traffic. Cables of one shared medium (Wi-Fi) use one wire for all their directions:
one transmitter at a time, packet by packet round robin between the transfers on it. A link's
per-message cost (software stack) is spent on each hop before the transfer's first packet; then
the transfer's packets follow one another on the wire (cut-through, pipelined: each is delivered
the link's latency after its last byte left, the first releases the next hop).
Link receivers drain eagerly (the on-chip buffer takes bytes as they arrive), so the bounded
receive FIFO throttles the sender through its credits.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.hw.platform import shortest_path, topology_edges
from fpgasim.kernels.conv_schedule import InnerStep
from fpgasim.mapping.parts import XferGroup
from fpgasim.sim.clock import Clock
from fpgasim.sim.conv_engine import IFM, OFM, WEIGHTS, BoardFabric, EngineParams, OperandLoader
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.link import Link, LinkDirection
from fpgasim.sim.port import StreamPort, dma_read
from fpgasim.sim.trace import TraceRecorder

__all__ = ["BoardSpec", "LinkSpec", "Cluster", "XferGroup", "build_fabric"]

#: Bytes a link receiver asks for at once: effectively "everything that arrives".
_DRAIN_BYTES = 1 << 60


@dataclass(frozen=True, slots=True, kw_only=True)
class BoardSpec:
    """Numbers that build one board's memory path.

    Attributes:
        ddr_bytes_per_s: sustained bandwidth of the channel the engine uses.
        burst_bytes: DDR arbitration granularity.
        stream_width_bits: width of each stream port (``ifm``, ``weights``, ``ofm``).
    """

    ddr_bytes_per_s: int
    burst_bytes: int
    stream_width_bits: dict[str, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """Numbers that build every link of the cluster.

    Attributes:
        effective_bits_per_s: payload rate of one direction (after coding, protocol and the
            AXI-stream width feeding it).
        fixed_latency_ps: endpoint latency + propagation of one cable.
        packet_bytes: link transaction granularity.
        fifo_bytes: receive FIFO capacity (credits = fifo_bytes // packet_bytes).
        message_latency_ps: per-message cost (software stack), once per transfer and hop, before
            its first packet and off the wire.
        medium: cables naming the same medium share one wire (None: a dedicated full-duplex cable).
    """

    effective_bits_per_s: int
    fixed_latency_ps: int
    packet_bytes: int
    fifo_bytes: int
    message_latency_ps: int = 0
    medium: str | None = None


def build_fabric(env: simpy.Environment, name: str, board: BoardSpec, clock: Clock,
                 trace: TraceRecorder | None) -> BoardFabric:
    """One board's DDR channel and its three stream ports (``ifm``, ``weights``, ``ofm``)."""
    ddr = DdrChannel(env, f"{name}.ddr", bytes_per_s=board.ddr_bytes_per_s, burst_bytes=board.burst_bytes,
                     trace=trace, process=name)
    ports = {stream: StreamPort(env, f"{name}.axis_{stream}", width_bits=board.stream_width_bits[stream],
                                clock=clock, trace=trace, process=name)
             for stream in (IFM, WEIGHTS, OFM)}
    for stream in (IFM, WEIGHTS, OFM):
        ddr.register(stream)
    return BoardFabric(name=name, ddr=ddr, ports=ports, trace=trace)


@dataclass(slots=True)
class Cluster:
    """Boards, their fabrics and the links between them, inside one environment."""

    env: simpy.Environment
    fabrics: list[BoardFabric | None]
    directions: dict[tuple[int, int], LinkDirection] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    #: shared media by name: the one wire of all their cables' directions.
    media: dict[str, LinkDirection] = field(default_factory=dict)
    #: per-message cost of each wire (by direction name), ps.
    message_ps: dict[str, int] = field(default_factory=dict)
    _arrivals: dict[tuple, Event] = field(default_factory=dict)

    @classmethod
    def build(cls, env: simpy.Environment, *, boards: int, board: BoardSpec, clock: Clock,
              link: LinkSpec | None, topology: str, trace: TraceRecorder | None) -> Cluster:
        """Create ``boards`` identical boards and cable them as ``topology``."""
        fabrics = [build_fabric(env, f"board{index}", board, clock, trace) for index in range(boards)]
        edges = topology_edges(topology, boards)
        if edges and link is None:
            raise BadArgument("a cluster of several boards needs a link type")
        return cls.assemble(env, fabrics, [(a, b, f"link{a}-{b}", link) for a, b in edges], trace=trace)

    @classmethod
    def assemble(cls, env: simpy.Environment, fabrics: list[BoardFabric | None],
                 cables: list[tuple[int, int, str, LinkSpec]], *, trace: TraceRecorder | None) -> Cluster:
        """Devices (``None``: a compute device, no fabric) cabled as ``cables``: ``(a, b, name,
        link)`` with device indices; each cable has its own link numbers. Routing visits
        neighbours in device-index order, so ties go to the lower index."""
        cluster = cls(env=env, fabrics=fabrics)
        media_specs: dict[str, LinkSpec] = {}
        for a, b, name, link in cables:
            params = {"effective_bits_per_s": link.effective_bits_per_s, "fixed_latency_ps": link.fixed_latency_ps,
                      "packet_bytes": link.packet_bytes, "fifo_bytes": link.fifo_bytes, "trace": trace}
            if link.medium is None:
                cable = Link(env, name, process=name, **params)
                cluster.links.append(cable)
                forward, reverse = cable.forward, cable.reverse
            else:
                first = media_specs.setdefault(link.medium, link)
                if first != link:
                    raise BadArgument(f"cable {name} on shared medium {link.medium!r}: its link numbers {link} differ "
                                      f"from those of the medium's first cable {first}")
                if link.medium not in cluster.media:
                    cluster.media[link.medium] = LinkDirection(env, f"{link.medium}.medium", process=link.medium,
                                                               **params)
                forward = reverse = cluster.media[link.medium]
            cluster.directions[(a, b)] = forward
            cluster.directions[(b, a)] = reverse
            cluster.message_ps[forward.name] = cluster.message_ps[reverse.name] = link.message_latency_ps
        for direction in cluster._wires():
            direction.consume(_DRAIN_BYTES)
        return cluster

    def _wires(self) -> list[LinkDirection]:
        """Every distinct link direction (a shared medium once), in creation order."""
        return list({id(direction): direction for direction in self.directions.values()}.values())

    def route(self, src: int, dst: int) -> list[LinkDirection]:
        """Link directions of the shortest path src → dst: the platform's routing rule
        (:func:`~fpgasim.hw.platform.shortest_path`, ties to the lowest board index)."""
        neighbours: list[list[int]] = [[] for _ in self.fabrics]
        for a, b in sorted(self.directions):
            neighbours[a].append(b)
        path = shortest_path(neighbours, src, dst)
        if path is None:
            raise BadArgument(f"board{dst} is not reachable from board{src}: the topology does not connect them")
        return [self.directions[(a, b)] for a, b in zip(path, path[1:])]

    def link_bytes(self) -> int:
        """Bytes delivered over every link direction so far."""
        return sum(d.bytes_delivered for d in self._wires())

    def link_busy_ps(self) -> dict[str, int]:
        """Busy time of every link direction so far."""
        return {d.name: d.busy_ps() for d in self._wires()}

    def transfer(self, src: int, dst: int, stream: str, nbytes: int) -> Event:
        """Send ``nbytes`` that board ``src`` already holds to board ``dst`` along the route."""
        ready = Event(self.env).succeed()
        return self._forward(self.route(src, dst), stream, nbytes, ready, ready)

    def _arrival(self, key: tuple) -> Event:
        event = self._arrivals.get(key)
        if event is None:
            event = self._arrivals[key] = Event(self.env)
        return event

    def _hop(self, hop: LinkDirection, stream: str, nbytes: int, head_ready: Event, all_ready: Event,
             head_done: Event, all_done: Event) -> Generator[Event, object, None]:
        """Cut-through forwarding on one hop, pipelined: after the message cost the head packet
        leaves as soon as it is there and the middle follows it on the wire at once (each packet is
        delivered its latency after its last byte left); the head's delivery releases the next hop;
        the last packet leaves only once the upstream has all of it (the stream's jobs are served
        in order, so it follows the middle)."""
        head = min(hop.packet_bytes, nbytes)
        tail = min(hop.packet_bytes, nbytes - head)
        yield head_ready
        if self.message_ps[hop.name]:
            yield self.env.timeout(self.message_ps[hop.name])
        head_delivered = hop.send(stream, head)
        head_delivered.callbacks.append(lambda _event: head_done.succeed())
        if nbytes - head - tail > 0:
            hop.send(stream, nbytes - head - tail)
        yield all_ready
        yield hop.send(stream, tail) if tail else head_delivered
        all_done.succeed()

    def _forward(self, hops: list[LinkDirection], stream: str, nbytes: int, started: Event,
                 read: Event) -> Event:
        """Send ``nbytes`` along ``hops``; returns the event of the last byte's arrival."""
        head_ready, all_ready = started, read
        for hop in hops:
            head_done, all_done = Event(self.env), Event(self.env)
            self.env.process(self._hop(hop, stream, nbytes, head_ready, all_ready, head_done, all_done))
            head_ready, all_ready = head_done, all_done
        return all_ready

    def xfer_loader(self, board: int, group: XferGroup, params: EngineParams, layer_key: str) -> OperandLoader:
        """A loader process factory for ``board``'s share of ``group.operand``'s tiles.

        Args:
            board: this board's index (must be in ``group.members``).
            group: the boards sharing the operand.
            params: engine parameters (DMA chunk size).
            layer_key: distinguishes layers (arrival events are per layer and step).

        Returns:
            ``(step_index, step, nbytes) -> process``: reads this board's 1/P share through its
            own DMA stream, forwards it to every peer chunk by chunk while the DMA continues,
            and finishes when its own share is read, its sends are delivered, and every peer's
            share of the same step has arrived.
        """
        fabric = self.fabrics[board]
        stream = group.operand
        peers = [m for m in group.members if m != board]
        position = group.members.index(board)
        parts = len(group.members)

        def load(step_index: int, step: InnerStep, nbytes: int) -> Generator[Event, object, None]:
            share = nbytes // parts + (1 if position < nbytes % parts else 0)
            arrivals = []
            if share:
                started = Event(self.env).succeed()
                read = self.env.process(dma_read(self.env, fabric.ddr, fabric.ports[stream], stream, share,
                                                 chunk_bytes=params.dma_chunk_bytes))
                arrivals = [self._forward(self.route(board, peer), f"{stream}:{board}->{peer}", share, started, read)
                            for peer in peers]
                yield read
            yield simpy.AllOf(self.env, arrivals)
            for peer in peers:
                self._arrival((layer_key, step_index, board, peer)).succeed()
            yield simpy.AllOf(self.env, [self._arrival((layer_key, step_index, peer, board)) for peer in peers])

        return load

