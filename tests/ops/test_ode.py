"""Neural-ODE block: closed forms (float64), step-by-step replays (fixed, bit-exact), derived error bounds."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import (
    Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, finish_accumulation,
    fit_range, quantize,
)
from fpgasim.ops.conv import conv2d_fixed
from fpgasim.ops.dsc import DscLayer
from fpgasim.ops.ode import (
    ConvLayer, FixedConvLayer, Solver, ode_block_f32, ode_block_fixed, ode_block_ref, ode_f_fixed, ode_step_fixed,
)
from fpgasim.ops.elementwise import sigmoid_fixed
from tests.strategies.numeric import roundings

STATE = FixedFormat(total_bits=16, int_bits=4, signed=True)  # 12 fraction bits
WFMT = FixedFormat(total_bits=8, int_bits=2, signed=True)  # 6 fraction bits
KFMT = FixedFormat(total_bits=32, int_bits=14, signed=True)  # 18 = 12 + 6 fraction bits: f exact
ACC = Accumulator(bits=62, overflow=Overflow.WRAP)


def linear_layer(a: float, c: int) -> ConvLayer:
    """f(z) = a·z as a 1×1 depthwise conv, no activation."""
    return ConvLayer(w=np.full((c, 1, 1, 1), a), bias=None, stride=1, padding=0, groups=c, activation="none")


def fixed_linear_layer(a_int: int, c: int, rounding=Rounding.HALF_EVEN, out=KFMT) -> FixedConvLayer:
    rq = Requantizer(out=out, rounding=rounding, overflow=Overflow.SATURATE, accumulator=ACC)
    return FixedConvLayer(w=FixedTensor(np.full((c, 1, 1, 1), a_int, np.int8), WFMT), bias=None, stride=1,
                          padding=0, groups=c, activation="none", requant=rq)


def update_rq(rounding) -> Requantizer:
    return Requantizer(out=STATE, rounding=rounding, overflow=Overflow.SATURATE, accumulator=ACC)


def rk4_factor(x: float) -> float:
    return 1 + x + x**2 / 2 + x**3 / 6 + x**4 / 24


# --- float64 closed forms ---------------------------------------------------------------------

@given(st.floats(-2, 2), st.sampled_from([0.5, 0.1, 0.25, 0.03]), st.integers(1, 12), st.integers(0, 2**31))
def test_linear_f_closed_forms(a, h, n, seed) -> None:
    z0 = np.random.default_rng(seed).standard_normal((2, 3, 2, 2))
    layers = [linear_layer(a, 3)]
    np.testing.assert_allclose(ode_block_ref(z0, layers, solver=Solver.EULER, steps=n, h=h), (1 + a * h) ** n * z0,
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ode_block_ref(z0, layers, solver="rk4", steps=n, h=h), rk4_factor(a * h) ** n * z0,
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ode_block_f32(z0, layers, solver="rk4", steps=n, h=h), rk4_factor(a * h) ** n * z0,
                               rtol=1e-5 * n, atol=1e-5 * n)


def test_n_steps_equal_n_single_steps_nonlinear() -> None:
    rng = np.random.default_rng(5)
    layers = [
        ConvLayer(w=rng.standard_normal((3, 3, 3, 3)) * 0.3, bias=rng.standard_normal(3) * 0.1, stride=1, padding=1,
                  groups=1, activation="relu"),
        DscLayer(w_dw=rng.standard_normal((3, 1, 3, 3)) * 0.3, b_dw=None, w_pw=rng.standard_normal((3, 3, 1, 1)),
                 b_pw=None, stride=1, padding=1, activation="relu"),
    ]
    z0 = rng.standard_normal((1, 3, 4, 4))
    for solver in Solver:
        z = z0
        for _ in range(3):
            z = ode_block_ref(z, layers, solver=solver, steps=1, h=0.2)
        assert np.array_equal(ode_block_ref(z0, layers, solver=solver, steps=3, h=0.2), z)
        np.testing.assert_allclose(ode_block_f32(z0, layers, solver=solver, steps=3, h=0.2), z, rtol=1e-4, atol=1e-5)


# --- fixed point: replay and bounds ---------------------------------------------------------------

def _rand_state(seed: int) -> FixedTensor:
    return quantize(np.random.default_rng(seed).uniform(-3, 3, (1, 2, 3, 3)), STATE, rounding="half_even",
                    overflow="saturate")[0]


@given(st.integers(-64, 63), st.sampled_from([0.5, 0.25, 0.125, 0.09375]), st.integers(1, 6),
       st.integers(0, 2**31), roundings)
def test_fixed_euler_equals_replay(a_int, h, n, seed, rounding) -> None:
    z0 = _rand_state(seed)
    layer = fixed_linear_layer(a_int, 2, rounding, out=FixedFormat(total_bits=12, int_bits=4, signed=True))
    got, counts = ode_block_fixed(z0, [layer], solver="euler", steps=n, h=h, update=update_rq(rounding))
    # replay: conv2d_fixed for f, then z·2^s + h_int·k summed exactly, finish_accumulation once
    h_frac = Fraction(h).denominator.bit_length() - 1
    h_int = int(h * 2**h_frac)
    z, total = z0, OverflowCounts()
    for _ in range(n):
        k, ck = conv2d_fixed(z, layer.w, None, stride=1, padding=0, groups=2, requant=layer.requant)
        frac = max(STATE.frac_bits, h_frac + k.fmt.frac_bits)
        sums = (z.values.astype(np.int64) * 2 ** (frac - STATE.frac_bits)
                + h_int * k.values.astype(np.int64) * 2 ** (frac - h_frac - k.fmt.frac_bits))
        z, cu = finish_accumulation(sums, frac, update_rq(rounding))
        total += ck + cu
    assert np.array_equal(got.values, z.values) and counts == total


def _ref_round(x: Fraction, rounding: Rounding) -> int:
    if rounding is Rounding.TRUNCATE:
        return x.__floor__()
    if rounding is Rounding.HALF_UP:
        return (x + Fraction(1, 2)).__floor__()
    return round(x)


@given(st.integers(-64, 63), st.sampled_from([0.5, 0.25, 0.1875]), st.integers(1, 3), st.integers(0, 2**31),
       roundings)
def test_fixed_rk4_equals_exact_rational_replay(a_int, h, n, seed, rounding) -> None:
    z0 = _rand_state(seed)
    kfmt = FixedFormat(total_bits=14, int_bits=5, signed=True)  # f rounds: 9 fraction bits
    layer = fixed_linear_layer(a_int, 2, rounding, out=kfmt)
    got, _ = ode_block_fixed(z0, [layer], solver="rk4", steps=n, h=h, update=update_rq(rounding))

    def f(z_ints):  # stored ints of k = Q(a·z) in kfmt
        exact = [Fraction(int(v) * a_int, 2 ** (STATE.frac_bits + WFMT.frac_bits)) for v in z_ints]
        ks = [_ref_round(e * 2**kfmt.frac_bits, rounding) for e in exact]
        return fit_range(np.array(ks), kfmt.min_int, kfmt.max_int, 14, Overflow.SATURATE)[0].tolist()

    def upd(z_ints, k_ints, c):  # Q(z + c·k) in the state format
        vals = [_ref_round((Fraction(zv, 2**STATE.frac_bits) + c * Fraction(kv, 2**kfmt.frac_bits))
                           * 2**STATE.frac_bits, rounding) for zv, kv in zip(z_ints, k_ints)]
        return fit_range(np.array(vals), STATE.min_int, STATE.max_int, 16, Overflow.SATURATE)[0].tolist()

    hf = Fraction(h)
    z = z0.values.ravel().tolist()
    for _ in range(n):
        k1 = f(z)
        k2 = f(upd(z, k1, hf / 2))
        k3 = f(upd(z, k2, hf / 2))
        k4 = f(upd(z, k3, hf))
        z = upd(z, [p + 2 * q + 2 * r + s for p, q, r, s in zip(k1, k2, k3, k4)], hf / 6)
    assert got.values.ravel().tolist() == z


@given(st.integers(-64, -1), st.sampled_from([0.5, 0.25, 0.125]), st.integers(1, 10), st.integers(0, 2**31),
       roundings, st.sampled_from(list(Solver)))
def test_fixed_within_derived_bound_of_float64(a_int, h, n, seed, rounding, solver) -> None:
    """f exact (KFMT holds a·z exactly), so only the state updates round, each by at most u.

    Euler: e' = (1+ah)·e + d.  RK4: the three stage roundings propagate through f into the final
    update: |e'| <= |R(ah)|·|e| + u·(1 + |x|/6·(2 + 2(1 + |x|/2) + (1 + |x|(1 + |x|/2)))), x = ah.
    """
    z0 = _rand_state(seed)
    a = a_int / 2**WFMT.frac_bits
    got, counts = ode_block_fixed(z0, [fixed_linear_layer(a_int, 2)], solver=solver, steps=n, h=h,
                                  update=update_rq(rounding))
    ref = ode_block_ref(z0.to_float(), [linear_layer(a, 2)], solver=solver, steps=n, h=h)
    u = STATE.resolution * (1.0 if rounding is Rounding.TRUNCATE else 0.5)
    x = abs(a * h)
    if solver is Solver.EULER:
        growth, per_step = abs(1 + a * h), u
    else:
        growth = abs(rk4_factor(a * h))
        per_step = u * (1 + x / 6 * (2 + 2 * (1 + x / 2) + (1 + x * (1 + x / 2))))
    bound = sum(per_step * growth**i for i in range(n)) + 1e-12
    assert counts.total == 0
    assert np.max(np.abs(got.to_float() - ref)) <= bound


def test_one_step_equals_block_of_one() -> None:
    z0 = _rand_state(1)
    layers, rq = [fixed_linear_layer(-20, 2)], update_rq(Rounding.HALF_UP)
    z, _ = ode_step_fixed(z0, layers, solver="rk4", h=0.25, update=rq)
    z, _ = ode_step_fixed(z, layers, solver="rk4", h=0.25, update=rq)
    assert np.array_equal(ode_block_fixed(z0, layers, solver="rk4", steps=2, h=0.25, update=rq)[0].values, z.values)


# --- errors ----------------------------------------------------------------------------------------

def test_float_activation_is_quantised_with_the_layer_requantizer() -> None:
    rq = Requantizer(out=FixedFormat(total_bits=8, int_bits=0, signed=True), rounding=Rounding.HALF_UP,
                     overflow=Overflow.SATURATE, accumulator=ACC)  # -0.5..0.496: sigmoid(x >= 0) saturates
    w, _ = quantize(np.full((2, 2, 1, 1), 1.5), WFMT, rounding="half_even", overflow="saturate")
    layer = FixedConvLayer(w=w, bias=None, stride=1, padding=0, groups=1, activation="sigmoid", requant=rq)
    z, _ = quantize(np.linspace(-2, 2, 8).reshape(1, 2, 2, 2), STATE, rounding="half_even", overflow="saturate")
    got, counts = ode_f_fixed(z, [layer])
    y, c = conv2d_fixed(z, w, None, stride=1, padding=0, groups=1, requant=rq)
    want, a = sigmoid_fixed(y, requant=rq)
    assert np.array_equal(got.values, want.values) and counts == c + a and a.output > 0


def test_bad_arguments() -> None:
    z = np.zeros((1, 2, 2, 2))
    layers = [linear_layer(0.5, 2)]
    with pytest.raises(BadArgument, match="solver='midpoint' is not one of: euler, rk4"):
        ode_block_ref(z, layers, solver="midpoint", steps=1, h=0.1)
    with pytest.raises(BadArgument, match="steps=0: expected an integer >= 1"):
        ode_block_ref(z, layers, solver="euler", steps=0, h=0.1)
    with pytest.raises(BadArgument, match="h=0: expected a finite step size > 0"):
        ode_block_f32(z, layers, solver="euler", steps=1, h=0)
    with pytest.raises(BadArgument, match="layers=\\[\\]: expected a non-empty list"):
        ode_block_ref(z, [], solver="euler", steps=1, h=0.1)
    wide = ConvLayer(w=np.ones((3, 2, 1, 1)), bias=None, stride=1, padding=0, groups=1, activation="relu")
    with pytest.raises(ShapeError, match=r"f\(z\) has shape \(1, 3, 2, 2\) but the state z has \(1, 2, 2, 2\)"):
        ode_block_ref(z, [wide], solver="euler", steps=1, h=0.1)
    z0 = _rand_state(0)
    with pytest.raises(BadArgument, match="h=0.1 is not a multiple of 2\\*\\*-32"):
        ode_block_fixed(z0, [fixed_linear_layer(3, 2)], solver="euler", steps=1, h=0.1, update=update_rq("truncate"))
    other = Requantizer(out=FixedFormat(total_bits=16, int_bits=5, signed=True), rounding="truncate",
                        overflow="wrap", accumulator=ACC)
    with pytest.raises(BadArgument, match="state z must be a FixedTensor in update.out=ap_fixed<16,5>"):
        ode_block_fixed(z0, [fixed_linear_layer(3, 2)], solver="euler", steps=1, h=0.5, update=other)
    with pytest.raises(BadArgument, match="layers\\[0\\] is ConvLayer: expected FixedConvLayer or FixedDscLayer"):
        ode_f_fixed(z0, layers)
