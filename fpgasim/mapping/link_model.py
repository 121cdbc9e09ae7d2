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
the emulator's forwarding: a head packet (min(p, B)), the middle, and a tail packet that leaves
only once the hop upstream has delivered everything, each part delivered ``L`` after its last
byte left:

    H_k = H_{k-1} + head/r_k + L_k            (head delivered; H_0 = 0)
    M_k = H_k + mid/r_k + L_k                  (middle delivered; = H_k when mid = 0)
    D_k = max(M_k, D_{k-1}) + tail/r_k + L_k   (all delivered; D_0 = when the source holds it
                                                all; without a tail D_k = max(H_k, D_{k-1}))

Flows that share a link direction take turns (round robin), so the flow also ends no earlier
than the busiest link on its route allows: hop k cannot start before H_{k-1} and carries load_k
bytes (every flow crossing it), after which the flow's last packet still crosses the hops
downstream:

    D = max(D_h, max_k [max(min(F_k, H_{k-1}) + load_k/r_k, H_{k-1} + B/r_k) + L_k
                        + Σ_{j>k} (last_j/r_j + L_j)])

with F_k the earliest any flow's head reaches link k (the link may start on other flows' bytes
before this one's arrive).

A lone flow is timed exactly; concurrent all-to-all flows on a chain or ring within a few per
cent (tests/mapping/test_link_model.py). The rate r_k is the cable's
(:func:`~fpgasim.mapping.device.cable_bits_per_s`), at most what the receive FIFO's credits
allow: credits·p / (p/r + 2L).
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

__all__ = ["LinkModel", "XferCost", "Flow"]

#: One transfer: (source device, destination device, bytes, cycle when the source holds all of it).
Flow = tuple[str, str, object, object]


@dataclass(frozen=True, slots=True)
class LinkModel:
    """Every directed link of a platform and the routes between its devices (planner units).

    Attributes:
        devices: device ids in platform order.
        bytes_per_cycle: payload rate of each directed link (credit-limited), bytes per engine cycle.
        latency_cycles: fixed latency of each directed link (endpoint, software, propagation), cycles.
        packet_bytes: link transaction granularity of each directed link.
        routes: (source, destination) → directed link indices along the route.
        element_bytes: bytes per value (tile sizes are given in elements).
    """

    devices: tuple[str, ...]
    bytes_per_cycle: np.ndarray
    latency_cycles: np.ndarray
    packet_bytes: np.ndarray
    routes: dict[tuple[str, str], tuple[int, ...]]
    element_bytes: int

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
        rate, latency, packet = [], [], []
        ns_per_cycle = 1e3 / clock_mhz
        for cable in platform.cables:
            bits = cable_bits_per_s(cable.link, [caps_bits_per_s.get(cable.a), caps_bits_per_s.get(cable.b)])
            wire_ns_per_byte = 8e9 / bits
            fixed_ns = cable.fixed_latency_ns
            credits = cable.fifo_bytes // cable.packet_bytes
            credit_bytes_per_ns = credits * cable.packet_bytes / (cable.packet_bytes * wire_ns_per_byte + 2 * fixed_ns)
            bytes_per_ns = min(1 / wire_ns_per_byte, credit_bytes_per_ns)
            for _ in range(2):  # a → b, then b → a
                rate.append(bytes_per_ns * ns_per_cycle)
                latency.append(fixed_ns / ns_per_cycle)
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
                   routes=routes, element_bytes=element_bytes)

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
                the source holds all the bytes) scalars or broadcastable arrays.

        Returns:
            The arrival of the last flow's last byte (0 without flows or bytes).
        """
        load: list = [0.0] * len(self.bytes_per_cycle)
        first: list = [np.inf] * len(self.bytes_per_cycle)
        for src, dst, size, _ in flows:
            size = np.asarray(size, dtype=np.float64)
            for link, head_at in zip(self.routes[(src, dst)], self._heads(self.routes[(src, dst)], size)):
                load[link] = load[link] + size
                first[link] = np.minimum(first[link], np.where(size > 0, head_at, np.inf))
        end = np.float64(0.0)
        for src, dst, size, ready in flows:
            route = self.routes[(src, dst)]
            end = np.maximum(end, self._flow(route, np.asarray(size, dtype=np.float64), [load[k] for k in route],
                                             [first[k] for k in route], ready))
        return np.asarray(end)

    def _heads(self, route: tuple[int, ...], size: np.ndarray) -> list[np.ndarray]:
        """When the flow's first packet reaches each hop of ``route`` (alone on the links)."""
        at, found = np.zeros_like(size), []
        for link in route:
            found.append(at)
            at = at + np.minimum(self.packet_bytes[link], size) / self.bytes_per_cycle[link] + self.latency_cycles[link]
        return found

    def _flow(self, route: tuple[int, ...], size: np.ndarray, loads: list, firsts: list, ready) -> np.ndarray:
        """The closed form of the module docstring for one flow of ``size`` bytes."""
        head_done = np.zeros_like(size)
        all_done = np.asarray(ready, dtype=np.float64) + np.zeros_like(size)
        bounds = []  # per hop: when its link has carried every flow's bytes, and the last packet's time there
        for link, load, start in zip(route, loads, firsts, strict=True):
            rate, latency, packet = self.bytes_per_cycle[link], self.latency_cycles[link], self.packet_bytes[link]
            head = np.minimum(packet, size)
            tail = np.minimum(packet, size - head)
            mid = size - head - tail
            busy = np.maximum(np.minimum(start, head_done) + np.maximum(load, size) / rate, head_done + size / rate)
            bounds.append((busy + latency, np.where(tail > 0, tail, head) / rate + latency))
            head_done = head_done + head / rate + latency
            mid_done = head_done + np.where(mid > 0, mid / rate + latency, 0.0)
            all_done = np.where(tail > 0, np.maximum(mid_done, all_done) + tail / rate + latency,
                                np.maximum(head_done, all_done))
        downstream = np.zeros_like(size)
        for busy_until, last in reversed(bounds):
            all_done = np.maximum(all_done, busy_until + downstream)
            downstream = downstream + last
        return np.where(size > 0, all_done, 0.0)

    def xfer(self, partition: Partition, devices: Sequence[str] | None = None) -> XferCost | None:
        """The XFER exchange of ``partition`` on ``devices`` (board index → device id; default the
        platform's first devices), or None when no board shares an operand."""
        devices = tuple(self.devices if devices is None else devices)
        groups = xfer_groups(partition)
        if not groups:
            return None
        counts = {WEIGHTS: np.zeros(len(self.bytes_per_cycle)), IFM: np.zeros(len(self.bytes_per_cycle))}
        routes: dict[str, list[tuple[int, ...]]] = {WEIGHTS: [], IFM: []}
        hop_count = {WEIGHTS: 0, IFM: 0}
        for group in groups:
            for src in group.members:
                for dst in group.members:
                    if src != dst:
                        route = self.routes[(devices[src], devices[dst])]
                        routes[group.operand].append(route)
                        counts[group.operand][list(route)] += 1
                        hop_count[group.operand] += len(route)
        signatures: dict[tuple, tuple[str, tuple[int, ...]]] = {}
        for operand, found in routes.items():
            for route in found:
                key = (operand, tuple((counts[WEIGHTS][link], counts[IFM][link], self.bytes_per_cycle[link],
                                       self.latency_cycles[link], self.packet_bytes[link]) for link in route))
                signatures.setdefault(key, (operand, route))
        before = {operand: np.full(len(self.bytes_per_cycle), -1) for operand in routes}
        for operand, found in routes.items():
            for route in found:
                for position, link in enumerate(route):
                    if before[operand][link] < 0 or position < before[operand][link]:
                        before[operand][link] = position
        return XferCost(links=self, partition=partition, weight_counts=counts[WEIGHTS], ifm_counts=counts[IFM],
                        classes=tuple(signatures.values()), hop_flows_weights=hop_count[WEIGHTS],
                        hop_flows_ifm=hop_count[IFM], weight_hops_before=before[WEIGHTS],
                        ifm_hops_before=before[IFM])


@dataclass(frozen=True, slots=True)
class XferCost:
    """The XFER exchange of one partition: which link directions its flows cross.

    Attributes:
        links: the link model. partition: the split.
        weight_counts, ifm_counts: weight / IFM share flows crossing each directed link.
        classes: one (operand, route) per distinct flow shape (equal flows are timed once).
        hop_flows_weights, hop_flows_ifm: Σ over flows of their hops (bytes over every link =
            share × this).
        weight_hops_before, ifm_hops_before: per directed link, the fewest hops a flow of that
            operand crosses before it (−1: none crosses it) — when the link's first bytes can come.
    """

    links: LinkModel
    partition: Partition
    weight_counts: np.ndarray
    ifm_counts: np.ndarray
    classes: tuple[tuple[str, tuple[int, ...]], ...]
    hop_flows_weights: int
    hop_flows_ifm: int
    weight_hops_before: np.ndarray
    ifm_hops_before: np.ndarray

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
        end = np.maximum(np.where(w > 0, w_read_cycles, 0.0), np.where(i > 0, ifm_read_cycles, 0.0))
        links = self.links
        for operand, route in self.classes:
            size, ready = (w, w_read_cycles) if operand == WEIGHTS else (i, ifm_read_cycles)
            loads, firsts = [], []
            for link in route:
                loads.append(self.weight_counts[link] * w + self.ifm_counts[link] * i)
                hop_time = links.latency_cycles[link]
                first = np.inf
                for hops, share in ((self.weight_hops_before[link], w), (self.ifm_hops_before[link], i)):
                    if hops >= 0:
                        first = np.minimum(first, np.where(share > 0, hops * (
                            np.minimum(links.packet_bytes[link], share) / links.bytes_per_cycle[link] + hop_time), np.inf))
                firsts.append(first)
            end = np.maximum(end, links._flow(route, np.asarray(size, dtype=np.float64), loads, firsts, ready))
        return end

    def link_bytes(self, w_tile_elems, ifm_tile_elems) -> np.ndarray:
        """Bytes delivered over every link direction (every hop) for one inner step, whole cluster."""
        w, i = self.shares_bytes(w_tile_elems, ifm_tile_elems)
        return w * self.hop_flows_weights + i * self.hop_flows_ifm
