"""``fpgasim run EXPERIMENT.yaml [--out DIR] [--mode timing|functional]``.

Dispatches on the document: an ``experiment:`` runs on the emulator (or, with a
``comparison:`` section, runs the baselines and scale-out points side by side); an
``ode_study:`` runs the dsODENet study. Results go to ``--out`` (default
``results/<experiment name>``), written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpgasim.config import read_yaml
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.study.superlip.compare import run_comparison, write_comparison
from fpgasim.study.experiment.experiment import Mode, load_experiment
from fpgasim.study.experiment.report import COLUMNS, layer_rows, write_run
from fpgasim.study.experiment.runner import run_loaded

__all__ = ["register"]

#: Columns shown in the terminal (report.md and layers.csv have all of them).
TERMINAL_COLUMNS = ("layer", "Tm,Tn,Tr,Tc", "Pb,Pr,Pc,Pm", "cycles", "time ms", "GOP/s", "DSP-array util",
                    "bottleneck (emulator)", "emu vs model", "bottleneck (model)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser("run", help="run an experiment on the emulator and write its report")
    parser.add_argument("experiment", type=Path, help="experiment YAML (experiments/*.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: results/<name>)")
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=None,
                        help="override the experiment's mode (timing skips the arithmetic)")
    parser.add_argument("--no-trace", action="store_true", help="skip trace.json and timeline.png")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for a comparison's configurations (default: all cores)")
    parser.set_defaults(func=_run)


class _Progress:
    """A live status line on an interactive terminal (a spinner, the step, elapsed seconds)."""

    def __init__(self, console: Console):
        self.console = console
        self.status = console.status("starting") if console.is_terminal else None

    def __enter__(self) -> _Progress:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, label: str) -> None:
        if self.status is not None:
            self.status.update(f"emulating {label}")


def _run(args: argparse.Namespace) -> int:
    console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 160)
    status = Console(stderr=True, highlight=False)
    doc = read_yaml(args.experiment)
    if isinstance(doc.data, dict) and "ode_study" in doc.data:
        from fpgasim.study.dsodenet.study import run_ode_study
        out = args.out or Path("results") / args.experiment.stem
        run_ode_study(args.experiment, out)
        console.print((out / "report.md").read_text(encoding="utf-8"))
        console.print(f"wrote {out}/")
        return 0
    if not (isinstance(doc.data, dict) and "experiment" in doc.data):
        raise ConfigError([doc.problem((), "expected an `experiment:` or `ode_study:` document")])
    loaded = load_experiment(args.experiment)
    out = args.out or Path("results") / loaded.spec.name
    if loaded.spec.comparison is not None:
        if args.workers < 1:
            raise BadArgument(f"--workers={args.workers}: expected >= 1")
        with _Progress(status) as progress:
            comparison = run_comparison(loaded, workers=args.workers, progress=progress)
        paths = write_comparison(comparison, out)
        console.print((out / "report.md").read_text(encoding="utf-8"))
        console.print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    mode = Mode(args.mode) if args.mode else None
    with _Progress(status) as progress:
        result = run_loaded(loaded, mode=mode, trace=not args.no_trace, progress=progress)
    table = Table(title=f"{loaded.spec.name} ({result.mode}, {result.setup.boards} x {result.setup.board.id})")
    shown = [index for index, (header, _, _) in enumerate(COLUMNS) if header in TERMINAL_COLUMNS]
    for index in shown:
        table.add_column(COLUMNS[index][0], overflow="fold")
    for row in layer_rows(result):
        table.add_row(*(row[index] for index in shown))
    console.print(table)
    if result.bit_exact is not None:
        console.print(f"functional check: {'bit exact' if result.bit_exact else 'NOT bit exact'} against the direct kernel")
    paths = write_run(result, out)
    console.print("wrote " + ", ".join(str(p) for p in paths))
    return 0
