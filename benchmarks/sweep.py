"""Sweep benchmark: analytical points/s (vectorised vs a Python loop) and emulated points on 2 workers.

Run: ``.venv/bin/python benchmarks/sweep.py [--repeats N] [--emulated-points K] [--plan-repeats N] [--no-emulated]``

Prints:

- ``ratio.analytical_points_per_s_vs_python_loop``: the per-layer tiling model
  (:func:`fpgasim.study.sweep.tiling.layer_tiling_grid`: complete analytical latency, DSP,
  BRAM18 and fit of every ⟨Tm,Tn,Tr,Tc⟩) over a 64×32×56×56 grid of VGG16 conv3_1 tilings on
  one ZCU102 (6.4 M points), against the same formula in plain Python
  (:func:`~fpgasim.study.sweep.tiling.layer_tiling_point_ref`) over 20 000 points of the same
  grid. Vectorised and loop runs alternate ``--repeats`` times; the ratio is the median of the
  per-pair ratios (both see the same machine load).
- ``points_per_s_per_core``: the vectorised rate (median; numpy runs on one core).
- ``plan.vgg16_8_boards_s``: wall seconds (median of ``--plan-repeats``) of a whole-network plan
  search for VGG16 (13 conv layers) on 8 ZCU102 in a ring over Aurora with the link-aware planner
  (every layer's partitions and tilings, redistribution between layers, dynamic programming),
  with the design's ⟨Tm,Tn⟩ (``kernel``) and with every tile size searched (``search``);
  ``ratio.plan_link_aware_vs_blind`` is link-aware ÷ blind wall time for the same search (median
  of per-pair ratios).
- ``ratio.two_workers_vs_one``: wall time of ``K`` emulator re-checks (AlexNet tilings on one
  ZCU102, the sweep's own evaluator) in this process ÷ on a 2-process pool (after a warm-up
  pass; runs alternate ``--emulated-repeats`` times; median of the per-pair ratios).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from fpgasim.hw import load_board
from fpgasim.mapping import ConvShape, ResourceBounds, StreamRates, rate_from_bandwidth
from fpgasim.study.sweep.evaluate import Fidelity, evaluate_point
from fpgasim.study.sweep.sweep import _materialise, _task, prepare_sweep
from fpgasim.study.sweep.exec import PoolExecutor, SerialExecutor
from fpgasim.study.sweep.tiling import layer_tiling_grid, layer_tiling_point_ref

ROOT = Path(__file__).resolve().parents[1]
LOOP_POINTS = 20_000


def _setup():
    board = load_board("zcu102")
    channel = board.memory_channel("ps_ddr4")
    rate = rate_from_bandwidth(bandwidth_bytes_per_s=channel.sustained_bytes_per_s, bytes_per_element=2,
                               clock_mhz=100.0)
    shape = ConvShape(batch=1, out_channels=256, in_channels=128, out_h=56, out_w=56, kernel=3, padding=1)
    rates = StreamRates(weights=min(4.0, rate), ifm=min(4.0, rate), ofm=min(4.0, rate))
    bounds = ResourceBounds(dsp=board.fabric.available_dsp, bram18=board.fabric.available_bram18, data_bits=16)
    axes = (np.arange(1, 65).reshape(-1, 1, 1, 1), np.arange(1, 33).reshape(1, -1, 1, 1),
            np.arange(1, 57).reshape(1, 1, -1, 1), np.arange(1, 57).reshape(1, 1, 1, -1))
    return shape, rates, bounds, axes


def analytical(repeats: int) -> tuple[float, float, float]:
    """Median vectorised points/s, median loop points/s, median per-pair ratio."""
    shape, rates, bounds, axes = _setup()
    grid_shape = tuple(a.size for a in axes)
    total = int(np.prod(grid_shape))
    rng = np.random.default_rng(0)
    sample = np.unravel_index(rng.integers(0, total, LOOP_POINTS), grid_shape)
    points = [tuple(int(axes[d].flat[sample[d][i]]) for d in range(4)) for i in range(LOOP_POINTS)]
    grid = layer_tiling_grid(shape, *axes, rates=rates, bounds=bounds)  # warm-up and check
    for (tm, tn, tr, tc), i in zip(points[:200], range(200)):
        ref = layer_tiling_point_ref(shape, tm, tn, tr, tc, rates=rates, bounds=bounds, partition=_partition())
        idx = tuple(s[i] for s in sample)
        if ref[1:] != (grid["dsp"][idx], grid["bram18"][idx], grid["fits"][idx]) or \
                abs(ref[0] - grid["cycles"][idx]) > 1e-9 * ref[0]:
            raise SystemExit(f"vectorised and loop results differ at {tm, tn, tr, tc}")
    fast, slow, ratios = [], [], []
    part = _partition()
    for _ in range(repeats):
        start = time.perf_counter()
        layer_tiling_grid(shape, *axes, rates=rates, bounds=bounds)
        vec = total / (time.perf_counter() - start)
        start = time.perf_counter()
        for tm, tn, tr, tc in points:
            layer_tiling_point_ref(shape, tm, tn, tr, tc, rates=rates, bounds=bounds, partition=part)
        loop = LOOP_POINTS / (time.perf_counter() - start)
        fast.append(vec)
        slow.append(loop)
        ratios.append(vec / loop)
    return statistics.median(fast), statistics.median(slow), statistics.median(ratios)


def _partition():
    from fpgasim.mapping import Partition

    return Partition()


def plan(repeats: int) -> dict[str, tuple[float, float]]:
    """Per tiling policy: median wall seconds of the link-aware VGG16 8-board plan, and the median
    per-pair ratio link-aware ÷ blind (the two alternate)."""
    import dataclasses

    from fpgasim.mapping.layer_plan import Planner
    from fpgasim.study.experiment.experiment import NetworkRef, PartitionSpec, TilingPolicy, load_experiment
    from fpgasim.study.experiment.setup import build_setup

    loaded = load_experiment(ROOT / "experiments" / "superlip-alexnet.yaml")
    found = {}
    for policy in (TilingPolicy.KERNEL, TilingPolicy.SEARCH):
        variants = {}
        for planner in Planner:
            spec = dataclasses.replace(
                loaded.spec, network=NetworkRef(zoo="vgg16_conv", batch=1), comparison=None,
                tiling=dataclasses.replace(loaded.spec.tiling, policy=policy), partition=PartitionSpec(planner=planner),
                cluster=dataclasses.replace(loaded.spec.cluster, boards=8, topology="ring"))
            variants[planner] = dataclasses.replace(loaded, spec=spec)
        build_setup(variants[Planner.LINK_AWARE])  # warm-up (YAML, imports)
        aware, ratios = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            build_setup(variants[Planner.LINK_AWARE])
            seconds = time.perf_counter() - start
            start = time.perf_counter()
            build_setup(variants[Planner.BLIND])
            aware.append(seconds)
            ratios.append(seconds / (time.perf_counter() - start))
        found[str(policy)] = (statistics.median(aware), statistics.median(ratios))
    return found


def emulated(count: int, out_dir: Path, repeats: int) -> tuple[float, float, float]:
    """Median wall seconds of ``count`` emulator re-checks in process and on a 2-process pool, and
    the median per-pair ratio (serial and pooled runs alternate ``repeats`` times)."""
    prepared = prepare_sweep(ROOT / "experiments" / "sweeps" / "alexnet-tilings-zcu102.yaml")
    kernels = _materialise(prepared, out_dir)
    chosen = [p for p in prepared.points if 32 <= p.overrides["kernel.parallelism.tm"] <= 64
              and p.overrides["kernel.parallelism.tn"] >= 3][:count]
    tasks = [_task(p, Fidelity.EMULATED, prepared.loaded, kernels) for p in chosen]
    warm = list(map(evaluate_point, tasks))  # warm-up (imports, Numba), and each task's duration
    failed = [f"point {r.index}: {r.message}" for r in warm if r.status.value != "ok"]
    if failed:
        raise SystemExit("emulator re-check failed: " + "; ".join(failed[:3]))
    reference = sorted((r.key, r.objectives["latency_ms"]) for r in warm)
    order = {r.key: -r.seconds for r in warm}
    tasks.sort(key=lambda task: order[task.key])  # longest first, as run_sweep orders re-checks
    serial, pool = SerialExecutor(), PoolExecutor(2)
    ones, twos, ratios = [], [], []
    try:
        list(pool.run(evaluate_point, tasks))  # warm both workers on the same points
        for _ in range(repeats):
            start = time.perf_counter()
            list(serial.run(evaluate_point, tasks))
            one = time.perf_counter() - start
            start = time.perf_counter()
            results = list(pool.run(evaluate_point, tasks))
            two = time.perf_counter() - start
            ones.append(one)
            twos.append(two)
            ratios.append(one / two)
    finally:
        pool.close()
    if sorted((r.key, r.objectives["latency_ms"]) for r in results) != reference:
        raise SystemExit("serial and pooled emulator results differ")
    return statistics.median(ones), statistics.median(twos), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--emulated-points", type=int, default=12)
    parser.add_argument("--emulated-repeats", type=int, default=3)
    parser.add_argument("--plan-repeats", type=int, default=3)
    parser.add_argument("--no-emulated", action="store_true", help="skip the emulator re-check timing")
    parser.add_argument("--out", type=Path, default=Path("results") / "bench-sweep")
    args = parser.parse_args()
    vec, loop, ratio = analytical(args.repeats)
    print(f"ratio.analytical_points_per_s_vs_python_loop: {ratio:.1f}")
    print(f"points_per_s_per_core: {vec:.0f}")
    print(f"rates: vectorised {vec / 1e6:.2f} M points/s, python loop {loop / 1e3:.1f} k points/s "
          f"(VGG16 conv3_1, 64x32x56x56 tilings, ZCU102 16-bit)")
    for policy, (seconds, ratio) in plan(args.plan_repeats).items():
        print(f"plan.vgg16_8_boards_s.{policy}: {seconds:.2f}")
        print(f"ratio.plan_link_aware_vs_blind.{policy}: {ratio:.1f}")
    if args.no_emulated:
        return
    one, two, ratio = emulated(args.emulated_points, args.out, args.emulated_repeats)
    print(f"ratio.two_workers_vs_one: {ratio:.2f}")
    print(f"emulated: {args.emulated_points} AlexNet points, 1 worker {one:.1f} s, 2 workers {two:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
