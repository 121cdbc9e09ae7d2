"""The convolution strategies draw only legal geometries, values and formats."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.ops.conv import output_size
from tests.strategies.conv_shapes import conv_cases, fixed_formats, fixed_tensor, int_array


@given(conv_cases())
def test_conv_cases_have_a_non_empty_output_and_divisible_channels(case) -> None:
    assert case.out_h >= 1 and case.out_w >= 1
    assert case.out_h == output_size(case.in_h, case.kernel_h, case.stride_h, case.pad_h)
    assert case.out_w == output_size(case.in_w, case.kernel_w, case.stride_w, case.pad_w)
    assert case.in_channels % case.groups == 0 and case.out_channels % case.groups == 0
    assert case.w_shape[1] * case.groups == case.x_shape[1]


@given(conv_cases(depthwise=True))
def test_depthwise_cases_have_one_channel_and_one_filter_per_group(case) -> None:
    assert case.in_per_group == 1 and case.out_per_group == 1
    assert case.w_shape == (case.in_channels, 1, case.kernel_h, case.kernel_w)


@given(conv_cases(pointwise=True))
def test_pointwise_cases_are_one_by_one_unpadded_unstrided(case) -> None:
    assert (case.kernel_h, case.kernel_w, case.stride, case.padding, case.groups) == (1, 1, 1, 0, 1)
    assert (case.out_h, case.out_w) == (case.in_h, case.in_w)


@given(st.data(), st.integers(-50, 0), st.integers(0, 50))
def test_int_array_stays_in_range(data, lo, hi) -> None:
    values = int_array(data.draw, (3, 4), lo, hi)
    assert values.dtype == np.int64 and values.shape == (3, 4)
    assert values.min() >= lo and values.max() <= hi


@given(st.data(), fixed_formats())
def test_fixed_tensor_is_inside_its_format(data, fmt) -> None:
    tensor = fixed_tensor(data.draw, (2, 5), fmt)
    assert tensor.values.dtype == fmt.storage_dtype
    assert tensor.values.min() >= fmt.min_int and tensor.values.max() <= fmt.max_int
    assert fmt.frac_bits >= 0
