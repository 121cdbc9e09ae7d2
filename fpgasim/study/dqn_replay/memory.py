"""The replay memory the server holds: a ring buffer of experiences and a sum-tree of priorities.

Owns: :class:`ReplayMemory` — insertion with ring-buffer eviction (the oldest slot is
overwritten), uniform sampling, and proportional prioritized sampling after Schaul et al. (2016)
and Ape-X: priority ``p_i = (|δ_i| + ε)^α`` in a :mod:`fpgasim.ops.sumtree`, stratified batches,
importance weights ``w_i = (N · P(i))^-β`` normalised by the batch maximum, new experiences at
the largest priority seen so far, and priority updates from the learner's TD errors — plus the
:data:`EXPERIENCE_DTYPE` whose item size is an experience's real byte size on the wire.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.ops.sumtree import sumtree_new, sumtree_priorities, sumtree_sample, sumtree_set, sumtree_total

__all__ = ["ReplayMemory", "Batch", "EXPERIENCE_DTYPE", "SAMPLE_META_BYTES", "PRIORITY_UPDATE_BYTES"]

#: One CartPole experience as an actor sends it (packed): s, a, r, s', done.
EXPERIENCE_DTYPE = np.dtype([("obs", "<f4", (4,)), ("action", "<i4"), ("reward", "<f4"), ("next_obs", "<f4", (4,)),
                             ("done", "u1")])
#: Bytes per sampled experience besides the experience: its slot index (int32) and IS weight (float32).
SAMPLE_META_BYTES = 8
#: Bytes per priority update: slot index (int32) and new priority (float32).
PRIORITY_UPDATE_BYTES = 8


class Batch:
    """A sampled batch: slot indices, experiences (structured array) and importance weights."""

    __slots__ = ("indices", "experiences", "weights")

    def __init__(self, indices: np.ndarray, experiences: np.ndarray, weights: np.ndarray):
        self.indices, self.experiences, self.weights = indices, experiences, weights


class ReplayMemory:
    """A ring buffer of ``capacity`` experiences with a priority sum-tree.

    Args:
        capacity: experiences held; the oldest is evicted beyond it.
        alpha: prioritization exponent in [0, 1]. beta: importance-sampling exponent in [0, 1].
        priority_eps: added to |TD error| so no priority is 0.

    Raises:
        BadArgument: capacity < 1, α or β outside [0, 1], priority_eps <= 0.
    """

    def __init__(self, capacity: int, *, alpha: float, beta: float, priority_eps: float):
        if capacity < 1:
            raise BadArgument(f"replay memory capacity={capacity}: expected >= 1")
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0.0 <= value <= 1.0:
                raise BadArgument(f"replay memory {name}={value}: expected a number in [0, 1]")
        if not priority_eps > 0:
            raise BadArgument(f"replay memory priority_eps={priority_eps}: expected > 0")
        self.capacity, self.alpha, self.beta, self.priority_eps = capacity, alpha, beta, priority_eps
        self.data = np.zeros(capacity, dtype=EXPERIENCE_DTYPE)
        self.tree = sumtree_new(capacity)
        self.size = 0
        self.next_slot = 0
        self.inserted = 0
        self.max_priority = 1.0

    def insert(self, experience: np.void) -> int:
        """Store one experience at the next ring slot with the largest priority seen; returns the slot."""
        slot = self.next_slot
        self.data[slot] = experience
        sumtree_set(self.tree, np.array([slot]), np.array([self.max_priority]))
        self.next_slot = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self.inserted += 1
        return slot

    def sample_uniform(self, batch: int, rng: np.random.Generator) -> Batch:
        """``batch`` slots uniformly with replacement; weights all 1.

        Raises:
            BadArgument: batch < 1 or larger than the experiences held.
        """
        self._check_batch(batch)
        indices = rng.integers(0, self.size, batch)
        return Batch(indices, self.data[indices].copy(), np.ones(batch))

    def sample_prioritized(self, batch: int, rng: np.random.Generator) -> Batch:
        """Stratified proportional sampling with importance weights (normalised by the batch max).

        Raises:
            BadArgument: batch < 1 or larger than the experiences held.
        """
        self._check_batch(batch)
        indices = sumtree_sample(self.tree, rng.random(batch))
        probs = sumtree_priorities(self.tree)[indices] / sumtree_total(self.tree)
        weights = (self.size * probs) ** (-self.beta)
        return Batch(indices, self.data[indices].copy(), weights / weights.max())

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set ``p_i = (|δ_i| + ε)^α`` for the sampled slots (the learner's TD errors)."""
        priorities = (np.abs(td_errors) + self.priority_eps) ** self.alpha
        self.max_priority = max(self.max_priority, float(priorities.max()))
        sumtree_set(self.tree, indices, priorities)

    def _check_batch(self, batch: int) -> None:
        if not 1 <= batch <= self.size:
            raise BadArgument(f"batch={batch}: expected 1..{self.size} (experiences held)")
