"""Layer norm over channels (fpgasim.ops.layernorm) against its float64 definition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import quantize
from fpgasim.ops.layernorm import layernorm_f32, layernorm_fixed, layernorm_ref
from tests.ops.test_elementwise import assert_within_rounding, fmt, model_quantize, rq, small_formats
from tests.strategies.elementwise import nchw_shapes
from tests.strategies.numeric import fixed_tensors, requantizers


def _by_hand(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """One pixel at a time, with Python floats: mean, biased variance, normalise, scale, shift."""
    out = np.empty_like(x)
    n, c, h, w = x.shape
    for i in range(n):
        for r in range(h):
            for k in range(w):
                v = [float(x[i, j, r, k]) for j in range(c)]
                mean = sum(v) / c
                var = sum((a - mean) ** 2 for a in v) / c
                for j in range(c):
                    out[i, j, r, k] = (v[j] - mean) / (var + eps) ** 0.5 * gamma[j] + beta[j]
    return out


@given(nchw_shapes(max_side=3), st.data())
def test_reference_is_the_per_pixel_definition(shape, data) -> None:
    values = st.floats(-100, 100, allow_nan=False)
    x = np.array(data.draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))).reshape(shape)
    gamma = np.array(data.draw(st.lists(values, min_size=shape[1], max_size=shape[1])))
    beta = np.array(data.draw(st.lists(values, min_size=shape[1], max_size=shape[1])))
    eps = data.draw(st.sampled_from([1e-6, 1e-5, 0.5]))
    want = _by_hand(x, gamma, beta, eps)
    scale = np.abs(gamma).max() * np.sqrt(shape[1]) + np.abs(beta).max() + 1
    np.testing.assert_allclose(layernorm_ref(x, gamma, beta, eps), want, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(layernorm_f32(x, gamma, beta, eps), want, rtol=0, atol=2e-3 * scale)


@given(nchw_shapes(max_side=3), st.data())
def test_fixed_is_the_reference_rounded_once(shape, data) -> None:
    """Derived bound: the fixed form is the float64 reference of the exact dequantised operands,
    rounded once, so its stored integers are the Python model of that one quantisation and
    |fixed − ref| ≤ res/2 (half modes) or < res (truncate) wherever the output format holds it."""
    f = data.draw(small_formats)
    x = data.draw(fixed_tensors(f, shape))
    gamma = data.draw(fixed_tensors(f, (shape[1],)))
    beta = data.draw(fixed_tensors(f, (shape[1],)))
    r = data.draw(requantizers(out=small_formats))
    got, counts = layernorm_fixed(x, gamma, beta, requant=r, eps=1e-5)
    ref = layernorm_ref(x.to_float(), gamma.to_float(), beta.to_float(), 1e-5)
    ints, want = model_quantize(ref, r)
    assert got.fmt == r.out and got.values.ravel().tolist() == ints and counts == want
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    assert_within_rounding(got.to_float()[inside], ref[inside], r, np.zeros(int(inside.sum())))


def test_each_pixel_is_normalised_on_its_own() -> None:
    """Zero mean and unit variance per pixel with γ = 1, β = 0: the statistics are not shared
    across pixels (a pixel scaled by 1000 gives the same output)."""
    x = np.arange(24, dtype=np.float64).reshape(1, 4, 2, 3) ** 1.5
    x[..., 0, 0] *= 1000
    y = layernorm_ref(x, np.ones(4), np.zeros(4), 1e-12)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose((y ** 2).mean(axis=1), 1, atol=1e-9)
    np.testing.assert_allclose(y[..., 0, 0], layernorm_ref(x / 1000, np.ones(4), np.zeros(4), 1e-12)[..., 0, 0],
                               atol=1e-9)


def test_bad_input_is_refused() -> None:
    x = np.zeros((1, 3, 2, 2))
    with pytest.raises(ShapeError, match=r"gamma has shape \(2,\): expected \(3,\)"):
        layernorm_ref(x, np.ones(2), np.zeros(3))
    with pytest.raises(ShapeError, match="expected \\(N, C, H, W\\)"):
        layernorm_ref(np.zeros((3, 2)), np.ones(2), np.zeros(2))
    with pytest.raises(BadArgument, match="eps=0: expected a number > 0"):
        layernorm_ref(x, np.ones(3), np.zeros(3), eps=0)
    q = quantize(x, fmt(8, 4), rounding="half_even", overflow="saturate")[0]
    with pytest.raises(BadArgument, match="gamma=ndarray: expected a FixedTensor"):
        layernorm_fixed(q, np.ones(3), q, requant=rq(fmt(8, 4)))  # type: ignore[arg-type]
