"""Sum-tree benchmark: prioritized sampling and priority updates relative to two references.

Run: ``.venv/bin/python benchmarks/sumtree.py [--entries N] [--repeats R]``

The workload is one learner step of prioritized replay (Schaul et al. 2016): draw a stratified
batch of 32 indices in proportion to the priorities, then write 32 new priorities. Three
implementations hold the same N priorities:

* ``numba``  — :mod:`fpgasim.ops.sumtree` (O(log N) sample and update);
* ``numpy``  — the naive O(N) reference: a flat priority array; a batch is ``np.cumsum`` +
  ``np.searchsorted`` (O(N)), an update is an O(1) array write;
* ``python`` — the same sum-tree algorithm in pure Python lists (O(log N), interpreted).

Prints ``ratio.<name>: value`` lines (reference time ÷ numba time; > 1 means the Numba tree is
faster), each the median of per-pair ratios of interleaved runs, then the absolute rates.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fpgasim.ops.sumtree import sumtree_new, sumtree_sample, sumtree_set, warmup_sumtree

BATCH = 32


class PythonSumTree:
    """The sum-tree in pure Python (the interpreted twin of fpgasim.ops.sumtree)."""

    def __init__(self, priorities: np.ndarray):
        leaves = 1 << (len(priorities) - 1).bit_length()
        self.leaves = leaves
        self.tree = [0.0] * (2 * leaves)
        self.tree[leaves:leaves + len(priorities)] = priorities.tolist()
        for node in range(leaves - 1, 0, -1):
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1]

    def set(self, indices: list[int], values: list[float]) -> None:
        tree = self.tree
        for index, value in zip(indices, values):
            node = self.leaves + index
            tree[node] = value
            node >>= 1
            while node:
                tree[node] = tree[2 * node] + tree[2 * node + 1]
                node >>= 1

    def sample(self, uniforms: list[float]) -> list[int]:
        tree, out = self.tree, []
        width = tree[1] / len(uniforms)
        for j, u in enumerate(uniforms):
            mass, node = (j + u) * width, 1
            while node < self.leaves:
                left = 2 * node
                if mass >= tree[left] and tree[left + 1] > 0.0:
                    mass -= tree[left]
                    node = left + 1
                else:
                    node = left
            out.append(node - self.leaves)
        return out


def numpy_sample(priorities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Naive O(N) stratified sampling: prefix sums of all priorities, then a search per draw."""
    cum = np.cumsum(priorities)
    masses = (np.arange(uniforms.size) + uniforms) * (cum[-1] / uniforms.size)
    return np.minimum(np.searchsorted(cum, masses, side="right"), priorities.size - 1)


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(fast, reference, repeats: int) -> tuple[float, float, float]:
    """Interleaved median times of ``fast`` and ``reference`` and the median per-pair ratio ref/fast."""
    fast()
    reference()
    t_fast, t_ref = [], []
    for _ in range(repeats):
        t_fast.append(_seconds(fast))
        t_ref.append(_seconds(reference))
    return statistics.median(t_fast), statistics.median(t_ref), \
        statistics.median(r / f for f, r in zip(t_fast, t_ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--ops", type=int, default=20, help="learner steps per timed call")
    args = parser.parse_args()
    warmup_sumtree()
    rng = np.random.default_rng(0)
    n = args.entries
    priorities = rng.uniform(0.01, 2.0, n)
    tree = sumtree_new(n)
    sumtree_set(tree, np.arange(n), priorities)
    flat = priorities.copy()
    pytree = PythonSumTree(priorities)
    uniforms = [rng.random(BATCH) for _ in range(args.ops)]
    indices = [rng.integers(0, n, BATCH) for _ in range(args.ops)]
    values = [rng.uniform(0.01, 2.0, BATCH) for _ in range(args.ops)]
    u_lists = [u.tolist() for u in uniforms]
    i_lists = [i.tolist() for i in indices]
    v_lists = [v.tolist() for v in values]

    def numba_sample():
        for u in uniforms:
            sumtree_sample(tree, u)

    def numba_update():
        for i, v in zip(indices, values):
            sumtree_set(tree, i, v)

    def numba_step():
        for u, i, v in zip(uniforms, indices, values):
            sumtree_sample(tree, u)
            sumtree_set(tree, i, v)

    def numpy_sample_all():
        for u in uniforms:
            numpy_sample(flat, u)

    def numpy_update():
        for i, v in zip(indices, values):
            flat[i] = v

    def numpy_step():
        for u, i, v in zip(uniforms, indices, values):
            numpy_sample(flat, u)
            flat[i] = v

    def python_sample():
        for u in u_lists:
            pytree.sample(u)

    def python_update():
        for i, v in zip(i_lists, v_lists):
            pytree.set(i, v)

    def python_step():
        for u, i, v in zip(u_lists, i_lists, v_lists):
            pytree.sample(u)
            pytree.set(i, v)

    cases = [
        ("sample_vs_numpy", numba_sample, numpy_sample_all),
        ("update_vs_numpy", numba_update, numpy_update),
        ("learner_step_vs_numpy", numba_step, numpy_step),
        ("sample_vs_python", numba_sample, python_sample),
        ("update_vs_python", numba_update, python_update),
        ("learner_step_vs_python", numba_step, python_step),
    ]
    rates = []
    for name, fast, reference in cases:
        t_fast, t_ref, ratio = paired(fast, reference, args.repeats)
        print(f"ratio.{name}: {ratio:.2f}")
        rates.append((name, args.ops * BATCH / t_fast, args.ops * BATCH / t_ref))
    print(f"entries: {n}, batch: {BATCH}, learner steps per call: {args.ops}, repeats: {args.repeats}")
    for name, fast, ref in rates:
        print(f"rate.{name}: numba {fast:,.0f} /s, reference {ref:,.0f} /s")


if __name__ == "__main__":
    main()
