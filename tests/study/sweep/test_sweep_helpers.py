"""Shared helpers of the sweep tests (a small sweep file, stand-in evaluators), and their tests.

The stand-in evaluators are module-level functions so that process pools and Dask can pickle
them by reference. Their objectives are simple closed forms of the point's overrides, so the
tests can compute expected fronts and rankings by hand.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from fpgasim.study.sweep.evaluate import PointResult, PointTask, Status

REPO = Path(__file__).resolve().parents[3]
KERNEL_16 = REPO / "kernels" / "superlip-conv-16bit.yaml"


def write_sweep(folder: Path, *, name: str = "toy", axes=None, extra: dict | None = None) -> Path:
    """A sweep over boards × tm on an inline AlexNet/ZCU102 base; returns its path."""
    axes = axes if axes is not None else [
        {"key": "experiment.cluster.boards", "values": [1, 2, 4]},
        {"key": "kernel.parallelism.tm", "values": [16, 32]},
    ]
    sweep = {"name": name, "experiment": {
        "name": "toy-base", "network": {"zoo": "alexnet_conv", "shapes": "merged"}, "board": "zcu102",
        "kernel": str(KERNEL_16), "memory": {"channel": "ps_ddr4"},
        "cluster": {"boards": 1, "link": "aurora64b66b_10g"}},
        "axes": axes, "objectives": ["latency_ms", "dsp_total"], "recheck": {"top_k": 1}}
    sweep.update(extra or {})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "sweep": sweep}, sort_keys=False))
    return path


def toy_objectives(task: PointTask) -> dict[str, float]:
    """latency = 100 / (boards · tm/16) (+1 if emulated), dsp_total = boards · tm."""
    exp = task.data["experiment"]
    boards = exp.get("cluster", {}).get("boards", 1)
    kernel = Path(exp["kernel"]).read_text()
    tm = yaml.safe_load(kernel)["kernel"]["parallelism"]["tm"]
    bump = 1.0 if task.fidelity.value == "emulated" else 0.0
    return {"latency_ms": 100.0 / (boards * tm / 16) + bump, "dsp_total": float(boards * tm),
            "dsp": float(tm), "boards": float(boards)}


def fake_evaluate(task: PointTask) -> PointResult:
    """Stand-in evaluator: instant, closed-form objectives."""
    return PointResult(index=task.index, key=task.key, fidelity=task.fidelity, status=Status.OK,
                       objectives=toy_objectives(task))


def slow_evaluate(task: PointTask) -> PointResult:
    """Stand-in evaluator that logs the start of each evaluation and takes 0.3 s."""
    log = os.environ["FPGASIM_TEST_SWEEP_LOG"]
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{task.key}\n")
        handle.flush()
        os.fsync(handle.fileno())
    time.sleep(0.3)
    return fake_evaluate(task)


def failing_evaluate(task: PointTask) -> PointResult:
    """Stand-in evaluator: point 0 does not fit, the others are fine."""
    if task.index == 0:
        return PointResult(index=task.index, key=task.key, fidelity=task.fidelity, status=Status.DOES_NOT_FIT,
                           message="does not fit: DSP needs 9 slices, 1 available")
    return fake_evaluate(task)


def test_write_sweep_produces_a_loadable_sweep(tmp_path):
    from fpgasim.study.sweep.spec import load_sweep

    loaded = load_sweep(write_sweep(tmp_path))
    assert [a.key for a in loaded.spec.axes] == ["experiment.cluster.boards", "kernel.parallelism.tm"]
    assert loaded.kernel_data["kernel"]["parallelism"]["tm"] == 64


def test_toy_objectives_follow_their_formula(tmp_path):
    from fpgasim.study.sweep.evaluate import Fidelity

    kernel = tmp_path / "k.yaml"
    kernel.write_text(KERNEL_16.read_text().replace("tm: 64", "tm: 32"))
    task = PointTask(index=0, key="k", fidelity=Fidelity.ANALYTICAL, base_dir=str(tmp_path), file="x",
                     kind="experiment", data={"schema": 1, "experiment": {"kernel": str(kernel), "cluster": {"boards": 2}}})
    assert toy_objectives(task) == {"latency_ms": 25.0, "dsp_total": 64.0, "dsp": 32.0, "boards": 2.0}
