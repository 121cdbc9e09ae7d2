"""Output folders under faults: paths fpgasim cannot use, foreign and stale files, a full disk
at every write, and a process killed at every step of a commit."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.study.common import outputs
from fpgasim.study.common.outputs import MANIFEST_NAME, OutputSet, check_output_dir

NAMES = ("results.json", "report.md", "layers.csv", "trace.json", "timeline.png")


def _commit(directory: Path, files: dict[str, str]) -> list[Path]:
    out = OutputSet(directory)
    for name, text in files.items():
        out.add_text(name, text)
    return out.commit()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _listed(directory: Path) -> set[str]:
    return set(json.loads((directory / MANIFEST_NAME).read_text())["files"])


# --- check_output_dir: refused before anything runs -------------------------------------------


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(BadArgument, match=r"out: exists and is not a directory; expected a directory"):
        check_output_dir(tmp_path / "out")
    with pytest.raises(BadArgument, match=r"out is a file; expected a directory"):
        check_output_dir(tmp_path / "out" / "sub")


def test_a_name_longer_than_the_file_system_allows_is_refused(tmp_path):
    with pytest.raises(BadArgument, match=r"has 300 bytes; this file system allows at most 255"):
        check_output_dir(tmp_path / ("n" * 300) / "run")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_refused():
    with pytest.raises(BadArgument, match=r"output folder /proc/fpgasim-out: cannot write into /proc"):
        check_output_dir(Path("/proc/fpgasim-out"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; /proc covers it above")
def test_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(BadArgument, match=r"cannot write into"):
            check_output_dir(tmp_path / "out")
    finally:
        tmp_path.chmod(0o755)


def test_foreign_files_are_named_and_force_accepts_them(tmp_path):
    _commit(tmp_path, {"results.json": "{}"})
    for name in ("notes.txt", "data"):
        (tmp_path / name).write_text("mine")
    (tmp_path / ".results.json.abc.tmp").write_text("stale")  # a killed run's, not foreign
    with pytest.raises(BadArgument, match=r"holds files no fpgasim run wrote there: data, notes.txt\. .*--force"):
        check_output_dir(tmp_path)
    check_output_dir(tmp_path, force=True)
    check_output_dir(tmp_path, keep=("notes.txt", "data"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fpgasim-outputs.json", ".results.json.abc.tmp", "data",
                                                        "notes.txt", "results.json"]


def test_many_foreign_files_are_counted(tmp_path):
    for i in range(12):
        (tmp_path / f"f{i:02}").write_text("")
    with pytest.raises(BadArgument, match=r"f00, .*, f09 and 2 more\."):
        check_output_dir(tmp_path)


def test_a_new_or_empty_folder_or_only_fpgasim_files_pass(tmp_path):
    check_output_dir(tmp_path / "a" / "b")
    check_output_dir(tmp_path)
    _commit(tmp_path, {"results.json": "{}"})
    check_output_dir(tmp_path)
    assert not (tmp_path / "a").exists()  # the check creates nothing


# --- commit: the whole set is replaced, stale temporaries go ----------------------------------


def test_commit_replaces_the_previous_set_and_keeps_foreign_files(tmp_path):
    _commit(tmp_path, {name: "old" for name in NAMES})
    (tmp_path / "notes.txt").write_text("mine")
    _commit(tmp_path, {"results.json": "new", "report.md": "new"})
    assert _snapshot(tmp_path).keys() == {MANIFEST_NAME, "results.json", "report.md", "notes.txt"}
    assert _listed(tmp_path) == {"results.json", "report.md"}
    assert (tmp_path / "results.json").read_text() == "new"


def test_commit_deletes_stale_temporaries_of_a_killed_run(tmp_path):
    (tmp_path / ".trace.json.k3j2.tmp").write_bytes(b"x" * 1000)
    (tmp_path / "..fpgasim-outputs.json.a1.tmp").write_text("{")
    _commit(tmp_path, {"results.json": "{}"})
    assert sorted(_snapshot(tmp_path)) == [MANIFEST_NAME, "results.json"]


def test_an_unreadable_manifest_counts_as_none(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text("not json")
    (tmp_path / "old.csv").write_text("")
    with pytest.raises(BadArgument, match=r"old.csv"):
        check_output_dir(tmp_path)
    _commit(tmp_path, {"results.json": "{}"})
    assert (tmp_path / "old.csv").exists() and _listed(tmp_path) == {"results.json"}


def test_a_manifest_cannot_name_files_outside_its_folder(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / MANIFEST_NAME).write_text(json.dumps({"files": ["../outside.txt", "/etc/hostname", "..", 3]}))
    _commit(tmp_path / "run", {"results.json": "{}"})
    assert outside.read_text() == "keep"


# --- disk full at each write ------------------------------------------------------------------


def _writes_of_a_commit(directory: Path, monkeypatch) -> int:
    calls = []
    real = pathlib.Path.write_text

    def counting(self, *args, **kwargs):
        calls.append(self.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", counting)
    _commit(directory, {"results.json": "new", "report.md": "new"})
    monkeypatch.setattr(pathlib.Path, "write_text", real)
    return len(calls)


def test_disk_full_at_each_write_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    writes = _writes_of_a_commit(tmp_path / "count", monkeypatch)
    assert writes == 4  # two files and the two manifests
    real = pathlib.Path.write_text
    for failing in range(writes):
        folder = tmp_path / f"case{failing}"
        _commit(folder, {name: "old" for name in NAMES})
        (folder / "notes.txt").write_text("mine")
        before = _snapshot(folder)
        calls = []

        def full(self, *args, **kwargs):
            calls.append(self.name)
            if len(calls) - 1 == failing:
                real(self, "par", encoding="utf-8")  # part of the bytes made it
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "write_text", full)
        written = ["results.json", "report.md", MANIFEST_NAME, MANIFEST_NAME][failing]
        with pytest.raises(BadArgument, match=rf"cannot write {written} \(No space left .*\); the folder is as it was"):
            _commit(folder, {"results.json": "new", "report.md": "new"})
        monkeypatch.setattr(pathlib.Path, "write_text", real)
        assert _snapshot(folder) == before, f"write {failing}"


def test_disk_full_in_a_writer_callback_leaves_the_folder_as_it_was(tmp_path):
    _commit(tmp_path, {"timeline.png": "old"})
    before = _snapshot(tmp_path)
    out = OutputSet(tmp_path)
    out.add_text("results.json", "new")

    def full(path: Path) -> None:
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out.add_writer("timeline.png", full)
    with pytest.raises(BadArgument, match=r"cannot write timeline.png \(No space left on device\); the folder is as"):
        out.commit()
    assert _snapshot(tmp_path) == before


# --- a kill at every step: only listed files remain, and the next commit cleans up -------------


def _killed_commit(directory: Path, new: dict[str, str], step: int) -> bool:
    """Commit in a forked child that dies (``os._exit``, no clean-up) at its ``step``-th file
    operation; True when the commit finished before that step."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        count = [0]

        def dying(real):
            def call(*args, **kwargs):
                if count[0] == step:
                    os._exit(9)
                count[0] += 1
                return real(*args, **kwargs)
            return call

        pathlib.Path.write_text = dying(pathlib.Path.write_text)
        pathlib.Path.unlink = dying(pathlib.Path.unlink)
        outputs.os.replace = dying(os.replace)
        try:
            _commit(directory, new)
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1] == 0


def _check_after_kill(directory: Path, new: dict[str, str]) -> None:
    present = {p.name for p in directory.iterdir()}
    files = {name for name in present if not name.endswith(".tmp")} - {MANIFEST_NAME, "notes.txt"}
    assert files <= _listed(directory), "a file no manifest lists would be foreign to the next run"
    check_output_dir(directory, keep=("notes.txt",))
    _commit(directory, new)
    assert _snapshot(directory).keys() == {MANIFEST_NAME, "notes.txt", *new}
    assert _listed(directory) == set(new)
    assert all((directory / name).read_text() == text for name, text in new.items())


@settings(max_examples=25, deadline=None)
@given(old=st.sets(st.sampled_from(NAMES), min_size=1), new=st.sets(st.sampled_from(NAMES), min_size=1),
       step=st.integers(0, 20))
def test_a_commit_killed_at_any_step_is_cleaned_by_the_next(old, new, step):
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        _commit(directory, {name: "old" for name in old})
        (directory / "notes.txt").write_text("mine")
        _killed_commit(directory, {name: "new" for name in new}, step)
        _check_after_kill(directory, {name: "new" for name in sorted(new)})


def test_a_folder_an_earlier_fpgasim_wrote_without_a_manifest_is_replaced_not_refused(tmp_path: Path) -> None:
    """Folders from before the manifest hold only fpgasim's own file names: a new run replaces
    them (an old trace.json does not survive a --no-trace run); any other name is still foreign."""
    from fpgasim.study.common.outputs import LEGACY_OUTPUTS

    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("results.json", "report.md", "trace.json"):
        assert name in LEGACY_OUTPUTS
        (folder / name).write_text("old", encoding="utf-8")
    check_output_dir(folder)
    out = OutputSet(folder)
    out.add_text("results.json", "new")
    out.add_text("report.md", "new")
    out.commit()
    assert sorted(p.name for p in folder.iterdir()) == sorted(["results.json", "report.md", MANIFEST_NAME])
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BadArgument, match="notes.txt"):
        check_output_dir(folder)
