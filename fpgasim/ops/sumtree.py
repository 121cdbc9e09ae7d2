"""Sum-tree: O(log N) priority update and proportional sampling (Schaul et al. 2016; Ape-X).

Owns: the array layout and the Numba kernels of a binary sum-tree over ``capacity`` priorities,
with their O(N) numpy references. A tree over ``L = next_pow2(capacity)`` leaves is one float64
array of ``2 L`` slots: node 1 is the root, node ``i`` has children ``2i`` and ``2i+1``, leaf
``k`` is node ``L + k`` (slot 0 unused). Every internal node is *recomputed* as the sum of its
two children (never adjusted by a delta), so after any sequence of updates each node equals the
float64 sum of its children exactly and the root differs from the exact sum of the leaves by at
most ``ceil(log2 L) · eps · Σ leaves`` (pairwise summation). A search for mass ``m`` descends
left when ``m < left`` and otherwise right with ``m - left``; a right subtree of zero mass is
never entered, so a leaf of priority 0 is never returned while the total is positive.

Pure functions on arrays (house rule 9): the replay memory that owns a tree, the exponent α and
the importance weights lives with the study that uses it (``fpgasim.study.dqn_replay.memory``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fpgasim.errors import BadArgument

__all__ = [
    "SUMTREE_MAX_LEAVES", "sumtree_leaves", "sumtree_new", "sumtree_set", "sumtree_total", "sumtree_find",
    "sumtree_sample", "sumtree_priorities", "sumtree_find_ref", "sumtree_nodes_ref", "warmup_sumtree",
]

#: Largest leaf count a tree may have (2^26 leaves = a 1 GiB float64 array).
SUMTREE_MAX_LEAVES = 1 << 26


def sumtree_leaves(capacity: int) -> int:
    """Leaves of a tree holding ``capacity`` priorities: the next power of two (>= 1).

    Raises:
        BadArgument: capacity not an int in 1..SUMTREE_MAX_LEAVES.
    """
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) \
            or not 1 <= capacity <= SUMTREE_MAX_LEAVES:
        raise BadArgument(f"sum-tree capacity={capacity!r}: expected an int in 1..{SUMTREE_MAX_LEAVES}")
    return 1 << (int(capacity) - 1).bit_length()


def sumtree_new(capacity: int) -> np.ndarray:
    """An all-zero tree for ``capacity`` priorities (``2 · sumtree_leaves(capacity)`` float64)."""
    return np.zeros(2 * sumtree_leaves(capacity), dtype=np.float64)


def _check_tree(tree: object) -> int:
    if not isinstance(tree, np.ndarray) or tree.dtype != np.float64 or tree.ndim != 1 or tree.size < 2 \
            or tree.size & (tree.size - 1) or not tree.flags.c_contiguous:
        raise BadArgument("tree: expected a contiguous 1-D float64 array of 2 * 2^k slots (sumtree_new)")
    return tree.size // 2


@njit(cache=True)
def _set_kernel(tree, leaves, indices, values):  # pragma: no cover - compiled
    for j in range(indices.size):
        node = leaves + indices[j]
        tree[node] = values[j]
        node >>= 1
        while node >= 1:
            tree[node] = tree[2 * node] + tree[2 * node + 1]
            node >>= 1


@njit(cache=True)
def _find_kernel(tree, leaves, masses, out):  # pragma: no cover - compiled
    for j in range(masses.size):
        mass = masses[j]
        node = 1
        while node < leaves:
            left = 2 * node
            if mass >= tree[left] and tree[left + 1] > 0.0:
                mass -= tree[left]
                node = left + 1
            else:
                node = left
        out[j] = node - leaves


@njit(cache=True)
def _stratified_masses(total, uniforms, out):  # pragma: no cover - compiled
    width = total / uniforms.size
    for j in range(uniforms.size):
        out[j] = (j + uniforms[j]) * width


def sumtree_set(tree: np.ndarray, indices: np.ndarray, values: np.ndarray) -> None:
    """Set leaves ``indices`` to ``values`` and recompute their ancestors, O(k log N) in place.

    A repeated index takes its last value.

    Raises:
        BadArgument: bad tree, an index outside the leaves, a negative or non-finite value, or
            arrays of different lengths.
    """
    leaves = _check_tree(tree)
    idx = np.ascontiguousarray(indices, dtype=np.int64).ravel()
    val = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if idx.size != val.size:
        raise BadArgument(f"sumtree_set: {idx.size} indices but {val.size} values")
    if idx.size and (idx.min() < 0 or idx.max() >= leaves):
        raise BadArgument(f"sumtree_set: indices must be in 0..{leaves - 1}")
    if not np.all(np.isfinite(val)) or np.any(val < 0):
        raise BadArgument("sumtree_set: priorities must be finite and >= 0")
    _set_kernel(tree, leaves, idx, val)


def sumtree_total(tree: np.ndarray) -> float:
    """The root: the sum of all priorities."""
    _check_tree(tree)
    return float(tree[1])


def sumtree_priorities(tree: np.ndarray) -> np.ndarray:
    """The leaves (a read-only view)."""
    leaves = _check_tree(tree)
    view = tree[leaves:]
    view.flags.writeable = False
    return view


def sumtree_find(tree: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """For each mass ``m`` in ``[0, total)``: the leaf ``k`` with prefix(k) <= m < prefix(k+1).

    A mass at or beyond the total (rounding) returns the last leaf of positive priority.

    Raises:
        BadArgument: bad tree, the total is 0, or a negative or non-finite mass.
    """
    leaves = _check_tree(tree)
    m = np.ascontiguousarray(masses, dtype=np.float64).ravel()
    if not tree[1] > 0.0:
        raise BadArgument("sumtree_find: the tree is empty (total priority 0)")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise BadArgument("sumtree_find: masses must be finite and >= 0")
    out = np.empty(m.size, dtype=np.int64)
    _find_kernel(tree, leaves, m, out)
    return out


def sumtree_sample(tree: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Stratified proportional sampling: one leaf per equal-mass stratum of the total.

    Sample ``j`` of ``B = uniforms.size`` is the leaf holding mass ``(j + u_j) · total / B``, so
    each leaf is drawn with probability ``p_k / total`` (marginally) and the batch covers the
    whole distribution (Schaul et al. 2016, Appendix B.2.1).

    Args:
        tree: the tree. uniforms: B draws in ``[0, 1)`` from the caller's seeded generator.

    Raises:
        BadArgument: bad tree, empty tree, no draws, or a draw outside ``[0, 1)``.
    """
    _check_tree(tree)
    u = np.ascontiguousarray(uniforms, dtype=np.float64).ravel()
    if u.size == 0 or np.any(u < 0) or np.any(u >= 1):
        raise BadArgument("sumtree_sample: expected >= 1 uniform draws in [0, 1)")
    if not tree[1] > 0.0:
        raise BadArgument("sumtree_sample: the tree is empty (total priority 0)")
    masses = np.empty(u.size, dtype=np.float64)
    _stratified_masses(float(tree[1]), u, masses)
    return sumtree_find(tree, masses)


# ----------------------------------------------------------------------- O(N) references
def sumtree_find_ref(priorities: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Naive O(N) reference of :func:`sumtree_find`: prefix sums and a search per mass.

    Uses the tree's own rule at the end (a mass beyond the total → the last positive leaf).
    Prefix sums are in index order, so it agrees with the tree exactly when every partial sum is
    exact (e.g. integer-valued priorities below 2^53).
    """
    p = np.asarray(priorities, dtype=np.float64)
    cum = np.cumsum(p)
    idx = np.searchsorted(cum, np.asarray(masses, dtype=np.float64), side="right")
    last = int(np.flatnonzero(p > 0)[-1])
    return np.minimum(idx, last).astype(np.int64)


def sumtree_nodes_ref(priorities: np.ndarray) -> np.ndarray:
    """Every node of the tree over ``priorities`` built bottom-up in one O(N) pass (numpy).

    Returns:
        The array a tree holding exactly these leaves must equal, slot for slot.
    """
    p = np.asarray(priorities, dtype=np.float64)
    leaves = p.size
    tree = np.zeros(2 * leaves, dtype=np.float64)
    tree[leaves:] = p
    level = leaves
    while level > 1:
        tree[level // 2:level] = tree[level:2 * level:2] + tree[level + 1:2 * level:2]
        level //= 2
    return tree


def warmup_sumtree() -> None:
    """Compile (or load from the Numba cache) the sum-tree kernels before anything is timed."""
    tree = sumtree_new(4)
    sumtree_set(tree, np.array([0, 3]), np.array([1.0, 2.0]))
    sumtree_sample(tree, np.array([0.5]))
