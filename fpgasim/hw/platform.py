"""A platform: devices and the cables between them, a typed graph.

Owns: the device kinds of a platform (:class:`FpgaDevice` — a board with its own kernel design,
:class:`ComputeDevice` — a CPU/GPU from ``boards/compute.yaml``), :class:`Cable` (one link
instance), :class:`Platform` with its routing rule (shortest path by hops, ties broken by device
declaration order), the cabling of today's homogeneous clusters (:func:`topology_edges`), and the
graph rules every platform obeys (unique ids, real two-ended cables, one cable per pair,
connected). Loading a ``platform:`` section from YAML is :mod:`fpgasim.hw._platform_load`.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fpgasim.config import format_key_path
from fpgasim.errors import BadArgument
from fpgasim.hw.board import Board
from fpgasim.hw.compute import ComputeSpec
from fpgasim.hw.links import LinkType

__all__ = [
    "FpgaDevice", "ComputeDevice", "PlatformDevice", "Cable", "Hop", "Platform", "topology_edges", "graph_problems",
    "unknown_id_message", "DEFAULT_BURST_BYTES", "DEFAULT_LENGTH_M", "DEFAULT_PACKET_BYTES", "DEFAULT_FIFO_BYTES",
]

#: DDR transaction granularity of an FPGA device unless the platform says otherwise, bytes.
DEFAULT_BURST_BYTES = 4096
#: Cable length unless the platform says otherwise, metres.
DEFAULT_LENGTH_M = 1.0
#: Link transaction granularity unless the platform says otherwise, bytes.
DEFAULT_PACKET_BYTES = 256
#: Receive FIFO per link direction unless the platform says otherwise, bytes.
DEFAULT_FIFO_BYTES = 8192

#: Where a graph problem sits below the platform section, and what it is.
GraphProblem = tuple[tuple[str | int, ...], str]


@dataclass(frozen=True, slots=True, kw_only=True)
class FpgaDevice:
    """An FPGA board running its own kernel design (the design is loaded by a higher layer).

    Attributes:
        id: the device id in the platform.
        board: the board.
        kernel_path: the kernel design file, resolved.
        memory_channel: id of the board's memory channel the engine's streams use.
        burst_bytes: DDR transaction granularity, bytes.
    """

    id: str
    board: Board
    kernel_path: Path
    memory_channel: str
    burst_bytes: int = DEFAULT_BURST_BYTES


@dataclass(frozen=True, slots=True, kw_only=True)
class ComputeDevice:
    """A CPU or GPU that runs nodes from its throughput model; ``spec_id`` names its library entry."""

    id: str
    spec: ComputeSpec
    spec_id: str


#: A device of a platform.
PlatformDevice = FpgaDevice | ComputeDevice


@dataclass(frozen=True, slots=True, kw_only=True)
class Cable:
    """One link between devices ``a`` and ``b`` (full duplex).

    Attributes:
        index: position in the platform's cable list.
        a, b: the device ids at its ends.
        link_id: link type id in ``boards/links.yaml``; ``link`` the link type.
        length_m: cable length, metres.
        packet_bytes: link transaction granularity, bytes.
        fifo_bytes: receive FIFO per direction, bytes.
    """

    index: int
    a: str
    b: str
    link_id: str
    link: LinkType
    length_m: float = DEFAULT_LENGTH_M
    packet_bytes: int = DEFAULT_PACKET_BYTES
    fifo_bytes: int = DEFAULT_FIFO_BYTES

    @property
    def fixed_latency_ns(self) -> float:
        """Latency of this cable before the payload (the link type's, at this length), ns."""
        return self.link.fixed_latency_ns(self.length_m)


#: One hop of a route: the cable, the device it leaves and the device it reaches.
Hop = tuple[Cable, str, str]


def topology_edges(kind: str, boards: int) -> list[tuple[int, int]]:
    """Cables of a topology as (a, b) board-index pairs, a < b, in a fixed order.

    Raises:
        BadArgument: ``pair`` with other than 2 boards, or an unknown kind.
    """
    if boards < 2:
        return []
    if kind == "pair":
        if boards != 2:
            raise BadArgument(f"topology 'pair' joins exactly 2 boards; got boards={boards} "
                              "(use chain, ring or fully_connected)")
        return [(0, 1)]
    if kind == "chain":
        return [(i, i + 1) for i in range(boards - 1)]
    if kind == "ring":
        return [(i, i + 1) for i in range(boards - 1)] + ([(0, boards - 1)] if boards > 2 else [])
    if kind == "fully_connected":
        return [(a, b) for a in range(boards) for b in range(a + 1, boards)]
    raise BadArgument(f"topology {kind!r}: expected pair, chain, ring or fully_connected")


def unknown_id_message(name: str, known: Sequence[str], what: str, where: str = "") -> str:
    """``unknown <what> 'name'<where>; did you mean 'x'? known: a, b`` (the suggestion when one is close)."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return f"unknown {what} {name!r}{where}{hint} known: {', '.join(known) or 'none'}"


def graph_problems(device_ids: Sequence[str], ends: Sequence[Sequence[str]]) -> list[GraphProblem]:
    """The graph rules of a platform, as (place below the section, message) pairs.

    Args:
        device_ids: device ids in declaration order.
        ends: for each cable, the ids of its two ends.

    Returns:
        A problem per duplicate device id, cable end naming no device, cable joining a device to
        itself, second cable between the same pair, and one for devices not all connected (it names
        the unreachable devices and the component of the first device they are cut from).
    """
    problems: list[GraphProblem] = []
    first: dict[str, int] = {}
    for index, device_id in enumerate(device_ids):
        if device_id in first:
            problems.append((("devices", index, "id"),
                             f"duplicate device id {device_id!r} (first used at devices[{first[device_id]}])"))
        first.setdefault(device_id, index)
    known = list(first)
    pairs: dict[frozenset[str], int] = {}
    for index, (a, b) in enumerate(ends):
        bad = [(end, name) for end, name in enumerate((a, b)) if name not in first]
        for end, name in bad:
            problems.append((("cables", index, "between", end), unknown_id_message(name, known, "device")))
        if bad:
            continue
        if a == b:
            problems.append((("cables", index, "between"),
                             f"cable joins device {a!r} to itself; expected two different devices"))
            continue
        pair = frozenset((a, b))
        if pair in pairs:
            problems.append((("cables", index, "between"),
                             f"duplicate cable between {a!r} and {b!r} (first at cables[{pairs[pair]}])"))
            continue
        pairs[pair] = index
    reached = _reachable(known, [tuple(pair) for pair in pairs])
    cut = [device_id for device_id in known if device_id not in reached]
    if cut:
        component = [device_id for device_id in known if device_id in reached]
        cut_text = f"devices {', '.join(cut)} are" if len(cut) > 1 else f"device {cut[0]} is"
        problems.append((("cables",), f"{cut_text} not connected to {', '.join(component)}: no path of cables "
                                      "joins them; every device must reach every other"))
    return problems


def _reachable(device_ids: Sequence[str], pairs: Sequence[tuple[str, str]]) -> set[str]:
    """Devices reachable from the first one over ``pairs`` (empty platform: nothing)."""
    if not device_ids:
        return set()
    neighbours: dict[str, list[str]] = {device_id: [] for device_id in device_ids}
    for a, b in pairs:
        neighbours[a].append(b)
        neighbours[b].append(a)
    reached, queue = {device_ids[0]}, deque([device_ids[0]])
    while queue:
        for nxt in neighbours[queue.popleft()]:
            if nxt not in reached:
                reached.add(nxt)
                queue.append(nxt)
    return reached


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    """Devices and cables; obeys :func:`graph_problems` (checked at construction) and has a device.

    Raises:
        BadArgument: at construction, no device or any graph problem (all of them in one message).
    """

    devices: tuple[PlatformDevice, ...]
    cables: tuple[Cable, ...] = ()
    _index: dict[str, int] = field(init=False, repr=False, compare=False)
    #: per device index: (neighbour index, cable) in ascending neighbour index.
    _neighbours: tuple[tuple[tuple[int, Cable], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.devices:
            raise BadArgument("a platform needs at least one device; got none")
        problems = graph_problems([d.id for d in self.devices], [(c.a, c.b) for c in self.cables])
        problems += [(("cables", position, "index"), f"cable index {cable.index} differs from its position")
                     for position, cable in enumerate(self.cables) if cable.index != position]
        if problems:
            raise BadArgument("; ".join(f"{format_key_path(path)}: {message}" for path, message in problems))
        index = {device.id: position for position, device in enumerate(self.devices)}
        neighbours: list[list[tuple[int, Cable]]] = [[] for _ in self.devices]
        for cable in self.cables:
            neighbours[index[cable.a]].append((index[cable.b], cable))
            neighbours[index[cable.b]].append((index[cable.a], cable))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_neighbours", tuple(tuple(sorted(items, key=lambda item: item[0]))
                                                      for items in neighbours))

    def index(self, device_id: str) -> int:
        """Declaration position of ``device_id``.

        Raises:
            BadArgument: no such device (suggests the closest id).
        """
        try:
            return self._index[device_id]
        except (KeyError, TypeError):
            raise BadArgument(unknown_id_message(str(device_id), list(self._index), "device")) from None

    def device(self, device_id: str) -> PlatformDevice:
        """The device called ``device_id`` (raises like :meth:`index`)."""
        return self.devices[self.index(device_id)]

    def route(self, src_id: str, dst_id: str) -> tuple[Hop, ...]:
        """Hops from ``src_id`` to ``dst_id``: a shortest path by hop count.

        Breadth-first search visiting each device's neighbours in declaration order, so among
        equally short paths the one through earlier-declared devices wins. ``src == dst``: no hop.

        Raises:
            BadArgument: an unknown device id.
        """
        src, dst = self.index(src_id), self.index(dst_id)
        previous: dict[int, tuple[int, Cable]] = {}
        seen, queue = {src}, deque([src])
        while queue and dst not in seen:
            node = queue.popleft()
            for nxt, cable in self._neighbours[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    previous[nxt] = (node, cable)
                    queue.append(nxt)
        hops: list[Hop] = []
        node = dst
        while node != src:
            before, cable = previous[node]
            hops.append((cable, self.devices[before].id, self.devices[node].id))
            node = before
        return tuple(reversed(hops))

    @classmethod
    def homogeneous(cls, *, boards: int, board: Board, kernel_path: Path, memory_channel: str,
                    burst_bytes: int = DEFAULT_BURST_BYTES, topology: str, link_id: str | None = None,
                    link: LinkType | None = None, length_m: float = DEFAULT_LENGTH_M,
                    packet_bytes: int = DEFAULT_PACKET_BYTES, fifo_bytes: int = DEFAULT_FIFO_BYTES) -> Platform:
        """Today's cluster: ``boards`` identical FPGA devices ``board0``… cabled as ``topology``.

        Cables follow :func:`topology_edges` order, all of link type ``link``.

        Raises:
            BadArgument: a bad topology for this many boards, or several boards and no link.
        """
        if isinstance(boards, bool) or not isinstance(boards, int) or boards < 1:
            raise BadArgument(f"boards={boards!r}: expected an integer >= 1")
        edges = topology_edges(topology, boards)
        if edges and (link is None or link_id is None):
            raise BadArgument(f"a platform of {boards} boards needs a link type (link_id and link)")
        devices = tuple(FpgaDevice(id=f"board{i}", board=board, kernel_path=kernel_path,
                                   memory_channel=memory_channel, burst_bytes=burst_bytes) for i in range(boards))
        cables = tuple(Cable(index=i, a=f"board{a}", b=f"board{b}", link_id=link_id, link=link, length_m=length_m,
                             packet_bytes=packet_bytes, fifo_bytes=fifo_bytes) for i, (a, b) in enumerate(edges))
        return cls(devices=devices, cables=cables)
