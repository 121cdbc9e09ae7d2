"""Running a design-space sweep: check everything, evaluate every point, re-check the best, report.

Owns: :func:`prepare_sweep` (load, expand, prune, hash inputs — nothing is written) and
:func:`run_sweep` (the whole job). Order of a run, so that bad input never touches the store:

1. load the sweep and hash the parsed content of every file it reads; a store of other inputs is
   refused here, and a store whose last run of these inputs finished (reports in place) ends
   the command here, reading nothing else;
2. expand and validate every point, apply constraints, resolve the re-check marks, check the
   output folder (writable, nothing fpgasim did not write unless ``force``), connect to the
   executor (an unreachable Dask scheduler fails here), open the store;
3. analytical pass over every point not yet stored (each result durable when reported);
4. emulator pass over the top-k points by ``recheck.rank_by`` and the marked points;
5. reports (CSV, JSON, Pareto table and PNG, best design per layer, re-check table).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpgasim.errors import ConfigError
from fpgasim.hw.library import boards_dir
from fpgasim.study.common.outputs import check_output_dir
from fpgasim.study.sweep.evaluate import Fidelity, PointResult, PointTask, Status, evaluate_point
from fpgasim.study.sweep.exec import Evaluator, make_executor
from fpgasim.study.sweep.points import SweepPoint, apply_constraints, expand_points, point_key, referenced_files
from fpgasim.study.sweep.report import pareto_front, write_reports
from fpgasim.study.sweep.spec import MAXIMISE, LoadedSweep, load_sweep
from fpgasim.study.sweep.store import STORE_NAME, SweepStore, build_manifest, content_sha256, file_sha256

__all__ = ["PreparedSweep", "SweepOutcome", "prepare_sweep", "run_sweep", "default_out_dir", "Progress"]

#: What a sweep folder holds besides its reports: the store (and SQLite's side files) and the
#: kernel variants of its points.
SWEEP_FILES = (STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", f"{STORE_NAME}-journal", "inputs")

#: ``progress(phase, done, total)``; phase is ``analytical`` or ``emulated``.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedSweep:
    """A checked sweep: its points after pruning and the hashes of every input file."""

    loaded: LoadedSweep
    points: tuple[SweepPoint, ...]
    total: int
    pruned: dict[str, int]
    marked: tuple[str, ...]
    inputs: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepOutcome:
    """What a sweep run did.

    Attributes:
        out_dir, store: where the reports and the store are. total: points before pruning.
        points: points after pruning. evaluated_by: results computed in this run per fidelity
        (``analytical``, ``emulated``). skipped_by: results already in the store per fidelity.
        rechecked: point indexes re-run by the emulator. front: point indexes on the Pareto
        front. files: report files written (or, when the sweep had finished, already there).
    """

    out_dir: Path
    store: Path
    total: int
    points: int
    evaluated_by: dict[str, int]
    skipped_by: dict[str, int]
    rechecked: tuple[int, ...]
    front: tuple[int, ...]
    files: tuple[Path, ...]

    @property
    def evaluated(self) -> int:
        """Results computed in this run (both fidelities)."""
        return sum(self.evaluated_by.values())

    @property
    def skipped(self) -> int:
        """Results already in the store (both fidelities)."""
        return sum(self.skipped_by.values())


def default_out_dir(loaded: LoadedSweep) -> Path:
    """``results/sweeps/<sweep name>`` under the current directory."""
    return Path("results") / "sweeps" / loaded.spec.name


def _display(path: Path, root: Path) -> str:
    """``path`` relative to the sweep file's directory (so a moved checkout keeps its store)."""
    return os.path.relpath(path.resolve(), root)


def _inputs(loaded: LoadedSweep, digest: Callable[[Path], str] = content_sha256) -> dict[str, str]:
    """Every YAML the sweep reads (display name → ``digest``, by default the hash of the parsed
    content), found without expanding the points."""
    root = loaded.path.parent
    files = {loaded.path} | referenced_files(loaded)
    if loaded.kernel_file is not None:
        files.add(loaded.kernel_file)
    if loaded.base_file is not None:
        files.add(loaded.base_file)
    lib = boards_dir()
    files |= {p for p in (lib / "links.yaml", lib / "dsp_types.yaml") if p.is_file()}
    return {_display(path, root): digest(path) for path in sorted(files) if path.is_file()}


def prepare_sweep(path: str | Path) -> PreparedSweep:
    """Load, expand, validate and prune a sweep; hash its inputs. Writes nothing.

    Raises:
        ConfigError: bad sweep file, unknown key, empty axis, invalid point value, or a
            re-check mark that is not a point of the sweep.
        BadArgument: the constraints reject every point.
    """
    loaded = load_sweep(path)
    return _prepare(loaded, _inputs(loaded))


def _prepare(loaded: LoadedSweep, inputs: dict[str, str]) -> PreparedSweep:
    """:func:`prepare_sweep` of a loaded sweep whose inputs are hashed already."""
    points = expand_points(loaded)
    kept, pruned = apply_constraints(loaded, points)
    by_key = {p.key: p for p in kept}
    marked = []
    for index, mapping in enumerate(loaded.spec.recheck.points):
        key = point_key(dict(mapping))
        if key not in by_key:
            raise ConfigError([loaded.document.problem(("sweep", "recheck", "points", index),
                                                       f"{mapping} is not a point of this sweep (after constraints)")])
        marked.append(key)
    return PreparedSweep(loaded=loaded, points=tuple(kept), total=len(points), pruned=pruned,
                         marked=tuple(marked), inputs=inputs)


def _materialise(prepared: PreparedSweep, out_dir: Path) -> dict[str, str]:
    """Write each kernel variant once to ``<out>/inputs/`` (content-addressed); key → kernel path."""
    inputs = out_dir / "inputs"
    paths = {}
    for point in prepared.points:
        if point.kernel_text is None:
            continue
        path = inputs / f"kernel-{point.kernel_hash}.yaml"
        if not path.is_file():
            inputs.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(".tmp")
            temp.write_text(point.kernel_text, encoding="utf-8")
            temp.replace(path)
        paths[point.key] = str(path.resolve())
    return paths


def _task(point: SweepPoint, fidelity: Fidelity, loaded: LoadedSweep, kernels: dict[str, str]) -> PointTask:
    data = point.data
    if point.key in kernels:
        data = {**data, point.kind: {**point.body, "kernel": kernels[point.key]}}
    return PointTask(index=point.index, key=point.key, fidelity=fidelity, kind=point.kind, data=data,
                     base_dir=str(loaded.base_dir), file=f"{loaded.document.file}#point-{point.index}")


def _top(prepared: PreparedSweep, results: list[PointResult]) -> list[str]:
    rank = prepared.loaded.rank_by
    sign = -1.0 if rank in MAXIMISE else 1.0
    ok = [r for r in results if r.status is Status.OK and rank.value in r.objectives]
    ok.sort(key=lambda r: (sign * r.objectives[rank.value], r.index))
    chosen = [r.key for r in ok[:prepared.loaded.spec.recheck.top_k]]
    return chosen + [key for key in prepared.marked if key not in chosen]


def _run_phase(executor, evaluate: Evaluator, store: SweepStore, tasks: list[PointTask],
               overrides: dict[str, dict], phase: str, progress: Progress | None, already: int) -> int:
    total = already + len(tasks)
    if progress:
        progress(phase, already, total)
    done = 0
    for result in executor.run(evaluate, tasks):
        store.put(result, overrides[result.key])
        done += 1
        if progress:
            progress(phase, already + done, total)
    return done


def run_sweep(path: str | Path, *, out_dir: Path | None = None, workers: int | None = None,
              scheduler: str | None = None, evaluate: Evaluator = evaluate_point,
              progress: Progress | None = None, recheck: bool = True, force: bool = False) -> SweepOutcome:
    """Run (or resume) a sweep and write its reports.

    Args:
        path: the sweep YAML. out_dir: reports and ``store.sqlite`` (default :func:`default_out_dir`).
        workers: local processes (default: CPU count; 1 = in this process).
        scheduler: Dask scheduler address (``tcp://host:port``) instead of local workers.
        evaluate: the evaluator run for every task (default :func:`evaluate_point`).
        progress: called as ``progress(phase, done, total)`` while running.
        recheck: run the emulator pass (top-k and marked points).
        force: accept files in ``out_dir`` that fpgasim did not write (they are kept).

    Returns:
        :class:`SweepOutcome`.

    Raises:
        ConfigError, BadArgument: bad input (nothing written), an output folder that cannot be
            written or holds foreign files, a store holding other inputs, an unreachable scheduler.
    """
    loaded = load_sweep(path)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(loaded)
    manifest = build_manifest(sweep_name=loaded.spec.name, inputs=_inputs(loaded))
    byte_inputs = _inputs(loaded, file_sha256)
    finished = SweepStore.check(out_dir / STORE_NAME, manifest, byte_inputs=byte_inputs)
    if finished is not None and finished["recheck"] == recheck \
            and all((out_dir / name).is_file() for name in finished["files"]):
        return _finished_outcome(out_dir, finished)
    prepared = _prepare(loaded, manifest["inputs"])
    check_output_dir(out_dir, force=force, keep=SWEEP_FILES)
    executor = make_executor(workers=workers, scheduler=scheduler)
    try:
        store = SweepStore.open(out_dir / STORE_NAME, manifest, byte_inputs=byte_inputs)
        try:
            kernels = _materialise(prepared, out_dir)
            overrides = {p.key: p.overrides for p in prepared.points}
            by_key = {p.key: p for p in prepared.points}
            done_a = store.done(Fidelity.ANALYTICAL)
            todo = [_task(p, Fidelity.ANALYTICAL, loaded, kernels) for p in prepared.points if p.key not in done_a]
            skipped = {Fidelity.ANALYTICAL.value: len(prepared.points) - len(todo)}
            evaluated = {Fidelity.ANALYTICAL.value: _run_phase(executor, evaluate, store, todo, overrides,
                                                               "analytical", progress, skipped["analytical"])}
            keys = set(by_key)
            analytical = store.results(Fidelity.ANALYTICAL, keys)
            chosen = _top(prepared, analytical) if recheck else []
            done_e = store.done(Fidelity.EMULATED)
            cost = {r.key: r.objectives.get("latency_ms", 0.0) for r in analytical}
            todo_e = [_task(by_key[k], Fidelity.EMULATED, loaded, kernels)  # longest first: balances workers
                      for k in sorted(chosen, key=lambda k: (-cost.get(k, 0.0), by_key[k].index)) if k not in done_e]
            skipped[Fidelity.EMULATED.value] = len(chosen) - len(todo_e)
            evaluated[Fidelity.EMULATED.value] = _run_phase(executor, evaluate, store, todo_e, overrides, "emulated",
                                                            progress, len(chosen) - len(todo_e))
            emulated = store.results(Fidelity.EMULATED, set(chosen))
            files = write_reports(out_dir, loaded, list(prepared.points), analytical, emulated,
                                  pruned=prepared.pruned, total=prepared.total)
            x_obj, y_obj = loaded.pareto
            ok = [r for r in analytical
                  if r.status is Status.OK and x_obj.value in r.objectives and y_obj.value in r.objectives]
            values = np.array([[r.objectives[x_obj.value], r.objectives[y_obj.value]] for r in ok], dtype=np.float64)
            front = pareto_front(values.reshape(-1, 2), maximise=(x_obj in MAXIMISE, y_obj in MAXIMISE))
            outcome = SweepOutcome(out_dir=out_dir, store=out_dir / STORE_NAME, total=prepared.total,
                                   points=len(prepared.points), evaluated_by=evaluated, skipped_by=skipped,
                                   rechecked=tuple(sorted(by_key[k].index for k in chosen)),
                                   front=tuple(sorted(ok[i].index for i in front)), files=tuple(files))
            store.mark_finished({"recheck": recheck, "total": outcome.total, "points": outcome.points,
                                 "results": {name: evaluated[name] + skipped[name] for name in evaluated},
                                 "rechecked": list(outcome.rechecked), "front": list(outcome.front),
                                 "files": [os.path.relpath(path, out_dir) for path in files]})
        finally:
            store.close()
    finally:
        executor.close()
    return outcome


def _finished_outcome(out_dir: Path, finished: dict) -> SweepOutcome:
    """The outcome of re-running a finished sweep: every result and report already there."""
    return SweepOutcome(out_dir=out_dir, store=out_dir / STORE_NAME, total=finished["total"],
                        points=finished["points"], evaluated_by={name: 0 for name in finished["results"]},
                        skipped_by=dict(finished["results"]), rechecked=tuple(finished["rechecked"]),
                        front=tuple(finished["front"]), files=tuple(out_dir / name for name in finished["files"]))
