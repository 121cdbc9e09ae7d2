"""The sum-tree strategies draw only legal update sequences."""

from hypothesis import given

from tests.strategies.sumtree import update_sequences


@given(update_sequences(integer=True))
def test_integer_updates_are_in_range(drawn) -> None:
    capacity, updates = drawn
    assert all(0 <= i < capacity and p >= 0 and p == int(p) for i, p in updates)


@given(update_sequences(integer=False))
def test_float_updates_are_in_range(drawn) -> None:
    capacity, updates = drawn
    assert all(0 <= i < capacity and 0 <= p <= 1e6 for i, p in updates)
