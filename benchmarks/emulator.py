"""Emulator speed: events per second against a bare SimPy loop, and wall time per emulated second.

Run: ``.venv/bin/python benchmarks/emulator.py [--repeat N] [--vgg16-functional]``. Prints

* ``ratio.events_per_s_vs_bare_simpy: X`` — SimPy events the emulator processes per second in
  timing mode (AlexNet and VGG16 conv stacks on one ZCU102, the <64,7> fp32 design), divided by
  the events per second of a bare SimPy loop of plain integer timeouts measured in the same run.
  Processed events are those through SimPy's queue, decisions merged into a same-instant
  decision, and completions fired in place (``fpgasim.sim.processed_events``);
* ``ratio.scheduled_events_per_s_vs_bare_simpy: X`` — the same without the events fired in place
  (only those that took a SimPy event id), for comparison with earlier results;
* ``ratio.wall_per_simulated_s.<network>.<mode>: Y`` — wall-clock seconds per emulated hardware
  second (below 1: faster than owning the board).

Medians of ``--repeat`` runs; machines are noisy. Each emulation run is paired with a bare SimPy
run right after it (after a full garbage collection each), and the events/s ratio is the median
of the per-pair ratios, over the two networks.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import simpy

from fpgasim.study.experiment.emulate import emulate
from fpgasim.study.experiment.experiment import NetworkRef, load_experiment
from fpgasim.study.experiment.setup import build_setup

ROOT = Path(__file__).resolve().parents[1]


def bare_simpy_events_per_s(events: int = 300_000) -> float:
    """Events/s of one process yielding ``env.timeout(1)`` in a loop."""
    env = simpy.Environment()

    def loop():
        for _ in range(events):
            yield env.timeout(1)

    env.process(loop())
    start = time.perf_counter()
    env.run()
    return next(env._eid) / (time.perf_counter() - start)


@dataclass(frozen=True)
class Run:
    """One emulation: wall seconds, events processed / scheduled, emulated seconds."""

    wall_s: float
    events: int
    events_scheduled: int
    emulated_s: float


def emulate_once(network: NetworkRef, functional: bool) -> Run:
    """One emulation of ``network`` on the AlexNet experiment's board and design."""
    loaded = load_experiment(ROOT / "experiments" / "alexnet-zcu102.yaml")
    loaded = dataclasses.replace(loaded, spec=dataclasses.replace(loaded.spec, network=network))
    setup = build_setup(loaded)
    start = time.perf_counter()
    result = emulate(setup, functional=functional, trace=False)
    wall_s = time.perf_counter() - start
    # trees before processed_events counted only event ids: then both counts are that figure
    # (lets ``PYTHONPATH=<older checkout>`` runs of this script compare against older code)
    scheduled = getattr(result, "events_scheduled", result.events)
    return Run(wall_s, result.events, scheduled, result.total_ps / 1e12)


def paired_runs(network: NetworkRef, functional: bool, repeat: int) -> tuple[Run, float, float, float]:
    """Emulation runs, each followed by a bare SimPy measurement in the same heap state.

    A full garbage collection precedes every measurement, so neither side pays for the other's
    garbage; the per-pair ratio cancels the machine's drift between pairs (as in kernels.py).

    Returns:
        (the run with the median wall time, median bare events/s, median per-pair ratio of
        processed events/s, the same for scheduled events/s).
    """
    runs, bares = [], []
    for _ in range(repeat):
        gc.collect()
        runs.append(emulate_once(network, functional))
        gc.collect()
        bares.append(bare_simpy_events_per_s())
    ratios = [run.events / run.wall_s / bare for run, bare in zip(runs, bares)]
    scheduled = [run.events_scheduled / run.wall_s / bare for run, bare in zip(runs, bares)]
    median_run = sorted(runs, key=lambda run: run.wall_s)[len(runs) // 2]
    return median_run, statistics.median(bares), statistics.median(ratios), statistics.median(scheduled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--vgg16-functional", action="store_true",
                        help="also time VGG16 in functional mode (~15 GMAC of fp32 tile arithmetic per run)")
    parser.add_argument("--emulate-only", type=int, metavar="N",
                        help="run N AlexNet timing emulations and exit, printing nothing: run it under "
                             "`valgrind --tool=callgrind` with N=2 and N=0 for a deterministic instruction count")
    args = parser.parse_args()
    networks = {"alexnet": NetworkRef(zoo="alexnet_conv", shapes="merged"), "vgg16": NetworkRef(zoo="vgg16_conv")}
    if args.emulate_only is not None:
        for _ in range(args.emulate_only):
            emulate_once(networks["alexnet"], False)
        return
    emulate_once(networks["alexnet"], True)  # warm up: Numba compiles, caches load
    ratios, scheduled_ratios = [], []
    for name, network in networks.items():
        for mode in ("timing", "functional"):
            if name == "vgg16" and mode == "functional" and not args.vgg16_functional:
                continue  # long: opt in with --vgg16-functional
            run, bare, ratio, scheduled = paired_runs(network, mode == "functional", args.repeat)
            print(f"ratio.wall_per_simulated_s.{name}.{mode}: {run.wall_s / run.emulated_s:.3f}")
            if mode == "timing":
                ratios.append(ratio)
                scheduled_ratios.append(scheduled)
                print(f"  {name} timing: {run.events:,} events processed ({run.events_scheduled:,} through "
                      f"SimPy's queue or merged) in {run.wall_s:.2f} s = {run.events / run.wall_s:,.0f} events/s; "
                      f"bare SimPy {bare:,.0f} events/s; per-pair ratio {ratio:.3f} ({scheduled:.3f} scheduled)")
    print(f"ratio.events_per_s_vs_bare_simpy: {statistics.median(ratios):.3f}")
    print(f"ratio.scheduled_events_per_s_vs_bare_simpy: {statistics.median(scheduled_ratios):.3f}")


if __name__ == "__main__":
    main()
