"""Hypothesis strategies for fixed-point numbers: formats, tensors on the grid, floats in range.

Every strategy draws only legal values (a format the constructor accepts, stored integers
inside the format's range, finite floats inside the format's real range), so a test that
uses them never has to filter.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fpgasim.fixedpoint import (
    MAX_TOTAL_BITS, MIN_TOTAL_BITS, Accumulator, FixedFormat, FixedTensor, Overflow, Requantizer, Rounding,
)

__all__ = [
    "fixed_formats", "roundings", "overflows", "accumulators", "requantizers",
    "stored_ints", "fixed_tensors", "floats_in_range", "float_arrays_in_range", "upsample_cases",
]

roundings = st.sampled_from(list(Rounding))
overflows = st.sampled_from(list(Overflow))


@st.composite
def fixed_formats(
    draw, *, min_bits: int = MIN_TOTAL_BITS, max_bits: int = MAX_TOTAL_BITS,
    signed: bool | None = None, min_int_bits: int = -4,
) -> FixedFormat:
    """A legal :class:`FixedFormat`: total bits in ``min_bits..max_bits``, int bits in ``min_int_bits..total``."""
    total = draw(st.integers(min_bits, max_bits))
    int_bits = draw(st.integers(min_int_bits, total))
    is_signed = draw(st.booleans()) if signed is None else signed
    return FixedFormat(total_bits=total, int_bits=int_bits, signed=is_signed)


@st.composite
def accumulators(draw, *, min_bits: int = 2, max_bits: int = 63) -> Accumulator:
    """A legal accumulator register."""
    return Accumulator(bits=draw(st.integers(min_bits, max_bits)), overflow=draw(overflows))


@st.composite
def requantizers(draw, *, out=None, acc_min_bits: int = 2, acc_max_bits: int = 63) -> Requantizer:
    """A legal requantizer; ``out`` is a strategy for the output format (default: any format)."""
    return Requantizer(
        out=draw(out if out is not None else fixed_formats()),
        rounding=draw(roundings),
        overflow=draw(overflows),
        accumulator=draw(accumulators(min_bits=acc_min_bits, max_bits=acc_max_bits)),
    )


def stored_ints(fmt: FixedFormat) -> st.SearchStrategy[int]:
    """A stored integer of ``fmt`` (extremes included with high probability)."""
    return st.one_of(st.sampled_from([fmt.min_int, fmt.max_int, 0]), st.integers(fmt.min_int, fmt.max_int))


@st.composite
def fixed_tensors(draw, fmt: FixedFormat, shape: tuple[int, ...]) -> FixedTensor:
    """A :class:`FixedTensor` of ``shape`` in ``fmt`` (values on the grid, inside the range)."""
    size = int(np.prod(shape, dtype=np.int64))
    values = draw(st.lists(stored_ints(fmt), min_size=size, max_size=size))
    return FixedTensor(np.array(values, dtype=fmt.storage_dtype).reshape(shape), fmt)


def floats_in_range(fmt: FixedFormat) -> st.SearchStrategy[float]:
    """A finite float inside ``fmt``'s real range ``min_value..max_value``."""
    return st.floats(fmt.min_value, fmt.max_value, allow_nan=False, allow_infinity=False)


@st.composite
def float_arrays_in_range(draw, fmt: FixedFormat, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of ``shape`` whose values lie inside ``fmt``'s real range."""
    size = int(np.prod(shape, dtype=np.int64))
    values = draw(st.lists(floats_in_range(fmt), min_size=size, max_size=size))
    return np.array(values, dtype=np.float64).reshape(shape)


@st.composite
def upsample_cases(draw, fmt: FixedFormat) -> tuple[np.ndarray, int, int, int]:
    """``(stored ints (N, C, H, W) of fmt, scale, out_h, out_w)`` with each output side in
    [scale·side, scale·(side+1) − 1], the sizes nearest upsampling accepts."""
    n, c, h, w = (draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    scale = draw(st.integers(1, 3))
    out_h = draw(st.integers(scale * h, scale * (h + 1) - 1))
    out_w = draw(st.integers(scale * w, scale * (w + 1) - 1))
    seed = draw(st.integers(0, 2**31 - 1))
    return np.random.default_rng(seed).integers(fmt.min_int, fmt.max_int + 1, (n, c, h, w)), scale, out_h, out_w
