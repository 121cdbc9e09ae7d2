"""Hypothesis strategies for the analytical model: conv shapes, tilings, partitions, rates.

Every strategy draws only legal values: shapes the constructor accepts, tilings within the
layer (per-board) extents, partitions whose factors do not exceed their dimensions.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fpgasim.mapping import ConvShape, Partition, StreamRates, Tiling

__all__ = ["conv_shapes", "tilings", "partitions", "stream_rates", "rate_values"]

rate_values = st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0])


@st.composite
def conv_shapes(draw, *, max_channels: int = 64, max_size: int = 32, max_batch: int = 4) -> ConvShape:
    """A legal :class:`ConvShape` (kernel 1..11, stride 1..4, groups 1..2; per axis half the time)."""
    per_axis = draw(st.booleans())

    def window(values: st.SearchStrategy[int]):
        return st.tuples(values, values) if per_axis else values

    return ConvShape(batch=draw(st.integers(1, max_batch)), out_channels=draw(st.integers(1, max_channels)),
                     in_channels=draw(st.integers(1, max_channels)), out_h=draw(st.integers(1, max_size)),
                     out_w=draw(st.integers(1, max_size)), kernel=draw(window(st.integers(1, 11))),
                     stride=draw(window(st.integers(1, 4))), padding=draw(window(st.integers(0, 2))),
                     groups=draw(st.integers(1, 2)))


@st.composite
def partitions(draw, shape: ConvShape, *, max_factor: int = 4) -> Partition:
    """A :class:`Partition` whose factors do not exceed the shape's dimensions."""
    return Partition(pb=draw(st.integers(1, min(max_factor, shape.batch))),
                     pr=draw(st.integers(1, min(max_factor, shape.out_h))),
                     pc=draw(st.integers(1, min(max_factor, shape.out_w))),
                     pm=draw(st.integers(1, min(max_factor, shape.out_channels))))


@st.composite
def tilings(draw, shape: ConvShape, partition: Partition | None = None) -> Tiling:
    """A :class:`Tiling` within the per-board extents ⌈R/Pr⌉, ⌈C/Pc⌉, ⌈M/Pm⌉ and N."""
    p = partition or Partition()
    return Tiling(tm=draw(st.integers(1, -(-shape.out_channels // p.pm))), tn=draw(st.integers(1, shape.in_channels)),
                  tr=draw(st.integers(1, -(-shape.out_h // p.pr))), tc=draw(st.integers(1, -(-shape.out_w // p.pc))))


@st.composite
def stream_rates(draw, *, link: bool | None = None) -> StreamRates:
    """:class:`StreamRates` from :data:`rate_values`; ``link`` None = maybe a link."""
    has_link = draw(st.booleans()) if link is None else link
    return StreamRates(weights=draw(rate_values), ifm=draw(rate_values), ofm=draw(rate_values),
                       link=draw(rate_values) if has_link else None)
