"""Sum-tree kernels against their O(N) references: exact sums, searches, sampling law, errors."""

from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pytest
from hypothesis import given, settings

from fpgasim.errors import BadArgument
from fpgasim.ops.sumtree import (
    sumtree_find, sumtree_find_ref, sumtree_leaves, sumtree_new, sumtree_nodes_ref, sumtree_priorities,
    sumtree_sample, sumtree_set, sumtree_total,
)
from tests.strategies.sumtree import update_sequences

#: Significance of the chi-square goodness-of-fit tests (false-alarm rate per test).
ALPHA = 1e-3


def _apply(capacity: int, updates: list[tuple[int, float]], *, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    tree = sumtree_new(capacity)
    naive = np.zeros(sumtree_leaves(capacity))
    if batched:
        idx, val = zip(*updates)
        sumtree_set(tree, np.array(idx), np.array(val))
    else:
        for i, p in updates:
            sumtree_set(tree, np.array([i]), np.array([p]))
    for i, p in updates:
        naive[i] = p  # last write wins, as documented
    return tree, naive


@settings(max_examples=60, deadline=None)
@given(update_sequences(integer=False))
def test_every_node_is_the_exact_sum_of_its_children_after_any_updates(drawn) -> None:
    capacity, updates = drawn
    for batched in (False, True):
        tree, naive = _apply(capacity, updates, batched=batched)
        assert np.array_equal(sumtree_priorities(tree), naive)
        assert np.array_equal(tree[1:], sumtree_nodes_ref(naive)[1:])


@settings(max_examples=60, deadline=None)
@given(update_sequences(integer=False))
def test_root_is_within_the_pairwise_summation_bound_of_the_exact_sum(drawn) -> None:
    capacity, updates = drawn
    tree, naive = _apply(capacity, updates, batched=False)
    exact = math.fsum(naive)
    depth = int(math.log2(naive.size))
    # pairwise summation: |computed - exact| <= depth * u * sum|x| (Higham, ASNA §4.2), u = eps / 2
    assert abs(sumtree_total(tree) - exact) <= depth * np.finfo(float).eps / 2 * exact


@settings(max_examples=60, deadline=None)
@given(update_sequences(integer=True))
def test_find_equals_the_prefix_sum_reference_with_exact_integer_priorities(drawn) -> None:
    capacity, updates = drawn
    tree, naive = _apply(capacity, updates, batched=False)
    total = sumtree_total(tree)
    if total == 0:
        return
    masses = np.concatenate([np.arange(0, total, max(total / 97, 1.0)), [total - 0.5, total, total + 3]])
    assert np.array_equal(sumtree_find(tree, masses), sumtree_find_ref(naive, masses))


def _chi2_critical(dof: int, alpha: float) -> float:
    """Wilson–Hilferty upper quantile of chi-square (relative error < 1e-3 for dof >= 10)."""
    z = statistics.NormalDist().inv_cdf(1 - alpha)
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


@pytest.mark.parametrize("stratified", [False, True], ids=["independent", "stratified"])
def test_sampled_indices_follow_the_priorities_chi_square(stratified: bool) -> None:
    """Goodness of fit at significance ALPHA (seeded: the outcome is fixed). Stratification only
    lowers the variance of the counts, so the multinomial chi-square bound is conservative for it."""
    rng = np.random.default_rng(20160101)
    capacity, draws = 48, 60_000
    priorities = rng.uniform(0.05, 2.0, capacity) ** 2
    priorities[[3, 17]] = 0.0  # zero-priority entries must never be drawn
    tree = sumtree_new(capacity)
    sumtree_set(tree, np.arange(capacity), priorities)
    if stratified:
        picks = np.concatenate([sumtree_sample(tree, rng.random(32)) for _ in range(draws // 32)])
    else:
        picks = sumtree_find(tree, rng.random(draws) * sumtree_total(tree))
    counts = np.bincount(picks, minlength=sumtree_leaves(capacity))
    assert counts[3] == counts[17] == 0 and counts[capacity:].sum() == 0
    live = priorities > 0
    expected = picks.size * priorities[live] / priorities.sum()
    chi2 = float(((counts[:capacity][live] - expected) ** 2 / expected).sum())
    assert chi2 < _chi2_critical(int(live.sum()) - 1, ALPHA)


def test_chi_square_detects_a_wrong_law() -> None:
    """The test has power: uniform picks are rejected against skewed priorities."""
    rng = np.random.default_rng(7)
    priorities = np.linspace(0.1, 3.0, 40)
    picks = rng.integers(0, 40, 20_000)
    expected = picks.size * priorities / priorities.sum()
    chi2 = float(((np.bincount(picks, minlength=40) - expected) ** 2 / expected).sum())
    assert chi2 > _chi2_critical(39, ALPHA)


def test_stratified_batch_has_one_pick_per_stratum() -> None:
    tree = sumtree_new(4)
    sumtree_set(tree, np.arange(4), np.array([1.0, 1.0, 1.0, 1.0]))
    assert sumtree_sample(tree, np.array([0.5, 0.5, 0.5, 0.5])).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("call, message", [
    (lambda: sumtree_leaves(0), "capacity=0"),
    (lambda: sumtree_set(sumtree_new(4), np.array([4]), np.array([1.0])), "indices must be in 0..3"),
    (lambda: sumtree_set(sumtree_new(4), np.array([0]), np.array([-1.0])), "finite and >= 0"),
    (lambda: sumtree_set(sumtree_new(4), np.array([0, 1]), np.array([1.0])), "2 indices but 1 values"),
    (lambda: sumtree_find(sumtree_new(4), np.array([0.0])), "empty"),
    (lambda: sumtree_sample(sumtree_new(4), np.array([1.0])), "uniform draws in"),
    (lambda: sumtree_set(np.zeros(6), np.array([0]), np.array([1.0])), "2 * 2^k"),
])
def test_bad_arguments_are_refused(call, message) -> None:
    with pytest.raises(BadArgument, match=re.escape(message)):
        call()
