"""Clock: exact cycle <-> ps conversion, no drift over long horizons."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.sim import (
    PS_PER_NS, PS_PER_S, PS_PER_US, Clock, duration_ps_ceil, exact_decimal, hz_from_mhz, ms_from_cycles, ms_from_ps, ps_from_ns,
    us_from_ps,
)


def test_300_mhz_edges_round_half_up() -> None:
    clk = Clock.from_mhz(300)  # period 3333.33.. ps
    assert [clk.time_of(n) for n in range(4)] == [0, 3333, 6667, 10000]


def test_156_25_mhz_is_exactly_6400_ps() -> None:
    clk = Clock.from_mhz("156.25")
    assert clk.period_ps == 6400
    assert clk.time_of(10**9) == 6_400 * 10**9


def test_no_drift_over_1e9_cycles_at_300_mhz() -> None:
    clk = Clock(300_000_000)
    # 10**9 cycles of 1/300 MHz = 10/3 s = 3_333_333_333_333.33 ps, rounded
    assert clk.time_of(10**9) == 3_333_333_333_333
    assert clk.time_of(3 * 10**9) == 10**13  # 10 s exactly, no accumulated error


def test_delay_sum_equals_absolute_edges() -> None:
    clk = Clock.from_mhz(300)
    now = 0
    for _ in range(1000):
        now += clk.delay_ps(now, 7)
    assert now == clk.time_of(7000)


def test_delay_starts_at_next_edge() -> None:
    clk = Clock(10**9)  # 1000 ps
    assert clk.delay_ps(0, 1) == 1000
    assert clk.delay_ps(1, 1) == 1999  # waits for the edge at 1000, then one cycle
    assert clk.delay_ps(1000, 0) == 0
    assert clk.delay_ps(999, 0) == 1


@given(st.integers(1, 10**12), st.integers(0, 10**15))
def test_edge_at_or_after_is_the_smallest_such_edge(freq_hz: int, t_ps: int) -> None:
    clk = Clock(freq_hz)
    n = clk.edge_at_or_after(t_ps)
    assert clk.time_of(n) >= t_ps
    assert n == 0 or clk.time_of(n - 1) < t_ps


@given(st.integers(1, 10**12), st.integers(0, 10**12))
def test_time_of_is_within_half_ps_of_exact(freq_hz: int, cycle: int) -> None:
    clk = Clock(freq_hz)
    exact = Fraction(cycle * 10**12, freq_hz)
    assert abs(clk.time_of(cycle) - exact) <= Fraction(1, 2)


def test_cycles_between_counts_edges() -> None:
    clk = Clock(10**9)
    assert clk.cycles_between(0, 1000) == 1
    assert clk.cycles_between(1, 3001) == 3
    assert clk.cycles_between(5, 5) == 0


@pytest.mark.parametrize("bad", [300e6, 0, -5, True, "300", 10**12 + 1])
def test_bad_frequency_is_rejected_with_its_value(bad: object) -> None:
    with pytest.raises(BadArgument, match=r"freq_hz=.*must"):
        Clock(bad)  # type: ignore[arg-type]


def test_from_mhz_rejects_garbage() -> None:
    with pytest.raises(BadArgument, match="^port: freq_mhz='fast' is not a number$"):
        Clock.from_mhz("fast", name="port")
    with pytest.raises(BadArgument, match="freq_mhz=True is not a number"):
        Clock.from_mhz(True)
    with pytest.raises(BadArgument, match="freq_mhz=inf: expected a finite number"):
        Clock.from_mhz(float("inf"))


def test_from_mhz_reads_a_float_as_the_decimal_it_prints() -> None:
    assert Clock.from_mhz(156.25).period_ps == 6400
    assert Clock.from_mhz(333.3333333).freq_hz == Fraction(3333333333, 10)  # not 1000/3 MHz
    assert Clock.from_mhz(100.0).freq_hz == Clock.from_mhz(100).freq_hz == 10**8


@given(units=st.integers(1, 4095), decimals=st.integers(0, 6), digits=st.integers(0, 10**6 - 1))
def test_from_mhz_float_equals_both_former_conversions(units: int, decimals: int, digits: int) -> None:
    """A YAML float below 4.096 GHz with at most 6 decimals: the emulator's former
    ``limit_denominator(10**6)`` and the dsODENet study's former ``Fraction(str(mhz))`` give this
    same clock (the float is within half an ulp < 0.5e-12 of the decimal, and any other fraction
    of denominator <= 10**6 is >= 1e-12 from it; above 4 GHz they can differ)."""
    mhz = float(f"{units}.{digits % 10**decimals:0{decimals}d}") if decimals else float(units)
    expected = Fraction(mhz).limit_denominator(10**6) * 10**6
    assert Clock.from_mhz(mhz).freq_hz == expected == Fraction(str(mhz)) * 10**6


def test_hz_from_mhz_is_the_exact_decimal_in_hz() -> None:
    assert hz_from_mhz(156.25) == Fraction(625, 4) * 10**6 == Clock.from_mhz(156.25).freq_hz
    assert hz_from_mhz("333") == 333 * 10**6
    with pytest.raises(BadArgument, match="^port: freq_mhz='x' is not a number$"):
        hz_from_mhz("x", name="port: freq_mhz")


def test_exact_decimal_hand_values() -> None:
    assert exact_decimal(0.1) == Fraction(1, 10)
    assert exact_decimal("1e3") == 1000
    assert exact_decimal(Fraction(625, 4)) == Fraction(625, 4)
    assert exact_decimal(19200000000.0) == 19_200_000_000
    with pytest.raises(BadArgument, match="^rate=nan: expected a finite number$"):
        exact_decimal(float("nan"), name="rate")


def test_ps_from_ns_rounds_to_nearest_ties_to_even() -> None:
    assert ps_from_ns(12.5) == 12_500
    assert ps_from_ns(0.0004) == 0
    assert ps_from_ns(0.0015) == 2          # 1.5 ps → 2
    assert ps_from_ns(0.0025) == 2          # 2.5 ps → 2 (ties to even, as the emulator always did)
    assert ps_from_ns(100) == 100_000


@given(t_ps=st.integers(0, 10**13))
def test_ps_from_ns_round_trips_whole_ps(t_ps: int) -> None:
    assert ps_from_ns(t_ps / PS_PER_NS) == t_ps


def test_duration_ps_ceil_hand_values() -> None:
    assert duration_ps_ceil(0, 1e9) == 0
    assert duration_ps_ceil(3, 1e9) == 3000
    assert duration_ps_ceil(1, 3e9) == 334  # 333.3 ps rounded up


@given(count=st.integers(0, 10**9), per_s=st.floats(1e3, 1e13))
def test_duration_ps_ceil_is_monotone_and_covers_the_float_time(count: int, per_s: float) -> None:
    t_ps = duration_ps_ceil(count, per_s)
    assert t_ps >= count * 1e12 / per_s
    assert t_ps <= duration_ps_ceil(count + 1, per_s)


def test_report_units() -> None:
    assert us_from_ps(1_500_000) == 1.5
    assert ms_from_ps(2_500_000_000) == 2.5
    assert ms_from_cycles(1000, 100.0) == 0.01


def test_cycles_ceil_rounds_a_modelled_time_up() -> None:
    clk = Clock.from_mhz(100)
    assert clk.cycles_ceil(0.0) == 0
    assert clk.cycles_ceil(1e-6) == 100
    assert clk.cycles_ceil(1.01e-8) == 2  # 1.01 cycles


@given(mhz=st.integers(1, 1000), cycles=st.integers(0, 10**6))
def test_cycles_ceil_covers_the_time_and_is_tight(mhz: int, cycles: int) -> None:
    clk = Clock.from_mhz(mhz)
    seconds = clk.time_of(cycles) / PS_PER_S
    n = clk.cycles_ceil(seconds)
    assert n / (mhz * 1e6) >= seconds * (1 - 1e-12)
    assert n <= cycles + 1


@given(mhz=st.integers(1, 1000), cycles=st.integers(0, 10**6))
def test_ms_from_cycles_agrees_with_the_clock_edges(mhz: int, cycles: int) -> None:
    edge_ps = Clock.from_mhz(mhz).time_of(cycles)
    assert abs(ms_from_cycles(cycles, float(mhz)) * 1e9 - edge_ps) <= 0.5 + 1e-3
    assert us_from_ps(edge_ps) * PS_PER_US == pytest.approx(edge_ps, rel=1e-15, abs=0)
