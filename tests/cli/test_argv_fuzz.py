"""Any argv a user can type ends in exit 0, 2 or 3 with a message — never a traceback or exit 1.

Hypothesis draws argv lists from the real sub-commands and flags, paths that exist (a tiny
experiment, a board file, a directory, binary junk) or not, numbers and junk strings. The CLI runs
in this process (fast) in a scratch working directory, with stdout/stderr encoded as a terminal's
would be (strict UTF-8 stdout, backslash-escaping stderr), so an unprintable argument is found too.
``demo`` is left out: with good arguments it runs a whole demo.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from fpgasim.cli.main import EXIT_BAD_INPUT, build_parser, main
from tests.strategies.cli import argvs
from tests.study.sweep.test_sweep_helpers import write_sweep

REPO = Path(__file__).resolve().parents[2]
TINY = f"""schema: 1
experiment:
  name: tiny
  network: {{zoo: tiny_cnn}}
  board: zcu102
  kernel: {REPO / "kernels" / "superlip-conv-16bit.yaml"}
  memory: {{channel: ps_ddr4}}
"""


def _commands() -> dict[str, list[str]]:
    parser = build_parser()
    sub = next(action for action in parser._actions if action.dest == "command")
    return {name: [flag for action in command._actions for flag in action.option_strings]
            for name, command in sub.choices.items() if name != "demo"}


PATHS = ["tiny.yaml", "junk.bin", "folder", "missing.yaml", "missing/deeper.yaml", "zcu102", "nonsense-board",
         str(REPO / "boards" / "zcu102.yaml"), str(REPO / "kernels" / "superlip-conv-16bit.yaml"), "/dev/null",
         "out", "tiny.yaml/out", "/proc/no-such-dir/out"]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A working directory holding the files the argv may name (outputs land here too)."""
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "junk.bin").write_bytes(b"\xff\xfe\x00\x01 junk")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors, --help, --version
            code = exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argvs(_commands(), PATHS))
def test_any_argv_is_a_clean_exit(scratch, argv):
    code, out, err = _run(argv)
    assert code in (0, 2, 3), (argv, code, err)
    assert "Traceback" not in err
    if code == EXIT_BAD_INPUT:
        assert (err or out).strip(), argv  # validate lists its problems on stdout


@pytest.mark.parametrize("argv, fragment", [
    (["run", "tiny.yaml", "--workers", "-3"], "argument --workers: -3: expected an integer >= 1"),
    (["sweep", "tiny.yaml", "--workers", "x"], "argument --workers: 'x': expected an integer >= 1"),
    (["sweep", "toy.yaml", "--scheduler", "junk"], "--scheduler 'junk': not a scheduler address"),
    (["validate", "\udcff"], "invalid \\udcff: "),
])
def test_found_by_the_fuzzer(scratch, argv, fragment):
    write_sweep(scratch)
    code, out, err = _run(argv)
    assert code == EXIT_BAD_INPUT and fragment in err + out, err + out
