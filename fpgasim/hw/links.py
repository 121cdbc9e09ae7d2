"""Inter-board link types: protocol constants that turn bytes into nanoseconds.

Owns: the typed ``boards/links.yaml`` document (``schema: 1``, top-level ``link_types:`` and
``sources:``) and the transfer-time model
``t_ns = endpoint_fixed + software + length_m × per_meter + 8 × bytes / effective_gbps``
(1 Gb/s = 1 bit/ns). Physical link instances and topologies live with the experiment.

In the emulator the ``software`` term is a per-message cost (a kernel socket's send and receive
path), paid once per transfer on each hop before its first packet, off the wire; the endpoint and
propagation terms are paid per packet (pipelined). A ``shared_medium`` link type (Wi-Fi) has one
transmitter at a time across all its cables of a platform. A link type with a ``frames:``
section (optional; absent on the older entries, whose numbers are unchanged) also says how a
message is cut into frames: at most ``mtu_payload_bytes`` of payload each, each adding
``overhead_bytes`` on the wire and padded to ``min_wire_bytes``; :meth:`LinkType.wire_bytes` and :meth:`LinkType.serialisation_ns` give the
bytes and time of every frame at the line rate after coding (:attr:`LinkType.line_gbps`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fpgasim.config import Fraction, NonNegFloat, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.hw._cited import load_cited
from fpgasim.hw.board import IoPortKind

__all__ = ["FrameFormat", "LinkLatency", "LinkType", "LinkTypesDocument", "load_link_types"]


@config_class
class LinkLatency:
    """Latency terms of one transfer, ns."""

    #: TX→RX latency of the two endpoints (PHY, MAC, protocol logic), ns.
    endpoint_fixed: NonNegFloat
    #: propagation delay per metre of cable, ns/m.
    per_meter: NonNegFloat
    #: operating-system / driver cost per transfer (per message, not per packet), ns.
    software: NonNegFloat = 0.0


@config_class
class FrameFormat:
    """How a message is segmented into frames on the wire (MTU segmentation)."""

    #: payload bytes per frame (MTU minus the IP and UDP/TCP headers), bytes.
    mtu_payload_bytes: PosInt
    #: wire bytes each frame adds to its payload (preamble, headers, FCS, inter-frame gap), bytes.
    overhead_bytes: NonNegInt
    #: smallest frame on the wire including its overhead (a short frame is padded), bytes.
    min_wire_bytes: NonNegInt = 0


@config_class
class LinkType:
    """A link protocol over some physical port kind."""

    protocol: Str
    #: per-lane line rate on the wire, Gb/s.
    line_rate_gbps: PosFloat
    #: payload share after line coding (64/66, 8/10 …).
    encoding_efficiency: Fraction
    #: payload share after framing, headers and gaps.
    protocol_efficiency: Fraction
    latency_ns: LinkLatency
    #: port kinds the link can run over.
    port_kinds: tuple[IoPortKind, ...]
    #: lanes bonded into one link.
    lanes: PosInt = 1
    #: CRC-only links (e.g. Aurora) do not retransmit.
    reliable: bool = False
    #: one transmitter at a time across every cable of this type in a platform (a radio channel).
    shared_medium: bool = False
    #: frame segmentation of a message (None: the payload rate ``effective_gbps`` alone).
    frames: FrameFormat | None = None

    @property
    def line_gbps(self) -> float:
        """Rate of wire bytes (frames with their overhead): line rate × lanes × encoding, Gb/s."""
        return self.line_rate_gbps * self.lanes * self.encoding_efficiency

    def frame_count(self, size_bytes: int) -> int:
        """Frames of one message of ``size_bytes`` (at least one; 1 without a ``frames`` section).

        Raises:
            BadArgument: a negative or non-integer size.
        """
        _check_bytes(size_bytes)
        if self.frames is None:
            return 1
        return max(1, -(-size_bytes // self.frames.mtu_payload_bytes))

    def wire_bytes(self, size_bytes: int) -> int:
        """Bytes on the wire for one message: every frame's payload + overhead, padded to the minimum.

        Raises:
            BadArgument: no ``frames`` section, or a negative or non-integer size.
        """
        if self.frames is None:
            raise BadArgument(f"link type {self.protocol!r} has no `frames:` section; wire_bytes needs one")
        count = self.frame_count(size_bytes)
        mtu, overhead, minimum = self.frames.mtu_payload_bytes, self.frames.overhead_bytes, self.frames.min_wire_bytes
        last = size_bytes - (count - 1) * mtu
        return (count - 1) * max(mtu + overhead, minimum) + max(last + overhead, minimum)

    def serialisation_ns(self, size_bytes: int) -> float:
        """Time to put one message on the wire, ns: ``8 × wire_bytes / line_gbps`` with frames,
        else ``8 × size_bytes / effective_gbps``.

        Raises:
            BadArgument: a negative or non-integer size.
        """
        if self.frames is None:
            _check_bytes(size_bytes)
            return 8 * size_bytes / self.effective_gbps
        return 8 * self.wire_bytes(size_bytes) / self.line_gbps

    @property
    def effective_gbps(self) -> float:
        """Payload rate: line rate × lanes × encoding × protocol efficiency, Gb/s."""
        return self.line_rate_gbps * self.lanes * self.encoding_efficiency * self.protocol_efficiency

    def fixed_latency_ns(self, length_m: float) -> float:
        """Latency of one transfer before its first payload bit counts: the one home of this sum.

        Args:
            length_m: cable length, metres (>= 0).

        Returns:
            ``endpoint_fixed + software + per_meter × length_m``, ns.

        Raises:
            BadArgument: a negative or non-numeric length.
        """
        _check_non_negative("length_m", length_m)
        lat = self.latency_ns
        return lat.endpoint_fixed + lat.software + lat.per_meter * length_m

    def wire_latency_ns(self, length_m: float) -> float:
        """The per-packet part of :meth:`fixed_latency_ns` (no software term), ns.

        Raises:
            BadArgument: a negative or non-numeric length.
        """
        _check_non_negative("length_m", length_m)
        lat = self.latency_ns
        return lat.endpoint_fixed + lat.per_meter * length_m

    def transfer_time_ns(self, size_bytes: int | float, length_m: float) -> float:
        """Time from the first byte sent to the last byte received.

        Args:
            size_bytes: payload bytes (>= 0).
            length_m: cable length, metres (>= 0).

        Returns:
            ``fixed_latency_ns(length_m) + 8 × size_bytes / effective_gbps``, ns.

        Raises:
            BadArgument: a negative or non-numeric size or length.
        """
        _check_non_negative("size_bytes", size_bytes)
        return self.fixed_latency_ns(length_m) + 8 * size_bytes / self.effective_gbps


def _check_bytes(size_bytes: object) -> None:
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < 0:
        raise BadArgument(f"size_bytes must be an int >= 0; got {size_bytes!r}")


def _check_non_negative(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise BadArgument(f"{name} must be a number >= 0; got {value!r}")


@config_class
class LinkTypesDocument:
    link_types: dict[Str, LinkType]
    sources: dict[Str, Str]


def _nonempty(doc_obj: LinkTypesDocument, doc: YamlDocument) -> Iterable[Problem]:
    if not doc_obj.link_types:
        yield doc.problem(("link_types",), "no link types defined; expected at least one")
    for name, link in doc_obj.link_types.items():
        if not link.port_kinds:
            yield doc.problem(("link_types", name, "port_kinds"), "empty; expected at least one port kind")


def load_link_types(path: str | Path | None = None) -> dict[str, LinkType]:
    """Load the link-type library.

    Args:
        path: a link-types YAML file; default ``links.yaml`` in the boards directory.

    Returns:
        Link-type name → :class:`LinkType`.

    Raises:
        ConfigError: every problem in the file, with places.
    """
    if path is None:
        from fpgasim.hw.library import boards_dir

        path = boards_dir() / "links.yaml"
    document, _ = load_cited(path, LinkTypesDocument, sources_at=("sources",), checks=(_nonempty,))
    return dict(document.link_types)
