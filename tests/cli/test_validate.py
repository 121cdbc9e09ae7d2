"""``fpgasim validate FILE...``: ok lines, every problem, exit codes."""

import re

import pytest

from fpgasim.cli.main import main
from fpgasim.hw import BOARDS_DIR
from fpgasim.study.documents import DOCUMENT_KINDS

KINDS = ", ".join(sorted(DOCUMENT_KINDS))  # board, dsp_types, link_types + kinds other layers add


def test_all_shipped_files_are_valid(capsys):
    files = sorted(str(p) for p in BOARDS_DIR.glob("*.yaml"))
    assert main(["validate", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(files)
    kinds = dict(re.fullmatch(r"ok (\S+) \((\w+)\)", line).groups() for line in lines)
    assert kinds[str(BOARDS_DIR / "links.yaml")] == "link_types"
    assert kinds[str(BOARDS_DIR / "dsp_types.yaml")] == "dsp_types"
    assert kinds[str(BOARDS_DIR / "zcu102.yaml")] == "board"


def test_bad_file_lists_all_problems_and_exit_2(tmp_path, capsys):
    text = (BOARDS_DIR / "zcu102.yaml").read_text()
    text = text.replace("luts: {value: 274080, source: S5 S3}", "luts: 274080", 1)
    text = text.replace("cores: {value: 4, source: S44}", "cores: {value: 4, source: S99}", 1)
    text = text.replace("  kind: mpsoc", "  kind: laptop", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    good = str(BOARDS_DIR / "zcu104.yaml")
    assert main(["validate", str(bad), good]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"invalid {bad}: 3 problems"
    assert re.fullmatch(rf"  {re.escape(str(bad))}:\d+:\d+: board\.kind: Input should be 'mpsoc', .*", out[1])
    assert re.fullmatch(rf"  {re.escape(str(bad))}:\d+:\d+: board\.fabric\.luts: hardware number 274080 has no source.*",
                        out[2])
    assert re.fullmatch(rf"  .*: board\.processor\.cores\.source: unknown source id 'S99'; .*", out[3])
    assert out[4] == f"ok {good} (board)"


@pytest.mark.parametrize(("content", "pattern"), [
    ("schema: 1\nexperimint: {}\n", r"unknown document kind \(top-level keys: experimint\); expected one of: "
                                     + KINDS),
    ("- a\n", r"expected a mapping at the top level with one of the keys: " + KINDS),
    (b"\x00\xff\xfe junk", r"not UTF-8 text|invalid YAML"),
    ("schema: 3\nboard: {}\n", r"board\.yaml:1:1: schema: schema version got 3; expected `schema: 1`"),
])
def test_unknown_or_broken_documents(tmp_path, capsys, content, pattern):
    path = tmp_path / "board.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"invalid {path}: 1 problem\n")
    assert re.search(pattern, out), out


def test_missing_file_and_no_arguments(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().out.endswith("nope.yaml: file not found\n")
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
