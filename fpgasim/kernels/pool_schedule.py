"""The tile schedule of the pooling unit beside the tiled conv engine.

Owns: the pooling unit's output tile (:class:`PoolTiling`), the tiles of an output region and the
input window each reads (:func:`pool_tiles`), and the cycles of one tile's compute
(:func:`pool_compute_cycles`). A tile is ``channels`` × ``rows`` × ``cols`` output elements of
one sample; its input window is the ((rows−1)·SH+KH) × ((cols−1)·SW+KW) box those outputs read,
clipped to the map (padding is never read from DDR). The emulator (:mod:`fpgasim.sim.pool_engine`)
and the closed-form model (:mod:`fpgasim.mapping.pool_model`) both walk this schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import ConvPart, Tiling, input_window, tile_spans
from fpgasim.nn.layers import Pool

__all__ = ["PoolTiling", "PoolTile", "pool_tiles", "pool_compute_cycles", "split_evenly", "whole_pool_part"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolTiling:
    """Output tile of the pooling unit: channels × rows × columns (each ≥ 1)."""

    channels: int
    rows: int
    cols: int

    def __post_init__(self) -> None:
        for name in ("channels", "rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadArgument(f"PoolTiling {name}={value!r}: expected an int >= 1")

    @classmethod
    def from_tiling(cls, tiling: Tiling) -> PoolTiling:
        """The pool unit's tile as planned in a conv :class:`Tiling` (channels = Tm, rows = Tr,
        columns = Tc), the form plans carry it in."""
        return cls(channels=tiling.tm, rows=tiling.tr, cols=tiling.tc)


@dataclass(frozen=True, slots=True)
class PoolTile:
    """One output tile and the input window it reads (half-open ranges, full-layer coordinates).

    Attributes:
        batch: the sample.
        channels: channel range (same for input and output).
        out_rows, out_cols: output ranges.
        in_rows, in_cols: input ranges read from DDR (clipped to the map).
        pad_top, pad_left: padding rows/columns before the first read row/column.
        halo_h, halo_w: window size including padding, (rows−1)·S+K × (cols−1)·S+K.
    """

    batch: int
    channels: tuple[int, int]
    out_rows: tuple[int, int]
    out_cols: tuple[int, int]
    in_rows: tuple[int, int]
    in_cols: tuple[int, int]
    pad_top: int
    pad_left: int
    halo_h: int
    halo_w: int

    @property
    def ifm_elems(self) -> int:
        """Elements read from DDR."""
        return ((self.channels[1] - self.channels[0]) * (self.in_rows[1] - self.in_rows[0])
                * (self.in_cols[1] - self.in_cols[0]))

    @property
    def ofm_elems(self) -> int:
        """Elements written to DDR."""
        return ((self.channels[1] - self.channels[0]) * (self.out_rows[1] - self.out_rows[0])
                * (self.out_cols[1] - self.out_cols[0]))


def pool_tiles(layer: Pool, part: ConvPart, tiling: PoolTiling) -> Iterator[PoolTile]:
    """The tiles of ``part`` (an output region of ``layer``) in schedule order: batch, channel
    tile, row tile, column tile.

    Raises:
        BadArgument: ``part`` outside the layer's output.
    """
    bounds = {"batch": None, "out_ch": layer.channels, "out_rows": layer.out_h, "out_cols": layer.out_w}
    for name, limit in bounds.items():
        lo, hi = getattr(part, name)
        if lo < 0 or (limit is not None and hi > limit):
            raise BadArgument(f"pool_tiles: part {name}=({lo}, {hi}) outside the output of {layer.name}")
    for b in range(*part.batch):
        for ch in tile_spans(*part.out_ch, tiling.channels):
            for rows in tile_spans(*part.out_rows, tiling.rows):
                in_rows, pad_top, halo_h = input_window(rows, layer.stride_h, layer.kernel_h, layer.pad_h, layer.in_h)
                for cols in tile_spans(*part.out_cols, tiling.cols):
                    in_cols, pad_left, halo_w = input_window(cols, layer.stride_w, layer.kernel_w, layer.pad_w,
                                                             layer.in_w)
                    yield PoolTile(b, ch, rows, cols, in_rows, in_cols, pad_top, pad_left, halo_h, halo_w)


def pool_compute_cycles(out_elems: int, window_elems: int, lanes: int) -> int:
    """⌈out_elems · window_elems / lanes⌉ (``window_elems`` = KH·KW): one window operation (compare or
    add) per lane per cycle."""
    return -(-out_elems * window_elems // lanes)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` cut into ``parts`` integers that differ by at most one (larger ones first): how the
    vector unit shares a node's elements and operations among its tiles."""
    base, extra = divmod(total, parts)
    return [base + (1 if index < extra else 0) for index in range(parts)]


def whole_pool_part(pool: Pool, batch: int) -> ConvPart:
    """The part that covers a pooling layer's whole output for ``batch`` samples."""
    return ConvPart(batch=(0, batch), out_ch=(0, pool.channels), out_rows=(0, pool.out_h), out_cols=(0, pool.out_w))
