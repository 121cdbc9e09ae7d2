"""Layer normalisation over the channel axis, as ConvNeXt and the transformers use it: float64
(reference), float32 and fixed point.

``LN(x)[n, :, h, w] = γ · (x − μ) / sqrt(σ² + eps) + β`` where μ and σ² are the mean and the
(biased) variance of ``x[n, :, h, w]`` over the C channels: one normalisation per pixel (ONNX
``LayerNormalization`` over the last axis of a channels-last tensor, which the importer reads as
the channel axis of the IR's (N, C, H, W)).

Fixed point (:func:`layernorm_fixed`): the statistics and the normalisation are computed in
float64 on the exactly dequantised input and parameters, then quantised once to ``requant.out``
with its rounding and overflow; the accumulator is not used. This models a vector unit whose
reciprocal square root is exact to the output's resolution (a Newton step after a seed table);
the error against the float64 reference is the output rounding alone unless the value is
outside the output format's range. Deterministic numpy, so a replay is bit exact.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, quantize
from fpgasim.ops._conv_check import as_real_array

__all__ = ["layernorm_ref", "layernorm_f32", "layernorm_fixed", "DEFAULT_EPS"]

#: ONNX's and PyTorch's default epsilon.
DEFAULT_EPS = 1e-5


def _checked(x: np.ndarray, gamma: object, beta: object, eps: object, dtype: type) -> tuple[np.ndarray, ...]:
    if x.ndim != 4 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W) with every dimension >= 1")
    channels = x.shape[1]
    params = []
    for name, value in (("gamma", gamma), ("beta", beta)):
        arr = as_real_array(name, value, dtype)
        if arr.shape != (channels,):
            raise ShapeError(f"{name} has shape {arr.shape}: expected ({channels},), one value per channel")
        params.append(arr.reshape(1, channels, 1, 1))
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps > 0:
        raise BadArgument(f"eps={eps!r}: expected a number > 0")
    return x, params[0], params[1], dtype(eps)


def _layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: np.floating) -> np.ndarray:
    mean = x.mean(axis=1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=1, keepdims=True)
    return centred / np.sqrt(var + eps) * gamma + beta


def layernorm_ref(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Float64 layer norm over axis 1 of an (N, C, H, W) array.

    Raises:
        BadArgument: non-numeric arrays, eps not > 0. ShapeError: ``x`` not 4-D, ``gamma`` or
            ``beta`` not (C,).
    """
    return _layernorm(*_checked(as_real_array("x", x, np.float64), gamma, beta, eps, np.float64))


def layernorm_f32(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Float32 layer norm, computed in float32; errors as :func:`layernorm_ref`."""
    return _layernorm(*_checked(as_real_array("x", x, np.float32), gamma, beta, eps, np.float32))


def layernorm_fixed(x: FixedTensor, gamma: FixedTensor, beta: FixedTensor, *, requant: Requantizer,
                    eps: float = DEFAULT_EPS) -> tuple[FixedTensor, OverflowCounts]:
    """Layer norm of the dequantised ``x`` with the dequantised γ, β in float64, quantised to
    ``requant.out`` (module docstring).

    Raises:
        BadArgument: an argument of the wrong type; as :func:`layernorm_ref`.
    """
    for name, value in (("x", x), ("gamma", gamma), ("beta", beta)):
        if not isinstance(value, FixedTensor):
            raise BadArgument(f"{name}={type(value).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    out = layernorm_ref(x.to_float(), gamma.to_float(), beta.to_float(), eps)
    return quantize(out, requant.out, rounding=requant.rounding, overflow=requant.overflow)
