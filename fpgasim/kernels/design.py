"""Config pieces shared by every kernel design YAML (``kernels/*.yaml``).

Owns: the kernel type names, the number format of a design (floating point or fixed point with
its accumulator and requantisation semantics), per-buffer options (double buffering, memory
preference) and the labelled LUT/FF estimate. The kernel-type modules (:mod:`.tiled_conv`,
:mod:`.dsc_ode`) build their design classes from these.
"""

from __future__ import annotations

from enum import StrEnum

from fpgasim.config import Bool, NonNegFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.fixedpoint import Accumulator, FixedFormat, Overflow, Requantizer, Rounding
from fpgasim.kernels.resources import MemoryPreference

__all__ = [
    "KernelType", "NumberKind", "AccumulatorSpec", "FixedSpec", "PrecisionSpec", "BufferOptions",
    "LogicEstimate", "precision_problems", "stream_problems",
]


class KernelType(StrEnum):
    """The hardware engine a design instantiates (one module per type)."""

    #: Zhang FPGA'15 / Super-LIP tiled convolution engine (``tiled_conv.py``).
    TILED_CONV = "tiled_conv"
    #: Depthwise-separable / Neural-ODE engine with everything on chip (``dsc_ode.py``).
    DSC_ODE = "dsc_ode"


class NumberKind(StrEnum):
    """Number format of the datapath."""

    FP32 = "fp32"
    FP16 = "fp16"
    FIXED = "fixed"


@config_class
class AccumulatorSpec:
    """The accumulator register of a fixed-point MAC (e.g. the DSP48's 48 bits)."""

    #: register width in bits (2..63).
    bits: PosInt
    #: what a sum outside the register does: wrap | saturate.
    overflow: Overflow


@config_class
class FixedSpec:
    """A fixed-point datapath: ``ap_fixed<total_bits, int_bits>`` plus its semantics."""

    #: total bits W (2..32).
    total_bits: PosInt
    #: integer bits I including the sign bit (≤ total_bits).
    int_bits: int
    #: two's complement (true) or unsigned (false).
    signed: Bool
    #: how extra fraction bits are dropped: truncate | half_up | half_even.
    rounding: Rounding
    #: what an out-of-range output does: wrap | saturate.
    overflow: Overflow
    #: the MAC accumulator.
    accumulator: AccumulatorSpec

    def requantizer(self) -> Requantizer:
        """The :class:`~fpgasim.fixedpoint.Requantizer` this spec describes.

        Raises:
            BadArgument: the format is invalid (the loader reports this as a ConfigError first).
        """
        fmt = FixedFormat(total_bits=self.total_bits, int_bits=self.int_bits, signed=self.signed)
        acc = Accumulator(bits=self.accumulator.bits, overflow=self.accumulator.overflow)
        return Requantizer(out=fmt, rounding=self.rounding, overflow=self.overflow, accumulator=acc)


@config_class
class PrecisionSpec:
    """Number format: ``kind: fp32`` / ``fp16``, or ``kind: fixed`` with a ``fixed:`` section."""

    #: fp32 | fp16 | fixed.
    kind: NumberKind
    #: required when kind is fixed, forbidden otherwise.
    fixed: FixedSpec | None = None

    @property
    def word_bits(self) -> int:
        """Bits of one stored value (32, 16, or the fixed format's total bits)."""
        if self.kind is NumberKind.FP32:
            return 32
        if self.kind is NumberKind.FP16:
            return 16
        return self._fixed().total_bits

    @property
    def mac_precision(self) -> str:
        """The DSP-cost class (``boards/dsp_types.yaml``): fp32, fp16, int8, int16 or int32.

        Fixed point rounds up to the next integer class: ≤ 8 bits → int8, ≤ 16 → int16,
        else int32 (a MAC whose operands fit the DSP multiplier port costs one slice).
        """
        if self.kind is not NumberKind.FIXED:
            return self.kind.value
        bits = self.word_bits
        return "int8" if bits <= 8 else "int16" if bits <= 16 else "int32"

    def describe(self) -> str:
        """``fp32``, ``fp16`` or ``ap_fixed<16,6>`` style text."""
        if self.kind is not NumberKind.FIXED:
            return self.kind.value
        fixed = self._fixed()
        kind = "ap_fixed" if fixed.signed else "ap_ufixed"
        return f"{kind}<{fixed.total_bits},{fixed.int_bits}>"

    def _fixed(self) -> FixedSpec:
        if self.fixed is None:
            raise BadArgument("precision kind 'fixed' needs a 'fixed' section; got none")
        return self.fixed


@config_class
class BufferOptions:
    """How one on-chip buffer is built."""

    #: ping-pong pair (×2 memory) so loads overlap compute.
    double_buffered: Bool
    #: bram | uram | lutram | auto (rule in fpgasim/kernels/resources.py).
    memory: MemoryPreference = MemoryPreference.AUTO


@config_class
class LogicEstimate:
    """A LABELLED estimate of LUT/FF use; never presented as exact.

    ``luts = luts_fixed + luts_per_mac·MACs + luts_per_bank·banks`` (likewise FFs), plus the
    LUTs of LUTRAM buffers, which are counted exactly from their shapes.
    """

    #: LUTs per MAC unit (multiplier + adder + pipeline muxing).
    luts_per_mac: NonNegFloat
    #: flip-flops per MAC unit.
    ffs_per_mac: NonNegFloat
    #: LUTs per memory bank (address/enable decode, read mux).
    luts_per_bank: NonNegFloat
    #: flip-flops per memory bank.
    ffs_per_bank: NonNegFloat
    #: control, DMA/AXI-stream adapters, AXI-lite registers.
    luts_fixed: NonNegFloat
    #: flip-flops of the same.
    ffs_fixed: NonNegFloat
    #: where the numbers come from, or "uncalibrated".
    source: Str


def precision_problems(precision: PrecisionSpec, doc: YamlDocument, path: tuple) -> list[Problem]:
    """Cross-field checks of a precision section (fixed ⇔ kind fixed; a valid format)."""
    problems: list[Problem] = []
    if precision.kind is NumberKind.FIXED and precision.fixed is None:
        problems.append(doc.problem(path + ("kind",), "kind is 'fixed' but no 'fixed:' section is given; "
                                    "expected fixed: {total_bits, int_bits, signed, rounding, overflow, accumulator}"))
    if precision.kind is not NumberKind.FIXED and precision.fixed is not None:
        problems.append(doc.problem(path + ("fixed",), f"a 'fixed:' section needs kind: fixed; got kind "
                                    f"{precision.kind.value!r}"))
    if precision.fixed is not None:
        try:
            precision.fixed.requantizer()
        except BadArgument as exc:
            key = "accumulator" if "accumulator" in str(exc) else "total_bits" if "total_bits=" in str(exc) \
                and "exceeds" not in str(exc) else "int_bits"
            problems.append(doc.problem(path + ("fixed", key), str(exc)))
    return problems


def stream_problems(widths: dict[str, int], word_bits: int, doc: YamlDocument, path: tuple) -> list[Problem]:
    """Each AXI/DMA stream width must be a multiple of 8 bits and hold at least one word."""
    problems = []
    for name, width in widths.items():
        if width % 8:
            problems.append(doc.problem(path + (name,), f"{width} bits is not a multiple of 8; "
                                        "expected an AXI-stream width in whole bytes"))
        elif width < word_bits:
            problems.append(doc.problem(path + (name,), f"{width} bits is narrower than one {word_bits}-bit "
                                        f"word; expected at least {word_bits}"))
    return problems
