"""quantize / dequantize / requantize / round_shift / fit_range / finish_accumulation.

References are exact rational arithmetic (``fractions.Fraction``), independent of the numpy code.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import (
    Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, dequantize,
    finish_accumulation, fit_range, quantize, requantize, round_shift,
)
from tests.strategies.numeric import (
    fixed_formats, fixed_tensors, float_arrays_in_range, overflows, roundings,
)


def fmt(w, i, s=True):
    return FixedFormat(total_bits=w, int_bits=i, signed=s)


def ref_round(x: Fraction, rounding: Rounding) -> int:
    if rounding is Rounding.TRUNCATE:
        return math.floor(x)
    if rounding is Rounding.HALF_UP:
        return math.floor(x + Fraction(1, 2))
    return round(x)  # Fraction.__round__ is half-to-even


def ref_fit(q: int, lo: int, hi: int, bits: int, overflow: Overflow) -> int:
    if lo <= q <= hi:
        return q
    if overflow is Overflow.SATURATE:
        return min(max(q, lo), hi)
    return (q - lo) % (1 << bits) + lo


# --- rounding, hand-computed -------------------------------------------------------------

TIES = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (Rounding.TRUNCATE, [-3, -2, -1, 0, 1, 2]),
        (Rounding.HALF_UP, [-2, -1, 0, 1, 2, 3]),
        (Rounding.HALF_EVEN, [-2, -2, 0, 0, 2, 2]),
    ],
)
def test_ties_hand_computed(rounding, expected) -> None:
    t, counts = quantize(np.array(TIES), fmt(8, 8), rounding=rounding, overflow=Overflow.SATURATE)
    assert t.values.tolist() == expected and counts == OverflowCounts()
    # the same ties as integers with one fraction bit, through round_shift
    assert round_shift(np.array([-5, -3, -1, 1, 3, 5]), 1, rounding).tolist() == expected


@pytest.mark.parametrize(
    ("value", "int_bits", "rounding", "q"),
    [
        (0.49999999999999994, 8, Rounding.HALF_UP, 0),  # floor(x + 0.5) in float would give 1
        (-0.49999999999999994, 8, Rounding.HALF_UP, 0),
        (0.49999999999999994, 8, Rounding.HALF_EVEN, 0),
        (-0.0625, 8, Rounding.TRUNCATE, -1),  # toward minus infinity, not toward zero
        (0.3, 4, Rounding.HALF_UP, 5),  # ap_fixed<8,4>: 0.3*16 = 4.8 -> 5
        (0.3, 4, Rounding.TRUNCATE, 4),
    ],
)
def test_rounding_edge_cases(value, int_bits, rounding, q) -> None:
    t, _ = quantize(np.array([value]), fmt(8, int_bits), rounding=rounding, overflow=Overflow.SATURATE)
    assert int(t.values[0]) == q


# --- overflow counted exactly ------------------------------------------------------------

def test_saturate_and_wrap_hand_computed() -> None:
    x = np.array([-200.0, -129.0, -128.0, 0.0, 127.0, 128.0, 300.0])
    sat, c_sat = quantize(x, fmt(8, 8), rounding=Rounding.TRUNCATE, overflow=Overflow.SATURATE)
    wrap, c_wrap = quantize(x, fmt(8, 8), rounding=Rounding.TRUNCATE, overflow="wrap")
    assert sat.values.tolist() == [-128, -128, -128, 0, 127, 127, 127]
    assert wrap.values.tolist() == [56, 127, -128, 0, 127, -128, 44]
    assert c_sat == c_wrap == OverflowCounts(output=4, accumulator=0)


def test_unsigned_wrap_and_saturate() -> None:
    x = np.array([-1.0, 0.0, 15.9375, 16.0, 17.5])
    sat, c = quantize(x, fmt(8, 4, False), rounding=Rounding.TRUNCATE, overflow=Overflow.SATURATE)
    assert sat.values.tolist() == [0, 0, 255, 255, 255] and c.output == 3
    wrap, c = quantize(x, fmt(8, 4, False), rounding=Rounding.TRUNCATE, overflow=Overflow.WRAP)
    assert wrap.values.tolist() == [240, 0, 255, 0, 24] and c.output == 3


def test_fit_range_63_bit_register_wraps() -> None:
    lo, hi = -(2**62), 2**62 - 1
    out, count = fit_range(np.array([2**62, -(2**62) - 1, 5, 2**63 - 1]), lo, hi, 63, Overflow.WRAP)
    assert out.tolist() == [lo, hi, 5, -1] and count == 3


# --- properties over every format 2..32 bits ----------------------------------------------

@given(st.data(), fixed_formats())
def test_round_trip_exact_on_the_grid(data, f: FixedFormat) -> None:
    t = data.draw(fixed_tensors(f, (5,)))
    rounding, overflow = data.draw(roundings), data.draw(overflows)
    back, counts = quantize(dequantize(t), f, rounding=rounding, overflow=overflow)
    assert np.array_equal(back.values, t.values) and back.values.dtype == f.storage_dtype
    assert counts.total == 0
    assert np.array_equal(t.to_float(), [Fraction(int(q), 2**f.frac_bits) for q in t.values])


@given(st.data(), fixed_formats(), roundings, overflows)
def test_quantize_matches_exact_reference(data, f: FixedFormat, rounding, overflow) -> None:
    wide = fmt(32, min(32, f.int_bits + 3), f.signed)  # draws reach a little beyond f's range
    x = data.draw(float_arrays_in_range(wide, (6,)))
    t, counts = quantize(x, f, rounding=rounding, overflow=overflow)
    expected, outside = [], 0
    for v in x:
        q = ref_round(Fraction(float(v)) * 2**f.frac_bits, rounding)
        outside += not (f.min_int <= q <= f.max_int)
        expected.append(ref_fit(q, f.min_int, f.max_int, f.total_bits, overflow))
    assert t.values.tolist() == expected
    assert counts == OverflowCounts(output=outside)


@given(st.data(), fixed_formats(), fixed_formats(), roundings, overflows)
def test_requantize_matches_exact_reference(data, src, dst, rounding, overflow) -> None:
    if dst.frac_bits - src.frac_bits + src.total_bits > 63:
        with pytest.raises(BadArgument, match="overflows int64"):
            requantize(data.draw(fixed_tensors(src, (1,))), dst, rounding=rounding, overflow=overflow)
        return
    t = data.draw(fixed_tensors(src, (6,)))
    out, counts = requantize(t, dst, rounding=rounding, overflow=overflow)
    expected, outside = [], 0
    for q in t.values.tolist():
        r = ref_round(Fraction(q, 1) * Fraction(2) ** (dst.frac_bits - src.frac_bits), rounding)
        outside += not (dst.min_int <= r <= dst.max_int)
        expected.append(ref_fit(r, dst.min_int, dst.max_int, dst.total_bits, overflow))
    assert out.values.tolist() == expected and out.fmt == dst
    assert counts == OverflowCounts(output=outside)


@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=8), st.integers(0, 40), roundings)
def test_round_shift_matches_exact_reference(values, shift, rounding) -> None:
    got = round_shift(np.array(values, dtype=np.int64), shift, rounding)
    assert got.tolist() == [ref_round(Fraction(v, 2**shift), rounding) for v in values]


@given(st.lists(st.integers(-(2**62), 2**62 - 1), min_size=1, max_size=8), st.integers(2, 63), overflows)
def test_fit_range_matches_reference(values, bits, overflow) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    got, count = fit_range(np.array(values, dtype=np.int64), lo, hi, bits, overflow)
    assert got.tolist() == [ref_fit(v, lo, hi, bits, overflow) for v in values]
    assert count == sum(not lo <= v <= hi for v in values)


# --- finish_accumulation: accumulator overflow counted separately -------------------------

def _rq(out, acc_bits, acc_overflow, rounding=Rounding.TRUNCATE, overflow=Overflow.SATURATE):
    return Requantizer(out=out, rounding=rounding, overflow=overflow,
                       accumulator=Accumulator(bits=acc_bits, overflow=acc_overflow))


def test_finish_accumulation_hand_computed() -> None:
    # sums with 4 fraction bits; 8-bit accumulator wraps, output ap_fixed<4,4> saturates.
    sums = np.array([16, 130, 40, -24, 24])  # 1.0, 8.125 (leaves the accumulator), 2.5, -1.5, 1.5
    out, counts = finish_accumulation(sums, 4, _rq(fmt(4, 4), 8, Overflow.WRAP, Rounding.HALF_EVEN))
    # 130 wraps to -126 (= -7.875) -> half_even -> -8; 2.5 -> 2; -1.5 -> -2; 1.5 -> 2
    assert out.values.tolist() == [1, -8, 2, -2, 2]
    assert counts == OverflowCounts(output=0, accumulator=1)
    out, counts = finish_accumulation(sums, 4, _rq(fmt(4, 4), 8, Overflow.SATURATE, Rounding.HALF_UP))
    # 130 saturates to 127 (7.9375) -> 8 -> output saturates to 7; 2.5 -> 3; -1.5 -> -1
    assert out.values.tolist() == [1, 7, 3, -1, 2]
    assert counts == OverflowCounts(output=1, accumulator=1)


@given(st.data(), fixed_formats(max_bits=16), st.integers(2, 40), overflows, roundings, overflows)
def test_finish_accumulation_matches_reference(data, out, acc_bits, acc_ovf, rounding, ovf) -> None:
    frac = data.draw(st.integers(out.frac_bits, out.frac_bits + 20))
    sums = data.draw(st.lists(st.integers(-(2**45), 2**45), min_size=1, max_size=6))
    got, counts = finish_accumulation(np.array(sums), frac, _rq(out, acc_bits, acc_ovf, rounding, ovf))
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    exp, n_acc, n_out = [], 0, 0
    for s in sums:
        n_acc += not lo <= s <= hi
        r = ref_round(Fraction(ref_fit(s, lo, hi, acc_bits, acc_ovf), 2 ** (frac - out.frac_bits)), rounding)
        n_out += not out.min_int <= r <= out.max_int
        exp.append(ref_fit(r, out.min_int, out.max_int, out.total_bits, ovf))
    assert got.values.tolist() == exp and counts == OverflowCounts(output=n_out, accumulator=n_acc)


# --- bad arguments ---------------------------------------------------------------------------

def test_bad_arguments_name_themselves() -> None:
    f = fmt(8, 4)
    with pytest.raises(BadArgument, match="rounding='up' is not one of"):
        quantize(np.zeros(2), f, rounding="up", overflow="wrap")
    with pytest.raises(BadArgument, match="overflow='clamp' is not one of"):
        quantize(np.zeros(2), f, rounding="truncate", overflow="clamp")
    with pytest.raises(BadArgument, match="NaN or infinity"):
        quantize(np.array([np.nan]), f, rounding="truncate", overflow="wrap")
    with pytest.raises(BadArgument, match="sum_frac_bits=-1"):
        finish_accumulation(np.zeros(2, np.int64), -1, _rq(f, 32, Overflow.WRAP))
    with pytest.raises(BadArgument, match="expected an integer array"):
        FixedTensor(np.zeros(2), f)
    with pytest.raises(BadArgument, match="values outside ap_fixed<8,4>"):
        FixedTensor(np.array([128]), f)
    with pytest.raises(BadArgument, match="fmt="):
        FixedTensor(np.array([1]), "ap_fixed<8,4>")


def test_overflow_counts_add() -> None:
    total = OverflowCounts(output=1, accumulator=2) + OverflowCounts(output=3, accumulator=4)
    assert total == OverflowCounts(output=4, accumulator=6) and total.total == 10
