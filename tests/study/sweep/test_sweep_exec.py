"""Executors: the process pool and Dask give the same stored results as the in-process run."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from fpgasim.errors import BadArgument
from fpgasim.study.sweep.sweep import run_sweep
from fpgasim.study.sweep.exec import PoolExecutor, SerialExecutor, make_executor
from fpgasim.study.sweep.store import STORE_NAME
from tests.study.sweep.test_sweep_helpers import failing_evaluate, fake_evaluate, write_sweep


def _stored(out):
    rows = sqlite3.connect(out / STORE_NAME).execute(
        "SELECT point_key, fidelity, idx, status, objectives FROM results ORDER BY idx, fidelity")
    return [(key, fid, idx, status, json.loads(obj)) for key, fid, idx, status, obj in rows]


def test_make_executor_choices():
    assert isinstance(make_executor(workers=1), SerialExecutor)
    pool = make_executor(workers=2)
    try:
        assert isinstance(pool, PoolExecutor) and pool.workers == 2
    finally:
        pool.close()
    with pytest.raises(BadArgument, match="--workers 0: expected an integer >= 1"):
        make_executor(workers=0)


def test_pool_gives_the_same_results_and_reports_as_serial(tmp_path):
    path = write_sweep(tmp_path)
    serial = run_sweep(path, out_dir=tmp_path / "serial", workers=1, evaluate=fake_evaluate)
    pooled = run_sweep(path, out_dir=tmp_path / "pool", workers=2, evaluate=fake_evaluate)
    assert _stored(tmp_path / "serial") == _stored(tmp_path / "pool")
    assert serial.front == pooled.front and serial.rechecked == pooled.rechecked
    for name in ("points.csv", "points.json", "pareto.csv", "report.md"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "pool" / name).read_bytes(), name


def test_failed_points_are_results_not_crashes(tmp_path):
    outcome = run_sweep(write_sweep(tmp_path), out_dir=tmp_path / "o", workers=1, evaluate=failing_evaluate)
    stored = _stored(tmp_path / "o")
    assert [s[3] for s in stored if s[1] == "analytical"] == ["does_not_fit"] + ["ok"] * 5
    assert 0 not in outcome.front and outcome.points == 6
    report = (tmp_path / "o" / "report.md").read_text()
    assert "## Points that did not run" in report and "DSP needs 9 slices" in report


def test_dask_local_cluster_runs_the_sweep(tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed "
                                                            "(pip install 'fpgasim[distributed]')")
    path = write_sweep(tmp_path)
    run_sweep(path, out_dir=tmp_path / "serial", workers=1, evaluate=fake_evaluate)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                                  scheduler_port=0, dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        outcome = run_sweep(path, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address,
                            evaluate=fake_evaluate)
    assert outcome.evaluated == 7
    assert _stored(tmp_path / "dask") == _stored(tmp_path / "serial")


def test_unreachable_scheduler_fails_fast_and_writes_nothing(tmp_path):
    pytest.importorskip("distributed", reason="Dask distributed is not installed")
    path = write_sweep(tmp_path)
    start = time.monotonic()
    with pytest.raises(BadArgument, match=r"--scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler within"):
        run_sweep(path, out_dir=tmp_path / "o", scheduler="tcp://127.0.0.1:9", evaluate=fake_evaluate)
    assert time.monotonic() - start < 20
    assert not (tmp_path / "o").exists()
