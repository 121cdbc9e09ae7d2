"""Hypothesis strategies for sum-trees: capacities and sequences of priority updates.

Priorities are drawn either as integers (every partial sum below 2^53 is exact in float64, so a
tree and a prefix-sum reference must agree bit for bit) or as finite non-negative floats.
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["update_sequences"]


@st.composite
def update_sequences(draw, *, integer: bool, max_capacity: int = 70, max_updates: int = 60
                     ) -> tuple[int, list[tuple[int, float]]]:
    """``(capacity, [(index, priority), ...])`` with every index in ``0..capacity-1``."""
    capacity = draw(st.integers(1, max_capacity))
    value = (st.integers(0, 2**20).map(float) if integer
             else st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False))
    updates = draw(st.lists(st.tuples(st.integers(0, capacity - 1), value), min_size=1, max_size=max_updates))
    return capacity, updates
