"""BN folding: conv(x, folded) == BN(conv(x)), linear likewise, and a hand-computed channel."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.ops.batchnorm import batchnorm_ref, fold_batchnorm
from fpgasim.ops.conv import conv2d_ref
from fpgasim.ops.linear import linear_ref


def _bn_params(rng, m):
    return rng.uniform(0.5, 2, m), rng.standard_normal(m), rng.standard_normal(m), rng.uniform(0.1, 3, m)


def test_hand_computed() -> None:
    w, b = np.array([[2.0]]), np.array([1.0])
    wf, bf = fold_batchnorm(w, b, gamma=np.array([3.0]), beta=np.array([0.5]), mean=np.array([2.0]),
                            var=np.array([3.0]), eps=1.0)
    # scale = 3 / sqrt(4) = 1.5; w' = 3; b' = (1 - 2) * 1.5 + 0.5 = -1
    assert wf.tolist() == [[3.0]] and bf.tolist() == [-1.0]


@given(st.integers(0, 2**31), st.integers(1, 3), st.sampled_from([1, 2]), st.booleans())
def test_folded_conv_equals_bn_of_conv(seed, k, groups, with_bias) -> None:
    rng = np.random.default_rng(seed)
    c, m = 2 * groups, 2 * groups
    x = rng.standard_normal((2, c, 5, 5))
    w = rng.standard_normal((m, c // groups, k, k))
    b = rng.standard_normal(m) if with_bias else None
    gamma, beta, mean, var = _bn_params(rng, m)
    wf, bf = fold_batchnorm(w, b, gamma, beta, mean, var, 1e-5)
    folded = conv2d_ref(x, wf, bf, stride=1, padding=k // 2, groups=groups)
    unfolded = batchnorm_ref(conv2d_ref(x, w, b, stride=1, padding=k // 2, groups=groups), gamma, beta, mean, var, 1e-5)
    np.testing.assert_allclose(folded, unfolded, rtol=1e-10, atol=1e-10)


def test_folded_linear_equals_bn_of_linear() -> None:
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 6)), rng.standard_normal((3, 6)), rng.standard_normal(3)
    gamma, beta, mean, var = _bn_params(rng, 3)
    wf, bf = fold_batchnorm(w, b, gamma, beta, mean, var, 1e-3)
    np.testing.assert_allclose(linear_ref(x, wf, bf), batchnorm_ref(linear_ref(x, w, b), gamma, beta, mean, var, 1e-3),
                               rtol=1e-12, atol=1e-12)


def test_bad_arguments() -> None:
    w, ones = np.ones((2, 1, 1, 1)), np.ones(2)
    with pytest.raises(ShapeError, match=r"gamma has shape \(3,\): expected \(2,\)"):
        fold_batchnorm(w, None, np.ones(3), ones, ones, ones, 1e-5)
    with pytest.raises(BadArgument, match="var has negative entries"):
        fold_batchnorm(w, None, ones, ones, ones, -ones, 1e-5)
    with pytest.raises(BadArgument, match="eps=-1"):
        fold_batchnorm(w, None, ones, ones, ones, ones, -1)
    with pytest.raises(BadArgument, match="var \\+ eps is 0"):
        fold_batchnorm(w, None, ones, ones, ones, np.zeros(2), 0.0)
    with pytest.raises(ShapeError, match=r"b has shape \(3,\)"):
        fold_batchnorm(w, np.ones(3), ones, ones, ones, ones, 1e-5)
    with pytest.raises(BadArgument, match="mean contains NaN"):
        fold_batchnorm(w, None, ones, ones, np.array([np.nan, 1]), ones, 1e-5)
