"""Replay memory, CartPole, Q-network and the FPGA NIC model, each against a hand or reference result."""

import numpy as np
import pytest

from fpgasim.errors import BadArgument
from fpgasim.hw import load_board
from fpgasim.ops.sumtree import sumtree_priorities, sumtree_total
from fpgasim.sim.clock import Clock
from fpgasim.study.dqn_replay.cartpole import CartPole
from fpgasim.study.dqn_replay.fpga_nic import FpgaServer, max_priorities, tree_fit, tree_levels
from fpgasim.study.dqn_replay.memory import EXPERIENCE_DTYPE, ReplayMemory
from fpgasim.study.dqn_replay.qnet import QNetwork

U250 = load_board("alveo_u250")


def _experience(i: int) -> np.void:
    return np.array(([i, 0, 0, 0], i % 2, 1.0, [i + 1, 0, 0, 0], False), dtype=EXPERIENCE_DTYPE)[()]


def test_experience_has_its_packed_byte_size():
    assert EXPERIENCE_DTYPE.itemsize == 4 * 4 + 4 + 4 + 4 * 4 + 1 == 41


def test_ring_buffer_evicts_the_oldest():
    memory = ReplayMemory(4, alpha=0.6, beta=0.4, priority_eps=0.01)
    slots = [memory.insert(_experience(i)) for i in range(6)]
    assert slots == [0, 1, 2, 3, 0, 1] and memory.size == 4 and memory.inserted == 6
    assert sorted(memory.data["obs"][:, 0].tolist()) == [2, 3, 4, 5]


def test_priorities_and_importance_weights_by_hand():
    memory = ReplayMemory(4, alpha=0.5, beta=1.0, priority_eps=0.0 + 1e-12)
    for i in range(4):
        memory.insert(_experience(i))
    memory.update_priorities(np.array([0, 1, 2, 3]), np.array([1.0, 4.0, 9.0, 0.0]))
    assert sumtree_priorities(memory.tree)[:4] == pytest.approx([1.0, 2.0, 3.0, 1e-6])
    batch = memory.sample_prioritized(3, np.random.default_rng(0))
    probs = np.array([1.0, 2.0, 3.0, 1e-6])[batch.indices] / sumtree_total(memory.tree)
    expected = (4 * probs) ** -1.0
    assert batch.weights == pytest.approx(expected / expected.max())
    assert memory.max_priority == pytest.approx(3.0)


def test_uniform_sampling_stays_in_the_filled_slots():
    memory = ReplayMemory(100, alpha=0.6, beta=0.4, priority_eps=0.01)
    for i in range(10):
        memory.insert(_experience(i))
    rng = np.random.default_rng(1)
    picks = np.concatenate([memory.sample_uniform(10, rng).indices for _ in range(20)])
    assert picks.min() == 0 and picks.max() == 9
    assert np.all(memory.sample_uniform(10, rng).weights == 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"capacity": 0}, "capacity=0"), ({"alpha": 1.2}, "alpha=1.2"), ({"beta": -1}, "beta=-1"),
    ({"priority_eps": 0}, "priority_eps=0"),
])
def test_memory_refuses_bad_parameters(kwargs, message):
    args = {"capacity": 4, "alpha": 0.6, "beta": 0.4, "priority_eps": 0.01, **kwargs}
    with pytest.raises(BadArgument, match=message):
        ReplayMemory(args.pop("capacity"), **args)


def test_a_batch_larger_than_the_memory_is_refused():
    memory = ReplayMemory(4, alpha=0.6, beta=0.4, priority_eps=0.01)
    memory.insert(_experience(0))
    with pytest.raises(BadArgument, match="batch=2: expected 1..1"):
        memory.sample_prioritized(2, np.random.default_rng(0))


def test_cartpole_matches_gymnasium():
    gym = pytest.importorskip("gymnasium")
    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=3)
    ours = CartPole(np.random.default_rng(0))
    ours.reset()
    ours.state = tuple(float(v) for v in env.state)
    rng = np.random.default_rng(5)
    for _ in range(60):
        action = int(rng.integers(2))
        _, reward, terminated, _, _ = env.step(action)
        obs, our_reward, our_terminated = ours.step(action)
        assert obs == pytest.approx(np.asarray(env.state), rel=1e-12, abs=1e-12)
        assert (our_reward, our_terminated) == (reward, terminated)
        if terminated:
            break


def test_a_td_update_moves_q_toward_the_target():
    rng = np.random.default_rng(0)
    net = QNetwork(4, 2, 16, rng)
    obs = rng.standard_normal((8, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 8)
    targets = np.full(8, 5.0, dtype=np.float32)
    first = np.abs(net.train(obs, actions, targets, np.ones(8, np.float32), 0.01)).mean()
    for _ in range(200):
        last = np.abs(net.train(obs, actions, targets, np.ones(8, np.float32), 0.01)).mean()
    assert last < 0.1 * first


def test_tree_levels_and_block_counts_by_hand():
    assert [tree_levels(n) for n in (1, 2, 3, 2000, 2048, 2049)] == [1, 1, 2, 11, 11, 12]
    fit = tree_fit(U250, 2000, 32, "both")
    # 11 levels of <= 2048 words x <= 42 bits: one 4K x 72 URAM each
    assert (fit.levels, fit.uram, fit.bram18, fit.fits) == (11, 11, 0, True)
    bram = tree_fit(U250, 2048, 32, "bram")
    # level d holds 2^d words of 32 + (11 - d) bits. d=11: 2048 x 32 -> 4 BRAM18 (2048 x 9 shape);
    # d=10: 1024 x 33 -> 2 (1024 x 18); d=9,8,7: <= 512 x 36 -> 1; d=6..1: 37..42 bits -> 2 each
    assert bram.bram18 == 4 + 2 + 3 * 1 + 6 * 2 and bram.uram == 0


@pytest.mark.parametrize("memory", ["bram", "uram", "both"])
def test_max_priorities_is_the_largest_power_of_two_that_fits(memory):
    best = max_priorities(U250, 32, memory)
    assert best >= 2 and tree_fit(U250, best, 32, memory).fits and not tree_fit(U250, 2 * best, 32, memory).fits


def test_pipelined_walks_by_hand():
    server = FpgaServer(clock=Clock.from_mhz(250), levels=15, level_cycles=2, ddr_bytes_per_s=1e9)
    assert server.walk_cycles(32) == 15 * 2 + 31
    assert server.update_ps(32) == 61 * 4000
    assert server.sample_ps(32, 100, prioritized=True) == 61 * 4000 + 3200 * 1000
    assert server.sample_ps(32, 100, prioritized=False) == 32 * 4000 + 3200 * 1000
