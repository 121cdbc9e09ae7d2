"""Fixed-point tensors and the conversions between them, vectorised with numpy.

Owns: :class:`FixedTensor` (stored integers + format), :class:`OverflowCounts` (returned by every
fixed-point kernel), :func:`quantize` (real → fixed), :func:`dequantize` (fixed → real),
:func:`requantize` (fixed → another fixed format) and :func:`finish_accumulation` (an exact
int64 sum of products → accumulator width → output format), which every kernel in
:mod:`fpgasim.ops` calls once at its output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint.formats import (
    MAX_FRAC_BITS,
    Accumulator,
    FixedFormat,
    Overflow,
    Requantizer,
    Rounding,
    _parse_enum,
)

__all__ = [
    "FixedTensor",
    "OverflowCounts",
    "quantize",
    "dequantize",
    "requantize",
    "round_shift",
    "fit_range",
    "finish_accumulation",
]

# Largest magnitude a scaled float may have before it is clamped ahead of the int64 cast
# (anything that large is out of range of every format anyway, and is counted as such).
_INT64_SAFE = float(2**62)


@dataclass(frozen=True, slots=True)
class OverflowCounts:
    """How many values left their range in one kernel call.

    Attributes:
        output: output elements outside the output format (saturated or wrapped).
        accumulator: sums outside the accumulator register (saturated or wrapped).
    """

    output: int = 0
    accumulator: int = 0

    def __add__(self, other: OverflowCounts) -> OverflowCounts:
        return OverflowCounts(self.output + other.output, self.accumulator + other.accumulator)

    @property
    def total(self) -> int:
        """All overflow events together."""
        return self.output + self.accumulator


@dataclass(frozen=True, slots=True)
class FixedTensor:
    """An array of stored integers together with the format that gives them meaning.

    Attributes:
        values: integer numpy array; ``values * 2**-fmt.frac_bits`` are the real values.
        fmt: the fixed-point format.
    """

    values: np.ndarray
    fmt: FixedFormat

    def __post_init__(self) -> None:
        if not isinstance(self.fmt, FixedFormat):
            raise BadArgument(f"fmt={self.fmt!r}: expected a FixedFormat")
        values = np.asarray(self.values)
        if values.dtype.kind not in "iu":
            raise BadArgument(f"values dtype {values.dtype}: expected an integer array")
        if values.size and (values.min() < self.fmt.min_int or values.max() > self.fmt.max_int):
            raise BadArgument(
                f"values outside {self.fmt} (stored integers {self.fmt.min_int}..{self.fmt.max_int})"
            )
        object.__setattr__(self, "values", values)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the stored array."""
        return self.values.shape

    def to_float(self) -> np.ndarray:
        """Real values as float64 (exact: every stored integer fits the float64 mantissa)."""
        return dequantize(self)


def round_shift(values: np.ndarray, shift: int, rounding: Rounding) -> np.ndarray:
    """Divide int64 ``values`` by ``2**shift`` with the given rounding (shift ≥ 0)."""
    values = np.asarray(values, dtype=np.int64)
    if shift <= 0:
        return values << np.int64(-shift) if shift else values
    floor = values >> np.int64(shift)
    if rounding is Rounding.TRUNCATE:
        return floor
    half = np.int64(1) << np.int64(shift - 1)
    remainder = values - (floor << np.int64(shift))
    if rounding is Rounding.HALF_UP:
        return floor + (remainder >= half)
    tie_to_odd = (remainder == half) & ((floor & 1) == 1)
    return floor + ((remainder > half) | tie_to_odd)


def fit_range(values: np.ndarray, lo: int, hi: int, bits: int, overflow: Overflow) -> tuple[np.ndarray, int]:
    """Bring int64 ``values`` into ``lo..hi`` (a ``bits``-wide register); return them and the count outside."""
    values = np.asarray(values, dtype=np.int64)
    outside = (values < lo) | (values > hi)
    count = int(np.count_nonzero(outside))
    if not count:
        return values, 0
    if overflow is Overflow.SATURATE:
        return np.clip(values, lo, hi), count
    # Modular arithmetic in uint64 (well defined, wraps) so that a 63-bit register works too.
    offset = np.full(values.shape, lo % (1 << 64), dtype=np.uint64)
    mask = np.uint64((1 << bits) - 1)
    wrapped = ((values.view(np.uint64) - offset) & mask) + offset
    return wrapped.view(np.int64), count


def quantize(
    real: np.ndarray, fmt: FixedFormat, *, rounding: Rounding, overflow: Overflow
) -> tuple[FixedTensor, OverflowCounts]:
    """Real values → :class:`FixedTensor` in ``fmt``.

    Returns:
        The tensor and the counts (``output`` = elements outside ``fmt``'s range).

    Raises:
        BadArgument: NaN or infinite inputs, unknown rounding or overflow mode.
    """
    rounding = _parse_enum(Rounding, rounding, "rounding")
    overflow = _parse_enum(Overflow, overflow, "overflow")
    real = np.asarray(real, dtype=np.float64)
    if not np.all(np.isfinite(real)):
        raise BadArgument("quantize: input contains NaN or infinity; expected finite values")
    scaled = np.ldexp(real, fmt.frac_bits)
    if rounding is Rounding.TRUNCATE:
        rounded = np.floor(scaled)
    elif rounding is Rounding.HALF_UP:
        # floor(x + 0.5) is wrong when x + 0.5 rounds up (x = 0.49999999999999994);
        # x - floor(x) is exact, so compare the fraction instead.
        rounded = np.floor(scaled)
        rounded = rounded + (scaled - rounded >= 0.5)
    else:
        rounded = np.rint(scaled)
    ints = np.clip(rounded, -_INT64_SAFE, _INT64_SAFE).astype(np.int64)
    ints, count = fit_range(ints, fmt.min_int, fmt.max_int, fmt.total_bits, overflow)
    return FixedTensor(ints.astype(fmt.storage_dtype), fmt), OverflowCounts(output=count)


def dequantize(tensor: FixedTensor) -> np.ndarray:
    """:class:`FixedTensor` → float64 real values (exact)."""
    return np.ldexp(tensor.values.astype(np.float64), -tensor.fmt.frac_bits)


def requantize(
    tensor: FixedTensor, fmt: FixedFormat, *, rounding: Rounding, overflow: Overflow
) -> tuple[FixedTensor, OverflowCounts]:
    """Convert ``tensor`` to ``fmt``: re-align the binary point (rounding), then fit the range."""
    rounding = _parse_enum(Rounding, rounding, "rounding")
    overflow = _parse_enum(Overflow, overflow, "overflow")
    shift = tensor.fmt.frac_bits - fmt.frac_bits
    values = tensor.values.astype(np.int64)
    if shift < 0 and tensor.fmt.total_bits - shift > 63:
        raise BadArgument(f"requantize {tensor.fmt} → {fmt}: the left shift by {-shift} overflows int64")
    ints = round_shift(values, shift, rounding)
    ints, count = fit_range(ints, fmt.min_int, fmt.max_int, fmt.total_bits, overflow)
    return FixedTensor(ints.astype(fmt.storage_dtype), fmt), OverflowCounts(output=count)


def finish_accumulation(
    sums: np.ndarray, sum_frac_bits: int, requantizer: Requantizer
) -> tuple[FixedTensor, OverflowCounts]:
    """Exact int64 sums with ``sum_frac_bits`` fraction bits → the requantizer's output.

    Steps, in hardware order: the sum enters the accumulator register (its overflow mode and
    width), then the extra fraction bits are dropped with the rounding mode, then the result is
    fitted into the output format with the output overflow mode.
    """
    if not 0 <= sum_frac_bits <= MAX_FRAC_BITS:
        raise BadArgument(f"sum_frac_bits={sum_frac_bits}: expected 0..{MAX_FRAC_BITS}")
    acc: Accumulator = requantizer.accumulator
    in_acc, acc_count = fit_range(sums, acc.min_int, acc.max_int, acc.bits, acc.overflow)
    out = requantizer.out
    shift = sum_frac_bits - out.frac_bits
    if shift < 0 and acc.bits - shift > 63:
        raise BadArgument(
            f"output {out} has {-shift} more fraction bits than the accumulator; the shift overflows int64"
        )
    ints = round_shift(in_acc, shift, requantizer.rounding)
    ints, out_count = fit_range(ints, out.min_int, out.max_int, out.total_bits, requantizer.overflow)
    return FixedTensor(ints.astype(out.storage_dtype), out), OverflowCounts(output=out_count, accumulator=acc_count)
