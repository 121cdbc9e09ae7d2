"""The pooling unit: tile schedule, a by-hand timeline, bit-exact functional tiles, bad arguments."""

import numpy as np
import pytest
import simpy

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Overflow, Requantizer, Rounding
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.nn import Pool, PoolKind
from fpgasim.ops.pool import avg_pool2d_f32, avg_pool2d_fixed, max_pool2d_f32, max_pool2d_fixed, pool_divisors
from fpgasim.sim import Clock, DdrChannel, StreamPort
from fpgasim.sim.conv_engine import BoardFabric, EngineParams
from fpgasim.kernels.pool_schedule import PoolTiling, pool_compute_cycles, pool_tiles
from fpgasim.mapping.pool_model import PoolRates, dma_cycles, pool_estimate
from fpgasim.sim.pool_engine import PoolMath, pool_layer


def _pool(kind="max", channels=3, hw=7, kernel=3, stride=2, padding=1, ceil_mode=False) -> Pool:
    return Pool(name="p", kind=kind, channels=channels, in_h=hw, in_w=hw, kernel=kernel, stride=stride,
                padding=padding, ceil_mode=ceil_mode)


def _whole(pool: Pool, batch: int = 1) -> ConvPart:
    return ConvPart(batch=(0, batch), out_ch=(0, pool.channels), out_rows=(0, pool.out_h), out_cols=(0, pool.out_w))


def _fabric(env: simpy.Environment, ddr_bytes_per_s: int = 10**9) -> BoardFabric:
    ddr = DdrChannel(env, "ddr", bytes_per_s=ddr_bytes_per_s, burst_bytes=64)   # default 1 000 ps per byte
    ports = {name: StreamPort(env, name, width_bits=64, clock=Clock.from_mhz(1000))  # 8 bytes per 1 000 ps
             for name in ("ifm", "weights", "ofm")}
    return BoardFabric(name="b0", ddr=ddr, ports=ports)


def _params() -> EngineParams:
    return EngineParams(clock=Clock.from_mhz(1000), pipeline_depth_cycles=3, element_bytes=2, dma_chunk_bytes=64)


def test_tiles_cover_the_region_once_with_their_windows() -> None:
    pool = _pool(hw=7, kernel=3, stride=2, padding=1)          # out 4x4
    tiles = list(pool_tiles(pool, _whole(pool, batch=2), PoolTiling(channels=2, rows=3, cols=4)))
    covered = np.zeros((2, 3, 4, 4), dtype=int)
    for t in tiles:
        covered[t.batch, t.channels[0]:t.channels[1], t.out_rows[0]:t.out_rows[1], t.out_cols[0]:t.out_cols[1]] += 1
    assert (covered == 1).all() and len(tiles) == 2 * 2 * 2 * 1
    first = tiles[0]
    # rows 0..2 read input rows -1..5 (window 7 = (3-1)*2+3): row -1 is padding, rows 0..4 are read
    assert (first.halo_h, first.in_rows, first.pad_top) == (7, (0, 6), 1)
    assert (first.halo_w, first.in_cols, first.pad_left) == (9, (0, 7), 1)
    assert first.ifm_elems == 2 * 6 * 7 and first.ofm_elems == 2 * 3 * 4
    assert pool_compute_cycles(24, 9, 8) == 27 and pool_compute_cycles(1, 4, 8) == 1


def test_a_ceil_mode_tile_reads_the_map_and_pads_the_overhang() -> None:
    """3x3/2 on 8 rows: ceil mode gives 4 output rows (floor 3); the last row's window, input rows 6..8,
    loads rows 6 and 7 and pads one row past the map; the conv redistribution maps it back the same way."""
    from fpgasim.mapping.redistribute import Region, through_pools

    pool = _pool(hw=8, kernel=3, stride=2, padding=0, ceil_mode=True)
    assert (pool.out_h, _pool(hw=8, kernel=3, stride=2, padding=0).out_h) == (4, 3)
    tiles = list(pool_tiles(pool, _whole(pool), PoolTiling(channels=3, rows=1, cols=4)))
    last = tiles[-1]
    assert (last.out_rows, last.in_rows, last.pad_top, last.halo_h) == ((3, 4), (6, 8), 0, 3)
    assert (last.in_cols, last.halo_w) == ((0, 8), 9)
    region = Region((0, 1), (0, 3), (3, 4), (0, 4))
    assert through_pools(region, [pool]) == Region((0, 1), (0, 3), (6, 8), (0, 8))


def test_timeline_by_hand(env: simpy.Environment) -> None:
    """One tile: 4 channels of a 4x4 map, 2x2/2 -> 2x2 output; 16-bit values."""
    pool = _pool(channels=4, hw=4, kernel=2, stride=2, padding=0)
    proc = env.process(pool_layer(env, _fabric(env), pool, _whole(pool), PoolTiling(channels=4, rows=2, cols=2),
                                  _params(), lanes=4))
    env.run()
    run = proc.value
    # load 128 B: two 64-B chunks, DDR 64 000 each, pipelined with the port (8 000 for the last chunk)
    # compute ceil(16 outputs * 4 / 4 lanes) = 16 cycles = 16 000; store 32 B: port 4 000 then DDR 32 000
    assert run.end_ps == 136_000 + 16_000 + 36_000
    assert run.compute_busy_ps == 16_000 and run.steps == 1 and run.macs == 16 * 4
    assert run.bytes_by_stream == {"ifm": 128, "ofm": 32}
    # the model: DDR 0.5 elements/cycle, ports 4, 32-element chunks -> 136 + 16 + 36 cycles
    rates = PoolRates(ddr=0.5, ifm=4, ofm=4, chunk_elems=32)
    assert dma_cycles(64, 32, 0.5, 4) == 64 + 64 + 8 and dma_cycles(16, 32, 4, 0.5) == 4 + 32
    estimate = pool_estimate(pool, _whole(pool), PoolTiling(channels=4, rows=2, cols=2), lanes=4, rates=rates)
    assert estimate.cycles * 1000 == run.end_ps and estimate.tiles == 1


def test_estimate_matches_the_emulator_without_contention(env: simpy.Environment) -> None:
    """Many tiles; a DDR channel 25x faster than the ports (read and write hardly contend): the
    recurrence and the emulator agree to 2 %. With a slow channel they contend and the emulator
    is slower than the model (the gap the report names)."""
    pool = _pool(channels=6, hw=20, kernel=3, stride=2, padding=1)
    tiling = PoolTiling(channels=4, rows=3, cols=5)
    ends = {}
    for ddr in (10**9, 10**11):
        env = simpy.Environment()
        proc = env.process(pool_layer(env, _fabric(env, ddr), pool, _whole(pool, batch=2), tiling, _params(), lanes=2))
        env.run()
        estimate = pool_estimate(pool, _whole(pool, batch=2), tiling, lanes=2,
                                 rates=PoolRates(ddr=ddr / 2e9, ifm=4, ofm=4, chunk_elems=32))
        ends[ddr] = proc.value.end_ps / 1000
        assert ends[ddr] >= estimate.load_cycles                      # the IFM reads alone take this long
    assert estimate.tiles == 2 * 2 * 4 * 2
    assert ends[10**11] == pytest.approx(estimate.cycles, rel=0.02)


def _window(pool: Pool, divisors) -> dict:
    """The layer's direct pool (divisors None) or a tile's unpadded pool with its share of the divisors."""
    geometry = {"kernel": pool.kernel, "stride": pool.stride}
    if divisors is None:
        return {**geometry, "padding": pool.padding, "ceil_mode": pool.ceil_mode}
    return {**geometry, "padding": 0, **({} if pool.kind is PoolKind.MAX else {"divisors": divisors})}


def _fixed_case(kind: str, x: np.ndarray, pool: Pool):
    fmt = FixedFormat(total_bits=8, int_bits=2, signed=True)
    requant = Requantizer(out=fmt, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE,
                          accumulator=Accumulator(bits=24, overflow=Overflow.SATURATE))
    ints = np.clip(np.round(x * 2**fmt.frac_bits), fmt.min_int, fmt.max_int).astype(np.int64)

    def op(values: np.ndarray, divisors=None) -> np.ndarray:
        tensor = FixedTensor(values.astype(fmt.storage_dtype), fmt)
        if kind == "max":
            return max_pool2d_fixed(tensor, **_window(pool, divisors))[0].values
        return avg_pool2d_fixed(tensor, requant=requant, **_window(pool, divisors))[0].values

    return ints, op, (fmt.min_int if kind == "max" else 0)


def _float_case(kind: str, x: np.ndarray, pool: Pool):
    f = max_pool2d_f32 if kind == "max" else avg_pool2d_f32
    return (x.astype(np.float32), lambda values, divisors=None: f(values, **_window(pool, divisors)),
            -np.inf if kind == "max" else 0.0)


@pytest.mark.parametrize("number", ["fixed", "fp32"])
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(("hw", "kernel", "stride", "padding", "tile", "ceil_mode"), [
    (9, 3, 2, 1, (2, 2, 3), False), (8, 2, 2, 0, (3, 3, 2), False), (11, 3, 2, 0, (5, 1, 5), False),
    (6, 3, 1, 1, (1, 4, 4), False),
    # ceil mode: 8 -> 4 and 6 -> 4 outputs (floor mode 3; the last window runs past the map); 10 -> 4 (the
    # fifth window would start in the right padding, so ceil mode drops it)
    (8, 3, 2, 0, (2, 2, 3), True), (6, 3, 2, 1, (3, 1, 4), True), (10, 2, 3, 1, (5, 3, 1), True),
])
def test_assembled_output_equals_the_direct_op(number, kind, hw, kernel, stride, padding, tile, ceil_mode) -> None:
    rng = np.random.default_rng(hw * 10 + kernel)
    pool = _pool(kind=kind, channels=5, hw=hw, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    x = rng.uniform(-1.5, 1.5, size=(2, 5, hw, hw))
    ifm, op, pad = (_fixed_case if number == "fixed" else _float_case)(kind, x, pool)
    reference = op(ifm)
    ofm = np.zeros_like(reference)
    env = simpy.Environment()
    fabric = _fabric(env)
    math = PoolMath(ifm=ifm, ofm=ofm, pool=op, pad_value=pad,
                    divisors=pool_divisors(hw, hw, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode))
    # two "boards" on one fabric, each pooling half of the rows (overlapping by one row)
    half = pool.out_h // 2 + 1
    for rows in ((0, half), (half - 1, pool.out_h)):
        part = ConvPart(batch=(0, 2), out_ch=(0, 5), out_rows=rows, out_cols=(0, pool.out_w))
        env.process(pool_layer(env, fabric, pool, part, PoolTiling(channels=tile[0], rows=tile[1], cols=tile[2]),
                               _params(), lanes=3, math=math))
    env.run()
    assert np.array_equal(ofm, reference)
    assert ofm.dtype == reference.dtype


def test_bad_arguments(env: simpy.Environment) -> None:
    pool = _pool()
    with pytest.raises(BadArgument, match="PoolTiling rows=0"):
        PoolTiling(channels=1, rows=0, cols=1)
    with pytest.raises(BadArgument, match="out_rows=\\(0, 9\\) outside"):
        list(pool_tiles(pool, ConvPart(batch=(0, 1), out_ch=(0, 3), out_rows=(0, 9), out_cols=(0, 4)),
                        PoolTiling(channels=1, rows=1, cols=1)))
    proc = env.process(pool_layer(env, _fabric(env), pool, _whole(pool), PoolTiling(channels=1, rows=1, cols=1),
                                  _params(), lanes=0))
    with pytest.raises(BadArgument, match="lanes=0"):
        env.run()
    assert not proc.ok
