"""The mapping strategies draw only legal values."""

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies.mapping import conv_shapes, partitions, stream_rates, tilings


@given(st.data())
def test_drawn_values_are_within_their_dimensions(data) -> None:
    shape = data.draw(conv_shapes())
    part = data.draw(partitions(shape))
    tiling = data.draw(tilings(shape, part))
    part.check(shape)
    assert tiling.tr <= -(-shape.out_h // part.pr) and tiling.tc <= -(-shape.out_w // part.pc)
    assert tiling.tm <= -(-shape.out_channels // part.pm) and tiling.tn <= shape.in_channels


@given(stream_rates(link=False), stream_rates(link=True))
def test_link_flag_is_respected(without, with_link) -> None:
    assert without.link is None
    assert with_link.link is not None and with_link.link > 0
