"""Which board computes which part of a partitioned layer, and which boards share an operand.

Owns the geometry of a partition ⟨Pb, Pr, Pc, Pm⟩ over P boards: board index
``((b·Pr + r)·Pc + c)·Pm + m`` computes the b-th batch slice, r-th row band, c-th column band and
m-th output-channel slice (contiguous pieces of ⌈n/P⌉, the last shorter), and the XFER groups —
boards with the same channel slice share weight tiles, boards with the same spatial part share
input tiles (Super-LIP, superlip-model.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.mapping.spec import Partition
from fpgasim.nn import Conv2d

__all__ = ["XferGroup", "board_parts", "split_part", "xfer_groups", "IFM", "WEIGHTS"]

#: Operand (stream) names shared under XFER.
IFM, WEIGHTS = "ifm", "weights"


@dataclass(frozen=True, slots=True)
class XferGroup:
    """Boards that share one operand's tiles; ``members`` in ascending order."""

    operand: str
    members: tuple[int, ...]


def _split(lo: int, hi: int, parts: int, index: int) -> tuple[int, int]:
    """The ``index``-th of ``parts`` contiguous pieces of [lo, hi), ⌈n/parts⌉ each (last shorter)."""
    size = -(-(hi - lo) // parts)
    return (min(lo + index * size, hi), min(lo + (index + 1) * size, hi))


def board_parts(layer: Conv2d, batch: int, partition: Partition) -> list[ConvPart]:
    """Each board's output region; board index = ((b·Pr + r)·Pc + c)·Pm + m."""
    return split_part(ConvPart.whole(layer, batch=batch), partition)


def split_part(whole: ConvPart, partition: Partition) -> list[ConvPart]:
    """``whole`` cut by ``partition`` into one region per board, in board order (any output box:
    a conv layer's, a pooling node's, an element-wise node's)."""
    parts = []
    for b in range(partition.pb):
        for r in range(partition.pr):
            for c in range(partition.pc):
                for m in range(partition.pm):
                    parts.append(ConvPart(batch=_split(*whole.batch, partition.pb, b),
                                          out_rows=_split(*whole.out_rows, partition.pr, r),
                                          out_cols=_split(*whole.out_cols, partition.pc, c),
                                          out_ch=_split(*whole.out_ch, partition.pm, m)))
    return parts


def xfer_groups(partition: Partition) -> list[XferGroup]:
    """Boards that share weights (same channel part) and boards that share inputs (same spatial part)."""
    groups = []
    boards = partition.pb * partition.pr * partition.pc * partition.pm
    if partition.spatial > 1:
        for m in range(partition.pm):
            groups.append(XferGroup(WEIGHTS, tuple(i for i in range(boards) if i % partition.pm == m)))
    if partition.pm > 1:
        for s in range(partition.spatial):
            groups.append(XferGroup(IFM, tuple(range(s * partition.pm, (s + 1) * partition.pm))))
    return groups
