"""Fixed-point layer: formats, rounding/overflow semantics, quantisation and overflow counting."""

from fpgasim.fixedpoint.arith import (
    FixedTensor, OverflowCounts, dequantize, finish_accumulation, fit_range, quantize, requantize, round_shift,
)
from fpgasim.fixedpoint.formats import (
    MAX_ACCUMULATOR_BITS, MAX_FRAC_BITS, MAX_TOTAL_BITS, MIN_TOTAL_BITS, Accumulator, FixedFormat,
    Overflow, Requantizer, Rounding,
)

__all__ = [
    "FixedTensor", "OverflowCounts", "dequantize", "finish_accumulation", "fit_range", "quantize",
    "requantize", "round_shift", "MAX_ACCUMULATOR_BITS", "MAX_FRAC_BITS", "MAX_TOTAL_BITS",
    "MIN_TOTAL_BITS", "Accumulator", "FixedFormat", "Overflow", "Requantizer", "Rounding",
]
