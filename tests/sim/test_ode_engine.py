"""The dsODENet PL engine process: cycle formulas, the timeline, weights loaded once, tiling."""

import pytest
import simpy

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, DdrChannel, StreamPort
from fpgasim.sim.ode_engine import (
    CpuSegment, OdeEngineParams, OdeFabric, OdePlan, PlBlock, PlLayer, PlLayerKind, PlSegment, check_tiling,
    layer_cycles, ode_inference, update_cycles,
)


def _params(**kw) -> OdeEngineParams:
    args = dict(clock=Clock.from_mhz(1000), dw_channels=8, pw_in=4, pw_out=4, pipeline_depth_cycles=1,
                element_bytes=2, dma_chunk_bytes=64)
    args.update(kw)
    return OdeEngineParams(**args)


def _layer(kind, cin, cout, k=3, hw=4) -> PlLayer:
    return PlLayer(name=f"{kind}", kind=kind, in_channels=cin, out_channels=cout, kernel=k, out_h=hw, out_w=hw)


def test_layer_cycles_by_hand() -> None:
    p = _params(pipeline_depth_cycles=2)
    assert layer_cycles(_layer(PlLayerKind.DEPTHWISE, 16, 16), p) == 2 * 16 + 2        # ceil(16/8) x 4x4
    assert layer_cycles(_layer(PlLayerKind.POINTWISE, 8, 12, k=1), p) == 2 * 3 * 16 + 2
    assert layer_cycles(_layer(PlLayerKind.DENSE, 8, 8), p) == 9 * 2 * 2 * 16 + 2
    assert update_cycles(64, p) == 64 // 8 + 2 and update_cycles(0, p) == 0


def _fabric(env: simpy.Environment) -> OdeFabric:
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)          # 1 000 ps per byte
    port = StreamPort(env, "hp", width_bits=64, clock=Clock.from_mhz(1000))   # 8 bytes per 1 000 ps
    return OdeFabric(ddr=ddr, port=port)


def test_timeline_by_hand(env: simpy.Environment) -> None:
    pw = _layer(PlLayerKind.POINTWISE, 8, 8, k=1, hw=2)
    block = PlBlock(name="ode", layers=(pw,), evals=3, update_elems=32, weight_elems=72)
    plan = OdePlan(segments=(CpuSegment(name="conv1", duration_ps=5_000),
                             PlSegment(blocks=(block,), in_elems=32, out_elems=32)))
    proc = env.process(ode_inference(env, _fabric(env), plan, _params(), images=2))
    env.run()
    run = proc.value
    # weights: 144 B in 64-B chunks, DDR-bound: 144 000 ps of DDR + the last 16-B chunk on the port (2 000)
    assert run.weights_ps == 146_000
    # per image: CPU 5 000 + DMA in (64 B: 64 000 DDR + 8 000 port) + 3 x (pw 2*2*2*2+1=17 + update
    # 32/max(8,4,4)+1=5 cycles) + DMA out 72 000
    assert run.image_ps == [5_000 + 72_000 + 3 * 22_000 + 72_000] * 2
    assert run.breakdown_ps["pl ode"] == 2 * 66_000
    assert run.pl_cycles == 2 * 66


def test_weights_are_loaded_once(env: simpy.Environment) -> None:
    block = PlBlock(name="b", layers=(_layer(PlLayerKind.DEPTHWISE, 8, 8),), evals=1, update_elems=0,
                    weight_elems=4096)
    plan = OdePlan(segments=(PlSegment(blocks=(block,), in_elems=8, out_elems=8),))
    proc = env.process(ode_inference(env, _fabric(env), plan, _params(), images=3))
    env.run()
    run = proc.value
    assert run.weights_ps >= 8192 * 1000
    assert env.now == run.weights_ps + sum(run.image_ps)
    assert run.image_ps[0] == run.image_ps[1] == run.image_ps[2] < run.weights_ps


def test_check_tiling_names_layer_and_parallelism() -> None:
    with pytest.raises(BadArgument, match=r"layer 'pointwise': in_channels=6 is not a multiple of the engine's "
                                          r"pw_in=4"):
        check_tiling((_layer(PlLayerKind.POINTWISE, 6, 8, k=1),), _params())
    with pytest.raises(BadArgument, match="dw_channels=8"):
        check_tiling((_layer(PlLayerKind.DEPTHWISE, 12, 12),), _params())
    check_tiling((_layer(PlLayerKind.DENSE, 8, 16),), _params())


def test_bad_arguments(env: simpy.Environment) -> None:
    with pytest.raises(BadArgument, match="images=0"):
        next(ode_inference(env, _fabric(env), OdePlan(segments=()), _params(), images=0))
    with pytest.raises(BadArgument, match="evals=0"):
        PlBlock(name="b", layers=(), evals=0, update_elems=0, weight_elems=0)
    with pytest.raises(BadArgument, match="pw_in=0"):
        _params(pw_in=0)


def test_spilled_state_is_read_and_written_every_step_by_hand(env: simpy.Environment) -> None:
    """Same block as test_timeline_by_hand, state (32 elements = 64 B) kept in DDR: every one of
    the 3 evaluations adds a 64-B read (64 000 DDR + 8 000 port) and a 64-B write (72 000)."""
    pw = _layer(PlLayerKind.POINTWISE, 8, 8, k=1, hw=2)
    on_chip = PlBlock(name="ode", layers=(pw,), evals=3, update_elems=32, weight_elems=72)
    spilled = PlBlock(name="ode", layers=(pw,), evals=3, update_elems=32, weight_elems=72,
                      spill_in_elems=32, spill_out_elems=32)
    assert spilled.spilled and not on_chip.spilled
    runs = []
    for block in (on_chip, spilled):
        env = simpy.Environment()
        plan = OdePlan(segments=(PlSegment(blocks=(block,), in_elems=32, out_elems=32),))
        proc = env.process(ode_inference(env, _fabric(env), plan, _params(), images=2))
        env.run()
        runs.append(proc.value)
    fits, spill = runs
    assert fits.image_ps == [72_000 + 3 * 22_000 + 72_000] * 2
    assert spill.image_ps == [72_000 + 3 * (72_000 + 22_000 + 72_000) + 72_000] * 2
    assert spill.breakdown_ps["spill ode"] == 2 * 3 * 144_000       # the DMA time, per image x images
    assert spill.weights_ps == fits.weights_ps                      # weights still loaded once
    assert spill.pl_cycles == fits.pl_cycles                        # the engine computes the same
    with pytest.raises(BadArgument, match="spill_in_elems=-1"):
        PlBlock(name="b", layers=(pw,), evals=1, update_elems=0, weight_elems=1, spill_in_elems=-1)
