"""DdrChannel: exact single-stream timing, fair round robin between streams, coalescing."""

from fractions import Fraction

import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, DdrChannel, Direction

GBPS = 10**9  # 1 GB/s: 1000 ps per byte, 64 000 ps per 64-byte burst


def _user(env, ddr, log, name, nbytes, delay_ps=0, direction=Direction.READ):
    yield env.timeout(delay_ps)
    yield ddr.transfer(name, nbytes, direction)
    log.append((name, env.now))


@pytest.mark.parametrize("coalesce", [True, False])
def test_single_stream_takes_bytes_over_bandwidth(env, log, coalesce) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64, coalesce=coalesce)
    env.process(_user(env, ddr, log, "a", 1000))  # 15 full bursts + 40 bytes
    env.run()
    assert log == [("a", 1_000_000)]
    assert ddr.stats()["a"].bytes_read == 1000
    assert ddr.stats()["a"].grants == (1 if coalesce else 16)


def test_single_stream_awkward_rate_rounds_once(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=3 * GBPS, burst_bytes=64, coalesce=False)
    env.process(_user(env, ddr, log, "a", 6400))  # 100 bursts of 21333.33 ps
    env.run()
    assert log == [("a", round(6400 * 1000 / 3))]  # 2133333: one rounding, not 100


def test_two_streams_interleave_burst_by_burst(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    env.process(_user(env, ddr, log, "a", 3 * 64))
    env.process(_user(env, ddr, log, "b", 2 * 64))
    env.run()
    # a 0-64k, b 64-128k, a 128-192k, b 192-256k, a 256-320k
    assert log == [("b", 256_000), ("a", 320_000)]
    assert ddr.busy_ps() == 320_000


def test_three_streams_round_robin(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    env.process(_user(env, ddr, log, "a", 128))
    env.process(_user(env, ddr, log, "b", 128))
    env.process(_user(env, ddr, log, "c", 64))
    env.run()
    # a, b, c, a, b
    assert log == [("c", 192_000), ("a", 256_000), ("b", 320_000)]
    stats = ddr.stats()
    assert [stats[s].busy_ps for s in "abc"] == [128_000, 128_000, 64_000]


def test_long_queue_does_not_starve_a_late_stream(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    env.process(_user(env, ddr, log, "big", 1000 * 64))
    env.process(_user(env, ddr, log, "small", 64, delay_ps=100))
    env.run()
    # small waits for the burst in progress only, then big gets the rest
    assert log == [("small", 128_000), ("big", 1001 * 64_000)]


def test_tie_broken_by_registration_order_not_process_order(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    ddr.register("z")
    env.process(_user(env, ddr, log, "a", 64))
    env.process(_user(env, ddr, log, "z", 64))
    env.run()
    assert log == [("z", 64_000), ("a", 128_000)]
    assert ddr.streams() == ["z", "a"]


def test_read_and_write_are_counted_apart(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    env.process(_user(env, ddr, log, "a", 100, direction=Direction.READ))
    env.process(_user(env, ddr, log, "a", 50, delay_ps=1, direction="write"))
    env.run()
    st_a = ddr.stats()["a"]
    assert (st_a.bytes_read, st_a.bytes_written, st_a.bytes_moved) == (100, 50, 150)
    assert log == [("a", 100_000), ("a", 150_000)]  # same stream: FIFO, back to back


def test_controller_clock_rounds_each_completion_without_accumulating(env, log) -> None:
    clk = Clock.from_mhz(300)  # edges at 0, 3333, 6667, 10000, ...
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64, clock=clk, coalesce=False)
    env.process(_user(env, ddr, log, "a", 64))
    env.process(_user(env, ddr, log, "b", 64))
    env.run()
    # byte ends 64000 and 128000 -> next 300 MHz edges: 20*3333.3=66667, 39*3333.3=130000
    assert log == [("a", 66_667), ("b", 130_000)]


def test_zero_bytes_completes_immediately(env, log) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    env.process(_user(env, ddr, log, "a", 0, delay_ps=5))
    env.run()
    assert log == [("a", 5)]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"bytes_per_s": 1.5e9, "burst_bytes": 64}, r"bytes_per_s=1500000000.0 must be a positive int"),
        ({"bytes_per_s": 0, "burst_bytes": 64}, r"bytes_per_s=0 must"),
        ({"bytes_per_s": GBPS, "burst_bytes": 0}, r"burst_bytes=0 must be an int > 0"),
        ({"bytes_per_s": GBPS, "burst_bytes": 64, "clock": 300}, r"clock=300 must be"),
    ],
)
def test_bad_construction_names_the_argument(env, kwargs, pattern) -> None:
    with pytest.raises(BadArgument, match=pattern):
        DdrChannel(env, "ddr0", **kwargs)


def test_bad_transfer_arguments(env) -> None:
    ddr = DdrChannel(env, "ddr0", bytes_per_s=GBPS, burst_bytes=64)
    with pytest.raises(BadArgument, match=r"ddr0: nbytes=-1 must be an int >= 0"):
        ddr.transfer("a", -1)
    with pytest.raises(BadArgument, match=r"ddr0: nbytes=1.5 must"):
        ddr.transfer("a", 1.5)  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match=r"direction='sideways'; expected one of read, write"):
        ddr.transfer("a", 8, "sideways")
    with pytest.raises(BadArgument, match=r"stream='' must be a non-empty str"):
        ddr.transfer("", 8)


# ------------------------------------------------------------------ properties
_jobs = st.lists(st.tuples(st.integers(0, 200_000), st.integers(0, 700)), min_size=1, max_size=4)
_scenario = st.lists(_jobs, min_size=1, max_size=4)
_rates = st.sampled_from([GBPS, 3 * GBPS, Fraction(10**10, 7), 19_200_000_000])


def _run(scenario, rate, burst, clock, coalesce):
    env = simpy.Environment()
    ddr = DdrChannel(env, "ddr", bytes_per_s=rate, burst_bytes=burst, clock=clock, coalesce=coalesce)
    log = []

    def user(name, jobs):
        for gap, nbytes in jobs:
            yield env.timeout(gap)
            yield ddr.transfer(name, nbytes)
            log.append((name, env.now))

    for i, jobs in enumerate(scenario):
        env.process(user(f"s{i}", jobs))
    env.run()
    return log, ddr


@given(_scenario, _rates, st.integers(1, 256), st.booleans())
def test_coalescing_gives_the_burst_by_burst_timeline(scenario, rate, burst, with_clock) -> None:
    clock = Clock.from_mhz(300) if with_clock else None
    fine, ddr_fine = _run(scenario, rate, burst, clock, coalesce=False)
    coarse, ddr_coarse = _run(scenario, rate, burst, clock, coalesce=True)
    assert coarse == fine
    assert {k: (v.bytes_moved, v.busy_ps) for k, v in ddr_coarse.stats().items()} == {
        k: (v.bytes_moved, v.busy_ps) for k, v in ddr_fine.stats().items()
    }


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=5), _rates, st.integers(1, 256))
def test_saturated_channel_is_work_conserving(sizes, rate, burst) -> None:
    scenario = [[(0, n)] for n in sizes]
    log, ddr = _run(scenario, rate, burst, None, coalesce=True)
    assert max(t for _, t in log) == ddr.byte_clock.time_of(sum(sizes))
    assert ddr.busy_ps() == ddr.byte_clock.time_of(sum(sizes))
    assert sum(v.bytes_moved for v in ddr.stats().values()) == sum(sizes)


def test_numpy_integer_sizes_are_accepted(env, log) -> None:
    import numpy as np

    ddr = DdrChannel(env, "ddr0", bytes_per_s=np.int64(GBPS), burst_bytes=64)
    env.process(_user(env, ddr, log, "a", np.int64(128)))
    env.run()
    assert log == [("a", 128_000)]
    assert type(env.now) is int
