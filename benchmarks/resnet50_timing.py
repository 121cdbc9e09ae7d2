"""Graph emulation speed: ResNet-50 at 224×224 in timing mode on one ZCU102 (the issue's target: < 30 s).

Run: ``.venv/bin/python benchmarks/resnet50_timing.py [--repeat N] [--profile]``. The experiment is
``experiments/resnet18-zcu102.yaml`` with ``zoo: resnet50`` (the 16-bit ⟨64,7⟩ engine at 100 MHz,
PS DDR4), planned and emulated as ``fpgasim run --no-trace`` does (plan + execute; writing the
files is left out). Prints the medians of ``--repeat`` runs:

* ``ratio.resnet50_timing_vs_target: X`` — wall seconds of plan + emulation ÷ the 30 s target
  (below 1: faster than the target);
* ``ratio.resnet50_vs_resnet18_wall: Y`` — ResNet-50's wall time ÷ ResNet-18's, measured in the same
  run (ResNet-50 has 2.27× the MACs and 3.2× the nodes);
* the CPU seconds of the process (``time.process_time``) beside the wall time: on a shared machine
  the wall time includes waiting for a core;
* ``ratio.wall_per_simulated_s.resnet50: Z`` — wall seconds per emulated hardware second.

``--profile`` adds a cProfile of one ResNet-50 run (top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import statistics
import time
from pathlib import Path

import yaml

from fpgasim.study.experiment.graph_run import plan_graph_experiment, run_graph_experiment
from fpgasim.study.experiment.experiment import Mode
from fpgasim.study.experiment.study import EXPERIMENT_STUDY

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "experiments" / "resnet18-zcu102.yaml"
TARGET_S = 30.0


def run_once(network: str) -> tuple[float, float, float, int]:
    """(wall seconds and CPU seconds of plan + timing emulation, emulated seconds, graph nodes) of
    ``network``."""
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    data["experiment"]["network"] = {"zoo": network, "batch": 1}
    data["experiment"]["name"] = f"bench-{network}"
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    loaded = EXPERIMENT_STUDY.from_data(data, file=str(BASE), base_dir=BASE.parent)
    setup = plan_graph_experiment(loaded)
    result = run_graph_experiment(setup, mode=Mode.TIMING, trace=False)
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return wall_s, cpu_s, result.emulation.total_ps / 1e12, len(setup.plan.nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    run_once("resnet18")  # warm-up: imports, Numba caches
    walls: dict[str, list[float]] = {"resnet18": [], "resnet50": []}
    cpus: list[float] = []
    emulated, nodes = 0.0, 0
    for _ in range(args.repeat):
        for network in walls:
            wall_s, cpu_s, emulated_s, count = run_once(network)
            walls[network].append(wall_s)
            if network == "resnet50":
                emulated, nodes = emulated_s, count
                cpus.append(cpu_s)
    r50, r18 = statistics.median(walls["resnet50"]), statistics.median(walls["resnet18"])
    print(f"resnet50: {nodes} nodes, {emulated * 1e3:.2f} ms emulated; wall {r50:.2f} s (runs "
          f"{', '.join(f'{w:.2f}' for w in walls['resnet50'])}), CPU {statistics.median(cpus):.2f} s; "
          f"resnet18 wall {r18:.2f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"ratio.resnet50_timing_vs_target: {r50 / TARGET_S:.3f}")
    print(f"ratio.resnet50_vs_resnet18_wall: {r50 / r18:.2f}")
    print(f"ratio.wall_per_simulated_s.resnet50: {r50 / emulated:.1f}")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(run_once, "resnet50")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
