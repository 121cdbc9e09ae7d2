"""Numba kernels of the convolutions (private): im2col, direct loop, fused finish.

Each function takes arrays and ints only; the Python wrappers in :mod:`fpgasim.ops._conv_engine`
and :mod:`fpgasim.ops._conv_finish` check shapes and dtypes first. Inputs arrive zero-padded
(in their own integer dtype, a cheap copy), which keeps the inner loops branch-free.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["im2col", "direct_conv", "finish_parts", "direct_fixed"]


@njit(cache=True)
def im2col(xp, n, c0, cg, kh, kw, stride_h, stride_w, oh0, oh1, cols):  # pragma: no cover - compiled
    """cols[(c·KH + i)·KW + j, (oh − oh0)·OW + ow] = xp[n, c0 + c, oh·sh + i, ow·sw + j] (xp zero-padded).

    Converts to ``cols.dtype`` while copying (exact for the integers the callers pass). The
    inner loops index zero-based views with loop counters only, so LLVM needs no negative-index
    wraparound and vectorises them (2.5–4× faster than flat ``base + ow`` indexing); a 3-wide
    stride-1 kernel writes its 3 shifted rows from one read of the input row.
    """
    oh_n = oh1 - oh0
    ow_n = cols.shape[1] // oh_n
    cols3 = cols.reshape(cols.shape[0], oh_n, ow_n)
    for c in range(cg):
        for i in range(kh):
            r0 = (c * kh + i) * kw
            for oh in range(oh_n):
                src = xp[n, c0 + c, (oh0 + oh) * stride_h + i]
                if stride_w == 1 and kw == 3:
                    d0, d1, d2 = cols3[r0, oh], cols3[r0 + 1, oh], cols3[r0 + 2, oh]
                    for ow in range(ow_n):
                        d0[ow] = src[ow]
                        d1[ow] = src[ow + 1]
                        d2[ow] = src[ow + 2]
                else:
                    for j in range(kw):
                        dst = cols3[r0 + j, oh]
                        for ow in range(ow_n):
                            dst[ow] = src[ow * stride_w + j]


@njit(cache=True)
def _accumulate_plane(xp, w, n, mi, ci0, stride_h, stride_w, exact, xbuf, plane):  # pragma: no cover - compiled
    """plane[oh, ow] = Σ_{c,i,j} w[mi, c, i, j] · xp[n, ci0 + c, oh·sh + i, ow·sw + j], in plane's dtype.

    ``exact``: the caller proved every partial sum exact in plane's dtype, so the summation order
    may change (float inputs keep the fixed c, i, j order, on which their rounding depends).
    ``xbuf``: scratch of xp's spatial shape in plane's dtype.
    """
    cg, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    oh_n, ow_n = plane.shape
    # exact: all 9 taps in one pass over each output row; any order gives the same result, as every
    # partial sum of a subset of the products is an integer within the bound checked for plane's
    # dtype (converting x to that dtype is exact when some weight is nonzero, as then
    # max|x| ≤ bound; when all are zero every product is 0 anyway). The input plane is converted
    # once, and the first channel assigns instead of adding (no zeroing pass).
    unit = stride_h == 1 and stride_w == 1
    if exact and unit and kw == 3 and kh == 3:
        for cc in range(cg):
            w00, w01, w02 = w[mi, cc, 0, 0], w[mi, cc, 0, 1], w[mi, cc, 0, 2]
            w10, w11, w12 = w[mi, cc, 1, 0], w[mi, cc, 1, 1], w[mi, cc, 1, 2]
            w20, w21, w22 = w[mi, cc, 2, 0], w[mi, cc, 2, 1], w[mi, cc, 2, 2]
            src = xp[n, ci0 + cc]
            for r in range(xbuf.shape[0]):
                a, b = src[r], xbuf[r]
                for q in range(xbuf.shape[1]):
                    b[q] = a[q]
            for oh in range(oh_n):
                s0, s1, s2, dst = xbuf[oh], xbuf[oh + 1], xbuf[oh + 2], plane[oh]
                if cc == 0:
                    for ow in range(ow_n):
                        dst[ow] = ((w00 * s0[ow] + w01 * s0[ow + 1] + w02 * s0[ow + 2])
                                   + (w10 * s1[ow] + w11 * s1[ow + 1] + w12 * s1[ow + 2])
                                   + (w20 * s2[ow] + w21 * s2[ow + 1] + w22 * s2[ow + 2]))
                else:
                    for ow in range(ow_n):
                        dst[ow] += ((w00 * s0[ow] + w01 * s0[ow + 1] + w02 * s0[ow + 2])
                                    + (w10 * s1[ow] + w11 * s1[ow + 1] + w12 * s1[ow + 2])
                                    + (w20 * s2[ow] + w21 * s2[ow + 1] + w22 * s2[ow + 2]))
        return
    plane[:, :] = 0
    if exact and unit and kw == 3:
        for cc in range(cg):
            for i in range(kh):
                w0, w1, w2 = w[mi, cc, i, 0], w[mi, cc, i, 1], w[mi, cc, i, 2]
                for oh in range(oh_n):
                    src = xp[n, ci0 + cc, oh + i]
                    dst = plane[oh]
                    for ow in range(ow_n):
                        dst[ow] += w0 * src[ow] + w1 * src[ow + 1] + w2 * src[ow + 2]
        return
    for cc in range(cg):
        for i in range(kh):
            for j in range(kw):
                wv = w[mi, cc, i, j]
                if unit:
                    for oh in range(oh_n):
                        src = xp[n, ci0 + cc, oh + i]
                        dst = plane[oh]
                        for ow in range(ow_n):
                            dst[ow] += wv * src[ow + j]
                else:
                    for oh in range(oh_n):
                        src = xp[n, ci0 + cc, oh * stride_h + i]
                        dst = plane[oh]
                        for ow in range(ow_n):
                            dst[ow] += wv * src[ow * stride_w + j]


@njit(cache=True)
def direct_conv(xp, w, stride_h, stride_w, groups, exact, out):  # pragma: no cover - compiled
    """out[n, m, oh, ow] = Σ_{c,i,j} w[m, c, i, j] · xp[n, g·Cg + c, oh·sh + i, ow·sw + j] (xp zero-padded).

    Accumulates in ``out`` (its dtype is the accumulator's); ``w`` has that dtype too; ``exact``
    as :func:`_accumulate_plane`.
    """
    m_n, cg = w.shape[0], w.shape[1]
    mg = m_n // groups
    xbuf = np.empty(xp.shape[2:], dtype=out.dtype)
    for t in range(xp.shape[0] * m_n):
        n, mi = t // m_n, t % m_n
        _accumulate_plane(xp, w, n, mi, (mi // mg) * cg, stride_h, stride_w, exact, xbuf, out[n, mi])


@njit(cache=True)
def _fit_row(buf, lo, hi, mask, wrap):  # pragma: no cover - compiled
    """Bring ``buf`` into lo..hi in place (wrap with ``mask`` = 2**bits − 1, or saturate).

    Returns:
        How many values were outside.
    """
    count = 0
    for p in range(buf.shape[0]):
        count += (buf[p] < lo) | (buf[p] > hi)
    if count:
        if wrap:
            for p in range(buf.shape[0]):
                buf[p] = ((buf[p] - lo) & mask) + lo
        else:
            for p in range(buf.shape[0]):
                buf[p] = min(max(buf[p], lo), hi)
    return count


@njit(cache=True)
def _finish_row(buf, acc_lo, acc_hi, acc_mask, acc_check, acc_wrap, shift, rounding, out_lo, out_hi, out_mask,
                out_wrap):  # pragma: no cover - compiled
    """Accumulator fit, rounding shift and output fit of one int64 row in place; (acc count, out count)."""
    one = np.int64(1)
    p_n = buf.shape[0]
    acc_count = _fit_row(buf, acc_lo, acc_hi, acc_mask, acc_wrap) if acc_check else 0
    if shift > 0:
        sh = np.int64(shift)
        half = one << (sh - one)
        if rounding == 0:
            for p in range(p_n):
                buf[p] = buf[p] >> sh
        elif rounding == 1:
            for p in range(p_n):
                f = buf[p] >> sh
                buf[p] = f + np.int64(buf[p] - (f << sh) >= half)
        else:
            for p in range(p_n):
                f = buf[p] >> sh
                rem = buf[p] - (f << sh)
                buf[p] = f + (np.int64(rem > half) | (np.int64(rem == half) & f & one))
    elif shift < 0:
        left = np.int64(-shift)
        for p in range(p_n):
            buf[p] = buf[p] << left
    out_count = _fit_row(buf, out_lo, out_hi, out_mask, out_wrap)
    return acc_count, out_count


@njit(cache=True)
def _fit_row_float(buf, lo, hi, bits, wrap):  # pragma: no cover - compiled
    """:func:`_fit_row` on float64 integers (exact while |values| ≤ 2**52)."""
    count = 0
    for p in range(buf.shape[0]):
        count += (buf[p] < lo) | (buf[p] > hi)
    if count:
        if wrap:
            span = 2.0 ** bits
            inv = 2.0 ** -bits
            for p in range(buf.shape[0]):
                d = buf[p] - lo
                buf[p] = d - np.floor(d * inv) * span + lo
        else:
            for p in range(buf.shape[0]):
                buf[p] = min(max(buf[p], lo), hi)
    return count


@njit(cache=True)
def _finish_row_float(src, fb, fbuf, acc_lo, acc_hi, acc_bits, acc_check, acc_wrap, shift, rounding, out_lo, out_hi,
                      out_bits, out_wrap, dst):  # pragma: no cover - compiled
    """:func:`_finish_row` in float64 of ``src + fb`` into ``dst``, vectorisable with AVX2 (no
    64-bit arithmetic shift needed); ``fbuf`` is float64 scratch of src's length.

    Exact when the caller proved |sum| · 2**max(0, −shift) ≤ 2**51: scaling by powers of two,
    floor and rint (ties to even) are exact on such integers (and the identity when shift ≤ 0),
    and ``floor(q + 0.5)`` is exact for |q| ≤ 2**51. Without an accumulator check and with a
    saturating output (the common case) everything happens in one pass; otherwise step by step.
    """
    p_n = src.shape[0]
    scale = 2.0 ** -shift
    if not acc_check and not out_wrap:
        lo, hi = float(out_lo), float(out_hi)
        count = 0
        for p in range(p_n):
            q = (np.float64(src[p]) + fb) * scale
            if rounding == 0:
                q = np.floor(q)
            elif rounding == 1:
                q = np.floor(q + 0.5)
            else:
                q = np.rint(q)
            count += (q < lo) | (q > hi)
            fbuf[p] = min(max(q, lo), hi)
        _store(fbuf, out_lo, out_hi, dst)
        return 0, count
    for p in range(p_n):
        fbuf[p] = np.float64(src[p]) + fb
    acc_count = _fit_row_float(fbuf, float(acc_lo), float(acc_hi), acc_bits, acc_wrap) if acc_check else 0
    if shift > 0:
        if rounding == 0:
            for p in range(p_n):
                fbuf[p] = np.floor(fbuf[p] * scale)
        elif rounding == 1:
            for p in range(p_n):
                fbuf[p] = np.floor(fbuf[p] * scale + 0.5)
        else:
            for p in range(p_n):
                fbuf[p] = np.rint(fbuf[p] * scale)
    elif shift < 0:
        for p in range(p_n):
            fbuf[p] = fbuf[p] * scale
    out_count = _fit_row_float(fbuf, float(out_lo), float(out_hi), out_bits, out_wrap)
    _store(fbuf, out_lo, out_hi, dst)
    return acc_count, out_count


@njit(cache=True)
def _store(fbuf, out_lo, out_hi, dst):  # pragma: no cover - compiled
    """dst[:] = fbuf (finished float64 integers within out_lo..out_hi), via int32 when that range
    fits int32 (a packed AVX conversion; float64 → int64 has none below AVX-512)."""
    if out_lo >= -(2**31) and out_hi < 2**31:
        for p in range(fbuf.shape[0]):
            dst[p] = np.int32(fbuf[p])
    else:
        for p in range(fbuf.shape[0]):
            dst[p] = np.int64(fbuf[p])


@njit(cache=True)
def finish_parts(parts, bias, use_float, acc_lo, acc_hi, acc_bits, acc_check, acc_wrap, shift, rounding,
                 out_lo, out_hi, out_bits, out_wrap, out):  # pragma: no cover - compiled
    """Sum ``parts`` (K, N, M, P) exactly in int64, add ``bias`` (M,), then finish into ``out`` (N, M, P).

    Same steps as :func:`fpgasim.fixedpoint.finish_accumulation`: accumulator fit (skipped when
    ``acc_check`` is False because the caller proved no sum can leave the register), rounding
    shift (rounding 0 truncate, 1 half-up, 2 half-even; a negative shift is an exact left shift,
    checked by the caller), output fit. Works one (n, m) row at a time in an int64 scratch row
    with branch-free inner loops; ``out`` has the output's storage dtype. ``use_float`` selects
    the float64 finish (one part only; the caller proved its exactness condition).

    Returns:
        (accumulator overflow count, output overflow count).
    """
    n_parts, n_b, m_n, p_n = parts.shape
    one = np.int64(1)
    acc_mask = (one << np.int64(acc_bits)) - one
    out_mask = (one << np.int64(out_bits)) - one
    rows = n_b * m_n
    counts = np.zeros(2, dtype=np.int64)
    buf = np.empty(p_n, dtype=np.int64)
    fbuf = np.empty(p_n, dtype=np.float64)
    for t in range(rows):
        n, m = t // m_n, t % m_n
        if use_float:
            a, o = _finish_row_float(parts[0, n, m], float(bias[m]), fbuf, acc_lo, acc_hi, acc_bits, acc_check,
                                     acc_wrap, shift, rounding, out_lo, out_hi, out_bits, out_wrap, out[n, m])
        else:
            b = bias[m]
            src = parts[0, n, m]
            for p in range(p_n):
                buf[p] = np.int64(src[p]) + b
            for k in range(1, n_parts):
                src = parts[k, n, m]
                for p in range(p_n):
                    buf[p] += np.int64(src[p])
            a, o = _finish_row(buf, acc_lo, acc_hi, acc_mask, acc_check, acc_wrap, shift, rounding, out_lo,
                               out_hi, out_mask, out_wrap)
            dst = out[n, m]
            for p in range(p_n):
                dst[p] = buf[p]
        counts[0] += a
        counts[1] += o
    return counts[0], counts[1]


@njit(cache=True)
def direct_fixed(xp, w, stride_h, stride_w, groups, plane_like, bias, use_float, acc_lo, acc_hi, acc_bits,
                 acc_check, acc_wrap, shift, rounding, out_lo, out_hi, out_bits, out_wrap,
                 out):  # pragma: no cover - compiled
    """:func:`direct_conv` and :func:`finish_parts` fused, one output plane at a time.

    ``plane_like`` (OH, OW) gives the accumulation dtype and plane shape; ``out`` is
    (N, M, OH·OW) in the output's storage dtype. ``use_float`` selects the float64 finish
    (the caller proved its exactness condition, see :func:`_finish_row_float`).

    Returns:
        (accumulator overflow count, output overflow count).
    """
    m_n, cg = w.shape[0], w.shape[1]
    mg = m_n // groups
    oh_n, ow_n = plane_like.shape
    one = np.int64(1)
    acc_mask = (one << np.int64(acc_bits)) - one
    out_mask = (one << np.int64(out_bits)) - one
    planes = xp.shape[0] * m_n
    counts = np.zeros(2, dtype=np.int64)
    plane = np.empty((oh_n, ow_n), dtype=plane_like.dtype)
    xbuf = np.empty(xp.shape[2:], dtype=plane_like.dtype)
    buf = np.empty(oh_n * ow_n, dtype=np.int64)
    fbuf = np.empty(oh_n * ow_n, dtype=np.float64)
    for t in range(planes):
        n, mi = t // m_n, t % m_n
        _accumulate_plane(xp, w, n, mi, (mi // mg) * cg, stride_h, stride_w, True, xbuf, plane)
        dst = out[n, mi]
        if use_float:
            a, o = _finish_row_float(plane.reshape(oh_n * ow_n), float(bias[mi]), fbuf, acc_lo, acc_hi, acc_bits,
                                     acc_check, acc_wrap, shift, rounding, out_lo, out_hi, out_bits, out_wrap, dst)
        else:
            b = bias[mi]
            for oh in range(oh_n):
                row = plane[oh]
                for ow in range(ow_n):
                    buf[oh * ow_n + ow] = np.int64(row[ow]) + b
            a, o = _finish_row(buf, acc_lo, acc_hi, acc_mask, acc_check, acc_wrap, shift, rounding, out_lo,
                               out_hi, out_mask, out_wrap)
            for p in range(buf.shape[0]):
                dst[p] = buf[p]
        counts[0] += a
        counts[1] += o
    return counts[0], counts[1]
