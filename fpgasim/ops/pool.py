"""2-D pooling on NCHW tensors: max, average (kernel, stride, padding) and global average.

Owns the float32 fast paths (Numba), the fixed-point paths and their float64 ``_ref`` twins
(numpy ``sliding_window_view``, no shared code with the Numba loops).

Conventions (all pools): a square ``kernel``, the same ``stride`` and ``padding`` on both spatial
dims, output size :func:`~fpgasim.ops.conv.output_size` (floor mode, or with ``ceil_mode`` PyTorch's
and ONNX's ceil mode, whose last window may run past the right padding), and
``padding <= kernel // 2`` so that every window holds at least one real element.

* Max pooling ignores the padding and a ceil-mode window's overhang (as if they were −∞); in fixed
  point it is exact, keeps the input format and never overflows.
* Average pooling counts the zero padding in the divisor but not a ceil-mode window's overhang past
  the right padding: a window is divided by the number of its positions inside the padded map,
  ``kernel²`` except for ceil-mode windows at the end (:func:`pool_divisors`; PyTorch's
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

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, Rounding, fit_range
from fpgasim.ops._conv_check import as_real_array, check_int_param, output_size

__all__ = [
    "max_pool2d_ref", "max_pool2d_f32", "max_pool2d_fixed",
    "avg_pool2d_ref", "avg_pool2d_f32", "avg_pool2d_fixed",
    "global_avg_pool2d_ref", "global_avg_pool2d_f32", "global_avg_pool2d_fixed",
    "avg_pool2d_int_sums", "divide_round", "pool_divisors",
]


# --- checks ------------------------------------------------------------------------------------

def _geometry(x: np.ndarray, kernel: object, stride: object, padding: object,
              ceil_mode: object) -> tuple[int, int, int, int, int]:
    kernel = check_int_param("kernel", kernel, 1)
    stride = check_int_param("stride", stride, 1)
    padding = check_int_param("padding", padding, 0)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise BadArgument(f"ceil_mode={ceil_mode!r}: expected True or False")
    if padding > kernel // 2:
        raise BadArgument(f"padding={padding}: expected padding <= kernel // 2 = {kernel // 2}")
    if x.ndim != 4 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W) with every dimension >= 1")
    try:
        oh = output_size(x.shape[2], kernel, stride, padding, ceil_mode=bool(ceil_mode))
        ow = output_size(x.shape[3], kernel, stride, padding, ceil_mode=bool(ceil_mode))
    except ShapeError as exc:
        raise ShapeError(f"x {x.shape} with kernel={kernel}: {exc}") from None
    return kernel, stride, padding, oh, ow


def _window_counts(in_size: int, kernel: int, stride: int, padding: int, out: int) -> np.ndarray:
    """Per output along one axis: positions of its window inside the padded map [0, in + 2·padding)."""
    starts = np.arange(out, dtype=np.int64) * stride
    return np.minimum(starts + kernel, in_size + 2 * padding) - starts


def pool_divisors(in_h: int, in_w: int, *, kernel: int, stride: int, padding: int,
                  ceil_mode: bool = False) -> np.ndarray:
    """The divisor of each average-pool window: its positions inside the padded map.

    ``kernel²`` everywhere in floor mode; smaller for the ceil-mode windows whose end runs past the
    right (bottom) padding. The pool unit divides each window's sum by it.

    Args:
        in_h, in_w: input size in elements. kernel, stride, padding, ceil_mode: as the pools.

    Returns:
        (OH, OW) int64 divisors, each in [1, kernel²].

    Raises:
        BadArgument: bad kernel/stride/padding/ceil_mode. ShapeError: an empty output.
    """
    probe = np.empty((1, 1, check_int_param("in_h", in_h, 1), check_int_param("in_w", in_w, 1)), dtype=np.int8)
    return _divisors(probe, *_geometry(probe, kernel, stride, padding, ceil_mode), None)


def _padded(x: np.ndarray, k: int, s: int, p: int, oh: int, ow: int, value: float) -> np.ndarray:
    """``x`` with ``p`` padding on every side plus a ceil-mode window's overhang at the end, filled with ``value``."""
    extra_h = max((oh - 1) * s + k - (x.shape[2] + 2 * p), 0)
    extra_w = max((ow - 1) * s + k - (x.shape[3] + 2 * p), 0)
    return np.pad(x, ((0, 0), (0, 0), (p, p + extra_h), (p, p + extra_w)), constant_values=value)


def _divisors(x: np.ndarray, k: int, s: int, p: int, oh: int, ow: int, divisors: object) -> np.ndarray:
    """The checked per-window divisors: ``divisors`` if given, else :func:`pool_divisors` of ``x``."""
    if divisors is None:
        return np.outer(_window_counts(x.shape[2], k, s, p, oh), _window_counts(x.shape[3], k, s, p, ow))
    div = np.asarray(divisors)
    if div.dtype.kind not in "iu" or div.shape != (oh, ow) or (div.size and int(div.min()) < 1):
        raise BadArgument(f"divisors: shape {div.shape}, dtype {div.dtype}: expected ({oh}, {ow}) integers >= 1")
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
def _max_pool_kernel(x, k, stride, pad, oh, ow, out):  # pragma: no cover - compiled
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    first = True
                    best = x[b, ch, 0, 0]
                    for di in range(k):
                        r = i * stride - pad + di
                        if r < 0 or r >= h:
                            continue
                        for dj in range(k):
                            s = j * stride - pad + dj
                            if s < 0 or s >= w:
                                continue
                            v = x[b, ch, r, s]
                            if first or v > best:
                                best = v
                                first = False
                    out[b, ch, i, j] = best


@njit(cache=True)
def _sum_pool_kernel(x, k, stride, pad, oh, ow, out):  # pragma: no cover - compiled
    n, c, h, w = x.shape
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    acc = out[b, ch, i, j] * 0
                    for di in range(k):
                        r = i * stride - pad + di
                        if r < 0 or r >= h:
                            continue
                        for dj in range(k):
                            s = j * stride - pad + dj
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

def max_pool2d_ref(x: np.ndarray, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> np.ndarray:
    """Float64 reference max pooling (padding and ceil-mode overhang ignored, i.e. −∞).

    Args:
        x: (N, C, H, W) real array.
        kernel: window side in elements. stride: step in elements. padding: elements per side.
        ceil_mode: ceil-mode output size (:func:`~fpgasim.ops.conv.output_size`).

    Returns:
        (N, C, OH, OW) float64.

    Raises:
        BadArgument: bad kernel/stride/padding or dtype. ShapeError: not 4-D or empty output.
    """
    x = as_real_array("x", x, np.float64)
    k, s, p, oh, ow = _geometry(x, kernel, stride, padding, ceil_mode)
    win = sliding_window_view(_padded(x, k, s, p, oh, ow, -np.inf), (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return win[:, :, :oh, :ow].max(axis=(4, 5))


def max_pool2d_f32(x: np.ndarray, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> np.ndarray:
    """Float32 max pooling (Numba); same arguments and errors as :func:`max_pool2d_ref`."""
    x = np.ascontiguousarray(as_real_array("x", x, np.float32))
    k, s, p, oh, ow = _geometry(x, kernel, stride, padding, ceil_mode)
    out = np.empty((x.shape[0], x.shape[1], oh, ow), dtype=np.float32)
    _max_pool_kernel(x, k, s, p, oh, ow, out)
    return out


def max_pool2d_fixed(x: FixedTensor, *, kernel: int, stride: int, padding: int,
                     ceil_mode: bool = False) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point max pooling: exact, same format as ``x``, never overflows (counts are zero).

    Raises:
        BadArgument: ``x`` not a FixedTensor, bad kernel/stride/padding. ShapeError: as the ref.
    """
    x = _fixed_input(x)
    vals = np.ascontiguousarray(x.values.astype(np.int64))
    k, s, p, oh, ow = _geometry(vals, kernel, stride, padding, ceil_mode)
    out = np.empty((vals.shape[0], vals.shape[1], oh, ow), dtype=np.int64)
    _max_pool_kernel(vals, k, s, p, oh, ow, out)
    return FixedTensor(out.astype(x.fmt.storage_dtype), x.fmt), OverflowCounts()


# --- average pooling ----------------------------------------------------------------------------

def avg_pool2d_ref(x: np.ndarray, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> np.ndarray:
    """Float64 reference average pooling; zero padding counted in the divisor, a ceil-mode window's
    overhang past the padding not (the window count of :func:`pool_divisors`: ``kernel²`` in floor mode).

    Returns:
        (N, C, OH, OW) float64. Errors as :func:`max_pool2d_ref`.
    """
    x = as_real_array("x", x, np.float64)
    k, s, p, oh, ow = _geometry(x, kernel, stride, padding, ceil_mode)
    win = sliding_window_view(_padded(x, k, s, p, oh, ow, 0.0), (k, k), axis=(2, 3))[:, :, ::s, ::s]
    # the divisor: window sums of a map that is 1 on the padded input and 0 on the overhang
    inside = np.ones((1, 1, x.shape[2] + 2 * p, x.shape[3] + 2 * p))
    counts = sliding_window_view(_padded(inside, k, s, 0, oh, ow, 0.0), (k, k), axis=(2, 3))[:, :, ::s, ::s]
    return win[:, :, :oh, :ow].sum(axis=(4, 5)) / counts[:, :, :oh, :ow].sum(axis=(4, 5))


def avg_pool2d_f32(x: np.ndarray, *, kernel: int, stride: int, padding: int, ceil_mode: bool = False,
                   divisors: np.ndarray | None = None) -> np.ndarray:
    """Float32 average pooling (Numba: float32 window sum, then ÷ the window's divisor).

    Args:
        divisors: (OH, OW) integer divisor per window instead of :func:`pool_divisors` (the pool
            unit passes the whole layer's divisors of its tile, whose window it pools unpadded).
    """
    x = np.ascontiguousarray(as_real_array("x", x, np.float32))
    k, s, p, oh, ow = _geometry(x, kernel, stride, padding, ceil_mode)
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=np.float32)
    _sum_pool_kernel(x, k, s, p, oh, ow, out)
    return out / _divisors(x, k, s, p, oh, ow, divisors).astype(np.float32)


def avg_pool2d_int_sums(x_int: np.ndarray, *, kernel: int, stride: int, padding: int,
                        ceil_mode: bool = False) -> np.ndarray:
    """Exact int64 window sums of stored integers (padding and overhang add 0); the numerator of the average."""
    x_int = np.asarray(x_int)
    if x_int.dtype.kind not in "iu":
        raise BadArgument(f"x_int has dtype {x_int.dtype}: expected an integer array")
    vals = np.ascontiguousarray(x_int.astype(np.int64))
    k, s, p, oh, ow = _geometry(vals, kernel, stride, padding, ceil_mode)
    out = np.zeros((vals.shape[0], vals.shape[1], oh, ow), dtype=np.int64)
    _sum_pool_kernel(vals, k, s, p, oh, ow, out)
    return out


def avg_pool2d_fixed(x: FixedTensor, *, kernel: int, stride: int, padding: int, requant: Requantizer,
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
    k, s, p, oh, ow = _geometry(x.values, kernel, stride, padding, ceil_mode)
    return _avg_fixed(sums, x.fmt.frac_bits, _divisors(x.values, k, s, p, oh, ow, divisors), requant)


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
