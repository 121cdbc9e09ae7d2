"""2-D pooling on NCHW tensors: max, average (kernel, stride, padding) and global average.

Owns the float32 fast paths (Numba), the fixed-point paths and their float64 ``_ref`` twins
(numpy ``sliding_window_view``, no shared code with the Numba loops).

Conventions (all pools): ``kernel``, ``stride`` and ``padding`` are each an int (both spatial dims)
or (height, width) (:data:`~fpgasim.ops.window.Pair`), output size
:func:`~fpgasim.ops.conv.output_size` per axis (floor mode, or with ``ceil_mode`` PyTorch's and
ONNX's ceil mode, whose last window may run past the right padding), and
``padding <= kernel // 2`` per axis so that every window holds at least one real element.

* Max pooling ignores the padding and a ceil-mode window's overhang (as if they were −∞); in fixed
  point it is exact, keeps the input format and never overflows.
* Average pooling counts the zero padding in the divisor but not a ceil-mode window's overhang past
  the right padding: a window is divided by the number of its positions inside the padded map,
  ``KH·KW`` except for ceil-mode windows at the end (:func:`pool_divisors`; PyTorch's
  ``count_include_pad=True`` and ONNX AveragePool's ``count_include_pad=1``; a constant divisor in
  hardware in floor mode).
  Fixed point: the window's stored integers are summed exactly (int64) and the sum is put into the
  requantizer's accumulator register (its width and overflow mode, counted as
  ``accumulator``); then the real quotient ``sum·2^-fx / divisor`` is rounded ONCE to the output
  grid with the requantizer's rounding mode — an exact rational division, as a divider with a
  remainder would do (truncate = floor, half_up = ties toward +∞, half_even = ties to even); then
  it is fitted into the output format with the requantizer's overflow mode (``output``).
* Global average pooling is average pooling with the window = the whole H×W plane (divisor H·W);
  it returns (N, C, 1, 1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, Rounding, fit_range
from fpgasim.ops._conv_check import as_real_array, check_int_param, output_size
from fpgasim.ops.window import Pair, as_pair, per_axis

__all__ = [
    "max_pool2d_ref", "max_pool2d_f32", "max_pool2d_fixed",
    "avg_pool2d_ref", "avg_pool2d_f32", "avg_pool2d_fixed",
    "global_avg_pool2d_ref", "global_avg_pool2d_f32", "global_avg_pool2d_fixed",
    "avg_pool2d_int_sums", "divide_round", "pool_divisors",
]


# --- checks ------------------------------------------------------------------------------------

class _Window(NamedTuple):
    """A pool's checked window: kernel, stride and padding per axis and the output size (elements)."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    oh: int
    ow: int


def _geometry(x: np.ndarray, kernel: object, stride: object, padding: object, ceil_mode: object) -> _Window:
    kh, kw = per_axis("kernel", kernel, 1)
    sh, sw = per_axis("stride", stride, 1)
    ph, pw = per_axis("padding", padding, 0)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise BadArgument(f"ceil_mode={ceil_mode!r}: expected True or False")
    if ph > kh // 2 or pw > kw // 2:
        raise BadArgument(f"padding={padding}: expected padding <= kernel // 2 = {as_pair(kh // 2, kw // 2)}")
    if x.ndim != 4 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W) with every dimension >= 1")
    try:
        oh = output_size(x.shape[2], kh, sh, ph, ceil_mode=bool(ceil_mode))
        ow = output_size(x.shape[3], kw, sw, pw, ceil_mode=bool(ceil_mode))
    except ShapeError as exc:
        raise ShapeError(f"x {x.shape} with kernel={kernel}: {exc}") from None
    return _Window(kh, kw, sh, sw, ph, pw, oh, ow)


def _window_counts(in_size: int, kernel: int, stride: int, padding: int, out: int) -> np.ndarray:
    """Per output along one axis: positions of its window inside the padded map [0, in + 2·padding)."""
    starts = np.arange(out, dtype=np.int64) * stride
    return np.minimum(starts + kernel, in_size + 2 * padding) - starts


def pool_divisors(in_h: int, in_w: int, *, kernel: Pair, stride: Pair, padding: Pair,
                  ceil_mode: bool = False) -> np.ndarray:
    """The divisor of each average-pool window: its positions inside the padded map.

    ``KH·KW`` everywhere in floor mode; smaller for the ceil-mode windows whose end runs past the
    right (bottom) padding. The pool unit divides each window's sum by it.

    Args:
        in_h, in_w: input size in elements. kernel, stride, padding, ceil_mode: as the pools.

    Returns:
        (OH, OW) int64 divisors, each in [1, KH·KW].

    Raises:
        BadArgument: bad kernel/stride/padding/ceil_mode. ShapeError: an empty output.
    """
    probe = np.empty((1, 1, check_int_param("in_h", in_h, 1), check_int_param("in_w", in_w, 1)), dtype=np.int8)
    return _divisors(probe, _geometry(probe, kernel, stride, padding, ceil_mode), None)


def _padded(x: np.ndarray, g: _Window, value: float) -> np.ndarray:
    """``x`` with the window's padding on every side plus a ceil-mode window's overhang at the end,
    filled with ``value``."""
    extra_h = max((g.oh - 1) * g.sh + g.kh - (x.shape[2] + 2 * g.ph), 0)
    extra_w = max((g.ow - 1) * g.sw + g.kw - (x.shape[3] + 2 * g.pw), 0)
    return np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph + extra_h), (g.pw, g.pw + extra_w)), constant_values=value)


def _windows(x: np.ndarray, g: _Window, value: float) -> np.ndarray:
    """(N, C, OH, OW, KH, KW) windows of ``x`` padded with ``value``."""
    win = sliding_window_view(_padded(x, g, value), (g.kh, g.kw), axis=(2, 3))[:, :, ::g.sh, ::g.sw]
    return win[:, :, :g.oh, :g.ow]


def _divisors(x: np.ndarray, g: _Window, divisors: object) -> np.ndarray:
    """The checked per-window divisors: ``divisors`` if given, else :func:`pool_divisors` of ``x``."""
    if divisors is None:
        return np.outer(_window_counts(x.shape[2], g.kh, g.sh, g.ph, g.oh),
                        _window_counts(x.shape[3], g.kw, g.sw, g.pw, g.ow))
    div = np.asarray(divisors)
    if div.dtype.kind not in "iu" or div.shape != (g.oh, g.ow) or (div.size and int(div.min()) < 1):
        raise BadArgument(f"divisors: shape {div.shape}, dtype {div.dtype}: expected ({g.oh}, {g.ow}) integers >= 1")
    return div.astype(np.int64)


def _fixed_input(x: object) -> FixedTensor:
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    return x


def _requantizer(requant: object) -> Requantizer:
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    return requant


# --- Numba loops (arrays and ints only) -----------------------------------------------------------

@njit(cache=True)
def _max_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out):  # pragma: no cover - compiled
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    first = True
                    best = x[b, ch, 0, 0]
                    for di in range(kh):
                        r = i * sh - ph + di
                        if r < 0 or r >= h:
                            continue
                        for dj in range(kw):
                            s = j * sw - pw + dj
                            if s < 0 or s >= w:
                                continue
                            v = x[b, ch, r, s]
                            if first or v > best:
                                best = v
                                first = False
                    out[b, ch, i, j] = best


@njit(cache=True)
def _sum_pool_kernel(x, kh, kw, sh, sw, ph, pw, oh, ow, out):  # pragma: no cover - compiled
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    acc = out[b, ch, i, j] * 0
                    for di in range(kh):
                        r = i * sh - ph + di
                        if r < 0 or r >= h:
                            continue
                        for dj in range(kw):
                            s = j * sw - pw + dj
                            if 0 <= s < w:
                                acc += x[b, ch, r, s]
                    out[b, ch, i, j] = acc


# --- exact division ---------------------------------------------------------------------------

def divide_round(num: np.ndarray, den: int | np.ndarray, rounding: Rounding) -> np.ndarray:
    """Exact ``num / den`` rounded to an integer with ``rounding`` (int64 in, int64 out).

    Args:
        num: int64 numerators.
        den: positive integer denominator, or an integer array of them broadcast against ``num``.
        rounding: truncate (floor), half_up (ties toward +∞) or half_even.

    Returns:
        int64 array of rounded quotients.

    Raises:
        BadArgument: den < 1 (or not integers).
    """
    if np.ndim(den) == 0:
        den = np.int64(check_int_param("den", den, 1))
    else:
        den = np.asarray(den)
        if den.dtype.kind not in "iu" or (den.size and int(den.min()) < 1):
            raise BadArgument(f"den has dtype {den.dtype}: expected integers >= 1")
        den = den.astype(np.int64)
    num = np.asarray(num, dtype=np.int64)
    q, r = np.divmod(num, den)  # floor division; 0 <= r < den
    if rounding is Rounding.TRUNCATE:
        return q
    twice = 2 * r  # < 2·den, no overflow for den < 2**62
    if rounding is Rounding.HALF_UP:
        return q + (twice >= den)
    return q + ((twice > den) | ((twice == den) & ((q & 1) == 1)))


def _avg_fixed(sums: np.ndarray, in_frac: int, window: int | np.ndarray,
               requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    acc = requant.accumulator
    sums, acc_count = fit_range(sums, acc.min_int, acc.max_int, acc.bits, acc.overflow)
    out = requant.out
    shift = out.frac_bits - in_frac  # value = sums · 2^shift / window on the output grid
    if shift >= 0:
        if acc.bits + shift > 62:
            raise BadArgument(f"output {out} has {shift} more fraction bits than the input; the shift overflows int64")
        num, den = sums << np.int64(shift), window
    else:
        if int(np.max(window)).bit_length() - shift > 62:
            raise BadArgument(f"divisor {window}·2^{-shift} overflows int64")
        num, den = sums, window << -shift
    ints = divide_round(num, den, requant.rounding)
    ints, out_count = fit_range(ints, out.min_int, out.max_int, out.total_bits, requant.overflow)
    return FixedTensor(ints.astype(out.storage_dtype), out), OverflowCounts(output=out_count, accumulator=acc_count)


# --- max pooling --------------------------------------------------------------------------------

def max_pool2d_ref(x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Pair, ceil_mode: bool = False) -> np.ndarray:
    """Float64 reference max pooling (padding and ceil-mode overhang ignored, i.e. −∞).

    Args:
        x: (N, C, H, W) real array.
        kernel: window size in elements. stride: step in elements. padding: elements per side. Each an
            int (both axes) or (height, width).
        ceil_mode: ceil-mode output size (:func:`~fpgasim.ops.conv.output_size`).

    Returns:
        (N, C, OH, OW) float64.

    Raises:
        BadArgument: bad kernel/stride/padding or dtype. ShapeError: not 4-D or empty output.
    """
    x = as_real_array("x", x, np.float64)
    return _windows(x, _geometry(x, kernel, stride, padding, ceil_mode), -np.inf).max(axis=(4, 5))


def max_pool2d_f32(x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Pair, ceil_mode: bool = False) -> np.ndarray:
    """Float32 max pooling (Numba); same arguments and errors as :func:`max_pool2d_ref`."""
    x = np.ascontiguousarray(as_real_array("x", x, np.float32))
    g = _geometry(x, kernel, stride, padding, ceil_mode)
    out = np.empty((x.shape[0], x.shape[1], g.oh, g.ow), dtype=np.float32)
    _max_pool_kernel(x, *g, out)
    return out


def max_pool2d_fixed(x: FixedTensor, *, kernel: Pair, stride: Pair, padding: Pair,
                     ceil_mode: bool = False) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point max pooling: exact, same format as ``x``, never overflows (counts are zero).

    Raises:
        BadArgument: ``x`` not a FixedTensor, bad kernel/stride/padding. ShapeError: as the ref.
    """
    x = _fixed_input(x)
    vals = np.ascontiguousarray(x.values.astype(np.int64))
    g = _geometry(vals, kernel, stride, padding, ceil_mode)
    out = np.empty((vals.shape[0], vals.shape[1], g.oh, g.ow), dtype=np.int64)
    _max_pool_kernel(vals, *g, out)
    return FixedTensor(out.astype(x.fmt.storage_dtype), x.fmt), OverflowCounts()


# --- average pooling ----------------------------------------------------------------------------

def avg_pool2d_ref(x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Pair, ceil_mode: bool = False) -> np.ndarray:
    """Float64 reference average pooling; zero padding counted in the divisor, a ceil-mode window's
    overhang past the padding not (the window count of :func:`pool_divisors`: ``KH·KW`` in floor mode).

    Returns:
        (N, C, OH, OW) float64. Errors as :func:`max_pool2d_ref`.
    """
    x = as_real_array("x", x, np.float64)
    g = _geometry(x, kernel, stride, padding, ceil_mode)
    # the divisor: window sums of a map that is 1 on the padded input and 0 on the overhang
    inside = np.ones((1, 1, x.shape[2] + 2 * g.ph, x.shape[3] + 2 * g.pw))
    counts = _windows(inside, g._replace(ph=0, pw=0), 0.0)
    return _windows(x, g, 0.0).sum(axis=(4, 5)) / counts.sum(axis=(4, 5))


def avg_pool2d_f32(x: np.ndarray, *, kernel: Pair, stride: Pair, padding: Pair, ceil_mode: bool = False,
                   divisors: np.ndarray | None = None) -> np.ndarray:
    """Float32 average pooling (Numba: float32 window sum, then ÷ the window's divisor).

    Args:
        divisors: (OH, OW) integer divisor per window instead of :func:`pool_divisors` (the pool
            unit passes the whole layer's divisors of its tile, whose window it pools unpadded).
    """
    x = np.ascontiguousarray(as_real_array("x", x, np.float32))
    g = _geometry(x, kernel, stride, padding, ceil_mode)
    out = np.zeros((x.shape[0], x.shape[1], g.oh, g.ow), dtype=np.float32)
    _sum_pool_kernel(x, *g, out)
    return out / _divisors(x, g, divisors).astype(np.float32)


def avg_pool2d_int_sums(x_int: np.ndarray, *, kernel: Pair, stride: Pair, padding: Pair,
                        ceil_mode: bool = False) -> np.ndarray:
    """Exact int64 window sums of stored integers (padding and overhang add 0); the numerator of the average."""
    x_int = np.asarray(x_int)
    if x_int.dtype.kind not in "iu":
        raise BadArgument(f"x_int has dtype {x_int.dtype}: expected an integer array")
    vals = np.ascontiguousarray(x_int.astype(np.int64))
    g = _geometry(vals, kernel, stride, padding, ceil_mode)
    out = np.zeros((vals.shape[0], vals.shape[1], g.oh, g.ow), dtype=np.int64)
    _sum_pool_kernel(vals, *g, out)
    return out


def avg_pool2d_fixed(x: FixedTensor, *, kernel: Pair, stride: Pair, padding: Pair, requant: Requantizer,
                     ceil_mode: bool = False, divisors: np.ndarray | None = None) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point average pooling (exact sum → accumulator → one rounded division → output).

    Args:
        divisors: as :func:`avg_pool2d_f32` (None: :func:`pool_divisors`).

    Returns:
        The (N, C, OH, OW) tensor in ``requant.out`` and the overflow counts.

    Raises:
        BadArgument: ``x`` not a FixedTensor, ``requant`` not a Requantizer, bad kernel/stride/padding,
            bad divisors, an output format whose extra fraction bits overflow int64. ShapeError: as the ref.
    """
    x, requant = _fixed_input(x), _requantizer(requant)
    sums = avg_pool2d_int_sums(x.values, kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    g = _geometry(x.values, kernel, stride, padding, ceil_mode)
    return _avg_fixed(sums, x.fmt.frac_bits, _divisors(x.values, g, divisors), requant)


# --- global average pooling ----------------------------------------------------------------------

def _check_global(x: np.ndarray) -> None:
    if x.ndim != 4 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W) with every dimension >= 1")


def global_avg_pool2d_ref(x: np.ndarray) -> np.ndarray:
    """Float64 mean over H×W; returns (N, C, 1, 1)."""
    x = as_real_array("x", x, np.float64)
    _check_global(x)
    return x.mean(axis=(2, 3), keepdims=True)


def global_avg_pool2d_f32(x: np.ndarray) -> np.ndarray:
    """Float32 mean over H×W (float32 sum ÷ H·W); returns (N, C, 1, 1)."""
    x = as_real_array("x", x, np.float32)
    _check_global(x)
    return (x.sum(axis=(2, 3), keepdims=True, dtype=np.float32) / np.float32(x.shape[2] * x.shape[3]))


def global_avg_pool2d_fixed(x: FixedTensor, *, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point global average: exact sum over H×W, divided by H·W as in :func:`avg_pool2d_fixed`."""
    x, requant = _fixed_input(x), _requantizer(requant)
    _check_global(x.values)
    sums = x.values.astype(np.int64).sum(axis=(2, 3), keepdims=True)
    return _avg_fixed(sums, x.fmt.frac_bits, x.shape[2] * x.shape[3], requant)
