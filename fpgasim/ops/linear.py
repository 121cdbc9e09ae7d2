"""Fully connected layer: ``y = x · wᵀ + bias`` with x (N, in), w (out, in), bias (out,).

Owns the float64 reference (numpy ``einsum``), the float32 path (Numba, float32 accumulation in
input order), the exact integer sums (Numba, int64) and the fixed-point path.

Fixed point: each product ``x_q · w_q`` has ``fx + fw`` fraction bits and is summed exactly in
int64; the bias is aligned to ``fx + fw`` fraction bits (an exact left shift when it has fewer
fraction bits, otherwise a right shift rounded with ``requant.rounding`` — as in
:mod:`fpgasim.ops.conv`), added once, and
:func:`~fpgasim.fixedpoint.finish_accumulation` brings the sum through the accumulator register
to the output format (its rounding and overflow modes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, Rounding, finish_accumulation, round_shift
from fpgasim.ops._conv_check import as_int_array, as_real_array

_I64_MAX = 2**63 - 1

__all__ = ["linear_ref", "linear_f32", "linear_int_sums", "linear_fixed", "align_bias"]


def _check(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> None:
    if x.ndim != 2 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, in) with N, in >= 1")
    if w.ndim != 2 or 0 in w.shape:
        raise ShapeError(f"w has shape {w.shape}: expected (out, in) with out, in >= 1")
    if w.shape[1] != x.shape[1]:
        raise ShapeError(f"w has shape {w.shape} but x has {x.shape[1]} features: expected w.shape[1] == {x.shape[1]}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != w.shape[0]):
        raise ShapeError(f"bias has shape {bias.shape}: expected ({w.shape[0]},), one value per output")


@njit(cache=True)
def _linear_kernel(x, w, out):  # pragma: no cover - compiled
    n, k = x.shape
    m = w.shape[0]
    for b in range(n):
        for o in range(m):
            acc = out[b, o]
            for i in range(k):
                acc += x[b, i] * w[o, i]
            out[b, o] = acc


def linear_ref(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Float64 reference ``x · wᵀ + bias``.

    Args:
        x: (N, in) real array. w: (out, in) real array. bias: (out,) or None.

    Returns:
        (N, out) float64.

    Raises:
        ShapeError: wrong ndim or mismatched sizes. BadArgument: non-numeric dtype.
    """
    x, w = as_real_array("x", x, np.float64), as_real_array("w", w, np.float64)
    b = None if bias is None else as_real_array("bias", bias, np.float64)
    _check(x, w, b)
    out = np.einsum("ni,oi->no", x, w)
    return out if b is None else out + b


def linear_f32(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Float32 ``x · wᵀ + bias`` (Numba; accumulator starts at the bias, products added in input order)."""
    x = np.ascontiguousarray(as_real_array("x", x, np.float32))
    w = np.ascontiguousarray(as_real_array("w", w, np.float32))
    b = None if bias is None else as_real_array("bias", bias, np.float32)
    _check(x, w, b)
    out = np.zeros((x.shape[0], w.shape[0]), dtype=np.float32)
    if b is not None:
        out[:] = b
    _linear_kernel(x, w, out)
    return out


def linear_int_sums(x_int: np.ndarray, w_int: np.ndarray) -> np.ndarray:
    """Exact int64 sums ``x_int · w_intᵀ`` (no bias) of stored integers.

    Raises:
        BadArgument: non-integer arrays. ShapeError: as :func:`linear_ref`.
    """
    x = np.ascontiguousarray(as_int_array("x_int", x_int))
    w = np.ascontiguousarray(as_int_array("w_int", w_int))
    _check(x, w, None)
    reach = int(np.abs(x).max()) * int(np.abs(w).sum(axis=1).max())
    if reach > _I64_MAX:
        raise BadArgument(f"linear sums may reach {reach} (max|x| * max_o sum|w_o|): expected below 2**63")
    out = np.zeros((x.shape[0], w.shape[0]), dtype=np.int64)
    _linear_kernel(x, w, out)
    return out


def align_bias(bias: FixedTensor, sum_frac_bits: int, rounding: Rounding) -> np.ndarray:
    """The bias's stored integers as int64 with ``sum_frac_bits`` fraction bits.

    Exact left shift when the bias has fewer fraction bits; otherwise a right shift rounded with
    ``rounding``.

    Raises:
        BadArgument: not a FixedTensor, or the left shift overflows int64.
    """
    if not isinstance(bias, FixedTensor):
        raise BadArgument(f"bias={type(bias).__name__}: expected a FixedTensor or None")
    shift = sum_frac_bits - bias.fmt.frac_bits
    values = bias.values.astype(np.int64)
    if shift < 0:
        return round_shift(values, -shift, rounding)
    if bias.fmt.total_bits + shift > 62:
        raise BadArgument(f"bias {bias.fmt} shifted left by {shift} bits overflows int64: expected at most 62 bits")
    return values << np.int64(shift)


def linear_fixed(x: FixedTensor, w: FixedTensor, bias: FixedTensor | None, *,
                 requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``x · wᵀ + bias``: exact products and sum, bias aligned, then requantised once.

    Returns:
        (N, out) tensor in ``requant.out`` and the overflow counts.

    Raises:
        BadArgument: arguments of the wrong type, a bias whose alignment overflows int64.
        ShapeError: as :func:`linear_ref`.
    """
    for name, value in (("x", x), ("w", w)):
        if not isinstance(value, FixedTensor):
            raise BadArgument(f"{name}={type(value).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    sums = linear_int_sums(x.values, w.values)
    frac = x.fmt.frac_bits + w.fmt.frac_bits
    if bias is not None:
        b = align_bias(bias, frac, requant.rounding)
        _check(x.values, w.values, b)
        sums = sums + b
    return finish_accumulation(sums, frac, requant)
