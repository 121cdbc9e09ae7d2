"""Argument types shared by the sub-commands, so that a bad value is a usage error (exit 2) at parse time."""

from __future__ import annotations

import argparse

__all__ = ["worker_count"]


def worker_count(text: str) -> int:
    """``--workers N``: an integer >= 1.

    Raises:
        argparse.ArgumentTypeError: anything else (argparse prints it and exits 2).
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: expected an integer >= 1")
    return value
