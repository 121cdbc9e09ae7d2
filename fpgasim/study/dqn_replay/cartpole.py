"""CartPole-v1 in plain Python: the environment the actors run (no gymnasium dependency).

Owns: :class:`CartPole`, the cart-pole of Barto, Sutton & Anderson (1983) with exactly the
constants, Euler integration, termination thresholds, reward and reset distribution of
gymnasium's ``CartPole-v1`` (``gymnasium/envs/classic_control/cartpole.py``): gravity 9.8,
cart mass 1.0, pole mass 0.1, half-length 0.5, force 10, τ = 0.02 s, |x| > 2.4 or
|θ| > 12° ends an episode, reward 1 per step, the state drawn uniformly in ±0.05 on reset.
Truncation at 500 steps is the caller's (``max_episode_steps``). A test compares trajectories
with gymnasium's when it is installed.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CartPole", "OBSERVATION_SIZE", "ACTIONS"]

#: observation: cart position, cart velocity, pole angle, pole angular velocity.
OBSERVATION_SIZE = 4
#: actions: push left (0) or right (1).
ACTIONS = 2

_GRAVITY, _CART_MASS, _POLE_MASS, _HALF_LENGTH, _FORCE, _TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
_TOTAL_MASS = _CART_MASS + _POLE_MASS
_POLE_MASS_LENGTH = _POLE_MASS * _HALF_LENGTH
_THETA_LIMIT = 12 * 2 * math.pi / 360
_X_LIMIT = 2.4


class CartPole:
    """One cart-pole; ``reset`` and ``step`` as gymnasium's CartPole-v1 (float64 state).

    Args:
        rng: the generator that draws reset states (seeded by the caller).
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.state = (0.0, 0.0, 0.0, 0.0)

    def reset(self) -> np.ndarray:
        """A new episode: the state uniform in [-0.05, 0.05)^4."""
        self.state = tuple(float(v) for v in self.rng.uniform(-0.05, 0.05, OBSERVATION_SIZE))
        return np.array(self.state)

    def step(self, action: int) -> tuple[np.ndarray, float, bool]:
        """Apply ``action``; returns (next observation, reward 1.0, terminated)."""
        x, x_dot, theta, theta_dot = self.state
        force = _FORCE if action == 1 else -_FORCE
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + _POLE_MASS_LENGTH * theta_dot**2 * sin) / _TOTAL_MASS
        theta_acc = (_GRAVITY * sin - cos * temp) / (
            _HALF_LENGTH * (4.0 / 3.0 - _POLE_MASS * cos**2 / _TOTAL_MASS))
        x_acc = temp - _POLE_MASS_LENGTH * theta_acc * cos / _TOTAL_MASS
        x, x_dot = x + _TAU * x_dot, x_dot + _TAU * x_acc
        theta, theta_dot = theta + _TAU * theta_dot, theta_dot + _TAU * theta_acc
        self.state = (x, x_dot, theta, theta_dot)
        terminated = x < -_X_LIMIT or x > _X_LIMIT or theta < -_THETA_LIMIT or theta > _THETA_LIMIT
        return np.array(self.state), 1.0, terminated
