"""The dsODENet PL engine process: cycle formulas, one node's timeline by hand, spills, tiling."""

import pytest
import simpy

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, DdrChannel, StreamPort
from fpgasim.sim.ode_engine import (
    OdeEngineParams, OdeFabric, OdeWork, PlBlock, PlLayer, PlLayerKind, check_tiling, eval_cycles, layer_cycles,
    ode_node, update_cycles,
)


def _params(**kw) -> OdeEngineParams:
    args = dict(clock=Clock.from_mhz(1000), dw_channels=8, pw_in=4, pw_out=4, pipeline_depth_cycles=1,
                element_bytes=2, dma_chunk_bytes=64, stream_width_bits=64)
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


def _run(work: OdeWork):
    env = simpy.Environment()
    proc = env.process(ode_node(env, _fabric(env), work))
    env.run()
    return env.now, proc.value


PW = _layer(PlLayerKind.POINTWISE, 8, 8, k=1, hw=2)
BLOCK = PlBlock(name="ode", layers=(PW,), evals=3, update_elems=32, weight_elems=72)


def test_timeline_by_hand() -> None:
    # weights: 144 B in 64-B chunks, DDR-bound: 144 000 ps of DDR + the last 16-B chunk on the port (2 000)
    now, run = _run(OdeWork(params=_params(), host_port="hp", weight_elems=72))
    assert now == 146_000 and run.phases_ps == {"load weights": 146_000} and run.compute_busy_ps == 0
    # DMA in (64 B: 64 000 DDR + 8 000 port) + 3 x (pw 2*2*2*2+1=17 + update 32/max(8,4,4)+1=5 cycles)
    # + DMA out 72 000
    assert eval_cycles(BLOCK, _params()) == 22
    now, run = _run(OdeWork(params=_params(), host_port="hp", in_elems=32, block=BLOCK, out_elems=32))
    assert now == 72_000 + 3 * 22_000 + 72_000
    assert run.phases_ps == {"dma PS->PL": 72_000, "pl ode": 66_000, "dma PL->PS": 72_000}
    assert run.compute_busy_ps == 66_000
    # a block inside a run of on-chip blocks moves no feature map
    now, run = _run(OdeWork(params=_params(), host_port="hp", block=BLOCK))
    assert now == 66_000 and run.phases_ps == {"pl ode": 66_000}


def test_spilled_state_is_read_and_written_every_step_by_hand() -> None:
    """Same block, state (32 elements = 64 B) kept in DDR: every one of the 3 evaluations adds a
    64-B read (64 000 DDR + 8 000 port) and a 64-B write (72 000)."""
    spilled = PlBlock(name="ode", layers=(PW,), evals=3, update_elems=32, weight_elems=72,
                      spill_in_elems=32, spill_out_elems=32)
    assert spilled.spilled and not BLOCK.spilled
    now, run = _run(OdeWork(params=_params(), host_port="hp", in_elems=32, block=spilled, out_elems=32))
    assert now == 72_000 + 3 * (72_000 + 22_000 + 72_000) + 72_000
    assert run.phases_ps["spill ode"] == 3 * 144_000 and run.phases_ps["pl ode"] == 66_000
    with pytest.raises(BadArgument, match="spill_in_elems=-1"):
        PlBlock(name="b", layers=(PW,), evals=1, update_elems=0, weight_elems=1, spill_in_elems=-1)


def test_check_tiling_names_layer_and_parallelism() -> None:
    with pytest.raises(BadArgument, match=r"layer 'pointwise': in_channels=6 is not a multiple of the engine's "
                                          r"pw_in=4"):
        check_tiling((_layer(PlLayerKind.POINTWISE, 6, 8, k=1),), _params())
    with pytest.raises(BadArgument, match="dw_channels=8"):
        check_tiling((_layer(PlLayerKind.DEPTHWISE, 12, 12),), _params())
    check_tiling((_layer(PlLayerKind.DENSE, 8, 16),), _params())
    untileable = PlBlock(name="b", layers=(_layer(PlLayerKind.POINTWISE, 6, 8, k=1),), evals=1, update_elems=0,
                         weight_elems=1)
    with pytest.raises(BadArgument, match="in_channels=6"):
        _run(OdeWork(params=_params(), host_port="hp", block=untileable))


def test_bad_arguments() -> None:
    with pytest.raises(BadArgument, match="in_elems=-1"):
        OdeWork(params=_params(), host_port="hp", in_elems=-1)
    with pytest.raises(BadArgument, match="evals=0"):
        PlBlock(name="b", layers=(), evals=0, update_elems=0, weight_elems=0)
    with pytest.raises(BadArgument, match="pw_in=0"):
        _params(pw_in=0)
    with pytest.raises(BadArgument, match="stream_width_bits=0"):
        _params(stream_width_bits=0)
