"""Hypothesis strategies for element-wise ops: broadcastable (N, C, H, W) shape pairs and shape
lists that concatenate along C, H or W. Every draw is legal; the tests never filter."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["nchw_shapes", "broadcast_pairs", "concat_shapes"]

Shape = tuple[int, int, int, int]


def nchw_shapes(*, max_side: int = 4) -> st.SearchStrategy[Shape]:
    """A small (N, C, H, W) shape, every dimension in 1..``max_side``."""
    side = st.integers(1, max_side)
    return st.tuples(side, side, side, side)


@st.composite
def broadcast_pairs(draw, *, max_side: int = 4) -> tuple[Shape, Shape]:
    """Two shapes that broadcast: per dimension both take the full size, or one of them takes 1
    (e.g. (N, C, H, W) with (N, C, 1, 1), or (N, C, 1, 1) with (N, 1, H, W))."""
    full = draw(nchw_shapes(max_side=max_side))
    a, b = [], []
    for size in full:
        which = draw(st.sampled_from(("both", "a_one", "b_one")))
        a.append(1 if which == "a_one" else size)
        b.append(1 if which == "b_one" else size)
    return tuple(a), tuple(b)


@st.composite
def concat_shapes(draw, *, max_inputs: int = 4, max_side: int = 4, axis: int = 1) -> list[Shape]:
    """Two to ``max_inputs`` shapes that agree except along ``axis`` (1: channels, 2: height,
    3: width), which takes any size."""
    base = draw(nchw_shapes(max_side=max_side))
    sizes = draw(st.lists(st.integers(1, max_side), min_size=2, max_size=max_inputs))
    return [tuple(size if d == axis else base[d] for d in range(4)) for size in sizes]
