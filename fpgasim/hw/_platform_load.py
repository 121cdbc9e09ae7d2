"""Loading a platform from YAML: an experiment's ``platform:`` section or a standalone document.

Owns: the schema of the section (see ``docs/boards.md``, "Platforms") and every load-time check,
all reported at once with file, line, column and key path: unknown board / compute / link ids
(closest match), missing board or kernel files, unknown memory channels, the graph rules of
:func:`fpgasim.hw.platform.graph_problems`, and a free I/O port of the link's kinds at each FPGA
end of every cable (compute devices have unlimited ports).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from fpgasim.config import (
    SCHEMA_KEY, KeyPath, NonNegFloat, PosInt, Str, YamlDocument, config_class, read_versioned, validate,
)
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw.board import Board
from fpgasim.hw.compute import ComputeSpec, load_compute_devices
from fpgasim.hw.library import load_board
from fpgasim.hw.links import LinkType, load_link_types
from fpgasim.hw.platform import (
    DEFAULT_BURST_BYTES, DEFAULT_FIFO_BYTES, DEFAULT_LENGTH_M, DEFAULT_PACKET_BYTES, Cable, ComputeDevice,
    FpgaDevice, Platform, graph_problems, unknown_id_message,
)

__all__ = ["MemoryEntry", "DeviceEntry", "CableEntry", "PlatformSection", "PlatformDocument",
           "load_platform_section", "load_platform_file"]


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


def _is_path(name: str) -> bool:
    return "/" in name or os.sep in name or name.endswith((".yaml", ".yml"))


class _Resolver:
    """Turns the ids and paths of a section into objects, collecting problems; loads each library once."""

    def __init__(self, doc: YamlDocument, key_path: KeyPath, base_dir: Path):
        self.doc, self.key_path, self.base_dir = doc, key_path, base_dir
        self.problems: list[Problem] = []
        self._boards: dict[str, Board | str | None] = {}
        self._compute: dict[str, ComputeSpec] | None = None
        self._links: dict[str, LinkType] | None = None

    def problem(self, suffix: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(self.key_path + suffix, message))

    def board(self, name: str, at: KeyPath) -> Board | None:
        if name not in self._boards:
            self._boards[name] = self._load_board(name)
        found = self._boards[name]
        if isinstance(found, str):
            self.problem(at, found)
            return None
        return found

    def _load_board(self, name: str) -> Board | str | None:
        """The board, or a message for every place naming it, or None (its file's problems are reported)."""
        target: str | Path = name
        if _is_path(name):
            target = (self.base_dir / name).resolve()
            if not target.is_file():
                return f"file not found: {target}"
        try:
            return load_board(target)
        except BadArgument as exc:
            return str(exc)
        except ConfigError as exc:
            self.problems += exc.problems
        return None

    def compute(self, name: str, at: KeyPath) -> ComputeSpec | None:
        if self._compute is None:
            self._compute = self._library(load_compute_devices)
        if name not in self._compute:
            self.problem(at, unknown_id_message(name, sorted(self._compute), "compute device"))
        return self._compute.get(name)

    def link(self, name: str, at: KeyPath) -> LinkType | None:
        if self._links is None:
            self._links = self._library(load_link_types)
        if name not in self._links:
            self.problem(at, unknown_id_message(name, sorted(self._links), "link type"))
        return self._links.get(name)

    def _library(self, loader) -> dict:  # type: ignore[no-untyped-def]
        try:
            return loader()
        except ConfigError as exc:
            self.problems += exc.problems
            return {}


def _build(doc: YamlDocument, key_path: KeyPath, section: PlatformSection, base_dir: Path) -> Platform:
    """Resolve a validated section and run every check (see the module docstring)."""
    resolve = _Resolver(doc, key_path, base_dir)
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
                            unknown_id_message(entry.memory.channel, channels, "memory channel", f" on board {board.id!r}"))
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


def _check_ports(resolve: _Resolver, devices: list[FpgaDevice | ComputeDevice | None],
                 cables: tuple[CableEntry, ...], links: list[LinkType | None]) -> None:
    """Each cable end at an FPGA device needs its own I/O port of one of the link's port kinds.

    Ports are assigned to the device's cables in declaration order by augmenting paths (a
    maximum matching), so a cable is refused only when no reassignment of the earlier ones
    frees a port for it.
    """
    known = {device.id for device in devices if device is not None}
    seen_ids: set[str] = set()
    for device in devices:
        if not isinstance(device, FpgaDevice) or device.id in seen_ids:
            continue
        seen_ids.add(device.id)
        ports = device.board.io_ports
        owner: dict[int, int] = {}
        fits: dict[int, list[int]] = {}
        pairs: set[frozenset[str]] = set()
        for index, (cable, link) in enumerate(zip(cables, links)):
            pair = frozenset(cable.between)
            if device.id not in pair or len(pair) < 2 or not pair <= known or pair in pairs or link is None:
                continue
            pairs.add(pair)
            fits[index] = [p for p, port in enumerate(ports) if port.kind in link.port_kinds]
            if not _assign(index, fits, owner, set()):
                kinds = ", ".join(str(kind) for kind in link.port_kinds)
                have = [ports[p].id for p in fits[index]]
                why = (f"its ports of those kinds ({', '.join(have)}) are taken by earlier cables" if have
                       else "it has no port of those kinds")
                resolve.problem(("cables", index, "link"),
                                f"device {device.id!r} (board {device.board.id}) has no free port for link type "
                                f"{cable.link!r}, which runs over {kinds}: {why}")


def _assign(cable: int, fits: dict[int, list[int]], owner: dict[int, int], visited: set[int]) -> bool:
    """Give ``cable`` a port, moving earlier cables to other ports if needed (Kuhn's augmenting path)."""
    for port in fits[cable]:
        if port in visited:
            continue
        visited.add(port)
        if port not in owner or _assign(owner[port], fits, owner, visited):
            owner[port] = cable
            return True
    return False
