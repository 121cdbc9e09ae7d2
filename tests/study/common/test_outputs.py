"""OutputSet writes all files or none; canonical JSON is deterministic."""

import json

import pytest

from fpgasim.study.common.outputs import OutputSet, canonical_json


def test_commit_writes_every_file(tmp_path):
    out = OutputSet(tmp_path / "run")
    out.add_text("report.md", "# hi\n")
    out.add_json("results.json", {"b": 1, "a": [1, 2]})
    paths = out.commit()
    assert [p.name for p in paths] == ["report.md", "results.json"]
    assert (tmp_path / "run" / "report.md").read_text() == "# hi\n"
    assert json.loads((tmp_path / "run" / "results.json").read_text()) == {"a": [1, 2], "b": 1}


def test_failing_writer_leaves_no_file_and_keeps_old_results(tmp_path):
    (tmp_path / "results.json").write_text("old")
    out = OutputSet(tmp_path)
    out.add_json("results.json", {"new": True})

    def explode(path):
        path.write_text("partial")
        raise RuntimeError("disk full")

    out.add_writer("timeline.png", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        out.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert (tmp_path / "results.json").read_text() == "old"


def test_canonical_json_sorts_keys_and_refuses_nan():
    assert canonical_json({"b": 1, "a": 2}).index('"a"') < canonical_json({"b": 1, "a": 2}).index('"b"')
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
