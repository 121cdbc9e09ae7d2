"""The platform's links as the planner sees them: closed-form time of concurrent transfers.

Owns :class:`LinkModel` — every directed link of a platform in the planner's units (bytes and
latency per engine cycle, packet size), the routes between devices (:meth:`Platform.route`,
shortest by hops, ties as the emulator breaks them) — and the closed forms built on it:

- :meth:`LinkModel.flows_cycles`: a set of transfers that start together (redistribution between
  layers), each flow forwarded cut-through hop by hop as :class:`~fpgasim.sim.cluster.Cluster`
  does;
- :class:`XferCost`: the XFER exchange of one inner tile step (every board of a group sends its
  share to every peer while its DMA still reads it), vectorised over arrays of tile sizes.

The time of one flow of B bytes over hops k = 1…h (docs/analytical-model.md, "Links") follows
the emulator's forwarding: on each hop the link's per-message cost S_k (its software stack, off
the wire), then a head packet (min(p, B)) and at once the middle behind it (the wire stays
busy), and a tail packet that leaves only once the hop upstream has delivered everything; every
packet is delivered ``L`` (endpoint + propagation) after its last byte left, and the head's
delivery releases the next hop:

    H_k = H_{k-1} + S_k + head/r_k + L_k      (head delivered; H_0 = 0)
    E_k = H_{k-1} + S_k + (head + mid)/r_k     (head and middle have left)
    D_k = max(E_k, D_{k-1}) + tail/r_k + L_k   (all delivered; D_0 = when the source holds it
                                                all; without a tail D_k = max(H_k, D_{k-1}))

Flows that share a link direction take turns (round robin), so the flow also ends no earlier
than the busiest link on its route allows: hop k cannot start before A_k and carries load_k
bytes (every flow crossing it), after which the flow's last packet still crosses the hops
downstream:

    D = max(D_h, max_k [max(min(F_k, A_k) + load_k/r_k, A_k + B/r_k) + L_k
                        + Σ_{j>k} (last_j/r_j + L_j)])

with A_k = H_{k-1} + S_k when the flow's head may leave on link k, F_k the earliest any flow's
head leaves on it (the link may start on other flows' bytes before this one's arrive), and a
flow of one packet paying S_j again downstream.

A lone flow is timed exactly; concurrent all-to-all flows on a chain or ring within a few per
cent (tests/mapping/test_link_model.py). The rate r_k is the cable's
(:func:`~fpgasim.mapping.device.cable_bits_per_s`), at most what the receive FIFO's credits
allow: credits·p / (p/r + 2L) (the credit returns L after the packet is consumed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.hw.platform import Platform
from fpgasim.kernels import TiledConvDesign
from fpgasim.mapping.device import cable_bits_per_s, element_bytes, stream_cap_bits_per_s
from fpgasim.mapping.parts import IFM, WEIGHTS, xfer_groups
from fpgasim.mapping.spec import Partition

__all__ = ["LinkModel", "Routes", "XferCost", "Flow"]

#: One transfer: (source device, destination device, bytes, cycle when the source holds all of it).
Flow = tuple[str, str, object, object]


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Every directed link of a platform and the routes between its devices (planner units).

    Attributes:
        devices: device ids in platform order.
        bytes_per_cycle: payload rate of each directed link (credit-limited), bytes per engine cycle.
        latency_cycles: per-packet latency of each directed link (endpoint and propagation), cycles.
        packet_bytes: link transaction granularity of each directed link.
        message_cycles: per-message cost of each directed link (the link type's software stack),
            paid once per transfer on each hop before its first packet, off the wire, cycles.
        routes: (source, destination) → directed link indices along the route.
        element_bytes: bytes per value (tile sizes are given in elements).
    """

    devices: tuple[str, ...]
    bytes_per_cycle: np.ndarray
    latency_cycles: np.ndarray
    packet_bytes: np.ndarray
    routes: dict[tuple[str, str], tuple[int, ...]]
    element_bytes: int
    message_cycles: np.ndarray

    @classmethod
    def from_platform(cls, platform: Platform, *, clock_mhz: float, caps_bits_per_s: dict[str, int | None],
                      element_bytes: int) -> LinkModel:
        """The link model of ``platform`` in cycles of ``clock_mhz``.

        Args:
            platform: devices and cables.
            clock_mhz: the engine clock the plan counts cycles in.
            caps_bits_per_s: device id → the most its stream feeds a link (None: no cap).
            element_bytes: bytes per value.

        Raises:
            BadArgument: a non-positive clock.
        """
        if not clock_mhz > 0:
            raise BadArgument(f"LinkModel: clock_mhz={clock_mhz!r}: expected > 0")
        rate, latency, message, packet = [], [], [], []
        ns_per_cycle = 1e3 / clock_mhz
        for cable in platform.cables:
            bits = cable_bits_per_s(cable.link, [caps_bits_per_s.get(cable.a), caps_bits_per_s.get(cable.b)])
            wire_ns_per_byte = 8e9 / bits
            fixed_ns = cable.link.wire_latency_ns(cable.length_m)  # the emulator's per-packet (and credit) latency
            credits = cable.fifo_bytes // cable.packet_bytes
            credit_bytes_per_ns = credits * cable.packet_bytes / (cable.packet_bytes * wire_ns_per_byte + 2 * fixed_ns)
            bytes_per_ns = min(1 / wire_ns_per_byte, credit_bytes_per_ns)
            for _ in range(2):  # a → b, then b → a
                rate.append(bytes_per_ns * ns_per_cycle)
                latency.append(fixed_ns / ns_per_cycle)
                message.append(cable.link.latency_ns.software / ns_per_cycle)
                packet.append(cable.packet_bytes)
        ids = tuple(device.id for device in platform.devices)
        routes = {}
        for src in ids:
            for dst in ids:
                if src != dst:
                    routes[(src, dst)] = tuple(2 * cable.index + (0 if start == cable.a else 1)
                                               for cable, start, _ in platform.route(src, dst))
        return cls(devices=ids, bytes_per_cycle=np.array(rate, dtype=np.float64),
                   latency_cycles=np.array(latency, dtype=np.float64), packet_bytes=np.array(packet, dtype=np.float64),
                   routes=routes, element_bytes=element_bytes, message_cycles=np.array(message, dtype=np.float64))

    @classmethod
    def for_design(cls, platform: Platform, design: TiledConvDesign) -> LinkModel:
        """The link model of a platform whose every FPGA runs ``design`` (a layer-list cluster):
        cycles of its clock, its weight stream capping each cable."""
        cap = stream_cap_bits_per_s(design.stream_width_bits.weights, design.clock_mhz * 1e6)
        return cls.from_platform(platform, clock_mhz=design.clock_mhz,
                                 caps_bits_per_s={device.id: cap for device in platform.devices},
                                 element_bytes=element_bytes(design.precision.word_bits))

    def hops(self, src: str, dst: str) -> int:
        """Links on the route from ``src`` to ``dst``."""
        return len(self.routes[(src, dst)]) if src != dst else 0

    def flows_cycles(self, flows: Sequence[Flow]) -> np.ndarray:
        """When the last byte of a set of transfers that start together has arrived, cycles.

        Args:
            flows: (source, destination, bytes, ready) with ``bytes`` and ``ready`` (the cycle
                the source holds all the bytes) scalars.

        Returns:
            The arrival of the last flow's last byte (0 without flows or bytes).
        """
        if not flows:
            return np.float64(0.0)
        routes = [self.routes[(src, dst)] for src, dst, _, _ in flows]
        size = np.array([[float(size) for _, _, size, _ in flows]])
        ready = np.array([[float(ready) for _, _, _, ready in flows]])
        return self.transfers(Routes.of(self, routes), size, ready)[0]

    def transfers(self, routes: Routes, size: np.ndarray, ready: np.ndarray) -> np.ndarray:
        """The closed form of the module docstring for N sets of F concurrent flows at once.

        Args:
            routes: the F flows' routes (:meth:`Routes.of`).
            size, ready: (N, F) bytes of each flow and when its source holds them all, cycles.

        Returns:
            (N,) arrival of each set's last byte, cycles.
        """
        rate, latency, message, packet, valid = routes.rate, routes.latency, routes.message, routes.packet, routes.valid
        links = routes.links
        size = size[:, :, None]  # (N, F, 1) against (F, H)
        head = np.minimum(packet, size)
        tail = np.minimum(packet, size - head)
        mid = size - head - tail
        lead = np.where(valid, message + head / rate + latency, 0.0)
        start = np.cumsum(lead, axis=2) - lead + message  # when the head leaves on each hop, alone on the links
        load = size[:, :, 0] @ routes.incidence  # (N, E): bytes of every flow crossing each link
        sent = np.where(size > 0, start, np.inf).reshape(size.shape[0], -1)
        first = np.full(load.shape, np.inf)
        for link, crossing in routes.crossings:
            first[:, link] = sent[:, crossing].min(axis=1)
        safe = np.where(valid, links, 0)
        hop_load, hop_first = load[:, safe], first[:, safe]
        head_done = np.zeros(size.shape[:2])
        all_done = np.broadcast_to(ready, size.shape[:2]).astype(np.float64)
        bounds, lasts = [], []
        for h in range(valid.shape[1]):
            ok = valid[:, h]
            r, lat, msg = rate[:, h], latency[:, h], message[:, h]
            b, hd, tl, md = size[:, :, 0], head[:, :, h], tail[:, :, h], mid[:, :, h]
            leaves = head_done + msg
            busy = np.maximum(np.minimum(hop_first[:, :, h], leaves) + np.maximum(hop_load[:, :, h], b) / r,
                              leaves + b / r)
            bounds.append(np.where(ok, busy + lat, 0.0))
            lasts.append(np.where(ok, np.where(tl > 0, tl / r + lat, msg + hd / r + lat), 0.0))
            new_head = leaves + hd / r + lat
            done = np.where(tl > 0, np.maximum(leaves + (hd + md) / r, all_done) + tl / r + lat,
                            np.maximum(new_head, all_done))
            head_done, all_done = np.where(ok, new_head, head_done), np.where(ok, done, all_done)
        downstream = np.zeros_like(all_done)
        for busy_until, last in zip(reversed(bounds), reversed(lasts)):
            all_done = np.maximum(all_done, busy_until + downstream)
            downstream = downstream + last
        return np.where(size[:, :, 0] > 0, all_done, 0.0).max(axis=1, initial=0.0)

    def xfer(self, partition: Partition, devices: Sequence[str] | None = None) -> XferCost | None:
        """The XFER exchange of ``partition`` on ``devices`` (board index → device id; default the
        platform's first devices), or None when no board shares an operand."""
        devices = tuple(self.devices if devices is None else devices)
        groups = xfer_groups(partition)
        if not groups:
            return None
        routes, weights = [], []
        for group in groups:
            for src in group.members:
                for dst in group.members:
                    if src != dst:
                        routes.append(self.routes[(devices[src], devices[dst])])
                        weights.append(group.operand == WEIGHTS)
        weights = np.array(weights)
        hops = np.array([len(route) for route in routes])
        padded = Routes.of(self, routes)
        w_count, i_count = weights.astype(np.float64) @ padded.incidence, (~weights).astype(np.float64) @ padded.incidence
        fixed = self.latency_cycles + self.message_cycles
        terms = {(w_count[k], i_count[k], self.bytes_per_cycle[k], fixed[k])
                 for k in range(len(self.bytes_per_cycle)) if w_count[k] or i_count[k]}
        return XferCost(links=self, partition=partition, routes=padded, weights=weights,
                        hop_flows_weights=int(hops[weights].sum()), hop_flows_ifm=int(hops[~weights].sum()),
                        _link_terms=tuple(sorted(terms)))


@dataclass(frozen=True, slots=True)
class Routes:
    """F routes padded to the longest (H hops): link index, rate, latency, message cost, packet per
    hop, and which hops exist (``valid``)."""

    links: np.ndarray
    valid: np.ndarray
    rate: np.ndarray
    latency: np.ndarray
    message: np.ndarray
    packet: np.ndarray
    #: (F, E): how often each flow crosses each link direction.
    incidence: np.ndarray
    #: per link direction crossed: (link, flat indices f·H + h of the hops that cross it).
    crossings: tuple[tuple[int, np.ndarray], ...]

    @classmethod
    def of(cls, model: LinkModel, routes: Sequence[tuple[int, ...]]) -> Routes:
        """The padded arrays of ``routes`` on ``model``'s links."""
        width = max((len(route) for route in routes), default=0)
        links = np.full((len(routes), width), -1, dtype=np.int64)
        for index, route in enumerate(routes):
            links[index, :len(route)] = route
        valid = links >= 0
        safe = np.where(valid, links, 0)
        incidence = np.zeros((len(routes), len(model.bytes_per_cycle)))
        for index, route in enumerate(routes):
            for link in route:
                incidence[index, link] += 1
        flat = links.ravel()
        crossings = tuple((int(link), np.flatnonzero(flat == link)) for link in np.unique(flat[flat >= 0]))
        return cls(links=links, valid=valid, rate=model.bytes_per_cycle[safe], latency=model.latency_cycles[safe],
                   message=model.message_cycles[safe], packet=model.packet_bytes[safe], incidence=incidence,
                   crossings=crossings)


@dataclass(frozen=True, slots=True)
class XferCost:
    """The XFER exchange of one partition: every share flow of both operands.

    Attributes:
        links: the link model. partition: the split.
        routes: every flow (a board's share to one peer). weights: which flows carry weight shares.
        hop_flows_weights, hop_flows_ifm: Σ over flows of their hops (bytes over every link =
            share × this).
    """

    links: LinkModel
    partition: Partition
    routes: Routes
    weights: np.ndarray
    hop_flows_weights: int
    hop_flows_ifm: int
    #: distinct (weight flows, IFM flows, rate, latency + message cost) of the link directions the flows cross.
    _link_terms: tuple[tuple[float, float, float, float], ...] = ()

    def shares_bytes(self, w_tile_elems, ifm_tile_elems) -> tuple[np.ndarray, np.ndarray]:
        """The largest share one board reads and sends of a weight and of an IFM tile, bytes."""
        nbytes = self.links.element_bytes
        ps, pm = self.partition.spatial, self.partition.pm
        w = np.ceil(np.asarray(w_tile_elems, dtype=np.float64) * nbytes / ps) if ps > 1 else np.float64(0.0)
        i = np.ceil(np.asarray(ifm_tile_elems, dtype=np.float64) * nbytes / pm) if pm > 1 else np.float64(0.0)
        return w, i

    def cycles(self, w_tile_elems, ifm_tile_elems, w_read_cycles, ifm_read_cycles) -> np.ndarray:
        """Cycles until a board holds every share of one inner step (its own read and every peer's).

        Args:
            w_tile_elems, ifm_tile_elems: the whole weight / IFM tile of the step, elements (arrays).
            w_read_cycles, ifm_read_cycles: when a board's own share of each is read from DDR.
        """
        w, i = self.shares_bytes(w_tile_elems, ifm_tile_elems)
        columns = np.broadcast_arrays(w, i, np.asarray(w_read_cycles, dtype=np.float64),
                                      np.asarray(ifm_read_cycles, dtype=np.float64))
        shape = columns[0].shape
        w, i, w_ready, i_ready = (column.ravel() for column in columns)
        # the search's many tilings have few distinct (share, read) rows: price each once
        _, first, inverse = np.unique(np.stack([w, i, w_ready, i_ready], axis=1), axis=0, return_index=True,
                                      return_inverse=True)
        w, i, w_ready, i_ready = (column[first][:, None] for column in (w, i, w_ready, i_ready))
        size = np.where(self.weights, w, i)
        ready = np.where(self.weights, w_ready, i_ready)
        reads = np.maximum(np.where(w > 0, w_ready, 0.0), np.where(i > 0, i_ready, 0.0))[:, 0]
        end = np.maximum(reads, self.links.transfers(self.routes, size, ready))
        return end[inverse.ravel()].reshape(shape)

    def lower_bound(self, w_tile_elems, ifm_tile_elems, w_read_cycles, ifm_read_cycles) -> np.ndarray:
        """A cheap lower bound of :meth:`cycles`: the board's own reads, and every link direction's
        bytes serialised at its rate plus its latency and message cost (no flow can end before its link is
        through, nor start on it before its message cost)."""
        w, i = self.shares_bytes(w_tile_elems, ifm_tile_elems)
        end = np.maximum(np.where(w > 0, w_read_cycles, 0.0), np.where(i > 0, ifm_read_cycles, 0.0))
        for w_count, i_count, rate, latency in self._link_terms:
            load = w_count * w + i_count * i
            end = np.maximum(end, np.where(load > 0, load / rate + latency, 0.0))
        return end

    def link_bytes(self, w_tile_elems, ifm_tile_elems) -> np.ndarray:
        """Bytes delivered over every link direction (every hop) for one inner step, whole cluster."""
        w, i = self.shares_bytes(w_tile_elems, ifm_tile_elems)
        return w * self.hop_flows_weights + i * self.hop_flows_ifm
