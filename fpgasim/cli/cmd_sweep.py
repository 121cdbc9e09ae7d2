"""``fpgasim sweep SWEEP.yaml``: run (or resume) a design-space sweep with a progress bar.

Exit 0 when the sweep finished (individual points may have failed; see report.md), 2 on bad
input or an output folder it cannot use (``--out`` is checked before the sweep is even loaded;
nothing written), 1 on a bug, 130 / 143 on SIGINT / SIGTERM (finished points stay in the store; a
re-run resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fpgasim.cli._args import worker_count
from fpgasim.study.common.interrupts import Interrupted
from fpgasim.study.common.outputs import check_output_dir
from fpgasim.study.sweep.sweep import SWEEP_FILES, SweepOutcome, run_sweep

__all__ = ["register", "run", "format_outcome"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` sub-command."""
    parser = subparsers.add_parser(
        "sweep", help="design-space sweep: analytical model on every point, emulator on the best; resumable",
        description="Evaluate every point of SWEEP.yaml with the analytical model, re-check the top-k with the "
                    "emulator, write CSV/JSON/Pareto reports. Results go to a crash-safe store; re-running "
                    "skips finished points. Exit 0 done, 2 bad input.")
    parser.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file (see docs/sweeps.md)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output directory for the store and reports (default: results/sweeps/<name>)")
    parser.add_argument("--workers", metavar="N", type=worker_count, default=None,
                        help="local worker processes (default: CPU count; 1 runs in this process)")
    parser.add_argument("--scheduler", metavar="ADDR", default=None,
                        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (needs fpgasim[distributed])")
    parser.add_argument("--no-recheck", action="store_true", help="skip the emulator re-check of the best points")
    parser.add_argument("--force", action="store_true",
                        help="write even if the output folder holds files fpgasim did not write (they are kept)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def format_outcome(outcome: SweepOutcome) -> str:
    """The summary printed after a sweep."""
    def by_fidelity(counts: dict[str, int]) -> str:
        return " + ".join(f"{count} {fidelity}" for fidelity, count in counts.items())

    lines = [f"sweep: {outcome.total} points, {outcome.points} after constraints; evaluated "
             f"{by_fidelity(outcome.evaluated_by)} now, {by_fidelity(outcome.skipped_by)} already in the store",
             f"pareto front: points {', '.join(str(i) for i in outcome.front) or 'none'}",
             f"emulator re-check: points {', '.join(str(i) for i in outcome.rechecked) or 'none'}",
             f"store: {outcome.store}"]
    lines += [f"wrote {path}" for path in outcome.files]
    return "\n".join(lines) + "\n"


def _kept(stored: dict[str, int]) -> str:
    """The interrupted sweep's line: what its store keeps (a re-run resumes from there)."""
    counts = " and ".join(f"{done} {phase}" for phase, done in stored.items() if done)
    if not counts:
        return "no point was evaluated (an existing store is unchanged)"
    return f"the store keeps {counts} result(s); run the sweep again to resume"


def run(args: argparse.Namespace) -> int:
    """Run the sweep with a rich progress bar (ETA) on stderr; interrupted, say what the store keeps."""
    if args.out is not None:
        check_output_dir(Path(args.out), force=args.force, keep=SWEEP_FILES)
    stored: dict[str, int] = {}  # phase -> results in the store, as last reported

    def count(phase: str, done: int, total: int) -> None:
        stored[phase] = done

    def sweep(progress) -> SweepOutcome:
        try:
            return run_sweep(args.sweep, out_dir=args.out, workers=args.workers, scheduler=args.scheduler,
                             recheck=not args.no_recheck, progress=progress, force=args.force)
        except Interrupted as exc:
            exc.kept = _kept(stored)
            raise

    if args.no_progress or not sys.stderr.isatty():
        outcome = sweep(count)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            tasks: dict[str, int] = {}

            def progress(phase: str, done: int, total: int) -> None:
                count(phase, done, total)
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done, total=total)

            outcome = sweep(progress)
    sys.stdout.write(format_outcome(outcome))
    return 0
