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


def test_npz_is_loadable_listed_in_the_manifest_and_byte_identical_across_commits(tmp_path):
    """``add_npz``: numpy reads it back exactly, without pickle; no wall clock in its bytes (every
    member has zip's earliest timestamp; arrays given in another order write the same bytes)."""
    import zipfile

    import numpy as np

    arrays = {"logits": np.linspace(-1, 1, 20).reshape(2, 10, 1, 1), "aux": np.arange(6, dtype=np.int16)}
    blobs = []
    for run, order in (("a", ["logits", "aux"]), ("b", ["aux", "logits"])):
        out = OutputSet(tmp_path / run)
        out.add_npz("outputs.npz", {key: arrays[key] for key in order})
        out.commit()
        blobs.append((tmp_path / run / "outputs.npz").read_bytes())
    assert blobs[0] == blobs[1]
    loaded = np.load(tmp_path / "a" / "outputs.npz", allow_pickle=False)
    assert sorted(loaded.files) == ["aux", "logits"]
    assert all(np.array_equal(loaded[key], arrays[key]) and loaded[key].dtype == arrays[key].dtype for key in arrays)
    with zipfile.ZipFile(tmp_path / "a" / "outputs.npz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "outputs.npz" in json.loads((tmp_path / "a" / ".fpgasim-outputs.json").read_text())["files"]
