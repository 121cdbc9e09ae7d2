"""The sweep YAML: a base study document, axes over its keys, constraints, objectives, re-checks.

Owns: the typed sweep document (``schema: 1``, top-level ``sweep:``), :func:`load_sweep`,
the objective names (:class:`Objective`) and the key check. The base is a document of any
registered study (a file, or an experiment inline). An axis key is a dotted path into the base
document (``experiment.cluster.boards``, ``ode_study.timing.variants``; the study checks it) or
into the kernel design it names (``kernel.parallelism.tm``); an unknown key is refused with the
valid keys at that level. Expansion into points lives in :mod:`fpgasim.study.sweep.points`.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.config import DirName, NonNegInt, PosInt, Str, YamlDocument, config_class, load, read_yaml
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.kernels.loader import KERNELS_DIR
from fpgasim.study.common.documents import data_key_problem
from fpgasim.study.registry import STUDIES, study_kind
from fpgasim.study.sweep._expr import expression_names, parse_constraint

__all__ = ["Sampling", "Objective", "OBJECTIVE_UNITS", "MAXIMISE", "Axis", "AxisRange", "Recheck", "Sweep",
           "SweepFile", "LoadedSweep", "load_sweep", "check_key", "document_file", "names_file", "FITS"]

#: The constraint that keeps only designs whose kernel fits the board (``fpgasim fit``).
FITS = "fits"


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

    #: dotted key path, ``<study kind>.…`` (e.g. ``experiment.…``) or ``kernel.…``.
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

    #: the output folder's name (``results/sweeps/<name>``).
    name: DirName
    description: Str | None = None
    #: the base study document (relative to the sweep file) …
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
    """A checked sweep plus its file, its base study document and the base kernel data.

    Attributes:
        spec: the sweep. path: the sweep file. document: its YAML (for messages).
        kind: the registered study of the base document (its top-level key).
        base_data: the base document, e.g. ``{"schema": 1, "experiment": {...}}``.
        base_dir: the directory the base document's relative paths are resolved from.
        base_file: the base document's file (None when inline).
        kernel_data: the base kernel design document (``{"schema": 1, "kernel": {...}}``; ``{}``
            when the base names no kernel, as a study with its own hardware model does).
        kernel_file: the base kernel file (None: the base names no kernel).
    """

    spec: Sweep
    path: Path
    document: YamlDocument
    base_data: dict[str, Any]
    base_dir: Path
    base_file: Path | None
    kernel_data: dict[str, Any]
    kernel_file: Path | None
    kind: str

    @property
    def pareto(self) -> tuple[Objective, Objective]:
        """The two objectives of the Pareto front."""
        chosen = self.spec.pareto or self.spec.objectives
        return chosen[0], chosen[1]

    @property
    def rank_by(self) -> Objective:
        """The objective that ranks points for the top-k re-check."""
        return self.spec.recheck.rank_by or self.spec.objectives[0]


def check_key(key: str, kind: str, kernel_data: dict[str, Any], base_data: dict[str, Any]) -> str | None:
    """Why ``key`` is not a sweepable key of a sweep over a ``kind`` document (None when it is).

    Kernel keys are checked against the base kernel document; ``<kind>.…`` keys by the study.
    """
    parts = key.split(".")
    if parts[0] == "kernel":
        return data_key_problem(key, kernel_data, "the kernel document")
    if parts[0] == kind:
        return STUDIES[kind].check_key(key, base_data)
    return f"unknown key {key!r}: a key of an {kind} sweep starts with '{kind}.' or 'kernel.'"


def names_file(name: str) -> bool:
    """A board or kernel given as a path (it has a ``/`` or a YAML suffix), not a library name."""
    return "/" in name or name.endswith((".yaml", ".yml"))


def document_file(name: str, base_dir: Path, library: Path) -> Path:
    """The file a study document names: a path (relative to ``base_dir``) when it looks like one,
    else ``library/<name>.yaml`` (a board id, a kernel in kernels/)."""
    if names_file(name):
        return (base_dir / name).resolve()
    return library / f"{name}.yaml"


def _key_problems(spec: Sweep, doc: YamlDocument, kind: str, kernel_data: dict[str, Any],
                  base_data: dict[str, Any]) -> list[Problem]:
    problems = []
    base = ("sweep",)
    for index, axis in enumerate(spec.axes):
        reason = check_key(axis.key, kind, kernel_data, base_data)
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
                reason = check_key(key, kind, kernel_data, base_data)
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
            reason = check_key(name, kind, kernel_data, base_data)
            if reason:
                problems.append(doc.problem(base + ("constraints", index), f"constraint {text!r}: {reason}"))
    if len(spec.objectives) < 2 and spec.pareto is None:
        problems.append(doc.problem(base + ("objectives",), "give at least two objectives (or 'pareto: [a, b]')"))
    if spec.pareto is not None and (len(spec.pareto) != 2 or spec.pareto[0] == spec.pareto[1]):
        problems.append(doc.problem(base + ("pareto",), f"expected two different objectives; got {spec.pareto}"))
    return problems


def _base(spec: Sweep, doc: YamlDocument, sweep_path: Path) -> tuple[dict[str, Any], Path, Path | None]:
    if (spec.base is None) == (spec.experiment is None):
        raise ConfigError([doc.problem(("sweep",), "give exactly one of 'base' (a study file) or "
                                                   "'experiment' (the base experiment inline)")])
    if spec.experiment is not None:
        return {"schema": 1, "experiment": copy.deepcopy(spec.experiment)}, sweep_path.parent, None
    base_file = (sweep_path.parent / spec.base).resolve()
    if not base_file.is_file():
        raise ConfigError([doc.problem(("sweep", "base"), f"file not found: {base_file}")])
    data = read_yaml(base_file).data
    kind = study_kind(data)
    if kind is None or not isinstance(data.get(kind), dict):
        known = ", ".join(f"`{key}:`" for key in STUDIES)
        raise ConfigError([doc.problem(("sweep", "base"), f"{base_file}: expected a study document (`schema: 1` "
                                                          f"and one of: {known})")])
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
    kind = study_kind(base_data)
    kernel_name = base_data[kind].get("kernel")
    kernel_file: Path | None = None
    kernel_data: Any = {}
    if kernel_name is not None or "platform" in base_data[kind]:
        if not isinstance(kernel_name, str):
            why = (" (a sweep varies one kernel design; an experiment on a `platform` names one per device, and "
                   "sweeping platforms is not supported yet)" if "platform" in base_data[kind] else "")
            raise ConfigError([doc.problem(("sweep",), f"the base {kind} names no 'kernel' file{why}")])
        kernel_file = document_file(kernel_name, base_dir, KERNELS_DIR)
        if not kernel_file.is_file():
            raise ConfigError([doc.problem(("sweep",), f"base {kind} kernel: file not found: {kernel_file}")])
        kernel_data = read_yaml(kernel_file).data
    elif FITS in spec.constraints:
        raise ConfigError([doc.problem(("sweep", "constraints"), f"'{FITS}' needs a kernel design; the base {kind} "
                                                                 "names none (its study checks its own fit)")])
    problems = _key_problems(spec, doc, kind, kernel_data if isinstance(kernel_data, dict) else {}, base_data)
    if problems:
        raise ConfigError(problems)
    return LoadedSweep(spec=spec, path=sweep_path, document=doc, base_data=base_data, base_dir=base_dir,
                       base_file=base_file, kernel_data=kernel_data, kernel_file=kernel_file, kind=kind)
