"""Linear layer: hand-computed, fast paths vs reference, fixed point bit-exact vs exact arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import (
    Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, finish_accumulation,
)
from fpgasim.ops.linear import align_bias, linear_f32, linear_fixed, linear_int_sums, linear_ref
from tests.strategies.numeric import fixed_formats, fixed_tensors, roundings


def fmt(w, i, s=True):
    return FixedFormat(total_bits=w, int_bits=i, signed=s)


def rq(out, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE, acc_bits=48):
    return Requantizer(out=out, rounding=rounding, overflow=overflow,
                       accumulator=Accumulator(bits=acc_bits, overflow=Overflow.WRAP))


def test_hand_computed() -> None:
    x = np.array([[1.0, 2.0, 3.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
    assert linear_ref(x, w, np.array([10.0, 0.0])).tolist() == [[8.0, 3.0]]
    assert linear_f32(x, w, np.array([10.0, 0.0])).tolist() == [[8.0, 3.0]]
    assert linear_int_sums(np.array([[1, 2, 3]]), np.array([[1, 0, -1], [2, 2, 2]])).tolist() == [[-2, 12]]


@given(st.integers(1, 4), st.integers(1, 20), st.integers(1, 6), st.integers(0, 2**31))
def test_f32_matches_reference(n, k, m, seed) -> None:
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, k)), rng.standard_normal((m, k)), rng.standard_normal(m)
    got = linear_f32(x, w, b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, linear_ref(x, w, b), rtol=1e-4, atol=1e-5 * k)


@given(st.data(), fixed_formats(max_bits=12), fixed_formats(max_bits=12), roundings)
def test_fixed_matches_exact_rational(data, fx, fw, rounding) -> None:
    n, k, m = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    x, w = data.draw(fixed_tensors(fx, (n, k))), data.draw(fixed_tensors(fw, (m, k)))
    fb = data.draw(fixed_formats(max_bits=12))
    b = data.draw(fixed_tensors(fb, (m,)))
    out_fmt = fmt(32, 20)
    got, counts = linear_fixed(x, w, b, requant=rq(out_fmt, rounding))
    frac = fx.frac_bits + fw.frac_bits
    # exact sum of the products, plus the bias aligned as documented
    exact = [[sum(Fraction(int(x.values[i, j]) * int(w.values[o, j]), 2**frac) for j in range(k)) for o in range(m)]
             for i in range(n)]
    bias_aligned = align_bias(b, frac, rounding)
    if fb.frac_bits <= frac:
        assert [Fraction(int(v), 2**frac) for v in bias_aligned] == [Fraction(int(v), 2**fb.frac_bits) for v in b.values]
    sums = np.array([[int(e * 2**frac) for e in row] for row in exact], dtype=np.int64) + bias_aligned
    want, want_counts = finish_accumulation(sums, frac, rq(out_fmt, rounding))
    assert np.array_equal(got.values, want.values) and counts == want_counts


def test_fixed_hand_computed_with_overflow() -> None:
    x = FixedTensor(np.array([[3, -1]], np.int8), fmt(8, 7))  # 1.5, -0.5
    w = FixedTensor(np.array([[2, 4], [127, 127]], np.int8), fmt(8, 6))  # 0.5, 1.0 ; 31.75, 31.75
    b = FixedTensor(np.array([1, 0], np.int8), fmt(8, 8))  # 1, 0
    out, counts = linear_fixed(x, w, b, requant=rq(fmt(8, 5), Rounding.HALF_UP))  # range -16..15.875
    # o0: 0.75 - 0.5 + 1 = 1.25 (exact in 3 fraction bits); o1: 31.75 → saturates at 15.875
    assert out.to_float().tolist() == [[1.25, 15.875]] and counts == OverflowCounts(output=1)


def test_bad_arguments() -> None:
    x, w = np.zeros((2, 3)), np.zeros((4, 3))
    with pytest.raises(ShapeError, match=r"w has shape \(4, 2\) but x has 3 features"):
        linear_ref(x, np.zeros((4, 2)))
    with pytest.raises(ShapeError, match=r"bias has shape \(3,\): expected \(4,\)"):
        linear_f32(x, w, np.zeros(3))
    with pytest.raises(ShapeError, match=r"x has shape \(3,\)"):
        linear_ref(np.zeros(3), w)
    with pytest.raises(BadArgument, match="x_int has dtype float64"):
        linear_int_sums(x, w.astype(int))
    with pytest.raises(BadArgument, match="linear sums may reach"):
        linear_int_sums(np.full((1, 4), 2**31), np.full((1, 4), 2**31))
    t = FixedTensor(np.zeros((2, 3), np.int8), fmt(8, 4))
    with pytest.raises(BadArgument, match="w=ndarray: expected a FixedTensor"):
        linear_fixed(t, w, None, requant=rq(fmt(8, 4)))
    with pytest.raises(BadArgument, match="requant="):
        linear_fixed(t, t, None, requant="rq")
