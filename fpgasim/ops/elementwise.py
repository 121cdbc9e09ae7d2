"""Element-wise and channel ops of graph networks: add, mul, concat, sigmoid, tanh, SiLU, HardSwish,
GELU, softmax and global max pooling, each in float64 (``_ref``), float32 (``_f32``) and fixed point.

Every tensor is (N, C, H, W). Add and mul broadcast with numpy's rules but only between 4-D
arrays, so that a per-channel operand must be written (N, C, 1, 1) and can never be broadcast
silently along W. Memory-bound work: vectorised numpy (int64 for fixed point), no Numba.

Fixed point (each form returns ``(FixedTensor, OverflowCounts)``; operand formats may differ):

* **add**: both operands are aligned exactly to the larger fraction bit count ``F`` (left
  shifts) and summed in int64; **mul**: the exact int64 product has ``fa + fb`` fraction bits.
  The exact result then goes through :func:`~fpgasim.fixedpoint.finish_accumulation` once:
  into ``requant.accumulator`` (its width and overflow mode, counted as ``accumulator``), one
  rounding to ``requant.out`` with ``requant.rounding``, then ``requant.overflow`` (``output``).
  Operand formats whose exact result could leave int64 are refused (``BadArgument``).
* **concat**: every input is requantised to ``requant.out`` (rounding, overflow; exact when its
  format already is ``requant.out``), then joined along C (or H, W); the accumulator is not used.
* **sigmoid, tanh, silu, hardswish, gelu, softmax**: computed in float64 on the exactly dequantised input,
  then quantised once to ``requant.out`` with its rounding and overflow (the accumulator is not
  used). Deterministic, so a replay is bit-exact; the error against the float64 reference is
  the output rounding alone (≤ resolution/2 for half_up/half_even, < resolution for truncate)
  unless the value is outside ``requant.out``'s range. HardSwish is ``x·relu6(x+3)/6``; GELU is
  the exact ``x·Φ(x) = x·(1 + erf(x/√2))/2`` (libm's erf, through a Numba loop); softmax
  is taken over the channel axis (axis 1), or over each of ``groups`` equal runs of it (one per
  attention head), shifted by the maximum for stability.
* **global max pooling**: exact, keeps the input format, never overflows (counts are zero).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import math

import numpy as np
from numba import njit

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import (
    MAX_FRAC_BITS, FixedTensor, OverflowCounts, Requantizer, finish_accumulation, quantize, requantize,
)
from fpgasim.ops._conv_check import as_real_array

__all__ = [
    "add_ref", "add_f32", "add_fixed", "mul_ref", "mul_f32", "mul_fixed",
    "concat_ref", "concat_f32", "concat_fixed",
    "sigmoid_ref", "sigmoid_f32", "sigmoid_fixed", "tanh_ref", "tanh_f32", "tanh_fixed",
    "silu_ref", "silu_f32", "silu_fixed",
    "hardswish_ref", "hardswish_f32", "hardswish_fixed", "gelu_ref", "gelu_f32", "gelu_fixed", "normal_cdf_ref",
    "softmax_ref", "softmax_f32", "softmax_fixed", "channel_groups",
    "global_max_pool2d_ref", "global_max_pool2d_f32", "global_max_pool2d_fixed",
]

#: Widest aligned add operand in bits (|value| < 2**62), so that the sum of two fits int64.
_OPERAND_BITS = 62


# --- argument checks --------------------------------------------------------------------------

def _fixed(name: str, value: object) -> FixedTensor:
    if not isinstance(value, FixedTensor):
        raise BadArgument(f"{name}={type(value).__name__}: expected a FixedTensor")
    return value


def _requantizer(requant: object) -> Requantizer:
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    return requant


def _nchw(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) != 4 or 0 in shape:
        raise ShapeError(f"{name} has shape {shape}: expected (N, C, H, W) with every dimension >= 1")


def _broadcast(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    _nchw("a", a_shape)
    _nchw("b", b_shape)
    try:
        np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        raise ShapeError(
            f"a {a_shape} and b {b_shape} do not broadcast: expected each dimension equal or 1 in one of them"
        ) from None


def _has_channels(name: str, shape: tuple[int, ...]) -> None:
    if len(shape) < 2 or 0 in shape:
        raise ShapeError(f"{name} has shape {shape}: expected (N, C, ...) with every dimension >= 1")


def _sequence(xs: object) -> Sequence[object]:
    if not isinstance(xs, (list, tuple)) or not xs:
        raise BadArgument(f"xs={type(xs).__name__}: expected a non-empty list or tuple of tensors")
    return xs


def _concat_shapes(shapes: Sequence[tuple[int, ...]], axis: int) -> None:
    if axis not in (1, 2, 3) or isinstance(axis, bool):
        raise BadArgument(f"axis={axis!r}: expected 1 (C), 2 (H) or 3 (W)")
    for i, shape in enumerate(shapes):
        _nchw(f"xs[{i}]", shape)
    first = shapes[0]
    others = [d for d in range(4) if d != axis]
    for i, shape in enumerate(shapes[1:], start=1):
        if [shape[d] for d in others] != [first[d] for d in others]:
            raise ShapeError(f"xs[0] {first} and xs[{i}] {shape} do not concatenate along axis {axis}: expected "
                             "the same other dimensions")


def _aligned(name: str, x: FixedTensor, frac_bits: int) -> np.ndarray:
    """``x``'s stored integers as int64 with ``frac_bits`` (≥ its own) fraction bits (exact)."""
    shift = frac_bits - x.fmt.frac_bits
    if x.fmt.total_bits + shift > _OPERAND_BITS:
        raise BadArgument(
            f"{name} {x.fmt} aligned to {frac_bits} fraction bits needs {x.fmt.total_bits + shift} bits: "
            f"expected at most {_OPERAND_BITS} (int64)"
        )
    return x.values.astype(np.int64) << np.int64(shift)


# --- add and mul ----------------------------------------------------------------------------------

def add_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float64 ``a + b`` with broadcasting between (N, C, H, W) arrays.

    Raises:
        BadArgument: a non-numeric dtype. ShapeError: not 4-D, an empty dimension, or shapes that
            do not broadcast (the message names both).
    """
    a, b = as_real_array("a", a, np.float64), as_real_array("b", b, np.float64)
    _broadcast(a.shape, b.shape)
    return a + b


def add_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float32 ``a + b``; arguments and errors as :func:`add_ref`."""
    a, b = as_real_array("a", a, np.float32), as_real_array("b", b, np.float32)
    _broadcast(a.shape, b.shape)
    return a + b


def add_fixed(a: FixedTensor, b: FixedTensor, *, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``a + b``: exact sum at the larger fraction bit count, then one requantisation.

    Returns:
        The broadcast-shape tensor in ``requant.out`` and the overflow counts.

    Raises:
        BadArgument: wrong argument types, formats whose alignment leaves int64.
        ShapeError: as :func:`add_ref`.
    """
    a, b, requant = _fixed("a", a), _fixed("b", b), _requantizer(requant)
    _broadcast(a.shape, b.shape)
    frac = max(a.fmt.frac_bits, b.fmt.frac_bits)
    return finish_accumulation(_aligned("a", a, frac) + _aligned("b", b, frac), frac, requant)


def mul_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float64 ``a · b`` with broadcasting between (N, C, H, W) arrays; errors as :func:`add_ref`."""
    a, b = as_real_array("a", a, np.float64), as_real_array("b", b, np.float64)
    _broadcast(a.shape, b.shape)
    return a * b


def mul_f32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Float32 ``a · b``; arguments and errors as :func:`add_ref`."""
    a, b = as_real_array("a", a, np.float32), as_real_array("b", b, np.float32)
    _broadcast(a.shape, b.shape)
    return a * b


def mul_fixed(a: FixedTensor, b: FixedTensor, *, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``a · b``: exact product with ``fa + fb`` fraction bits, then one requantisation.

    Returns:
        The broadcast-shape tensor in ``requant.out`` and the overflow counts.

    Raises:
        BadArgument: wrong argument types; formats whose product has more than 62 fraction bits
            or may reach 2**63 (two 32-bit unsigned formats). ShapeError: as :func:`add_ref`.
    """
    a, b, requant = _fixed("a", a), _fixed("b", b), _requantizer(requant)
    _broadcast(a.shape, b.shape)
    frac = a.fmt.frac_bits + b.fmt.frac_bits
    if frac > MAX_FRAC_BITS:
        raise BadArgument(f"a {a.fmt} × b {b.fmt}: the product has {frac} fraction bits, expected at most {MAX_FRAC_BITS}")
    reach = max(-a.fmt.min_int, a.fmt.max_int) * max(-b.fmt.min_int, b.fmt.max_int)
    if reach >= 1 << 63:
        raise BadArgument(f"a {a.fmt} × b {b.fmt}: products may reach {reach}, expected below 2**63 (int64)")
    return finish_accumulation(a.values.astype(np.int64) * b.values.astype(np.int64), frac, requant)


# --- concat ---------------------------------------------------------------------------------------

def concat_ref(xs: Sequence[np.ndarray], axis: int = 1) -> np.ndarray:
    """Float64 concatenation of (N, C, H, W) arrays along ``axis`` (1 = C; 2 = H, as ViT's class token
    joins its patch tokens).

    Raises:
        BadArgument: ``xs`` not a non-empty list/tuple, a non-numeric dtype, an axis not 1..3.
        ShapeError: an input not 4-D, or other dimensions that differ (names both inputs and shapes).
    """
    arrays = [as_real_array(f"xs[{i}]", x, np.float64) for i, x in enumerate(_sequence(xs))]
    _concat_shapes([x.shape for x in arrays], axis)
    return np.concatenate(arrays, axis=axis)


def concat_f32(xs: Sequence[np.ndarray], axis: int = 1) -> np.ndarray:
    """Float32 concatenation; arguments and errors as :func:`concat_ref`."""
    arrays = [as_real_array(f"xs[{i}]", x, np.float32) for i, x in enumerate(_sequence(xs))]
    _concat_shapes([x.shape for x in arrays], axis)
    return np.concatenate(arrays, axis=axis)


def concat_fixed(xs: Sequence[FixedTensor], *, requant: Requantizer,
                 axis: int = 1) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point concatenation along ``axis``: each input requantised to ``requant.out``, then joined.

    Returns:
        The tensor in ``requant.out`` and the summed output overflow counts of the inputs.

    Raises:
        BadArgument: wrong argument types, a requantisation that leaves int64.
        ShapeError: as :func:`concat_ref`.
    """
    tensors = [_fixed(f"xs[{i}]", x) for i, x in enumerate(_sequence(xs))]
    requant = _requantizer(requant)
    _concat_shapes([x.shape for x in tensors], axis)
    counts = OverflowCounts()
    parts = []
    for x in tensors:
        y, c = requantize(x, requant.out, rounding=requant.rounding, overflow=requant.overflow)
        parts.append(y.values)
        counts += c
    return FixedTensor(np.concatenate(parts, axis=axis), requant.out), counts


# --- activations computed in float ----------------------------------------------------------------

def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + e^-x)`` without overflow: ``e^-|x|`` never exceeds 1."""
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _hardswish(x: np.ndarray) -> np.ndarray:
    three, six = x.dtype.type(3), x.dtype.type(6)
    return x * np.clip(x + three, x.dtype.type(0), six) / six


def _silu(x: np.ndarray) -> np.ndarray:
    return x * _sigmoid(x)


@njit(cache=True)
def _erf_flat(x: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled; numpy has no erf
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = math.erf(x[i])
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """libm's erf of every element, in ``x``'s dtype (compiled on first use, as every kernel here)."""
    return _erf_flat(np.ascontiguousarray(x).reshape(-1)).reshape(x.shape)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    half, root2 = x.dtype.type(0.5), x.dtype.type(math.sqrt(2.0))
    return half * (x.dtype.type(1) + _erf(x / root2))


def _gelu(x: np.ndarray) -> np.ndarray:
    return x * _normal_cdf(x)


def _softmax(x: np.ndarray, groups: int) -> np.ndarray:
    grouped = channel_groups(x, groups)
    e = np.exp(grouped - grouped.max(axis=2, keepdims=True))
    return (e / e.sum(axis=2, keepdims=True)).reshape(x.shape)


def channel_groups(x: np.ndarray, groups: int) -> np.ndarray:
    """``x`` (N, C, ...) viewed as (N, groups, C/groups, ...): one softmax per group (attention head)."""
    _has_channels("x", x.shape)
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1 or x.shape[1] % groups:
        raise BadArgument(f"groups={groups!r}: expected a positive divisor of the {x.shape[1]} channels")
    return x.reshape(x.shape[0], groups, x.shape[1] // groups, *x.shape[2:])


def _via_float64(ref: Callable[[np.ndarray], np.ndarray], x: FixedTensor,
                 requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    x, requant = _fixed("x", x), _requantizer(requant)
    return quantize(ref(x.to_float()), requant.out, rounding=requant.rounding, overflow=requant.overflow)


def _element_forms(core: Callable[[np.ndarray], np.ndarray], name: str, formula: str) -> tuple[Callable, ...]:
    """The float64, float32 and fixed-point forms of an element-wise activation computed in float
    (``core`` on an array of the working dtype), named ``<name>_ref``, ``_f32``, ``_fixed``."""

    def ref(x: np.ndarray) -> np.ndarray:
        return core(as_real_array("x", x, np.float64))

    def f32(x: np.ndarray) -> np.ndarray:
        return core(as_real_array("x", x, np.float32))

    def fixed(x: FixedTensor, *, requant: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
        return _via_float64(ref, x, requant)

    docs = (f"Float64 {formula} (any shape). Raises BadArgument for non-numeric input.",
            f"Float32 {name}, computed in float32.",
            f"{formula} of the dequantised ``x`` in float64, quantised to ``requant.out``.\n\n"
            "    Raises:\n        BadArgument: ``x`` not a FixedTensor, ``requant`` not a Requantizer.")
    for form, suffix, doc in zip((ref, f32, fixed), ("ref", "f32", "fixed"), docs):
        form.__name__ = form.__qualname__ = f"{name}_{suffix}"
        form.__doc__ = doc
    return ref, f32, fixed


sigmoid_ref, sigmoid_f32, sigmoid_fixed = _element_forms(_sigmoid, "sigmoid", "sigmoid ``1 / (1 + e^-x)``")
tanh_ref, tanh_f32, tanh_fixed = _element_forms(np.tanh, "tanh", "tanh ``(e^x − e^-x) / (e^x + e^-x)``")
silu_ref, silu_f32, silu_fixed = _element_forms(_silu, "silu", "SiLU ``x · sigmoid(x)``")
hardswish_ref, hardswish_f32, hardswish_fixed = _element_forms(_hardswish, "hardswish",
                                                               "HardSwish ``x · relu6(x + 3) / 6``")
gelu_ref, gelu_f32, gelu_fixed = _element_forms(_gelu, "gelu", "GELU ``x · Φ(x)`` with the exact erf")
normal_cdf_ref = _element_forms(_normal_cdf, "normal_cdf", "standard normal CDF ``Φ(x) = (1 + erf(x/√2)) / 2``")[0]


def softmax_ref(x: np.ndarray, groups: int = 1) -> np.ndarray:
    """Float64 softmax over the channel axis (axis 1) of an (N, C, ...) array, separately over each of
    ``groups`` equal runs of channels (an attention head's scores; 1: all channels).

    Raises:
        BadArgument: non-numeric input, ``groups`` not a divisor of C. ShapeError: fewer than 2
            dimensions or an empty one.
    """
    return _softmax(as_real_array("x", x, np.float64), groups)


def softmax_f32(x: np.ndarray, groups: int = 1) -> np.ndarray:
    """Float32 softmax over axis 1 (per group), computed in float32; errors as :func:`softmax_ref`."""
    return _softmax(as_real_array("x", x, np.float32), groups)


def softmax_fixed(x: FixedTensor, *, requant: Requantizer, groups: int = 1) -> tuple[FixedTensor, OverflowCounts]:
    """Softmax over axis 1 (per group) of the dequantised ``x`` in float64, quantised to ``requant.out``.

    Raises:
        BadArgument: wrong argument types. ShapeError: as :func:`softmax_ref`.
    """
    return _via_float64(lambda values: softmax_ref(values, groups), x, requant)


# --- global max pooling -----------------------------------------------------------------------------

def global_max_pool2d_ref(x: np.ndarray) -> np.ndarray:
    """Float64 maximum over H×W of an (N, C, H, W) array; returns (N, C, 1, 1).

    Raises:
        BadArgument: non-numeric input. ShapeError: not 4-D or an empty dimension.
    """
    x = as_real_array("x", x, np.float64)
    _nchw("x", x.shape)
    return x.max(axis=(2, 3), keepdims=True)


def global_max_pool2d_f32(x: np.ndarray) -> np.ndarray:
    """Float32 maximum over H×W; errors as :func:`global_max_pool2d_ref`."""
    x = as_real_array("x", x, np.float32)
    _nchw("x", x.shape)
    return x.max(axis=(2, 3), keepdims=True)


def global_max_pool2d_fixed(x: FixedTensor) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point maximum over H×W: exact, in ``x``'s format, counts zero; returns (N, C, 1, 1).

    Raises:
        BadArgument: ``x`` not a FixedTensor. ShapeError: as :func:`global_max_pool2d_ref`.
    """
    x = _fixed("x", x)
    _nchw("x", x.shape)
    return FixedTensor(x.values.max(axis=(2, 3), keepdims=True), x.fmt), OverflowCounts()
