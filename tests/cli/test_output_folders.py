"""``fpgasim run`` and ``sweep`` keep their files where they belong: a name is one folder, an
unusable ``--out`` is exit 2 in one line before anything runs, a run replaces the previous run's
files and refuses foreign ones unless ``--force``, and a run killed while writing is cleaned up
by the next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fpgasim.cli.main import main
from tests.study.sweep.test_sweep_helpers import write_sweep

REPO = Path(__file__).resolve().parents[2]
MANIFEST_NAME = ".fpgasim-outputs.json"  # the documented name
KERNEL = REPO / "kernels" / "superlip-conv-16bit.yaml"
BIG_KERNEL = REPO / "kernels" / "superlip-conv-64x7-fp32.yaml"


def _experiment(folder: Path, *, name: str = "cli-run", kernel: Path = KERNEL, board: str = "zcu102") -> Path:
    path = folder / "exp.yaml"
    path.write_text(f"""schema: 1
experiment:
  name: {json.dumps(name)}
  network: {{zoo: alexnet_conv, shapes: merged}}
  board: {board}
  kernel: {kernel}
  memory: {{channel: ps_ddr4}}
""", encoding="utf-8")
    return path


def _one_line(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- the name is one folder -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shown"), [("../../escape", "'/'"), ("a/b", "'/'"), ("/abs", "'/'"),
                                             ("..", "'..'"), ("a\\b", r"'\\'"), ("tab\there", r"'\t'"),
                                             ("n" * 256, "256 bytes")])
def test_a_name_that_is_not_one_folder_is_exit_2_at_its_line(tmp_path, monkeypatch, capsys, name, shown):
    monkeypatch.chdir(tmp_path)
    path = _experiment(tmp_path, name=name)
    assert main(["validate", str(path)]) == 2
    assert "exp.yaml:3:3: experiment.name: " in capsys.readouterr().out
    assert main(["run", str(path)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"exp.yaml:3:3: experiment.name: " in err and shown in err
    assert _files(tmp_path) == ["exp.yaml"] and _files(tmp_path.parent).count("escape") == 0


def _shipped_copy(folder: Path, shipped: str, old: str, new: str) -> Path:
    """A shipped document with its name changed, beside links to the files it names."""
    for library in ("kernels", "boards"):
        (folder / library).symlink_to(REPO / library)
    (folder / "experiments").mkdir()
    path = folder / "experiments" / shipped
    path.write_text((REPO / "experiments" / shipped).read_text().replace(f"name: {old}", f"name: {new}", 1))
    return path


@pytest.mark.parametrize(("shipped", "old", "key"), [("superlip-alexnet.yaml", "superlip-alexnet", "experiment"),
                                                    ("dsodenet-zcu104.yaml", "dsodenet-zcu104", "ode_study")])
def test_comparisons_and_ode_studies_refuse_such_names_too(tmp_path, monkeypatch, capsys, shipped, old, key):
    monkeypatch.chdir(tmp_path)
    path = _shipped_copy(tmp_path, shipped, old, "../escape")
    assert main(["run", str(path)]) == 2
    assert f"{key}.name: '../escape' names the output folder" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "results").exists() and not (tmp_path / "escape").exists()


def test_a_sweep_name_is_one_folder_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, name="toy")
    path.write_text(path.read_text().replace("name: toy\n", "name: ../up\n"))
    assert main(["sweep", str(path), "--no-progress"]) == 2
    assert "sweep.name: '../up' names the output folder" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "results").exists()


# --- --out is checked before anything runs ----------------------------------------------------


def _bad_outs(tmp_path: Path) -> list[tuple[Path, str]]:
    (tmp_path / "a-file").write_text("x")
    return [(tmp_path / "a-file", "exists and is not a directory"),
            (tmp_path / "a-file" / "sub", "a-file is a file"),
            (tmp_path / ("n" * 300), "has 300 bytes; this file system allows at most 255"),
            (Path("/proc/fpgasim-out"), "cannot write into /proc")]


def test_run_refuses_an_unusable_out_before_planning(tmp_path, capsys):
    # this design does not fit (exit 3 after planning): exit 2 shows --out was checked first
    path = _experiment(tmp_path, kernel=BIG_KERNEL, board="ultra96v2")
    for out, message in _bad_outs(tmp_path):
        assert main(["run", str(path), "--out", str(out)]) == 2
        assert message in _one_line(capsys.readouterr().err)
    assert _files(tmp_path) == ["a-file", "exp.yaml"]


@pytest.mark.parametrize("shipped", ["superlip-alexnet.yaml", "dsodenet-zcu104.yaml", "hetero-residual.yaml"])
def test_every_study_refuses_an_unusable_out(tmp_path, capsys, shipped):
    (tmp_path / "a-file").write_text("x")
    assert main(["run", str(REPO / "experiments" / shipped), "--out", str(tmp_path / "a-file")]) == 2
    assert "exists and is not a directory" in _one_line(capsys.readouterr().err)


def test_sweep_refuses_an_unusable_out_and_an_unopenable_store(tmp_path, capsys):
    path = write_sweep(tmp_path / "in")
    for out, message in _bad_outs(tmp_path):
        assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 2
        assert message in _one_line(capsys.readouterr().err)
    (tmp_path / "o" / "store.sqlite").mkdir(parents=True)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress", "--workers", "1"]) == 2
    assert "store.sqlite: cannot open the sweep store (unable to open database file)" in \
        _one_line(capsys.readouterr().err)


# --- a run replaces its output set; foreign files need --force --------------------------------


def test_a_functional_run_after_a_timing_run_leaves_no_stale_trace(tmp_path, capsys):
    out = tmp_path / "out"
    path = _experiment(tmp_path)
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert "trace.json" in _files(out)
    (out / ".trace.json.x1y2.tmp").write_bytes(b"\0" * 4096)  # left by a killed run
    assert main(["run", str(path), "--out", str(out), "--mode", "functional", "--no-trace"]) == 0
    assert _files(out) == [MANIFEST_NAME, "layers.csv", "report.md", "results.json"]
    assert json.loads((out / MANIFEST_NAME).read_text())["files"] == ["layers.csv", "report.md", "results.json"]


def test_foreign_files_refuse_the_run_unless_forced(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "my-notes.txt").write_text("mine")
    path = _experiment(tmp_path)
    assert main(["run", str(path), "--out", str(out), "--no-trace"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "holds files no fpgasim run wrote there: my-notes.txt" in err and "--force" in err
    assert _files(out) == ["my-notes.txt"]
    assert main(["run", str(path), "--out", str(out), "--no-trace", "--force"]) == 0
    assert _files(out) == [MANIFEST_NAME, "layers.csv", "my-notes.txt", "report.md", "results.json"]


def test_the_default_folder_is_checked_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cli-run").write_text("a file where the folder goes")
    assert main(["run", str(_experiment(tmp_path))]) == 2
    assert "output folder results/cli-run: exists and is not a directory" in _one_line(capsys.readouterr().err)


def test_a_sweep_folder_refuses_foreign_files_and_resumes_with_its_own(tmp_path, capsys):
    path = write_sweep(tmp_path / "in", axes=[{"key": "kernel.parallelism.tm", "values": [16, 32]}])
    out = tmp_path / "o"
    out.mkdir()
    (out / "stray.csv").write_text("")
    argv = ["sweep", str(path), "--out", str(out), "--no-progress", "--workers", "1", "--no-recheck"]
    assert main(argv) == 2
    assert "holds files no fpgasim run wrote there: stray.csv" in _one_line(capsys.readouterr().err)
    assert main([*argv, "--force"]) == 0
    (out / "stray.csv").unlink()
    assert main(argv) == 0
    assert "evaluated 0 analytical + 0 emulated now, 2 analytical + 0 emulated already in the store" in capsys.readouterr().out


# --- SIGKILL during the final write, then a normal run ---------------------------------------

#: ``fpgasim run`` whose every write of a temporary file takes 0.3 s longer (the test's hook).
_SLOW_RUN = """
import pathlib, sys, time
real = pathlib.Path.write_text
def slow(self, *args, **kwargs):
    result = real(self, *args, **kwargs)
    if self.name.endswith(".tmp"):
        time.sleep(0.3)
    return result
pathlib.Path.write_text = slow
from fpgasim.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("delay_s", [0.0, 0.2, 0.45, 0.7, 1.0])
def test_sigkill_during_the_final_write_then_a_normal_run_gives_a_clean_folder(tmp_path, capsys, delay_s):
    out = tmp_path / "out"
    path = _experiment(tmp_path)
    assert main(["run", str(path), "--out", str(out)]) == 0  # an earlier run with a trace
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", _SLOW_RUN, "run", str(path), "--out", str(out), "--no-trace"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in out.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.01)
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    child.wait()
    listed = set(json.loads((out / MANIFEST_NAME).read_text())["files"])
    assert {name for name in _files(out) if not name.endswith(".tmp")} - {MANIFEST_NAME} <= listed
    assert main(["run", str(path), "--out", str(out), "--no-trace"]) == 0
    assert _files(out) == [MANIFEST_NAME, "layers.csv", "report.md", "results.json"]
