"""Element-wise activations: ReLU and ReLU6 in float64 (reference), float32 and fixed point.

Fixed point keeps the input's format and is exact. ReLU6 clamps at 6 expressed in that format
(stored integer ``6·2^frac_bits``); when 6 is above the format's largest value the clamp is the
format's saturation point ``max_value`` instead, i.e. ReLU6 then equals ReLU (the input cannot
exceed ``max_value``). Neither can overflow, so the returned counts are always zero; they are
returned so that every fixed-point op has the same ``(FixedTensor, OverflowCounts)`` shape.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts
from fpgasim.ops._conv_check import as_real_array

__all__ = ["Activation", "activate_ref", "activate_f32", "activate_fixed", "relu_ref", "relu_f32", "relu_fixed", "relu6_ref", "relu6_f32", "relu6_fixed", "RELU6_CEILING"]

#: Upper clamp of ReLU6 (real value).
RELU6_CEILING = 6


def relu_ref(x: np.ndarray) -> np.ndarray:
    """Float64 ``max(x, 0)``. Raises BadArgument for non-numeric input."""
    return np.maximum(as_real_array("x", x, np.float64), 0.0)


def relu_f32(x: np.ndarray) -> np.ndarray:
    """Float32 ``max(x, 0)``."""
    return np.maximum(as_real_array("x", x, np.float32), np.float32(0))


def relu6_ref(x: np.ndarray) -> np.ndarray:
    """Float64 ``min(max(x, 0), 6)``."""
    return np.clip(as_real_array("x", x, np.float64), 0.0, float(RELU6_CEILING))


def relu6_f32(x: np.ndarray) -> np.ndarray:
    """Float32 ``min(max(x, 0), 6)``."""
    return np.clip(as_real_array("x", x, np.float32), np.float32(0), np.float32(RELU6_CEILING))


def _fixed(x: object) -> FixedTensor:
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    return x


def relu_fixed(x: FixedTensor) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ReLU in ``x``'s format (exact; counts are zero).

    Raises:
        BadArgument: ``x`` is not a FixedTensor.
    """
    x = _fixed(x)
    return FixedTensor(np.maximum(x.values, 0).astype(x.fmt.storage_dtype), x.fmt), OverflowCounts()


def relu6_fixed(x: FixedTensor) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ReLU6 in ``x``'s format: clamp to ``0..min(6·2^f, max_int)`` (exact; counts zero).

    Raises:
        BadArgument: ``x`` is not a FixedTensor.
    """
    x = _fixed(x)
    ceiling = min(RELU6_CEILING << x.fmt.frac_bits, x.fmt.max_int)
    vals = np.clip(x.values.astype(np.int64), 0, ceiling)
    return FixedTensor(vals.astype(x.fmt.storage_dtype), x.fmt), OverflowCounts()


class Activation(StrEnum):
    """The activation applied after a layer (explicit: there is no default)."""

    #: Identity (a linear layer).
    NONE = "none"
    #: max(x, 0).
    RELU = "relu"
    #: min(max(x, 0), 6).
    RELU6 = "relu6"


def _parse_activation(activation: object) -> Activation:
    try:
        return Activation(activation)
    except ValueError:
        allowed = ", ".join(a.value for a in Activation)
        raise BadArgument(f"activation={activation!r} is not one of: {allowed}") from None


def activate_ref(x: np.ndarray, activation: Activation) -> np.ndarray:
    """Float64 activation by name. Raises BadArgument for an unknown activation."""
    activation = _parse_activation(activation)
    if activation is Activation.RELU:
        return relu_ref(x)
    if activation is Activation.RELU6:
        return relu6_ref(x)
    return as_real_array("x", x, np.float64)


def activate_f32(x: np.ndarray, activation: Activation) -> np.ndarray:
    """Float32 activation by name. Raises BadArgument for an unknown activation."""
    activation = _parse_activation(activation)
    if activation is Activation.RELU:
        return relu_f32(x)
    if activation is Activation.RELU6:
        return relu6_f32(x)
    return as_real_array("x", x, np.float32)


def activate_fixed(x: FixedTensor, activation: Activation) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point activation by name (format kept, exact). Raises BadArgument for an unknown one."""
    activation = _parse_activation(activation)
    if activation is Activation.RELU:
        return relu_fixed(x)
    if activation is Activation.RELU6:
        return relu6_fixed(x)
    return _fixed(x), OverflowCounts()
