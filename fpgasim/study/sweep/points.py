"""Expanding a sweep into checked, identified design points, and pruning them by constraints.

Owns: :class:`SweepPoint` (overrides, content key, document, kernel variant),
:func:`expand_points` (grid / random / listed points; every point's document checked by its
study (``from_data``, in memory) and its kernel by the kernel schema before anything runs) and
:func:`apply_constraints`.
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

from fpgasim.config import read_yaml
from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.hw import load_board
from fpgasim.hw.library import boards_dir
from fpgasim.kernels import load_kernel_file
from fpgasim.kernels.loader import KERNELS_DIR
from fpgasim.study.registry import STUDIES
from fpgasim.study.sweep._expr import eval_constraint, parse_constraint
from fpgasim.study.sweep.spec import FITS, LoadedSweep, Sampling, document_file, names_file

__all__ = ["SweepPoint", "expand_points", "apply_constraints", "point_key", "overrides_text", "MAX_POINTS",
           "referenced_files"]

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
        kind: the registered study of the document.
        data: the base document with the document overrides applied.
        kernel_text: the kernel variant document as YAML text (None: the base kernel file).
        kernel_hash: first 12 hex digits of SHA-256 of ``kernel_text`` (None with the base kernel).
        loaded: the point's document as its study loaded it (with the kernel the document names).
        design: the point's kernel design (loaded and checked).
        kernel_data: the point's kernel document (the file the document names, overrides applied).
    """

    index: int
    key: str
    overrides: dict[str, Any]
    kind: str
    data: dict[str, Any]
    kernel_text: str | None
    kernel_hash: str | None
    loaded: Any
    design: Any
    kernel_data: dict[str, Any]

    @property
    def body(self) -> dict[str, Any]:
        """The mapping under the document's top-level key."""
        return self.data[self.kind]

    def files(self, base_dir: Path) -> tuple[Path, Path]:
        """``(kernel file, board file)`` the document names (before any kernel variant)."""
        return _files(self.body["kernel"], self.body["board"], base_dir)

    def board_ref(self, base_dir: Path) -> str:
        """The board as :func:`~fpgasim.hw.load_board` takes it: a library id, or the file's path."""
        board = self.body["board"]
        return str(self.files(base_dir)[1]) if names_file(board) else board

    def lookup(self, name: str) -> Any:
        """Value of a dotted key for this point (``kernel.…`` from the kernel document, the
        others from the study)."""
        if name.split(".")[0] == self.kind:
            return STUDIES[self.kind].lookup(self.loaded, name)
        node = self.kernel_data
        for part in name.split("."):
            node = node[part]
        return node


def _files(kernel: str, board: str, base_dir: Path) -> tuple[Path, Path]:
    """``(kernel file, board file)`` of a document's ``kernel`` and ``board`` values."""
    return document_file(kernel, base_dir, KERNELS_DIR), document_file(board, base_dir, boards_dir())


def referenced_files(loaded: LoadedSweep) -> set[Path]:
    """Every kernel and board file the sweep's points name, without expanding or checking them
    (cheap: what the store's changed-input check needs before the expensive preparation)."""
    kind, body = loaded.kind, loaded.base_data[loaded.kind]
    names = {(overrides.get(f"{kind}.kernel", body.get("kernel")), overrides.get(f"{kind}.board", body.get("board")))
             for overrides in _override_sets(loaded)}
    return {path for kernel, board in names if isinstance(kernel, str) and isinstance(board, str)
            for path in _files(kernel, board, loaded.base_dir)}


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
    the file the document names (text and hash None).
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


def _check_point(loaded: LoadedSweep, data: dict[str, Any], where: str) -> tuple[Any, list[Problem]]:
    """The point's document loaded by its study, or the problems (named after ``where``)."""
    try:
        return STUDIES[loaded.kind].from_data(data, file=where, base_dir=loaded.base_dir), []
    except ConfigError as exc:
        return None, list(exc.problems)
    except BadArgument as exc:
        return None, [Problem(file=where, line=None, column=None, key_path=loaded.kind, message=str(exc))]


def expand_points(loaded: LoadedSweep) -> list[SweepPoint]:
    """Every point of the sweep, each checked by its study and the kernel schema.

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
    kind = loaded.kind
    with tempfile.TemporaryDirectory(prefix="fpgasim-sweep-") as scratch:
        for index, overrides in enumerate(_override_sets(loaded)):
            where = f"{name} (point {index}: {overrides_text(overrides) or 'base'})"
            data = copy.deepcopy(loaded.base_data)
            for key, value in overrides.items():
                if key.startswith(f"{kind}."):
                    _set(data, key, value)
            point, point_problems = _check_point(loaded, data, where)
            if point_problems:
                problems += point_problems
                continue
            if loaded.kernel_file is None:  # the study has its own hardware model, no kernel design
                kernel_data, text, digest, kernel_problems, design = {}, None, None, (), None
            else:
                kernel_file = document_file(data[kind]["kernel"], loaded.base_dir, KERNELS_DIR)
                cache_key, kernel_data, text, digest = _kernel_variant(kernel_file, overrides, kernel_cache,
                                                                       Path(scratch))
                kernel_problems, design = kernel_cache[cache_key]
            if kernel_problems:
                problems += [Problem(file=where, line=None, column=None, key_path=p.key_path, message=p.message)
                             for p in kernel_problems]
                continue
            if digest is not None:  # the document with its kernel variant must load too
                variant = {**data, kind: {**data[kind], "kernel": str(Path(scratch) / f"kernel-{digest}.yaml")}}
                _, variant_problems = _check_point(loaded, variant, where)
                if variant_problems:
                    problems += variant_problems
                    continue
            key = point_key(overrides)
            if key in seen:
                problems.append(loaded.document.problem(("sweep",), f"point {index} repeats point {seen[key]} "
                                                                    f"({overrides_text(overrides)})"))
                continue
            seen[key] = index
            points.append(SweepPoint(index=index, key=key, overrides=overrides, kind=kind, data=data,
                                     kernel_text=text, kernel_hash=digest, loaded=point,
                                     design=design, kernel_data=kernel_data))
            if len(problems) >= _MAX_LISTED:
                break
    if problems:
        raise ConfigError(problems[:_MAX_LISTED])
    return points


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
    fit_cache: dict[tuple[str, str], bool] = {}
    boards: dict[str, Any] = {}
    study = STUDIES[loaded.kind]
    kept = []
    for point in points:
        broken = None
        for text in constraints:
            if text == FITS:
                board = point.board_ref(loaded.base_dir)
                cache_key = (board, point.kernel_hash or str(point.files(loaded.base_dir)[0]))
                if cache_key not in fit_cache:
                    if board not in boards:
                        boards[board] = load_board(board)
                    fit_cache[cache_key] = study.fits(point.loaded, boards[board], point.design)
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
