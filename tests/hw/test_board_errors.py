"""Board files with mistakes: uncited numbers, unknown sources, cross-field rules, library lookup."""

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.config import format_key_path
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import BOARDS_DIR, BOARDS_DIR_ENV, Board, board_ids, load_board
from tests.strategies.yaml_docs import dump, leaf_paths, with_leaf

ZCU102 = yaml.safe_load((BOARDS_DIR / "zcu102.yaml").read_text())
ZCU104 = yaml.safe_load((BOARDS_DIR / "zcu104.yaml").read_text())


def _write(folder: Path, data, name="board.yaml") -> str:
    path = folder / name
    path.write_text(data if isinstance(data, str) else dump(data))
    return str(path)


def _problems(path):
    with pytest.raises(ConfigError) as info:
        load_board(path)
    assert all(p.file == path for p in info.value.problems)
    return info.value.problems


MINIMAL = """\
schema: 1
board:
  id: tiny
  name: Tiny
  kind: fpga_board
  device: {part: xc-test, family: zynq_ultrascale_plus, speed_grade: "-1"}
  fabric:
    source: S1
    luts: 1000
    ffs: 2000
    dsp: {count: 10, type: DSP48E2}
    bram: {count_36k: 4}
    uram: {count: 2}
    usable_fraction: {luts: 0.7, ffs: 0.5, dsp: 0.8, bram: 0.8, uram: 0.8}
    reserved: {luts: 100, dsp: 1, bram_36k: 1}
  clock_mhz: {default: 200, min: 100, max: 300, source: S1}
  sources: {S1: "a test"}
"""


def test_minimal_board_and_available_arithmetic(tmp_path):
    board = load_board(_write(tmp_path, MINIMAL))
    f = board.fabric
    assert f.available_luts == 630           # floor(900 x 0.7)
    assert f.available_ffs == 1000           # floor(2000 x 0.5)
    assert f.available_dsp == 7              # floor(9 x 0.8) = floor(7.2)
    assert f.available_bram36 == 2           # floor(3 x 0.8) = floor(2.4)
    assert f.available_bram18 == 4           # floor(6 x 0.8) = floor(4.8)
    assert f.available_uram == 1             # floor(2 x 0.8)
    assert board.citations["fabric.luts"] == ("S1",)
    assert board.memory == () and board.processor is None


def test_uncited_number_is_refused_with_place(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("    source: S1\n", "", 1))
    problems = _problems(path)
    assert {p.key_path for p in problems} >= {"board.fabric.luts", "board.fabric.dsp.count",
                                              "board.fabric.reserved.luts"}
    luts = next(p for p in problems if p.key_path == "board.fabric.luts")
    assert (luts.line, luts.column) == (8, 5)
    assert re.fullmatch(r"hardware number 1000 has no source; write `luts: \{value: 1000, source: S1\}` "
                        r"or give an enclosing mapping a `source:`", luts.message)


def test_unknown_source_id_is_refused(tmp_path):
    path = _write(tmp_path, MINIMAL.replace("    source: S1\n", "    source: S1, S7\n", 1))
    (problem,) = _problems(path)
    assert problem.key_path == "board.fabric.source" and problem.line == 8
    assert re.fullmatch(r"unknown source id 'S7'; ids defined in `sources`: S1", problem.message)


def test_leaf_citation_forms(tmp_path):
    text = MINIMAL.replace("    luts: 1000\n", "    luts: {value: 1000, source: [S1, S2], verified: false}\n")
    text = text.replace('{S1: "a test"}', '{S1: "a test", S2: "another"}')
    board = load_board(_write(tmp_path, text))
    assert board.fabric.luts == 1000
    assert board.citations["fabric.luts"] == ("S1", "S2")
    assert board.unverified == ("fabric.luts",)


@pytest.mark.parametrize(("old", "new", "key_path", "pattern"), [
    ("luts: 1000", "luts: {value: 1000, sorce: S1}", "board.fabric.luts.sorce",
     r"^unknown key 'sorce' in a cited value; did you mean 'source'\? known keys: note, source, value, verified$"),
    ("luts: 1000", "luts: {value: 1000, verified: maybe}", "board.fabric.luts.verified",
     r"^verified must be true or false; got 'maybe'$"),
    ("luts: 1000", "luts: {value: [1], source: S1}", "board.fabric.luts.value",
     r"^a cited value must be a number or text, not a mapping or list$"),
    ("    source: S1\n", "    source: 5\n", "board.fabric.source", r"^source must be a source id or a list of ids; got 5$"),
])
def test_bad_citation_syntax(tmp_path, old, new, key_path, pattern):
    problems = _problems(_write(tmp_path, MINIMAL.replace(old, new, 1)))
    hit = [p for p in problems if p.key_path == key_path]
    assert hit, [str(p) for p in problems]
    assert re.search(pattern, hit[0].message), hit[0].message


def test_cross_field_mistakes_are_all_reported(tmp_path):
    text = MINIMAL.replace("default: 200, min: 100", "default: 50, min: 100")
    text = text.replace("reserved: {luts: 100, dsp: 1, bram_36k: 1}", "reserved: {luts: 100, dsp: 11, bram_36k: 5}")
    text += ("  memory:\n    - {id: m, attach: pl, type: DDR4, width_bits: 64, data_rate_mts: 2400, capacity_gib: 4,"
             " efficiency: 0.8, source: S1}\n" * 1
             + "    - {id: m, attach: pl, type: DDR4, width_bits: 64, data_rate_mts: 2400, capacity_gib: 4,"
             " efficiency: 0.8, source: S1}\n")
    problems = _problems(_write(tmp_path, text))
    messages = {p.key_path: p.message for p in problems}
    assert len(problems) == 4, [str(p) for p in problems]
    assert re.fullmatch(r"need min <= default <= max; got min 100, default 50, max 300 MHz", messages["board.clock_mhz"])
    assert messages["board.fabric.reserved.dsp"] == "reserved 11 exceeds the device total 10"
    assert messages["board.fabric.reserved.bram_36k"] == "reserved 5 exceeds the device total 4"
    assert messages["board.memory[1].id"] == "duplicate id 'm' (first used at memory[0])"


@pytest.mark.parametrize(("old", "new", "key_path", "pattern"), [
    ("efficiency: {value: 0.75, source: S34}", "efficiency: {value: 1.5, source: S34}", "board.memory[0].efficiency",
     r"^Input should be less than or equal to 1; got float 1.5$"),
    ("efficiency: {value: 0.75, source: S34}", "efficiency: {value: 0, source: S34}", "board.memory[0].efficiency",
     r"^Input should be greater than 0; got int 0$"),
    ("attach: ps", "attach: cpu", "board.memory[0].attach", r"^Input should be 'ps', 'pl', 'hbm' or 'host'"),
    ("type: DSP48E2", "type: DSP58", "board.fabric.dsp.type", r"^Input should be 'DSP48E1' or 'DSP48E2'"),
    ("  kind: mpsoc", "  knd: mpsoc", "board.knd", r"^unknown key 'knd'; did you mean 'kind'\? known keys: id, name"),
    ("    ffs: {value", "    flipflops: {value", "board.fabric",
     r"^missing key 'ffs' \(found: bram, dsp, flipflops, luts, reserved, uram, usable_fraction\)$"),
])
def test_zcu102_single_mistakes(tmp_path, old, new, key_path, pattern):
    text = (BOARDS_DIR / "zcu102.yaml").read_text()
    assert old in text
    problems = _problems(_write(tmp_path, text.replace(old, new, 1)))
    hit = [p for p in problems if p.key_path == key_path]
    assert hit, [str(p) for p in problems]
    assert hit[0].line is not None
    assert re.search(pattern, hit[0].message), hit[0].message


def _is_prefix(prefix: str, full: str) -> bool:
    return full == prefix or (full.startswith(prefix) and full[len(prefix)] in ".[")


@settings(max_examples=25)
@given(st.sampled_from([ZCU102, ZCU104]), st.data(), st.sampled_from(["list", "negative"]))
def test_any_broken_leaf_gives_a_located_config_error(tmp_path_factory, data, draw, kind):
    paths = leaf_paths(data)
    if kind == "negative":
        paths = [p for p in paths if isinstance(_get(data, p), (int, float)) and not isinstance(_get(data, p), bool)]
    path = draw.draw(st.sampled_from(paths))
    bad = [1, 2] if kind == "list" else -abs(_get(data, path)) - 1
    if kind == "list" and (path[-1] == "source" or "source" in path):
        bad = [1, 2]
    file = _write(tmp_path_factory.mktemp("leaf"), with_leaf(data, path, bad))
    problems = _problems(file)
    assert any(_is_prefix(p.key_path, format_key_path(path)) and p.line is not None for p in problems), (
        format_key_path(path), [str(p) for p in problems])


def _get(data, path):
    for part in path:
        data = data[part]
    return data


def test_unknown_board_name_suggests_the_closest():
    with pytest.raises(BadArgument, match=r"^unknown board 'zcu12'; did you mean 'zcu102'\? known boards: alveo_u250, "):
        load_board("zcu12")


def test_library_dir_override_and_id_must_match_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv(BOARDS_DIR_ENV, str(tmp_path))
    _write(tmp_path, MINIMAL, name="tiny.yaml")
    _write(tmp_path, MINIMAL, name="other.yaml")
    (tmp_path / "links.yaml").write_text("schema: 1\n")
    assert board_ids() == ["other", "tiny"]
    assert isinstance(load_board("tiny"), Board)
    with pytest.raises(ConfigError, match=r"other\.yaml:3:\d+: board\.id: id 'tiny' differs from the file name; "
                                          r"expected 'other'$"):
        load_board("other")


def test_loader_filled_keys_cannot_be_written(tmp_path):
    problems = _problems(_write(tmp_path, MINIMAL + "  citations: {}\n"))
    assert [p.message for p in problems] == ["'citations' is filled in by the loader; remove it"]
