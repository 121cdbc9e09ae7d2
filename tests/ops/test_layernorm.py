"""Normalisations over channels (fpgasim.ops.layernorm): layer norm and L2 normalisation against
their float64 definitions, fixed point against a Python-int model and its derived bound."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, quantize
from fpgasim.ops.layernorm import (
    l2norm_f32, l2norm_fixed, l2norm_ref, layernorm_f32, layernorm_fixed, layernorm_ref,
)
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


# --- L2 normalisation ---------------------------------------------------------------------------

U = 2.0**-53  # float64 unit roundoff


@st.composite
def grouped_shapes(draw) -> tuple[tuple[int, int, int, int], int]:
    """((N, groups·m, H, W), groups), every dimension small."""
    groups, run = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n, h, w = (draw(st.integers(1, 2)) for _ in range(3))
    return (n, groups * run, h, w), groups


def _by_runs(values: np.ndarray, groups: int, normalise) -> np.ndarray:
    """``normalise`` (one run's values → its outputs) applied to each pixel's runs of C/groups channels."""
    out = np.empty(values.shape)
    n, c, h, w = values.shape
    m = c // groups
    for i, r, k, g in itertools.product(range(n), range(h), range(w), range(groups)):
        out[i, g * m:(g + 1) * m, r, k] = normalise([values[i, j, r, k] for j in range(g * m, (g + 1) * m)])
    return out


def _l2_by_hand(x: np.ndarray, groups: int, eps: float) -> np.ndarray:
    """One pixel and one run of C/groups channels at a time, with Python floats."""
    def normalise(run: list) -> list[float]:
        run = [float(v) for v in run]
        norm = max(sum(v * v for v in run) ** 0.5, eps)
        return [v / norm for v in run]
    return _by_runs(x, groups, normalise)


def _l2_fixed_by_hand(x, groups: int, eps: float) -> np.ndarray:
    """The fixed form's real value before its one rounding, with Python ints and floats: the run's
    sum of squares S of the stored integers exactly, ``sqrt(S)·2^−f``, its maximum with eps, the division."""
    scale = 2.0**-x.fmt.frac_bits

    def normalise(run: list) -> list[float]:
        run = [int(v) for v in run]
        norm = max(math.sqrt(float(sum(v * v for v in run))) * scale, eps)
        return [v * scale / norm for v in run]
    return _by_runs(x.values.astype(object), groups, normalise)


EPSES = st.sampled_from([1e-12, 1e-3, 0.5, 4.0])


@given(grouped_shapes(), EPSES, st.data())
def test_l2norm_reference_is_the_per_run_definition(case, eps, data) -> None:
    """float64 within (m + 4)·u of the Python loop (m squares summed, a sqrt, a division, on values
    of magnitude ≤ 1); float32 the same in its own roundoff 2^−24."""
    shape, groups = case
    values = st.one_of(st.just(0.0), st.floats(-100, 100, allow_nan=False))
    x = np.array(data.draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))).reshape(shape)
    want = _l2_by_hand(x, groups, eps)
    m = shape[1] // groups
    np.testing.assert_allclose(l2norm_ref(x, groups, eps), want, rtol=0, atol=(m + 4) * U)
    np.testing.assert_allclose(l2norm_f32(x, groups, eps), want, rtol=0, atol=(m + 4) * 2.0**-24 + 2 * 2.0**-126)
    assert np.all(np.abs(l2norm_ref(x, groups, eps)) <= 1)


@given(grouped_shapes(), EPSES, st.data())
def test_l2norm_fixed_is_the_exact_sum_of_squares_rounded_once(case, eps, data) -> None:
    """Bit exact against the Python-int model (exact S, float64 norm and division, one rounding),
    and within the derived bound of the float64 reference: |fixed − exact| ≤ res/2 + 3u (half
    modes; < res + 3u truncate) and |ref − exact| ≤ (m/2 + 2)·u, so slack (m + 8)·u suffices,
    wherever the output format holds the value."""
    shape, groups = case
    f = data.draw(small_formats)
    x = data.draw(fixed_tensors(f, shape))
    r = data.draw(requantizers(out=small_formats))
    got, counts = l2norm_fixed(x, requant=r, groups=groups, eps=eps)
    ints, want = model_quantize(_l2_fixed_by_hand(x, groups, eps), r)
    assert got.fmt == r.out and got.values.ravel().tolist() == ints and counts == want
    ref = l2norm_ref(x.to_float(), groups, eps)
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    slack = np.full(int(inside.sum()), (shape[1] // groups + 8) * U)
    assert_within_rounding(got.to_float()[inside], ref[inside], r, slack)


@given(grouped_shapes(), st.integers(0, 2**32 - 1))
def test_l2norm_runs_are_normalised_on_their_own(case, seed) -> None:
    """Each run has unit norm (unless below eps) and equals the ungrouped normalisation of its own
    slice: runs and pixels never mix; a run scaled by 1000 gives the same output."""
    shape, groups = case
    x = np.random.default_rng(seed).normal(size=shape) * 10
    m = shape[1] // groups
    y = l2norm_ref(x, groups)
    runs = y.reshape(shape[0], groups, m, *shape[2:])
    np.testing.assert_allclose(np.sqrt((runs**2).sum(axis=2)), 1, rtol=0, atol=1e-12)
    for g in range(groups):
        part = slice(g * m, (g + 1) * m)
        np.testing.assert_allclose(y[:, part], l2norm_ref(x[:, part]), rtol=0, atol=1e-15)
    scaled = x.copy()
    scaled[:, :m] *= 1000
    np.testing.assert_allclose(l2norm_ref(scaled, groups), y, rtol=0, atol=1e-14)


def test_l2norm_eps_is_the_smallest_divisor() -> None:
    """(3, 4) → (0.6, 0.8); an all-zero run stays zero (no division by zero); a run whose norm is
    below eps is divided by eps; runs of one channel give the sign."""
    x = np.array([3.0, 4.0, 0.0, 0.0, 0.3, -0.4]).reshape(1, 6, 1, 1)
    want = np.array([0.6, 0.8, 0.0, 0.0, 0.3, -0.4]).reshape(1, 6, 1, 1)
    np.testing.assert_allclose(l2norm_ref(x, groups=3, eps=1.0), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(l2norm_f32(x, groups=3, eps=1.0), want, rtol=0, atol=1e-7)
    np.testing.assert_allclose(l2norm_ref(x, groups=3)[0, 4:, 0, 0], [0.6, -0.8], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(l2norm_ref(x, groups=6)[0, :, 0, 0], [1, 1, 0, 0, 1, -1])
    q = quantize(x, fmt(8, 4), rounding="half_even", overflow="saturate")[0]
    got, counts = l2norm_fixed(q, requant=rq(fmt(8, 2)), groups=3, eps=1.0)
    # ·2^−6: 0.6, 0.8 rounded; the inputs 0.3, −0.4 held as 0.3125, −0.375 (·2^−4), their norm below eps = 1
    assert got.values[0, :, 0, 0].tolist() == [38, 51, 0, 0, 20, -24] and counts.output == 0
    zeros = l2norm_fixed(FixedTensor(np.zeros((1, 4, 2, 2), np.int64), fmt(8, 4)), requant=rq(fmt(8, 2)))[0]
    assert not zeros.values.any()


def test_l2norm_bad_input_is_refused() -> None:
    x = np.ones((1, 4, 2, 2))
    with pytest.raises(BadArgument, match=r"^groups=3: expected a positive divisor of the 4 channels$"):
        l2norm_ref(x, groups=3)
    for groups in (0, True, 2.0):
        with pytest.raises(BadArgument, match=rf"^groups={groups!r}: expected a positive divisor"):
            l2norm_f32(x, groups=groups)
    for eps in (0, -1.0, float("inf"), "1e-12", True):
        with pytest.raises(BadArgument, match=rf"^eps={eps!r}: expected a finite number > 0$"):
            l2norm_ref(x, eps=eps)
    with pytest.raises(ShapeError, match=r"^x has shape \(4, 2, 2\): expected \(N, C, H, W\)"):
        l2norm_ref(np.ones((4, 2, 2)))
    with pytest.raises(BadArgument, match="x has dtype <U1: expected a real numeric array"):
        l2norm_ref(np.full((1, 1, 1, 1), "a"))
    q = quantize(x, fmt(8, 4), rounding="half_even", overflow="saturate")[0]
    with pytest.raises(BadArgument, match=r"^x=ndarray: expected a FixedTensor$"):
        l2norm_fixed(x, requant=rq(fmt(8, 4)))  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match=r"^requant=None: expected a Requantizer$"):
        l2norm_fixed(q, requant=None)  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match=r"^groups=3: expected a positive divisor of the 4 channels$"):
        l2norm_fixed(q, requant=rq(fmt(8, 4)), groups=3)
    with pytest.raises(BadArgument, match=r"^eps=0: expected a finite number > 0$"):
        l2norm_fixed(q, requant=rq(fmt(8, 4)), eps=0)
    wide = quantize(x, fmt(32, 4), rounding="half_even", overflow="saturate")[0]
    with pytest.raises(BadArgument, match=r"^x .* in runs of 2 channels \(groups=2\): the sum of squares may reach "
                                          r"9223372036854775808, expected below 2\*\*63 \(int64\)$"):
        l2norm_fixed(wide, requant=rq(fmt(16, 2)), groups=2)
    assert l2norm_fixed(wide, requant=rq(fmt(16, 2)), groups=4)[0].values.tolist() == [[[[1 << 14] * 2] * 2] * 4]
