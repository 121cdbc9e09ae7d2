"""Inputs of the analytical model: layer shape, tiling, partition, stream rates, bounds.

Owns the frozen argument objects of :mod:`fpgasim.mapping.latency` and
:mod:`fpgasim.mapping.search` (``Tiling`` is the engine schedule's, re-exported) and their validation (every bad value raises
:class:`~fpgasim.errors.BadArgument` naming the argument, the value and what was expected),
plus the bandwidth → elements-per-cycle conversion.

Notation (reference/superlip-model.md): B batch, M output channels, N input channels, R×C
output rows×columns, K kernel, S stride (per axis: KH×KW, SH, SW); tiles Tm, Tn, Tr, Tc;
partition Pb, Pr, Pc, Pm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import Tiling
from fpgasim.nn import Conv2d, Depthwise, Pointwise
from fpgasim.ops.window import Pair, WindowAxes, as_pair, per_axis

__all__ = ["ModelVariant", "Bottleneck", "ConvShape", "Tiling", "Partition", "StreamRates",
           "ResourceBounds", "conv_shape", "rate_from_bandwidth"]


class ModelVariant(StrEnum):
    """Which form of the per-tile model to evaluate (see docs/analytical-model.md)."""

    #: Exactly the authors' released code (PARA.py): no halo, no stride, 1/P link share,
    #: the two-board XFER rows incl. the all-ones fallback, no fill/drain.
    RELEASED = "released"
    #: Physically complete: IFM halo and stride, (P−1)/P received share, tiles clipped to the
    #: per-board dimensions, explicit pipeline fill (first load) and drain (last store).
    COMPLETE = "complete"


class Bottleneck(StrEnum):
    """The term that attains the maximum of the steady-state per-output-tile latency."""

    COMPUTE = "compute"
    DDR_READ_IFM = "DDR read IFM"
    DDR_READ_WEIGHTS = "DDR read weights"
    DDR_WRITE_OFM = "DDR write OFM"
    LINK = "link"


def _int(owner: str, field: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadArgument(f"{owner}: {field}={value!r}: expected an integer >= {minimum}")


def _check_ints(obj: object, owner: str, minimum: int, fields: tuple[str, ...]) -> None:
    for field in fields:
        _int(owner, field, getattr(obj, field), minimum)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvShape(WindowAxes):
    """One conv layer as the model sees it; channel counts are PER GROUP.

    Attributes:
        batch: B, samples.
        out_channels: M, output channels of one group.
        in_channels: N, input channels of one group.
        out_h, out_w: R, C, output rows and columns.
        kernel: K. stride: S. padding: zero padding per side (shape only; not modelled traffic).
            Each an int (both axes) or (height, width), stored canonically (an int when square);
            ``kernel_h``/``kernel_w``, ``stride_h``/``stride_w`` give the axes.
        groups: channel groups, run one after another (latency × groups).

    Raises:
        BadArgument: a non-positive size or negative padding.
    """

    batch: int
    out_channels: int
    in_channels: int
    out_h: int
    out_w: int
    kernel: Pair
    stride: Pair = 1
    padding: Pair = 0
    groups: int = 1

    def __post_init__(self) -> None:
        _check_ints(self, "ConvShape", 1, ("batch", "out_channels", "in_channels", "out_h", "out_w", "groups"))
        for field, minimum in (("kernel", 1), ("stride", 1), ("padding", 0)):
            try:
                object.__setattr__(self, field, as_pair(*per_axis(field, getattr(self, field), minimum)))
            except BadArgument as exc:
                raise BadArgument(f"ConvShape: {exc}") from None

    @property
    def macs(self) -> int:
        """MACs of the whole layer (all groups, whole batch)."""
        return (self.groups * self.batch * self.out_channels * self.in_channels
                * self.out_h * self.out_w * self.kernel_h * self.kernel_w)


def conv_shape(layer: Conv2d | Depthwise | Pointwise, *, batch: int) -> ConvShape:
    """The :class:`ConvShape` of a conv-like ``fpgasim.nn`` layer.

    Raises:
        BadArgument: a layer that is not conv-like, or batch < 1.
    """
    if not isinstance(layer, (Conv2d, Depthwise, Pointwise)):
        raise BadArgument(f"conv_shape: layer={layer!r}: expected Conv2d, Depthwise or Pointwise")
    conv = layer.as_conv()
    return ConvShape(batch=batch, out_channels=conv.out_channels // conv.groups,
                     in_channels=conv.in_channels // conv.groups, out_h=conv.out_h, out_w=conv.out_w,
                     kernel=conv.kernel, stride=conv.stride, padding=conv.padding, groups=conv.groups)


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """How a layer is split over boards: parts along batch, rows, columns, output channels.

    Raises:
        BadArgument: a factor < 1.
    """

    pb: int = 1
    pr: int = 1
    pc: int = 1
    pm: int = 1

    def __post_init__(self) -> None:
        _check_ints(self, "Partition", 1, ("pb", "pr", "pc", "pm"))

    @property
    def boards(self) -> int:
        """Boards used: Pb·Pr·Pc·Pm."""
        return self.pb * self.pr * self.pc * self.pm

    @property
    def spatial(self) -> int:
        """P_s = Pb·Pr·Pc: boards sharing the same weights."""
        return self.pb * self.pr * self.pc

    def check(self, shape: ConvShape, *, boards: int | None = None) -> None:
        """Check each factor against its dimension and (optionally) the product against ``boards``.

        Raises:
            BadArgument: naming the factor, its value and the dimension it exceeds, or the
                product and the expected board count.
        """
        for field, dim, dim_name in (("pb", shape.batch, "batch B"), ("pr", shape.out_h, "out_h R"),
                                     ("pc", shape.out_w, "out_w C"), ("pm", shape.out_channels, "out_channels M")):
            value = getattr(self, field)
            if value > dim:
                raise BadArgument(f"Partition: {field}={value} exceeds {dim_name}={dim}: expected {field} <= {dim}")
        if boards is not None and self.boards != boards:
            raise BadArgument(f"Partition: pb*pr*pc*pm={self.boards} ({self}): expected the number of boards {boards}")

    def __str__(self) -> str:
        return f"Pb={self.pb},Pr={self.pr},Pc={self.pc},Pm={self.pm}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRates:
    """Stream rates in ELEMENTS PER CYCLE of the accelerator clock.

    Attributes:
        weights: w, DDR → weight buffer.
        ifm: i, DDR → IFM buffer.
        ofm: o, OFM buffer → DDR.
        link: a, one board's inter-FPGA receive rate; None = no link (no XFER sharing: with
            P > 1 every board reads the whole shared operand from its own DDR).
        step_fill_cycles: cycles the MAC pipeline takes to fill at every inner step (the
            engine's multiplier and adder-tree depth), which the complete model adds to each
            step's compute; 0 leaves it out (the released model has no such term).

    Raises:
        BadArgument: a rate that is not a positive finite number, or a negative fill.
    """

    weights: float
    ifm: float
    ofm: float
    link: float | None = None
    step_fill_cycles: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.step_fill_cycles, bool) or not isinstance(self.step_fill_cycles, int) \
                or self.step_fill_cycles < 0:
            raise BadArgument(f"StreamRates: step_fill_cycles={self.step_fill_cycles!r}: "
                              "expected a non-negative whole number of cycles")
        for field in ("weights", "ifm", "ofm", "link"):
            value = getattr(self, field)
            if field == "link" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise BadArgument(f"StreamRates: {field}={value!r}: expected a positive number of elements per cycle")

    @classmethod
    def uniform(cls, rate: float, *, link: bool = True) -> StreamRates:
        """All streams (and the link, if ``link``) at ``rate`` elements per cycle."""
        return cls(weights=rate, ifm=rate, ofm=rate, link=rate if link else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceBounds:
    """One board's DSP and BRAM18 budget for the tiling search, and the data width.

    Attributes:
        dsp: DSP slices available.
        bram18: 18 Kb block RAMs available.
        data_bits: bits per element (32 = fp32, 16 = 16-bit fixed; the released resource formulas).

    Raises:
        BadArgument: non-positive bounds or data_bits other than 16 or 32.
    """

    dsp: int
    bram18: int
    data_bits: int = 32

    def __post_init__(self) -> None:
        _check_ints(self, "ResourceBounds", 1, ("dsp", "bram18"))
        if self.data_bits not in (16, 32):
            raise BadArgument(f"ResourceBounds: data_bits={self.data_bits!r}: expected 16 or 32")


def rate_from_bandwidth(*, bandwidth_bytes_per_s: float, bytes_per_element: float, clock_mhz: float) -> float:
    """Convert a bandwidth to elements per accelerator cycle: B/s ÷ (bytes/element × f).

    Raises:
        BadArgument: a non-positive argument.
    """
    for name, value in (("bandwidth_bytes_per_s", bandwidth_bytes_per_s),
                        ("bytes_per_element", bytes_per_element), ("clock_mhz", clock_mhz)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise BadArgument(f"rate_from_bandwidth: {name}={value!r}: expected a positive number")
    return bandwidth_bytes_per_s / (bytes_per_element * clock_mhz * 1e6)
