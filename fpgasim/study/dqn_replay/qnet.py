"""The DQN's Q-network: a two-hidden-layer ReLU MLP in numpy, trained with Adam on a Huber loss.

Owns: :class:`QNetwork` (forward, greedy/ε-greedy action, one importance-weighted TD update
that returns the TD errors the learner turns into priorities, weight copies and their byte
size on the wire). float32 parameters, as a framework would send them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QNetwork"]

_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-8


class QNetwork:
    """``obs → hidden → hidden → actions`` with ReLU; He-initialised from ``rng``.

    Args:
        obs_size: observation length. actions: action count. hidden: units per hidden layer.
        rng: seeded generator for the initial weights.
    """

    def __init__(self, obs_size: int, actions: int, hidden: int, rng: np.random.Generator):
        shapes = [(obs_size, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, actions), (actions,)]
        self.params = [(rng.standard_normal(s) * np.sqrt(2.0 / s[0])).astype(np.float32) if len(s) == 2
                       else np.zeros(s, dtype=np.float32) for s in shapes]
        self._m = [np.zeros_like(p) for p in self.params]
        self._v = [np.zeros_like(p) for p in self.params]
        self._t = 0

    @property
    def weight_bytes(self) -> int:
        """Bytes of every parameter (a weight broadcast's payload)."""
        return sum(p.nbytes for p in self.params)

    def copy_weights(self) -> list[np.ndarray]:
        """A copy of the parameters (what a broadcast carries)."""
        return [p.copy() for p in self.params]

    def load_weights(self, weights: list[np.ndarray]) -> None:
        """Replace the parameters with ``weights`` (copied)."""
        self.params = [w.copy() for w in weights]

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """Q-values of a batch of observations ``(B, obs)`` → ``(B, actions)``."""
        w1, b1, w2, b2, w3, b3 = self.params
        h1 = np.maximum(obs @ w1 + b1, 0)
        h2 = np.maximum(h1 @ w2 + b2, 0)
        return h2 @ w3 + b3

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
        """ε-greedy action for one observation."""
        if rng.random() < epsilon:
            return int(rng.integers(self.params[-1].size))
        return int(np.argmax(self.forward(obs[None, :].astype(np.float32))[0]))

    def train(self, obs, actions, targets, weights, learning_rate: float) -> np.ndarray:
        """One Adam step on ``Σ w_i · huber(Q(s_i, a_i) - target_i) / B``.

        Returns:
            The TD errors ``target - Q(s, a)`` before the step, float64 ``(B,)``.
        """
        w1, b1, w2, b2, w3, b3 = self.params
        z1 = obs @ w1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + b2
        h2 = np.maximum(z2, 0)
        q = h2 @ w3 + b3
        rows = np.arange(obs.shape[0])
        td = targets - q[rows, actions]
        grad_q = np.zeros_like(q)
        grad_q[rows, actions] = -np.clip(td, -1.0, 1.0) * weights / obs.shape[0]  # Huber, δ = 1
        g_w3, g_b3 = h2.T @ grad_q, grad_q.sum(0)
        d2 = (grad_q @ w3.T) * (z2 > 0)
        g_w2, g_b2 = h1.T @ d2, d2.sum(0)
        d1 = (d2 @ w2.T) * (z1 > 0)
        g_w1, g_b1 = obs.T @ d1, d1.sum(0)
        self._t += 1
        for i, grad in enumerate((g_w1, g_b1, g_w2, g_b2, g_w3, g_b3)):
            self._m[i] = _ADAM_B1 * self._m[i] + (1 - _ADAM_B1) * grad
            self._v[i] = _ADAM_B2 * self._v[i] + (1 - _ADAM_B2) * grad * grad
            m_hat = self._m[i] / (1 - _ADAM_B1 ** self._t)
            v_hat = self._v[i] / (1 - _ADAM_B2 ** self._t)
            self.params[i] = (self.params[i] - learning_rate * m_hat / (np.sqrt(v_hat) + _ADAM_EPS)).astype(np.float32)
        return td.astype(np.float64)
