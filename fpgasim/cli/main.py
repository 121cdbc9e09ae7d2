"""The ``fpgasim`` command: sub-commands are discovered from ``fpgasim/cli/cmd_*.py``.

Each command module defines ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the default. Exit codes: 0 ok, 1 run failed (a bug), 2 bad input,
3 the design does not fit, 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import io
import pkgutil
import sys

import fpgasim
from fpgasim.errors import BadArgument, ConfigError, DoesNotFit, ShapeError
from fpgasim.study.common.interrupts import Interrupted, handle_interrupts, kill_workers

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILED", "EXIT_BAD_INPUT", "EXIT_DOES_NOT_FIT"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DOES_NOT_FIT = 3


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep that, but print one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"fpgasim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every discovered sub-command."""
    parser = _Parser(prog="fpgasim", description=fpgasim.__doc__)
    parser.add_argument("--version", action="version", version=f"fpgasim {fpgasim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    package = importlib.import_module("fpgasim.cli")
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if info.name.startswith("cmd_"))
    for name in names:
        importlib.import_module(f"fpgasim.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used by the console script).

    SIGINT and SIGTERM end any command within about a second: exit ``128 + signo`` (130, 143),
    no worker process left, one line on stderr saying what was kept.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):  # a file name that is not UTF-8 is echoed escaped, not a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    with handle_interrupts(then_exit=argv is None):  # argv None: called as the program, which exits next
        try:
            return _dispatch(argv)
        except Interrupted as exc:
            kill_workers()
            print(f"fpgasim: {exc}", file=sys.stderr)
            return exc.exit_code


def _dispatch(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except DoesNotFit as exc:
        print(f"fpgasim: {exc}", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    except (ConfigError, ShapeError, BadArgument) as exc:
        print(f"fpgasim: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
