"""The ``fpgasim`` command: sub-commands are discovered from ``fpgasim/cli/cmd_*.py``.

Each command module defines ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the default. Exit codes: 0 ok, 1 run failed (a bug), 2 bad input,
3 the design does not fit.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import fpgasim
from fpgasim.errors import BadArgument, ConfigError, DoesNotFit, ShapeError

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
    """Run the CLI; returns the exit code (also used by the console script)."""
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
    except KeyboardInterrupt:
        print("fpgasim: interrupted; nothing was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
