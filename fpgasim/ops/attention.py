"""Attention's two products of computed tensors, per head: ``scores`` (Q·Kᵀ·scale) and ``attend``
(P·V), each in float64 (``_ref``), float32 (``_f32``) and fixed point.

Tensors are (N, C, H, W); a head owns an equal run of channels. Q (N, E, H, W) holds the queries at
the H·W positions, K (N, E, Hk, Wk) the keys at L = Hk·Wk positions: the scores are
(N, heads·L, H, W), channel ``h·L + j`` head h's score of key j, and a softmax over each head's L
channels (:func:`~fpgasim.ops.elementwise.softmax_ref` with ``groups=heads``) gives P. ``attend``
weights V (N, Ev, Hk, Wk) by P into (N, Ev, H, W).

Both are a grouped 1×1 convolution of the first operand whose weights are the second
(:func:`head_weights`), as the MAC array runs them, so that the fixed-point form is the
convolution's: exact int64 sums of integer products, then the accumulator, one rounding and the
output overflow (:func:`~fpgasim.fixedpoint.finish_accumulation`); the scores' ``scale`` (1/√d in
a transformer) multiplies the accumulated value in float64 before that one rounding
(:func:`scaled_accumulation`; exact sums below 2**53, which a ≤ 48-bit accumulator guarantees).
The fixed-point error against the float64 reference is the output rounding alone for exact
operands (≤ resolution/2 for half_up/half_even) unless the value leaves ``requant.out``'s range.

Windowed attention (Swin's window attention, MaxViT's block and grid attention): with
``window=(wh, ww)`` both operands cover the same H×W map and every position attends only the
L = wh·ww positions of its own window, key j = a·ww + b the window's row a, column b. Block windows
(``dilated=False``) are the map's contiguous wh×ww tiles; dilated windows (``dilated=True``, MaxViT's
grid) take every (H/wh)-th row and (W/ww)-th column: with gh = H/wh, gw = W/ww the window of (y, x)
holds rows y % gh + a·gh and columns x % gw + b·gw. :func:`window_partition` stacks the windows as
samples (N·nW, C, wh, ww) and :func:`window_merge` puts them back, so that a windowed product is
the unwindowed one of the partitioned operands, merged — in fixed point too (the sums are merged
before their one rounding, which acts element by element). Swin's *shifted* windows are these
block windows of a cyclically rolled map plus a mask on the keys that wrapped around; both are
outside these ops (the roll is slices and concats of rows and columns, the mask a constant added
to the scores, as the exported graph has them).
"""

from __future__ import annotations

import math

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import (
    FixedTensor, OverflowCounts, Requantizer, finish_accumulation, fit_range, quantize,
)
from fpgasim.ops._conv_check import as_real_array
from fpgasim.ops.conv import conv2d_int_sums, conv2d_ref

__all__ = ["head_weights", "scaled_accumulation", "check_window", "window_partition", "window_merge", "scores_ref",
           "scores_f32", "scores_fixed", "attend_ref", "attend_f32", "attend_fixed"]


def _nchw(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 4 or 0 in shape:
        raise ShapeError(f"{name} has shape {shape}: expected (N, C, H, W) with every dimension >= 1")


def _heads(heads: object, channels: int, what: str) -> int:
    if isinstance(heads, bool) or not isinstance(heads, (int, np.integer)) or heads < 1 or channels % heads:
        raise BadArgument(f"heads={heads!r}: expected a positive divisor of the {channels} channels of {what}")
    return int(heads)


def check_window(window: object, dilated: object, height: int, width: int, what: str) -> tuple[int, int] | None:
    """``window`` as ``(wh, ww)`` once it is checked to tile a ``height``×``width`` map (None: no window).

    Args:
        window: None, or (wh, ww) (a tuple or list of two integers >= 1).
        dilated: whether the windows are dilated (grid) rather than blocks; needs a window.
        height, width: the map the windows tile, in positions.
        what: the map's name in messages.

    Raises:
        BadArgument: ``dilated`` not a bool, ``window`` not None or a pair of positive integers,
            ``dilated=True`` without a window.
        ShapeError: height or width not divisible by the window's.
    """
    if not isinstance(dilated, bool):
        raise BadArgument(f"dilated={dilated!r}: expected True or False")
    if window is None:
        if dilated:
            raise BadArgument("dilated=True with window=None: expected a window (wh, ww) for the dilated (grid) "
                              "windows")
        return None
    if not isinstance(window, (tuple, list)) or len(window) != 2 or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in window):
        raise BadArgument(f"window={window!r}: expected None or (height, width), two integers >= 1")
    wh, ww = int(window[0]), int(window[1])
    if height % wh or width % ww:
        raise ShapeError(f"window={(wh, ww)}: the {height}×{width} map of {what} does not divide into {wh}×{ww} "
                         "windows: expected a window whose height divides H and width divides W")
    return wh, ww


def _window_axes(shape: tuple[int, ...], window: tuple[int, int],
                 dilated: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The 6-D view of an (N, C, H, W) map and the permutation to (N, rows of windows, columns of
    windows, C, wh, ww): blocks split H as (gh, wh), dilated windows as (wh, gh)."""
    n, c, h, w = shape
    wh, ww = window
    gh, gw = h // wh, w // ww
    if dilated:  # y = a·gh + r: window row r, in-window row a
        return (n, c, wh, gh, ww, gw), (0, 3, 5, 1, 2, 4)
    return (n, c, gh, wh, gw, ww), (0, 2, 4, 1, 3, 5)  # y = r·wh + a


def window_partition(x: np.ndarray, window: tuple[int, int], *, dilated: bool = False) -> np.ndarray:
    """The windows of an (N, C, H, W) map as samples, (N·nW, C, wh, ww), nW = (H/wh)·(W/ww).

    Sample outermost, then the windows in row-major order; element (a, b) of a window is its key
    a·ww + b (module docstring). Any dtype; the result is a new array.

    Raises:
        BadArgument, ShapeError: as :func:`check_window`; ``x`` not 4-D.
    """
    x = np.asarray(x)
    _nchw("x", x.shape)
    window = check_window(window, dilated, x.shape[2], x.shape[3], "x")
    if window is None:
        raise BadArgument("window=None: expected (height, width) to partition by")
    view, order = _window_axes(x.shape, window, dilated)
    return x.reshape(view).transpose(order).reshape(-1, x.shape[1], *window)


def window_merge(windows: np.ndarray, window: tuple[int, int], size: tuple[int, int], *,
                 dilated: bool = False) -> np.ndarray:
    """The inverse of :func:`window_partition`: (N·nW, C, wh, ww) windows back into (N, C, H, W).

    Args:
        windows: the windows, as :func:`window_partition` orders them.
        window: (wh, ww). size: (H, W) of the map. dilated: as for :func:`window_partition`.

    Raises:
        BadArgument, ShapeError: as :func:`check_window`; windows not (N·nW, C, wh, ww).
    """
    windows = np.asarray(windows)
    _nchw("windows", windows.shape)
    h, w = size
    window = check_window(window, dilated, h, w, "the merged map")
    if window is None:
        raise BadArgument("window=None: expected (height, width) to merge by")
    count = (h // window[0]) * (w // window[1])
    if windows.shape[2:] != window or windows.shape[0] % count:
        raise ShapeError(f"windows has shape {windows.shape}: expected (N·{count}, C, {window[0]}, {window[1]}) for "
                         f"{window[0]}×{window[1]} windows of a {h}×{w} map")
    n, c = windows.shape[0] // count, windows.shape[1]
    view, order = _window_axes((n, c, h, w), window, dilated)
    permuted = tuple(view[i] for i in order)
    return windows.reshape(permuted).transpose(np.argsort(order)).reshape(n, c, h, w)


def head_weights(operand: np.ndarray, heads: int, *, keys: bool) -> np.ndarray:
    """One sample's second operand (C, Hk, Wk) as the grouped 1×1 convolution's weights.

    ``keys`` (scores): K (E, L) → (heads·L, E/heads, 1, 1), filter ``h·L + j`` = key j of head h.
    Otherwise (attend): V (Ev, L) → (Ev, L, 1, 1), filter ``h·dv + e`` reading head h's L scores.
    """
    channels = operand.shape[0]
    flat = operand.reshape(channels, -1)
    if not keys:
        return flat.reshape(channels, flat.shape[1], 1, 1)
    d = channels // heads
    return flat.reshape(heads, d, -1).transpose(0, 2, 1).reshape(-1, d, 1, 1)


def _check(a_shape: tuple[int, ...], b_shape: tuple[int, ...], heads: object, keys: bool, window: object,
           dilated: object) -> tuple[int, tuple[int, int] | None]:
    """(heads, window) once both operands, ``heads`` and the window are checked."""
    first, second = ("q", "k") if keys else ("p", "v")
    _nchw(first, a_shape)
    _nchw(second, b_shape)
    if a_shape[0] != b_shape[0]:
        raise ShapeError(f"{first} {a_shape} and {second} {b_shape}: expected the same batch")
    heads = _heads(heads, b_shape[1], second)
    window = check_window(window, dilated, a_shape[2], a_shape[3], first)
    if window is not None and a_shape[2:] != b_shape[2:]:
        raise ShapeError(f"{first} {a_shape} and {second} {b_shape}: windowed attention expects the same height "
                         "and width in both")
    positions = b_shape[2] * b_shape[3] if window is None else window[0] * window[1]
    expected = b_shape[1] if keys else heads * positions
    if a_shape[1] != expected:
        raise ShapeError(f"{first} {a_shape} and {second} {b_shape}: expected {expected} channels in {first}"
                         + ("" if window is None else f" (heads·{window[0]}·{window[1]} keys of a window)"))
    return heads, window


def _windowed(product, a: np.ndarray, b: np.ndarray, window: tuple[int, int] | None, dilated: bool) -> np.ndarray:
    """``product(a, b)`` per sample, or of every window as a sample, merged back."""
    if window is None:
        return product(a, b)
    out = product(window_partition(a, window, dilated=dilated), window_partition(b, window, dilated=dilated))
    return window_merge(out, window, a.shape[2:], dilated=dilated)


def _float(a: np.ndarray, b: np.ndarray, heads: int, keys: bool, dtype: type, window: tuple[int, int] | None,
           dilated: bool) -> np.ndarray:
    def product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.concatenate([conv2d_ref(x[n:n + 1], head_weights(y[n], heads, keys=keys), None, stride=1,
                                          padding=0, groups=heads) for n in range(x.shape[0])])
    return _windowed(product, a, b, window, dilated).astype(dtype)


def _scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
        raise BadArgument(f"scale={scale!r}: expected a finite number > 0")
    return float(scale)


def scores_ref(q: np.ndarray, k: np.ndarray, *, heads: int, scale: float = 1.0,
               window: tuple[int, int] | None = None, dilated: bool = False) -> np.ndarray:
    """Float64 per-head scores ``scale·Q·Kᵀ`` (module docstring's layout).

    Args:
        q, k: (N, E, H, W) and (N, E, Hk, Wk). heads: divides E. scale: finite, > 0.
        window: None (every query sees all Hk·Wk keys) or (wh, ww): each query sees the wh·ww keys of
            its window (then Hk, Wk = H, W). dilated: grid (dilated) windows instead of blocks.

    Raises:
        BadArgument: non-numeric input, ``heads`` not a divisor of E, ``scale`` not finite and > 0,
            a bad ``window`` or ``dilated`` (:func:`check_window`).
        ShapeError: not 4-D, batches that differ, Q and K with different channels; windowed: Q and K
            of different H, W, or H, W not divisible by the window.
    """
    q, k = as_real_array("q", q, np.float64), as_real_array("k", k, np.float64)
    heads, window = _check(q.shape, k.shape, heads, True, window, dilated)
    return _float(q, k, heads, True, np.float64, window, dilated) * _scale(scale)


def scores_f32(q: np.ndarray, k: np.ndarray, *, heads: int, scale: float = 1.0,
               window: tuple[int, int] | None = None, dilated: bool = False) -> np.ndarray:
    """Float32 scores (products and sums in float64, result float32); arguments and errors as :func:`scores_ref`."""
    q, k = as_real_array("q", q, np.float32), as_real_array("k", k, np.float32)
    heads, window = _check(q.shape, k.shape, heads, True, window, dilated)
    return _float(q, k, heads, True, np.float32, window, dilated) * np.float32(_scale(scale))


def attend_ref(p: np.ndarray, v: np.ndarray, *, heads: int, window: tuple[int, int] | None = None,
               dilated: bool = False) -> np.ndarray:
    """Float64 per-head ``P·V`` (module docstring's layout).

    Args:
        p, v: (N, heads·L, H, W) and (N, Ev, Hk, Wk). heads: divides Ev. window, dilated: as for
            :func:`scores_ref` (windowed: L = wh·ww and Hk, Wk = H, W).

    Raises:
        BadArgument: non-numeric input, ``heads`` not a divisor of Ev, a bad ``window`` or ``dilated``.
        ShapeError: not 4-D, batches that differ, P without heads·L channels; windowed: P and V of
            different H, W, or H, W not divisible by the window.
    """
    p, v = as_real_array("p", p, np.float64), as_real_array("v", v, np.float64)
    heads, window = _check(p.shape, v.shape, heads, False, window, dilated)
    return _float(p, v, heads, False, np.float64, window, dilated)


def attend_f32(p: np.ndarray, v: np.ndarray, *, heads: int, window: tuple[int, int] | None = None,
               dilated: bool = False) -> np.ndarray:
    """Float32 ``P·V``; arguments and errors as :func:`attend_ref`."""
    p, v = as_real_array("p", p, np.float32), as_real_array("v", v, np.float32)
    heads, window = _check(p.shape, v.shape, heads, False, window, dilated)
    return _float(p, v, heads, False, np.float32, window, dilated)


def scaled_accumulation(sums: np.ndarray, sum_frac_bits: int, scale: float,
                        requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Exact int64 sums → ``requant.out``, times ``scale``: the accumulator register, then the value
    times ``scale`` in float64, rounded once (``scale`` 1: :func:`~fpgasim.fixedpoint.finish_accumulation`)."""
    if scale == 1.0:
        return finish_accumulation(sums, sum_frac_bits, requant)
    acc = requant.accumulator
    in_acc, acc_count = fit_range(sums, acc.min_int, acc.max_int, acc.bits, acc.overflow)
    out, counts = quantize(np.ldexp(in_acc.astype(np.float64), -sum_frac_bits) * scale, requant.out,
                           rounding=requant.rounding, overflow=requant.overflow)
    return out, OverflowCounts(output=counts.output, accumulator=acc_count)


def _fixed(a: object, b: object, heads: object, keys: bool, scale: float, requant: object, window: object,
           dilated: object) -> tuple[FixedTensor, OverflowCounts]:
    for name, value in zip(("q", "k") if keys else ("p", "v"), (a, b)):
        if not isinstance(value, FixedTensor):
            raise BadArgument(f"{name}={type(value).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    heads, window = _check(a.shape, b.shape, heads, keys, window, dilated)

    def product(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.concatenate([conv2d_int_sums(x[n:n + 1], head_weights(y[n], heads, keys=keys), stride=1, padding=0,
                                               groups=heads) for n in range(x.shape[0])])
    sums = _windowed(product, a.values, b.values, window, dilated)
    return scaled_accumulation(sums, a.fmt.frac_bits + b.fmt.frac_bits, scale, requant)


def scores_fixed(q: FixedTensor, k: FixedTensor, *, heads: int, scale: float = 1.0, requant: Requantizer,
                 window: tuple[int, int] | None = None, dilated: bool = False) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point scores: exact integer sums, the accumulator, ×``scale``, one rounding to ``requant.out``
    (``window``, ``dilated``: as for :func:`scores_ref`).

    Returns:
        The scores in ``requant.out`` and the accumulator/output overflow counts.

    Raises:
        BadArgument: wrong argument types; as :func:`scores_ref`. ShapeError: as :func:`scores_ref`.
    """
    return _fixed(q, k, heads, True, _scale(scale), requant, window, dilated)


def attend_fixed(p: FixedTensor, v: FixedTensor, *, heads: int, requant: Requantizer,
                 window: tuple[int, int] | None = None, dilated: bool = False) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``P·V``: exact integer sums, the accumulator, one rounding to ``requant.out``
    (``window``, ``dilated``: as for :func:`attend_ref`).

    Raises:
        BadArgument: wrong argument types; as :func:`attend_ref`. ShapeError: as :func:`attend_ref`.
    """
    return _fixed(p, v, heads, False, 1.0, requant, window, dilated)
