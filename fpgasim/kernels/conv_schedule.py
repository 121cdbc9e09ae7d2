"""The tile schedule of the Zhang/Super-LIP tiled convolution engine.

Owns: the tiling ⟨Tm, Tn, Tr, Tc⟩ (the analytical model's too), the loop order (output rows →
output columns → output-channel tiles → input-channel tiles, per batch item and group), the exact
slices each tile step moves, and the cycle count of one tile's compute. The emulator
(:mod:`fpgasim.sim`) walks this schedule; it never re-derives tile geometry. Edge tiles are
smaller (the HLS loops run to ``min(row + Tr, R)``), the input tile carries its halo
(``(tr−1)·SH + KH`` rows and ``(tc−1)·SW + KW`` columns; :func:`window_extent` is that formula's one
home), and rows/columns that
fall in the zero padding are not loaded from DDR (the engine fills them with zeros on chip).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from fpgasim.errors import BadArgument
from fpgasim.nn.layers import Conv2d

__all__ = ["ConvPart", "Tiling", "InnerStep", "conv_schedule", "count_tiles", "tile_spans", "input_window",
           "window_extent", "window_outputs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConvPart:
    """The output region one board computes: half-open ranges of the full layer's output."""

    batch: tuple[int, int]
    out_ch: tuple[int, int]
    out_rows: tuple[int, int]
    out_cols: tuple[int, int]

    @classmethod
    def whole(cls, layer: Conv2d, *, batch: int) -> ConvPart:
        """The part that covers the whole layer for ``batch`` samples."""
        return cls(batch=(0, batch), out_ch=(0, layer.out_channels),
                   out_rows=(0, layer.out_h), out_cols=(0, layer.out_w))

    @property
    def is_empty(self) -> bool:
        """True when any range is empty (a board with nothing to do)."""
        return any(hi <= lo for lo, hi in (self.batch, self.out_ch, self.out_rows, self.out_cols))


@dataclass(frozen=True, slots=True, kw_only=True)
class Tiling:
    """Tile sizes ⟨Tm, Tn, Tr, Tc⟩: output channels, input channels, output rows, output columns.

    The one tiling type: the engine schedule walks it and :mod:`fpgasim.mapping` searches it.

    Raises:
        BadArgument: a tile size that is not an integer >= 1.
    """

    tm: int
    tn: int
    tr: int
    tc: int

    def __post_init__(self) -> None:
        for name in ("tm", "tn", "tr", "tc"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadArgument(f"Tiling: {name}={value!r}: expected an integer >= 1")


class InnerStep(NamedTuple):
    """One (Tm, Tn) step: load an IFM tile and a weight tile, then compute.

    Index ranges are half-open, in the coordinates of the FULL layer tensors. Immutable; a
    named tuple rather than a frozen dataclass because the emulator builds one per tile step
    (hundreds of thousands per network) and a frozen dataclass's ``__init__`` costs about 3 µs.

    Attributes:
        batch: batch item.
        in_ch: input channels ``[lo, hi)`` of this step.
        out_ch: output channels ``[lo, hi)`` of the output tile.
        in_rows, in_cols: input rows/columns loaded from DDR (inside the unpadded input).
        pad_top, pad_left: zero rows/columns the engine adds above/left of the loaded block.
        halo_h, halo_w: the on-chip IFM tile extent including halo and padding.
        out_rows, out_cols: output rows/columns ``[lo, hi)`` of the output tile.
        compute_cycles: cycles of the pipelined MAC loop for this step.
        first, last: whether this step opens / closes its output tile's input-channel loop.
    """

    batch: int
    in_ch: tuple[int, int]
    out_ch: tuple[int, int]
    in_rows: tuple[int, int]
    in_cols: tuple[int, int]
    pad_top: int
    pad_left: int
    halo_h: int
    halo_w: int
    out_rows: tuple[int, int]
    out_cols: tuple[int, int]
    compute_cycles: int
    first: bool
    last: bool

    @property
    def ifm_elems(self) -> int:
        """Input elements read from DDR (padding excluded)."""
        return (self.in_ch[1] - self.in_ch[0]) * (self.in_rows[1] - self.in_rows[0]) * (self.in_cols[1] - self.in_cols[0])

    def weight_elems(self, kernel_h: int, kernel_w: int) -> int:
        """Weight elements of this step's (out_ch × in_ch × KH × KW) tile."""
        return (self.out_ch[1] - self.out_ch[0]) * (self.in_ch[1] - self.in_ch[0]) * kernel_h * kernel_w

    @property
    def ofm_elems(self) -> int:
        """Output elements of the output tile this step contributes to."""
        return (self.out_ch[1] - self.out_ch[0]) * (self.out_rows[1] - self.out_rows[0]) * (self.out_cols[1] - self.out_cols[0])


def tile_spans(lo: int, hi: int, tile: int) -> Iterator[tuple[int, int]]:
    """``[lo, hi)`` cut into half-open spans of ``tile`` (the last one shorter)."""
    for start in range(lo, hi, tile):
        yield start, min(start + tile, hi)


def window_extent(outputs, stride, kernel):
    """Inputs that ``outputs`` consecutive outputs of a sliding window read along one axis.

    The one formula of a tile's input window with its halo, ``(outputs − 1)·S + K``: the
    schedule's slices, the halo-sized IFM buffer and the analytical model's IFM tile all use it.

    Args:
        outputs: output rows or columns (int, integer-valued float or numpy array, broadcast).
        stride: S. kernel: K.

    Returns:
        The window length in input elements, of the broadcast type of the arguments.
    """
    return (outputs - 1) * stride + kernel


def window_outputs(inputs, stride, kernel):
    """The most consecutive outputs whose window fits in ``inputs`` inputs: ``(inputs − K) // S + 1``.

    The inverse of :func:`window_extent` (``window_extent(n) <= inputs < window_extent(n + 1)``);
    below 1 when the kernel does not fit.
    """
    return (inputs - kernel) // stride + 1


def input_window(out: tuple[int, int], stride: int, kernel: int, padding: int,
                 in_size: int) -> tuple[tuple[int, int], int, int]:
    """The input an output span ``out`` of a sliding window reads, along one axis.

    Returns:
        (the rows/columns loaded, inside ``[0, in_size)``; the zero padding before them; the
        window's extent including padding, ``(len(out) − 1)·S + K``).
    """
    first = out[0] * stride - padding
    halo = window_extent(out[1] - out[0], stride, kernel)
    loaded = (max(first, 0), min(first + halo, in_size))
    return loaded, loaded[0] - first, halo


def conv_schedule(
    layer: Conv2d, part: ConvPart, tiling: Tiling, *, pipeline_depth_cycles: int
) -> Iterator[InnerStep]:
    """Yield the engine's inner steps in hardware loop order.

    Args:
        layer: the whole convolution layer (``as_conv()`` of depthwise/pointwise layers).
        part: the output region to compute (``ConvPart.whole(layer, batch=B)`` on one board).
        tiling: tile sizes; Tn and Tm tile within each group.
        pipeline_depth_cycles: cycles to fill the MAC pipeline once per tile step.
    """
    g = layer
    in_per_group = g.in_channels // g.groups
    col_tiles = [(out_cols, *input_window(out_cols, g.stride_w, g.kernel_w, g.pad_w, g.in_w))  # every row tile's
                 for out_cols in tile_spans(*part.out_cols, tiling.tc)]
    taps = g.kernel_h * g.kernel_w
    for batch in range(*part.batch):
        for grp, (o_lo_part, o_hi_part) in _group_slices(g, part):
            m_ranges = list(tile_spans(o_lo_part, o_hi_part, tiling.tm))
            n_ranges = list(tile_spans(grp * in_per_group, (grp + 1) * in_per_group, tiling.tn))
            last = len(n_ranges) - 1
            for out_rows in tile_spans(*part.out_rows, tiling.tr):
                rows, pad_top, halo_h = input_window(out_rows, g.stride_h, g.kernel_h, g.pad_h, g.in_h)
                r_lo, r_hi = out_rows
                for out_cols, cols, pad_left, halo_w in col_tiles:
                    cycles = taps * (r_hi - r_lo) * (out_cols[1] - out_cols[0]) + pipeline_depth_cycles
                    for m_range in m_ranges:
                        for index, n_range in enumerate(n_ranges):
                            yield InnerStep(
                                batch, n_range, m_range, rows, cols, pad_top, pad_left, halo_h, halo_w,
                                out_rows, out_cols, cycles, index == 0, index == last,
                            )


def _group_slices(g: Conv2d, part: ConvPart) -> Iterator[tuple[int, tuple[int, int]]]:
    """Each group that the part's output channels touch, with the part's channels in it."""
    out_per_group = g.out_channels // g.groups
    lo, hi = part.out_ch
    if hi <= lo:
        return
    for grp in range(lo // out_per_group, (hi - 1) // out_per_group + 1):
        yield grp, (max(lo, grp * out_per_group), min(hi, (grp + 1) * out_per_group))


def count_tiles(layer: Conv2d, part: ConvPart, tiling: Tiling) -> int:
    """Number of inner steps :func:`conv_schedule` yields (without generating them)."""
    if part.is_empty:
        return 0
    rows = part.out_rows[1] - part.out_rows[0]
    cols = part.out_cols[1] - part.out_cols[0]
    tiles_rc = -(-rows // tiling.tr) * -(-cols // tiling.tc)
    n_tiles = -(-(layer.in_channels // layer.groups) // tiling.tn)
    m_tiles = sum(-(-(hi - lo) // tiling.tm) for _, (lo, hi) in _group_slices(layer, part))
    return (part.batch[1] - part.batch[0]) * tiles_rc * m_tiles * n_tiles
