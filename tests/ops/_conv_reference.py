"""Independent integer reference for the convolution tests: explicit patches, Python ints."""

from __future__ import annotations

import numpy as np


def int_conv_reference(x: np.ndarray, w: np.ndarray, *, stride, padding, groups: int) -> np.ndarray:
    """Exact grouped convolution with Python-int (object) arithmetic: one patch sum per output;
    ``stride`` and ``padding`` an int or (height, width).

    Returns:
        (N, M, OH, OW) int64 (the tests only use operands whose sums fit).
    """
    n_b, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    xp = np.zeros((n_b, c, h + 2 * ph, wd + 2 * pw), dtype=object)
    xp[:, :, ph:ph + h, pw:pw + wd] = x.astype(object)
    wo = w.astype(object)
    oh_n = (h + 2 * ph - kh) // sh + 1
    ow_n = (wd + 2 * pw - kw) // sw + 1
    mg = m // groups
    out = np.zeros((n_b, m, oh_n, ow_n), dtype=object)
    for n in range(n_b):
        for mi in range(m):
            g = mi // mg
            for oh in range(oh_n):
                for ow in range(ow_n):
                    patch = xp[n, g * cg:(g + 1) * cg, oh * sh:oh * sh + kh, ow * sw:ow * sw + kw]
                    out[n, mi, oh, ow] = int((patch * wo[mi]).sum())
    return out.astype(np.int64)


def sum_bound(x: np.ndarray, w: np.ndarray) -> int:
    """max|x| · max_m Σ|w_m| as a Python int (the bound the kernels use)."""
    xmax = max(-int(x.min()), int(x.max()))
    wabs = np.abs(w.astype(object)).reshape(w.shape[0], -1)
    return xmax * int(max(wabs.sum(axis=1)))
