"""FixedFormat, Accumulator and Requantizer: bounds, resolution, storage and every bad argument."""

import numpy as np
import pytest
from hypothesis import given

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import Accumulator, FixedFormat, Overflow, Requantizer, Rounding
from tests.strategies.numeric import fixed_formats


def fmt(w, i, s=True):
    return FixedFormat(total_bits=w, int_bits=i, signed=s)


@pytest.mark.parametrize(
    ("w", "i", "s", "lo", "hi", "res"),
    [
        (8, 8, True, -128, 127, 1.0),  # plain int8
        (8, 4, True, -8.0, 7.9375, 1 / 16),  # ap_fixed<8,4>
        (8, 0, True, -0.5, 0.5 - 2**-8, 2**-8),
        (8, 4, False, 0.0, 15.9375, 1 / 16),  # ap_ufixed<8,4>
        (4, -2, True, -2**-3, 2**-3 - 2**-6, 2**-6),  # negative int_bits
        (2, 1, True, -1.0, 0.5, 0.5),
    ],
)
def test_bounds_and_resolution(w, i, s, lo, hi, res) -> None:
    f = fmt(w, i, s)
    assert f.min_value == lo and f.max_value == hi and f.resolution == res
    assert f.frac_bits == w - i
    assert str(f) == (f"ap_fixed<{w},{i}>" if s else f"ap_ufixed<{w},{i}>")


@pytest.mark.parametrize(
    ("w", "s", "dtype"),
    [(2, True, np.int8), (8, True, np.int8), (9, True, np.int16), (16, False, np.uint16),
     (17, False, np.uint32), (32, True, np.int32), (8, False, np.uint8)],
)
def test_storage_dtype(w, s, dtype) -> None:
    assert fmt(w, 1, s).storage_dtype == np.dtype(dtype)


@given(fixed_formats())
def test_every_format_range_fits_its_storage(f: FixedFormat) -> None:
    info = np.iinfo(f.storage_dtype)
    assert info.min <= f.min_int and f.max_int <= info.max
    assert f.max_int - f.min_int == 2**f.total_bits - 1
    assert f.max_value - f.min_value == pytest.approx((2**f.total_bits - 1) * f.resolution, rel=0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (dict(total_bits=1, int_bits=1, signed=True), "total_bits=1"),
        (dict(total_bits=33, int_bits=1, signed=True), "total_bits=33"),
        (dict(total_bits=8, int_bits=9, signed=True), "int_bits=9 exceeds total_bits=8"),
        (dict(total_bits=8, int_bits=-60, signed=True), "fraction bits"),
        (dict(total_bits=8.0, int_bits=1, signed=True), "total_bits=8.0"),
        (dict(total_bits=True, int_bits=1, signed=True), "total_bits=True"),
        (dict(total_bits=8, int_bits="4", signed=True), "int_bits='4'"),
        (dict(total_bits=8, int_bits=4, signed="yes"), "signed='yes'"),
    ],
)
def test_bad_format_arguments(kwargs, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment.replace("(", r"\(")):
        FixedFormat(**kwargs)


def test_format_is_frozen() -> None:
    f = fmt(8, 4)
    with pytest.raises(AttributeError):
        f.total_bits = 9  # type: ignore[misc]


@pytest.mark.parametrize(("bits", "fragment"), [(1, "bits=1"), (64, "bits=64"), (8.5, "bits=8.5")])
def test_bad_accumulator_bits(bits, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment):
        Accumulator(bits=bits, overflow=Overflow.WRAP)


def test_accumulator_range_and_string_mode() -> None:
    acc = Accumulator(bits=48, overflow="saturate")
    assert acc.overflow is Overflow.SATURATE
    assert (acc.min_int, acc.max_int) == (-(2**47), 2**47 - 1)


def test_unknown_modes_name_the_argument_and_the_choices() -> None:
    acc = Accumulator(bits=32, overflow="wrap")
    with pytest.raises(BadArgument, match=r"accumulator overflow='clip' is not one of: wrap, saturate"):
        Accumulator(bits=32, overflow="clip")
    with pytest.raises(BadArgument, match=r"rounding='nearest' is not one of: truncate, half_up, half_even"):
        Requantizer(out=fmt(8, 4), rounding="nearest", overflow="wrap", accumulator=acc)
    with pytest.raises(BadArgument, match=r"overflow='clip' is not one of: wrap, saturate"):
        Requantizer(out=fmt(8, 4), rounding="truncate", overflow="clip", accumulator=acc)
    with pytest.raises(BadArgument, match="out="):
        Requantizer(out=(8, 4), rounding="truncate", overflow="wrap", accumulator=acc)
    with pytest.raises(BadArgument, match="accumulator="):
        Requantizer(out=fmt(8, 4), rounding="truncate", overflow="wrap", accumulator=32)


def test_requantizer_parses_strings_to_enums() -> None:
    rq = Requantizer(out=fmt(8, 4), rounding="half_even", overflow="saturate",
                     accumulator=Accumulator(bits=32, overflow="wrap"))
    assert rq.rounding is Rounding.HALF_EVEN and rq.overflow is Overflow.SATURATE
