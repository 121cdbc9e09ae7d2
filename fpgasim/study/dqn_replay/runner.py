"""The replay study's runs: the latency sweep, the reductions, the learning curves, the FPGA NIC.

Owns: the FPGA server model of a loaded study, :func:`sweep_rows` (every placement × sampling at
each experience size × actor count, with mean/p99 latencies, learner idle time and server
utilisation), :func:`reductions` (the three headline reductions, min and max over the sweep,
beside the paper's ranges), :func:`learning_curves` and :func:`fpga_fit` — all deterministic.

The reductions compare the learner's access to the replay memory: ``bypass`` is the mean
uniform-sampling latency (request → batch at the learner) of ``dpdk`` against ``kernel``,
``in_network_access`` the same of ``in_network`` against ``dpdk``, and
``in_network_prioritized_sampling`` the mean prioritized-sampling latency of ``in_network``
against ``dpdk``; the insertion reductions are reported beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from fpgasim.sim import TraceRecorder
from fpgasim.sim.clock import Clock, us_from_ps
from fpgasim.study.dqn_replay.cluster import RunMetrics, RunSetup, run_cluster
from fpgasim.study.dqn_replay.config import LoadedReplayStudy, Sampling
from fpgasim.study.dqn_replay.fpga_nic import FpgaServer, max_priorities, tree_fit, tree_levels
from fpgasim.study.dqn_replay.memory import EXPERIENCE_DTYPE

__all__ = ["fpga_server", "sweep_rows", "reductions", "learning_curves", "trace_run", "fpga_fit", "REDUCTIONS"]

#: Reduction name → (baseline placement, improved placement, sampling, latency key).
REDUCTIONS = {
    "bypass": ("kernel", "dpdk", Sampling.UNIFORM, "sample"),
    "in_network_access": ("dpdk", "in_network", Sampling.UNIFORM, "sample"),
    "in_network_prioritized_sampling": ("dpdk", "in_network", Sampling.PRIORITIZED, "sample"),
}


def fpga_server(loaded: LoadedReplayStudy) -> FpgaServer:
    """The FPGA NIC server of the study (its board, clock, tree depth and DDR channel)."""
    spec = loaded.study.fpga_nic
    return FpgaServer(clock=Clock.from_mhz(spec.clock_mhz, name="fpga_nic"),
                      levels=tree_levels(loaded.study.dqn.memory), level_cycles=spec.level_cycles,
                      ddr_bytes_per_s=loaded.board.memory_channel(spec.memory).sustained_bytes_per_s)


def _stats(values_ps: list[int]) -> tuple[float | None, float | None]:
    if not values_ps:
        return None, None
    us = np.asarray(values_ps, dtype=np.float64) / 1e6
    return float(us.mean()), float(np.percentile(us, 99))


def _row(setup: RunSetup, metrics: RunMetrics) -> dict[str, Any]:
    row: dict[str, Any] = {
        "placement": setup.placement.name, "sampling": setup.sampling.value, "actors": setup.actors,
        "experience_bytes": setup.experience_bytes or EXPERIENCE_DTYPE.itemsize,
    }
    for key, values in (("insert", metrics.insert_ps), ("sample", metrics.sample_ps), ("update", metrics.update_ps)):
        row[f"{key}_mean_us"], row[f"{key}_p99_us"] = _stats(values)
        row[f"{key}_count"] = len(values)
    span = metrics.end_ps - metrics.start_ps
    row["learner_idle_fraction"] = metrics.learner_wait_ps / span if span else 0.0
    row["server_utilisation"] = metrics.server_busy_ps / metrics.end_ps if metrics.end_ps else 0.0
    row["emulated_ms"] = us_from_ps(metrics.end_ps) / 1e3
    return row


def _one(args: tuple) -> dict[str, Any]:
    loaded, setup, fpga = args
    return _row(setup, run_cluster(loaded.study, setup, loaded.links, fpga))


def sweep_rows(loaded: LoadedReplayStudy, *, workers: int = 1,
               progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every placement × sampling at each swept experience size and actor count.

    Returns:
        One row per run (keys documented in docs/dqn-replay.md), in sweep order.
    """
    study, fpga = loaded.study, fpga_server(loaded)
    jobs = [(loaded, RunSetup(placement=p, sampling=s, actors=a, experience_bytes=size,
                              learner_steps=study.sweep.learner_steps, seed=study.seed), fpga)
            for size in study.sweep.experience_bytes for a in study.sweep.actors
            for p in study.placements for s in Sampling]
    if progress is not None:
        progress(f"sweep: {len(jobs)} runs")
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_one, jobs, chunksize=4))
    return [_one(job) for job in jobs]


def _mean(rows: list[dict[str, Any]], placement: str, sampling: Sampling, key: str, size: int, actors: int) -> float:
    return next(r[f"{key}_mean_us"] for r in rows if r["placement"] == placement and r["sampling"] == sampling.value
                and r["experience_bytes"] == size and r["actors"] == actors)


def reductions(loaded: LoadedReplayStudy, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The three reductions (percent) at every sweep point, their min and max, and the paper's range."""
    paper = loaded.study.paper
    points = sorted({(r["experience_bytes"], r["actors"]) for r in rows})
    out: dict[str, Any] = {}
    for name, (base, better, sampling, key) in REDUCTIONS.items():
        per_point = []
        for size, actors in points:
            before = _mean(rows, base, sampling, key, size, actors)
            after = _mean(rows, better, sampling, key, size, actors)
            per_point.append({"experience_bytes": size, "actors": actors, "percent": 100.0 * (1 - after / before)})
        values = [p["percent"] for p in per_point]
        out[name] = {"fpgasim_min_percent": min(values), "fpgasim_max_percent": max(values),
                     "paper_percent": list(getattr(paper, name)), "baseline": base, "improved": better,
                     "sampling": sampling.value, "metric": f"mean {key} latency", "points": per_point}
    return out


def learning_curves(loaded: LoadedReplayStudy, *, workers: int = 1) -> dict[str, list[tuple[float, float]]]:
    """Placement → [(emulated ms, episode return)] of a longer run with ``curve`` settings."""
    study, fpga = loaded.study, fpga_server(loaded)
    curve = study.curve
    jobs = [(loaded, RunSetup(placement=p, sampling=curve.sampling, actors=curve.actors, experience_bytes=None,
                              learner_steps=curve.learner_steps, seed=study.seed), fpga) for p in study.placements]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(_curve_one, jobs))
    else:
        runs = [_curve_one(job) for job in jobs]
    return {p.name: run for p, run in zip(study.placements, runs)}


def _curve_one(args: tuple) -> list[tuple[float, float]]:
    loaded, setup, fpga = args
    metrics = run_cluster(loaded.study, setup, loaded.links, fpga)
    return [(us_from_ps(t) / 1e3, ret) for t, ret in metrics.episodes if t <= metrics.end_ps]


def trace_run(loaded: LoadedReplayStudy) -> tuple[TraceRecorder, RunSetup]:
    """A short traced run: ``in_network``, prioritized, the study's actors, sweep learner steps."""
    study = loaded.study
    setup = RunSetup(placement=study.placement("in_network"), sampling=Sampling.PRIORITIZED,
                     actors=study.dqn.actors, experience_bytes=study.dqn.experience_bytes,
                     learner_steps=study.sweep.learner_steps, seed=study.seed)
    trace = TraceRecorder()
    run_cluster(study, setup, loaded.links, fpga_server(loaded), trace)
    return trace, setup


def fpga_fit(loaded: LoadedReplayStudy) -> dict[str, Any]:
    """The FPGA NIC's fit verdict for the study's memory and the largest priority counts that fit."""
    spec, board, capacity = loaded.study.fpga_nic, loaded.board, loaded.study.dqn.memory
    fit = tree_fit(board, capacity, spec.priority_bits)
    server = fpga_server(loaded)
    batch = loaded.study.dqn.batch
    return {
        "board": board.id, "capacity": capacity, "levels": fit.levels, "priority_bits": spec.priority_bits,
        "bram18": fit.bram18, "uram": fit.uram, "bram18_available": fit.bram18_available,
        "uram_available": fit.uram_available, "fits": fit.fits, "clock_mhz": spec.clock_mhz,
        "max_priorities": {memory: max_priorities(board, spec.priority_bits, memory)
                           for memory in ("bram", "uram", "both")},
        "walk_cycles_batch": server.walk_cycles(batch),
        "walk_us_batch": us_from_ps(server.clock.delay_ps(0, server.walk_cycles(batch))),
    }
