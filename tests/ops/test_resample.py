"""Nearest upsampling (the ScissionLite edge transfer layer) and zero padding (Swin's whole windows)
against their float64 references."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedFormat, FixedTensor
from fpgasim.ops import (
    max_pool2d_ref, pad_zeros_f32, pad_zeros_fixed, pad_zeros_ref, upsample_nearest_f32, upsample_nearest_fixed,
    upsample_nearest_ref,
)
from tests.strategies.numeric import fixed_tensors, upsample_cases

FMT = FixedFormat(total_bits=16, int_bits=6, signed=True)


@given(upsample_cases(FMT))
def test_fixed_and_f32_equal_the_reference(case) -> None:
    """Upsampling only copies values, so the derived error bound is 0 in every form."""
    ints, scale, out_h, out_w = case
    x = FixedTensor(ints, FMT)
    ref = upsample_nearest_ref(x.to_float(), scale=scale, out_h=out_h, out_w=out_w)
    y, counts = upsample_nearest_fixed(x, scale=scale, out_h=out_h, out_w=out_w)
    assert y.fmt == FMT and counts.output == 0
    assert np.array_equal(y.to_float(), ref)
    assert np.array_equal(upsample_nearest_f32(x.to_float(), scale=scale, out_h=out_h, out_w=out_w), ref)
    # every output pixel is its nearest source pixel
    i, j = out_h - 1, out_w - 1
    assert np.array_equal(ref[:, :, i, j], x.to_float()[:, :, min(i // scale, ints.shape[2] - 1),
                                                         min(j // scale, ints.shape[3] - 1)])


@given(upsample_cases(FMT))
def test_max_pool_after_upsample_gives_back_the_input(case) -> None:
    """The device TL (2x2/2 max pool) undoes the edge TL on an even-sized upsample: pool(up(x)) = x."""
    ints, _, _, _ = case
    x = ints.astype(np.float64)
    up = upsample_nearest_ref(x, scale=2)
    assert np.array_equal(max_pool2d_ref(up, kernel=2, stride=2, padding=0), x)


def test_odd_size_repeats_the_last_row() -> None:
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    y = upsample_nearest_ref(x, scale=2, out_h=7, out_w=7)
    assert y.shape == (1, 1, 7, 7) and np.array_equal(y[0, 0, 6], y[0, 0, 5]) and y[0, 0, 6, 6] == 8.0


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"scale": 0}, BadArgument, "scale=0"),
    ({"scale": 2, "out_h": 8}, BadArgument, r"out_h=8: expected an integer in \[6, 7\]"),
])
def test_bad_arguments(kwargs, error, fragment) -> None:
    with pytest.raises(error, match=fragment):
        upsample_nearest_ref(np.zeros((1, 1, 3, 3)), **kwargs)


def test_not_4d_is_refused() -> None:
    with pytest.raises(ShapeError, match="expected"):
        upsample_nearest_ref(np.zeros((3, 3)), scale=2)


@given(st.data(), st.tuples(*[st.integers(0, 3)] * 4))
def test_zero_padding_keeps_the_map_inside_zeros_around_it(data, pads) -> None:
    """Padding only places values, so every form equals the reference exactly: the input in the
    middle, zeros in the top/bottom rows and left/right columns."""
    x = data.draw(fixed_tensors(FMT, (1, 2, 3, 4)))
    top, bottom, left, right = pads
    ref = pad_zeros_ref(x.to_float(), pads=pads)
    assert ref.shape == (1, 2, 3 + top + bottom, 4 + left + right)
    assert np.array_equal(ref[:, :, top:top + 3, left:left + 4], x.to_float())
    assert np.count_nonzero(ref) == np.count_nonzero(x.values)
    y, counts = pad_zeros_fixed(x, pads=pads)
    assert y.fmt == FMT and counts.output == 0 and np.array_equal(y.to_float(), ref)
    assert np.array_equal(pad_zeros_f32(x.to_float(), pads=pads), ref)


@pytest.mark.parametrize("pads", [(1, 1, 1), (0, 0, -1, 0), (0, 0, 0, True), (0, 0.5, 0, 0), 3])
def test_pads_that_are_not_four_counts_are_refused(pads) -> None:
    with pytest.raises(BadArgument, match=r"pads=.*: expected \[top, bottom, left, right\], integers >= 0"):
        pad_zeros_ref(np.zeros((1, 1, 3, 3)), pads=pads)
