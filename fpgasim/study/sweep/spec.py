"""The sweep YAML: a base experiment, axes over its keys, constraints, objectives, re-checks.

Owns: the typed sweep document (``schema: 1``, top-level ``sweep:``), :func:`load_sweep`,
the objective names (:class:`Objective`) and the key check. An axis key is a dotted path into
the experiment document (``experiment.cluster.boards``) or into the kernel design it names
(``kernel.parallelism.tm``); an unknown key is refused with the valid keys at that level.
Expansion into points lives in :mod:`fpgasim.study.sweep.points`.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.config import NonNegInt, PosInt, Str, YamlDocument, config_class, load, read_yaml
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.kernels.loader import kernel_path
from fpgasim.study.sweep._expr import expression_names, parse_constraint
from fpgasim.study.experiment.experiment import Experiment

__all__ = ["Sampling", "Objective", "OBJECTIVE_UNITS", "MAXIMISE", "Axis", "AxisRange", "Recheck", "Sweep",
           "SweepFile", "LoadedSweep", "load_sweep", "check_key", "FITS", "EXPERIMENT", "ODE_STUDY"]

#: The constraint that keeps only designs whose kernel fits the board (``fpgasim fit``).
FITS = "fits"
#: Base document kinds: an experiment (``experiment:``) or an ODE study (``ode_study:``).
EXPERIMENT = "experiment"
ODE_STUDY = "ode_study"


class Sampling(StrEnum):
    """How points are drawn from the axes."""

    #: every combination of axis values (Cartesian product, last axis fastest).
    GRID = "grid"
    #: ``samples`` distinct combinations drawn with ``seed`` (without replacement).
    RANDOM = "random"
    #: exactly the mappings listed under ``points``.
    POINTS = "points"


class Objective(StrEnum):
    """What the report can show for each point."""

    LATENCY_MS = "latency_ms"
    THROUGHPUT_GOPS = "throughput_gops"
    DSP = "dsp"
    DSP_TOTAL = "dsp_total"
    BRAM18 = "bram18"
    URAM = "uram"
    BOARDS = "boards"
    DDR_READ_BYTES = "ddr_read_bytes"
    DDR_WRITE_BYTES = "ddr_write_bytes"
    DDR_BYTES = "ddr_bytes"
    LINK_BYTES = "link_bytes"
    #: software-only time ÷ accelerated time (ODE studies).
    SPEEDUP = "speedup"


#: Objectives where larger is better (all others: smaller is better).
MAXIMISE = frozenset({Objective.THROUGHPUT_GOPS, Objective.SPEEDUP})

#: Unit of each objective (per board for resources; whole cluster for bytes).
OBJECTIVE_UNITS = {Objective.LATENCY_MS: "ms", Objective.THROUGHPUT_GOPS: "GOP/s", Objective.DSP: "slices/board",
                   Objective.DSP_TOTAL: "slices", Objective.BRAM18: "blocks/board", Objective.URAM: "blocks/board",
                   Objective.BOARDS: "boards", Objective.DDR_READ_BYTES: "B", Objective.DDR_WRITE_BYTES: "B",
                   Objective.DDR_BYTES: "B", Objective.LINK_BYTES: "B", Objective.SPEEDUP: "x"}


@config_class
class AxisRange:
    """Integers ``start, start+step, ...`` up to and including ``stop``."""

    start: int
    stop: int
    step: PosInt = 1


@config_class
class Axis:
    """One swept key: ``values`` (a list) or ``range`` (integers)."""

    #: dotted key path, ``experiment.…`` or ``kernel.…``.
    key: Str
    values: list[Any] | None = None
    range: AxisRange | None = None


@config_class
class Recheck:
    """Which points the emulator re-runs after the analytical pass."""

    #: the best ``top_k`` feasible points by ``rank_by``.
    top_k: NonNegInt = 3
    #: the objective that ranks points (default: the first objective).
    rank_by: Objective | None = None
    #: extra points to re-check, each a mapping ``key: value`` of a point of this sweep.
    points: list[dict[Str, Any]] = dataclasses.field(default_factory=list)


@config_class
class Sweep:
    """A design-space sweep."""

    name: Str
    description: Str | None = None
    #: the base experiment file (relative to the sweep file) …
    base: Str | None = None
    #: … or the base experiment inline (the mapping that would follow ``experiment:``).
    experiment: dict[Str, Any] | None = None
    sampling: Sampling = Sampling.GRID
    axes: list[Axis] = dataclasses.field(default_factory=list)
    #: random sampling: number of points and RNG seed.
    samples: PosInt | None = None
    seed: NonNegInt = 0
    #: explicit points (``sampling: points``): mappings ``key: value``.
    points: list[dict[Str, Any]] = dataclasses.field(default_factory=list)
    #: ``fits`` and/or expressions over keys, e.g. ``kernel.parallelism.tm * 2 <= 256``.
    constraints: list[Str] = dataclasses.field(default_factory=list)
    objectives: list[Objective] = dataclasses.field(default_factory=lambda: [Objective.LATENCY_MS, Objective.DSP])
    #: the two objectives of the Pareto front and plot (default: the first two objectives).
    pareto: list[Objective] | None = None
    recheck: Recheck = Recheck()


@config_class
class SweepFile:
    """The document: ``schema: 1`` + ``sweep:``."""

    sweep: Sweep


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedSweep:
    """A checked sweep plus its file, its base experiment data and the base kernel data.

    Attributes:
        spec: the sweep. path: the sweep file. document: its YAML (for messages).
        base_data: the base experiment document ``{"schema": 1, "experiment": {...}}``.
        base_dir: the directory the base experiment's relative paths are resolved from.
        base_file: the base experiment file (None when inline).
        kernel_data: the base kernel design document (``{"schema": 1, "kernel": {...}}``).
        kernel_file: the base kernel file.
    """

    spec: Sweep
    path: Path
    document: YamlDocument
    base_data: dict[str, Any]
    base_dir: Path
    base_file: Path | None
    kernel_data: dict[str, Any]
    kernel_file: Path
    kind: str = EXPERIMENT

    @property
    def pareto(self) -> tuple[Objective, Objective]:
        """The two objectives of the Pareto front."""
        chosen = self.spec.pareto or self.spec.objectives
        return chosen[0], chosen[1]

    @property
    def rank_by(self) -> Objective:
        """The objective that ranks points for the top-k re-check."""
        return self.spec.recheck.rank_by or self.spec.objectives[0]


def _hint_keys(tp: Any) -> dict[str, Any] | None:
    """Field name → type of a config dataclass (None when ``tp`` is not one)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, __import__("types").UnionType):
            members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            tp = members[0]
        else:
            break
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {f.name: hints[f.name] for f in dataclasses.fields(tp)}
    return None


#: Keys allowed under ``experiment.partition.factors`` (a free mapping in the schema).
_FACTOR_KEYS = ("pb", "pr", "pc", "pm")


def check_key(key: str, kernel_data: dict[str, Any], base_data: dict[str, Any] | None = None) -> str | None:
    """Why ``key`` is not a sweepable key (None when it is).

    Experiment keys are checked against the experiment schema; kernel keys against the base
    kernel document, ``ode_study`` keys against the base study document (when ``base_data`` is
    an ODE study; a key must exist there to be overridden).
    """
    parts = key.split(".")
    if base_data is not None and ODE_STUDY in base_data:
        if parts[0] == "kernel":
            return _data_key(key, kernel_data, "the kernel document")
        if parts[0] == ODE_STUDY:
            return _data_key(key, base_data, "the study document")
        return f"unknown key {key!r}: a key of an ode_study sweep starts with 'ode_study.' or 'kernel.'"
    if parts[0] == "experiment":
        fields: dict[str, Any] | None = {"experiment": Experiment}
        for depth, part in enumerate(parts):
            if fields is None:
                return f"unknown key {key!r}: {'.'.join(parts[:depth])} has no sub-keys"
            if part not in fields:
                return f"unknown key {key!r}: {'.'.join(parts[:depth])} has keys: {', '.join(fields)}"
            if parts[:depth + 1] == ["experiment", "partition", "factors"]:
                fields = {name: int for name in _FACTOR_KEYS}
                continue
            fields = _hint_keys(fields[part])
        if fields is not None:
            return f"key {key!r} is a mapping; sweep one of its keys: {', '.join(fields)}"
        return None
    if parts[0] == "kernel":
        return _data_key(key, kernel_data, "the kernel document")
    return f"unknown key {key!r}: a key starts with 'experiment.' or 'kernel.'"


def _data_key(key: str, data: Any, what: str) -> str | None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            return f"unknown key {key!r}: {'.'.join(parts[:depth])} has no sub-keys"
        if part not in node:
            known = ", ".join(k for k in node if k != "schema")
            return f"unknown key {key!r}: {'.'.join(parts[:depth]) or what} has keys: {known}"
        node = node[part]
    return None


def _key_problems(spec: Sweep, doc: YamlDocument, kernel_data: dict[str, Any],
                  base_data: dict[str, Any]) -> list[Problem]:
    problems = []
    base = ("sweep",)
    for index, axis in enumerate(spec.axes):
        reason = check_key(axis.key, kernel_data, base_data)
        if reason:
            problems.append(doc.problem(base + ("axes", index, "key"), reason))
        if (axis.values is None) == (axis.range is None):
            problems.append(doc.problem(base + ("axes", index), f"axis {axis.key!r}: give exactly one of "
                                                                 "'values' or 'range'"))
        elif axis.values is not None and not axis.values:
            problems.append(doc.problem(base + ("axes", index, "values"), f"axis {axis.key!r} is empty; "
                                                                           "expected at least one value"))
        elif axis.range is not None and axis.range.stop < axis.range.start:
            problems.append(doc.problem(base + ("axes", index, "range"), f"axis {axis.key!r} is empty: stop "
                                        f"{axis.range.stop} < start {axis.range.start}"))
        elif axis.values is not None:
            for j, value in enumerate(axis.values):
                items = value if isinstance(value, list) else [value]
                if isinstance(value, dict) or value is None or any(isinstance(v, (dict, list)) or v is None
                                                                   for v in items):
                    problems.append(doc.problem(base + ("axes", index, "values", j),
                                                f"expected a number, string, boolean or a list of those; got {value!r}"))
    keys = [axis.key for axis in spec.axes]
    for dup in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(doc.problem(base + ("axes",), f"key {dup!r} appears on more than one axis"))
    for name, mappings in (("points", spec.points), ("recheck", spec.recheck.points)):
        where = base + ((name,) if name == "points" else ("recheck", "points"))
        for index, mapping in enumerate(mappings):
            for key in mapping:
                reason = check_key(key, kernel_data, base_data)
                if reason:
                    problems.append(doc.problem(where + (index, key), reason))
    if spec.sampling is Sampling.POINTS and not spec.points:
        problems.append(doc.problem(base + ("points",), "sampling: points needs a non-empty 'points' list"))
    if spec.sampling is not Sampling.POINTS and not spec.axes:
        problems.append(doc.problem(base + ("axes",), f"sampling: {spec.sampling.value} needs at least one axis"))
    if spec.sampling is Sampling.RANDOM and spec.samples is None:
        problems.append(doc.problem(base + ("sampling",), "sampling: random needs 'samples' (how many points)"))
    for index, text in enumerate(spec.constraints):
        if text == FITS:
            continue
        try:
            tree = parse_constraint(text)
        except BadArgument as exc:
            problems.append(doc.problem(base + ("constraints", index), str(exc)))
            continue
        for name in expression_names(tree):
            reason = check_key(name, kernel_data, base_data)
            if reason:
                problems.append(doc.problem(base + ("constraints", index), f"constraint {text!r}: {reason}"))
    if len(spec.objectives) < 2 and spec.pareto is None:
        problems.append(doc.problem(base + ("objectives",), "give at least two objectives (or 'pareto: [a, b]')"))
    if spec.pareto is not None and (len(spec.pareto) != 2 or spec.pareto[0] == spec.pareto[1]):
        problems.append(doc.problem(base + ("pareto",), f"expected two different objectives; got {spec.pareto}"))
    return problems


def _base(spec: Sweep, doc: YamlDocument, sweep_path: Path) -> tuple[dict[str, Any], Path, Path | None]:
    if (spec.base is None) == (spec.experiment is None):
        raise ConfigError([doc.problem(("sweep",), "give exactly one of 'base' (an experiment file) or "
                                                   "'experiment' (the base experiment inline)")])
    if spec.experiment is not None:
        return {"schema": 1, "experiment": copy.deepcopy(spec.experiment)}, sweep_path.parent, None
    base_file = (sweep_path.parent / spec.base).resolve()
    if not base_file.is_file():
        raise ConfigError([doc.problem(("sweep", "base"), f"file not found: {base_file}")])
    data = read_yaml(base_file).data
    if not isinstance(data, dict) or not any(isinstance(data.get(kind), dict) for kind in (EXPERIMENT, ODE_STUDY)):
        raise ConfigError([doc.problem(("sweep", "base"), f"{base_file}: expected an experiment document "
                                                          "(`schema: 1` and `experiment:`) or an ODE study "
                                                          "(`ode_study:`)")])
    return data, base_file.parent, base_file


def load_sweep(path: str | Path) -> LoadedSweep:
    """Load and check a sweep file (schema, keys, axes, constraints, objectives).

    Raises:
        ConfigError: every problem, each with file, line and key path.
    """
    sweep_path = Path(path).resolve()
    spec = load(path, SweepFile).sweep
    doc = read_yaml(path)
    base_data, base_dir, base_file = _base(spec, doc, sweep_path)
    kind = ODE_STUDY if ODE_STUDY in base_data else EXPERIMENT
    kernel_name = base_data[kind].get("kernel")
    if not isinstance(kernel_name, str):
        raise ConfigError([doc.problem(("sweep",), f"the base {kind} names no 'kernel' file")])
    kernel_file = (base_dir / kernel_name).resolve()
    if kind == ODE_STUDY and not ("/" in kernel_name or kernel_name.endswith((".yaml", ".yml"))):
        kernel_file = kernel_path(kernel_name)  # a bare name: kernels/<name>.yaml
    if not kernel_file.is_file():
        raise ConfigError([doc.problem(("sweep",), f"base experiment kernel: file not found: {kernel_file}")])
    kernel_data = read_yaml(kernel_file).data
    problems = _key_problems(spec, doc, kernel_data if isinstance(kernel_data, dict) else {}, base_data)
    if problems:
        raise ConfigError(problems)
    return LoadedSweep(spec=spec, path=sweep_path, document=doc, base_data=base_data, base_dir=base_dir,
                       base_file=base_file, kernel_data=kernel_data, kernel_file=kernel_file, kind=kind)
