"""Bad input to fpgasim.ops.conv: one project error naming the argument, the value and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Overflow, Requantizer, Rounding
from fpgasim.ops import conv

X = np.zeros((1, 4, 5, 5), dtype=np.int16)
W = np.zeros((6, 2, 3, 3), dtype=np.int16)
FMT = FixedFormat(total_bits=8, int_bits=4, signed=True)
FX = FixedTensor(X.astype(np.int8), FMT)
FW = FixedTensor(W.astype(np.int8), FMT)
RQ = Requantizer(out=FMT, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE,
                 accumulator=Accumulator(bits=32, overflow=Overflow.WRAP))
OK = {"stride": 1, "padding": 1, "groups": 2}


def _with(**changes):
    return {**OK, **changes}


@pytest.mark.parametrize("fn", [conv.conv2d_ref, conv.conv2d_f32, conv.conv2d_int_sums])
@pytest.mark.parametrize(("x", "w", "kwargs", "error", "fragment"), [
    (X, W, _with(stride=0), BadArgument, "stride=0: expected an integer >= 1"),
    (X, W, _with(stride=1.5), BadArgument, "stride=1.5"),
    (X, W, _with(stride=True), BadArgument, "stride=True"),
    (X, W, _with(padding=-1), BadArgument, "padding=-1: expected an integer >= 0"),
    (X, W, _with(groups=0), BadArgument, "groups=0"),
    (X, W, _with(groups=3), ShapeError, "4 channels, not divisible by groups=3"),
    (X, np.zeros((5, 1, 3, 3), np.int16), _with(groups=4), ShapeError, "5 filters (M), not divisible by groups=4"),
    (X, np.zeros((6, 3, 3, 3), np.int16), OK, ShapeError, "expected w.shape[1] == 2"),
    (X[0], W, OK, ShapeError, "x has shape (4, 5, 5) (ndim 3): expected ndim 4"),
    (X, W[0], OK, ShapeError, "w has shape (2, 3, 3) (ndim 3): expected ndim 4"),
    (X, np.zeros((6, 2, 9, 3), np.int16), _with(padding=1), ShapeError, "kernel=9 is larger than the padded input"),
    (np.zeros((0, 4, 5, 5), np.int16), W, OK, ShapeError, "expected every dimension >= 1"),
])
def test_bad_shapes_and_arguments(fn, x, w, kwargs, error, fragment) -> None:
    with pytest.raises(error) as info:
        fn(x, w, **kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("x", "w", "fragment"), [
    (X.astype(np.float32), W, "x_int has dtype float32: expected an integer array"),
    (X, W.astype(np.float64), "w_int has dtype float64: expected an integer array"),
    (X.astype(bool), W, "x_int has dtype bool"),
    (X.astype(np.uint64) + np.uint64(2**63), W, "expected values that fit int64"),
])
def test_int_sums_reject_non_integer_arrays(x, w, fragment) -> None:
    with pytest.raises(BadArgument) as info:
        conv.conv2d_int_sums(x, w, **OK)
    assert fragment in str(info.value)


def test_int_sums_reject_operands_whose_sums_could_leave_int64() -> None:
    x = np.full((1, 4, 5, 5), 2**31, dtype=np.int64)
    w = np.full((6, 2, 3, 3), 2**31, dtype=np.int64)
    with pytest.raises(BadArgument, match="expected a bound below 2\\*\\*63"):
        conv.conv2d_int_sums(x, w, **OK)


def test_bad_bias_shape() -> None:
    with pytest.raises(ShapeError, match="bias has shape \\(5,\\): expected \\(6,\\)"):
        conv.conv2d_ref(X, W, np.zeros(5), **OK)
    with pytest.raises(ShapeError, match="bias has shape"):
        conv.conv2d_fixed(FX, FW, FixedTensor(np.zeros(5, np.int8), FMT), requant=RQ, **OK)


def test_f32_rejects_non_numeric_arrays() -> None:
    with pytest.raises(BadArgument, match="x has dtype complex128: expected a real numeric array"):
        conv.conv2d_f32(X.astype(complex), W, **OK)


@pytest.mark.parametrize(("args", "fragment"), [
    ((X, FW, None), "x is ndarray: expected a FixedTensor"),
    ((FX, W, None), "w is ndarray: expected a FixedTensor"),
    ((FX, FW, np.zeros(6)), "bias is ndarray: expected a FixedTensor or None"),
])
def test_fixed_requires_fixed_tensors(args, fragment) -> None:
    with pytest.raises(BadArgument) as info:
        conv.conv2d_fixed(*args, requant=RQ, **OK)
    assert fragment in str(info.value)


def test_fixed_requires_a_requantizer() -> None:
    with pytest.raises(BadArgument, match="requant is dict: expected a Requantizer"):
        conv.conv2d_fixed(FX, FW, None, requant={}, **OK)


def test_fixed_rejects_a_bias_whose_alignment_overflows_int64() -> None:
    wide = FixedFormat(total_bits=32, int_bits=32, signed=True)  # 0 fraction bits, 32-bit values
    x = FixedTensor(np.zeros((1, 4, 5, 5), np.int32), FixedFormat(total_bits=32, int_bits=16, signed=True))
    w = FixedTensor(np.zeros((6, 2, 3, 3), np.int32), FixedFormat(total_bits=32, int_bits=16, signed=True))
    bias = FixedTensor(np.zeros(6, np.int32), wide)
    with pytest.raises(BadArgument, match="bias ap_fixed<32,32> aligned to 32 fraction bits needs 64 bits"):
        conv.conv2d_fixed(x, w, bias, requant=RQ, **OK)


@pytest.mark.parametrize(("w", "fragment"), [
    (np.zeros((4, 2, 3, 3), np.int16), "depthwise w has shape (4, 2, 3, 3): expected (4, 1, KH, KW)"),
    (np.zeros((3, 1, 3, 3), np.int16), "depthwise w has shape (3, 1, 3, 3): expected (4, 1, KH, KW)"),
])
def test_depthwise_weight_shape(w, fragment) -> None:
    for fn in (conv.depthwise_conv2d_ref, conv.depthwise_conv2d_f32, conv.depthwise_conv2d_int_sums):
        with pytest.raises(ShapeError) as info:
            fn(X, w, stride=1, padding=1)
        assert fragment in str(info.value)


def test_pointwise_weight_shape() -> None:
    for fn in (conv.pointwise_conv2d_ref, conv.pointwise_conv2d_f32, conv.pointwise_conv2d_int_sums):
        with pytest.raises(ShapeError, match="pointwise w has shape \\(6, 4, 3, 3\\): expected \\(M, C, 1, 1\\)"):
            fn(X, np.zeros((6, 4, 3, 3), np.int16))


@pytest.mark.parametrize(("args", "error", "fragment"), [
    ((0, 3, 1, 0), BadArgument, "in_size=0"),
    ((5, 3, 0, 0), BadArgument, "stride=0"),
    ((5, 3, 1, -1), BadArgument, "padding=-1"),
    ((2, 5, 1, 1), ShapeError, "kernel=5 is larger than the padded input 2+2*1=4"),
])
def test_output_size_errors(args, error, fragment) -> None:
    with pytest.raises(error) as info:
        conv.output_size(*args)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("args", "expected"), [
    ((56, 3, 1, 1), 56), ((224, 11, 4, 2), 55), ((7, 7, 1, 0), 1), ((5, 3, 2, 0), 2), ((4, 1, 3, 0), 2),
])
def test_output_size_hand_computed(args, expected) -> None:
    assert conv.output_size(*args) == expected
