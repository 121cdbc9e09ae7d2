"""Normalisations over the channel axis: layer norm (ConvNeXt and the transformers) and L2
normalisation (Swin V2's cosine attention), each in float64 (reference), float32 and fixed point.

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

``l2norm(x)[n, g·m + j, h, w] = x[n, g·m + j, h, w] / max(‖x[n, g·m : (g+1)·m, h, w]‖₂, eps)``:
the C channels of each pixel cut into ``groups`` equal consecutive runs of m = C/groups (one per
attention head), each divided by its Euclidean norm, at least ``eps`` (PyTorch's
``F.normalize(x, dim=channels)`` per run; an all-zero run stays zero). No parameters; |output| ≤ 1.

Fixed point (:func:`l2norm_fixed`): the sum of squares S of a run's stored integers is exact in
int64 (formats whose S could reach 2**63 are refused); the norm ``sqrt(S)·2^−f``, its maximum with
eps and the division are float64, then one quantisation to ``requant.out``. Derived bound: float64
adds at most 3 unit roundoffs u = 2^−53 (S → float, sqrt, division) to a value of magnitude ≤ 1,
so |fixed − exact| ≤ res/2 + 3u (half_up/half_even) or < res + 3u (truncate) wherever the output
format holds the value (±1 only when one channel holds a whole run's norm).
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, quantize
from fpgasim.ops._conv_check import as_real_array
from fpgasim.ops.elementwise import channel_groups

__all__ = ["layernorm_ref", "layernorm_f32", "layernorm_fixed", "DEFAULT_EPS", "l2norm_ref", "l2norm_f32",
           "l2norm_fixed", "DEFAULT_L2NORM_EPS"]

#: ONNX's and PyTorch's default epsilon.
DEFAULT_EPS = 1e-5
#: PyTorch's ``F.normalize`` default epsilon (the smallest norm a run is divided by).
DEFAULT_L2NORM_EPS = 1e-12


def _four_d(x: np.ndarray) -> np.ndarray:
    if x.ndim != 4 or 0 in x.shape:
        raise ShapeError(f"x has shape {x.shape}: expected (N, C, H, W) with every dimension >= 1")
    return x


def _checked(x: np.ndarray, gamma: object, beta: object, eps: object, dtype: type) -> tuple[np.ndarray, ...]:
    channels = _four_d(x).shape[1]
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


# --- L2 normalisation -------------------------------------------------------------------------

def _l2_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not 0 < eps < np.inf:
        raise BadArgument(f"eps={eps!r}: expected a finite number > 0")
    return float(eps)


def _l2norm(x: np.ndarray, groups: int, eps: object) -> np.ndarray:
    grouped = channel_groups(_four_d(x), groups)
    eps = x.dtype.type(_l2_eps(eps))
    norm = np.sqrt((grouped * grouped).sum(axis=2, keepdims=True))
    return (grouped / np.maximum(norm, eps)).reshape(x.shape)


def l2norm_ref(x: np.ndarray, groups: int = 1, eps: float = DEFAULT_L2NORM_EPS) -> np.ndarray:
    """Float64 L2 normalisation of each of ``groups`` equal runs of an (N, C, H, W) array's
    channels, per pixel: ``x / max(‖run‖₂, eps)`` (module docstring).

    Raises:
        BadArgument: non-numeric ``x``, ``groups`` not a positive divisor of C, eps not a finite
            number > 0. ShapeError: ``x`` not 4-D.
    """
    return _l2norm(as_real_array("x", x, np.float64), groups, eps)


def l2norm_f32(x: np.ndarray, groups: int = 1, eps: float = DEFAULT_L2NORM_EPS) -> np.ndarray:
    """Float32 L2 normalisation, computed in float32; errors as :func:`l2norm_ref`."""
    return _l2norm(as_real_array("x", x, np.float32), groups, eps)


def l2norm_fixed(x: FixedTensor, *, requant: Requantizer, groups: int = 1,
                 eps: float = DEFAULT_L2NORM_EPS) -> tuple[FixedTensor, OverflowCounts]:
    """L2 normalisation of ``x`` per run of channels: exact int64 sum of squares, float64 norm and
    division, one quantisation to ``requant.out`` (its rounding and overflow; module docstring).

    Returns:
        The (N, C, H, W) tensor in ``requant.out`` and the overflow counts (output only; the
        accumulator is not used).

    Raises:
        BadArgument: ``x`` not a FixedTensor, ``requant`` not a Requantizer, a format whose sum of
            squares over a run could reach 2**63; as :func:`l2norm_ref`.
    """
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    grouped = channel_groups(_four_d(x.values.astype(np.int64)), groups)
    eps = _l2_eps(eps)
    run = grouped.shape[2]
    reach = max(-x.fmt.min_int, x.fmt.max_int) ** 2 * run
    if reach >= 1 << 63:
        raise BadArgument(f"x {x.fmt} in runs of {run} channels (groups={groups}): the sum of squares may reach "
                          f"{reach}, expected below 2**63 (int64)")
    scale = 2.0 ** -x.fmt.frac_bits
    norm = np.sqrt((grouped * grouped).sum(axis=2, keepdims=True).astype(np.float64)) * scale
    out = (grouped.astype(np.float64) * scale / np.maximum(norm, eps)).reshape(x.shape)
    return quantize(out, requant.out, rounding=requant.rounding, overflow=requant.overflow)
