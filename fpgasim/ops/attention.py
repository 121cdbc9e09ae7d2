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

__all__ = ["head_weights", "scaled_accumulation", "scores_ref", "scores_f32", "scores_fixed",
           "attend_ref", "attend_f32", "attend_fixed"]


def _nchw(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 4 or 0 in shape:
        raise ShapeError(f"{name} has shape {shape}: expected (N, C, H, W) with every dimension >= 1")


def _heads(heads: object, channels: int, what: str) -> int:
    if isinstance(heads, bool) or not isinstance(heads, (int, np.integer)) or heads < 1 or channels % heads:
        raise BadArgument(f"heads={heads!r}: expected a positive divisor of the {channels} channels of {what}")
    return int(heads)


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


def _check(a_shape: tuple[int, ...], b_shape: tuple[int, ...], heads: object, keys: bool) -> int:
    first, second = ("q", "k") if keys else ("p", "v")
    _nchw(first, a_shape)
    _nchw(second, b_shape)
    if a_shape[0] != b_shape[0]:
        raise ShapeError(f"{first} {a_shape} and {second} {b_shape}: expected the same batch")
    heads = _heads(heads, b_shape[1], second)
    positions = b_shape[2] * b_shape[3]
    expected = b_shape[1] if keys else heads * positions
    if a_shape[1] != expected:
        raise ShapeError(f"{first} {a_shape} and {second} {b_shape}: expected {expected} channels in {first}")
    return heads


def _float(a: np.ndarray, b: np.ndarray, heads: int, keys: bool, dtype: type) -> np.ndarray:
    out = [conv2d_ref(a[n:n + 1], head_weights(b[n], heads, keys=keys), None, stride=1, padding=0, groups=heads)
           for n in range(a.shape[0])]
    return np.concatenate(out).astype(dtype)


def _scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
        raise BadArgument(f"scale={scale!r}: expected a finite number > 0")
    return float(scale)


def scores_ref(q: np.ndarray, k: np.ndarray, *, heads: int, scale: float = 1.0) -> np.ndarray:
    """Float64 per-head scores ``scale·Q·Kᵀ`` (module docstring's layout).

    Raises:
        BadArgument: non-numeric input, ``heads`` not a divisor of E, ``scale`` not finite and > 0.
        ShapeError: not 4-D, batches that differ, Q and K with different channels.
    """
    q, k = as_real_array("q", q, np.float64), as_real_array("k", k, np.float64)
    heads = _check(q.shape, k.shape, heads, keys=True)
    return _float(q, k, heads, True, np.float64) * _scale(scale)


def scores_f32(q: np.ndarray, k: np.ndarray, *, heads: int, scale: float = 1.0) -> np.ndarray:
    """Float32 scores (products and sums in float64, result float32); errors as :func:`scores_ref`."""
    q, k = as_real_array("q", q, np.float32), as_real_array("k", k, np.float32)
    heads = _check(q.shape, k.shape, heads, keys=True)
    return _float(q, k, heads, True, np.float32) * np.float32(_scale(scale))


def attend_ref(p: np.ndarray, v: np.ndarray, *, heads: int) -> np.ndarray:
    """Float64 per-head ``P·V`` (module docstring's layout).

    Raises:
        BadArgument: non-numeric input, ``heads`` not a divisor of Ev.
        ShapeError: not 4-D, batches that differ, P without heads·L channels.
    """
    p, v = as_real_array("p", p, np.float64), as_real_array("v", v, np.float64)
    heads = _check(p.shape, v.shape, heads, keys=False)
    return _float(p, v, heads, False, np.float64)


def attend_f32(p: np.ndarray, v: np.ndarray, *, heads: int) -> np.ndarray:
    """Float32 ``P·V``; errors as :func:`attend_ref`."""
    p, v = as_real_array("p", p, np.float32), as_real_array("v", v, np.float32)
    heads = _check(p.shape, v.shape, heads, keys=False)
    return _float(p, v, heads, False, np.float32)


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


def _fixed(a: object, b: object, heads: object, keys: bool, scale: float,
           requant: object) -> tuple[FixedTensor, OverflowCounts]:
    for name, value in zip(("q", "k") if keys else ("p", "v"), (a, b)):
        if not isinstance(value, FixedTensor):
            raise BadArgument(f"{name}={type(value).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    heads = _check(a.shape, b.shape, heads, keys)
    sums = np.concatenate([
        conv2d_int_sums(a.values[n:n + 1], head_weights(b.values[n], heads, keys=keys), stride=1, padding=0,
                        groups=heads) for n in range(a.shape[0])])
    return scaled_accumulation(sums, a.fmt.frac_bits + b.fmt.frac_bits, scale, requant)


def scores_fixed(q: FixedTensor, k: FixedTensor, *, heads: int, scale: float = 1.0,
                 requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point scores: exact integer sums, the accumulator, ×``scale``, one rounding to ``requant.out``.

    Returns:
        The scores in ``requant.out`` and the accumulator/output overflow counts.

    Raises:
        BadArgument: wrong argument types; as :func:`scores_ref`. ShapeError: as :func:`scores_ref`.
    """
    return _fixed(q, k, heads, True, _scale(scale), requant)


def attend_fixed(p: FixedTensor, v: FixedTensor, *, heads: int,
                 requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``P·V``: exact integer sums, the accumulator, one rounding to ``requant.out``.

    Raises:
        BadArgument: wrong argument types; as :func:`attend_ref`. ShapeError: as :func:`attend_ref`.
    """
    return _fixed(p, v, heads, False, 1.0, requant)
