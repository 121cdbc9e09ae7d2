"""Resuming: the changed-input check hashes parsed content and runs before the points are
expanded; a finished sweep ends there; counts are split by fidelity."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.cli.cmd_sweep import format_outcome
from fpgasim.errors import BadArgument
from fpgasim.study.sweep import sweep as sweep_module
from fpgasim.study.sweep.report import LOG_SPAN, ties, wide_range
from fpgasim.study.sweep.store import STORE_NAME
from fpgasim.study.sweep.sweep import run_sweep
from tests.study.sweep.test_sweep_helpers import fake_evaluate, write_sweep


def _no_expansion(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the points were expanded")
    monkeypatch.setattr(sweep_module, "expand_points", refuse)


def test_a_finished_sweep_ends_before_expanding_and_evaluating(tmp_path, monkeypatch):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    first = run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    _no_expansion(monkeypatch)
    reports = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != STORE_NAME}
    started = time.process_time()
    again = run_sweep(path, out_dir=out, workers=1, evaluate=lambda task: pytest.fail("evaluated"))
    assert time.process_time() - started < 2
    assert again.evaluated_by == {"analytical": 0, "emulated": 0}
    assert again.skipped_by == {"analytical": 6, "emulated": 1}
    assert (again.total, again.points, again.front, again.rechecked, again.files) == \
        (first.total, first.points, first.front, first.rechecked, first.files)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != STORE_NAME} == reports


def test_a_missing_report_or_another_recheck_choice_runs_the_reports_again(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    (out / "report.md").unlink()
    again = run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    assert (out / "report.md").is_file() and again.evaluated == 0
    no_recheck = run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate, recheck=False)
    assert no_recheck.rechecked == () and no_recheck.skipped_by == {"analytical": 6, "emulated": 0}


def test_a_comment_or_layout_edit_is_not_a_changed_input(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    data = yaml.safe_load(path.read_text())
    path.write_text("# a comment the store must not see\n" + yaml.safe_dump(data, sort_keys=True, indent=4,
                                                                            default_flow_style=True))
    again = run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    assert again.evaluated == 0 and again.skipped == 7


def test_a_changed_value_is_refused_before_expanding(tmp_path, monkeypatch):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    before = (out / STORE_NAME).read_bytes()
    write_sweep(tmp_path, extra={"description": "now different"})
    _no_expansion(monkeypatch)
    with pytest.raises(BadArgument, match=r"holds results of different inputs: toy\.yaml changed \(sha256 of its "
                                          r"content [0-9a-f]{12} -> [0-9a-f]{12}\)"):
        run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    assert (out / STORE_NAME).read_bytes() == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(STORE_NAME)) == [STORE_NAME]


def test_a_store_that_hashed_file_bytes_is_still_resumed(tmp_path):
    import json
    import sqlite3

    from fpgasim.study.sweep.store import file_sha256

    path, out = write_sweep(tmp_path), tmp_path / "out"
    run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    db = sqlite3.connect(out / STORE_NAME)
    inputs = json.loads(db.execute("SELECT value FROM manifest WHERE name = 'inputs'").fetchone()[0])
    legacy = {name: file_sha256((tmp_path / name).resolve()) for name in inputs}
    db.execute("UPDATE manifest SET value = ? WHERE name = 'inputs'", (json.dumps(legacy),))
    db.execute("DELETE FROM manifest WHERE name IN ('inputs_digest', 'finished')")
    db.commit()
    db.close()
    again = run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate)
    assert again.evaluated == 0 and again.skipped == 7


def test_the_summary_splits_counts_by_fidelity(tmp_path):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    text = format_outcome(run_sweep(path, out_dir=out, workers=1, evaluate=fake_evaluate))
    assert "evaluated 6 analytical + 1 emulated now, 0 analytical + 0 emulated already in the store" in text


@pytest.mark.parametrize("values, wide", [([1.0, 10.0], False), ([1.0, 10.5], True), ([0.0, 100.0], False),
                                          ([], False), ([-1.0, 50.0], False), ([2e-3, 3.0], True)])
def test_a_log_axis_only_for_positive_values_spanning_more_than_ten_times(values, wide):
    assert LOG_SPAN == 10.0 and wide_range(values) is wide


@given(st.lists(st.tuples(st.sampled_from([1.0, 2.0, 3.0]), st.sampled_from([0.5, 0.25])), max_size=30))
def test_ties_count_every_shared_position(points):
    shared = ties(points)
    assert all(n == points.count(point) and n > 1 for point, n in shared.items())
    assert sum(shared.values()) + sum(1 for p in points if points.count(p) == 1) == len(points)
