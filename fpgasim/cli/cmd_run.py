"""``fpgasim run FILE.yaml [--out DIR] [--mode timing|functional]``.

Finds the document's study in the registry (by its top-level key), loads and plans it (bad
input exits 2, a design that does not fit 3, before anything is written), runs it into
``--out`` (default ``results/<name>``, written atomically) and shows what the study reports:
a table, a text and lines. Interrupted before its files are in place, a run writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fpgasim.cli._args import worker_count
from fpgasim.config import read_yaml
from fpgasim.study.common.interrupts import Interrupted
from fpgasim.study.protocol import RunOptions, RunOutput
from fpgasim.study.registry import STUDIES, study_of

__all__ = ["register"]

#: Every run mode a registered study offers (``--mode``), in registry order.
MODES = tuple(dict.fromkeys(mode for study in STUDIES.values() for mode in study.modes))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser("run", help="run a study document (" + ", ".join(STUDIES) + ") and write "
                                              "its report")
    parser.add_argument("document", type=Path, help="study YAML (experiments/*.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: results/<name>)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="override the document's mode (timing skips the arithmetic)")
    parser.add_argument("--no-trace", action="store_true", help="skip trace.json and timeline.png")
    parser.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                        help="processes for a study's independent configurations (default: all cores)")
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


def _show(console: Console, output: RunOutput) -> None:
    if output.table is not None:
        table = Table(title=output.table.title)
        for column in output.table.columns:
            table.add_column(column, overflow="fold")
        for row in output.table.rows:
            table.add_row(*row)
        console.print(table)
    if output.text is not None:
        console.print(output.text)
    for line in output.lines:
        console.print(line)


def _run(args: argparse.Namespace) -> int:
    console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 160)
    status = Console(stderr=True, highlight=False)
    study = study_of(read_yaml(args.document))
    plan = study.plan(study.load(args.document))
    out = args.out or Path("results") / plan.name
    with _Progress(status) as progress:
        output = study.run(plan, out, RunOptions(mode=args.mode, trace=not args.no_trace, workers=args.workers,
                                                 progress=progress))
    try:
        _show(console, output)
    except Interrupted as exc:
        exc.kept = f"the files in {out} are complete"
        raise
    return 0
