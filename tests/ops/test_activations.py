"""ReLU and ReLU6 in float64, float32 and fixed point (including formats where 6 does not fit)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedFormat, FixedTensor, OverflowCounts
from fpgasim.ops.activations import relu6_f32, relu6_fixed, relu6_ref, relu_f32, relu_fixed, relu_ref
from tests.strategies.numeric import fixed_formats, fixed_tensors

X = np.array([-7.0, -0.5, 0.0, 0.25, 5.5, 6.0, 6.5, 100.0])


def test_float_hand_computed() -> None:
    assert relu_ref(X).tolist() == [0, 0, 0, 0.25, 5.5, 6, 6.5, 100]
    assert relu6_ref(X).tolist() == [0, 0, 0, 0.25, 5.5, 6, 6, 6]
    assert relu_f32(X).dtype == np.float32 and relu6_f32(X).tolist() == relu6_ref(X).tolist()


def test_relu6_fixed_clamps_at_six_in_format() -> None:
    f = FixedFormat(total_bits=8, int_bits=4, signed=True)  # -8 .. 7.9375: 6 is representable
    x = FixedTensor(np.array([-128, -1, 0, 95, 96, 97, 127], np.int8), f)
    out, counts = relu6_fixed(x)
    assert out.to_float().tolist() == [0, 0, 0, 5.9375, 6, 6, 6] and counts == OverflowCounts()


def test_relu6_fixed_saturates_when_six_is_not_representable() -> None:
    f = FixedFormat(total_bits=8, int_bits=3, signed=True)  # -4 .. 3.96875
    x = FixedTensor(np.array([-5, 127], np.int8), f)
    out, _ = relu6_fixed(x)
    assert out.values.tolist() == [0, 127] and out.to_float()[1] == f.max_value


@given(st.data(), fixed_formats())
def test_fixed_equals_float_reference(data, f) -> None:
    x = data.draw(fixed_tensors(f, (7,)))
    for fixed_fn, ref_fn in ((relu_fixed, relu_ref), (relu6_fixed, relu6_ref)):
        out, counts = fixed_fn(x)
        assert out.fmt == f and out.values.dtype == f.storage_dtype and counts.total == 0
        assert np.array_equal(out.to_float(), ref_fn(x.to_float()))


def test_bad_input() -> None:
    with pytest.raises(BadArgument, match="x=ndarray: expected a FixedTensor"):
        relu_fixed(X)
    with pytest.raises(BadArgument, match="x has dtype <U1"):
        relu_ref(np.array(["a"]))
