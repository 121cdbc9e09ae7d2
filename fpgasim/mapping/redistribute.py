"""Between layers: which board must send how many bytes to which, when the partition changes.

Owns: which layers exchange data (:func:`exchange_pairs`) and the region arithmetic. After layer *i*, board *k* holds its output part in its own DDR.
Layer *i+1*'s part on board *j* needs an input region (its batch items, the input channels of
the groups its output channels use, and the rows/columns of its output tile range *with the
halo*). Mapped back through any pooling layers in between (pooling runs where its input is),
that region intersects the parts the boards hold; every piece held by another board crosses
the links. Under an output-channel split with XFER, a board later reads only a share of each
input tile, so the full region moved here is a conservative (upper) cost.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.kernels.conv_schedule import ConvPart, input_window
from fpgasim.nn import Conv2d, Linear, Network, Pool

__all__ = ["Region", "needed_input", "through_pools", "held_output", "transfers", "exchange_pairs"]

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Region:
    """A box of a feature map: half-open batch, channel, row and column ranges."""

    batch: Span
    channels: Span
    rows: Span
    cols: Span

    def intersect(self, other: Region) -> Region:
        """The common box (possibly empty)."""
        pairs = zip((self.batch, self.channels, self.rows, self.cols),
                    (other.batch, other.channels, other.rows, other.cols), strict=True)
        return Region(*((max(a[0], b[0]), min(a[1], b[1])) for a, b in pairs))

    @property
    def elems(self) -> int:
        """Elements in the box (0 when empty)."""
        size = 1
        for lo, hi in (self.batch, self.channels, self.rows, self.cols):
            size *= max(hi - lo, 0)
        return size


def needed_input(layer: Conv2d, part: ConvPart) -> Region:
    """The input region ``part`` of ``layer`` reads (halo included, padding excluded)."""
    in_per_group = layer.in_channels // layer.groups
    out_per_group = layer.out_channels // layer.groups
    first_group = part.out_ch[0] // out_per_group
    last_group = (part.out_ch[1] - 1) // out_per_group
    return Region(part.batch, (first_group * in_per_group, (last_group + 1) * in_per_group),
                  input_window(part.out_rows, layer.stride_h, layer.kernel_h, layer.pad_h, layer.in_h)[0],
                  input_window(part.out_cols, layer.stride_w, layer.kernel_w, layer.pad_w, layer.in_w)[0])


def through_pools(region: Region, pools: list[Pool]) -> Region:
    """Map a region of the last pool's output back to the first pool's input."""
    for pool in reversed(pools):
        region = Region(region.batch, region.channels,
                        input_window(region.rows, pool.stride_h, pool.kernel_h, pool.pad_h, pool.in_h)[0],
                        input_window(region.cols, pool.stride_w, pool.kernel_w, pool.pad_w, pool.in_w)[0])
    return region


def held_output(part: ConvPart) -> Region:
    """The output region a board holds after computing ``part``."""
    return Region(part.batch, part.out_ch, part.out_rows, part.out_cols)


def transfers(previous: list[ConvPart], layer: Conv2d, parts: list[ConvPart], pools: list[Pool]) -> dict[tuple[int, int], int]:
    """Elements each board must receive from each other board before ``layer`` starts.

    Args:
        previous: the boards' parts of the previous conv layer (index = board).
        layer: the next conv layer.
        parts: its boards' parts.
        pools: pooling layers between the two, in order.

    Returns:
        ``{(source, destination): elements}`` for every non-zero flow, in sorted key order.
    """
    held = [held_output(p) for p in previous]
    flows: dict[tuple[int, int], int] = {}
    for dst, part in enumerate(parts):
        if part.is_empty:
            continue
        need = through_pools(needed_input(layer, part), pools)
        for src, region in enumerate(held):
            if src == dst:
                continue
            elems = need.intersect(region).elems
            if elems:
                flows[(src, dst)] = elems
    return dict(sorted(flows.items()))


def exchange_pairs(network: Network) -> dict[int, tuple[int, tuple[Pool, ...]]]:
    """Which conv layers receive the previous conv layer's outputs across the boards.

    In a chained network, a conv layer whose previous non-pooling layer is a conv layer reads
    that layer's outputs (through the pooling layers between them). Never in an unchained layer
    table, after an FC layer or across another layer kind.

    Returns:
        ``{position of the conv in network.flat_layers(): (position of the previous conv, pools
        between)}``.
    """
    if not network.chained:
        return {}
    pairs: dict[int, tuple[int, tuple[Pool, ...]]] = {}
    previous, pools = None, []
    for position, layer in enumerate(network.flat_layers()):
        if isinstance(layer, Pool):
            pools.append(layer)
            continue
        is_conv = hasattr(layer, "as_conv") and not isinstance(layer, Linear)
        if is_conv and previous is not None:
            pairs[position] = (previous, tuple(pools))
        previous, pools = (position if is_conv else None), []
    return pairs
