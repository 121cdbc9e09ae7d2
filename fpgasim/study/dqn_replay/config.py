"""The replay-study YAML (``schema: 1``, top-level ``dqn_replay:``): typed sections and loading.

Owns: the config classes of the distributed-DQN replay study, the citation rule (every number
in the document is covered by a ``source:`` defined in ``dqn_replay.sources``; experiment
parameters cite the convention id the document gives them), the cross-field checks — at least
one actor, a batch no larger than the memory, α and β in [0, 1], experience sizes > 0 that hold
the packed CartPole experience, the three placements the reductions compare (``kernel``,
``dpdk``, ``in_network``), link types that exist
and carry a ``frames:`` section, and placements the topology can realise (an on-path server needs
two ports of the link's kind; an FPGA server needs a board whose I/O ports run the link) — and
:class:`LoadedReplayStudy` (the study with its link types and FPGA board), from a file or from
in-memory data (a sweep point).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.config import (
    SCHEMA_KEY, DirName, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class, read_versioned, validate,
)
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw import load_board, load_link_types
from fpgasim.hw._cited import cite_pass
from fpgasim.hw.board import Board
from fpgasim.hw.links import LinkType
from fpgasim.study.dqn_replay.memory import EXPERIENCE_DTYPE

__all__ = ["Position", "ServerKind", "Sampling", "Placement", "ServerCosts", "ClusterSpec", "DqnSpec", "SweepSpec",
           "CurveSpec", "FpgaNicSpec", "PaperSpec", "ReplayStudy", "LoadedReplayStudy", "load_study",
           "study_from_data", "REQUIRED_PLACEMENTS"]

#: Placements the three reductions compare: (i) kernel sockets, (ii) DPDK, (iii) DPDK on the path.
REQUIRED_PLACEMENTS = ("kernel", "dpdk", "in_network")


class Position(StrEnum):
    """Where the replay server sits."""

    #: a separate node on the switch, beside the actors and the learner.
    SEPARATE = "separate"
    #: between the actors' switch and the learner (the learner is cabled to the server only).
    ON_PATH = "on_path"


class ServerKind(StrEnum):
    """What runs the replay server."""

    #: a host CPU core polling its NIC (costs in ``cluster.server``).
    CPU = "cpu"
    #: an FPGA NIC holding the sum-tree on chip (``fpga_nic``).
    FPGA = "fpga"


class Sampling(StrEnum):
    """Batch sampling of the replay memory."""

    UNIFORM = "uniform"
    PRIORITIZED = "prioritized"


@config_class
class Placement:
    """One way to place and reach the replay server."""

    #: unique name (``kernel``, ``dpdk`` and ``in_network`` are required).
    name: Str
    #: link type of the actors' and learner's stack (``boards/links.yaml``, with ``frames:``).
    stack: Str
    position: Position
    server: ServerKind = ServerKind.CPU


@config_class
class ServerCosts:
    """Work of a CPU replay server per request (one poll-mode core serves every request in turn)."""

    #: parse a request and build its reply (besides copies and tree walks), ns.
    request_ns: PosFloat
    #: memory copy of experiences into or out of the replay memory, GB/s.
    copy_gbps: PosFloat
    #: one level of a sum-tree walk or update, ns.
    tree_level_ns: PosFloat
    #: NIC ports of the server host (an on-path server needs two).
    nic_ports: PosInt


@config_class
class ClusterSpec:
    """The 40GbE cluster around one switch."""

    #: port-to-port latency of the switch, ns.
    switch_latency_ns: PosFloat
    #: every cable's length, m.
    cable_m: PosFloat
    #: emulated time of one actor step (environment step and Q-network forward), ns.
    actor_step_ns: PosFloat
    #: emulated time of one learner update on a batch (forward, backward, optimiser), ns.
    learner_step_ns: PosFloat
    server: ServerCosts


@config_class
class DqnSpec:
    """The DQN: environment, network, replay memory and schedule."""

    actors: NonNegInt
    #: bytes of one experience on the wire (None: its real CartPole size).
    experience_bytes: int | None = None
    #: replay-memory capacity (ring buffer), experiences.
    memory: PosInt
    batch: PosInt
    #: proportional prioritization exponent α in [0, 1] (0 = uniform).
    alpha: float
    #: importance-sampling exponent β in [0, 1].
    beta: float
    #: small constant added to |TD error| so no priority is 0.
    priority_eps: PosFloat
    gamma: float
    learning_rate: PosFloat
    hidden: PosInt
    #: ε-greedy: from epsilon_start to epsilon_end over epsilon_decay_steps actor steps.
    epsilon_start: float
    epsilon_end: float
    epsilon_decay_steps: PosInt
    #: learner steps between target-network copies.
    target_update_steps: PosInt
    #: learner steps between weight broadcasts to the actors.
    weight_sync_steps: PosInt
    #: experiences in memory before the learner starts.
    warmup: PosInt
    #: environment steps before an episode is cut (CartPole-v1: 500).
    max_episode_steps: PosInt = 500


@config_class
class SweepSpec:
    """The latency sweep: every placement × sampling at each experience size and actor count."""

    #: experience sizes, bytes (null: the real CartPole size).
    experience_bytes: tuple[int | None, ...]
    actors: tuple[int, ...]
    #: learner steps measured at each point.
    learner_steps: PosInt


@config_class
class CurveSpec:
    """The learning curve: one longer run per placement."""

    actors: PosInt
    learner_steps: PosInt
    sampling: Sampling = Sampling.PRIORITIZED


@config_class
class FpgaNicSpec:
    """The replay server on an FPGA NIC: sum-tree levels in on-chip memory, a pipelined walk."""

    #: board id in ``boards/`` (or a path relative to this file).
    board: Str
    #: link type of the FPGA's network stack (hardware UDP).
    stack: Str
    #: kernel clock, MHz (within the board's clock range).
    clock_mhz: PosFloat
    #: cycles per tree level (memory read + compare/subtract), cycles.
    level_cycles: PosInt
    #: bits of one leaf priority (fixed point; a level d above the leaves is d bits wider, exact sums).
    priority_bits: PosInt
    #: memory channel of the board holding the experiences.
    memory: Str


@config_class
class PaperSpec:
    """Published ranges printed beside fpgasim's (never used in a computation), percent."""

    bypass: tuple[PosFloat, PosFloat]
    in_network_access: tuple[PosFloat, PosFloat]
    in_network_prioritized_sampling: tuple[PosFloat, PosFloat]
    #: the publication.
    reference: Str


@config_class
class ReplayStudy:
    """Distributed DQN with a shared replay memory on 40GbE: placements, sweep, curve, FPGA NIC."""

    name: DirName
    seed: NonNegInt = 0
    cluster: ClusterSpec
    placements: tuple[Placement, ...]
    dqn: DqnSpec
    sweep: SweepSpec
    curve: CurveSpec
    fpga_nic: FpgaNicSpec
    paper: PaperSpec
    sources: dict[Str, Str]
    notes: Str | None = None

    def placement(self, name: str) -> Placement:
        """The placement called ``name``."""
        return next(p for p in self.placements if p.name == name)


@config_class
class ReplayStudyFile:
    """The document: ``schema: 1`` and ``dqn_replay:``."""

    dqn_replay: ReplayStudy


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedReplayStudy:
    """A checked study, the link types it names, its FPGA board, and the document it came from."""

    study: ReplayStudy
    links: dict[str, LinkType]
    board: Board
    document: YamlDocument
    path: Path

    @property
    def name(self) -> str:
        """The study's name: the default output folder ``results/<name>``."""
        return self.study.name


def _unit(doc: YamlDocument, path: tuple, value: object, name: str) -> list[Problem]:
    if not 0.0 <= float(value) <= 1.0:
        return [doc.problem(path, f"{name}={value}: expected a number in [0, 1]")]
    return []


def _size_problems(doc: YamlDocument, path: tuple, size: int | None) -> list[Problem]:
    """An experience size must be > 0 and hold the packed CartPole experience it carries."""
    if size is None:
        return []
    if size <= 0:
        return [doc.problem(path, f"{size}: expected an experience size > 0 bytes (or null for the real CartPole "
                                  "size)")]
    if size < EXPERIENCE_DTYPE.itemsize:
        return [doc.problem(path, f"{size}: expected at least {EXPERIENCE_DTYPE.itemsize} bytes (the packed CartPole "
                                  "experience it carries; larger sizes are padded)")]
    return []


def _dqn_problems(study: ReplayStudy, doc: YamlDocument) -> list[Problem]:
    root = ("dqn_replay", "dqn")
    dqn, problems = study.dqn, []
    if dqn.actors < 1:
        problems.append(doc.problem(root + ("actors",), f"{dqn.actors}: expected at least 1 actor"))
    if dqn.batch > dqn.memory:
        problems.append(doc.problem(root + ("batch",), f"{dqn.batch} is larger than the replay memory "
                                    f"({dqn.memory} experiences); expected batch <= memory"))
    if dqn.warmup > dqn.memory or dqn.warmup < dqn.batch:
        problems.append(doc.problem(root + ("warmup",), f"{dqn.warmup}: expected batch ({dqn.batch}) <= warmup <= "
                                    f"memory ({dqn.memory})"))
    for key in ("alpha", "beta", "gamma", "epsilon_start", "epsilon_end"):
        problems += _unit(doc, root + (key,), getattr(dqn, key), key)
    problems += _size_problems(doc, root + ("experience_bytes",), dqn.experience_bytes)
    sweep = ("dqn_replay", "sweep")
    for i, size in enumerate(study.sweep.experience_bytes):
        problems += _size_problems(doc, sweep + ("experience_bytes", i), size)
    for i, actors in enumerate(study.sweep.actors):
        if actors < 1:
            problems.append(doc.problem(sweep + ("actors", i), f"{actors}: expected at least 1 actor"))
    if not study.sweep.experience_bytes or not study.sweep.actors:
        problems.append(doc.problem(sweep, "expected at least one experience size and one actor count"))
    return problems


def _placement_problems(study: ReplayStudy, doc: YamlDocument, links: dict[str, LinkType],
                        board: Board | None) -> list[Problem]:
    root = ("dqn_replay", "placements")
    names = [p.name for p in study.placements]
    problems = [doc.problem(root, f"missing placement {name!r}; the reductions compare kernel -> dpdk -> in_network")
                for name in REQUIRED_PLACEMENTS if name not in names]
    for i, placement in enumerate(study.placements):
        where = root + (i,)
        if placement.name in names[:i]:
            problems.append(doc.problem(where + ("name",), f"duplicate placement name {placement.name!r}"))
        link = links.get(placement.stack)
        if link is None:
            problems.append(doc.problem(where + ("stack",), f"unknown link type {placement.stack!r}; known: "
                                        f"{', '.join(sorted(links))}"))
            continue
        if link.frames is None:
            problems.append(doc.problem(where + ("stack",), f"link type {placement.stack!r} has no `frames:` "
                                        "section; the cluster model needs its MTU segmentation"))
        ports = 2 if placement.position is Position.ON_PATH else 1
        if placement.server is ServerKind.CPU and study.cluster.server.nic_ports < ports:
            problems.append(doc.problem(where + ("position",), f"{placement.position.value} needs a server with "
                                        f"{ports} NIC ports; cluster.server.nic_ports is "
                                        f"{study.cluster.server.nic_ports}"))
        if placement.server is ServerKind.FPGA and board is not None:
            fpga_link = links.get(study.fpga_nic.stack)
            kinds = set(fpga_link.port_kinds) if fpga_link is not None else set()
            usable = [port.id for port in board.io_ports if port.kind in kinds]
            if len(usable) < ports:
                problems.append(doc.problem(where + ("server",), f"board {board.id!r} has {len(usable)} port(s) for "
                                            f"link type {study.fpga_nic.stack!r} ({', '.join(sorted(kinds)) or '-'}); "
                                            f"a {placement.position.value} server needs {ports}"))
    fpga = study.fpga_nic
    if fpga.stack not in links:
        problems.append(doc.problem(("dqn_replay", "fpga_nic", "stack"), f"unknown link type {fpga.stack!r}"))
    if board is not None:
        clock = board.clock_mhz
        if not clock.min <= fpga.clock_mhz <= clock.max:
            problems.append(doc.problem(("dqn_replay", "fpga_nic", "clock_mhz"), f"{fpga.clock_mhz}: expected "
                                        f"{clock.min}..{clock.max} MHz on {board.id}"))
        if fpga.memory not in {m.id for m in board.memory}:
            problems.append(doc.problem(("dqn_replay", "fpga_nic", "memory"), f"{fpga.memory!r}: board {board.id} "
                                        f"has memory channels: {', '.join(m.id for m in board.memory) or 'none'}"))
    return problems


def _board_path(study: ReplayStudy, base: Path) -> str:
    text = study.fpga_nic.board
    return str((base / text).resolve()) if "/" in text or text.endswith((".yaml", ".yml")) else text


def _from_document(doc: YamlDocument, path: Path) -> LoadedReplayStudy:
    data, _citations, problems = cite_pass(doc, sources_at=("dqn_replay", "sources"))
    body = {key: value for key, value in data.items() if key != SCHEMA_KEY} if isinstance(data, dict) else data
    try:
        document = validate(YamlDocument(file=doc.file, data=body, places=doc.places), ReplayStudyFile)
    except ConfigError as exc:
        raise ConfigError(sorted([*problems, *exc.problems], key=lambda p: (p.line or 0, p.column or 0))) from None
    study = document.dqn_replay
    links = load_link_types()
    board = None
    try:
        board = load_board(_board_path(study, path.parent))
    except ConfigError as exc:
        problems += exc.problems
    except BadArgument as exc:
        problems.append(doc.problem(("dqn_replay", "fpga_nic", "board"), str(exc)))
    problems += _dqn_problems(study, doc) + _placement_problems(study, doc, links, board)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return LoadedReplayStudy(study=study, links=links, board=board, document=doc, path=path)


def load_study(path: str | Path) -> LoadedReplayStudy:
    """Load and check a replay-study YAML (and the board it names).

    Raises:
        ConfigError: every problem, with file, line and key path.
    """
    return _from_document(read_versioned(path, versions=(1,)), Path(path).resolve())


def study_from_data(data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedReplayStudy:
    """:func:`load_study` of a document given as data (a sweep point); ``file`` names it in messages.

    Raises:
        ConfigError: as :func:`load_study`.
    """
    doc = YamlDocument(file=file, data=data, places={})
    if not isinstance(data, dict) or data.get(SCHEMA_KEY) != 1:
        raise ConfigError([doc.problem((SCHEMA_KEY,), "expected `schema: 1`")])
    return _from_document(doc, Path(base_dir).resolve() / Path(file).name)
