"""The element-wise shape strategies draw only legal shapes."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies.elementwise import broadcast_pairs, concat_shapes, nchw_shapes


@given(nchw_shapes(max_side=3))
def test_nchw_shapes(shape) -> None:
    assert len(shape) == 4 and all(1 <= s <= 3 for s in shape)


@given(broadcast_pairs())
def test_broadcast_pairs_broadcast(pair) -> None:
    a, b = pair
    out = np.broadcast_shapes(a, b)
    assert len(a) == len(b) == 4 and all(x in (1, o) and y in (1, o) for x, y, o in zip(a, b, out))


@given(concat_shapes(max_inputs=3))
def test_concat_shapes_agree_but_channels(shapes) -> None:
    assert 2 <= len(shapes) <= 3 and len({(s[0], s[2], s[3]) for s in shapes}) == 1


@given(st.data(), st.sampled_from([1, 2, 3]))
def test_concat_shapes_agree_but_along_the_axis(data, axis) -> None:
    shapes = data.draw(concat_shapes(max_inputs=3, axis=axis))
    others = [d for d in range(4) if d != axis]
    assert 2 <= len(shapes) <= 3 and len({tuple(s[d] for d in others) for s in shapes}) == 1
    assert np.concatenate([np.zeros(s) for s in shapes], axis=axis).shape[axis] == sum(s[axis] for s in shapes)
