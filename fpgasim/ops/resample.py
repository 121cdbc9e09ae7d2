"""Nearest-neighbour upsampling (ScissionLite's edge transfer layer) and zero padding of the map
(Swin's padding to whole windows), in float64, float32 and fixed point.

Output pixel (i, j) copies input pixel (min(i // scale, H−1), min(j // scale, W−1)). With the
default output size (scale·H, scale·W) this is Keras ``UpSampling2D(interpolation="nearest")``;
a larger size (up to scale·(H+1)−1) repeats the last row/column, which restores an odd size that
a 2×2/2 max pool halved (7 → 3 → 7). Zero padding adds ``pads`` = (top, bottom, left, right)
rows and columns of zeros around the map. Values are only copied (or are zero), so the
fixed-point forms keep the input's format and are exact (zero error, no overflow).
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts
from fpgasim.ops._conv_check import as_real_array

__all__ = ["upsample_nearest_ref", "upsample_nearest_f32", "upsample_nearest_fixed", "upsample_size",
           "pad_zeros_ref", "pad_zeros_f32", "pad_zeros_fixed", "check_pads"]


def upsample_size(in_h: int, in_w: int, *, scale: int, out_h: int | None = None,
                  out_w: int | None = None) -> tuple[int, int]:
    """The output (H, W): ``scale``× the input unless given; a given size must lie in
    [scale·in, scale·(in+1)−1].

    Raises:
        BadArgument: ``scale`` < 1 or a size outside that range.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise BadArgument(f"scale={scale!r}: expected an integer >= 1")
    sizes = []
    for name, size, n in (("out_h", out_h, in_h), ("out_w", out_w, in_w)):
        if size is None:
            sizes.append(scale * n)
            continue
        if isinstance(size, bool) or not isinstance(size, int) or not scale * n <= size <= scale * (n + 1) - 1:
            raise BadArgument(f"{name}={size!r}: expected an integer in [{scale * n}, {scale * (n + 1) - 1}] "
                              f"(scale {scale} of {n})")
        sizes.append(size)
    return sizes[0], sizes[1]


def _rows(n: int, size: int, scale: int) -> np.ndarray:
    return np.minimum(np.arange(size) // scale, n - 1)


def _gather(x: np.ndarray, scale: int, out_h: int | None, out_w: int | None) -> np.ndarray:
    if x.ndim != 4:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W)")
    h, w = upsample_size(x.shape[2], x.shape[3], scale=scale, out_h=out_h, out_w=out_w)
    return x[:, :, _rows(x.shape[2], h, scale)][:, :, :, _rows(x.shape[3], w, scale)]


def upsample_nearest_ref(x: np.ndarray, *, scale: int, out_h: int | None = None,
                         out_w: int | None = None) -> np.ndarray:
    """Float64 nearest upsampling of an (N, C, H, W) array (see the module docstring).

    Raises:
        ShapeError: not 4-D. BadArgument: non-numeric input, bad scale or size.
    """
    return _gather(as_real_array("x", x, np.float64), scale, out_h, out_w)


def upsample_nearest_f32(x: np.ndarray, *, scale: int, out_h: int | None = None,
                         out_w: int | None = None) -> np.ndarray:
    """Float32 nearest upsampling (the same copies as the reference)."""
    return _gather(as_real_array("x", x, np.float32), scale, out_h, out_w)


def upsample_nearest_fixed(x: FixedTensor, *, scale: int, out_h: int | None = None,
                           out_w: int | None = None) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point nearest upsampling: the input's stored integers copied, same format, no overflow.

    Raises:
        BadArgument: ``x`` is not a FixedTensor, bad scale or size. ShapeError: not 4-D.
    """
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    return FixedTensor(_gather(x.values, scale, out_h, out_w), x.fmt), OverflowCounts(output=0, accumulator=0)


def check_pads(pads: object) -> tuple[int, int, int, int]:
    """``pads`` as (top, bottom, left, right), each an integer >= 0.

    Raises:
        BadArgument: not four non-negative integers.
    """
    if not isinstance(pads, (tuple, list)) or len(pads) != 4 \
            or any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0 for p in pads):
        raise BadArgument(f"pads={pads!r}: expected [top, bottom, left, right], integers >= 0")
    return tuple(int(p) for p in pads)


def _padded(x: np.ndarray, pads: object) -> np.ndarray:
    if x.ndim != 4:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W)")
    top, bottom, left, right = check_pads(pads)
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def pad_zeros_ref(x: np.ndarray, *, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Float64 (N, C, H, W) map with ``pads`` = (top, bottom, left, right) rows/columns of zeros.

    Raises:
        ShapeError: not 4-D. BadArgument: non-numeric input, bad pads.
    """
    return _padded(as_real_array("x", x, np.float64), pads)


def pad_zeros_f32(x: np.ndarray, *, pads: tuple[int, int, int, int]) -> np.ndarray:
    """Float32 zero padding (the same values as the reference)."""
    return _padded(as_real_array("x", x, np.float32), pads)


def pad_zeros_fixed(x: FixedTensor, *, pads: tuple[int, int, int, int]) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point zero padding: the stored integers and zeros, same format, no overflow.

    Raises:
        BadArgument: ``x`` is not a FixedTensor, bad pads. ShapeError: not 4-D.
    """
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    return FixedTensor(_padded(x.values, pads), x.fmt), OverflowCounts(output=0, accumulator=0)
