"""The exact fast paths of the integer convolution: method choice, float32 chunking, fallback,
and the fused finish against fpgasim.fixedpoint.finish_accumulation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import Accumulator, Overflow, Requantizer, Rounding, finish_accumulation
from fpgasim.ops import _conv_engine, conv
from fpgasim.ops._conv_check import check_geometry
from fpgasim.ops._conv_engine import METHODS, choose_method, exact_int_sums, int_parts, operand_bounds
from fpgasim.ops._conv_finish import conv_fixed_direct, finish_fixed
from tests.ops._conv_reference import int_conv_reference, sum_bound
from tests.strategies.conv_shapes import conv_cases, fixed_formats, int_array


def _geometry(x, w, stride=1, padding=0, groups=1):
    return check_geometry(x, w, None, stride=stride, padding=padding, groups=groups)


@pytest.mark.parametrize("method", METHODS)
@given(data=st.data(), case=conv_cases())
def test_every_method_is_exact_when_its_bound_holds(method, data, case) -> None:
    """Small operands (|x|, |w| ≤ 15: sums < 2^24) let every method run; all equal the reference."""
    x = int_array(data.draw, case.x_shape, -15, 15).astype(np.int8)
    w = int_array(data.draw, case.w_shape, -15, 15)
    got = exact_int_sums(x, w, _geometry(x, w, **case.kwargs()), method)
    np.testing.assert_array_equal(got, int_conv_reference(x, w, **case.kwargs()))


@pytest.mark.parametrize("method", ["gemm_f32", "direct_f32", "direct_i32", "direct_f64", "gemm_f64"])
def test_a_forced_method_that_would_not_be_exact_is_refused(method) -> None:
    x = np.full((1, 8, 3, 3), 2**24, dtype=np.int64)
    w = np.full((2, 8, 3, 3), 2**24, dtype=np.int64)  # bound 2^48 · 72 > 2^53
    with pytest.raises(BadArgument, match="not exact"):
        exact_int_sums(x, w, _geometry(x, w), method)


def test_float32_chunks_keep_sums_above_2_24_exact() -> None:
    """1101 products of 127·127 = 16129 sum to 17758029: odd and above 2^24, so a single float32
    accumulation could not hold it; the reduction is cut into chunks whose bound is ≤ 2^24."""
    x = np.full((1, 1101, 2, 2), 127, dtype=np.int16)
    w = np.full((3, 1101, 1, 1), 127, dtype=np.int16)
    geo = _geometry(x, w)
    bounds = operand_bounds(x, w)
    assert choose_method(bounds, geo) == "gemm_f32"
    parts = int_parts(x, w, geo, bounds)
    assert parts.shape[0] == 2 and parts.dtype == np.float32
    assert np.all(np.abs(parts) <= 2**24)
    assert np.all(conv.conv2d_int_sums(x, w, stride=1, padding=0, groups=1) == 1101 * 16129)
    assert 1101 * 16129 > 2**24 and float(np.float32(1101 * 16129)) != 1101 * 16129


@pytest.mark.parametrize("method", ["gemm_f32", "gemm_f64"])
@given(data=st.data(), case=conv_cases(max_size=10), budget_bytes=st.integers(1, 4096))
def test_gemm_in_blocks_of_output_rows_equals_the_reference(method, data, case, budget_bytes) -> None:
    """A small im2col budget makes the GEMM paths work a few output rows at a time (large layers
    do this); the blocks must tile the output exactly."""
    x = int_array(data.draw, case.x_shape, -15, 15).astype(np.int8)
    w = int_array(data.draw, case.w_shape, -15, 15)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_conv_engine, "_COLS_BUDGET_BYTES", budget_bytes)
        got = exact_int_sums(x, w, _geometry(x, w, **case.kwargs()), method)
    np.testing.assert_array_equal(got, int_conv_reference(x, w, **case.kwargs()))


@pytest.mark.parametrize(("x_bits", "w_bits", "channels", "expected"), [
    (8, 8, 32, "gemm_f32"),      # products ≤ 2^14, chunks of ≥ 1024 terms
    (16, 16, 32, "gemm_f64"),    # products up to 2^30: float64 while the bound ≤ 2^53
    (30, 30, 32, "direct_i64"),  # bound 2^58 · 32 > 2^53: the exact integer loop
    (8, 8, 1, "direct_f32"),     # few channels per group: the direct loop
    (16, 16, 1, "direct_i32"),   # one 16x16-bit product: |sum| ≤ 2^30 fits int32
    (20, 16, 1, "direct_f64"),   # 2^34: beyond int32, within 2^53
])
def test_method_follows_the_operand_bounds(x_bits, w_bits, channels, expected) -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(-(1 << (x_bits - 1)), 1 << (x_bits - 1), (1, channels, 5, 5))
    w = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), (4, channels, 1, 1))
    x[0, 0, 0, 0], w[0, 0, 0, 0] = -(1 << (x_bits - 1)), -(1 << (w_bits - 1))
    geo = _geometry(x, w)
    assert choose_method(operand_bounds(x, w), geo) == expected
    np.testing.assert_array_equal(conv.conv2d_int_sums(x, w, stride=1, padding=0, groups=1),
                                  int_conv_reference(x, w, stride=1, padding=0, groups=1))


@given(st.data(), conv_cases(max_in_per_group=40, max_out_per_group=2, max_size=5), st.integers(8, 30))
def test_the_chosen_method_is_exact_across_magnitudes(data, case, bits) -> None:
    """Many channels and wide values: every automatically chosen path (f32 chunks, f64, int64)."""
    x = int_array(data.draw, case.x_shape, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    w = int_array(data.draw, case.w_shape, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    if sum_bound(x, w) > 2**63 - 1:
        return
    np.testing.assert_array_equal(conv.conv2d_int_sums(x, w, **case.kwargs()),
                                  int_conv_reference(x, w, **case.kwargs()))


@given(st.data(), st.integers(1, 3), fixed_formats(min_bits=2, max_bits=32), st.integers(0, 40),
       st.integers(2, 63), st.sampled_from(list(Rounding)), st.sampled_from(list(Overflow)),
       st.sampled_from(list(Overflow)), st.sampled_from([np.float32, np.float64, np.int32, np.int64]), st.booleans())
def test_fused_finish_equals_finish_accumulation(data, n_parts, out_fmt, frac_sum, acc_bits, rounding,
                                                 out_overflow, acc_overflow, dtype, prove_bound) -> None:
    """Same values, dtype and counts as finish_accumulation(Σ parts + bias), every mode, both shift signs;
    with a proven bound (the true max |sum|) and one part, the float64 finish is taken when exact."""
    limit = {np.float32: 2**24, np.float64: 2**53, np.int32: 2**31 - 1, np.int64: 2**61}[dtype]
    parts = int_array(data.draw, (n_parts, 2, 3, 5), -limit, limit).astype(dtype)
    bias = int_array(data.draw, (3,), -(2**40), 2**40)
    requant = Requantizer(out=out_fmt, rounding=rounding, overflow=out_overflow,
                          accumulator=Accumulator(bits=acc_bits, overflow=acc_overflow))
    sums = parts.astype(np.int64).sum(axis=0) + bias[None, :, None]
    try:
        expected, expected_counts = finish_accumulation(sums.reshape(2, 3, 5, 1), frac_sum, requant)
    except BadArgument:
        with pytest.raises(BadArgument):
            finish_fixed(parts, bias, frac_sum, requant, (2, 3, 5, 1))
        return
    bound = int(np.abs(sums).max()) if prove_bound else None
    got, counts = finish_fixed(parts, bias, frac_sum, requant, (2, 3, 5, 1), bound)
    assert counts == expected_counts
    assert got.fmt == expected.fmt and got.values.dtype == expected.values.dtype
    np.testing.assert_array_equal(got.values, expected.values)


@given(st.data(), conv_cases(max_in_per_group=3), st.integers(2, 16), st.integers(0, 40), st.integers(2, 63),
       fixed_formats(min_bits=2, max_bits=32), st.sampled_from(list(Rounding)), st.sampled_from(list(Overflow)),
       st.sampled_from(list(Overflow)), st.booleans())
def test_fused_direct_finish_float_and_int_paths_equal_finish_accumulation(
        data, case, bits, frac_sum, acc_bits, out_fmt, rounding, out_overflow, acc_overflow, prove_bound) -> None:
    """The direct loop fused with its finish: the float64 finish (taken when a bound ≤ 2^51 is
    given) and the int64 finish (no bound) both equal finish_accumulation(reference sums + bias)."""
    x = int_array(data.draw, case.x_shape, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    w = int_array(data.draw, case.w_shape, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    bias = int_array(data.draw, (case.out_channels,), -(2**20), 2**20)
    requant = Requantizer(out=out_fmt, rounding=rounding, overflow=out_overflow,
                          accumulator=Accumulator(bits=acc_bits, overflow=acc_overflow))
    geo = _geometry(x, w, **case.kwargs())
    bounds = operand_bounds(x, w)
    sums = int_conv_reference(x, w, **case.kwargs()) + bias[None, :, None, None]
    try:
        expected, expected_counts = finish_accumulation(sums, frac_sum, requant)
    except BadArgument:
        return
    reach = bounds.row + 2**20 if prove_bound else None
    for method in ("direct_f64", "direct_i64"):
        got, counts = conv_fixed_direct(x, w, geo, bounds, method, bias, frac_sum, requant, reach)
        assert counts == expected_counts
        assert got.values.dtype == expected.values.dtype
        np.testing.assert_array_equal(got.values, expected.values)


def test_warmup_runs_and_leaves_results_unchanged() -> None:
    conv.warmup_conv()
    x = np.arange(16, dtype=np.int16).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2), dtype=np.int16)
    # hand-computed: each output is the sum of a 2x2 window of 0..15
    np.testing.assert_array_equal(conv.conv2d_int_sums(x, w, stride=2, padding=0, groups=1)[0, 0],
                                  [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])
