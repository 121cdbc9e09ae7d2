"""Depthwise-separable convolution block: depthwise → (folded BN) → act → pointwise → (folded BN) → act.

BatchNorm is folded into the weights and biases before they get here
(:func:`fpgasim.ops.batchnorm.fold_batchnorm`), so a stage is one convolution with bias followed
by the activation. Owns the layer descriptions (:class:`DscLayer` in real numbers,
:class:`FixedDscLayer` in fixed point with one :class:`~fpgasim.fixedpoint.Requantizer` per
stage) and the three paths. Fixed point: the depthwise conv is requantised once to
``requant_dw.out`` (its accumulator, rounding and overflow), the activation is applied in that
format (exact for ReLU/ReLU6; a float-computed one is quantised with the stage's requantizer),
the pointwise conv reads it and is requantised once to ``requant_pw.out``, then the activation
again; the overflow counts of every step are added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer
from fpgasim.ops.activations import Activation, _parse_activation, activate_f32, activate_fixed, activate_ref
from fpgasim.ops.conv import (
    depthwise_conv2d_f32, depthwise_conv2d_fixed, depthwise_conv2d_ref, pointwise_conv2d_f32, pointwise_conv2d_fixed,
    pointwise_conv2d_ref,
)

__all__ = ["DscLayer", "FixedDscLayer", "dsc_block_ref", "dsc_block_f32", "dsc_block_fixed"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DscLayer:
    """A depthwise-separable block in real numbers (BN already folded).

    Attributes:
        w_dw: (C, 1, K, K) depthwise weights. b_dw: (C,) bias or None.
        w_pw: (M, C, 1, 1) pointwise weights. b_pw: (M,) bias or None.
        stride: depthwise stride in elements. padding: depthwise zero padding per side, in elements.
        activation: applied after each stage (the seed block uses ReLU).
    """

    w_dw: np.ndarray
    b_dw: np.ndarray | None
    w_pw: np.ndarray
    b_pw: np.ndarray | None
    stride: int
    padding: int
    activation: Activation

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", _parse_activation(self.activation))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FixedDscLayer:
    """A depthwise-separable block in fixed point: fixed weights and one requantizer per stage.

    Attributes:
        w_dw, b_dw, w_pw, b_pw: as :class:`DscLayer`, as FixedTensors (biases may be None).
        stride, padding, activation: as :class:`DscLayer`.
        requant_dw: accumulator, rounding, output format and overflow of the depthwise stage.
        requant_pw: the same for the pointwise stage (its ``out`` is the block's output format).
    """

    w_dw: FixedTensor
    b_dw: FixedTensor | None
    w_pw: FixedTensor
    b_pw: FixedTensor | None
    stride: int
    padding: int
    activation: Activation
    requant_dw: Requantizer
    requant_pw: Requantizer

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", _parse_activation(self.activation))
        for name in ("requant_dw", "requant_pw"):
            if not isinstance(getattr(self, name), Requantizer):
                raise BadArgument(f"{name}={getattr(self, name)!r}: expected a Requantizer")


def _layer(layer: object, kind: type) -> None:
    if not isinstance(layer, kind):
        raise BadArgument(f"layer is {type(layer).__name__}: expected a {kind.__name__}")


def dsc_block_ref(x: np.ndarray, layer: DscLayer) -> np.ndarray:
    """Float64 reference of the block.

    Args:
        x: (N, C, H, W) real input.
        layer: the block's weights and geometry.

    Returns:
        (N, M, OH, OW) float64.

    Raises:
        BadArgument: not a DscLayer, bad stride/padding. ShapeError: shapes that do not chain.
    """
    _layer(layer, DscLayer)
    y = depthwise_conv2d_ref(x, layer.w_dw, layer.b_dw, stride=layer.stride, padding=layer.padding)
    y = activate_ref(y, layer.activation)
    return activate_ref(pointwise_conv2d_ref(y, layer.w_pw, layer.b_pw), layer.activation)


def dsc_block_f32(x: np.ndarray, layer: DscLayer) -> np.ndarray:
    """Float32 block (each stage float32 in, float32 out). Arguments and errors as :func:`dsc_block_ref`."""
    _layer(layer, DscLayer)
    y = depthwise_conv2d_f32(x, layer.w_dw, layer.b_dw, stride=layer.stride, padding=layer.padding)
    y = activate_f32(y, layer.activation)
    return activate_f32(pointwise_conv2d_f32(y, layer.w_pw, layer.b_pw), layer.activation)


def dsc_block_fixed(x: FixedTensor, layer: FixedDscLayer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point block, bit-exact (semantics in the module docstring).

    Returns:
        The output in ``layer.requant_pw.out`` and the summed overflow counts of both stages.

    Raises:
        BadArgument: not a FixedDscLayer / FixedTensor, bad stride/padding. ShapeError: as the ref.
    """
    _layer(layer, FixedDscLayer)
    y, c1 = depthwise_conv2d_fixed(x, layer.w_dw, layer.b_dw, stride=layer.stride, padding=layer.padding,
                                   requant=layer.requant_dw)
    y, a1 = activate_fixed(y, layer.activation, requant=layer.requant_dw)
    y, c2 = pointwise_conv2d_fixed(y, layer.w_pw, layer.b_pw, requant=layer.requant_pw)
    y, a2 = activate_fixed(y, layer.activation, requant=layer.requant_pw)
    return y, c1 + a1 + c2 + a2
