"""Hypothesis strategies for driving the ``fpgasim`` command: signals at random moments, hostile argv lists.

``interrupts(min_delay_s, max_delay_s)`` draws when and how a command is interrupted (delay,
SIGINT or SIGTERM, to the process alone or to its whole process group as a terminal's Ctrl-C
does). ``argvs(commands, paths)`` draws argv lists that start with a real sub-command, followed
by a mix of the real flags of all sub-commands, paths (that exist or not), numbers and junk
strings, including undecodable bytes as Python presents them (surrogate escapes).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from hypothesis import strategies as st

__all__ = ["Interrupt", "interrupts", "argvs", "junk_strings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Interrupt:
    """Send ``signo`` after ``delay_s`` seconds, to the command's process or to its whole group."""

    delay_s: float
    signo: int
    whole_group: bool

    @property
    def exit_code(self) -> int:
        """The exit code the interrupted command must return: ``128 + signo``."""
        return 128 + self.signo


def interrupts(min_delay_s: float, max_delay_s: float) -> st.SearchStrategy[Interrupt]:
    """Interrupts with a delay in ``[min_delay_s, max_delay_s]`` (rounded to 10 ms)."""
    delays = st.integers(round(min_delay_s * 100), round(max_delay_s * 100)).map(lambda cs: cs / 100)
    return st.builds(Interrupt, delay_s=delays, signo=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
                     whole_group=st.booleans())


def junk_strings() -> st.SearchStrategy[str]:
    """Short text a user or a script might pass: printable, control characters, undecodable bytes; never NUL."""
    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
    raw = st.binary(min_size=1, max_size=8).filter(lambda b: b"\x00" not in b).map(os.fsdecode)
    numbers = st.sampled_from(["0", "-1", "1e9", "nan", "inf", "99999999999999999999", "3.5", "", " ", "--", "-"])
    return st.one_of(text, raw, numbers)


def argvs(commands: dict[str, list[str]], paths: list[str]) -> st.SearchStrategy[list[str]]:
    """argv lists: a sub-command of ``commands`` (name → its option strings) then up to 6 tokens.

    Tokens are drawn from every command's options (a flag of another command is a mistake too),
    ``paths`` and :func:`junk_strings`.
    """
    flags = sorted({flag for options in commands.values() for flag in options})
    token = st.one_of(st.sampled_from(flags), st.sampled_from(paths), junk_strings())
    return st.builds(lambda name, rest: [name, *rest], st.sampled_from(sorted(commands)),
                     st.lists(token, max_size=6))
