"""Table sigmoid, SiLU and GELU (fpgasim.ops.lookup) against the float64 σ and Φ, with the derived bound."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import quantize
from fpgasim.ops.elementwise import gelu_ref, normal_cdf_ref, sigmoid_ref, silu_ref
from fpgasim.ops.lookup import NormalCdfTable, SigmoidTable, gelu_table_fixed, sigmoid_table_fixed, silu_table_fixed
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


@given(st.data(), st.sampled_from([(16, 4.0), (64, 8.0), (1024, 8.0), (512, 2.0)]))
def test_sigmoid_table_reads_the_entry_of_the_step_that_holds_x(data, spec) -> None:
    """Entry ``⌊(x + bound)·entries / 2·bound⌋`` (clipped), computed with exact rationals from the
    stored integers, holds σ at its step's middle, quantised once."""
    entries, bound = spec
    table = SigmoidTable(entries=entries, input_bound=bound)
    fmt = data.draw(small_formats)
    x = data.draw(fixed_tensors(fmt, (1, 1, 1, 8)))
    r = data.draw(requantizers(out=small_formats))
    step = Fraction(2) * Fraction(bound) / entries
    index = [min(max(math.floor((Fraction(int(v), 2 ** fmt.frac_bits) + Fraction(bound)) / step), 0), entries - 1)
             for v in x.values.ravel()]
    centres = np.array([float(-Fraction(bound) + (i + Fraction(1, 2)) * step) for i in index])
    want, _ = quantize(sigmoid_ref(centres), r.out, rounding=r.rounding, overflow=r.overflow)
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


@pytest.mark.parametrize("entries,bound", [(1, 8.0), (True, 8.0), (1024, 0.0), (1024, -1.0), (1024, float("inf"))])
def test_a_table_without_steps_or_range_is_refused(entries, bound) -> None:
    for kind in (SigmoidTable, NormalCdfTable):
        with pytest.raises(BadArgument, match=kind.__name__):
            kind(entries=entries, input_bound=bound)


def test_the_default_table_is_hls4mls_and_its_error_is_two_thousandths() -> None:
    """1024 entries over [−8, 8): h = 1/64, so max(h/8, σ(−8 + h/2) ≈ 3.4e-4) = 1/512 ≈ 0.00195."""
    table = SigmoidTable()
    assert table.max_error() == pytest.approx(1 / 512)
    with pytest.raises(BadArgument, match="FixedTensor"):
        sigmoid_table_fixed(np.zeros(3), requant=None, table=table)  # type: ignore[arg-type]


def test_each_gate_takes_its_own_table() -> None:
    """A GELU node given a σ table (or SiLU given Φ) is refused, not silently computed with the other function."""
    x = quantize(np.linspace(-3, 3, 8).reshape(1, 2, 2, 2), fmt(12, 4), rounding="half_even", overflow="saturate")[0]
    r = rq(fmt(12, 4))
    with pytest.raises(BadArgument, match="expected a NormalCdfTable"):
        gelu_table_fixed(x, requant=r, table=SigmoidTable())  # type: ignore[arg-type]
    with pytest.raises(BadArgument, match="expected a SigmoidTable"):
        silu_table_fixed(x, requant=r, table=NormalCdfTable())  # type: ignore[arg-type]
    assert NormalCdfTable() != SigmoidTable()
