"""Exact and float32 convolution engines (private): method choice, im2col + BLAS, direct loop.

Integer convolutions produce *parts*: an array (K, N, M, OH·OW) whose K slices, added in int64,
give the exact sums. Every method is exact by construction, and the choice is made from the
operands' actual magnitudes (``xmax = max|x|``, ``row = xmax · max_m Σ|w_m|``):

* ``gemm_f32``: im2col into float32 and float32 GEMMs over chunks of the reduction axis. A
  float32 sum of integers is exact while every partial sum stays within 2**24; each chunk is cut
  so that ``xmax · max_m Σ_{k∈chunk}|w_mk| ≤ 2**24`` (any order of summation inside BLAS is then
  exact). Chunk results are added in int64 later. Chosen when the chunks average ≥ 64 terms.
* ``gemm_f64``: the same in float64 with one chunk, allowed when ``row ≤ 2**53``.
* ``direct_f32`` / ``direct_i32`` / ``direct_f64`` / ``direct_i64``: a Numba loop with a row
  accumulator in that dtype, allowed when ``row`` ≤ 2**24 / 2**31−1 / 2**53 / 2**63−1. Used for
  few channels per group (depthwise) and as the fallback.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.ops._conv_check import ConvGeometry
from fpgasim.ops._conv_kernels import direct_conv, im2col

__all__ = ["METHODS", "DIRECT_DTYPES", "Bounds", "pad_input", "operand_bounds", "choose_method", "int_parts",
           "exact_int_sums", "conv_float",
           "compute_dtype"]

F32_EXACT = 2**24
I32_EXACT = 2**31 - 1
F64_EXACT = 2**53
I64_EXACT = 2**63 - 1
#: Channels per group from which im2col + GEMM beats the direct loop.
_GEMM_MIN_CHANNELS = 8
#: Smallest average float32 chunk (terms) worth a GEMM call; below it float64 GEMMs are used.
_F32_MIN_CHUNK = 64
#: Largest im2col buffer; larger outputs are processed in blocks of output rows.
_COLS_BUDGET_BYTES = 64 * 2**20

METHODS = ("gemm_f32", "gemm_f64", "direct_f32", "direct_i32", "direct_f64", "direct_i64")
DIRECT_DTYPES = {"direct_f32": np.float32, "direct_i32": np.int32, "direct_f64": np.float64, "direct_i64": np.int64}
_DTYPES = {"gemm_f32": np.float32, "gemm_f64": np.float64, "direct_f32": np.float32, "direct_i32": np.int32,
           "direct_f64": np.float64, "direct_i64": np.int64}
_LIMITS = {"gemm_f32": F32_EXACT, "gemm_f64": F64_EXACT, "direct_f32": F32_EXACT, "direct_i32": I32_EXACT,
           "direct_f64": F64_EXACT, "direct_i64": I64_EXACT}


def compute_dtype(arr: np.ndarray) -> np.ndarray:
    """Stored integers as int8, int16 or int64, the only integer dtypes the kernels are compiled
    for (fewer Numba specialisations; int8 is kept because it halves the input traffic)."""
    if arr.dtype in (np.int8, np.int16, np.int64):
        return arr
    if arr.dtype == np.uint8:
        return arr.astype(np.int16)
    return arr.astype(np.int64)


class Bounds:
    """Magnitude bounds of one integer convolution (Python ints, exact)."""

    __slots__ = ("xmax", "wmax", "row", "_wabs", "_chunks")

    def __init__(self, x: np.ndarray, w: np.ndarray):
        self.xmax = max(-int(x.min()), int(x.max()))
        self._wabs = np.abs(w.astype(np.int64, copy=False)).reshape(w.shape[0], -1)
        self.wmax = int(self._wabs.max())
        self.row = self.xmax * int(self._wabs.sum(axis=1).max())
        self._chunks: list[tuple[int, int]] | None = None

    def f32_chunks(self, max_chunks: int) -> list[tuple[int, int]] | None:
        """Cut the reduction axis into chunks with ``xmax · max_m Σ|w| ≤ 2**24`` (None if > max_chunks)."""
        if self.xmax * self.wmax > F32_EXACT:
            return None
        if self._chunks is not None:
            return self._chunks if len(self._chunks) <= max_chunks else None
        k_len = self._wabs.shape[1]
        if self.row <= F32_EXACT:  # the whole axis is one chunk; no prefix sums needed
            self._chunks = [(0, k_len)]
            return self._chunks
        cum = np.zeros((self._wabs.shape[0], k_len + 1), dtype=np.int64)
        np.cumsum(self._wabs, axis=1, out=cum[:, 1:])
        chunks, start = [], 0
        while start < k_len:
            reach = (cum[:, start + 1:] - cum[:, start:start + 1]).max(axis=0).astype(np.float64) * self.xmax
            end = start + int(np.searchsorted(reach, F32_EXACT, side="right"))
            chunks.append((start, end))
            if len(chunks) > max_chunks:
                return None
            start = end
        self._chunks = chunks
        return chunks


def operand_bounds(x: np.ndarray, w: np.ndarray) -> Bounds:
    """Bounds of int ``x`` and ``w``; rejects operands whose sums could leave int64.

    Raises:
        BadArgument: ``max|x| · max_m Σ|w_m| ≥ 2**63``.
    """
    bounds = Bounds(x, w)
    if bounds.row > I64_EXACT:
        raise BadArgument(
            f"integer convolution sums may reach {bounds.row} (max|x| * max_m sum|w_m|): "
            "expected a bound below 2**63 so that int64 sums stay exact"
        )
    return bounds


def choose_method(bounds: Bounds, geo: ConvGeometry) -> str:
    """The fastest exact method for operands with these ``bounds``."""
    if geo.in_per_group >= _GEMM_MIN_CHANNELS:
        if bounds.f32_chunks(max(1, -(-geo.reduction_len // _F32_MIN_CHUNK))) is not None:
            return "gemm_f32"
        if bounds.row <= F64_EXACT:
            return "gemm_f64"
        return "direct_i64"
    for method in ("direct_f32", "direct_i32", "direct_f64"):
        if bounds.row <= _LIMITS[method]:
            return method
    return "direct_i64"


def pad_input(x: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    """(N, C, H, W) ``x`` with ``pad_h`` zero rows above and below and ``pad_w`` zero columns left and
    right, same dtype."""
    if pad_h == pad_w == 0:
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=x.dtype)
    xp[:, :, pad_h:pad_h + h, pad_w:pad_w + w] = x
    return xp


def _gemm_parts(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, dtype: type,
                chunks: list[tuple[int, int]]) -> np.ndarray:
    """im2col (converting to ``dtype``) + one GEMM per chunk of the reduction axis."""
    k_len, mg, cg = geo.reduction_len, geo.out_per_group, geo.in_per_group
    oh_n, ow_n = geo.out_h, geo.out_w
    wmat = np.ascontiguousarray(w.reshape(geo.out_channels, k_len), dtype=dtype)
    parts = np.empty((len(chunks), geo.batch, geo.out_channels, oh_n * ow_n), dtype=dtype)
    rows = max(1, min(oh_n, _COLS_BUDGET_BYTES // (k_len * ow_n * np.dtype(dtype).itemsize)))
    cols_flat = np.empty(k_len * rows * ow_n, dtype=dtype)
    xp = pad_input(x, geo.pad_h, geo.pad_w)
    for n in range(geo.batch):
        for g in range(geo.groups):
            wg = wmat[g * mg:(g + 1) * mg]
            for oh0 in range(0, oh_n, rows):
                oh1 = min(oh_n, oh0 + rows)
                cols = cols_flat[:k_len * (oh1 - oh0) * ow_n].reshape(k_len, (oh1 - oh0) * ow_n)  # contiguous
                im2col(xp, n, g * cg, cg, geo.kernel_h, geo.kernel_w, geo.stride_h, geo.stride_w, oh0, oh1, cols)
                for k, (a, b) in enumerate(chunks):
                    out = parts[k, n, g * mg:(g + 1) * mg, oh0 * ow_n:oh1 * ow_n]
                    if out.flags.c_contiguous:
                        np.matmul(wg[:, a:b], cols[a:b], out=out)
                    else:
                        out[...] = wg[:, a:b] @ cols[a:b]
    return parts


def _direct_parts(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, dtype: type, exact: bool) -> np.ndarray:
    out = np.empty((geo.batch, geo.out_channels, geo.out_h, geo.out_w), dtype=dtype)
    direct_conv(pad_input(x, geo.pad_h, geo.pad_w), np.ascontiguousarray(w, dtype=dtype), geo.stride_h, geo.stride_w,
                geo.groups, exact, out)
    return out.reshape(1, geo.batch, geo.out_channels, geo.out_h * geo.out_w)


def int_parts(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, bounds: Bounds,
              method: str | None = None) -> np.ndarray:
    """Parts (K, N, M, OH·OW) whose int64 sum over K is the exact convolution of ``x`` and ``w``.

    Args:
        x: (N, C, H, W) int8/int16/int64 stored integers (see :func:`compute_dtype`).
        w: (M, C/groups, KH, KW) integers.
        geo: the checked geometry.
        bounds: ``operand_bounds(x, w)``.
        method: one of :data:`METHODS` to force a path (tests), or None to choose.

    Raises:
        BadArgument: unknown method, or a forced method that is not exact for these operands.
    """
    if method is None:
        method = choose_method(bounds, geo)
    if method not in METHODS:
        raise BadArgument(f"method={method!r}: expected one of {', '.join(METHODS)}")
    dtype = _DTYPES[method]
    if method == "gemm_f32":
        chunks = bounds.f32_chunks(geo.reduction_len)
        if chunks is None:
            raise BadArgument(f"method='gemm_f32' is not exact: max|x|*max|w| = {bounds.xmax * bounds.wmax} > 2**24")
        return _gemm_parts(x, w, geo, dtype, chunks)
    if bounds.row > _LIMITS[method]:
        raise BadArgument(f"method={method!r} is not exact for these operands: bound {bounds.row} > {_LIMITS[method]}")
    if method == "gemm_f64":
        return _gemm_parts(x, w, geo, dtype, [(0, geo.reduction_len)])
    return _direct_parts(x, w, geo, dtype, True)


def exact_int_sums(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, method: str | None = None) -> np.ndarray:
    """Exact (N, M, OH, OW) int64 sums of int ``x`` and ``w`` (see :func:`int_parts`)."""
    x = compute_dtype(x)
    parts = int_parts(x, w, geo, operand_bounds(x, w), method)
    sums = parts[0].astype(np.int64)
    for part in parts[1:]:
        sums += part.astype(np.int64)
    return sums.reshape(geo.batch, geo.out_channels, geo.out_h, geo.out_w)


def conv_float(x: np.ndarray, w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Float32 convolution of float32 ``x`` and ``w`` (float32 accumulation), (N, M, OH, OW)."""
    if geo.in_per_group >= _GEMM_MIN_CHANNELS:
        parts = _gemm_parts(x, w, geo, np.float32, [(0, geo.reduction_len)])
    else:
        parts = _direct_parts(x, w, geo, np.float32, False)
    return parts[0].reshape(geo.batch, geo.out_channels, geo.out_h, geo.out_w)
