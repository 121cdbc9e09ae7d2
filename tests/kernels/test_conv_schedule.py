"""The tile geometry the schedule, the buffers and the model share: one Tiling, one input window."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fpgasim.mapping
from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import Tiling, input_window, window_extent, window_outputs

SIZES = st.integers(1, 64)


def test_mapping_tiling_is_the_schedule_tiling() -> None:
    assert fpgasim.mapping.Tiling is Tiling


@pytest.mark.parametrize(("field", "value", "shown"), [("tm", 0, "0"), ("tr", 2.0, "2.0"), ("tc", True, "True")])
def test_tiling_rejects_non_positive_or_non_integer_sizes(field: str, value: object, shown: str) -> None:
    sizes = {"tm": 1, "tn": 1, "tr": 1, "tc": 1, field: value}
    with pytest.raises(BadArgument, match=rf"^Tiling: {field}={shown}: expected an integer >= 1$"):
        Tiling(**sizes)


def test_window_extent_hand_values() -> None:
    assert window_extent(13, 4, 11) == 59        # AlexNet conv1 row tile: 12·4 + 11
    assert window_extent(1, 2, 3) == 3           # one output reads one kernel window
    assert window_extent(6.0, 1, 3) == 8.0       # the analytical model's floats
    assert window_extent(np.array([1, 2, 3]), 2, 3).tolist() == [3, 5, 7]


def test_window_outputs_hand_values() -> None:
    assert window_outputs(59, 4, 11) == 13
    assert window_outputs(60, 4, 11) == 13       # one spare row does not fit another window
    assert window_outputs(2, 1, 3) == 0          # the kernel does not fit


@given(outputs=SIZES, stride=SIZES, kernel=SIZES)
def test_window_outputs_inverts_window_extent(outputs: int, stride: int, kernel: int) -> None:
    assert window_outputs(window_extent(outputs, stride, kernel), stride, kernel) == outputs


@given(inputs=st.integers(1, 500), stride=SIZES, kernel=SIZES)
def test_window_outputs_is_the_most_that_fit(inputs: int, stride: int, kernel: int) -> None:
    n = window_outputs(inputs, stride, kernel)
    assert window_extent(n, stride, kernel) <= inputs < window_extent(n + 1, stride, kernel)


@given(data=st.data(), stride=st.integers(1, 4), kernel=st.integers(1, 7), padding=st.integers(0, 3),
       in_size=st.integers(1, 40))
def test_input_window_is_the_window_clipped_to_the_input(data, stride: int, kernel: int, padding: int,
                                                      in_size: int) -> None:
    out_size = (in_size + 2 * padding - kernel) // stride + 1
    if out_size < 1:
        return
    lo = data.draw(st.integers(0, out_size - 1))
    hi = data.draw(st.integers(lo + 1, out_size))
    (first, stop), pad_before, extent = input_window((lo, hi), stride, kernel, padding, in_size)
    assert extent == window_extent(hi - lo, stride, kernel)
    assert first >= 0 and stop <= in_size  # stop < first: the window lies wholly in the padding
    assert first - pad_before == lo * stride - padding
    assert stop == min(lo * stride - padding + extent, in_size)
