"""The CLI strategies draw what they promise."""

import signal

from hypothesis import given

from tests.strategies.cli import argvs, interrupts, junk_strings

COMMANDS = {"run": ["--out", "--workers"], "boards": ["--json"]}
PATHS = ["/does/not/exist.yaml", "exp.yaml"]


@given(interrupts(0.5, 2.0))
def test_interrupts_stay_in_range(interrupt):
    assert 0.5 <= interrupt.delay_s <= 2.0
    assert interrupt.signo in (signal.SIGINT, signal.SIGTERM)
    assert interrupt.exit_code == {signal.SIGINT: 130, signal.SIGTERM: 143}[interrupt.signo]


@given(junk_strings())
def test_junk_strings_can_be_argv(text):
    assert "\x00" not in text
    text.encode("utf-8", "surrogateescape")  # what the OS would receive


@given(argvs(COMMANDS, PATHS))
def test_argvs_start_with_a_command_and_draw_from_the_pools(argv):
    assert argv[0] in COMMANDS
    assert len(argv) <= 7
    assert all(isinstance(token, str) and "\x00" not in token for token in argv)
