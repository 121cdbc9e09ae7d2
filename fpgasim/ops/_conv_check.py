"""Argument checking for :mod:`fpgasim.ops.conv` (private).

Every check runs in Python before any Numba function is called, so that bad input gives one
:class:`~fpgasim.errors.BadArgument` or :class:`~fpgasim.errors.ShapeError` naming the argument,
the value found and what was expected — never a Numba typing error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.ops.window import per_axis

__all__ = ["ConvGeometry", "output_size", "check_int_param", "check_geometry", "as_int_array", "as_real_array"]


def check_int_param(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int after checking it is an integer ≥ ``minimum``.

    Raises:
        BadArgument: not an integer (bools rejected) or below ``minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise BadArgument(f"{name}={value!r}: expected an integer >= {minimum}")
    if value < minimum:
        raise BadArgument(f"{name}={value}: expected an integer >= {minimum}")
    return int(value)


def output_size(in_size: int, kernel: int, stride: int, padding: int, *, ceil_mode: bool = False) -> int:
    """Output length of one spatial dimension: ``(in + 2·padding − kernel) // stride + 1``.

    The one home of the sliding-window output-size formula. In ``ceil_mode`` (PyTorch's and ONNX's
    pooling option) the division rounds up, ``⌈(in + 2·padding − kernel) / stride⌉ + 1``, less one
    when the last window would start in the right padding (at ``>= in + padding``), so every window
    starts inside the input or the left padding; its end may run past the right padding.

    Args:
        in_size: input length in elements (≥ 1).
        kernel: kernel length in elements (≥ 1).
        stride: step between windows in elements (≥ 1).
        padding: zeros added on each side, in elements (≥ 0).
        ceil_mode: round the window count up (see above) instead of down.

    Returns:
        The output length in elements (≥ 1).

    Raises:
        BadArgument: a non-integer or out-of-range argument.
        ShapeError: the kernel is larger than the padded input (the output would be empty).
    """
    in_size = check_int_param("in_size", in_size, 1)
    kernel = check_int_param("kernel", kernel, 1)
    stride = check_int_param("stride", stride, 1)
    padding = check_int_param("padding", padding, 0)
    padded = in_size + 2 * padding
    if kernel > padded:
        raise ShapeError(
            f"kernel={kernel} is larger than the padded input {in_size}+2*{padding}={padded}: "
            "expected kernel <= in_size + 2*padding (the output would be empty)"
        )
    if not ceil_mode:
        return (padded - kernel) // stride + 1
    out = -(-(padded - kernel) // stride) + 1
    return out - 1 if (out - 1) * stride >= in_size + padding else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvGeometry:
    """Checked shapes of one convolution (all sizes in elements)."""

    batch: int
    in_channels: int
    out_channels: int
    groups: int
    kernel_h: int
    kernel_w: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int

    @property
    def in_per_group(self) -> int:
        """Input channels seen by one filter (C / groups)."""
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        """Filters per group (M / groups)."""
        return self.out_channels // self.groups

    @property
    def reduction_len(self) -> int:
        """Products summed into one output element: C/groups · KH · KW."""
        return self.in_per_group * self.kernel_h * self.kernel_w

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole call."""
        return self.batch * self.out_channels * self.out_h * self.out_w * self.reduction_len


def _check_array(name: str, arr: np.ndarray, ndim: int, layout: str) -> None:
    if arr.ndim != ndim:
        raise ShapeError(f"{name} has shape {arr.shape} (ndim {arr.ndim}): expected ndim {ndim} ({layout})")


def check_geometry(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, *,
                   stride: object, padding: object, groups: object) -> ConvGeometry:
    """Check the shapes of a grouped NCHW convolution and return its geometry.

    ``stride`` and ``padding`` are an int (both axes) or (height, width)
    (:func:`fpgasim.ops.window.per_axis`).

    Raises:
        BadArgument: stride < 1, padding < 0, groups < 1 or not integers.
        ShapeError: wrong ndim, empty dims, channel counts that do not match or do not divide
            by groups, a bias of the wrong length, an empty output.
    """
    stride_h, stride_w = per_axis("stride", stride, 1)
    pad_h, pad_w = per_axis("padding", padding, 0)
    groups = check_int_param("groups", groups, 1)
    _check_array("x", x, 4, "N, C, H, W")
    _check_array("w", w, 4, "M, C/groups, KH, KW")
    if 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected every dimension >= 1")
    if 0 in w.shape:
        raise ShapeError(f"w has shape {w.shape}: expected every dimension >= 1")
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    if c % groups:
        raise ShapeError(f"x has {c} channels, not divisible by groups={groups}")
    if m % groups:
        raise ShapeError(f"w has {m} filters (M), not divisible by groups={groups}")
    if cg * groups != c:
        raise ShapeError(
            f"w has shape {w.shape} ({cg} input channels per filter) but x has {c} channels "
            f"and groups={groups}: expected w.shape[1] == {c // groups}"
        )
    if bias is not None:
        if bias.ndim != 1 or bias.shape[0] != m:
            raise ShapeError(f"bias has shape {bias.shape}: expected ({m},), one value per filter")
    try:
        out_h = output_size(h, kh, stride_h, pad_h)
        out_w = output_size(wd, kw, stride_w, pad_w)
    except ShapeError as exc:
        raise ShapeError(f"x {x.shape} with w {w.shape}, padding={padding}: {exc}") from None
    return ConvGeometry(batch=n, in_channels=c, out_channels=m, groups=groups, kernel_h=kh, kernel_w=kw,
                        in_h=h, in_w=wd, out_h=out_h, out_w=out_w, stride_h=stride_h, stride_w=stride_w,
                        pad_h=pad_h, pad_w=pad_w)


_INT64_MAX = np.iinfo(np.int64).max


def as_int_array(name: str, value: object) -> np.ndarray:
    """Return ``value`` as an integer array (dtype kept; uint64 → int64) whose values fit int64.

    Raises:
        BadArgument: not an integer array (floats, bools, objects rejected), or uint64 values
            above the int64 range.
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise BadArgument(f"{name} has dtype {arr.dtype}: expected an integer array (int8..int64, uint8..uint32)")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > _INT64_MAX:
        raise BadArgument(f"{name} holds {int(arr.max())}: expected values that fit int64")
    return arr.astype(np.int64) if arr.dtype == np.uint64 else arr


def as_real_array(name: str, value: object, dtype: type) -> np.ndarray:
    """Return ``value`` as a ``dtype`` (float32/float64) array.

    Raises:
        BadArgument: not a real numeric array (complex, bool, object, strings rejected).
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise BadArgument(f"{name} has dtype {arr.dtype}: expected a real numeric array")
    return arr.astype(dtype, copy=False)
