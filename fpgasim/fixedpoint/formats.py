"""Fixed-point number formats and the explicit semantics of every conversion.

Owns: :class:`FixedFormat` (``ap_fixed<W,I>`` / ``ap_ufixed<W,I>``: W total bits, I integer
bits including the sign bit, W−I fraction bits), the rounding and overflow modes, the
accumulator register, and :class:`Requantizer` — the bundle a fixed-point kernel needs to turn
its exact integer sums into output values. No field has a default: semantics are always
stated by the caller, never silently applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fpgasim.errors import BadArgument

__all__ = [
    "Rounding",
    "Overflow",
    "FixedFormat",
    "Accumulator",
    "Requantizer",
    "MIN_TOTAL_BITS",
    "MAX_TOTAL_BITS",
    "MAX_ACCUMULATOR_BITS",
    "MAX_FRAC_BITS",
]

#: Narrowest data format (a signed 2-bit number still has a sign and one magnitude bit).
MIN_TOTAL_BITS = 2
#: Widest data format; products of two such numbers stay exact in int64.
MAX_TOTAL_BITS = 32
#: Widest accumulator: sums are carried in int64, one bit is the sign.
MAX_ACCUMULATOR_BITS = 63
#: Largest number of fraction bits (keeps 2**frac_bits exact and shifts inside int64).
MAX_FRAC_BITS = 62


class Rounding(StrEnum):
    """How values between two representable numbers are resolved (Vivado HLS names in brackets)."""

    #: Toward minus infinity, i.e. drop the extra bits [AP_TRN].
    TRUNCATE = "truncate"
    #: To nearest, ties toward plus infinity [AP_RND].
    HALF_UP = "half_up"
    #: To nearest, ties to the even neighbour [AP_RND_CONV].
    HALF_EVEN = "half_even"


class Overflow(StrEnum):
    """What happens to a value outside the representable range."""

    #: Keep the low W bits (two's complement wrap-around) [AP_WRAP].
    WRAP = "wrap"
    #: Clamp to the nearest representable extreme [AP_SAT].
    SATURATE = "saturate"


def _parse_enum(enum_type: type[StrEnum], value: object, argument: str) -> StrEnum:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise BadArgument(f"{argument}={value!r} is not one of: {allowed}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedFormat:
    """A two's complement (or unsigned) fixed-point format with ``ap_fixed<W,I>`` semantics.

    The stored integer ``q`` represents ``q * 2**-frac_bits``. ``int_bits`` counts the sign bit
    for signed formats and may be negative (numbers smaller than one half) but never exceeds
    ``total_bits``.

    Raises:
        BadArgument: total_bits outside 2..32, int_bits > total_bits, too many fraction bits.
    """

    total_bits: int
    int_bits: int
    signed: bool

    def __post_init__(self) -> None:
        for name in ("total_bits", "int_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise BadArgument(f"{name}={value!r}: expected an integer")
        if not isinstance(self.signed, (bool, np.bool_)):
            raise BadArgument(f"signed={self.signed!r}: expected True or False")
        if not MIN_TOTAL_BITS <= self.total_bits <= MAX_TOTAL_BITS:
            raise BadArgument(
                f"total_bits={self.total_bits}: expected {MIN_TOTAL_BITS}..{MAX_TOTAL_BITS}"
            )
        if self.int_bits > self.total_bits:
            raise BadArgument(
                f"int_bits={self.int_bits} exceeds total_bits={self.total_bits}: "
                "expected int_bits <= total_bits"
            )
        if self.frac_bits > MAX_FRAC_BITS:
            raise BadArgument(
                f"int_bits={self.int_bits} leaves {self.frac_bits} fraction bits: "
                f"expected at most {MAX_FRAC_BITS}"
            )

    @property
    def frac_bits(self) -> int:
        """Number of bits after the binary point (W − I)."""
        return self.total_bits - self.int_bits

    @property
    def min_int(self) -> int:
        """Smallest stored integer."""
        return -(1 << (self.total_bits - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        """Largest stored integer."""
        return (1 << (self.total_bits - 1)) - 1 if self.signed else (1 << self.total_bits) - 1

    @property
    def resolution(self) -> float:
        """Value of one least significant bit, 2**-frac_bits."""
        return 2.0 ** -self.frac_bits

    @property
    def min_value(self) -> float:
        """Smallest representable real value."""
        return self.min_int * self.resolution

    @property
    def max_value(self) -> float:
        """Largest representable real value."""
        return self.max_int * self.resolution

    @property
    def storage_dtype(self) -> np.dtype:
        """Narrowest numpy integer dtype that holds every stored integer."""
        for bits in (8, 16, 32, 64):
            dtype = np.dtype(f"int{bits}") if self.signed else np.dtype(f"uint{bits}")
            if self.total_bits <= bits:
                return dtype
        raise AssertionError("unreachable: total_bits is at most 32")

    def __str__(self) -> str:
        kind = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{kind}<{self.total_bits},{self.int_bits}>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Accumulator:
    """The signed register in which a kernel sums its products (e.g. the DSP48's 48 bits).

    Products are summed exactly in int64; the final sum is then brought into ``bits`` bits with
    ``overflow``. With WRAP this equals a wrapping hardware accumulator whatever the summation
    order (modular arithmetic); with SATURATE it equals a saturating one whenever no partial
    sum left the range before the final sum came back into it (the documented approximation).
    """

    bits: int
    overflow: Overflow

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)):
            raise BadArgument(f"accumulator bits={self.bits!r}: expected an integer")
        if not 2 <= self.bits <= MAX_ACCUMULATOR_BITS:
            raise BadArgument(f"accumulator bits={self.bits}: expected 2..{MAX_ACCUMULATOR_BITS}")
        object.__setattr__(self, "overflow", _parse_enum(Overflow, self.overflow, "accumulator overflow"))

    @property
    def min_int(self) -> int:
        """Smallest value the register holds."""
        return -(1 << (self.bits - 1))

    @property
    def max_int(self) -> int:
        """Largest value the register holds."""
        return (1 << (self.bits - 1)) - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Requantizer:
    """Everything a fixed-point kernel needs to produce its output: all explicit.

    Attributes:
        out: the output format.
        rounding: how the accumulator's extra fraction bits are dropped.
        overflow: what happens to outputs outside ``out``'s range.
        accumulator: the register the products are summed in.
    """

    out: FixedFormat
    rounding: Rounding
    overflow: Overflow
    accumulator: Accumulator

    def __post_init__(self) -> None:
        if not isinstance(self.out, FixedFormat):
            raise BadArgument(f"out={self.out!r}: expected a FixedFormat")
        if not isinstance(self.accumulator, Accumulator):
            raise BadArgument(f"accumulator={self.accumulator!r}: expected an Accumulator")
        object.__setattr__(self, "rounding", _parse_enum(Rounding, self.rounding, "rounding"))
        object.__setattr__(self, "overflow", _parse_enum(Overflow, self.overflow, "overflow"))
