"""Properties of fpgasim.ops.conv: exactness of the integer sums, error bounds of the fixed and
float32 paths, depthwise/pointwise equivalence, overflow counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import (
    Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, dequantize,
    finish_accumulation, round_shift,
)
from fpgasim.ops import conv
from tests.ops._conv_reference import int_conv_reference, sum_bound
from tests.strategies.conv_shapes import conv_cases, fixed_formats, fixed_tensor, int_array

ROUNDINGS = st.sampled_from(list(Rounding))
OVERFLOWS = st.sampled_from(list(Overflow))


def _smallest_dtype(lo: int, hi: int) -> np.dtype:
    return np.result_type(np.min_scalar_type(lo), np.min_scalar_type(hi))


# ------------------------------------------------------------------ (1) exact integer sums

@given(st.data(), conv_cases(), st.integers(2, 28), st.integers(2, 28), st.booleans())
def test_int_sums_equal_the_integer_reference(data, case, x_bits, w_bits, x_signed) -> None:
    """conv2d_int_sums == explicit patch sums in Python ints, for any bit width that fits int64."""
    x_lo, x_hi = (-(1 << (x_bits - 1)), (1 << (x_bits - 1)) - 1) if x_signed else (0, (1 << x_bits) - 1)
    x = int_array(data.draw, case.x_shape, x_lo, x_hi).astype(_smallest_dtype(x_lo, x_hi))
    w = int_array(data.draw, case.w_shape, -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1)
    if sum_bound(x, w) > 2**63 - 1:
        with pytest.raises(BadArgument, match="2\\*\\*63"):
            conv.conv2d_int_sums(x, w, **case.kwargs())
        return
    got = conv.conv2d_int_sums(x, w, **case.kwargs())
    assert got.dtype == np.int64
    assert got.shape == (case.batch, case.out_channels, case.out_h, case.out_w)
    np.testing.assert_array_equal(got, int_conv_reference(x, w, **case.kwargs()))


# ------------------------------------------------------------------ (2) fixed point vs float64 reference

@given(st.data(), conv_cases(), fixed_formats(max_bits=12), fixed_formats(max_bits=12), ROUNDINGS, st.booleans())
def test_fixed_is_within_the_derived_bound_of_the_reference(data, case, fx_fmt, fw_fmt, rounding, with_bias) -> None:
    """|conv2d_fixed − conv2d_ref(dequantised inputs)| is bounded by the rounding it performs.

    Derivation: the products are summed exactly, so the only errors are (a) aligning a bias with
    more fraction bits than the sum (f = fx + fw): an error in [0, 2^-f) for truncation (the
    result is never above the exact value) and at most 2^-f / 2 for round-to-nearest; and (b)
    dropping the sum's extra fraction bits into the output format (fo fraction bits, only if
    fo < f): in (−2^-fo, 0] for truncation and at most 2^-fo / 2 for round-to-nearest. With no
    accumulator or output overflow (ensured by a wide accumulator and an output with enough
    integer bits) the total error is the sum of both: for truncation
    −(2^-fo + 2^-f) < fixed − ref ≤ 0, otherwise |fixed − ref| ≤ 2^-fo/2 + 2^-f/2. The float64
    reference is itself exact here (≤ 12-bit operands, ≤ 96 terms: every sum < 2^53 units).
    """
    x = fixed_tensor(data.draw, case.x_shape, fx_fmt)
    w = fixed_tensor(data.draw, case.w_shape, fw_fmt)
    frac_sum = fx_fmt.frac_bits + fw_fmt.frac_bits
    bias = None
    if with_bias:
        fb_fmt = data.draw(fixed_formats(max_bits=16, signed=True))
        bias = fixed_tensor(data.draw, (case.out_channels,), fb_fmt)
    ref = conv.conv2d_ref(dequantize(x), dequantize(w), None if bias is None else dequantize(bias), **case.kwargs())
    magnitude = float(np.abs(ref).max()) + 1.0
    int_bits = int(np.ceil(np.log2(magnitude))) + 2
    frac_out = data.draw(st.integers(0, max(0, min(32 - int_bits, 40))))
    out_fmt = FixedFormat(total_bits=min(32, int_bits + frac_out), int_bits=int_bits, signed=True)
    # widest accumulator allowed for this shift (a left shift must stay inside int64)
    acc_bits = 63 - max(0, out_fmt.frac_bits - frac_sum)
    requant = Requantizer(out=out_fmt, rounding=rounding, overflow=Overflow.SATURATE,
                          accumulator=Accumulator(bits=acc_bits, overflow=Overflow.SATURATE))
    y, counts = conv.conv2d_fixed(x, w, bias, requant=requant, **case.kwargs())
    assert counts == OverflowCounts(output=0, accumulator=0)
    assert y.fmt == out_fmt and y.values.dtype == out_fmt.storage_dtype
    e_out = 0.0 if out_fmt.frac_bits >= frac_sum else 2.0 ** -out_fmt.frac_bits
    e_bias = 2.0 ** -frac_sum if bias is not None and bias.fmt.frac_bits > frac_sum else 0.0
    diff = dequantize(y) - ref
    if rounding is Rounding.TRUNCATE:
        assert diff.max() <= 0.0
        assert diff.min() > -(e_out + e_bias) or (e_out + e_bias == 0 and diff.min() == 0)
    else:
        assert np.abs(diff).max() <= (e_out + e_bias) / 2


@given(st.data(), conv_cases(max_in_per_group=4), fixed_formats(max_bits=10), fixed_formats(max_bits=10),
       fixed_formats(max_bits=12), ROUNDINGS, OVERFLOWS, OVERFLOWS, st.integers(2, 40))
def test_fixed_equals_finish_accumulation_of_the_reference_sums(data, case, fx_fmt, fw_fmt, out_fmt, rounding,
                                                                 out_overflow, acc_overflow, acc_bits) -> None:
    """Bit-exact: values, dtype and overflow counts equal finish_accumulation(reference sums + bias).

    Covers narrow accumulators and outputs, so wrap and saturate are both hit and counted.
    """
    x = fixed_tensor(data.draw, case.x_shape, fx_fmt)
    w = fixed_tensor(data.draw, case.w_shape, fw_fmt)
    fb_fmt = data.draw(fixed_formats(max_bits=16))
    bias = fixed_tensor(data.draw, (case.out_channels,), fb_fmt) if data.draw(st.booleans()) else None
    requant = Requantizer(out=out_fmt, rounding=rounding, overflow=out_overflow,
                          accumulator=Accumulator(bits=acc_bits, overflow=acc_overflow))
    frac_sum = fx_fmt.frac_bits + fw_fmt.frac_bits
    sums = int_conv_reference(x.values.astype(np.int64), w.values.astype(np.int64), **case.kwargs())
    if bias is not None:
        shift = frac_sum - fb_fmt.frac_bits
        b = bias.values.astype(np.int64)
        aligned = b << np.int64(shift) if shift >= 0 else round_shift(b, -shift, rounding)
        sums = sums + aligned[None, :, None, None]
    try:
        expected, expected_counts = finish_accumulation(sums, frac_sum, requant)
    except BadArgument:  # e.g. a left shift that leaves int64: the conv must refuse it too
        with pytest.raises(BadArgument, match="shift"):
            conv.conv2d_fixed(x, w, bias, requant=requant, **case.kwargs())
        return
    got, counts = conv.conv2d_fixed(x, w, bias, requant=requant, **case.kwargs())
    assert counts == expected_counts
    assert got.values.dtype == expected.values.dtype
    np.testing.assert_array_equal(got.values, expected.values)


# ------------------------------------------------------------------ (3) float32 vs float64

@given(st.data(), conv_cases(), st.booleans())
def test_f32_is_within_the_float32_bound_of_the_reference(data, case, with_bias) -> None:
    """|f32 − ref| ≤ (K + 1)·2^-24·(Σ|x||w| + |b|) + tiny, K = C/groups·KH·KW.

    Derivation: inputs are float32 numbers, so the only errors are the float32 roundings of the
    K products and K − 1 additions plus the bias addition; each is a relative error ≤ u = 2^-24
    of a partial sum bounded by Σ|x||w| + |b|, giving the classic γ_(K+1) bound, (K+1)·u/(1−(K+1)·u)
    ≤ 1.01·(K+1)·u here. Blocked BLAS summation orders only lower the factor.
    """
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(case.x_shape).astype(np.float32)
    w = rng.standard_normal(case.w_shape).astype(np.float32)
    b = rng.standard_normal(case.out_channels).astype(np.float32) if with_bias else None
    got = conv.conv2d_f32(x, w, b, **case.kwargs())
    assert got.dtype == np.float32
    ref = conv.conv2d_ref(x, w, b, **case.kwargs())
    scale = conv.conv2d_ref(np.abs(x), np.abs(w), None if b is None else np.abs(b), **case.kwargs())
    bound = 1.01 * (case.reduction_len + 1) * 2.0**-24 * scale + 1e-30
    assert np.all(np.abs(got.astype(np.float64) - ref) <= bound)


# ------------------------------------------------------------------ (4) depthwise and pointwise

@given(st.data(), conv_cases(depthwise=True), fixed_formats(max_bits=12), fixed_formats(max_bits=12), ROUNDINGS)
def test_depthwise_equals_conv2d_with_groups_c(data, case, fx_fmt, fw_fmt, rounding) -> None:
    """Every depthwise form equals conv2d with groups = C exactly."""
    x = fixed_tensor(data.draw, case.x_shape, fx_fmt)
    w = fixed_tensor(data.draw, case.w_shape, fw_fmt)
    sp = {"stride": case.stride, "padding": case.padding}
    c = case.in_channels
    np.testing.assert_array_equal(conv.depthwise_conv2d_int_sums(x.values, w.values, **sp),
                                  conv.conv2d_int_sums(x.values, w.values, groups=c, **sp))
    requant = Requantizer(out=FixedFormat(total_bits=16, int_bits=8, signed=True), rounding=rounding,
                          overflow=Overflow.SATURATE, accumulator=Accumulator(bits=40, overflow=Overflow.WRAP))
    got, got_counts = conv.depthwise_conv2d_fixed(x, w, None, requant=requant, **sp)
    exp, exp_counts = conv.conv2d_fixed(x, w, None, groups=c, requant=requant, **sp)
    np.testing.assert_array_equal(got.values, exp.values)
    assert got_counts == exp_counts
    xf, wf = dequantize(x), dequantize(w)
    np.testing.assert_array_equal(conv.depthwise_conv2d_ref(xf, wf, **sp), conv.conv2d_ref(xf, wf, groups=c, **sp))
    np.testing.assert_array_equal(conv.depthwise_conv2d_f32(xf, wf, **sp), conv.conv2d_f32(xf, wf, groups=c, **sp))
    # and the depthwise result really is per channel: channel k only sees input channel k
    np.testing.assert_array_equal(
        conv.depthwise_conv2d_int_sums(x.values[:, :1], w.values[:1], **sp),
        conv.depthwise_conv2d_int_sums(x.values, w.values, **sp)[:, :1])


@given(st.data(), conv_cases(pointwise=True), fixed_formats(max_bits=12), fixed_formats(max_bits=12))
def test_pointwise_equals_conv2d_with_a_1x1_kernel_and_a_channel_matmul(data, case, fx_fmt, fw_fmt) -> None:
    x = fixed_tensor(data.draw, case.x_shape, fx_fmt)
    w = fixed_tensor(data.draw, case.w_shape, fw_fmt)
    sums = conv.pointwise_conv2d_int_sums(x.values, w.values)
    np.testing.assert_array_equal(sums, conv.conv2d_int_sums(x.values, w.values, stride=1, padding=0, groups=1))
    matmul = np.einsum("mc,nchw->nmhw", w.values[:, :, 0, 0].astype(np.int64), x.values.astype(np.int64))
    np.testing.assert_array_equal(sums, matmul)
    requant = Requantizer(out=FixedFormat(total_bits=12, int_bits=6, signed=True), rounding=Rounding.HALF_UP,
                          overflow=Overflow.WRAP, accumulator=Accumulator(bits=32, overflow=Overflow.SATURATE))
    got, got_counts = conv.pointwise_conv2d_fixed(x, w, None, requant=requant)
    exp, exp_counts = conv.conv2d_fixed(x, w, None, stride=1, padding=0, groups=1, requant=requant)
    np.testing.assert_array_equal(got.values, exp.values)
    assert got_counts == exp_counts
    xf, wf = dequantize(x), dequantize(w)
    one_by_one = {"stride": 1, "padding": 0, "groups": 1}
    np.testing.assert_array_equal(conv.pointwise_conv2d_ref(xf, wf), conv.conv2d_ref(xf, wf, **one_by_one))
    np.testing.assert_array_equal(conv.pointwise_conv2d_f32(xf, wf), conv.conv2d_f32(xf, wf, **one_by_one))


# ------------------------------------------------------------------ (5) overflow counting, hand-built

_INT8 = FixedFormat(total_bits=8, int_bits=8, signed=True)
_X = FixedTensor(np.array([[[[10, 20], [30, 40]]]], dtype=np.int8), FixedFormat(total_bits=8, int_bits=8, signed=True))
# three 1x1 filters: ×1, ×4, ×(−4) → sums 10..40, 40..160, −40..−160
_W = FixedTensor(np.array([1, 4, -4], dtype=np.int8).reshape(3, 1, 1, 1), _INT8)


@pytest.mark.parametrize(("overflow", "expected"), [
    (Overflow.SATURATE, [[10, 20, 30, 40], [40, 80, 120, 127], [-40, -80, -120, -128]]),
    (Overflow.WRAP, [[10, 20, 30, 40], [40, 80, 120, 160 - 256], [-40, -80, -120, -160 + 256]]),
])
def test_output_overflow_is_counted_and_applied(overflow, expected) -> None:
    """Only ±160 leave int8 (−128..127): exactly two output overflows, saturated or wrapped."""
    requant = Requantizer(out=_INT8, rounding=Rounding.TRUNCATE, overflow=overflow,
                          accumulator=Accumulator(bits=32, overflow=Overflow.WRAP))
    y, counts = conv.pointwise_conv2d_fixed(_X, _W, None, requant=requant)
    assert counts == OverflowCounts(output=2, accumulator=0)
    np.testing.assert_array_equal(y.values.reshape(3, 4), expected)


@pytest.mark.parametrize(("overflow", "expected"), [
    (Overflow.SATURATE, [[10, 20, 30, 40], [40, 80, 120, 127], [-40, -80, -120, -128]]),
    (Overflow.WRAP, [[10, 20, 30, 40], [40, 80, 120, -96], [-40, -80, -120, 96]]),
])
def test_accumulator_overflow_is_counted_and_applied(overflow, expected) -> None:
    """An 8-bit accumulator: ±160 overflow it (two counts); the 16-bit output then holds the result."""
    requant = Requantizer(out=FixedFormat(total_bits=16, int_bits=16, signed=True), rounding=Rounding.TRUNCATE,
                          overflow=Overflow.SATURATE, accumulator=Accumulator(bits=8, overflow=overflow))
    y, counts = conv.pointwise_conv2d_fixed(_X, _W, None, requant=requant)
    assert counts == OverflowCounts(output=0, accumulator=2)
    np.testing.assert_array_equal(y.values.reshape(3, 4), expected)


def test_bias_with_more_fraction_bits_is_rounded_with_the_requantizer_mode() -> None:
    """Sum 0 (x = 0), bias 3·2^-2 = 0.75 aligned to 0 fraction bits: truncate → 0, half_up → 1."""
    x = FixedTensor(np.zeros((1, 1, 1, 1), dtype=np.int8), _INT8)
    w = FixedTensor(np.ones((1, 1, 1, 1), dtype=np.int8), _INT8)
    bias = FixedTensor(np.array([3], dtype=np.int8), FixedFormat(total_bits=8, int_bits=6, signed=True))
    for rounding, value in ((Rounding.TRUNCATE, 0), (Rounding.HALF_UP, 1), (Rounding.HALF_EVEN, 1)):
        requant = Requantizer(out=_INT8, rounding=rounding, overflow=Overflow.SATURATE,
                              accumulator=Accumulator(bits=32, overflow=Overflow.WRAP))
        y, _ = conv.pointwise_conv2d_fixed(x, w, bias, requant=requant)
        assert int(y.values[0, 0, 0, 0]) == value, rounding
