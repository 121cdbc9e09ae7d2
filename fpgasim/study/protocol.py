"""The small protocol every study implements, so that ``run``, ``validate`` and ``sweep`` name none.

Owns: :class:`Study` (the steps ``load``/``from_data`` → ``plan`` → ``run``, plus what a sweep
asks of a study), :class:`Fidelity`, and the plain data a run hands back to the terminal
(:class:`RunOptions`, :class:`RunOutput`, :class:`TerminalTable`). ``validate`` stops after
``plan``: whatever ``run`` refuses, ``plan`` refuses, without simulating.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Study", "Fidelity", "Limits", "RunOptions", "RunOutput", "TerminalTable", "Objectives"]

#: ``(objective name -> value, per-layer rows {name, latency_ms, tiling, partition, bottleneck})``.
Objectives = tuple[dict[str, float], list[dict[str, Any]]]


class Fidelity(StrEnum):
    """Which model a sweep evaluation uses."""

    ANALYTICAL = "analytical"
    EMULATED = "emulated"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What a run may cost before ``plan`` refuses it (each field is a ``fpgasim run`` option; a study
    that cannot estimate its cost ignores them)."""

    #: ``--max-events``: SimPy events (about 300 000 per second on one core).
    max_events: int = 50_000_000
    #: ``--max-memory-mb``: estimated peak resident memory.
    max_memory_mb: int = 4096
    #: ``--max-trace-spans``: beyond this, trace.json is a summary (busy intervals per resource).
    max_trace_spans: int = 200_000
    #: the run records a trace (``--no-trace`` clears it); its spans count toward memory.
    trace: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """The ``fpgasim run`` flags a study may use (each study ignores those it has no use for)."""

    #: overrides the document's mode (``timing`` or ``functional``); None keeps it.
    mode: str | None = None
    #: record the timeline (``trace.json``, ``timeline.png``).
    trace: bool = True
    #: processes for independent configurations (results do not depend on it).
    workers: int = 1
    #: called with a label as each step starts or finishes (a terminal status line).
    progress: Callable[[str], None] | None = None
    #: the limits ``plan`` checked; ``max_trace_spans`` decides when trace.json is a summary.
    limits: Limits = Limits()
    #: ``--input``: a .npy/.npz of float inputs for a functional run (a study without values refuses it).
    input_path: Path | None = None
    #: ``--save-outputs``: also write the network's dequantised outputs (``outputs.npz``).
    save_outputs: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminalTable:
    """A table for the terminal: title, column headers, rows of strings."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutput:
    """What a run wrote, and what the terminal shows: a table, then a text, then lines."""

    paths: tuple[Path, ...]
    table: TerminalTable | None = None
    text: str | None = None
    lines: tuple[str, ...] = ()


class Study(Protocol):
    """One kind of study document (an experiment, an ODE study, ...).

    ``load``/``from_data`` parse and check the document (schema, cross-field rules, the files it
    names); ``plan`` does every check ``run`` would do before simulating (tiling, partition, fit)
    and returns the plan, whose ``name`` is the default output directory ``results/<name>``.
    A sweep builds each point's document in memory (``from_data``), checks every point before
    anything runs, and records a plan that fails in ``evaluate`` as the point's result.
    """

    #: the document's top-level key (``experiment``, ``ode_study``).
    kind: str
    #: the run modes ``RunOptions.mode`` may name (empty: the study has one way to run).
    modes: tuple[str, ...]
    #: how ``evaluate`` computes the analytical fidelity (a sweep report's headings).
    sweep_model: str
    #: a sweep's base document must name one kernel design (``kernel:``), whose keys it may sweep;
    #: False: the study places no design of its own (``kernel.*`` keys and ``fits`` are refused).
    sweep_needs_kernel: bool
    #: ``run`` takes a user's input values and can save the network's outputs (``--input``,
    #: ``--save-outputs``); False: the CLI refuses both flags before anything runs.
    takes_input_values: bool

    def load(self, path: Path) -> Any:
        """Parse and check the document at ``path``. Raises ConfigError (every problem)."""

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> Any:
        """The same from an in-memory document; ``file`` names it in messages, ``base_dir``
        resolves its relative paths."""

    def plan(self, loaded: Any, *, limits: Limits = Limits()) -> Any:
        """Everything ``run`` refuses, refused here (ConfigError, BadArgument, ShapeError,
        DoesNotFit), including a run whose estimated cost is beyond ``limits``; nothing is
        simulated or written."""

    def run(self, plan: Any, out: Path, options: RunOptions) -> RunOutput:
        """Simulate the plan and write its files into ``out`` atomically (all or none)."""

    def evaluate(self, loaded: Any, fidelity: Fidelity) -> Objectives:
        """A sweep point's objectives (plans first; raises what ``plan`` raises)."""

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """Why a sweep key ``<kind>.…`` cannot be swept over ``base_data`` (None: it can)."""

    def lookup(self, loaded: Any, key: str) -> Any:
        """The value of a sweep key ``<kind>.…`` in a loaded point (for constraints)."""

    def fits(self, loaded: Any, board: Any, design: Any) -> bool:
        """The ``fits`` sweep constraint: may ``design`` on ``board`` run this point at all?"""
