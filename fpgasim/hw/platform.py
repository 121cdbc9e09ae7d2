"""A platform: devices and the cables between them, a typed graph, and its loader.

Owns: the device kinds of a platform (:class:`FpgaDevice` — a board with its own kernel design,
:class:`ComputeDevice` — a CPU/GPU from ``boards/compute.yaml``), :class:`Cable` (one link
instance), :class:`Platform` with its routing rule (:func:`shortest_path`: by hops, ties broken by
device declaration order; the emulator's cluster routes by it too), the cabling of today's
homogeneous clusters (:func:`topology_edges`), and loading a platform from YAML — an
experiment's ``platform:`` section or a standalone document (schema in ``docs/boards.md``,
"Platforms") — reporting every problem at once with its place:
unknown board / compute / link / memory-channel ids (closest match), missing files, the graph
rules of :mod:`fpgasim.hw._platform_checks`, and a free I/O port of the link's kinds at each FPGA
end of every cable (compute devices have unlimited ports).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import Field

from fpgasim.config import (
    SCHEMA_KEY, KeyPath, NonNegFloat, PosInt, Str, YamlDocument, config_class, format_key_path, read_versioned,
    validate,
)
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw._platform_checks import Resolver, graph_problems, unknown_id_message, unported_cables
from fpgasim.hw.board import Board
from fpgasim.hw.compute import ComputeSpec
from fpgasim.hw.links import LinkType

__all__ = [
    "FpgaDevice", "ComputeDevice", "PlatformDevice", "Cable", "Hop", "Platform", "topology_edges", "shortest_path",
    "MemoryEntry", "DeviceEntry", "CableEntry", "PlatformSection", "PlatformDocument",
    "load_platform_section", "load_platform_file",
    "DEFAULT_BURST_BYTES", "DEFAULT_LENGTH_M", "DEFAULT_PACKET_BYTES", "DEFAULT_FIFO_BYTES",
]

#: DDR transaction granularity of an FPGA device unless the platform says otherwise, bytes.
DEFAULT_BURST_BYTES = 4096
#: Cable length unless the platform says otherwise, metres.
DEFAULT_LENGTH_M = 1.0
#: Link transaction granularity unless the platform says otherwise, bytes.
DEFAULT_PACKET_BYTES = 256
#: Receive FIFO per link direction unless the platform says otherwise, bytes.
DEFAULT_FIFO_BYTES = 8192

@dataclass(frozen=True, slots=True, kw_only=True)
class FpgaDevice:
    """An FPGA board running its own kernel design (the design is loaded by a higher layer).

    Attributes:
        id: the device id in the platform.
        board: the board.
        memory_channel: id of the board's memory channel the engine's streams use.
        kernel_path: the kernel design file, resolved (None: the design is given in memory, as
            a sweep point's is).
        burst_bytes: DDR transaction granularity, bytes.
    """

    id: str
    board: Board
    memory_channel: str
    kernel_path: Path | None = None
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


def shortest_path(neighbours: Sequence[Sequence[int]], src: int, dst: int) -> list[int] | None:
    """Nodes of a shortest path ``src`` → ``dst`` by hop count, or None when ``dst`` is unreachable.

    The one routing rule of the planner (:meth:`Platform.route`) and the emulator
    (:meth:`fpgasim.sim.cluster.Cluster.route`): breadth-first search visiting each node's
    ``neighbours`` in the order given (both pass ascending index), so among equally short paths the
    one through lower-indexed nodes wins.
    """
    previous = {src: src}
    queue = deque([src])
    while queue and dst not in previous:
        node = queue.popleft()
        for nxt in neighbours[node]:
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    if dst not in previous:
        return None
    path = [dst]
    while path[-1] != src:
        path.append(previous[path[-1]])
    return path[::-1]


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
        """Hops from ``src_id`` to ``dst_id``: :func:`shortest_path` with each device's neighbours in
        declaration order, so among equally short paths the one through earlier-declared devices
        wins (a platform is connected, so a path exists). ``src == dst``: no hop.

        Raises:
            BadArgument: an unknown device id.
        """
        src, dst = self.index(src_id), self.index(dst_id)
        path = shortest_path([[nxt for nxt, _ in items] for items in self._neighbours], src, dst)
        cables = {(node, nxt): cable for node, items in enumerate(self._neighbours) for nxt, cable in items}
        return tuple((cables[(a, b)], self.devices[a].id, self.devices[b].id) for a, b in zip(path, path[1:]))

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


@config_class
class MemoryEntry:
    """Which memory channel an FPGA device's engine uses, and its DDR transaction size."""

    channel: Str
    burst_bytes: PosInt = DEFAULT_BURST_BYTES


@config_class
class DeviceEntry:
    """One device: ``board`` + ``kernel`` + ``memory`` (an FPGA), or ``compute`` (a CPU/GPU)."""

    id: Str
    #: board library id or a path to a board file (relative to the YAML file).
    board: Str | None = None
    #: kernel design file, relative to the YAML file.
    kernel: Str | None = None
    memory: MemoryEntry | None = None
    #: compute device id in ``boards/compute.yaml``.
    compute: Str | None = None

    def __post_init__(self) -> None:
        if (self.board is None) == (self.compute is None):
            raise BadArgument(f"device {self.id!r} has {'both' if self.board else 'neither'} `board` and `compute`; "
                              "expected `board` (with kernel and memory) or `compute`")
        if self.board is not None:
            missing = [name for name in ("kernel", "memory") if getattr(self, name) is None]
            if missing:
                raise BadArgument(f"FPGA device {self.id!r} needs {' and '.join(missing)}")
        else:
            stray = [name for name in ("kernel", "memory") if getattr(self, name) is not None]
            if stray:
                raise BadArgument(f"compute device {self.id!r} takes no {' or '.join(stray)}; remove it")


@config_class
class CableEntry:
    """One cable between two devices."""

    #: the ids of the two devices it joins.
    between: Annotated[tuple[Str, ...], Field(min_length=2, max_length=2)]
    #: link type id in ``boards/links.yaml``.
    link: Str
    length_m: NonNegFloat = DEFAULT_LENGTH_M
    packet_bytes: PosInt = DEFAULT_PACKET_BYTES
    fifo_bytes: PosInt = DEFAULT_FIFO_BYTES


@config_class
class PlatformSection:
    devices: tuple[DeviceEntry, ...]
    cables: tuple[CableEntry, ...] = ()


@config_class
class PlatformDocument:
    platform: PlatformSection


def load_platform_section(document: YamlDocument, key_path: KeyPath, base_dir: Path) -> Platform:
    """Validate and resolve the platform section at ``key_path`` of ``document``.

    Args:
        document: the parsed YAML document holding the section.
        key_path: where the section is, e.g. ``("experiment", "platform")``.
        base_dir: the directory relative board and kernel paths start from.

    Returns:
        The :class:`Platform`.

    Raises:
        ConfigError: every problem of the section at once, each with its place.
    """
    section = validate(document, PlatformSection, root=key_path)
    return _build(document, key_path, section, Path(base_dir))


def load_platform_file(path: str | Path) -> Platform:
    """Load a standalone platform document (``schema: 1`` and ``platform:``).

    Raises:
        ConfigError: every problem in the file, with places.
    """
    doc = read_versioned(path, versions=(1,))
    body = YamlDocument(file=doc.file, data={k: v for k, v in doc.data.items() if k != SCHEMA_KEY}, places=doc.places)
    document = validate(body, PlatformDocument)
    return _build(doc, ("platform",), document.platform, Path(path).parent)


def _build(doc: YamlDocument, key_path: KeyPath, section: PlatformSection, base_dir: Path) -> Platform:
    """Resolve a validated section and run every check (see the module docstring)."""
    resolve = Resolver(doc, key_path, base_dir)
    if not section.devices:
        resolve.problem(("devices",), "no devices; expected at least one")
    devices: list[FpgaDevice | ComputeDevice | None] = []
    for index, entry in enumerate(section.devices):
        at = ("devices", index)
        if entry.compute is not None:
            spec = resolve.compute(entry.compute, at + ("compute",))
            devices.append(None if spec is None else ComputeDevice(id=entry.id, spec=spec, spec_id=entry.compute))
            continue
        board = resolve.board(entry.board, at + ("board",))
        kernel_path = (base_dir / entry.kernel).resolve()
        if not kernel_path.is_file():
            resolve.problem(at + ("kernel",), f"file not found: {kernel_path}")
        channels = [channel.id for channel in board.memory] if board is not None else []
        if board is not None and entry.memory.channel not in channels:
            resolve.problem(at + ("memory", "channel"),
                            unknown_id_message(entry.memory.channel, channels, "memory channel",
                                               f" on board {board.id!r}"))
            board = None
        devices.append(None if board is None else FpgaDevice(
            id=entry.id, board=board, kernel_path=kernel_path, memory_channel=entry.memory.channel,
            burst_bytes=entry.memory.burst_bytes))
    links = [resolve.link(cable.link, ("cables", index, "link")) for index, cable in enumerate(section.cables)]
    for path, message in graph_problems([entry.id for entry in section.devices],
                                        [cable.between for cable in section.cables]):
        resolve.problem(path, message)
    _check_ports(resolve, devices, section.cables, links)
    if resolve.problems:
        own_first = sorted(resolve.problems, key=lambda p: (p.file != doc.file, p.line or 0, p.column or 0))
        raise ConfigError(own_first)
    cables = tuple(Cable(index=index, a=cable.between[0], b=cable.between[1], link_id=cable.link, link=link,
                         length_m=cable.length_m, packet_bytes=cable.packet_bytes, fifo_bytes=cable.fifo_bytes)
                   for index, (cable, link) in enumerate(zip(section.cables, links)))
    return Platform(devices=tuple(devices), cables=cables)


def _check_ports(resolve: Resolver, devices: list[FpgaDevice | ComputeDevice | None],
                 cables: tuple[CableEntry, ...], links: list[LinkType | None]) -> None:
    """Each cable end at an FPGA device needs its own I/O port of one of the link's port kinds
    (:func:`~fpgasim.hw._platform_checks.unported_cables`), except that all cables of one
    shared-medium link type at a device share one port (one radio joins the medium); cables with
    another problem are skipped."""
    known = {device.id for device in devices if device is not None}
    seen_ids: set[str] = set()
    for device in devices:
        if not isinstance(device, FpgaDevice) or device.id in seen_ids:
            continue
        seen_ids.add(device.id)
        pairs: set[frozenset[str]] = set()
        media: set[str] = set()
        at_device = []
        for index, (cable, link) in enumerate(zip(cables, links)):
            pair = frozenset(cable.between)
            if device.id not in pair or len(pair) < 2 or not pair <= known or pair in pairs or link is None:
                continue
            pairs.add(pair)
            if link.shared_medium:
                if cable.link in media:
                    continue
                media.add(cable.link)
            at_device.append((index, link.port_kinds))
        ports = device.board.io_ports
        for index in unported_cables(ports, at_device):
            link = links[index]
            kinds = ", ".join(str(kind) for kind in link.port_kinds)
            have = [port.id for port in ports if port.kind in link.port_kinds]
            why = (f"its ports of those kinds ({', '.join(have)}) are taken by earlier cables" if have
                   else "it has no port of those kinds")
            resolve.problem(("cables", index, "link"), f"device {device.id!r} (board {device.board.id}) has no free "
                                                       f"port for link type {cables[index].link!r}, which runs over "
                                                       f"{kinds}: {why}")
