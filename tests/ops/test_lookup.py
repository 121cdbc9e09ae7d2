"""Table sigmoid, tanh, SiLU, GELU and softmax (fpgasim.ops.lookup) against the float64 σ, tanh,
Φ, eˣ and softmax, with the derived bounds."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Rounding, quantize
from fpgasim.ops.elementwise import gelu_ref, normal_cdf_ref, sigmoid_ref, silu_ref, softmax_ref, tanh_ref
from fpgasim.ops.lookup import (
    ExpTable, NormalCdfTable, SigmoidTable, gelu_table_fixed, sigmoid_table_fixed, silu_table_fixed,
    softmax_table_error, softmax_table_fixed, tanh_table_error, tanh_table_fixed, tanh_table_range,
)
from tests.ops.test_elementwise import assert_within_rounding, fmt, rq, small_formats
from tests.strategies.elementwise import nchw_shapes
from tests.strategies.numeric import fixed_tensors, requantizers

_SIZES = {"entries": st.sampled_from([2, 16, 100, 1024, 4096]), "input_bound": st.sampled_from([1.0, 4.0, 6.5, 8.0])}
tables = st.builds(SigmoidTable, **_SIZES)
cdf_tables = st.builds(NormalCdfTable, **_SIZES)


@given(nchw_shapes(max_side=3), st.data(), tables)
def test_sigmoid_table_is_within_its_derived_bound(shape, data, table) -> None:
    """|table − σ| ≤ max(h/8, σ(−bound + h/2)) before the output rounding, for every element the
    output format holds (h = 2·bound/entries: a middle sample of a step, or the clipped end)."""
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    r = data.draw(requantizers(out=small_formats))
    got, _ = sigmoid_table_fixed(x, requant=r, table=table)
    ref = sigmoid_ref(x.to_float())
    inside = (ref >= r.out.min_value + table.max_error()) & (ref <= r.out.max_value - table.max_error())
    slack = np.full(int(inside.sum()), table.max_error() * (1 + 1e-12))
    assert got.fmt == r.out
    assert_within_rounding(got.to_float()[inside], ref[inside], r, slack)


def _step_centres(x, entries: int, bound: float, *, gain: int) -> np.ndarray:
    """The middle of the table step that holds each ``gain``·x, entry ``⌊(gain·x + bound)·entries /
    2·bound⌋`` clipped, with exact rationals from the stored integers."""
    step = Fraction(2) * Fraction(bound) / entries
    index = [min(max(math.floor((gain * Fraction(int(v), 2 ** x.fmt.frac_bits) + Fraction(bound)) / step), 0),
                 entries - 1) for v in x.values.ravel()]
    return np.array([float(-Fraction(bound) + (i + Fraction(1, 2)) * step) for i in index])


@given(st.data(), st.sampled_from([(16, 4.0), (64, 8.0), (1024, 8.0), (512, 2.0)]))
def test_sigmoid_table_reads_the_entry_of_the_step_that_holds_x(data, spec) -> None:
    """Entry ``⌊(x + bound)·entries / 2·bound⌋`` (clipped), computed with exact rationals from the
    stored integers, holds σ at its step's middle, quantised once."""
    entries, bound = spec
    table = SigmoidTable(entries=entries, input_bound=bound)
    x = data.draw(fixed_tensors(data.draw(small_formats), (1, 1, 1, 8)))
    r = data.draw(requantizers(out=small_formats))
    want, _ = quantize(sigmoid_ref(_step_centres(x, entries, bound, gain=1)), r.out, rounding=r.rounding,
                       overflow=r.overflow)
    got, _ = sigmoid_table_fixed(x, requant=r, table=table)
    assert got.values.ravel().tolist() == want.values.tolist()


@given(nchw_shapes(max_side=3), st.data(), cdf_tables)
def test_normal_cdf_table_is_within_its_derived_bound(shape, data, table) -> None:
    """|Φ table − Φ| ≤ max(h/(2√(2π)), Φ(−bound + h/2)) at every fixed-point input (a step's
    middle sample, or the clipped end)."""
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    sampled = table.sampled(x.to_float())
    assert np.all(np.abs(sampled - normal_cdf_ref(x.to_float())) <= table.max_error() * (1 + 1e-12))
    assert table.max_error() == pytest.approx(max(table.step / (2 * math.sqrt(2 * math.pi)),
                                                  float(normal_cdf_ref(np.array(-table.input_bound + table.step / 2)))))


@given(nchw_shapes(max_side=3), st.data(), st.sampled_from([(silu_table_fixed, silu_ref, tables),
                                                              (gelu_table_fixed, gelu_ref, cdf_tables)]))
def test_gated_tables_are_within_their_derived_bound(shape, data, forms) -> None:
    """|x·table(x) − x·f(x)| ≤ |x|·(max_error + the gate's rounding) + the product's rounding,
    where the output format holds 1 (the gate is not clipped) and the result (SiLU: f = σ; GELU: f = Φ)."""
    fixed_fn, ref_fn, table_strategy = forms
    table = data.draw(table_strategy)
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    r = data.draw(requantizers(out=small_formats, acc_min_bits=40, acc_max_bits=63))
    assume(r.out.max_value >= 1.0)
    got, _ = fixed_fn(x, requant=r, table=table)
    xf = x.to_float()
    ref = ref_fn(xf)
    res = r.out.resolution
    gate_rounding = res if r.rounding.value == "truncate" else res / 2
    slack = np.abs(xf) * (table.max_error() + gate_rounding) * (1 + 1e-12)
    inside = (ref - slack >= r.out.min_value) & (ref + slack <= r.out.max_value)
    assert got.fmt == r.out and got.shape == x.shape
    assert_within_rounding(got.to_float()[inside], ref[inside], r, slack[inside])


#: A 32-bit output (ap_fixed<32,2>, resolution 2**-30) that shows a tanh table's error before rounding.
TANH_FINE = rq(fmt(32, 2))


@given(nchw_shapes(max_side=3), st.data(), tables)
def test_tanh_table_is_within_twice_the_sigmoid_tables_bound(shape, data, table) -> None:
    """tanh(x) = 2·σ(2x) − 1 from the σ table: the error doubles, so before the output rounding
    |table tanh − tanh| ≤ tanh_table_error = 2·max_error = max(h/4, 2·σ(−b + h/2)) at every
    fixed-point input (the clipped ends included); after it, within that plus one rounding where
    the output format holds the reference with that margin."""
    x = data.draw(fixed_tensors(data.draw(small_formats), shape))
    r = data.draw(requantizers(out=small_formats))
    error = tanh_table_error(table)
    edge = float(sigmoid_ref(np.array(-table.input_bound + table.step / 2)))
    assert error == 2 * table.max_error() and error == pytest.approx(max(table.step / 4, 2 * edge), rel=1e-12)
    ref = tanh_ref(x.to_float())
    got, _ = tanh_table_fixed(x, requant=r, table=table)
    inside = (ref >= r.out.min_value + error) & (ref <= r.out.max_value - error)
    assert got.fmt == r.out and got.shape == x.shape
    assert_within_rounding(got.to_float()[inside], ref[inside], r, np.full(int(inside.sum()), error * (1 + 1e-12)))
    fine, counts = tanh_table_fixed(x, requant=TANH_FINE, table=table)
    assert counts == OverflowCounts()
    assert np.all(np.abs(fine.to_float() - ref) <= error * (1 + 1e-12) + 2.0**-31)


@given(tables, st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=16))
def test_tanh_table_is_within_a_quarter_step_over_its_halved_range(table, fractions_of_range) -> None:
    """Over the table's valid range for tanh, [−b/2, b/2) (the doubled input halves σ's
    [−b, b)), a step of x is h/2 wide and read at its middle: |table tanh − tanh| ≤ 2·h/8 = h/4
    before the rounding (24 fraction bits of input, truncated so that x stays below b/2)."""
    low, high = tanh_table_range(table)
    assert (low, high) == (-table.input_bound / 2, table.input_bound / 2)
    real = low + (high - low) * np.array(fractions_of_range).reshape(1, -1, 1, 1)
    x, _ = quantize(real, fmt(32, 8), rounding=Rounding.TRUNCATE, overflow="saturate")
    assert np.all((x.to_float() >= low) & (x.to_float() < high))
    fine, _ = tanh_table_fixed(x, requant=TANH_FINE, table=table)
    assert np.all(np.abs(fine.to_float() - tanh_ref(x.to_float())) <= table.step / 4 * (1 + 1e-12) + 2.0**-31)


@given(st.data(), st.sampled_from([(16, 4.0), (64, 8.0), (1024, 8.0), (512, 2.0)]))
def test_tanh_table_reads_the_sigmoid_entry_of_twice_x(data, spec) -> None:
    """Entry ``⌊(2x + bound)·entries / 2·bound⌋`` (clipped), computed with exact rationals from the
    stored integers, gives 2·σ(its step's middle) − 1, quantised once."""
    entries, bound = spec
    table = SigmoidTable(entries=entries, input_bound=bound)
    x = data.draw(fixed_tensors(data.draw(small_formats), (1, 1, 1, 8)))
    r = data.draw(requantizers(out=small_formats))
    want, _ = quantize(2.0 * sigmoid_ref(_step_centres(x, entries, bound, gain=2)) - 1.0, r.out,
                       rounding=r.rounding, overflow=r.overflow)
    got, _ = tanh_table_fixed(x, requant=r, table=table)
    assert got.values.ravel().tolist() == want.values.tolist()


@pytest.mark.parametrize("entries,bound", [(1, 8.0), (True, 8.0), (1024, 0.0), (1024, -1.0), (1024, float("inf"))])
def test_a_table_without_steps_or_range_is_refused(entries, bound) -> None:
    for kind in (SigmoidTable, NormalCdfTable):
        with pytest.raises(BadArgument, match=kind.__name__):
            kind(entries=entries, input_bound=bound)


def test_the_default_table_is_hls4mls_and_its_error_is_two_thousandths() -> None:
    """1024 entries over [−8, 8): h = 1/64, so max(h/8, σ(−8 + h/2) ≈ 3.4e-4) = 1/512 ≈ 0.00195."""
    table = SigmoidTable()
    assert table.max_error() == pytest.approx(1 / 512)
    assert tanh_table_error(table) == pytest.approx(1 / 256) and tanh_table_range(table) == (-4.0, 4.0)
    with pytest.raises(BadArgument, match="FixedTensor"):
        sigmoid_table_fixed(np.zeros(3), requant=None, table=table)  # type: ignore[arg-type]


def test_each_gate_takes_its_own_table() -> None:
    """A GELU node given a σ table (or SiLU given Φ) is refused, not silently computed with the other function."""
    x = quantize(np.linspace(-3, 3, 8).reshape(1, 2, 2, 2), fmt(12, 4), rounding="half_even", overflow="saturate")[0]
    r = rq(fmt(12, 4))
    with pytest.raises(BadArgument, match="expected a table of kind NormalCdfTable"):
        gelu_table_fixed(x, requant=r, table=SigmoidTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="expected a table of kind SigmoidTable"):
        silu_table_fixed(x, requant=r, table=NormalCdfTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="expected a table of kind SigmoidTable"):
        tanh_table_fixed(x, requant=r, table=NormalCdfTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="expected a table of kind SigmoidTable"):
        tanh_table_error(ExpTable())  # type: ignore[arg-type]
    assert NormalCdfTable() != SigmoidTable()


# --- eˣ table and the table softmax -------------------------------------------------------------------

exp_tables = st.builds(ExpTable, entries=st.sampled_from([2, 16, 100, 1024, 4096]),
                       input_bound=st.sampled_from([1.0, 4.0, 6.5, 8.0, 16.0]))


def _exp_error_bound(table: ExpTable) -> float:
    """max(h/2, e^(−b + h/2)) with h = b/entries: a step sampled at its middle (|e^m − e^z| ≤
    e^max(m, z)·|m − z| ≤ h/2 for m, z ≤ 0), or a value below −b read as the first entry."""
    h = table.input_bound / table.entries
    return max(h / 2, math.exp(-table.input_bound + h / 2))


@given(exp_tables, st.lists(st.floats(0.0, 1.0), min_size=1, max_size=16), st.integers(0, 2**31))
def test_exp_table_max_error_bounds_sampled_minus_exp(table, fractions_of_range, seed) -> None:
    """|sampled − eˣ| ≤ max_error() for x in [−2b, 0]: inside the range, on the steps' edges and
    below it (slack 1e-9 relative for the float64 index of an edge). The bound is attained within
    a factor 1 − h/4: just below 0 (read at −h/2) the error is 1 − e^(−h/2), far below −b it tends
    to e^(−b + h/2)."""
    b, h = table.input_bound, table.step
    assert table.input_range == (-b, 0.0) and h == b / table.entries
    assert table.max_error() == pytest.approx(_exp_error_bound(table), rel=1e-12)
    edges = -b + h * np.random.default_rng(seed).integers(0, table.entries + 1, 8)
    x = np.concatenate([-2 * b * np.array(fractions_of_range), edges, [0.0, -b, -1e-300, -3 * b]])
    assert np.all(np.abs(table.sampled(x) - np.exp(x)) <= table.max_error() * (1 + 1e-9))
    attained = max(1 - float(table.sampled(np.array(-1e-300))), float(table.sampled(np.array(-1e6))) - math.exp(-1e6))
    assert attained >= table.max_error() * (1 - h / 4)


def _group_size(x_shape: tuple[int, ...], groups: int) -> int:
    return x_shape[1] // groups


@st.composite
def table_softmax_cases(draw, *, tables=exp_tables):
    """(x (N, groups·m, H, W) fixed point, groups, a table with m·e^−b < 1, requantizer)."""
    groups, m = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(fixed_tensors(draw(small_formats), (n, groups * m, h, w)))
    table = draw(tables.filter(lambda t: m * math.exp(-t.input_bound) < 1))
    return x, groups, table, draw(requantizers(out=small_formats))


@given(table_softmax_cases())
def test_table_softmax_is_within_its_derived_error(case) -> None:
    """|table softmax − softmax| ≤ softmax_table_error(table, m) before the output rounding (m = a
    group's size; the derivation is in its docstring), so after it the result is within that plus
    one rounding wherever the output format holds the reference with that margin. A 32-bit output
    (ap_ufixed<32,1>, resolution 2**-31) shows the error before rounding, within the bound plus 2**-32."""
    x, groups, table, r = case
    m = _group_size(x.shape, groups)
    error = softmax_table_error(table, m)
    ref = softmax_ref(x.to_float(), groups=groups)
    got, _ = softmax_table_fixed(x, requant=r, table=table, groups=groups)
    inside = (ref >= r.out.min_value + error) & (ref <= r.out.max_value - error)
    assert got.fmt == r.out and got.shape == x.shape
    assert_within_rounding(got.to_float()[inside], ref[inside], r, np.full(int(inside.sum()), error * (1 + 1e-9)))
    wide = rq(fmt(32, 1, s=False))
    fine, counts = softmax_table_fixed(x, requant=wide, table=table, groups=groups)
    assert counts == OverflowCounts()
    assert np.all(np.abs(fine.to_float() - ref) <= error * (1 + 1e-9) + 2.0**-32)


@given(st.data(), st.sampled_from([(16, 4.0), (64, 8.0), (1024, 8.0), (512, 2.0)]))
def test_table_softmax_reads_the_entry_of_each_value_less_its_group_maximum(data, spec) -> None:
    """Exact rationals from the stored integers: z = x − the group's maximum, entry
    ``min(⌊(z + b)·entries / b⌋, entries − 1)`` clipped at 0, e^(its step's middle), divided by the
    group's sum. Dyadic steps, so the float64 index cannot fall on the other side of an edge;
    compared before the rounding through a 32-bit output (resolution 2**-31)."""
    entries, bound = spec
    table = ExpTable(entries=entries, input_bound=bound)
    x, groups, _, _ = data.draw(table_softmax_cases(tables=st.just(table)))
    step = Fraction(bound) / entries
    ints = x.values.astype(np.int64)
    scale = 2 ** x.fmt.frac_bits
    m = _group_size(x.shape, groups)
    want = np.empty(x.shape)
    for i, pos in ((i, pos) for i in range(x.shape[0]) for pos in np.ndindex(*x.shape[2:])):
        for g in range(groups):
            vals = [Fraction(int(ints[(i, g * m + j, *pos)]), scale) for j in range(m)]
            top = max(vals)
            index = [min(max(math.floor((v - top + Fraction(bound)) / step), 0), entries - 1) for v in vals]
            e = [math.exp(float(-Fraction(bound) + (k + Fraction(1, 2)) * step)) for k in index]
            for j in range(m):
                want[(i, g * m + j, *pos)] = e[j] / sum(e)
    got, _ = softmax_table_fixed(x, requant=rq(fmt(32, 1, s=False)), table=table, groups=groups)
    assert np.all(np.abs(got.to_float() - want) <= 2.0**-32 + 1e-15)


def _table_softmax_error_of(values: list[float], table: ExpTable) -> float:
    """The largest |table softmax − softmax| over one group of ``values`` (exact in ap_fixed<32,12>),
    before the output rounding (a 32-bit output, rounded within 2**-32)."""
    f = fmt(32, 12)
    x = FixedTensor(np.array([round(v * 2**f.frac_bits) for v in values], np.int32).reshape(1, -1, 1, 1), f)
    assert x.to_float().ravel().tolist() == values
    got, _ = softmax_table_fixed(x, requant=rq(fmt(32, 1, s=False)), table=table)
    return float(np.abs(got.to_float() - softmax_ref(x.to_float())).max())


def test_table_softmax_error_is_not_vacuous() -> None:
    """The bound is below 1 for the tables in use, an error actually occurs, and the bound is within
    a small factor of errors attained. Inputs 0 and −h both read e^(−h/2): the table gives 1/2 for a
    true 1/(1 + e^−h) ≈ 1/2 + h/4, the bound ≈ h + 2·e^−b (factor ≤ 5). One input at 0 and 196 far
    below −b (ViT's 197 tokens): each of those reads e^(−b + h/2) where the truth is ~0, so the
    maximum's probability drops by about 196·e^−b ≈ 0.018 (default table), the bound ≈ h + 197·e^−b
    (factor ≤ 5)."""
    vit_tokens = 197
    default = ExpTable()
    assert softmax_table_error(ExpTable(entries=4096, input_bound=16.0), vit_tokens) < 0.005
    assert softmax_table_error(default, vit_tokens) < 0.1
    h = default.step
    pair = _table_softmax_error_of([0.0, -h], default)
    assert 0 < pair <= softmax_table_error(default, 2) <= 5 * pair
    clipped = _table_softmax_error_of([0.0] + [-1000.0] * (vit_tokens - 1), default)
    assert 0.01 < clipped <= softmax_table_error(default, vit_tokens) <= 5 * clipped


@given(exp_tables)
def test_table_softmax_error_refuses_a_table_too_narrow_for_n(table) -> None:
    """n·e^−b ≥ 1 leaves the bound without meaning (the clipped inputs could hold all the mass):
    refused at the first such n, accepted just below it."""
    b = table.input_bound
    first = math.ceil(math.exp(b))
    first += first * math.exp(-b) < 1  # e^b an integer in float: then n = e^b is the first
    with pytest.raises(BadArgument, match=rf"n={first}: n·e\^-{b} = .* >= 1; a softmax over {first} inputs needs "
                                          "a wider table"):
        softmax_table_error(table, first)
    if first > 1:
        assert 0 < softmax_table_error(table, first - 1) < math.inf


@given(table_softmax_cases())
def test_table_softmax_groups_are_independent(case) -> None:
    """Each group of channels is its own table softmax: the same as the ungrouped call on its slice."""
    x, groups, table, r = case
    got, counts = softmax_table_fixed(x, requant=r, table=table, groups=groups)
    m = _group_size(x.shape, groups)
    total = OverflowCounts()
    for g in range(groups):
        part = FixedTensor(x.values[:, g * m:(g + 1) * m], x.fmt)
        alone, c = softmax_table_fixed(part, requant=r, table=table)
        assert np.array_equal(got.values[:, g * m:(g + 1) * m], alone.values)
        total += c
    assert counts == total


def test_table_softmax_bad_input_is_refused() -> None:
    x = quantize(np.zeros((1, 4, 2, 2)), fmt(8, 4), rounding="half_even", overflow="saturate")[0]
    r = rq(fmt(12, 2))
    with pytest.raises(BadArgument, match="groups=3: expected a positive divisor of the 4 channels"):
        softmax_table_fixed(x, requant=r, table=ExpTable(), groups=3)
    with pytest.raises(BadArgument, match="expected a table of kind ExpTable"):
        softmax_table_fixed(x, requant=r, table=SigmoidTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="x=ndarray: expected a FixedTensor"):
        softmax_table_fixed(np.zeros((1, 4)), requant=r, table=ExpTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="ExpTable: entries=1"):
        ExpTable(entries=1)
    for n in (0, -3, 2.5, True):
        with pytest.raises(BadArgument, match=f"n={n!r}: expected the number of inputs"):
            softmax_table_error(ExpTable(), n)  # type: ignore[arg-type]
    got, _ = softmax_table_fixed(x, requant=r, table=ExpTable(), groups=2)
    assert np.all(got.to_float() == 0.5)  # equal inputs: 1/m whatever the table
