"""The replay server on an FPGA NIC: the sum-tree in on-chip memory, walked by a pipeline.

Owns: the on-chip layout of a sum-tree (one memory per tree level, so that a pipeline stage per
level reads its own memory every cycle; a level ``d`` steps above the leaves holds
``priority_bits + d``-bit fixed-point sums, wide enough to be exact), its block count in BRAM18
or URAM (:mod:`fpgasim.kernels.resources` block rules), the fit verdict on a board and the
largest priority count that fits in BRAM, in URAM, or in both (the largest levels in URAM first);
and the server's service times: a batch of B walks of ``ceil(log2 N)`` levels, one walk entering
per cycle (``levels × level_cycles + B - 1`` cycles at the kernel clock), a priority update
likewise, and experiences moved to and from the board's DDR at its sustained rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.hw.board import Board
from fpgasim.kernels.resources import BufferSpec, MemoryPreference, map_buffer
from fpgasim.ops.sumtree import SUMTREE_MAX_LEAVES, sumtree_leaves
from fpgasim.sim.clock import Clock, duration_ps_ceil

__all__ = ["TreeFit", "tree_levels", "tree_fit", "max_priorities", "FpgaServer"]


def tree_levels(capacity: int) -> int:
    """Levels a walk descends: ``ceil(log2 capacity)`` (at least 1)."""
    return max(1, (sumtree_leaves(capacity) - 1).bit_length())


def _level_specs(capacity: int, priority_bits: int) -> list[BufferSpec]:
    levels = tree_levels(capacity)
    return [BufferSpec(name=f"level{d}", width_bits=priority_bits + (levels - d), depth_words=1 << d, banks=1,
                       double_buffered=False, memory=MemoryPreference.BRAM) for d in range(1, levels + 1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeFit:
    """Blocks a tree needs and whether they fit."""

    capacity: int
    levels: int
    bram18: int
    uram: int
    bram18_available: int
    uram_available: int

    @property
    def fits(self) -> bool:
        """Both block counts within the board's available blocks."""
        return self.bram18 <= self.bram18_available and self.uram <= self.uram_available


def tree_fit(board: Board, capacity: int, priority_bits: int, memory: str = "both") -> TreeFit:
    """Blocks of a tree over ``capacity`` priorities on ``board``.

    Args:
        memory: ``bram`` (every level in BRAM18), ``uram`` (every level in URAM) or ``both``
            (levels in URAM, largest first, while they fit; the rest in BRAM18). The root lives in
            a register.
    """
    bram_total = board.fabric.available_bram18
    uram_total = board.fabric.available_uram
    bram = uram = 0
    for spec in sorted(_level_specs(capacity, priority_bits), key=lambda s: -s.depth_words):
        as_uram = map_buffer(BufferSpec(name=spec.name, width_bits=spec.width_bits, depth_words=spec.depth_words,
                                        banks=1, double_buffered=False, memory=MemoryPreference.URAM),
                             uram_available=uram_total > 0)
        as_bram = map_buffer(spec, uram_available=False)
        take_uram = memory == "uram" or (memory == "both" and uram + as_uram.uram <= uram_total)
        if take_uram:
            uram += as_uram.uram
        else:
            bram += as_bram.bram18
    return TreeFit(capacity=capacity, levels=tree_levels(capacity), bram18=bram, uram=uram,
                   bram18_available=bram_total, uram_available=uram_total)


def max_priorities(board: Board, priority_bits: int, memory: str) -> int:
    """The largest power-of-two priority count whose tree fits ``board`` (0: not even 2)."""
    best, leaves = 0, 2
    while leaves <= SUMTREE_MAX_LEAVES and tree_fit(board, leaves, priority_bits, memory).fits:
        best, leaves = leaves, leaves * 2
    return best


@dataclass(frozen=True, slots=True, kw_only=True)
class FpgaServer:
    """Service times of the FPGA replay server.

    Attributes:
        clock: the kernel clock. levels: tree levels. level_cycles: cycles per level.
        ddr_bytes_per_s: sustained rate of the memory channel that holds the experiences.
    """

    clock: Clock
    levels: int
    level_cycles: int
    ddr_bytes_per_s: float

    def _cycles_ps(self, cycles: int) -> int:
        return self.clock.delay_ps(0, cycles)

    def walk_cycles(self, walks: int) -> int:
        """Cycles for ``walks`` pipelined root-to-leaf walks (one enters per cycle)."""
        return self.levels * self.level_cycles + walks - 1

    def insert_ps(self, experience_bytes: int) -> int:
        """Write one experience to DDR and its leaf (max priority) up the tree."""
        return duration_ps_ceil(experience_bytes, self.ddr_bytes_per_s) + self._cycles_ps(self.walk_cycles(1))

    def sample_ps(self, batch: int, experience_bytes: int, prioritized: bool) -> int:
        """Draw a batch (pipelined walks when prioritized) and read its experiences from DDR."""
        walk = self._cycles_ps(self.walk_cycles(batch)) if prioritized else self._cycles_ps(batch)
        return walk + duration_ps_ceil(batch * experience_bytes, self.ddr_bytes_per_s)

    def update_ps(self, batch: int) -> int:
        """Write ``batch`` priorities and their ancestors (pipelined like the walks)."""
        return self._cycles_ps(self.walk_cycles(batch))
