"""The result store: durable per result, resumable, refuses changed inputs, survives kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from fpgasim.errors import BadArgument
from fpgasim.study.sweep.evaluate import Fidelity
from fpgasim.study.sweep.sweep import run_sweep
from fpgasim.study.sweep.store import STORE_NAME, SweepStore, build_manifest
from tests.study.sweep.test_sweep_helpers import REPO, fake_evaluate, write_sweep

_calls: list[str] = []


def counting_evaluate(task):
    _calls.append(f"{task.fidelity.value}:{task.key}")
    return fake_evaluate(task)


def test_run_then_rerun_skips_every_finished_point(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    _calls.clear()
    first = run_sweep(path, out_dir=out, workers=1, evaluate=counting_evaluate)
    assert (first.points, first.evaluated, first.skipped) == (6, 7, 0)  # 6 analytical + 1 emulated re-check
    assert len(_calls) == 7 and len(set(_calls)) == 7
    _calls.clear()
    again = run_sweep(path, out_dir=out, workers=1, evaluate=counting_evaluate)
    assert (again.evaluated, again.skipped) == (0, 7) and _calls == []
    assert again.front == first.front and again.rechecked == first.rechecked


def test_changed_input_is_refused_and_the_store_is_untouched(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    before = (out / STORE_NAME).read_bytes()
    path.write_text(path.read_text().replace("values:\n    - 16\n    - 32", "values:\n    - 16\n    - 48"))
    with pytest.raises(BadArgument) as info:
        run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    message = str(info.value)
    assert "holds results of different inputs" in message and "toy.yaml changed (sha256" in message
    assert "another --out directory" in message
    assert (out / STORE_NAME).read_bytes() == before


def test_manifest_records_versions_and_hashes(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    store = SweepStore.open(out / STORE_NAME, build_manifest(sweep_name="toy", inputs=json.loads(
        sqlite3.connect(out / STORE_NAME).execute("SELECT value FROM manifest WHERE name='inputs'").fetchone()[0])))
    try:
        manifest = store.manifest()
    finally:
        store.close()
    assert manifest["fpgasim_version"] and manifest["packages"]["numpy"]
    names = {os.path.normpath(tmp_path / name) for name in manifest["inputs"]}
    assert names >= {str(path), str(REPO / "kernels" / "superlip-conv-16bit.yaml"), str(REPO / "boards" / "zcu102.yaml"),
                     str(REPO / "boards" / "links.yaml"), str(REPO / "boards" / "dsp_types.yaml")}
    assert "toy.yaml" in manifest["inputs"]  # relative to the sweep file
    assert all(len(digest) == 64 for digest in manifest["inputs"].values())
    assert manifest["git_commit"] is None or len(manifest["git_commit"]) == 40


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / STORE_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(BadArgument, match="not a readable sweep store"):
        SweepStore.open(tmp_path / STORE_NAME, build_manifest(sweep_name="x", inputs={}))


def test_results_are_stored_as_reported(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate, recheck=False)
    rows = sqlite3.connect(out / STORE_NAME).execute(
        "SELECT idx, fidelity, status, objectives FROM results ORDER BY idx").fetchall()
    assert [r[0] for r in rows] == list(range(6)) and {r[1] for r in rows} == {Fidelity.ANALYTICAL.value}
    boards_tm = [(b, tm) for b in (1, 2, 4) for tm in (16, 32)]
    assert [json.loads(r[3])["dsp_total"] for r in rows] == [float(b * tm) for b, tm in boards_tm]


_CHILD = """
import sys
from pathlib import Path
from fpgasim.study.sweep.sweep import run_sweep
from tests.study.sweep.test_sweep_helpers import slow_evaluate
run_sweep(Path(sys.argv[1]), out_dir=Path(sys.argv[2]), workers=1, evaluate=slow_evaluate, recheck=False)
"""


def test_kill_9_loses_only_the_point_in_flight_and_resume_completes(tmp_path):
    axes = [{"key": "experiment.cluster.boards", "values": [1, 2, 4, 8]},
            {"key": "experiment.seed", "values": [0, 1, 2, 3, 4]}]
    path, out, log = write_sweep(tmp_path, axes=axes), tmp_path / "out", tmp_path / "started.log"
    env = {**os.environ, "FPGASIM_TEST_SWEEP_LOG": str(log), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(out)], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = out / STORE_NAME
    deadline = time.monotonic() + 60
    stored = 0
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if store.exists():
                try:
                    stored = sqlite3.connect(store, timeout=5).execute("SELECT COUNT(*) FROM results").fetchone()[0]
                except sqlite3.OperationalError:
                    stored = 0
                if stored >= 4:
                    break
            time.sleep(0.05)
        assert child.poll() is None, f"child ended early: {child.stderr.read().decode()[-2000:]}"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    survived = {key for (key,) in db.execute("SELECT point_key FROM results")}
    db.close()
    started = log.read_text().split()
    assert 4 <= len(survived) < 20
    assert survived <= set(started) and len(set(started) - survived) <= 1  # at most the point in flight
    _calls.clear()
    outcome = run_sweep(path, out_dir=out, workers=1, evaluate=counting_evaluate, recheck=False)
    resumed = {call.split(":")[1] for call in _calls}
    assert outcome.evaluated == 20 - len(survived) and resumed.isdisjoint(survived)
    assert len(sqlite3.connect(store).execute("SELECT point_key FROM results").fetchall()) == 20
