"""``fpgasim run FILE.yaml [--out DIR] [--mode timing|functional] [--input X.npy] [--save-outputs]``.

Finds the document's study in the registry (by its top-level key), loads and plans it (bad
input exits 2, a design that does not fit 3, before anything is written), checks the output
folder before simulating (``--out`` before even loading: a file in the way, no write permission,
a name too long, files fpgasim did not write there without ``--force`` → exit 2), runs it into
``--out`` (default ``results/<name>``, written atomically, replacing the previous run's files)
and shows what the study reports: a table, a text and lines. Interrupted before its files are in
place, a run writes nothing.
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
from fpgasim.errors import BadArgument
from fpgasim.study.common.interrupts import Interrupted
from fpgasim.study.common.outputs import check_output_dir
from fpgasim.study.protocol import Limits, RunOptions, RunOutput
from fpgasim.study.registry import STUDIES, study_of

__all__ = ["register"]

#: Console width off a terminal: wide enough that no table row is ever folded.
UNWRAPPED_WIDTH = 100_000

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
    parser.add_argument("--force", action="store_true",
                        help="write even if the output folder holds files fpgasim did not write (they are kept)")
    parser.add_argument("--no-trace", action="store_true", help="skip trace.json and timeline.png")
    parser.add_argument("--input", type=Path, default=None, metavar="X.npy",
                        help="functional mode, graph networks: float inputs (N, C, H, W) from a .npy file (a .npz "
                             "with one array per input node for several inputs), quantised to the design's format")
    parser.add_argument("--save-outputs", action="store_true",
                        help="functional mode, graph networks: also write outputs.npz, each network output "
                             "dequantised, keyed by its node name")
    parser.add_argument("--workers", type=worker_count, default=os.cpu_count() or 1,
                        help="processes for a study's independent configurations (default: all cores)")
    defaults = Limits()
    parser.add_argument("--max-events", type=_positive, default=defaults.max_events, metavar="N",
                        help="refuse before simulating a run estimated above N simulation events "
                             f"(default {defaults.max_events:,}, about 3 minutes)")
    parser.add_argument("--max-memory-mb", type=_positive, default=defaults.max_memory_mb, metavar="N",
                        help=f"refuse a run estimated above N MB of memory (default {defaults.max_memory_mb:,})")
    parser.add_argument("--max-trace-spans", type=_positive, default=defaults.max_trace_spans, metavar="N",
                        help="beyond N spans trace.json is a summary, busy intervals per resource "
                             f"(default {defaults.max_trace_spans:,}, about 40 MB)")
    parser.set_defaults(func=_run)


def _positive(text: str) -> int:
    """An argparse type: a positive integer (underscores allowed, as in 50_000_000)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


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


def _show(output: RunOutput, *, terminal: bool) -> None:
    """The table, the text and the lines; off a terminal nothing is wrapped or re-styled (the
    table takes its natural width, text and lines are written verbatim)."""
    console = Console(highlight=False, width=None if terminal else UNWRAPPED_WIDTH)
    if output.table is not None:
        table = Table(title=output.table.title)
        for column in output.table.columns:
            table.add_column(column, overflow="fold")
        for row in output.table.rows:
            table.add_row(*row)
        console.print(table)
    texts = ([] if output.text is None else [output.text]) + list(output.lines)
    for text in texts:
        if terminal:
            console.print(text, markup=False)
        else:
            sys.stdout.write(text + "\n")


def _run(args: argparse.Namespace) -> int:
    status = Console(stderr=True, highlight=False)
    if args.out is not None:
        check_output_dir(args.out, force=args.force)
    study = study_of(read_yaml(args.document))
    if (args.input is not None or args.save_outputs) and not study.takes_input_values:
        raise BadArgument(f"{args.document}: --input and --save-outputs need a graph network run on the user's "
                          f"values; a {study.kind} runs its own inputs")
    limits = Limits(max_events=args.max_events, max_memory_mb=args.max_memory_mb,
                    max_trace_spans=args.max_trace_spans, trace=not args.no_trace)
    plan = study.plan(study.load(args.document), limits=limits)
    out = args.out or Path("results") / plan.name
    check_output_dir(out, force=args.force)
    with _Progress(status) as progress:
        output = study.run(plan, out, RunOptions(mode=args.mode, trace=not args.no_trace, workers=args.workers,
                                                 progress=progress, limits=limits, input_path=args.input,
                                                 save_outputs=args.save_outputs))
    try:
        _show(output, terminal=sys.stdout.isatty())
    except Interrupted as exc:
        exc.kept = f"the files in {out} are complete"
        raise
    return 0
