"""Attention's per-head products (fpgasim.ops.attention) against an einsum definition written here
(no convolution) and against a Python-int model of the fixed-point pipeline, with derived bounds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding, finish_accumulation
from fpgasim.ops.attention import (
    attend_f32, attend_fixed, attend_ref, head_weights, scaled_accumulation, scores_f32, scores_fixed, scores_ref,
    window_merge, window_partition,
)
from tests.ops.test_elementwise import assert_within_rounding, fit, fmt, model_quantize, round_to_int, rq, small_formats
from tests.strategies.numeric import fixed_tensors, requantizers

U64 = 2.0**-53  # unit roundoff of float64 (round to nearest)
U32 = 2.0**-24  # unit roundoff of float32


# --- the definition, independent of the convolution ---------------------------------------------------

def scores_def(q: np.ndarray, k: np.ndarray, heads: int, scale: float) -> np.ndarray:
    """Channel h·L + j at (y, x): scale · Σ_c Q[h·d + c, y, x] · K[h·d + c, j], j row-major over (Hk, Wk)."""
    n, e, h, w = q.shape
    d, keys = e // heads, k.shape[2] * k.shape[3]
    s = np.einsum("ngcyx,ngcj->ngjyx", q.reshape(n, heads, d, h, w), k.reshape(n, heads, d, keys))
    return s.reshape(n, heads * keys, h, w) * scale


def attend_def(p: np.ndarray, v: np.ndarray, heads: int) -> np.ndarray:
    """Channel h·dv + e at (y, x): Σ_j P[h·L + j, y, x] · V[h·dv + e, j]."""
    n, _, h, w = p.shape
    keys = v.shape[2] * v.shape[3]
    dv = v.shape[1] // heads
    s = np.einsum("ngjyx,ngej->ngeyx", p.reshape(n, heads, keys, h, w), v.reshape(n, heads, dv, keys))
    return s.reshape(n, heads * dv, h, w)


@st.composite
def geometries(draw, *, keys: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(first operand shape, second operand shape, heads): Q (N, heads·d, H, W) with K (N, heads·d,
    Hk, Wk), or P (N, heads·Hk·Wk, H, W) with V (N, heads·dv, Hk, Wk); every side small."""
    side = st.integers(1, 3)
    n, heads, d, h, w, hk, wk = (draw(st.integers(1, 2)), draw(side), draw(side), draw(side), draw(side),
                                 draw(side), draw(side))
    second = (n, heads * d, hk, wk)
    first = (n, heads * d, h, w) if keys else (n, heads * hk * wk, h, w)
    return first, second, heads


OPS = {"scores": (True, scores_ref, scores_f32, scores_fixed), "attend": (False, attend_ref, attend_f32, attend_fixed)}
#: A transformer's 1/√d, other scales and 1 (finish_accumulation's path); the named values come
#: first because hypothesis's floats in a range favour 1.0 itself.
scales = st.one_of(st.sampled_from([1 / math.sqrt(8), 1 / math.sqrt(3), 0.1, 2.5]), st.floats(2.0**-6, 2.0**6),
                   st.just(1.0))


def _call(fn, a, b, heads, scale, **kwargs):
    """``fn(a, b, heads=…)``, with ``scale`` for the scores (attend has none)."""
    if fn.__name__.startswith("scores"):
        kwargs["scale"] = scale
    return fn(a, b, heads=heads, **kwargs)


def _random(rng: np.random.Generator, shape: tuple[int, ...], exponent: int, dtype=np.float64) -> np.ndarray:
    return (rng.standard_normal(shape) * 10.0**exponent).astype(dtype)


# --- float64 and float32 ---------------------------------------------------------------------------

@given(st.sampled_from(sorted(OPS)), st.data(), st.integers(0, 2**31), st.integers(-3, 3), st.integers(-3, 3))
def test_reference_is_the_einsum_definition(op, data, seed, ea, eb) -> None:
    """Derived bound. Both sides compute fl(Σ_{i≤m} a_i·b_i) (m = d or L terms) in float64 in some
    order: each is within γ_m·Σ|a_i·b_i| of the exact sum (γ_m = m·u/(1 − m·u), u = 2**-53, any
    summation order), then one multiplication by ``scale`` adds u·|value|. So
    |ref − def| ≤ 2·(γ_m + u·(1 + γ_m))·scale·Σ|a·b| ≤ (2m + 3)·u·scale·Σ|a·b|
    (with margin: 2m + 4)."""
    keys, ref_fn, _, _ = OPS[op]
    first, second, heads = data.draw(geometries(keys=keys))
    scale = data.draw(scales) if keys else 1.0
    rng = np.random.default_rng(seed)
    a, b = _random(rng, first, ea), _random(rng, second, eb)
    got = _call(ref_fn, a, b, heads, scale)
    want = scores_def(a, b, heads, scale) if keys else attend_def(a, b, heads)
    magnitude = scores_def(np.abs(a), np.abs(b), heads, scale) if keys else attend_def(np.abs(a), np.abs(b), heads)
    m = first[1] // heads if keys else second[2] * second[3]
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.all(np.abs(got - want) <= (2 * m + 4) * U64 * magnitude)


@given(st.sampled_from(sorted(OPS)), st.data(), st.integers(0, 2**31))
def test_reference_is_exact_on_small_integers(op, data, seed) -> None:
    """Integer operands below 2**8 and a power-of-two scale: every product, sum and the scaling are
    exact in float64, so the reference equals the definition bit for bit (the channel layout
    ``h·L + j`` / ``h·dv + e`` is checked with no tolerance to hide a permutation)."""
    keys, ref_fn, _, _ = OPS[op]
    first, second, heads = data.draw(geometries(keys=keys))
    scale = data.draw(st.sampled_from([1.0, 0.5, 0.125, 4.0])) if keys else 1.0
    rng = np.random.default_rng(seed)
    a, b = rng.integers(-255, 256, first).astype(float), rng.integers(-255, 256, second).astype(float)
    want = scores_def(a, b, heads, scale) if keys else attend_def(a, b, heads)
    assert np.array_equal(_call(ref_fn, a, b, heads, scale), want)


@given(st.sampled_from(sorted(OPS)), st.data(), st.integers(0, 2**31), st.integers(-3, 3), st.integers(-3, 3))
def test_f32_within_derived_bound_of_reference(op, data, seed, ea, eb) -> None:
    """Derived bound. For float32 operands both forms sum in float64 the same way (the same S̃);
    attend_f32 rounds S̃ once to float32: |f32 − ref| ≤ u32·|ref| (u32 = 2**-24). scores_f32 rounds
    S̃ to float32, multiplies by fl32(scale) in float32 (three roundings of relative u32 each) while
    the reference rounds S̃·scale once in float64: |f32 − ref| ≤ ((1 + u32)**3 − 1 + u64)·|S̃·scale|
    ≤ (3·u32 + 2**-40)·|ref|. A float32 subnormal result adds at most 2**-150 per rounding (3·2**-150)."""
    keys, ref_fn, f32_fn, _ = OPS[op]
    first, second, heads = data.draw(geometries(keys=keys))
    scale = data.draw(scales) if keys else 1.0
    rng = np.random.default_rng(seed)
    a, b = _random(rng, first, ea, np.float32), _random(rng, second, eb, np.float32)
    got = _call(f32_fn, a, b, heads, scale)
    ref = _call(ref_fn, a, b, heads, scale)
    relative = (3 * U32 + 2.0**-40) if keys else U32
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.all(np.abs(got.astype(np.float64) - ref) <= relative * np.abs(ref) + 3 * 2.0**-150)


# --- fixed point ---------------------------------------------------------------------------------------

def model_register_times_scale(sums: list[int], sfb: int, scale: float,
                               r: Requantizer) -> tuple[list[int], OverflowCounts]:
    """Python ints: the register (width, overflow), its value times ``scale`` in float64 (scale 1:
    the exact value), one exact rounding to ``r.out``, then the output overflow mode."""
    acc, out = r.accumulator, r.out
    ints, n_acc, n_out = [], 0, 0
    for s in sums:
        s, a = fit(s, acc.min_int, acc.max_int, acc.bits, acc.overflow)
        value = Fraction(s, 2**sfb) if scale == 1.0 else Fraction(math.ldexp(float(s), -sfb) * scale)
        q, o = fit(round_to_int(value * 2**out.frac_bits, r.rounding), out.min_int, out.max_int, out.total_bits,
                   r.overflow)
        ints.append(q)
        n_acc, n_out = n_acc + a, n_out + o
    return ints, OverflowCounts(output=n_out, accumulator=n_acc)


def model_fixed(a: FixedTensor, b: FixedTensor, heads: int, keys: bool, scale: float,
                r: Requantizer) -> tuple[list[int], OverflowCounts]:
    """Python ints, one output element at a time in (N, C, H, W) row-major order: the exact integer
    sum of head h's products (C = h·L + j: Σ_c q[h·d + c]·k[h·d + c, j]; C = h·dv + e:
    Σ_j p[h·L + j]·v[h·dv + e, j]), then :func:`model_register_times_scale`."""
    av, bv = a.values.tolist(), b.values.reshape(b.shape[0], b.shape[1], -1).tolist()
    n, _, h, w = a.shape
    keys_n = b.shape[2] * b.shape[3]
    d = a.shape[1] // heads if keys else b.shape[1] // heads
    sums = []
    for i in range(n):
        for hd in range(heads):
            for o in range(keys_n if keys else d):
                for y in range(h):
                    for x in range(w):
                        if keys:
                            sums.append(sum(av[i][hd * d + c][y][x] * bv[i][hd * d + c][o] for c in range(d)))
                        else:
                            sums.append(sum(av[i][hd * keys_n + j][y][x] * bv[i][hd * d + o][j] for j in range(keys_n)))
    return model_register_times_scale(sums, a.fmt.frac_bits + b.fmt.frac_bits, scale, r)


@st.composite
def fixed_cases(draw, *, keys: bool, acc_min_bits: int = 2, acc_max_bits: int = 40):
    first, second, heads = draw(geometries(keys=keys))
    a = draw(fixed_tensors(draw(small_formats), first))
    b = draw(fixed_tensors(draw(small_formats), second))
    r = draw(requantizers(out=small_formats, acc_min_bits=acc_min_bits, acc_max_bits=acc_max_bits))
    return a, b, heads, (draw(scales) if keys else 1.0), r


@given(st.sampled_from(sorted(OPS)), st.data())
def test_fixed_equals_python_int_model(op, data) -> None:
    """Stored integers and overflow counts equal the Python-int model, for any accumulator
    (2..40 bits, wrapping or saturating) and output format: 40 bits leave the scale-1 path's
    shift inside int64 for these ≤ 18 fraction-bit outputs."""
    keys, _, _, fixed_fn = OPS[op]
    a, b, heads, scale, r = data.draw(fixed_cases(keys=keys))
    got, counts = _call(fixed_fn, a, b, heads, scale, requant=r)
    ints, want = model_fixed(a, b, heads, keys, scale, r)
    assert got.fmt == r.out and got.values.dtype == r.out.storage_dtype
    assert got.values.ravel().tolist() == ints and counts == want


@given(st.sampled_from(sorted(OPS)), st.data())
def test_fixed_within_rounding_of_reference(op, data) -> None:
    """Derived bound. Operands of ≤ 16 bits give integer products below 2**32 and sums of ≤ 9 of
    them below 2**36 (in units of 2**-(fa + fb)), so a 48-bit accumulator never overflows and the
    float64 reference of the dequantised operands computes that sum exactly; it then rounds
    S·scale once, which is the very value the fixed form rounds once to ``requant.out``. Hence
    |fixed − ref| ≤ res/2 (half_up, half_even) and 0 ≤ ref − fixed < res (truncate) with no slack,
    wherever ``requant.out`` holds ref; a saturated output is the format's extreme on ref's side."""
    keys, ref_fn, _, fixed_fn = OPS[op]
    a, b, heads, scale, r = data.draw(fixed_cases(keys=keys, acc_min_bits=48, acc_max_bits=48))
    r = Requantizer(out=r.out, rounding=r.rounding, overflow=Overflow.SATURATE, accumulator=r.accumulator)
    shift = a.fmt.frac_bits + b.fmt.frac_bits - r.out.frac_bits
    assume(shift >= 0 or r.accumulator.bits - shift <= 63)  # else finish_accumulation refuses the format
    got, counts = _call(fixed_fn, a, b, heads, scale, requant=r)
    ref = _call(ref_fn, a.to_float(), b.to_float(), heads, scale)
    y = got.to_float()
    ints, want = model_quantize(ref, r)
    assert counts.accumulator == 0 and got.values.ravel().tolist() == ints and counts == want
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    assert_within_rounding(y[inside], ref[inside], r, np.zeros(int(inside.sum())))
    assert np.all(np.where(ref > r.out.max_value, y == r.out.max_value, True))
    assert np.all(np.where(ref < r.out.min_value, y == r.out.min_value, True))


@given(st.lists(st.integers(-2**50, 2**50), min_size=1, max_size=6), st.integers(0, 24), st.data())
def test_scaled_accumulation_is_the_register_times_scale_rounded_once(sums, extra, data) -> None:
    """Sums well past the operands of the op tests, any register (2..63 bits): the register's value
    times ``scale`` in float64, rounded once; scale 1 is ``finish_accumulation`` itself. The sums
    carry at least the output's fraction bits so that every scaled value stays below 2**62."""
    r = data.draw(requantizers(out=small_formats, acc_max_bits=63))
    scale = data.draw(st.one_of(st.sampled_from([1 / math.sqrt(8), 0.1, 2.5]), st.floats(2.0**-6, 2.0**6)))
    sfb = r.out.frac_bits + extra
    arr = np.array(sums, dtype=np.int64)
    for each in (scale, 1.0):
        got, counts = scaled_accumulation(arr, sfb, each, r)
        ints, want = model_register_times_scale(sums, sfb, each, r)
        assert got.fmt == r.out and got.values.tolist() == ints and counts == want
    same, same_counts = finish_accumulation(arr, sfb, r)
    assert np.array_equal(got.values, same.values) and counts == same_counts


def test_scale_multiplies_before_the_one_rounding() -> None:
    """Q = K = 3·2**-4 in ap_fixed<8,4> (one head, d = 1): S = Q·K = 9·2**-8. With scale 3 the value
    27·2**-8 = 1.6875·2**-4 rounds once to 2·2**-4 in ap_fixed<8,4>; rounding S first (to 1·2**-4)
    and scaling after would give 3·2**-4. Scale 0.5 into ap_fixed<16,8>: 4.5·2**-8, a tie, rounds
    to 4 (half_even) and 5 (half_up) units."""
    f = fmt(8, 4)
    t = FixedTensor(np.full((1, 1, 1, 1), 3, np.int8), f)
    got, counts = scores_fixed(t, t, heads=1, scale=3.0, requant=rq(f))
    assert got.values.item() == 2 and counts == OverflowCounts()
    got, _ = scores_fixed(t, t, heads=1, scale=0.5, requant=rq(fmt(16, 8)))
    assert got.values.item() == 4
    got, _ = scores_fixed(t, t, heads=1, scale=0.5, requant=rq(fmt(16, 8), rounding=Rounding.HALF_UP))
    assert got.values.item() == 5


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31))
def test_head_weights_layout(heads, d, hk, wk, seed) -> None:
    """Keys: filter h·L + j holds K[h·d + c, j] at input channel c; values: filter m holds V[m, j]."""
    k = np.random.default_rng(seed).standard_normal((heads * d, hk, wk))
    w = head_weights(k, heads, keys=True)
    flat = k.reshape(heads * d, hk * wk)
    assert w.shape == (heads * hk * wk, d, 1, 1)
    for h in range(heads):
        for j in range(hk * wk):
            assert np.array_equal(w[h * hk * wk + j, :, 0, 0], flat[h * d:(h + 1) * d, j])
    wv = head_weights(k, heads, keys=False)
    assert wv.shape == (heads * d, hk * wk, 1, 1) and np.array_equal(wv[:, :, 0, 0], flat)


# --- bad input -----------------------------------------------------------------------------------------

F8 = fmt(8, 4)


def _t(shape: tuple[int, ...]) -> FixedTensor:
    return FixedTensor(np.zeros(shape, np.int8), F8)


def test_bad_heads_are_refused() -> None:
    q, k = np.zeros((1, 6, 2, 2)), np.zeros((1, 6, 3, 1))
    for heads in (4, 0, -2, True, 1.5):
        with pytest.raises(BadArgument, match=rf"heads={heads!r}: expected a positive divisor of the 6 channels of k"):
            scores_ref(q, k, heads=heads)
    with pytest.raises(BadArgument, match="heads=4: expected a positive divisor of the 6 channels of v"):
        attend_f32(np.zeros((1, 12, 2, 2)), np.zeros((1, 6, 3, 1)), heads=4)
    with pytest.raises(BadArgument, match="heads=4: expected a positive divisor of the 6 channels of k"):
        scores_fixed(_t((1, 6, 2, 2)), _t((1, 6, 3, 1)), heads=4, requant=rq(F8))


def test_shapes_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ShapeError, match=r"q \(2, 4, 2, 2\) and k \(1, 4, 3, 3\): expected the same batch"):
        scores_ref(np.zeros((2, 4, 2, 2)), np.zeros((1, 4, 3, 3)), heads=2)
    with pytest.raises(ShapeError, match=r"q \(1, 6, 2, 2\) and k \(1, 4, 3, 3\): expected 4 channels in q"):
        scores_f32(np.zeros((1, 6, 2, 2)), np.zeros((1, 4, 3, 3)), heads=2)
    # P must hold heads·L = 2·9 = 18 channels
    with pytest.raises(ShapeError, match=r"p \(1, 9, 2, 2\) and v \(1, 4, 3, 3\): expected 18 channels in p"):
        attend_ref(np.zeros((1, 9, 2, 2)), np.zeros((1, 4, 3, 3)), heads=2)
    with pytest.raises(ShapeError, match=r"p \(1, 9, 2, 2\) and v \(2, 4, 3, 3\): expected the same batch"):
        attend_fixed(_t((1, 9, 2, 2)), _t((2, 4, 3, 3)), heads=1, requant=rq(F8))
    with pytest.raises(ShapeError, match=r"k has shape \(4, 3, 3\): expected \(N, C, H, W\)"):
        scores_ref(np.zeros((1, 4, 2, 2)), np.zeros((4, 3, 3)), heads=1)
    with pytest.raises(ShapeError, match=r"q has shape \(1, 4, 0, 2\)"):
        scores_fixed(_t((1, 4, 0, 2)), _t((1, 4, 3, 3)), heads=1, requant=rq(F8))


def test_wrong_types_and_scales_are_refused() -> None:
    q, k = _t((1, 4, 2, 2)), _t((1, 4, 3, 3))
    with pytest.raises(BadArgument, match="q=ndarray: expected a FixedTensor"):
        scores_fixed(np.zeros((1, 4, 2, 2)), k, heads=1, requant=rq(F8))
    with pytest.raises(BadArgument, match="v=list: expected a FixedTensor"):
        attend_fixed(_t((1, 9, 2, 2)), [0], heads=1, requant=rq(F8))
    with pytest.raises(BadArgument, match="requant=None: expected a Requantizer"):
        scores_fixed(q, k, heads=1, requant=None)
    with pytest.raises(BadArgument, match="k has dtype <U1: expected a real numeric array"):
        scores_ref(np.zeros((1, 1, 1, 1)), np.array([[[["x"]]]]), heads=1)
    for scale in (0, -0.5, 0.0, float("nan"), True, "1", float("inf")):
        with pytest.raises(BadArgument, match=r"scale=.*: expected a (finite )?number > 0"):
            scores_ref(q.to_float(), k.to_float(), heads=1, scale=scale)
        with pytest.raises(BadArgument, match=r"scale=.*: expected a (finite )?number > 0"):
            scores_fixed(q, k, heads=1, scale=scale, requant=rq(F8))


# --- windowed attention ----------------------------------------------------------------------------------

@st.composite
def windowed_geometries(draw, *, keys: bool):
    """(first shape, second shape, heads, window, dilated): an H×W = (gh·wh)×(gw·ww) map cut into
    gh·gw windows of wh×ww (square or not, one window or several), both operands on that map; Q and
    K with heads·d channels, or P with heads·wh·ww and V with heads·dv."""
    side = st.integers(1, 3)
    n, heads, d, wh, ww, gh, gw = (draw(st.integers(1, 2)), draw(side), draw(side), draw(side), draw(side),
                                   draw(side), draw(side))
    h, w = gh * wh, gw * ww
    second = (n, heads * d, h, w)
    first = second if keys else (n, heads * wh * ww, h, w)
    return first, second, heads, (wh, ww), draw(st.booleans())


def _window_slices(shape: tuple[int, ...], window: tuple[int, int], dilated: bool):
    """Every window's (rows, columns) index of the map, written from the definition: blocks are
    contiguous wh×ww tiles; dilated windows take rows r, r + gh, … and columns s, s + gw, …"""
    h, w = shape[2], shape[3]
    wh, ww = window
    gh, gw = h // wh, w // ww
    for r in range(gh):
        for s in range(gw):
            if dilated:
                yield slice(r, h, gh), slice(s, w, gw)
            else:
                yield slice(r * wh, (r + 1) * wh), slice(s * ww, (s + 1) * ww)


def _loop_over_windows(fn, a, b, heads, scale, window, dilated, **kwargs):
    """The unwindowed ``fn`` on each window's explicit slices of both operands, placed back."""
    out = None
    for rows, cols in _window_slices(a.shape, window, dilated):
        got = _call(fn, a[:, :, rows, cols], b[:, :, rows, cols], heads, scale, **kwargs)
        values = got[0].values if isinstance(got, tuple) else got
        if out is None:
            out = np.zeros((a.shape[0], values.shape[1], *a.shape[2:]), dtype=values.dtype)
        out[:, :, rows, cols] = values
    return out


@given(st.sampled_from(sorted(OPS)), st.data(), st.integers(0, 2**31), st.sampled_from(["ref", "f32"]))
def test_windowed_product_is_the_unwindowed_one_of_each_window(op, data, seed, form) -> None:
    """Each position sees only its window's keys: the windowed product equals the unwindowed one
    called on every window's explicitly sliced operands, bit for bit (the same sums of the same
    products), for blocks and dilated (grid) windows, square or not."""
    keys, ref_fn, f32_fn, _ = OPS[op]
    fn = ref_fn if form == "ref" else f32_fn
    first, second, heads, window, dilated = data.draw(windowed_geometries(keys=keys))
    scale = data.draw(scales) if keys else 1.0
    rng = np.random.default_rng(seed)
    a, b = _random(rng, first, 0), _random(rng, second, 0)
    got = _call(fn, a, b, heads, scale, window=window, dilated=dilated)
    want = _loop_over_windows(fn, a, b, heads, scale, window, dilated)
    assert got.shape == (first[0], (heads * window[0] * window[1]) if keys else second[1], *first[2:])
    assert got.dtype == want.dtype and np.array_equal(got, want)


@given(st.sampled_from(sorted(OPS)), st.data())
def test_windowed_fixed_is_the_unwindowed_fixed_of_each_window(op, data) -> None:
    """Fixed point, any accumulator and output format: the windowed op's stored integers are the
    unwindowed op's on each window (the rounding acts element by element, after the exact sums)."""
    keys, _, _, fixed_fn = OPS[op]
    first, second, heads, window, dilated = data.draw(windowed_geometries(keys=keys))
    a = data.draw(fixed_tensors(data.draw(small_formats), first))
    b = data.draw(fixed_tensors(data.draw(small_formats), second))
    r = data.draw(requantizers(out=small_formats, acc_min_bits=2, acc_max_bits=40))
    scale = data.draw(scales) if keys else 1.0
    got, _ = _call(fixed_fn, a, b, heads, scale, requant=r, window=window, dilated=dilated)
    slices = list(_window_slices(first, window, dilated))
    want = np.zeros(got.shape, dtype=got.values.dtype)
    for rows, cols in slices:
        part = (FixedTensor(a.values[:, :, rows, cols], a.fmt), FixedTensor(b.values[:, :, rows, cols], b.fmt))
        want[:, :, rows, cols] = _call(fixed_fn, *part, heads, scale, requant=r)[0].values
    assert got.fmt == r.out and np.array_equal(got.values, want)


@given(st.sampled_from(sorted(OPS)), st.data())
def test_windowed_fixed_within_rounding_of_reference(op, data) -> None:
    """Derived bound, as :func:`test_fixed_within_rounding_of_reference`: a window holds ≤ 9 keys and
    a head ≤ 3 channels, so every sum has ≤ 9 products of ≤ 16-bit operands, below 2**36 units of
    2**-(fa + fb): the 48-bit accumulator never overflows and the float64 reference computes the
    same sum exactly; both then round S·scale once. |fixed − ref| ≤ res/2 (half_up, half_even),
    0 ≤ ref − fixed < res (truncate), wherever ``requant.out`` holds ref."""
    keys, ref_fn, _, fixed_fn = OPS[op]
    first, second, heads, window, dilated = data.draw(windowed_geometries(keys=keys))
    a = data.draw(fixed_tensors(data.draw(small_formats), first))
    b = data.draw(fixed_tensors(data.draw(small_formats), second))
    r = data.draw(requantizers(out=small_formats, acc_min_bits=48, acc_max_bits=48))
    r = Requantizer(out=r.out, rounding=r.rounding, overflow=Overflow.SATURATE, accumulator=r.accumulator)
    shift = a.fmt.frac_bits + b.fmt.frac_bits - r.out.frac_bits
    assume(shift >= 0 or r.accumulator.bits - shift <= 63)  # else finish_accumulation refuses the format
    scale = data.draw(scales) if keys else 1.0
    got, counts = _call(fixed_fn, a, b, heads, scale, requant=r, window=window, dilated=dilated)
    ref = _call(ref_fn, a.to_float(), b.to_float(), heads, scale, window=window, dilated=dilated)
    y = got.to_float()
    assert counts.accumulator == 0
    inside = (ref >= r.out.min_value) & (ref <= r.out.max_value)
    assert_within_rounding(y[inside], ref[inside], r, np.zeros(int(inside.sum())))
    assert np.all(np.where(ref > r.out.max_value, y == r.out.max_value, True))
    assert np.all(np.where(ref < r.out.min_value, y == r.out.min_value, True))


@given(st.sampled_from(sorted(OPS)), st.data(), st.integers(0, 2**31))
def test_one_window_over_the_whole_map_is_no_window(op, data, seed) -> None:
    """window=(H, W) is one window holding every position, block or dilated (gh = gw = 1): the
    result is window=None's bit for bit, in float and fixed point."""
    keys, ref_fn, _, fixed_fn = OPS[op]
    first, second, heads, _, dilated = data.draw(windowed_geometries(keys=keys))
    h, w = first[2:]
    if not keys:
        first = (first[0], heads * h * w, h, w)
    scale = data.draw(scales) if keys else 1.0
    rng = np.random.default_rng(seed)
    a, b = _random(rng, first, 0), _random(rng, second, 0)
    assert np.array_equal(_call(ref_fn, a, b, heads, scale, window=(h, w), dilated=dilated),
                          _call(ref_fn, a, b, heads, scale))
    fa, fb = (FixedTensor(rng.integers(-128, 128, shape).astype(np.int8), fmt(8, 4)) for shape in (first, second))
    windowed, counts = _call(fixed_fn, fa, fb, heads, scale, requant=rq(fmt(16, 8)), window=[h, w], dilated=dilated)
    whole, whole_counts = _call(fixed_fn, fa, fb, heads, scale, requant=rq(fmt(16, 8)))
    assert np.array_equal(windowed.values, whole.values) and counts == whole_counts


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.booleans(), st.integers(0, 2**31))
def test_window_partition_follows_the_definition_and_merge_inverts_it(n, c, wh, ww, gh, gw, dilated, seed) -> None:
    """Window r·gw + s of sample i (sample outermost) holds at (a, b) the map's position
    (r·wh + a, s·ww + b) for blocks and (r + a·gh, s + b·gw) for dilated windows, and
    :func:`window_merge` puts every window back."""
    x = np.random.default_rng(seed).integers(-99, 100, (n, c, gh * wh, gw * ww))
    parts = window_partition(x, (wh, ww), dilated=dilated)
    assert parts.shape == (n * gh * gw, c, wh, ww)
    for i in range(n):
        for r in range(gh):
            for s in range(gw):
                for a in range(wh):
                    for b in range(ww):
                        y, z = (r + a * gh, s + b * gw) if dilated else (r * wh + a, s * ww + b)
                        assert np.array_equal(parts[(i * gh + r) * gw + s, :, a, b], x[i, :, y, z])
    merged = window_merge(parts, (wh, ww), (gh * wh, gw * ww), dilated=dilated)
    assert merged.dtype == x.dtype and np.array_equal(merged, x)


def test_bad_windows_are_refused() -> None:
    q = np.zeros((1, 4, 4, 6))
    for window in ((0, 2), (2,), (2, 2, 2), 2, (True, 2), (1.5, 2), "22"):
        with pytest.raises(BadArgument, match=r"window=.*: expected None or \(height, width\), two integers >= 1"):
            scores_ref(q, q, heads=2, window=window)
    for dilated in (1, None, "yes"):
        with pytest.raises(BadArgument, match=r"dilated=.*: expected True or False"):
            attend_ref(np.zeros((1, 8, 4, 6)), q, heads=2, window=(2, 2), dilated=dilated)
    with pytest.raises(BadArgument, match=r"dilated=True with window=None: expected a window"):
        scores_f32(q, q, heads=2, dilated=True)
    with pytest.raises(ShapeError, match=r"window=\(3, 2\): the 4×6 map of q does not divide into 3×2 windows"):
        scores_ref(q, q, heads=2, window=(3, 2))
    with pytest.raises(ShapeError, match=r"window=\(2, 4\): the 4×6 map of p does not divide into 2×4 windows"):
        attend_fixed(_t((1, 16, 4, 6)), _t((1, 4, 4, 6)), heads=2, window=(2, 4), requant=rq(F8))
    with pytest.raises(ShapeError, match=r"q \(1, 4, 4, 6\) and k \(1, 4, 2, 2\): windowed attention expects the "
                                         r"same height and width in both"):
        scores_fixed(_t((1, 4, 4, 6)), _t((1, 4, 2, 2)), heads=2, window=(2, 2), requant=rq(F8))
    # windowed P holds heads·wh·ww channels, not heads·H·W
    with pytest.raises(ShapeError, match=r"p \(1, 48, 4, 6\) and v \(1, 4, 4, 6\): expected 8 channels in p "
                                         r"\(heads·2·2 keys of a window\)"):
        attend_ref(np.zeros((1, 48, 4, 6)), q, heads=2, window=(2, 2))


def test_bad_partitions_and_merges_are_refused() -> None:
    x = np.zeros((1, 2, 4, 6))
    with pytest.raises(BadArgument, match=r"window=None: expected \(height, width\) to partition by"):
        window_partition(x, None)
    with pytest.raises(ShapeError, match=r"window=\(4, 4\): the 4×6 map of x does not divide"):
        window_partition(x, (4, 4))
    with pytest.raises(ShapeError, match=r"x has shape \(2, 4, 6\): expected \(N, C, H, W\)"):
        window_partition(x[0], (2, 2))
    parts = window_partition(x, (2, 3))
    with pytest.raises(ShapeError, match=r"windows has shape \(4, 2, 2, 3\): expected \(N·6, C, 2, 2\)"):
        window_merge(parts, (2, 2), (4, 6))
    with pytest.raises(ShapeError, match=r"windows has shape \(3, 2, 2, 3\): expected \(N·4, C, 2, 3\)"):
        window_merge(parts[:3], (2, 3), (4, 6))
    with pytest.raises(BadArgument, match=r"window=None: expected \(height, width\) to merge by"):
        window_merge(parts, None, (4, 6))
