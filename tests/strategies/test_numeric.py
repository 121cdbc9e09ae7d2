"""The numeric strategies draw only legal values (tested, like pymtl3's strategies)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.fixedpoint import MAX_TOTAL_BITS, MIN_TOTAL_BITS, FixedFormat
from tests.strategies.numeric import (
    fixed_formats, fixed_tensors, float_arrays_in_range, floats_in_range, requantizers, stored_ints, upsample_cases,
)


@given(fixed_formats())
def test_formats_are_legal(fmt: FixedFormat) -> None:
    assert MIN_TOTAL_BITS <= fmt.total_bits <= MAX_TOTAL_BITS
    assert fmt.int_bits <= fmt.total_bits
    assert fmt.min_int < fmt.max_int


@given(fixed_formats(min_bits=5, max_bits=7, signed=False))
def test_format_bounds_respected(fmt: FixedFormat) -> None:
    assert 5 <= fmt.total_bits <= 7 and not fmt.signed


@given(st.data(), fixed_formats())
def test_stored_ints_in_range(data, fmt: FixedFormat) -> None:
    q = data.draw(stored_ints(fmt))
    assert fmt.min_int <= q <= fmt.max_int


@given(st.data(), fixed_formats())
def test_fixed_tensors_on_grid(data, fmt: FixedFormat) -> None:
    t = data.draw(fixed_tensors(fmt, (2, 3)))
    assert t.shape == (2, 3) and t.values.dtype == fmt.storage_dtype and t.fmt == fmt
    assert t.values.min() >= fmt.min_int and t.values.max() <= fmt.max_int


@given(st.data(), fixed_formats())
def test_floats_in_range(data, fmt: FixedFormat) -> None:
    x = data.draw(floats_in_range(fmt))
    assert np.isfinite(x) and fmt.min_value <= x <= fmt.max_value
    arr = data.draw(float_arrays_in_range(fmt, (4,)))
    assert arr.shape == (4,) and np.all((arr >= fmt.min_value) & (arr <= fmt.max_value))


@given(requantizers(acc_min_bits=40, acc_max_bits=48))
def test_requantizers(rq) -> None:
    assert 40 <= rq.accumulator.bits <= 48


@given(st.data())
def test_upsample_cases_are_accepted_sizes(data) -> None:
    fmt = FixedFormat(total_bits=12, int_bits=4, signed=True)
    ints, scale, out_h, out_w = data.draw(upsample_cases(fmt))
    _, _, h, w = ints.shape
    assert scale * h <= out_h < scale * (h + 1) and scale * w <= out_w < scale * (w + 1)
    assert ints.min() >= fmt.min_int and ints.max() <= fmt.max_int
