"""Convolutions: grouped conv2d, depthwise and pointwise, in float64, float32 and fixed point.

Owns the public convolution API of :mod:`fpgasim.ops`. Layout is NCHW; weights are
(M, C/groups, KH, KW); ``stride`` and ``padding`` are an int (both spatial dims) or
(height, width) (:data:`fpgasim.ops.window.Pair`); padding is with zeros, the same amount on both
sides of an axis. Every variant has four forms:

* ``*_ref``: float64 reference, a simple implementation sharing no code with the fast paths;
* ``*_f32``: float32 in, float32 out (float32 accumulation);
* ``*_int_sums``: exact int64 sums of integer products, the core of every fixed-point conv;
* ``*_fixed``: :class:`~fpgasim.fixedpoint.FixedTensor` in, fixed point out, with overflow counts.

Fixed-point semantics: with ``x`` having ``fx`` fraction bits and ``w`` having ``fw``, every
product has ``fx + fw`` fraction bits and the products are summed exactly (int64). A bias is
aligned to ``fx + fw`` fraction bits — an exact left shift when it has fewer fraction bits,
otherwise a right shift rounded with ``requant.rounding`` — and added to the exact sum. Then
:func:`fpgasim.fixedpoint.finish_accumulation` applies, once, the accumulator width and overflow
mode, the rounding to the output format and the output overflow mode; its
:class:`~fpgasim.fixedpoint.OverflowCounts` are returned.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, round_shift
from fpgasim.ops._conv_check import as_int_array, as_real_array, check_geometry, output_size
from fpgasim.ops._conv_engine import (
    DIRECT_DTYPES, I64_EXACT, choose_method, compute_dtype, conv_float, exact_int_sums, int_parts, operand_bounds,
)
from fpgasim.ops._conv_finish import conv_fixed_direct, finish_fixed
from fpgasim.ops._conv_ref import conv_ref_f64
from fpgasim.ops.window import Pair

__all__ = [
    "output_size",
    "conv2d_ref", "conv2d_f32", "conv2d_int_sums", "conv2d_fixed",
    "depthwise_conv2d_ref", "depthwise_conv2d_f32", "depthwise_conv2d_int_sums", "depthwise_conv2d_fixed",
    "pointwise_conv2d_ref", "pointwise_conv2d_f32", "pointwise_conv2d_int_sums", "pointwise_conv2d_fixed",
    "warmup_conv",
]

def conv2d_ref(x, w, bias=None, *, stride: Pair, padding: Pair, groups: int) -> np.ndarray:
    """Grouped 2-D convolution in float64 (the reference).

    Args:
        x: (N, C, H, W) real input.
        w: (M, C/groups, KH, KW) real weights.
        bias: (M,) real bias or None.
        stride: window step in elements, ≥ 1: an int (both spatial dims) or (height, width).
        padding: zeros on each side in elements, ≥ 0: an int (both spatial dims) or (height, width).
        groups: channel groups, ≥ 1, dividing C and M.

    Returns:
        (N, M, OH, OW) float64, ``OH = output_size(H, KH, stride_h, padding_h)``.
    """
    x = as_real_array("x", x, np.float64)
    w = as_real_array("w", w, np.float64)
    b = None if bias is None else as_real_array("bias", bias, np.float64)
    geo = check_geometry(x, w, b, stride=stride, padding=padding, groups=groups)
    return conv_ref_f64(x, w, b, stride=(geo.stride_h, geo.stride_w), padding=(geo.pad_h, geo.pad_w),
                        groups=geo.groups)


def conv2d_f32(x, w, bias=None, *, stride: Pair, padding: Pair, groups: int) -> np.ndarray:
    """Grouped 2-D convolution in float32 (inputs cast to float32, float32 accumulation).

    Args: as :func:`conv2d_ref`.

    Returns:
        (N, M, OH, OW) float32.
    """
    x = as_real_array("x", x, np.float32)
    w = as_real_array("w", w, np.float32)
    b = None if bias is None else as_real_array("bias", bias, np.float32)
    geo = check_geometry(x, w, b, stride=stride, padding=padding, groups=groups)
    out = conv_float(x, w, geo)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv2d_int_sums(x_int, w_int, *, stride: Pair, padding: Pair, groups: int) -> np.ndarray:
    """Exact int64 sums of integer products of a grouped 2-D convolution (no bias, no rounding).

    The method (float32 or float64 BLAS, or a Numba integer loop) is chosen from the operands'
    actual magnitudes so that every partial sum is exact; see :mod:`fpgasim.ops._conv_engine`.

    Args:
        x_int: (N, C, H, W) integer array.
        w_int: (M, C/groups, KH, KW) integer array.
        stride, padding, groups: as :func:`conv2d_ref`.

    Returns:
        (N, M, OH, OW) int64.

    Raises:
        BadArgument: non-integer arrays, bad stride/padding/groups, or operands whose sums could
            exceed int64 (max|x| · max_m Σ|w_m| ≥ 2**63).
        ShapeError: as :func:`conv2d_ref`.
    """
    x = as_int_array("x_int", x_int)
    w = as_int_array("w_int", w_int)
    geo = check_geometry(x, w, None, stride=stride, padding=padding, groups=groups)
    return exact_int_sums(x, w, geo)


def _check_fixed(name: str, value: object, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, FixedTensor):
        expected = "a FixedTensor or None" if optional else "a FixedTensor"
        raise BadArgument(f"{name} is {type(value).__name__}: expected {expected}")


def _align_bias(bias: FixedTensor, frac_bits: int, requant: Requantizer) -> np.ndarray:
    """Bias stored integers re-scaled to ``frac_bits`` fraction bits (int64)."""
    shift = frac_bits - bias.fmt.frac_bits
    values = bias.values.astype(np.int64)
    if shift >= 0:
        if bias.fmt.total_bits + shift > 63:
            raise BadArgument(
                f"bias {bias.fmt} aligned to {frac_bits} fraction bits needs "
                f"{bias.fmt.total_bits + shift} bits: expected at most 63"
            )
        return values << np.int64(shift)
    return round_shift(values, -shift, requant.rounding)


def conv2d_fixed(x: FixedTensor, w: FixedTensor, bias: FixedTensor | None, *, stride: Pair, padding: Pair,
                 groups: int, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Grouped 2-D convolution in fixed point, bit-exact (semantics in the module docstring).

    Args:
        x: (N, C, H, W) input tensor, ``fx`` fraction bits.
        w: (M, C/groups, KH, KW) weight tensor, ``fw`` fraction bits.
        bias: (M,) tensor or None.
        stride, padding, groups: as :func:`conv2d_ref`.
        requant: accumulator, rounding, output format and output overflow mode.

    Returns:
        The (N, M, OH, OW) output in ``requant.out`` and the overflow counts (accumulator and
        output elements that left their range).

    Raises:
        BadArgument: x/w/bias not FixedTensors, requant not a Requantizer, fx + fw > 62, a bias
            whose alignment overflows int64, or bad stride/padding/groups.
        ShapeError: as :func:`conv2d_ref`.
    """
    _check_fixed("x", x)
    _check_fixed("w", w)
    _check_fixed("bias", bias, optional=True)
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant is {type(requant).__name__}: expected a Requantizer")
    xi = compute_dtype(x.values)
    wi = compute_dtype(w.values)
    geo = check_geometry(xi, wi, None if bias is None else bias.values,
                         stride=stride, padding=padding, groups=groups)
    frac_bits = x.fmt.frac_bits + w.fmt.frac_bits
    bounds = operand_bounds(xi, wi)
    if bias is None:
        aligned = np.zeros(geo.out_channels, dtype=np.int64)
        reach = bounds.row
    else:
        aligned = _align_bias(bias, frac_bits, requant)
        reach = bounds.row + max(-int(aligned.min()), int(aligned.max()))
        if reach > I64_EXACT:
            raise BadArgument(f"sum plus aligned bias may reach {reach}: expected below 2**63")
    method = choose_method(bounds, geo)
    if method in DIRECT_DTYPES:
        return conv_fixed_direct(xi, wi, geo, bounds, method, aligned, frac_bits, requant, reach)
    parts = int_parts(xi, wi, geo, bounds, method)
    out_shape = (geo.batch, geo.out_channels, geo.out_h, geo.out_w)
    return finish_fixed(parts, aligned, frac_bits, requant, out_shape, reach)


# ---------------------------------------------------------------- depthwise: groups = C, w (C, 1, KH, KW)

def _depthwise_groups(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> int:
    if len(x_shape) != 4:
        raise ShapeError(f"x has shape {x_shape} (ndim {len(x_shape)}): expected ndim 4 (N, C, H, W)")
    if len(w_shape) != 4 or w_shape[0] != x_shape[1] or w_shape[1] != 1:
        raise ShapeError(f"depthwise w has shape {w_shape}: expected ({x_shape[1]}, 1, KH, KW), one filter per channel")
    return max(1, x_shape[1])


def depthwise_conv2d_ref(x, w, bias=None, *, stride: Pair, padding: Pair) -> np.ndarray:
    """Depthwise convolution in float64: channel c of x with filter c of w (C, 1, KH, KW).

    Args: as :func:`conv2d_ref` without ``groups`` (it is C). Returns: (N, C, OH, OW) float64.
    """
    groups = _depthwise_groups(np.shape(x), np.shape(w))
    return conv2d_ref(x, w, bias, stride=stride, padding=padding, groups=groups)


def depthwise_conv2d_f32(x, w, bias=None, *, stride: Pair, padding: Pair) -> np.ndarray:
    """Depthwise convolution in float32. Args: as :func:`depthwise_conv2d_ref`. Returns float32."""
    groups = _depthwise_groups(np.shape(x), np.shape(w))
    return conv2d_f32(x, w, bias, stride=stride, padding=padding, groups=groups)


def depthwise_conv2d_int_sums(x_int, w_int, *, stride: Pair, padding: Pair) -> np.ndarray:
    """Exact int64 sums of a depthwise convolution. Args/Raises: as :func:`conv2d_int_sums`."""
    groups = _depthwise_groups(np.shape(x_int), np.shape(w_int))
    return conv2d_int_sums(x_int, w_int, stride=stride, padding=padding, groups=groups)


def depthwise_conv2d_fixed(x: FixedTensor, w: FixedTensor, bias: FixedTensor | None, *, stride: Pair,
                           padding: Pair, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Depthwise convolution in fixed point. Args/Returns/Raises: as :func:`conv2d_fixed`."""
    _check_fixed("x", x)
    _check_fixed("w", w)
    groups = _depthwise_groups(x.shape, w.shape)
    return conv2d_fixed(x, w, bias, stride=stride, padding=padding, groups=groups, requant=requant)


# ---------------------------------------------------------------- pointwise: 1x1, stride 1, no padding

def _check_pointwise(w_shape: tuple[int, ...]) -> None:
    if len(w_shape) != 4 or w_shape[2:] != (1, 1):
        raise ShapeError(f"pointwise w has shape {w_shape}: expected (M, C, 1, 1)")


def pointwise_conv2d_ref(x, w, bias=None) -> np.ndarray:
    """Pointwise (1×1) convolution in float64, w (M, C, 1, 1). Returns (N, M, H, W) float64."""
    _check_pointwise(np.shape(w))
    return conv2d_ref(x, w, bias, stride=1, padding=0, groups=1)


def pointwise_conv2d_f32(x, w, bias=None) -> np.ndarray:
    """Pointwise (1×1) convolution in float32. Returns (N, M, H, W) float32."""
    _check_pointwise(np.shape(w))
    return conv2d_f32(x, w, bias, stride=1, padding=0, groups=1)


def pointwise_conv2d_int_sums(x_int, w_int) -> np.ndarray:
    """Exact int64 sums of a pointwise (1×1) convolution. Raises: as :func:`conv2d_int_sums`."""
    _check_pointwise(np.shape(w_int))
    return conv2d_int_sums(x_int, w_int, stride=1, padding=0, groups=1)


def pointwise_conv2d_fixed(x: FixedTensor, w: FixedTensor, bias: FixedTensor | None, *,
                           requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Pointwise (1×1) convolution in fixed point. Returns/Raises: as :func:`conv2d_fixed`."""
    _check_fixed("w", w)
    _check_pointwise(w.shape)
    return conv2d_fixed(x, w, bias, stride=1, padding=0, groups=1, requant=requant)


def warmup_conv() -> None:
    """Compile (or load from the Numba cache) the convolution kernels for the common dtypes.

    Call before timing anything (``ops.warmup()`` should call this). Runs tiny convolutions
    through every exact method, the fused finishes and the float32 path.
    """
    from fpgasim.fixedpoint import Accumulator, FixedFormat, Overflow, Rounding

    for bits, out_bits in ((8, 8), (16, 16), (16, 32)):
        fmt = FixedFormat(total_bits=bits, int_bits=1, signed=True)
        requant = Requantizer(out=FixedFormat(total_bits=out_bits, int_bits=4, signed=True),
                              rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE,
                              accumulator=Accumulator(bits=48, overflow=Overflow.WRAP))
        x = FixedTensor(np.ones((1, 8, 4, 4), dtype=fmt.storage_dtype), fmt)
        w = FixedTensor(np.ones((8, 8, 3, 3), dtype=fmt.storage_dtype), fmt)
        dw = FixedTensor(np.ones((8, 1, 3, 3), dtype=fmt.storage_dtype), fmt)
        conv2d_fixed(x, w, None, stride=1, padding=1, groups=1, requant=requant)  # gemm_f32 / gemm_f64
        depthwise_conv2d_fixed(x, dw, None, stride=1, padding=1, requant=requant)
    conv2d_f32(np.ones((1, 8, 4, 4), np.float32), np.ones((8, 8, 3, 3), np.float32), stride=1, padding=1, groups=1)
    depthwise_conv2d_f32(np.ones((1, 8, 4, 4), np.float32), np.ones((8, 1, 3, 3), np.float32), stride=1, padding=1)
