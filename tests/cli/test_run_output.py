"""What ``fpgasim run`` prints off a terminal: tables and markdown never wrapped or re-styled."""

from fpgasim.cli.cmd_run import _show
from fpgasim.study.protocol import RunOutput, TerminalTable

WIDE = "| " + " | ".join(f"column {i} [with brackets]" for i in range(12)) + " |"


def test_markdown_and_tables_to_a_pipe_are_never_wrapped(capsys, tmp_path):
    table = TerminalTable(title="t", columns=tuple(f"heading number {i}" for i in range(14)),
                          rows=(tuple(f"value-{i}-{'x' * 12}" for i in range(14)),))
    _show(RunOutput(paths=(), table=table, text=f"# report\n\n{WIDE}\n", lines=(f"wrote {tmp_path / ('d' * 200)}",)),
          terminal=False)
    out = capsys.readouterr().out
    assert len(WIDE) > 160 and f"\n{WIDE}\n" in out  # verbatim: no fold, no markup eaten
    assert f"wrote {tmp_path / ('d' * 200)}\n" in out
    rows = [line for line in out.splitlines() if "value-0-" in line]
    assert len(rows) == 1 and all(f"value-{i}-{'x' * 12}" in rows[0] for i in range(14))
