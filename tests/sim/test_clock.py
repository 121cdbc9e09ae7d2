"""Clock: exact cycle <-> ps conversion, no drift over long horizons."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock


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


def test_from_mhz_rejects_float_and_garbage() -> None:
    with pytest.raises(BadArgument, match="freq_mhz=156.25 must be exact"):
        Clock.from_mhz(156.25)  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="freq_mhz='fast' is not a number"):
        Clock.from_mhz("fast")
