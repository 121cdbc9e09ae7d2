"""Element-wise ops: fixed point against float64 with derived bounds and against an independent
Python-int model (rounding and overflow counted exactly), broadcasting, concat, softmax, errors."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import (
    Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, quantize,
)
from fpgasim.ops.activations import Activation, activate_f32, activate_fixed, activate_ref, relu6_fixed
from fpgasim.ops.elementwise import (
    gelu_f32, gelu_fixed, gelu_ref,
    add_f32, add_fixed, add_ref, concat_f32, concat_fixed, concat_ref, global_max_pool2d_f32,
    global_max_pool2d_fixed, global_max_pool2d_ref, hardswish_f32, hardswish_fixed, hardswish_ref, mul_f32,
    mul_fixed, mul_ref, sigmoid_f32, sigmoid_fixed, sigmoid_ref, silu_f32, silu_fixed, silu_ref, softmax_f32,
    softmax_fixed, softmax_ref, tanh_f32, tanh_fixed, tanh_ref,
)
from tests.strategies.elementwise import broadcast_pairs, concat_shapes, nchw_shapes
from tests.strategies.numeric import fixed_formats, fixed_tensors, requantizers

EPS64 = 2.0**-50  # float64 relative rounding error of one operation is at most 2**-53; margin for the test's own


def fmt(w, i, s=True):
    return FixedFormat(total_bits=w, int_bits=i, signed=s)


def rq(out, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE, acc_bits=48):
    return Requantizer(out=out, rounding=rounding, overflow=overflow,
                       accumulator=Accumulator(bits=acc_bits, overflow=Overflow.WRAP))


# --- an independent Python-int model of rounding and overflow -------------------------------------

def round_to_int(v: Fraction, rounding: Rounding) -> int:
    """Round an exact rational with the named mode (truncate = floor)."""
    low = math.floor(v)
    rest = v - low
    if rounding is Rounding.TRUNCATE:
        return low
    if rounding is Rounding.HALF_UP:
        return low + (rest >= Fraction(1, 2))
    return low + (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low % 2 == 1))


def fit(v: int, lo: int, hi: int, bits: int, overflow: Overflow) -> tuple[int, int]:
    """(value in lo..hi, 1 if it was outside) for a saturating or wrapping register."""
    if lo <= v <= hi:
        return v, 0
    return (min(max(v, lo), hi) if overflow is Overflow.SATURATE else (v - lo) % (1 << bits) + lo), 1


def model_exact(exact: list[Fraction], sum_frac: int, r: Requantizer) -> tuple[list[int], OverflowCounts]:
    """Exact results → accumulator with ``sum_frac`` fraction bits → one rounding → output format."""
    acc, out = r.accumulator, r.out
    ints, n_acc, n_out = [], 0, 0
    for v in exact:
        s = v * 2**sum_frac
        assert s.denominator == 1
        s, a = fit(int(s), acc.min_int, acc.max_int, acc.bits, acc.overflow)
        q = round_to_int(Fraction(s, 2**sum_frac) * 2**out.frac_bits, r.rounding)
        q, o = fit(q, out.min_int, out.max_int, out.total_bits, r.overflow)
        ints.append(q)
        n_acc, n_out = n_acc + a, n_out + o
    return ints, OverflowCounts(output=n_out, accumulator=n_acc)


def model_quantize(real: np.ndarray, r: Requantizer) -> tuple[list[int], OverflowCounts]:
    """Floats quantised to ``r.out`` (rounding, then overflow), counting the values outside."""
    out = r.out
    ints, n_out = [], 0
    for v in real.ravel().tolist():
        q, o = fit(round_to_int(Fraction(v) * 2**out.frac_bits, r.rounding), out.min_int, out.max_int,
                   out.total_bits, r.overflow)
        ints.append(q)
        n_out += o
    return ints, OverflowCounts(output=n_out)


def fractions(t: FixedTensor, shape) -> list[Fraction]:
    vals = np.broadcast_to(t.values, shape).ravel().tolist()
    return [Fraction(int(v), 2**t.fmt.frac_bits) for v in vals]


def assert_within_rounding(got: np.ndarray, ref: np.ndarray, r: Requantizer, slack: np.ndarray) -> None:
    """half_up/half_even: |got − ref| ≤ res/2 + slack; truncate: −slack ≤ ref − got < res + slack.

    Compared against the grid points ``got ± res/2`` and ``got + res`` (exact in float64 for these
    formats), never against a rounded difference ``ref − got``."""
    res = r.out.resolution
    if r.rounding is Rounding.TRUNCATE:
        assert np.all(ref >= got - slack) and np.all(ref < (got + res) + slack)
    else:
        assert np.all(ref >= (got - res / 2) - slack) and np.all(ref <= (got + res / 2) + slack)


# --- add and mul ------------------------------------------------------------------------------------

small_formats = fixed_formats(max_bits=16, min_int_bits=-2)


@st.composite
def binary_cases(draw):
    a_shape, b_shape = draw(broadcast_pairs(max_side=3))
    fa, fb = draw(small_formats), draw(small_formats)
    a, b = draw(fixed_tensors(fa, a_shape)), draw(fixed_tensors(fb, b_shape))
    r = draw(requantizers(out=small_formats, acc_min_bits=8, acc_max_bits=40))
    return a, b, r


@given(binary_cases())
def test_add_fixed_equals_python_int_model(case) -> None:
    """Exact sum with F = max(fa, fb) fraction bits, accumulator, one rounding, output: element for
    element and count for count equal to the Python-int model."""
    a, b, r = case
    shape = np.broadcast_shapes(a.shape, b.shape)
    got, counts = add_fixed(a, b, requant=r)
    exact = [x + y for x, y in zip(fractions(a, shape), fractions(b, shape))]
    ints, want = model_exact(exact, max(a.fmt.frac_bits, b.fmt.frac_bits), r)
    assert got.shape == shape and got.fmt == r.out and got.values.dtype == r.out.storage_dtype
    assert got.values.ravel().tolist() == ints and counts == want


@given(binary_cases())
def test_mul_fixed_equals_python_int_model(case) -> None:
    """Exact product with fa + fb fraction bits, then as add."""
    a, b, r = case
    shape = np.broadcast_shapes(a.shape, b.shape)
    got, counts = mul_fixed(a, b, requant=r)
    exact = [x * y for x, y in zip(fractions(a, shape), fractions(b, shape))]
    ints, want = model_exact(exact, a.fmt.frac_bits + b.fmt.frac_bits, r)
    assert got.shape == shape and got.fmt == r.out
    assert got.values.ravel().tolist() == ints and counts == want


@given(binary_cases(), st.sampled_from(["add", "mul"]))
def test_fixed_within_rounding_of_float64(case, op) -> None:
    """Derived bound. The inputs are representable, so the exact result s is rounded once to the
    output grid: |fixed − s| ≤ res/2 (half_up, half_even) or 0 ≤ s − fixed < res (truncate), unless
    the accumulator or the output overflowed (counted). The float64 reference computes s with one
    rounding of relative error ≤ 2**-53, hence a slack of 2**-50·|ref| (with margin). A saturated output is the
    format extreme on the side of s. (A 40-bit accumulator holds every sum and product of these
    16-bit operands, so it never overflows here.)"""
    a, b, r = case
    fixed_fn, ref_fn = (add_fixed, add_ref) if op == "add" else (mul_fixed, mul_ref)
    r = Requantizer(out=r.out, rounding=r.rounding, overflow=Overflow.SATURATE,
                    accumulator=Accumulator(bits=40, overflow=Overflow.WRAP))
    got, counts = fixed_fn(a, b, requant=r)
    ref = ref_fn(a.to_float(), b.to_float())
    y = got.to_float()
    assert counts.accumulator == 0
    inside = (y > r.out.min_value) & (y < r.out.max_value)
    assert_within_rounding(y[inside], ref[inside], r, EPS64 * np.abs(ref[inside]))
    assert np.all(np.where(ref > r.out.max_value, y == r.out.max_value, True))
    assert np.all(np.where(ref < r.out.min_value, y == r.out.min_value, True))


@given(binary_cases())
def test_broadcasting_equals_explicit_broadcast(case) -> None:
    a, b, r = case
    shape = np.broadcast_shapes(a.shape, b.shape)
    wide_a = FixedTensor(np.broadcast_to(a.values, shape).copy(), a.fmt)
    wide_b = FixedTensor(np.broadcast_to(b.values, shape).copy(), b.fmt)
    for fn in (add_fixed, mul_fixed):
        got, counts = fn(a, b, requant=r)
        wide, wide_counts = fn(wide_a, wide_b, requant=r)
        assert np.array_equal(got.values, wide.values) and counts == wide_counts
    assert add_ref(a.to_float(), b.to_float()).shape == shape == mul_f32(a.to_float(), b.to_float()).shape


def test_squeeze_excite_scale_hand_computed() -> None:
    x = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    s = np.array([1.0, 0.5, -2.0])[None, :, None, None].repeat(2, axis=0)
    want = x * np.array([1.0, 0.5, -2.0])[None, :, None, None]
    assert np.array_equal(mul_ref(x, s), want) and np.array_equal(mul_f32(x, s), want.astype(np.float32))
    assert np.array_equal(add_ref(x, s)[1, 2], x[1, 2] - 2.0) and add_f32(x, s).dtype == np.float32
    f = fmt(16, 8)
    xq, sq = quantize(x, f, rounding="half_even", overflow="saturate")[0], quantize(s, f, rounding="half_even",
                                                                                  overflow="saturate")[0]
    got, counts = mul_fixed(xq, sq, requant=rq(f))
    assert np.array_equal(got.to_float(), want) and counts == OverflowCounts()


def test_add_aligns_formats_exactly() -> None:
    a = FixedTensor(np.array([3], np.int8).reshape(1, 1, 1, 1), fmt(8, 7))    # 1.5
    b = FixedTensor(np.array([1], np.int8).reshape(1, 1, 1, 1), fmt(8, 2))    # 2**-6
    got, _ = add_fixed(a, b, requant=rq(fmt(16, 8)))
    assert got.to_float().item() == 1.5 + 2**-6
    got, _ = add_fixed(a, b, requant=rq(fmt(8, 7), rounding=Rounding.HALF_UP))  # one rounding: 1.515625 → 1.5
    assert got.to_float().item() == 1.5
    got, counts = add_fixed(a, a, requant=rq(fmt(4, 2)))  # 3.0 saturates to 1.75 in ap_fixed<4,2>
    assert got.to_float().item() == 1.75 and counts == OverflowCounts(output=1)


# --- concat -------------------------------------------------------------------------------------------

@given(concat_shapes(), st.data())
def test_concat_same_format_is_exact(shapes, data) -> None:
    """Inputs already in ``requant.out``: the result is their stored integers side by side, no counts."""
    r = data.draw(requantizers(out=small_formats))
    xs = [data.draw(fixed_tensors(r.out, s)) for s in shapes]
    got, counts = concat_fixed(xs, requant=r)
    assert counts == OverflowCounts() and got.fmt == r.out
    assert np.array_equal(got.values, np.concatenate([x.values for x in xs], axis=1))
    ref = concat_ref([x.to_float() for x in xs])
    assert np.array_equal(got.to_float(), ref) and np.array_equal(concat_f32(tuple(x.to_float() for x in xs)), ref)
    starts = np.cumsum([0] + [s[1] for s in shapes])
    for x, lo, hi in zip(xs, starts, starts[1:]):
        assert np.array_equal(ref[:, lo:hi], x.to_float())


@given(concat_shapes(max_inputs=3), st.data())
def test_concat_mixed_formats_equals_python_int_model(shapes, data) -> None:
    """Each input requantised on its own (one rounding, then the overflow mode; no accumulator)."""
    r = data.draw(requantizers(out=small_formats))
    xs = [data.draw(fixed_tensors(data.draw(small_formats), s)) for s in shapes]
    got, counts = concat_fixed(xs, requant=r)
    want, total = [], OverflowCounts()
    for x in xs:
        ints, c = model_quantize(x.to_float(), r)
        want.append(np.array(ints).reshape(x.shape))
        total += c
    assert np.array_equal(got.values, np.concatenate(want, axis=1)) and counts == total


@given(st.sampled_from([2, 3]), st.data())
def test_concat_along_height_or_width_is_numpys(axis, data) -> None:
    """Along H (ViT's class token before its patches) or W: the float forms are numpy's
    concatenation; inputs already in ``requant.out`` join exactly; other formats are each rounded
    once, as the Python-int model, element for element and count for count."""
    shapes = data.draw(concat_shapes(max_inputs=3, axis=axis))
    r = data.draw(requantizers(out=small_formats))
    same = [data.draw(fixed_tensors(r.out, s)) for s in shapes]
    got, counts = concat_fixed(same, requant=r, axis=axis)
    want = np.concatenate([x.values for x in same], axis=axis)
    assert counts == OverflowCounts() and got.fmt == r.out and np.array_equal(got.values, want)
    floats = [x.to_float() for x in same]
    assert np.array_equal(concat_ref(floats, axis=axis), np.concatenate(floats, axis=axis))
    f32 = concat_f32(floats, axis=axis)
    assert f32.dtype == np.float32 and np.array_equal(f32, np.concatenate(floats, axis=axis).astype(np.float32))
    mixed = [data.draw(fixed_tensors(data.draw(small_formats), s)) for s in shapes]
    got, counts = concat_fixed(mixed, requant=r, axis=axis)
    parts, total = [], OverflowCounts()
    for x in mixed:
        ints, c = model_quantize(x.to_float(), r)
        parts.append(np.array(ints).reshape(x.shape))
        total += c
    assert np.array_equal(got.values, np.concatenate(parts, axis=axis)) and counts == total


@pytest.mark.parametrize("axis,other", [(2, 1), (2, 3), (3, 0), (3, 2), (1, 2)])
def test_concat_refuses_a_mismatch_off_its_axis(axis, other) -> None:
    """Sizes may differ along ``axis`` only; a difference in any other dimension names both inputs."""
    a, b = [1, 2, 3, 3], [1, 2, 3, 3]
    b[axis] = 5
    b[other] += 1
    a, b = tuple(a), tuple(b)
    pattern = rf"xs\[0\] {re.escape(str(a))} and xs\[1\] {re.escape(str(b))} do not concatenate along axis {axis}"
    for fn in (concat_ref, concat_f32):
        with pytest.raises(ShapeError, match=pattern):
            fn([np.zeros(a), np.zeros(b)], axis=axis)
    with pytest.raises(ShapeError, match=pattern):
        concat_fixed([FixedTensor(np.zeros(a, np.int8), F8), FixedTensor(np.zeros(b, np.int8), F8)], requant=rq(F8),
                     axis=axis)
    for bad in (0, 4, -1, True):
        with pytest.raises(BadArgument, match=rf"axis={bad!r}: expected 1 \(C\), 2 \(H\) or 3 \(W\)"):
            concat_ref([np.zeros(a), np.zeros(a)], axis=bad)


# --- activations computed in float64 ---------------------------------------------------------------

FLOAT_ACTS = [(sigmoid_fixed, sigmoid_ref, sigmoid_f32), (tanh_fixed, tanh_ref, tanh_f32),
              (silu_fixed, silu_ref, silu_f32), (hardswish_fixed, hardswish_ref, hardswish_f32),
              (gelu_fixed, gelu_ref, gelu_f32), (softmax_fixed, softmax_ref, softmax_f32)]


@given(nchw_shapes(max_side=3), st.data(), st.sampled_from(FLOAT_ACTS))
def test_float_activation_fixed_quantises_reference(shape, data, fns) -> None:
    """Derived bound: the fixed form is the float64 reference of the (exact) dequantised input,
    rounded once, so |fixed − ref| ≤ res/2 (half modes) or 0 ≤ ref − fixed < res (truncate) for
    every element the output format holds; the stored integers and the overflow count equal the
    Python-int model of that quantisation; the accumulator is never used."""
    fixed_fn, ref_fn, _ = fns
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    r = data.draw(requantizers(out=small_formats))
    got, counts = fixed_fn(x, requant=r)
    ref = ref_fn(x.to_float())
    ints, want = model_quantize(ref, r)
    assert got.fmt == r.out and got.values.ravel().tolist() == ints and counts == want
    y = got.to_float()
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    assert_within_rounding(y[inside], ref[inside], r, np.zeros(int(inside.sum())))


@given(st.lists(st.floats(-700, 700), min_size=1, max_size=8))
def test_float_references_match_scalar_math(values) -> None:
    x = np.array(values)[None, :, None, None]
    sig = np.array([1 / (1 + math.exp(-v)) for v in values])[None, :, None, None]
    np.testing.assert_allclose(sigmoid_ref(x), sig, rtol=4 * EPS64, atol=0)
    np.testing.assert_allclose(silu_ref(x), x * sig, rtol=8 * EPS64, atol=0)
    gelu = np.array([v * (1 + math.erf(v / math.sqrt(2))) / 2 for v in values])[None, :, None, None]
    np.testing.assert_allclose(gelu_ref(x), gelu, rtol=8 * EPS64, atol=0)
    np.testing.assert_allclose(gelu_f32(x), gelu, rtol=4e-7, atol=1e-30)
    hard = np.array([v * min(max(v + 3, 0), 6) / 6 for v in values])[None, :, None, None]
    np.testing.assert_allclose(hardswish_ref(x), hard, rtol=4 * EPS64, atol=0)
    m = max(values)
    e = [math.exp(v - m) for v in values]
    np.testing.assert_allclose(softmax_ref(x)[0, :, 0, 0], [v / sum(e) for v in e], rtol=1e-12, atol=1e-300)
    for _, ref_fn, f32_fn in FLOAT_ACTS:
        got = f32_fn(x)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref_fn(x.astype(np.float32)), rtol=2e-6, atol=1e-30)


@given(st.lists(st.floats(-700, 700), min_size=1, max_size=8))
def test_tanh_matches_scalar_math_and_twice_the_sigmoid_of_twice_x(values) -> None:
    """tanh_ref is libm's tanh, and 2·σ(2x) − 1 (the identity the table tanh reads σ by)."""
    x = np.array(values)[None, :, None, None]
    want = np.array([math.tanh(v) for v in values])[None, :, None, None]
    np.testing.assert_allclose(tanh_ref(x), want, rtol=4 * EPS64, atol=0)
    np.testing.assert_allclose(2 * sigmoid_ref(2 * x) - 1, want, rtol=0, atol=4 * EPS64)
    np.testing.assert_allclose(tanh_f32(x), want, rtol=2e-7, atol=1e-30)


def test_hand_computed_values() -> None:
    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    assert hardswish_ref(x).tolist() == [0, 0, -0.375, 0, 1.125, 3, 4]
    assert sigmoid_ref(np.array([0.0, -1000.0, 1000.0])).tolist() == [0.5, 0.0, 1.0]  # no overflow warning
    assert silu_ref(np.array([0.0, 1000.0])).tolist() == [0.0, 1000.0]
    assert tanh_ref(np.array([0.0, -1000.0, 1000.0])).tolist() == [0.0, -1.0, 1.0]  # no overflow warning
    s = softmax_ref(np.array([0.0, math.log(3.0)]).reshape(1, 2, 1, 1))
    np.testing.assert_allclose(s.ravel(), [0.25, 0.75], rtol=1e-15)


@given(nchw_shapes(), st.integers(0, 2**31), st.floats(-50, 50))
def test_softmax_sums_to_one_and_ignores_shift(shape, seed, shift) -> None:
    x = np.random.default_rng(seed).standard_normal(shape) * 10
    s = softmax_ref(x)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(softmax_f32(x).sum(axis=1), 1.0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(softmax_ref(x + shift), s, rtol=1e-9, atol=1e-15)
    assert np.all((s >= 0) & (s <= 1))


@given(nchw_shapes(), st.data())
def test_fixed_softmax_sums_to_one_within_rounding(shape, data) -> None:
    """An output format holding 0..1 never overflows; C values each within res/2 (< res for
    truncate) of the reference give |Σ − 1| ≤ C·res/2 (< C·res)."""
    out = data.draw(fixed_formats(min_bits=4, max_bits=16, min_int_bits=2))
    r = data.draw(requantizers(out=st.just(out)))
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    got, counts = softmax_fixed(x, requant=r)
    sums = got.to_float().sum(axis=1)
    bound = shape[1] * out.resolution * (1 if r.rounding is Rounding.TRUNCATE else 0.5)
    assert counts == OverflowCounts() and np.all(np.abs(sums - 1) <= bound)


def _softmax_by_groups(x: np.ndarray, groups: int) -> np.ndarray:
    """Python floats, one group of C/groups channels at a time: e^(v − max) / Σ e^(v − max)."""
    n, c = x.shape[:2]
    m = c // groups
    out = np.empty_like(x, dtype=np.float64)
    for i in range(n):
        for pos in np.ndindex(*x.shape[2:]):
            for g in range(groups):
                v = [float(x[(i, g * m + j, *pos)]) for j in range(m)]
                top = max(v)
                e = [math.exp(a - top) for a in v]
                total = sum(e)
                for j in range(m):
                    out[(i, g * m + j, *pos)] = e[j] / total
    return out


@st.composite
def grouped_inputs(draw, dtype=np.float64):
    """(x (N, groups·m, H, W) or (N, groups·m), groups): standard normal times 10, so that a group
    spans exponents down to about e^-80 (no float32 underflow)."""
    groups, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(n, groups * m, h, w), (n, groups * m)]))
    x = np.random.default_rng(draw(st.integers(0, 2**31))).standard_normal(shape) * 10
    return x.astype(dtype), groups


def _relative_softmax_bound(x: np.ndarray, groups: int, u: float, exp_ulps: float) -> np.ndarray:
    """Per probability: (|d_i| + E)·u + max_j (|d_j| + E)·u + (m + 1)·u (see the tests' docstrings),
    d = x − the group's maximum, E = exp_ulps + 1, m = C/groups, broadcast to x's shape."""
    g = x.astype(np.float64).reshape(x.shape[0], groups, -1, *x.shape[2:])
    d = np.abs(g - g.max(axis=2, keepdims=True)) + exp_ulps + 1
    m = g.shape[2]
    return ((d + d.max(axis=2, keepdims=True) + m + 1) * u).reshape(x.shape)


@given(grouped_inputs())
def test_grouped_softmax_is_the_per_group_definition(case) -> None:
    """Derived bound. Each form computes d_i = fl(x_i − max) (relative error u, which e^d turns into
    |d_i|·u), e^d within 1 ulp (libm), a sum of m positive terms (γ_m ≤ m·u relative, so a shared
    factor), one division (u): each probability is within (|d_i| + 2)·u + max_j(|d_j| + 2)·u +
    (m + 1)·u of the exact one, relative (to first order; u = 2**-53). Twice that separates the
    reference from the Python-float definition; group sums are 1 within 2·m·u + 2·u (the shared
    sum's γ_m, the m divisions, the test's own summation)."""
    x, groups = case
    got = softmax_ref(x, groups=groups)
    want = _softmax_by_groups(x, groups)
    bound = 2 * _relative_softmax_bound(x, groups, EPS64 / 8, 1)
    assert got.shape == x.shape and np.all(np.abs(got - want) <= bound * want)
    m = x.shape[1] // groups
    sums = got.reshape(x.shape[0], groups, m, *x.shape[2:]).sum(axis=2)
    assert np.all(np.abs(sums - 1) <= (2 * m + 2) * 2.0**-53)


@given(grouped_inputs(), st.integers(0, 2**31))
def test_each_group_is_its_own_softmax(case, seed) -> None:
    """A different shift per group changes nothing (within the derived bound of the previous test
    for both sides); with groups = C every probability is 1; the groups' channels never mix, so
    a group's slice equals the ungrouped softmax of that slice."""
    x, groups = case
    m = x.shape[1] // groups
    shift = np.repeat(np.random.default_rng(seed).uniform(-50, 50, groups), m).reshape(1, -1, *(1,) * (x.ndim - 2))
    got = softmax_ref(x, groups=groups)
    bound = 2 * (_relative_softmax_bound(x, groups, EPS64 / 8, 1) + _relative_softmax_bound(x + shift, groups,
                                                                                              EPS64 / 8, 1))
    assert np.all(np.abs(softmax_ref(x + shift, groups=groups) - got) <= bound * got)
    for g in range(groups):
        part = x[:, g * m:(g + 1) * m]
        assert np.array_equal(got[:, g * m:(g + 1) * m], softmax_ref(part))
    assert np.array_equal(softmax_ref(x, groups=x.shape[1]), np.ones_like(x))


@given(grouped_inputs(np.float32))
def test_grouped_softmax_f32_within_derived_bound(case) -> None:
    """The same derivation in float32 (u32 = 2**-24) with numpy's float32 exp allowed 3 ulp: per
    probability (|d_i| + 4)·u32 + max_j(|d_j| + 4)·u32 + (m + 1)·u32 relative, plus 2**-40 for the
    float64 reference of the same float32 inputs and 2**-149 absolute for a subnormal result."""
    x, groups = case
    got = softmax_f32(x, groups=groups)
    ref = softmax_ref(x, groups=groups)
    bound = (_relative_softmax_bound(x, groups, 2.0**-24, 3) + 2.0**-40) * ref + 2.0**-149
    assert got.dtype == np.float32 and np.all(np.abs(got.astype(np.float64) - ref) <= bound)


@given(nchw_shapes(max_side=3), st.sampled_from([1, 2, 3]), st.data())
def test_grouped_fixed_softmax_is_the_reference_rounded_once(shape, g, data) -> None:
    """Per group: the float64 reference of the dequantised input rounded once to ``requant.out``
    (the Python-int model, counts included); each group then sums to 1 within m·res/2 (m·res for
    truncate) where the output format holds 1."""
    shape = (shape[0], shape[1] * g, shape[2], shape[3])
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    r = data.draw(requantizers(out=small_formats))
    got, counts = softmax_fixed(x, requant=r, groups=g)
    ref = softmax_ref(x.to_float(), groups=g)
    ints, want = model_quantize(ref, r)
    assert got.fmt == r.out and got.values.ravel().tolist() == ints and counts == want
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    assert_within_rounding(got.to_float()[inside], ref[inside], r, np.zeros(int(inside.sum())))
    if r.out.max_value >= 1 and r.out.min_value <= 0:
        m = shape[1] // g
        sums = got.to_float().reshape(shape[0], g, m, *shape[2:]).sum(axis=2)
        assert np.all(np.abs(sums - 1) <= m * r.out.resolution * (1 if r.rounding is Rounding.TRUNCATE else 0.5))


def test_bad_groups_are_refused() -> None:
    x = np.zeros((1, 4, 2, 2))
    q = FixedTensor(np.zeros((1, 4, 2, 2), np.int8), F8)
    for groups in (3, 0, -2, 8, True, 2.0):
        pattern = rf"groups={groups!r}: expected a positive divisor of the 4 channels"
        for fn in (softmax_ref, softmax_f32):
            with pytest.raises(BadArgument, match=pattern):
                fn(x, groups=groups)
        with pytest.raises(BadArgument, match=pattern):
            softmax_fixed(q, requant=rq(F8), groups=groups)
    assert np.array_equal(softmax_ref(x, groups=np.int64(2)), np.full(x.shape, 0.5))


# --- global max pooling -------------------------------------------------------------------------------

@given(nchw_shapes(), st.data())
def test_global_max_pool_exact(shape, data) -> None:
    f = data.draw(fixed_formats())
    x = data.draw(fixed_tensors(f, shape))
    got, counts = global_max_pool2d_fixed(x)
    ref = global_max_pool2d_ref(x.to_float())
    assert got.fmt == f and got.values.dtype == f.storage_dtype and counts == OverflowCounts()
    assert got.shape == (shape[0], shape[1], 1, 1) and np.array_equal(got.to_float(), ref)
    x32 = x.to_float().astype(np.float32)
    assert np.array_equal(global_max_pool2d_f32(x32), global_max_pool2d_ref(x32))


# --- the Activation dispatch table --------------------------------------------------------------------

@pytest.mark.parametrize("activation", list(Activation))
def test_dispatch_matches_named_functions(activation) -> None:
    f = fmt(8, 4)
    x = quantize(np.linspace(-7, 7, 24).reshape(1, 4, 2, 3), f, rounding="half_even", overflow="saturate")[0]
    r = rq(fmt(12, 4))
    real = x.to_float()
    got, counts = activate_fixed(x, activation, requant=r)
    named = {"sigmoid": sigmoid_fixed, "tanh": tanh_fixed, "silu": silu_fixed, "hardswish": hardswish_fixed,
             "softmax": softmax_fixed}
    if activation.value in named:
        want, want_counts = named[activation.value](x, requant=r)
        assert got.fmt == r.out and np.array_equal(got.values, want.values) and counts == want_counts
    else:  # exact forms keep the input format whatever the requantizer says
        assert got.fmt == f and counts == OverflowCounts()
    assert activate_ref(real, activation).shape == real.shape
    np.testing.assert_allclose(activate_f32(real, activation), activate_ref(real, activation), rtol=2e-6, atol=1e-7)
    assert np.array_equal(activate_fixed(x, "relu6")[0].values, relu6_fixed(x)[0].values)


# --- bad input --------------------------------------------------------------------------------------

F8 = fmt(8, 4)
T = FixedTensor(np.zeros((1, 2, 3, 3), np.int8), F8)


def test_binary_bad_input() -> None:
    for fn in (add_ref, mul_f32):
        with pytest.raises(ShapeError, match=r"a \(2, 8, 16, 16\) and b \(2, 8, 8, 8\) do not broadcast"):
            fn(np.zeros((2, 8, 16, 16)), np.zeros((2, 8, 8, 8)))
        with pytest.raises(ShapeError, match=r"b has shape \(2,\): expected \(N, C, H, W\)"):
            fn(np.zeros((1, 2, 1, 1)), np.zeros(2))  # a (C,) vector is never broadcast along W
        with pytest.raises(ShapeError, match=r"a has shape \(1, 0, 1, 1\)"):
            fn(np.zeros((1, 0, 1, 1)), np.zeros((1, 1, 1, 1)))
        with pytest.raises(BadArgument, match="b has dtype <U1: expected a real numeric array"):
            fn(np.zeros((1, 1, 1, 1)), np.array(["x"]))
    for fn in (add_fixed, mul_fixed):
        with pytest.raises(BadArgument, match="b=ndarray: expected a FixedTensor"):
            fn(T, np.zeros((1, 2, 3, 3)), requant=rq(F8))
        with pytest.raises(BadArgument, match="requant=None: expected a Requantizer"):
            fn(T, T, requant=None)
        with pytest.raises(ShapeError, match=r"a \(1, 2, 3, 3\) and b \(1, 3, 3, 3\) do not broadcast"):
            fn(T, FixedTensor(np.zeros((1, 3, 3, 3), np.int8), F8), requant=rq(F8))


def test_formats_that_leave_int64_are_refused() -> None:
    one = (1, 1, 1, 1)
    u32 = FixedTensor(np.zeros(one, np.uint32), fmt(32, 32, s=False))
    with pytest.raises(BadArgument, match=r"a ap_ufixed<32,32> × b ap_ufixed<32,32>: products may reach"):
        mul_fixed(u32, u32, requant=rq(F8))
    tiny = FixedTensor(np.zeros(one, np.int32), fmt(32, -20))
    with pytest.raises(BadArgument, match="the product has 104 fraction bits, expected at most 62"):
        mul_fixed(tiny, tiny, requant=rq(F8))
    big = FixedTensor(np.zeros(one, np.int32), fmt(32, 32))
    with pytest.raises(BadArgument, match=r"a ap_fixed<32,32> aligned to 52 fraction bits needs 84 bits"):
        add_fixed(big, tiny, requant=rq(F8))


def test_concat_bad_input() -> None:
    with pytest.raises(ShapeError, match=r"xs\[0\] \(1, 2, 3, 3\) and xs\[1\] \(1, 2, 3, 4\) do not concatenate"):
        concat_ref([np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 4))])
    with pytest.raises(ShapeError, match=r"xs\[1\] has shape \(2, 3\)"):
        concat_f32([np.zeros((1, 2, 3, 3)), np.zeros((2, 3))])
    with pytest.raises(BadArgument, match="xs=ndarray: expected a non-empty list or tuple"):
        concat_ref(np.zeros((2, 1, 2, 3, 3)))
    with pytest.raises(BadArgument, match="xs=list: expected a non-empty list or tuple"):
        concat_fixed([], requant=rq(F8))
    with pytest.raises(BadArgument, match=r"xs\[1\]=ndarray: expected a FixedTensor"):
        concat_fixed([T, np.zeros((1, 2, 3, 3))], requant=rq(F8))
    with pytest.raises(BadArgument, match="requant='q8': expected a Requantizer"):
        concat_fixed([T, T], requant="q8")


def test_unary_bad_input() -> None:
    for fn in (sigmoid_fixed, tanh_fixed, silu_fixed, hardswish_fixed, softmax_fixed):
        with pytest.raises(BadArgument, match="x=ndarray: expected a FixedTensor"):
            fn(np.zeros((1, 2, 3, 3)), requant=rq(F8))
        with pytest.raises(BadArgument, match="requant=None: expected a Requantizer"):
            fn(T, requant=None)
    with pytest.raises(ShapeError, match=r"x has shape \(3,\): expected \(N, C, \.\.\.\)"):
        softmax_ref(np.zeros(3))
    with pytest.raises(BadArgument, match="x has dtype bool"):
        sigmoid_ref(np.array([True]))
    with pytest.raises(ShapeError, match=r"x has shape \(2, 3, 3\): expected \(N, C, H, W\)"):
        global_max_pool2d_fixed(FixedTensor(np.zeros((2, 3, 3), np.int8), F8))
    with pytest.raises(BadArgument, match="x=list: expected a FixedTensor"):
        global_max_pool2d_fixed([1])
    with pytest.raises(BadArgument, match=r"activation='hardswish' is computed in float and quantised: requant=None"):
        activate_fixed(T, Activation.HARDSWISH)
    allowed = "none, relu, relu6, sigmoid, tanh, silu, hardswish, softmax"
    with pytest.raises(BadArgument, match=f"activation='gelu' is not one of: {allowed}"):
        activate_ref(np.zeros(1), "gelu")
