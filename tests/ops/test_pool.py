"""Pooling: hand-computed cases, fast paths against the float64 references, fixed-point division."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding
from fpgasim.ops.pool import (
    avg_pool2d_f32, avg_pool2d_fixed, avg_pool2d_int_sums, avg_pool2d_ref, divide_round, global_avg_pool2d_f32,
    global_avg_pool2d_fixed, global_avg_pool2d_ref, max_pool2d_f32, max_pool2d_fixed, max_pool2d_ref, pool_divisors,
)
from fpgasim.ops.window import as_pair
from tests.strategies.numeric import fixed_formats, fixed_tensors, roundings


def fmt(w, i, s=True):
    return FixedFormat(total_bits=w, int_bits=i, signed=s)


def rq(out, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE, acc_bits=40):
    return Requantizer(out=out, rounding=rounding, overflow=overflow,
                       accumulator=Accumulator(bits=acc_bits, overflow=Overflow.WRAP))


X = np.array([[1, -2, 3, 0], [4, 5, -6, 7], [-8, 9, 10, -11], [12, -13, 14, 15]], dtype=float)[None, None]


def test_max_pool_hand_computed() -> None:
    assert max_pool2d_ref(X, kernel=2, stride=2, padding=0)[0, 0].tolist() == [[5, 7], [12, 15]]
    # padding ignored: the corner window (pad 1, kernel 3, stride 2) sees only x[0:2, 0:2]
    assert max_pool2d_ref(-np.abs(X), kernel=3, stride=2, padding=1)[0, 0, 0, 0] == -1.0


def test_rectangular_windows_hand_computed() -> None:
    # 1x2 windows, stride (1, 2): the max of each horizontal pair; 2x1 windows padded by one row
    assert max_pool2d_ref(X, kernel=(1, 2), stride=(1, 2), padding=0)[0, 0, 0].tolist() == [1, 3]
    assert avg_pool2d_ref(X, kernel=(3, 1), stride=(3, 1), padding=(1, 0))[0, 0, 0].tolist() == pytest.approx(
        (X[0, 0, :2].sum(axis=0) / 3).tolist())


def test_avg_pool_hand_computed_counts_padding() -> None:
    assert avg_pool2d_ref(X, kernel=2, stride=2, padding=0)[0, 0].tolist() == [[2.0, 1.0], [0.0, 7.0]]
    # corner window with padding 1: (1 - 2 + 4 + 5) / 9
    assert avg_pool2d_ref(X, kernel=3, stride=2, padding=1)[0, 0, 0, 0] == pytest.approx(8 / 9)


def test_ceil_mode_hand_computed_odd_input() -> None:
    """A 5x5 map, 2x2/2 windows: floor mode gives 2x2, ceil mode 3x3 whose last row/column of windows
    holds one real row/column (max ignores the overhang; the average divides by 2, and 1 in the corner)."""
    x = np.arange(25, dtype=float).reshape(1, 1, 5, 5)
    assert max_pool2d_ref(x, kernel=2, stride=2, padding=0).shape == (1, 1, 2, 2)
    assert max_pool2d_ref(x, kernel=2, stride=2, padding=0, ceil_mode=True)[0, 0].tolist() == [
        [6, 8, 9], [16, 18, 19], [21, 23, 24]]
    assert avg_pool2d_ref(x, kernel=2, stride=2, padding=0, ceil_mode=True)[0, 0].tolist() == [
        [3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]]
    assert pool_divisors(5, 5, kernel=2, stride=2, padding=0, ceil_mode=True).tolist() == [[4, 4, 2], [4, 4, 2],
                                                                                            [2, 2, 1]]
    # padding 1, 3x3/2 on 6: ceil 4 (floor 3); the last window covers rows 6, 7 (padded) and 8 (overhang)
    assert pool_divisors(6, 6, kernel=3, stride=2, padding=1, ceil_mode=True)[3].tolist() == [6, 6, 6, 4]
    # 3x3/3, padding 1 on 5: a third window would start in the right padding, so ceil mode keeps 2
    assert max_pool2d_ref(np.ones((1, 1, 5, 5)), kernel=3, stride=3, padding=1, ceil_mode=True).shape == (1, 1, 2, 2)


shapes = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 7), st.integers(1, 7))


@st.composite
def pool_cases(draw):
    n, c, h, w = draw(shapes)
    axes = [_pool_axis(draw, h), _pool_axis(draw, w)] if draw(st.booleans()) else [_pool_axis(draw, min(h, w))] * 2
    k, s, p = (as_pair(*values) for values in zip(*axes))  # per axis: rectangular windows too
    return (n, c, h, w), k, s, p, draw(st.booleans())


def _pool_axis(draw, size: int) -> tuple[int, int, int]:
    """(kernel, stride, padding) along one axis of ``size`` elements, the window fitting the padded axis."""
    k = draw(st.integers(1, size + 2))
    p = draw(st.integers(0, k // 2))
    if k > size + 2 * p:
        p = k // 2
    if k > size + 2 * p:
        k, p = 1, 0
    return k, draw(st.integers(1, 3)), p


@given(pool_cases(), st.integers(0, 2**31))
def test_fast_paths_match_reference(case, seed) -> None:
    shape, k, s, p, ceil = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    window = dict(kernel=k, stride=s, padding=p, ceil_mode=ceil)
    assert np.array_equal(max_pool2d_f32(x, **window), max_pool2d_ref(x, **window))
    np.testing.assert_allclose(avg_pool2d_f32(x, **window), avg_pool2d_ref(x, **window), rtol=1e-5, atol=1e-6)


@given(pool_cases(), st.data())
def test_fixed_max_and_sums_exact(case, data) -> None:
    shape, k, s, p, ceil = case
    window = dict(kernel=k, stride=s, padding=p, ceil_mode=ceil)
    f = data.draw(fixed_formats(max_bits=16))
    x = data.draw(fixed_tensors(f, shape))
    got, counts = max_pool2d_fixed(x, **window)
    assert got.fmt == f and counts == OverflowCounts()
    assert np.array_equal(got.to_float(), max_pool2d_ref(x.to_float(), **window))
    sums = avg_pool2d_int_sums(x.values, **window)
    divisors = pool_divisors(shape[2], shape[3], **window)
    assert np.array_equal(sums, np.rint(avg_pool2d_ref(x.values, **window) * divisors))


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=10), st.integers(1, 50), roundings)
def test_divide_round_exact(nums, den, rounding) -> None:
    got = divide_round(np.array(nums), den, rounding).tolist()
    ref = {Rounding.TRUNCATE: lambda q: q.__floor__(), Rounding.HALF_UP: lambda q: (q + Fraction(1, 2)).__floor__(),
           Rounding.HALF_EVEN: round}[rounding]
    assert got == [ref(Fraction(n, den)) for n in nums]


def test_fixed_average_rounding_hand_computed() -> None:
    # int8 (0 fraction bits) 3x3 windows summing to 4 (4/9 -> 0), 5 (5/9 -> 1), -14 (-14/9 -> -2)
    vals = np.zeros((1, 3, 3, 3), np.int8)
    vals[0, 0, 0, :2] = 2
    vals[0, 1, 0, 0] = 5
    vals[0, 2, :, 0] = [-5, -5, -4]
    x = FixedTensor(vals, fmt(8, 8))
    out, counts = avg_pool2d_fixed(x, kernel=3, stride=1, padding=0, requant=rq(fmt(8, 8), Rounding.HALF_UP))
    assert out.values.ravel().tolist() == [0, 1, -2] and counts == OverflowCounts()
    out, _ = avg_pool2d_fixed(x, kernel=3, stride=1, padding=0, requant=rq(fmt(8, 8), Rounding.TRUNCATE))
    assert out.values.ravel().tolist() == [0, 0, -2]
    # one more output fraction bit: 4/9 -> 8/9 -> 1 (x 0.5)
    out, _ = avg_pool2d_fixed(x, kernel=3, stride=1, padding=0, requant=rq(fmt(8, 7), Rounding.HALF_EVEN))
    assert out.to_float().ravel().tolist() == [0.5, 0.5, -1.5]


def test_fixed_average_counts_overflow() -> None:
    x = FixedTensor(np.full((1, 1, 2, 2), 100, np.int8), fmt(8, 8))
    out, counts = global_avg_pool2d_fixed(x, requant=rq(fmt(6, 6)))  # 100 does not fit in 6 bits
    assert out.values.ravel().tolist() == [31] and counts == OverflowCounts(output=1)
    out, counts = global_avg_pool2d_fixed(x, requant=rq(fmt(8, 8), acc_bits=8))  # 400 wraps in 8 bits
    assert out.values.ravel().tolist() == [(400 - 512) // 4] and counts == OverflowCounts(accumulator=1)


@given(st.data(), st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)))
def test_global_average_within_half_lsb(data, shape) -> None:
    f = data.draw(fixed_formats(min_bits=4, max_bits=16))
    x = data.draw(fixed_tensors(f, shape))
    out_fmt = FixedFormat(total_bits=32, int_bits=f.int_bits + 1, signed=True)
    got, counts = global_avg_pool2d_fixed(x, requant=rq(out_fmt, Rounding.HALF_EVEN, acc_bits=24))
    ref = global_avg_pool2d_ref(x.to_float())
    assert counts.total == 0 and got.shape == ref.shape
    assert np.all(np.abs(got.to_float() - ref) <= out_fmt.resolution / 2)
    np.testing.assert_allclose(global_avg_pool2d_f32(x.to_float()), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        (dict(kernel=0, stride=1, padding=0), BadArgument, "kernel=0"),
        (dict(kernel=2, stride=0, padding=0), BadArgument, "stride=0"),
        (dict(kernel=2, stride=1, padding=2), BadArgument, "padding=2: expected padding <= kernel // 2 = 1"),
        (dict(kernel=2.0, stride=1, padding=0), BadArgument, "kernel=2.0"),
        (dict(kernel=9, stride=1, padding=0), ShapeError, "kernel=9"),
        (dict(kernel=(3, 1), stride=1, padding=(1, 1)), BadArgument,
         r"padding=\(1, 1\): expected padding <= kernel // 2 = \(1, 0\)"),
        (dict(kernel=(1, 2, 3), stride=1, padding=0), BadArgument, r"kernel=\(1, 2, 3\): expected an integer >= 1 or "
         r"\[height, width\]"),
    ],
)
def test_bad_arguments(kwargs, error, fragment) -> None:
    for fn in (max_pool2d_ref, max_pool2d_f32, avg_pool2d_ref, avg_pool2d_f32):
        with pytest.raises(error, match=fragment):
            fn(X, **kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(ShapeError, match=r"x has shape \(4, 4\)"):
        max_pool2d_f32(X[0, 0], kernel=2, stride=2, padding=0)
    with pytest.raises(BadArgument, match="x=ndarray: expected a FixedTensor"):
        avg_pool2d_fixed(X, kernel=2, stride=2, padding=0, requant=rq(fmt(8, 8)))
    x = FixedTensor(np.zeros((1, 1, 2, 2), np.int8), fmt(8, 8))
    with pytest.raises(BadArgument, match="requant=None"):
        global_avg_pool2d_fixed(x, requant=None)
    with pytest.raises(BadArgument, match="x_int has dtype float64"):
        avg_pool2d_int_sums(X, kernel=2, stride=2, padding=0)
    with pytest.raises(BadArgument, match="ceil_mode=1: expected True or False"):
        max_pool2d_ref(X, kernel=2, stride=2, padding=0, ceil_mode=1)
    with pytest.raises(BadArgument, match=r"divisors: shape \(2, 2\), dtype float64: expected \(2, 2\) integers"):
        avg_pool2d_f32(X, kernel=2, stride=2, padding=0, divisors=np.ones((2, 2)))
    with pytest.raises(BadArgument, match=r"den has dtype int64: expected integers >= 1"):
        divide_round(np.array([1, 2]), np.array([1, 0]), Rounding.TRUNCATE)


@given(pool_cases(), st.data(), roundings)
def test_fixed_average_is_one_rounded_exact_division(case, data, rounding) -> None:
    """Floor and ceil mode. The bound: the exact average of the stored inputs (the float reference of
    ``x.to_float()``) is rounded once onto the output grid, so the error is below one output LSB
    (truncate) or at most half of one (half_up, half_even); an output with one more integer bit than
    the input cannot overflow and a 40-bit accumulator holds any 12-bit window sum."""
    shape, k, s, p, ceil = case
    window = dict(kernel=k, stride=s, padding=p, ceil_mode=ceil)
    f = data.draw(fixed_formats(min_bits=4, max_bits=12))
    x = data.draw(fixed_tensors(f, shape))
    out_fmt = FixedFormat(total_bits=16, int_bits=f.int_bits + 1, signed=True)
    got, counts = avg_pool2d_fixed(x, requant=rq(out_fmt, rounding), **window)
    sums = avg_pool2d_int_sums(x.values, **window)
    divisors = pool_divisors(shape[2], shape[3], **window)
    shift = out_fmt.frac_bits - f.frac_bits
    want = [divide_round(np.array([v * 2**shift if shift >= 0 else v]), int(d) * 2 ** max(-shift, 0), rounding)[0]
            for v, d in zip(sums.ravel().tolist(), np.broadcast_to(divisors, sums.shape).ravel().tolist())]
    assert got.values.ravel().tolist() == want and counts.total == 0
    bound = out_fmt.resolution if rounding is Rounding.TRUNCATE else out_fmt.resolution / 2
    assert np.all(np.abs(got.to_float() - avg_pool2d_ref(x.to_float(), **window)) <= bound)
