"""The rules and look-ups behind the platform loader of :mod:`fpgasim.hw.platform`.

Owns: the closest-id message for unknown names, the graph rules on plain ids (unique ids,
two-ended cables, one cable per pair, connected), the assignment of a board's I/O ports to its
cables, and :class:`Resolver`, which turns board / compute / link ids into objects while
collecting located problems.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Sequence

from pathlib import Path

from fpgasim.config import KeyPath, YamlDocument
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw.board import Board, IoPort, IoPortKind
from fpgasim.hw.compute import ComputeSpec, load_compute_devices
from fpgasim.hw.library import is_board_path, load_board
from fpgasim.hw.links import LinkType, load_link_types

__all__ = ["GraphProblem", "unknown_id_message", "graph_problems", "unported_cables", "Resolver"]

#: Where a graph problem sits below the platform section, and what it is.
GraphProblem = tuple[tuple[str | int, ...], str]


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


def unported_cables(ports: Sequence[IoPort], cable_kinds: Sequence[tuple[int, Sequence[IoPortKind]]]) -> list[int]:
    """The cables that get no I/O port of a board, each cable needing its own port of one of its kinds.

    Ports are assigned to the cables in the given order by augmenting paths (a maximum matching),
    so a cable is refused only when no reassignment of the earlier ones frees a port for it.

    Args:
        ports: the board's I/O ports.
        cable_kinds: (cable index, port kinds its link runs over) for each cable at the board.

    Returns:
        The indices of the refused cables, in order.
    """
    fits = {cable: [p for p, port in enumerate(ports) if port.kind in kinds] for cable, kinds in cable_kinds}
    owner: dict[int, int] = {}
    return [cable for cable, _ in cable_kinds if not _assign(cable, fits, owner, set())]


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


class Resolver:
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
        if is_board_path(name):
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
