"""``fpgasim validate FILE...``: check fpgasim YAML files of any registered kind.

A study document is loaded and planned, so validate refuses what ``fpgasim run`` refuses (with
the same message), without simulating or writing. Prints ``ok FILE (kind)`` per valid file and
every problem of every invalid file; exit 0 when all are valid, 2 when one has bad input, else 3
when a design does not fit.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate", help="check fpgasim YAML files (boards, kernels, studies, sweeps, ...)",
        description="Load each FILE with the loader of its kind (from its top-level key; a study is also "
                    "planned, a sweep expanded) and report every problem with file:line:column and key path. "
                    "Exit 0 all valid, 2 bad input, 3 a design does not fit.")
    parser.add_argument("files", metavar="FILE", nargs="+", help="YAML files to check")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate every file; never stops at the first bad one."""
    from fpgasim.cli.main import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT, EXIT_OK
    from fpgasim.errors import BadArgument, ConfigError, DoesNotFit, ShapeError
    from fpgasim.study.documents import load_document

    failed = unfit = 0
    for file in args.files:
        try:
            kind, _ = load_document(file)
        except ConfigError as exc:
            failed += 1
            count = len(exc.problems)
            sys.stdout.write(f"invalid {file}: {count} problem{'s' if count != 1 else ''}\n")
            for problem in exc.problems:
                sys.stdout.write(f"  {problem}\n")
        except (ShapeError, BadArgument) as exc:
            failed += 1
            sys.stdout.write(f"invalid {file}: {exc}\n")
        except DoesNotFit as exc:
            unfit += 1
            sys.stdout.write(f"invalid {file}: {exc}\n")
        else:
            sys.stdout.write(f"ok {file} ({kind})\n")
    return EXIT_BAD_INPUT if failed else EXIT_DOES_NOT_FIT if unfit else EXIT_OK
