"""DSC block == depthwise → act → pointwise → act composed by hand (bit-exact in fixed point)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import Accumulator, FixedFormat, Overflow, Requantizer, Rounding, quantize
from fpgasim.ops.activations import Activation, relu_fixed, relu_ref
from fpgasim.ops.conv import depthwise_conv2d_fixed, depthwise_conv2d_ref, pointwise_conv2d_fixed, pointwise_conv2d_ref
from fpgasim.ops.dsc import DscLayer, FixedDscLayer, dsc_block_f32, dsc_block_fixed, dsc_block_ref
from fpgasim.ops.elementwise import hardswish_fixed, sigmoid_fixed
from tests.strategies.numeric import overflows, roundings


def fmt(w, i):
    return FixedFormat(total_bits=w, int_bits=i, signed=True)


def q(a, f):
    return quantize(a, f, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE)[0]


def make(rng, c, m, k, stride, act):
    return DscLayer(w_dw=rng.standard_normal((c, 1, k, k)) * 0.5, b_dw=rng.standard_normal(c) * 0.1,
                    w_pw=rng.standard_normal((m, c, 1, 1)) * 0.5, b_pw=rng.standard_normal(m) * 0.1,
                    stride=stride, padding=k // 2, activation=act)


cases = st.tuples(st.integers(0, 2**31), st.integers(1, 3), st.integers(1, 4), st.sampled_from([1, 3]),
                  st.sampled_from([1, 2]))


@given(cases)
def test_float_paths_equal_hand_composition(case) -> None:
    seed, c, m, k, stride = case
    rng = np.random.default_rng(seed)
    layer = make(rng, c, m, k, stride, Activation.RELU)
    x = rng.standard_normal((2, c, 5, 6))
    hand = depthwise_conv2d_ref(x, layer.w_dw, layer.b_dw, stride=stride, padding=k // 2)
    hand = relu_ref(pointwise_conv2d_ref(relu_ref(hand), layer.w_pw, layer.b_pw))
    assert np.array_equal(dsc_block_ref(x, layer), hand)
    np.testing.assert_allclose(dsc_block_f32(x, layer), hand, rtol=1e-4, atol=1e-5)
    assert np.all(hand >= 0)


@given(cases, roundings, overflows, st.sampled_from([8, 16]))
def test_fixed_equals_hand_composition_bit_exact(case, rounding, overflow, bits) -> None:
    seed, c, m, k, stride = case
    rng = np.random.default_rng(seed)
    layer = make(rng, c, m, k, stride, Activation.RELU)
    data_fmt, w_fmt = fmt(bits, 3), fmt(bits, 2)
    acc = Accumulator(bits=2 * bits + 8, overflow=Overflow.WRAP)
    rq_dw = Requantizer(out=data_fmt, rounding=rounding, overflow=overflow, accumulator=acc)
    rq_pw = Requantizer(out=fmt(bits, 4), rounding=rounding, overflow=overflow, accumulator=acc)
    fl = FixedDscLayer(w_dw=q(layer.w_dw, w_fmt), b_dw=q(layer.b_dw, data_fmt), w_pw=q(layer.w_pw, w_fmt),
                       b_pw=q(layer.b_pw, data_fmt), stride=stride, padding=k // 2, activation="relu",
                       requant_dw=rq_dw, requant_pw=rq_pw)
    x = q(rng.standard_normal((1, c, 5, 6)) * 2, data_fmt)
    got, counts = dsc_block_fixed(x, fl)
    y, c1 = depthwise_conv2d_fixed(x, fl.w_dw, fl.b_dw, stride=stride, padding=k // 2, requant=rq_dw)
    y, c2 = pointwise_conv2d_fixed(relu_fixed(y)[0], fl.w_pw, fl.b_pw, requant=rq_pw)
    hand = relu_fixed(y)[0]
    assert got.fmt == rq_pw.out and np.array_equal(got.values, hand.values)
    assert counts == c1 + c2 and np.all(got.values >= 0)


@pytest.mark.parametrize("act_fixed", [sigmoid_fixed, hardswish_fixed], ids=["sigmoid", "hardswish"])
def test_float_activation_uses_each_stage_requantizer(act_fixed) -> None:
    rng = np.random.default_rng(3)
    layer = make(rng, 2, 3, 3, 1, act_fixed.__name__.removesuffix("_fixed"))
    acc = Accumulator(bits=40, overflow=Overflow.WRAP)
    rq_dw = Requantizer(out=fmt(8, 3), rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE, accumulator=acc)
    rq_pw = Requantizer(out=fmt(6, 1), rounding=Rounding.TRUNCATE, overflow=Overflow.SATURATE, accumulator=acc)
    fl = FixedDscLayer(w_dw=q(layer.w_dw, fmt(8, 2)), b_dw=None, w_pw=q(layer.w_pw, fmt(8, 2)), b_pw=None,
                       stride=1, padding=1, activation=layer.activation, requant_dw=rq_dw, requant_pw=rq_pw)
    x = q(rng.standard_normal((1, 2, 4, 4)) * 2, fmt(8, 3))
    got, counts = dsc_block_fixed(x, fl)
    y, c1 = depthwise_conv2d_fixed(x, fl.w_dw, None, stride=1, padding=1, requant=rq_dw)
    y, a1 = act_fixed(y, requant=rq_dw)
    y, c2 = pointwise_conv2d_fixed(y, fl.w_pw, None, requant=rq_pw)
    hand, a2 = act_fixed(y, requant=rq_pw)
    assert got.fmt == rq_pw.out and np.array_equal(got.values, hand.values) and counts == c1 + a1 + c2 + a2


def test_bad_arguments() -> None:
    with pytest.raises(BadArgument, match="activation='gelu' is not one of: none, relu, relu6"):
        DscLayer(w_dw=np.ones((1, 1, 1, 1)), b_dw=None, w_pw=np.ones((1, 1, 1, 1)), b_pw=None, stride=1,
                 padding=0, activation="gelu")
    with pytest.raises(BadArgument, match="layer is dict: expected a DscLayer"):
        dsc_block_ref(np.ones((1, 1, 2, 2)), {})
    with pytest.raises(BadArgument, match="requant_dw=None"):
        f = fmt(8, 2)
        FixedDscLayer(w_dw=q(np.ones((1, 1, 1, 1)), f), b_dw=None, w_pw=q(np.ones((1, 1, 1, 1)), f), b_pw=None,
                      stride=1, padding=0, activation="relu", requant_dw=None, requant_pw=None)
