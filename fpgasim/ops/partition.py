"""Partitioned execution of one convolution layer: P parts, each a board's share, reassembled.

A layer ``conv2d(x (N,C,H,W), w (M,C/groups,KH,KW), bias, stride, padding, groups)`` (stride and
padding an int or (height, width)) is split into
``parts`` pieces along one :class:`SplitKind`:

* ``output_channels``: contiguous ranges of filters (weight rows + bias entries). With
  ``groups == 1`` every part reads all input channels and ``parts <= M``; with ``groups > 1``
  parts take whole groups (their input channels only), so ``parts <= groups`` (depthwise:
  one part per channel at most).
* ``rows`` / ``cols``: contiguous ranges of output rows / columns; each part reads the input
  rows/columns its windows touch, including the halo (overlap with its neighbours), and applies
  itself the zero padding that falls on its side of the image.
* ``batch``: contiguous ranges of images; full weights.

Sizes are balanced (the first ``D mod P`` parts get one more). :func:`plan_partition` returns
the :class:`PartPlan` of every part — which input box, weight rows and output box it needs
(what a board must load and produce); :func:`run_partitioned` runs each part with the chosen
:class:`ConvPath` on its own slices (zero padding applied explicitly, then ``padding=0``) and
reassembles the output. Fixed point and exact integer sums are per-output-element computations,
so the result is identical BIT FOR BIT to the unpartitioned call. Float32 is bit-identical only
while the conv engine uses its direct loop (fewer than 8 input channels per group, e.g.
depthwise); its im2col + BLAS path sums in an order that depends on the slice shapes, so there
the parts agree only to float32 rounding (measured: ~1e-6 relative). Float64 (``ref``, einsum)
likewise agrees to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer
from fpgasim.fixedpoint.formats import _parse_enum
from fpgasim.ops._conv_check import check_int_param
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_int_sums, conv2d_ref, output_size
from fpgasim.ops.window import Pair, per_axis

__all__ = ["SplitKind", "ConvPath", "PartPlan", "PartitionResult", "plan_partition", "run_partitioned",
           "balanced_ranges"]


class SplitKind(StrEnum):
    """The dimension a layer is split along."""

    OUTPUT_CHANNELS = "output_channels"
    ROWS = "rows"
    COLS = "cols"
    BATCH = "batch"


class ConvPath(StrEnum):
    """Which convolution each part runs."""

    REF = "ref"  #: conv2d_ref, float64
    F32 = "f32"  #: conv2d_f32
    INT_SUMS = "int_sums"  #: conv2d_int_sums (bias must be None)
    FIXED = "fixed"  #: conv2d_fixed (FixedTensors and a requantizer)


Range = tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class PartPlan:
    """What one part reads and writes; every range is half-open ``(start, stop)`` in elements.

    Attributes:
        index: part number, 0-based.
        batch: images of x and of the output.
        in_channels: input channels read. in_rows / in_cols: rows/columns of the (unpadded) input read.
        pad_top, pad_bottom, pad_left, pad_right: zero padding the part applies itself.
        out_channels: filters, i.e. weight rows and bias entries, and output channels written.
        out_rows / out_cols: output rows/columns written.
        groups: the groups argument of the part's convolution.
    """

    index: int
    batch: Range
    in_channels: Range
    in_rows: Range
    in_cols: Range
    pad_top: int
    pad_bottom: int
    pad_left: int
    pad_right: int
    out_channels: Range
    out_rows: Range
    out_cols: Range
    groups: int

    @property
    def x_slice(self) -> tuple[slice, ...]:
        """Slices of x (N, C, H, W) the part reads."""
        return tuple(slice(*r) for r in (self.batch, self.in_channels, self.in_rows, self.in_cols))

    @property
    def w_slice(self) -> slice:
        """Slice of w along axis 0 (and of the bias)."""
        return slice(*self.out_channels)

    @property
    def out_slice(self) -> tuple[slice, ...]:
        """Slices of the output (N, M, OH, OW) the part writes."""
        return tuple(slice(*r) for r in (self.batch, self.out_channels, self.out_rows, self.out_cols))

    @property
    def in_elements(self) -> int:
        """Input elements loaded (halo included, padding excluded)."""
        return int(np.prod([r[1] - r[0] for r in (self.batch, self.in_channels, self.in_rows, self.in_cols)]))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PartitionResult:
    """Reassembled output, summed overflow counts (zero for float/int paths) and the plans."""

    output: np.ndarray | FixedTensor
    counts: OverflowCounts
    plans: tuple[PartPlan, ...]


def balanced_ranges(length: int, parts: int) -> list[Range]:
    """Split ``0..length`` into ``parts`` contiguous non-empty ranges, the first ``length % parts`` longer."""
    base, extra = divmod(length, parts)
    ranges, start = [], 0
    for i in range(parts):
        stop = start + base + (i < extra)
        ranges.append((start, stop))
        start = stop
    return ranges


def _window(out_range: Range, stride: int, padding: int, kernel: int, size: int) -> tuple[Range, int, int]:
    first = out_range[0] * stride - padding
    stop = (out_range[1] - 1) * stride - padding + kernel
    return (max(first, 0), min(stop, size)), max(-first, 0), max(stop - size, 0)


def plan_partition(x_shape: tuple[int, ...], w_shape: tuple[int, ...], *, stride: Pair, padding: Pair, groups: int,
                   split: SplitKind, parts: int) -> tuple[PartPlan, ...]:
    """The plan of every part of a grouped NCHW convolution split ``parts`` ways along ``split``.

    Args:
        x_shape: (N, C, H, W). w_shape: (M, C/groups, KH, KW). stride, padding, groups: as conv2d.
        split: the dimension to split. parts: number of parts (≥ 1).

    Returns:
        One :class:`PartPlan` per part, in order.

    Raises:
        BadArgument: unknown split, parts < 1, or parts larger than the split dimension (named).
        ShapeError: shapes that do not form a convolution.
    """
    split = _parse_enum(SplitKind, split, "split")
    parts = check_int_param("parts", parts, 1)
    (sh, sw), (ph, pw) = per_axis("stride", stride, 1), per_axis("padding", padding, 0)
    groups = check_int_param("groups", groups, 1)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ShapeError(f"x shape {tuple(x_shape)} / w shape {tuple(w_shape)}: expected 4-D NCHW and (M, C/g, KH, KW)")
    n, c, h, wd = (int(v) for v in x_shape)
    m, cg, kh, kw = (int(v) for v in w_shape)
    if c % groups or m % groups or cg * groups != c:
        raise ShapeError(f"x shape {tuple(x_shape)}, w shape {tuple(w_shape)}, groups={groups}: expected C and M "
                         "divisible by groups and w.shape[1] == C / groups")
    oh, ow = output_size(h, kh, sh, ph), output_size(wd, kw, sw, pw)
    if split is SplitKind.OUTPUT_CHANNELS:
        units, what = (m, "output channels") if groups == 1 else (groups, "groups (parts take whole groups)")
    else:
        units, what = {SplitKind.ROWS: (oh, "output rows"), SplitKind.COLS: (ow, "output columns"),
                       SplitKind.BATCH: (n, "images in the batch")}[split]
    if parts > units:
        raise BadArgument(f"parts={parts} exceeds the {units} {what} of this layer (split={split.value}): "
                          f"expected parts <= {units}")
    full_rows, top, bottom = _window((0, oh), sh, ph, kh, h)
    full_cols, left, right = _window((0, ow), sw, pw, kw, wd)
    plans = []
    for i, rng in enumerate(balanced_ranges(units, parts)):
        fields = dict(batch=(0, n), in_channels=(0, c), in_rows=full_rows, in_cols=full_cols, pad_top=top,
                      pad_bottom=bottom, pad_left=left, pad_right=right, out_channels=(0, m), out_rows=(0, oh),
                      out_cols=(0, ow), groups=groups)
        if split is SplitKind.BATCH:
            fields["batch"] = rng
        elif split is SplitKind.ROWS:
            fields["out_rows"] = rng
            fields["in_rows"], fields["pad_top"], fields["pad_bottom"] = _window(rng, sh, ph, kh, h)
        elif split is SplitKind.COLS:
            fields["out_cols"] = rng
            fields["in_cols"], fields["pad_left"], fields["pad_right"] = _window(rng, sw, pw, kw, wd)
        elif groups == 1:
            fields["out_channels"] = rng
        else:
            cg, mg = c // groups, m // groups
            fields.update(in_channels=(rng[0] * cg, rng[1] * cg), out_channels=(rng[0] * mg, rng[1] * mg),
                          groups=rng[1] - rng[0])
        plans.append(PartPlan(index=i, **fields))
    return tuple(plans)


def _pad(values: np.ndarray, plan: PartPlan) -> np.ndarray:
    return np.pad(values[plan.x_slice], ((0, 0), (0, 0), (plan.pad_top, plan.pad_bottom),
                                         (plan.pad_left, plan.pad_right)))


def run_partitioned(path: ConvPath, x, w, bias=None, *, stride: Pair, padding: Pair, groups: int, split: SplitKind,
                    parts: int, requant: Requantizer | None = None) -> PartitionResult:
    """Run a convolution as ``parts`` independent parts and reassemble the output.

    Args:
        path: which convolution each part runs (ref, f32, int_sums, fixed).
        x, w, bias: as that convolution takes them (FixedTensors for ``fixed``; no bias for ``int_sums``).
        stride, padding, groups: as conv2d. split, parts: as :func:`plan_partition`.
        requant: the requantizer, required for ``fixed`` and only there.

    Returns:
        The reassembled output (ndarray, or FixedTensor for ``fixed``), the summed counts, the plans.

    Raises:
        BadArgument: as :func:`plan_partition`, plus an unknown path, a bias with ``int_sums``, a
            missing/extra requant, arguments of the wrong type. ShapeError: as the convolution.
    """
    path = _parse_enum(ConvPath, path, "path")
    fixed = path is ConvPath.FIXED
    if fixed != (requant is not None):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer for path=fixed and None otherwise")
    if path is ConvPath.INT_SUMS and bias is not None:
        raise BadArgument("bias: expected None for path=int_sums (exact sums carry no bias)")
    if fixed:
        for name, value in (("x", x), ("w", w)) + ((("bias", bias),) if bias is not None else ()):
            if not isinstance(value, FixedTensor):
                raise BadArgument(f"{name} is {type(value).__name__}: expected a FixedTensor for path=fixed")
    xv, wv = (x.values, w.values) if fixed else (np.asarray(x), np.asarray(w))
    bv = None if bias is None else (bias.values if fixed else np.asarray(bias))
    plans = plan_partition(xv.shape, wv.shape, stride=stride, padding=padding, groups=groups, split=split,
                           parts=parts)
    counts, pieces = OverflowCounts(), []
    for plan in plans:
        xp, wp = _pad(xv, plan), wv[plan.w_slice]
        bp = None if bv is None else bv[plan.w_slice]
        common = dict(stride=stride, padding=0, groups=plan.groups)
        if fixed:
            part_bias = None if bp is None else FixedTensor(bp, bias.fmt)
            y, c = conv2d_fixed(FixedTensor(xp, x.fmt), FixedTensor(wp, w.fmt), part_bias, requant=requant, **common)
            counts += c
            pieces.append(y.values)
        elif path is ConvPath.INT_SUMS:
            pieces.append(conv2d_int_sums(xp, wp, **common))
        else:
            pieces.append((conv2d_ref if path is ConvPath.REF else conv2d_f32)(xp, wp, bp, **common))
    last = plans[-1]
    shape = (last.batch[1], last.out_channels[1], last.out_rows[1], last.out_cols[1])
    out = np.empty(shape, dtype=pieces[0].dtype)
    for plan, piece in zip(plans, pieces):
        out[plan.out_slice] = piece
    output = FixedTensor(out, requant.out) if fixed else out
    return PartitionResult(output=output, counts=counts, plans=plans)
