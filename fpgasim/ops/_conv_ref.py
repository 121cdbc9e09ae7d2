"""Float64 reference convolution (private): the simple, independent twin of the fast paths.

It shares no code with :mod:`fpgasim.ops._conv_engine`: explicit zero padding, windows from
``sliding_window_view`` and one ``einsum`` per group, all in float64.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["conv_ref_f64"]


def conv_ref_f64(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *,
                 stride: tuple[int, int], padding: tuple[int, int], groups: int) -> np.ndarray:
    """Grouped NCHW convolution in float64 (arguments already checked).

    Args:
        x: (N, C, H, W) float64.
        w: (M, C/groups, KH, KW) float64.
        bias: (M,) float64 or None.
        stride: (height, width) steps in elements.
        padding: (height, width) zeros on each side, in elements.
        groups: channel groups.

    Returns:
        (N, M, OH, OW) float64.
    """
    m, cg, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    mg = m // groups
    parts = []
    for g in range(groups):
        win = windows[:, g * cg:(g + 1) * cg]
        parts.append(np.einsum("nchwij,mcij->nmhw", win, w[g * mg:(g + 1) * mg], optimize=True))
    out = np.concatenate(parts, axis=1)
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out
