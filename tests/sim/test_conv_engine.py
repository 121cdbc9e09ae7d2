"""The tiled-conv engine: functional tiles assemble bit for bit; timing matches the closed form."""

import numpy as np
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.fixedpoint import Accumulator, FixedFormat, Requantizer, finish_accumulation, quantize
from fpgasim.kernels.conv_schedule import ConvPart, Tiling, conv_schedule, count_tiles
from fpgasim.mapping import ModelVariant, StreamRates, conv_shape, layer_latency
from fpgasim.nn import Conv2d
from fpgasim.ops.conv import conv2d_fixed, conv2d_int_sums
from fpgasim.sim import Clock, DdrChannel, StreamPort
from fpgasim.sim.conv_engine import BoardFabric, EngineParams, TileMath, conv_layer

FMT = FixedFormat(total_bits=8, int_bits=2, signed=True)
REQ = Requantizer(out=FixedFormat(total_bits=16, int_bits=6, signed=True), rounding="half_even",
                  overflow="saturate", accumulator=Accumulator(bits=48, overflow="wrap"))
CLOCK = Clock.from_mhz(100)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin = groups * draw(st.integers(1, 6))
    cout = groups * draw(st.integers(1, 6))
    kh, kw = draw(st.sampled_from([1, 3, 5])), draw(st.sampled_from([1, 3, 5]))  # rectangular windows too
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    size = draw(st.integers(max(kh, kw), 12))
    layer = Conv2d(name="c", in_channels=cin, out_channels=cout, in_h=size, in_w=size + 1, kernel=(kh, kw),
                   stride=stride, padding=padding, groups=groups)
    tiling = Tiling(tm=draw(st.integers(1, 5)), tn=draw(st.integers(1, 5)), tr=draw(st.integers(1, 6)),
                    tc=draw(st.integers(1, 6)))
    return layer, tiling, draw(st.integers(1, 2)), draw(st.integers(0, 2**31))


def _fabric(env, ddr_bytes_per_s=12_800_000_000, width_bits=64):
    ddr = DdrChannel(env, "ddr", bytes_per_s=ddr_bytes_per_s, burst_bytes=256)
    ports = {n: StreamPort(env, f"axis_{n}", width_bits=width_bits, clock=CLOCK) for n in ("ifm", "weights", "ofm")}
    return BoardFabric(name="b0", ddr=ddr, ports=ports)


def _run(layer, part, tiling, *, math=None, ddr_bytes_per_s=12_800_000_000, element_bytes=1):
    env = simpy.Environment()
    params = EngineParams(clock=CLOCK, pipeline_depth_cycles=6, element_bytes=element_bytes, dma_chunk_bytes=256)
    proc = env.process(conv_layer(env, _fabric(env, ddr_bytes_per_s), layer, part, tiling, params, math=math))
    env.run()
    return proc.value


@given(conv_cases())
def test_functional_tiles_assemble_bit_exactly(case):
    layer, tiling, batch, seed = case
    rng = np.random.default_rng(seed)
    x, _ = quantize(rng.normal(size=(batch, layer.in_channels, layer.in_h, layer.in_w)), FMT,
                    rounding="half_even", overflow="saturate")
    w, _ = quantize(rng.normal(size=(layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h,
                                     layer.kernel_w)) * 0.3, FMT, rounding="half_even", overflow="saturate")
    reference, _ = conv2d_fixed(x, w, None, stride=layer.stride, padding=layer.padding, groups=layer.groups,
                                requant=REQ)
    ofm = np.zeros(reference.shape, dtype=np.int64)
    math = TileMath(ifm=x.values.astype(np.int64), weights=w.values.astype(np.int64), ofm=ofm,
                    partial=lambda t, k, s: conv2d_int_sums(t, k, stride=s, padding=0, groups=1),
                    finish=lambda acc, _och: finish_accumulation(acc, 2 * FMT.frac_bits, REQ)[0].values)
    run = _run(layer, ConvPart.whole(layer, batch=batch), tiling, math=math)
    assert np.array_equal(ofm, reference.values)
    assert run.steps == count_tiles(layer, ConvPart.whole(layer, batch=batch), tiling)
    assert run.macs == layer.macs * batch


@settings(max_examples=25)
@given(conv_cases())
def test_uncontended_timing_matches_the_complete_model(case):
    """Bandwidth so high that DDR never contends: emulated cycles = model cycles within 1%
    plus one DMA chunk per transfer and the pipeline depth per step (the documented fill)."""
    layer, tiling, batch, _ = case
    part = ConvPart.whole(layer, batch=batch)
    run = _run(layer, part, tiling, ddr_bytes_per_s=10**12, element_bytes=1)
    cycles = CLOCK.cycles_between(run.start_ps, run.end_ps)
    shape = conv_shape(layer, batch=batch)
    model = layer_latency(shape, tiling,
                          rates=StreamRates.uniform(8, link=False), variant=ModelVariant.COMPLETE)
    steps = run.steps
    slack = 0.01 * model.cycles + steps * (6 + 3) + model.fill_cycles + model.drain_cycles + 10
    # Edge tiles are smaller in the engine than in the model's ⌈⌉ count, so it may only be faster.
    assert cycles <= model.cycles + slack
    assert cycles >= sum(s.compute_cycles for s in conv_schedule(layer, part, tiling, pipeline_depth_cycles=6))


def test_shared_ddr_makes_the_engine_slower_never_faster():
    layer = Conv2d(name="c", in_channels=16, out_channels=16, in_h=12, in_w=12, kernel=3, padding=1)
    tiling = Tiling(tm=8, tn=8, tr=6, tc=6)
    part = ConvPart.whole(layer, batch=1)
    fast = _run(layer, part, tiling, ddr_bytes_per_s=10**12)
    slow = _run(layer, part, tiling, ddr_bytes_per_s=200_000_000)
    assert slow.end_ps > fast.end_ps
    assert slow.compute_busy_ps == fast.compute_busy_ps


@settings(max_examples=25)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 4), st.tuples(st.sampled_from([1, 3]), st.sampled_from([1, 3])), st.integers(1, 2))
def test_whole_tiles_agree_with_the_model_within_one_percent(tm, tn, m_tiles, n_tiles, tr, tc, kernel, rate):
    """No edge tiles, no padding (the engine does not load padding from DDR; the model counts
    it) and no contention: |emulated − model| ≤ 1% + 2 cycles per step (DMA chunk latency)."""
    r_tiles, c_tiles = 2, 3
    out_h, out_w = tr * r_tiles, tc * c_tiles
    layer = Conv2d(name="c", in_channels=tn * n_tiles, out_channels=tm * m_tiles, in_h=out_h + kernel[0] - 1,
                   in_w=out_w + kernel[1] - 1, kernel=kernel, padding=0)
    tiling = Tiling(tm=tm, tn=tn, tr=tr, tc=tc)
    env = simpy.Environment()
    width = 8 * rate  # bits per cycle = `rate` one-byte elements per cycle
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**12, burst_bytes=64)
    ports = {n: StreamPort(env, f"axis_{n}", width_bits=width, clock=CLOCK) for n in ("ifm", "weights", "ofm")}
    params = EngineParams(clock=CLOCK, pipeline_depth_cycles=0, element_bytes=1, dma_chunk_bytes=64)
    part = ConvPart.whole(layer, batch=1)
    proc = env.process(conv_layer(env, BoardFabric(name="b", ddr=ddr, ports=ports), layer, part, tiling, params))
    env.run()
    cycles = CLOCK.cycles_between(proc.value.start_ps, proc.value.end_ps)
    model = layer_latency(conv_shape(layer, batch=1), tiling,
                          rates=StreamRates.uniform(rate, link=False), variant=ModelVariant.COMPLETE)
    assert abs(cycles - model.cycles) <= 0.01 * model.cycles + 2 * proc.value.steps + 2, (cycles, model.cycles)
