"""What a sweep reads from an experiment: its objectives by the analytical model or the emulator.

Analytical byte counts (whole cluster): per board, every outer tile loads ⌈N/Tn⌉ IFM and
weight tiles and stores one OFM tile; with XFER sharing the received share comes over the
link instead of DDR (the same terms as :func:`fpgasim.mapping.latency_arrays`). A link-aware
plan counts link bytes on every hop of their routes (XFER and redistribution) and adds the
redistribution it predicts to the latency.
"""

from __future__ import annotations

from typing import Any

from fpgasim.hw import load_dsp_types
from fpgasim.kernels.fit import Resource, evaluate_fit
from fpgasim.sim import ms_from_cycles
from fpgasim.study.experiment.experiment import Mode
from fpgasim.study.experiment.setup import RunSetup

__all__ = ["analytical_objectives", "emulated_objectives"]


def _resources(setup: RunSetup) -> dict[str, float]:
    fit = evaluate_fit(setup.board, setup.design, dsp_types=load_dsp_types())
    return {"dsp": float(fit.row(Resource.DSP).used), "bram18": float(fit.row(Resource.BRAM18).used),
            "uram": float(fit.row(Resource.URAM).used)}


def analytical_objectives(setup: RunSetup) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Objectives of a planned run by the complete analytical model, and per-layer rows.

    Returns:
        ``(objectives, layers)``; latency is the sum of the layer latencies (layers run one
        after another), bytes are whole-cluster totals, resources are per board.
    """
    clock_mhz, nbytes, boards = setup.clock_mhz, setup.element_bytes, setup.boards
    rates = setup.rates
    cycles = ddr_read = ddr_write = link = macs = 0.0
    layers = []
    for layer in setup.layers:
        lat = layer.analytical
        loads = lat.tiles * lat.steps
        ddr_read += loads * (lat.t_i_cycles * rates.ifm + lat.t_w_cycles * rates.weights)
        ddr_write += lat.tiles * lat.t_o_cycles * rates.ofm
        if layer.xfer_link_bytes or layer.redistribution_bytes:  # link-aware: every hop counted
            link += (layer.xfer_link_bytes + layer.redistribution_bytes) / nbytes / boards
        elif rates.link is not None:
            link += loads * (lat.t_link_w_cycles + lat.t_link_i_cycles) * rates.link
        cycles += lat.cycles + layer.redistribution_cycles
        macs += layer.shape.macs
        t = layer.tiling
        layers.append({"name": layer.layer.name, "latency_ms": lat.time_ms(clock_mhz),
                       "tiling": f"Tm={t.tm},Tn={t.tn},Tr={t.tr},Tc={t.tc}", "partition": str(layer.partition),
                       "bottleneck": lat.bottleneck.value})
    latency_ms = ms_from_cycles(cycles, clock_mhz)
    objectives = {"latency_ms": latency_ms, "throughput_gops": 2 * macs / (latency_ms * 1e-3) / 1e9,
                  "boards": float(boards), "ddr_read_bytes": ddr_read * nbytes * boards,
                  "ddr_write_bytes": ddr_write * nbytes * boards, "link_bytes": link * nbytes * boards}
    objectives["ddr_bytes"] = objectives["ddr_read_bytes"] + objectives["ddr_write_bytes"]
    objectives.update(_resources(setup))
    objectives["dsp_total"] = objectives["dsp"] * boards
    return objectives, layers


def emulated_objectives(setup: RunSetup) -> dict[str, float]:
    """Objectives of a planned run measured by the emulator (timing mode)."""
    from fpgasim.study.experiment import runner  # the emulator (imported lazily: heavy, and optional for analytics)

    summary = runner.run_setup(setup, mode=Mode.TIMING).summary()
    objectives = {name: float(value) for name, value in summary.items()
                  if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if "ddr_read_bytes" in objectives and "ddr_write_bytes" in objectives:
        objectives["ddr_bytes"] = objectives["ddr_read_bytes"] + objectives["ddr_write_bytes"]
    if "dsp" in objectives and "boards" in objectives:
        objectives["dsp_total"] = objectives["dsp"] * objectives["boards"]
    return objectives
