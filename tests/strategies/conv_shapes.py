"""Hypothesis strategies for convolution tests: legal NCHW geometries, integer arrays, formats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from fpgasim.fixedpoint import FixedFormat, FixedTensor
from fpgasim.ops.window import Pair, as_pair

__all__ = ["ConvCase", "conv_cases", "int_array", "fixed_formats", "fixed_tensor"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvCase:
    """One legal grouped convolution geometry (sizes in elements)."""

    batch: int
    groups: int
    in_per_group: int
    out_per_group: int
    kernel_h: int
    kernel_w: int
    in_h: int
    in_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int

    @property
    def in_channels(self) -> int:
        return self.groups * self.in_per_group

    @property
    def out_channels(self) -> int:
        return self.groups * self.out_per_group

    @property
    def x_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.in_channels, self.in_h, self.in_w)

    @property
    def w_shape(self) -> tuple[int, int, int, int]:
        return (self.out_channels, self.in_per_group, self.kernel_h, self.kernel_w)

    @property
    def out_h(self) -> int:
        return (self.in_h + 2 * self.pad_h - self.kernel_h) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        return (self.in_w + 2 * self.pad_w - self.kernel_w) // self.stride_w + 1

    @property
    def reduction_len(self) -> int:
        return self.in_per_group * self.kernel_h * self.kernel_w

    @property
    def stride(self) -> Pair:
        """The stride argument: an int when both axes agree, else (height, width)."""
        return as_pair(self.stride_h, self.stride_w)

    @property
    def padding(self) -> Pair:
        """The padding argument: an int when both axes agree, else (height, width)."""
        return as_pair(self.pad_h, self.pad_w)

    def kwargs(self) -> dict[str, Pair]:
        """stride/padding/groups keyword arguments of the conv2d_* functions."""
        return {"stride": self.stride, "padding": self.padding, "groups": self.groups}


@st.composite
def conv_cases(draw, *, max_batch: int = 2, max_groups: int = 3, max_in_per_group: int = 6,
               max_out_per_group: int = 3, max_kernel: int = 4, max_size: int = 8, max_stride: int = 3,
               max_padding: int = 2, depthwise: bool = False, pointwise: bool = False) -> ConvCase:
    """A grouped convolution whose output is non-empty, with per-axis kernel, stride and padding
    (drawn equal on both axes half the time).

    ``depthwise`` forces one input channel and one filter per group; ``pointwise`` forces a
    1×1 kernel, stride 1, no padding and one group.
    """
    groups = draw(st.integers(1, max_groups))
    in_pg = 1 if depthwise else draw(st.integers(1, max_in_per_group))
    out_pg = 1 if depthwise else draw(st.integers(1, max_out_per_group))
    if pointwise:
        groups, kh, kw, sh, sw, ph, pw = 1, 1, 1, 1, 1, 0, 0
    else:
        square = draw(st.booleans())
        def axis() -> tuple[int, int, int]:
            return (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_stride)),
                    draw(st.integers(0, max_padding)))

        kh, sh, ph = axis()
        kw, sw, pw = (kh, sh, ph) if square else axis()
    # the padded input must hold the kernel
    in_h = draw(st.integers(max(1, kh - 2 * ph), max(max_size, kh)))
    in_w = draw(st.integers(max(1, kw - 2 * pw), max(max_size, kw)))
    return ConvCase(batch=draw(st.integers(1, max_batch)), groups=groups, in_per_group=in_pg, out_per_group=out_pg,
                    kernel_h=kh, kernel_w=kw, in_h=in_h, in_w=in_w, stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw)


def int_array(draw, shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    """An int64 array of ``shape`` in lo..hi: from a drawn seed, with the extremes mixed in.

    Hypothesis draws the seed and an "edge" flag; with the flag, a random quarter of the entries
    is set to lo or hi so that the worst-case magnitudes are exercised.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    if draw(st.booleans()):
        mask = rng.random(shape) < 0.25
        values[mask] = rng.choice(np.array([lo, hi], dtype=np.int64), size=int(mask.sum()))
    return values


@st.composite
def fixed_formats(draw, *, min_bits: int = 2, max_bits: int = 16, signed: bool | None = None) -> FixedFormat:
    """A FixedFormat with min_bits..max_bits total bits and −4..total_bits integer bits."""
    total = draw(st.integers(min_bits, max_bits))
    int_bits = draw(st.integers(-4, total))
    is_signed = draw(st.booleans()) if signed is None else signed
    return FixedFormat(total_bits=total, int_bits=int_bits, signed=is_signed)


def fixed_tensor(draw, shape: tuple[int, ...], fmt: FixedFormat) -> FixedTensor:
    """A FixedTensor of ``shape`` covering ``fmt``'s whole stored-integer range."""
    return FixedTensor(int_array(draw, shape, fmt.min_int, fmt.max_int).astype(fmt.storage_dtype), fmt)
