"""Batch normalisation (inference form) and its folding into the preceding conv/linear layer.

``BN(y) = gamma · (y − mean) / sqrt(var + eps) + beta`` per channel. Folding moves it into the
layer's weights and bias: with ``s = gamma / sqrt(var + eps)``, ``w' = w · s`` (per output
channel, i.e. along axis 0 of w) and ``b' = (b − mean) · s + beta``, so that
``layer(x; w', b') == BN(layer(x; w, b))`` up to float rounding. All float64.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.ops._conv_check import as_real_array

__all__ = ["fold_batchnorm", "batchnorm_ref"]


def _stats(gamma, beta, mean, var, eps, channels: int) -> tuple[np.ndarray, ...]:
    arrays = []
    for name, value in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)):
        arr = as_real_array(name, value, np.float64)
        if arr.shape != (channels,):
            raise ShapeError(f"{name} has shape {arr.shape}: expected ({channels},), one value per channel")
        if not np.all(np.isfinite(arr)):
            raise BadArgument(f"{name} contains NaN or infinity: expected finite values")
        arrays.append(arr)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating, np.integer)) or not eps >= 0:
        raise BadArgument(f"eps={eps!r}: expected a number >= 0")
    if np.any(arrays[3] < 0):
        raise BadArgument(f"var has negative entries (min {arrays[3].min()}): expected var >= 0")
    if np.any(arrays[3] + eps <= 0):
        raise BadArgument("var + eps is 0 for some channel: expected var + eps > 0")
    return tuple(arrays)


def fold_batchnorm(w: np.ndarray, b: np.ndarray | None, gamma: np.ndarray, beta: np.ndarray,
                   mean: np.ndarray, var: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Fold an inference BatchNorm into the weights and bias of the layer before it.

    Args:
        w: weights with the output channel on axis 0, e.g. (M, C/groups, KH, KW) or (out, in).
        b: (M,) bias, or None for a layer without bias (treated as zeros).
        gamma, beta, mean, var: (M,) BN scale, shift, running mean and running variance.
        eps: the BN epsilon (≥ 0; var + eps must be > 0).

    Returns:
        ``(w_folded, b_folded)`` in float64, same shapes as ``w`` and (M,).

    Raises:
        ShapeError: a parameter whose length is not M. BadArgument: negative var, bad eps, NaN.
    """
    w = as_real_array("w", w, np.float64)
    if w.ndim < 1 or w.shape[0] < 1:
        raise ShapeError(f"w has shape {w.shape}: expected the output channel on axis 0")
    m = w.shape[0]
    gamma, beta, mean, var = _stats(gamma, beta, mean, var, eps, m)
    bias = np.zeros(m) if b is None else as_real_array("b", b, np.float64)
    if bias.shape != (m,):
        raise ShapeError(f"b has shape {bias.shape}: expected ({m},), one value per output channel")
    scale = gamma / np.sqrt(var + eps)
    return w * scale.reshape((m,) + (1,) * (w.ndim - 1)), (bias - mean) * scale + beta


def batchnorm_ref(y: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                  var: np.ndarray, eps: float) -> np.ndarray:
    """Float64 inference BatchNorm of an (N, C, ...) tensor, channel on axis 1.

    Raises:
        ShapeError: y not at least 2-D or parameters not (C,). BadArgument: as :func:`fold_batchnorm`.
    """
    y = as_real_array("y", y, np.float64)
    if y.ndim < 2:
        raise ShapeError(f"y has shape {y.shape}: expected (N, C, ...)")
    c = y.shape[1]
    gamma, beta, mean, var = _stats(gamma, beta, mean, var, eps, c)
    shape = (1, c) + (1,) * (y.ndim - 2)
    return (y - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * gamma.reshape(shape) + beta.reshape(shape)
