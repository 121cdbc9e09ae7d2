"""Element-wise activations: ReLU and ReLU6 in float64 (reference), float32 and fixed point, and
the :class:`Activation` dispatch table that also covers the float-computed activations of
:mod:`fpgasim.ops.elementwise` (sigmoid, tanh, SiLU, HardSwish, softmax; those need a requantizer).

ReLU and ReLU6 in fixed point keep the input's format and are exact. ReLU6 clamps at 6 expressed
in that format (stored integer ``6·2^frac_bits``); when 6 is above the format's largest value the clamp is the
format's saturation point ``max_value`` instead, i.e. ReLU6 then equals ReLU (the input cannot
exceed ``max_value``). Neither can overflow, so the returned counts are always zero; they are
returned so that every fixed-point op has the same ``(FixedTensor, OverflowCounts)`` shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer
from fpgasim.ops._conv_check import as_real_array
from fpgasim.ops.elementwise import (
    hardswish_f32, hardswish_fixed, hardswish_ref, sigmoid_f32, sigmoid_fixed, sigmoid_ref, silu_f32, silu_fixed,
    silu_ref, softmax_f32, softmax_fixed, softmax_ref, tanh_f32, tanh_fixed, tanh_ref,
)

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
    #: 1 / (1 + e^-x).
    SIGMOID = "sigmoid"
    #: (e^x − e^-x) / (e^x + e^-x) = 2·sigmoid(2x) − 1.
    TANH = "tanh"
    #: x · sigmoid(x).
    SILU = "silu"
    #: x · relu6(x + 3) / 6.
    HARDSWISH = "hardswish"
    #: softmax over the channel axis.
    SOFTMAX = "softmax"


def _identity_ref(x: np.ndarray) -> np.ndarray:
    return as_real_array("x", x, np.float64)


def _identity_f32(x: np.ndarray) -> np.ndarray:
    return as_real_array("x", x, np.float32)


def _identity_fixed(x: FixedTensor) -> tuple[FixedTensor, OverflowCounts]:
    return _fixed(x), OverflowCounts()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Forms:
    """The three forms of one activation; ``exact`` fixed forms keep the format and take no requantizer."""

    ref: Callable[[np.ndarray], np.ndarray]
    f32: Callable[[np.ndarray], np.ndarray]
    fixed: Callable[..., tuple[FixedTensor, OverflowCounts]]
    exact: bool


_FORMS: dict[Activation, _Forms] = {
    Activation.NONE: _Forms(ref=_identity_ref, f32=_identity_f32, fixed=_identity_fixed, exact=True),
    Activation.RELU: _Forms(ref=relu_ref, f32=relu_f32, fixed=relu_fixed, exact=True),
    Activation.RELU6: _Forms(ref=relu6_ref, f32=relu6_f32, fixed=relu6_fixed, exact=True),
    Activation.SIGMOID: _Forms(ref=sigmoid_ref, f32=sigmoid_f32, fixed=sigmoid_fixed, exact=False),
    Activation.TANH: _Forms(ref=tanh_ref, f32=tanh_f32, fixed=tanh_fixed, exact=False),
    Activation.SILU: _Forms(ref=silu_ref, f32=silu_f32, fixed=silu_fixed, exact=False),
    Activation.HARDSWISH: _Forms(ref=hardswish_ref, f32=hardswish_f32, fixed=hardswish_fixed, exact=False),
    Activation.SOFTMAX: _Forms(ref=softmax_ref, f32=softmax_f32, fixed=softmax_fixed, exact=False),
}


def _parse_activation(activation: object) -> Activation:
    try:
        return Activation(activation)
    except ValueError:
        allowed = ", ".join(a.value for a in Activation)
        raise BadArgument(f"activation={activation!r} is not one of: {allowed}") from None


def activate_ref(x: np.ndarray, activation: Activation) -> np.ndarray:
    """Float64 activation by name. Raises BadArgument for an unknown activation."""
    return _FORMS[_parse_activation(activation)].ref(x)


def activate_f32(x: np.ndarray, activation: Activation) -> np.ndarray:
    """Float32 activation by name. Raises BadArgument for an unknown activation."""
    return _FORMS[_parse_activation(activation)].f32(x)


def activate_fixed(x: FixedTensor, activation: Activation, *,
                   requant: Requantizer | None = None) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point activation by name.

    Args:
        x: the input tensor.
        activation: which activation.
        requant: the output format, rounding and overflow of the activations computed in float
            (sigmoid, tanh, silu, hardswish, softmax; required for them). The exact ones (none, relu,
            relu6) keep ``x``'s format and ignore it.

    Raises:
        BadArgument: an unknown activation, ``x`` not a FixedTensor, a float-computed activation
            without a Requantizer.
    """
    activation = _parse_activation(activation)
    forms = _FORMS[activation]
    if forms.exact:
        return forms.fixed(x)
    if not isinstance(requant, Requantizer):
        raise BadArgument(
            f"activation={activation.value!r} is computed in float and quantised: "
            f"requant={requant!r}, expected a Requantizer"
        )
    return forms.fixed(x, requant=requant)
