"""The Super-LIP comparison: baselines, speedups, the super-linear mark, its files."""

import json

import pytest

from fpgasim.study.superlip.compare import plan_comparison, run_comparison, write_comparison
from fpgasim.study.experiment.experiment import load_experiment

COMPARISON = """  comparison:
    scale_out: [{boards: 2, topology: pair}]
    paper: {boards: 2, speedup: 3.48, source: "Super-LIP abstract"}
"""


def test_comparison_reports_speedups_over_both_baselines(write_experiment, tmp_path):
    loaded = load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", extra=COMPARISON))
    comparison = run_comparison(plan_comparison(loaded))
    a, b, two = comparison.networks["alexnet_conv/merged"]
    assert (a.boards, b.boards, two.boards) == (1, 1, 2)
    assert a.speedup_vs_a == 1.0 and b.speedup_vs_b == 1.0
    assert two.speedup_vs_a == pytest.approx(a.run.time_ms / two.run.time_ms)
    assert two.speedup_vs_b == pytest.approx(b.run.time_ms / two.run.time_ms)
    assert b.run.time_ms <= a.run.time_ms  # a per-layer search never loses to a fixed <Tm,Tn>
    assert two.super_linear == (two.speedup_vs_a > 2)
    paths = write_comparison(comparison, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["report.md", "results.json", "speedup.png"]
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["headline"]["paper_speedup"] == 3.48
    assert document["headline"]["speedup_vs_a"] == pytest.approx(two.speedup_vs_a)
    assert "**Published:** 3.48x" in (tmp_path / "out" / "report.md").read_text()


def test_workers_do_not_change_results(write_experiment):
    loaded = load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", extra=COMPARISON))
    plan = plan_comparison(loaded)
    serial = run_comparison(plan, workers=1)
    parallel = run_comparison(plan, workers=2)
    for one, other in zip(serial.networks["alexnet_conv/merged"], parallel.networks["alexnet_conv/merged"],
                          strict=True):
        assert one.run.to_dict() == other.run.to_dict()


def test_a_speedup_that_does_not_apply_is_a_dash(write_experiment, tmp_path):
    loaded = load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", extra=COMPARISON))
    write_comparison(run_comparison(plan_comparison(loaded)), tmp_path / "out")
    rows = [line for line in (tmp_path / "out" / "report.md").read_text().splitlines() if line.startswith("| (")]
    a, b, two = rows[:3]
    assert a.startswith("| (a) 1 board, kernel tiling |") and a.endswith("| 1.00x | – |  |")
    assert b.endswith("| 1.00x |  |") and two.endswith(("x | yes |", "x | no |"))
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["comparison"]["alexnet_conv/merged"][0]["speedup_vs_b"] == 1.0  # results.json unchanged


def test_blind_rows_and_large_gaps_are_named(write_experiment, tmp_path):
    """A blind-planner row sits beside the link-aware one; a model-vs-emulator gap beyond 5 % gets
    a line naming its layer and the emulator's busiest resource there."""
    extra = COMPARISON.replace("scale_out: [{boards: 2, topology: pair}]",
                               "scale_out: [{boards: 2, topology: pair}, {boards: 2, topology: pair, planner: blind}]")
    loaded = load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", extra=extra))
    comparison = run_comparison(plan_comparison(loaded))
    aware, blind = comparison.networks["alexnet_conv/merged"][2:]
    assert (str(aware.planner), str(blind.planner)) == ("link_aware", "blind")
    assert blind.label.endswith("blind planner")
    write_comparison(comparison, tmp_path / "out")
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["planner"] for row in document["comparison"]["alexnet_conv/merged"][2:]] == ["link_aware", "blind"]
    assert document["headline"]["speedup_vs_a"] == pytest.approx(aware.speedup_vs_a)  # the link-aware row
    report = (tmp_path / "out" / "report.md").read_text()
    for row in (aware, blind):
        gap = row.run.summary()["analytical_latency_ms"] / row.run.time_ms - 1
        assert (f"- {row.label}: model" in report) == (abs(gap) > 0.05)
    assert "busiest resource while it ran" in report  # the blind plan misses the redistribution (> 5 %)
