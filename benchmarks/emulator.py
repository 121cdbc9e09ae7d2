"""Emulator speed: events per second against a bare SimPy loop, and wall time per emulated second.

Run: ``.venv/bin/python benchmarks/emulator.py [--repeat N]``. Prints

* ``ratio.events_per_s_vs_bare_simpy: X`` — SimPy events the emulator processes per second in
  timing mode (AlexNet and VGG16 conv stacks on one ZCU102, the <64,7> fp32 design), divided by
  the events per second of a bare SimPy loop of plain integer timeouts measured in the same run;
* ``ratio.wall_per_simulated_s.<network>.<mode>: Y`` — wall-clock seconds per emulated hardware
  second (below 1: faster than owning the board).

Medians of ``--repeat`` runs; machines are noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import simpy

from fpgasim.study.emulate import emulate
from fpgasim.study.experiment import NetworkRef, load_experiment
from fpgasim.study.setup import build_setup

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


def emulate_once(network: NetworkRef, functional: bool) -> tuple[float, int, float]:
    """(wall s, events, emulated s) of one run."""
    loaded = load_experiment(ROOT / "experiments" / "alexnet-zcu102.yaml")
    loaded = dataclasses.replace(loaded, spec=dataclasses.replace(loaded.spec, network=network))
    setup = build_setup(loaded)
    start = time.perf_counter()
    result = emulate(setup, functional=functional, trace=False)
    return time.perf_counter() - start, result.events, result.total_ps / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    networks = {"alexnet": NetworkRef(zoo="alexnet_conv", shapes="merged"), "vgg16": NetworkRef(zoo="vgg16_conv")}
    emulate_once(networks["alexnet"], True)  # warm up: Numba compiles, caches load
    ratios = []
    for name, network in networks.items():
        for mode in ("timing", "functional"):
            if name == "vgg16" and mode == "functional":
                continue  # ~15 GMAC of fp32 tile arithmetic; run it by hand if you want the figure
            runs = [emulate_once(network, mode == "functional") for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            _, events, emulated_s = runs[0]
            print(f"ratio.wall_per_simulated_s.{name}.{mode}: {wall / emulated_s:.3f}")
            if mode == "timing":
                bare = statistics.median(bare_simpy_events_per_s() for _ in range(args.repeat))
                ratios.append((events / wall) / bare)
                print(f"  {name} timing: {events:,} events in {wall:.2f} s = {events / wall:,.0f} events/s; "
                      f"bare SimPy {bare:,.0f} events/s")
    print(f"ratio.events_per_s_vs_bare_simpy: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
