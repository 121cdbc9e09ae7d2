"""Expanding a sweep into checked, identified design points, and pruning them by constraints.

Owns: :class:`SweepPoint` (overrides, content key, experiment data, kernel variant),
:func:`expand_points` (grid / random / listed points; every point validated through the
experiment and kernel schemas before anything runs) and :func:`apply_constraints`.
A point's ``key`` is a hash of its overrides only, so the same point gets the same key in
every run of the sweep (this is what makes a re-run skip finished points).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument, ConfigError, FpgasimError, Problem
from fpgasim.config import read_yaml
from fpgasim.hw import load_board, load_dsp_types
from fpgasim.kernels import load_kernel_file
from fpgasim.kernels.fit import evaluate_fit
from fpgasim.study.sweep._expr import eval_constraint, parse_constraint
from fpgasim.study.experiment.experiment import LoadedExperiment, experiment_from_data
from fpgasim.study.dsodenet._sweep import check_study, study_document
from fpgasim.study.sweep.spec import FITS, ODE_STUDY, LoadedSweep, Sampling

__all__ = ["SweepPoint", "expand_points", "apply_constraints", "point_key", "overrides_text", "MAX_POINTS"]

#: Largest number of points one sweep may expand to (a typo in a range should not fill the disk).
MAX_POINTS = 1_000_000
#: At most this many invalid points are listed in one error.
_MAX_LISTED = 10


def point_key(overrides: dict[str, Any]) -> str:
    """Content key of a point: the first 16 hex digits of SHA-256 of its sorted overrides."""
    text = json.dumps(overrides, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def overrides_text(overrides: dict[str, Any]) -> str:
    """``a.b=1 c.d=x`` in axis order (for tables and messages)."""
    return " ".join(f"{key}={value}" for key, value in overrides.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepPoint:
    """One design point.

    Attributes:
        index: position in expansion order (0-based; stable for a given sweep file).
        key: :func:`point_key` of ``overrides``.
        overrides: key → value, in axis order.
        experiment_data: the base experiment document with the experiment overrides applied.
        kernel_text: the kernel variant document as YAML text (None: the base kernel file).
        kernel_hash: first 12 hex digits of SHA-256 of ``kernel_text`` (None with the base kernel).
        loaded: the validated experiment (its kernel is the base kernel file while unmaterialised);
            None when the base is an ODE study (``experiment_data`` then holds the study document).
        design: the point's kernel design (loaded and checked).
        kernel_data: the point's kernel document (the file the experiment names, overrides applied).
    """

    index: int
    key: str
    overrides: dict[str, Any]
    experiment_data: dict[str, Any]
    kernel_text: str | None
    kernel_hash: str | None
    loaded: LoadedExperiment | None
    design: Any
    kernel_data: dict[str, Any]

    def lookup(self, name: str) -> Any:
        """Value of a dotted key for this point (experiment defaults applied)."""
        parts = name.split(".")
        if parts[0] == ODE_STUDY:
            node: Any = self.experiment_data
            for part in parts:
                node = node[part]
            return node
        if parts[0] == "experiment":
            node: Any = self.loaded.spec
            for part in parts[1:]:
                node = node.get(part) if isinstance(node, dict) else getattr(node, part)
                if node is None:
                    return None
            return node.value if hasattr(node, "value") else node
        node = self.kernel_data
        for part in parts:
            node = node[part]
        return node


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _axis_values(loaded: LoadedSweep) -> list[tuple[str, list[Any]]]:
    axes = []
    for axis in loaded.spec.axes:
        if axis.values is not None:
            axes.append((axis.key, list(axis.values)))
        else:
            r = axis.range
            axes.append((axis.key, list(range(r.start, r.stop + 1, r.step))))
    return axes


def _override_sets(loaded: LoadedSweep) -> list[dict[str, Any]]:
    spec = loaded.spec
    if spec.sampling is Sampling.POINTS:
        return [dict(mapping) for mapping in spec.points]
    axes = _axis_values(loaded)
    sizes = [len(values) for _, values in axes]
    total = int(np.prod(sizes, dtype=np.float64))
    count = total if spec.sampling is Sampling.GRID else min(total, spec.samples or 0)
    if count > MAX_POINTS:
        raise ConfigError([loaded.document.problem(("sweep", "axes"), f"the sweep has {count} points; at most "
                                                   f"{MAX_POINTS} allowed (use sampling: random)")])
    if spec.sampling is Sampling.GRID or count == total:
        combos = itertools.product(*(values for _, values in axes))
    else:
        rng = np.random.default_rng(spec.seed)
        chosen = np.sort(rng.choice(total, size=count, replace=False))
        combos = zip(*(np.asarray(values, dtype=object)[idx] for (_, values), idx in
                       zip(axes, np.unravel_index(chosen, sizes))))
    return [{key: value for (key, _), value in zip(axes, combo)} for combo in combos]


def _kernel_variant(kernel_file: Path, overrides: dict[str, Any], cache: dict[Any, Any],
                    scratch: Path) -> tuple[Any, dict[str, Any], str | None, str | None]:
    """The point's kernel: ``(cache key, document data, variant YAML text, variant hash)``.

    ``cache[cache key]`` is ``(problems, design)``; without ``kernel.*`` overrides the kernel is
    the file the experiment names (text and hash None).
    """
    if ("data", kernel_file) not in cache:
        cache[("data", kernel_file)] = read_yaml(kernel_file).data
    base = cache[("data", kernel_file)]
    kernel_keys = {k: v for k, v in overrides.items() if k.startswith("kernel.")}
    if not kernel_keys:
        if kernel_file not in cache:
            try:
                cache[kernel_file] = ((), load_kernel_file(kernel_file))
            except ConfigError as exc:
                cache[kernel_file] = (exc.problems, None)
        return kernel_file, base, None, None
    data = copy.deepcopy(base)
    for key, value in kernel_keys.items():
        _set(data, key, value)
    text = json.dumps(data, sort_keys=True, indent=1) + "\n"  # JSON is YAML
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    if digest not in cache:
        path = scratch / f"kernel-{digest}.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            cache[digest] = ((), load_kernel_file(path))
        except ConfigError as exc:
            cache[digest] = (exc.problems, None)
    return digest, data, text, digest


def expand_points(loaded: LoadedSweep) -> list[SweepPoint]:
    """Every point of the sweep, each checked through the experiment and kernel schemas.

    Returns:
        Points in expansion order (grid: last axis fastest; random: sorted draw; points: as listed).

    Raises:
        ConfigError: invalid values (up to 10 points listed, each with its overrides), or a
            sweep with more than :data:`MAX_POINTS` points.
    """
    problems: list[Problem] = []
    points: list[SweepPoint] = []
    kernel_cache: dict[Any, Any] = {}
    seen: dict[str, int] = {}
    name = loaded.document.file
    with tempfile.TemporaryDirectory(prefix="fpgasim-sweep-") as scratch:
        for index, overrides in enumerate(_override_sets(loaded)):
            where = f"{name} (point {index}: {overrides_text(overrides) or 'base'})"
            data = copy.deepcopy(loaded.base_data)
            for key, value in overrides.items():
                if key.startswith(f"{loaded.kind}."):
                    _set(data, key, value)
            experiment = None
            if loaded.kind == ODE_STUDY:
                kernel_file = loaded.kernel_file
            else:
                try:
                    experiment = experiment_from_data(data, file=where, base_dir=loaded.base_dir)
                except ConfigError as exc:
                    problems += exc.problems
                    continue
                kernel_file = experiment.resolve(experiment.spec.kernel)
            cache_key, kernel_data, text, digest = _kernel_variant(kernel_file, overrides, kernel_cache,
                                                                   Path(scratch))
            kernel_problems, design = kernel_cache[cache_key]
            if kernel_problems:
                problems += [Problem(file=where, line=None, column=None, key_path=p.key_path, message=p.message)
                             for p in kernel_problems]
                continue
            if loaded.kind == ODE_STUDY:
                variant_file = Path(scratch) / f"kernel-{digest}.yaml" if digest else kernel_file
                study_problems = check_study(study_document(data, base_dir=loaded.base_dir, kernel_file=variant_file),
                                             where)
                if study_problems:
                    problems += study_problems
                    continue
            key = point_key(overrides)
            if key in seen:
                problems.append(loaded.document.problem(("sweep",), f"point {index} repeats point {seen[key]} "
                                                                    f"({overrides_text(overrides)})"))
                continue
            seen[key] = index
            points.append(SweepPoint(index=index, key=key, overrides=overrides, experiment_data=data,
                                     kernel_text=text, kernel_hash=digest, loaded=experiment,
                                     design=design, kernel_data=kernel_data))
            if len(problems) >= _MAX_LISTED:
                break
    if problems:
        raise ConfigError(problems[:_MAX_LISTED])
    return points


def _is_path(board: str) -> bool:
    return "/" in board or board.endswith((".yaml", ".yml"))


def apply_constraints(loaded: LoadedSweep, points: list[SweepPoint]) -> tuple[list[SweepPoint], dict[str, int]]:
    """Drop the points that break a constraint (before anything runs).

    Returns:
        ``(kept points, {constraint text: points it rejected})`` (a point counts for the first
        constraint it breaks).

    Raises:
        BadArgument: a constraint rejects every point (names each constraint and its count), or
            a constraint cannot be evaluated (e.g. compares a string with a number).
        ConfigError: a board that does not load.
    """
    constraints = loaded.spec.constraints
    trees = {text: parse_constraint(text) for text in constraints if text != FITS}
    rejected = {text: 0 for text in constraints}
    fit_cache: dict[tuple[str, str | None], bool] = {}
    boards: dict[str, Any] = {}
    dsp_types = load_dsp_types() if FITS in constraints else None
    kept = []
    for point in points:
        broken = None
        for text in constraints:
            if text == FITS and point.loaded is None:
                ok = True  # ODE studies: the fit depends on the variant's layers; the evaluator checks it
            elif text == FITS:
                board_name = str(point.loaded.resolve(point.loaded.spec.board)) if _is_path(point.loaded.spec.board) \
                    else point.loaded.spec.board
                cache_key = (board_name, point.kernel_hash or str(point.loaded.resolve(point.loaded.spec.kernel)))
                if cache_key not in fit_cache:
                    if board_name not in boards:
                        boards[board_name] = load_board(board_name)
                    try:
                        fit_cache[cache_key] = evaluate_fit(boards[board_name], point.design, dsp_types=dsp_types).fits
                    except FpgasimError:
                        fit_cache[cache_key] = False
                ok = fit_cache[cache_key]
            else:
                ok = eval_constraint(trees[text], point.lookup)
            if not ok:
                broken = text
                break
        if broken is None:
            kept.append(point)
        else:
            rejected[broken] += 1
    if points and not kept:
        counts = "; ".join(f"{text!r} rejected {n}" for text, n in rejected.items())
        raise BadArgument(f"{loaded.document.file}: sweep.constraints reject all {len(points)} points ({counts}); "
                          "expected at least one point to remain")
    return kept, rejected
