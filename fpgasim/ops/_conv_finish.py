"""Fused fixed-point finish of convolution parts (private).

:func:`finish_fixed` gives exactly what :func:`fpgasim.fixedpoint.finish_accumulation` gives for
``Σ parts + bias`` (the tests check this bit for bit over every mode), in one Numba pass instead
of a dozen numpy passes. Cases that function rejects (too many fraction bits, a left shift that
leaves int64) are delegated to it, so the errors are the same.
"""

from __future__ import annotations

import numpy as np

from fpgasim.fixedpoint import (
    MAX_FRAC_BITS, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, finish_accumulation,
)
from fpgasim.ops._conv_check import ConvGeometry
from fpgasim.ops._conv_engine import DIRECT_DTYPES, Bounds, int_parts, pad_input
from fpgasim.ops._conv_kernels import direct_fixed, finish_parts

__all__ = ["finish_fixed", "conv_fixed_direct", "ROUNDING_CODES", "FLOAT_FINISH_EXACT"]

#: Largest |sum| (after any left shift) for which the float64 finish is exact (see the kernel).
FLOAT_FINISH_EXACT = 2**51

#: Rounding mode → code understood by :func:`fpgasim.ops._conv_kernels.finish_parts`.
ROUNDING_CODES = {Rounding.TRUNCATE: 0, Rounding.HALF_UP: 1, Rounding.HALF_EVEN: 2}


def finish_fixed(parts: np.ndarray, bias: np.ndarray, sum_frac_bits: int, requant: Requantizer,
                 out_shape: tuple[int, ...], sum_bound: int | None = None) -> tuple[FixedTensor, OverflowCounts]:
    """``finish_accumulation(Σ_k parts[k] + bias, sum_frac_bits, requant)``, fused.

    Args:
        parts: (K, N, M, P) exact integer parts (any numeric dtype holding integers).
        bias: (M,) int64, already aligned to ``sum_frac_bits`` fraction bits.
        sum_frac_bits: fraction bits of the sums.
        requant: accumulator, rounding, output format and overflow mode.
        out_shape: shape of the result, (N, M, OH, OW) with OH·OW = P.
        sum_bound: a proven bound on |Σ parts + bias|, or None; within the accumulator's range
            the accumulator check is skipped (it could not count anything).

    Returns:
        The output tensor in ``requant.out`` and the overflow counts.

    Raises:
        BadArgument: as :func:`fpgasim.fixedpoint.finish_accumulation`.
    """
    params = _kernel_params(sum_frac_bits, requant, sum_bound)
    if params is None:
        sums = parts.astype(np.int64).sum(axis=0) + bias[None, :, None]
        return finish_accumulation(sums.reshape(out_shape), sum_frac_bits, requant)
    out = np.empty(parts.shape[1:], dtype=_kernel_out_dtype(requant))
    counts = finish_parts(parts, np.ascontiguousarray(bias, dtype=np.int64),
                          _use_float(parts.shape[0], params[5], sum_bound), *params, out)
    return _result(out, out_shape, requant, counts)


def _kernel_params(sum_frac_bits: int, requant: Requantizer, sum_bound: int | None) -> tuple | None:
    """Scalar arguments of the finish kernels, or None when finish_accumulation must decide (errors)."""
    acc = requant.accumulator
    out_fmt = requant.out
    shift = sum_frac_bits - out_fmt.frac_bits
    if not 0 <= sum_frac_bits <= MAX_FRAC_BITS or (shift < 0 and acc.bits - shift > 63):
        return None
    acc_check = sum_bound is None or sum_bound > acc.max_int
    return (acc.min_int, acc.max_int, acc.bits, acc_check, acc.overflow is Overflow.WRAP, shift,
            ROUNDING_CODES[requant.rounding], out_fmt.min_int, out_fmt.max_int, out_fmt.total_bits,
            requant.overflow is Overflow.WRAP)


def _use_float(n_parts: int, shift: int, sum_bound: int | None) -> bool:
    """Whether the float64 finish is exact: one part and |sum| · 2**max(0, −shift) ≤ 2**51."""
    return n_parts == 1 and sum_bound is not None and sum_bound << max(0, -shift) <= FLOAT_FINISH_EXACT


def _kernel_out_dtype(requant: Requantizer) -> type:
    """int16 when it holds every output value (formats up to 15 bits, or signed 16), else int64:
    the kernels are compiled for these two only; the result is then cast to the storage dtype."""
    fmt = requant.out
    return np.int16 if fmt.min_int >= -(2**15) and fmt.max_int < 2**15 else np.int64


def _result(out: np.ndarray, out_shape: tuple[int, ...], requant: Requantizer,
            counts: tuple[int, int]) -> tuple[FixedTensor, OverflowCounts]:
    values = out.reshape(out_shape).astype(requant.out.storage_dtype, copy=False)
    tensor = FixedTensor(values, requant.out)
    return tensor, OverflowCounts(output=int(counts[1]), accumulator=int(counts[0]))


def conv_fixed_direct(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, bounds: Bounds, method: str,
                      bias: np.ndarray, sum_frac_bits: int, requant: Requantizer,
                      sum_bound: int | None = None) -> tuple[FixedTensor, OverflowCounts]:
    """Direct-loop convolution and finish fused per output plane (the depthwise fast path).

    Args:
        x, w: stored integers (int8/int16/int64), checked.
        geo: the checked geometry.
        bounds: ``operand_bounds(x, w)``.
        method: one of the ``direct_*`` methods, exact for ``bounds``.
        bias: (M,) int64 aligned to ``sum_frac_bits``.
        sum_frac_bits: fraction bits of the sums.
        requant: accumulator, rounding, output format and overflow mode.
        sum_bound: as :func:`finish_fixed`.

    Returns:
        As :func:`finish_fixed`.
    """
    out_shape = (geo.batch, geo.out_channels, geo.out_h, geo.out_w)
    params = _kernel_params(sum_frac_bits, requant, sum_bound)
    if params is None:
        return finish_fixed(int_parts(x, w, geo, bounds, method), bias, sum_frac_bits, requant, out_shape)
    dtype = DIRECT_DTYPES[method]
    use_float = _use_float(1, params[5], sum_bound)
    plane = np.empty((geo.out_h, geo.out_w), dtype=dtype)
    out = np.empty((geo.batch, geo.out_channels, geo.out_h * geo.out_w), dtype=_kernel_out_dtype(requant))
    counts = direct_fixed(pad_input(x, geo.pad_h, geo.pad_w), np.ascontiguousarray(w, dtype=dtype), geo.stride_h,
                          geo.stride_w, geo.groups,
                          plane, np.ascontiguousarray(bias, dtype=np.int64), use_float, *params, out)
    return _result(out, out_shape, requant, counts)
