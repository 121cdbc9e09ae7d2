"""One emulated run of distributed DQN: actors, a learner and a replay server as SimPy processes.

Owns: :func:`run_cluster`. Actors step real CartPoles with ε-greedy on their copy of the
Q-network and send every experience (its real bytes, or padded to ``experience_bytes``) to the
server; the server — one core polling its NIC, or the FPGA NIC — inserts it into the real
:class:`~fpgasim.study.dqn_replay.memory.ReplayMemory`; the learner requests batches (uniform
or prioritized), trains the real Q-network on them, sends the TD errors back as priority
updates (prioritized runs) and broadcasts its weights to the actors every
``weight_sync_steps``. Every message crosses :mod:`fpgasim.study.dqn_replay.network`; the
server serves one request at a time, so its queue, the switch ports and the NICs are where
actors and learner contend. Emulated time only: computation takes the configured step times; actor ``k`` of ``A`` starts
``k / A`` of a step late, so the actors do not send in lockstep bursts.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np
import simpy

from fpgasim.hw.links import LinkType
from fpgasim.sim import TraceRecorder
from fpgasim.sim.clock import duration_ps_ceil, ps_from_ns
from fpgasim.study.dqn_replay.cartpole import ACTIONS, OBSERVATION_SIZE, CartPole
from fpgasim.study.dqn_replay.config import Placement, Position, ReplayStudy, Sampling, ServerKind
from fpgasim.study.dqn_replay.fpga_nic import FpgaServer, tree_levels
from fpgasim.study.dqn_replay.memory import (
    EXPERIENCE_DTYPE, PRIORITY_UPDATE_BYTES, SAMPLE_META_BYTES, Batch, ReplayMemory,
)
from fpgasim.study.dqn_replay.network import LEARNER, SERVER, Fabric, FifoPort, stack_ps, transfer
from fpgasim.study.dqn_replay.qnet import QNetwork

__all__ = ["RunSetup", "RunMetrics", "run_cluster", "REQUEST_BYTES"]

#: Bytes of a sample request (batch size, sampling mode, sequence number).
REQUEST_BYTES = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSetup:
    """One configuration: placement, sampling, actors, experience size, learner steps."""

    placement: Placement
    sampling: Sampling
    actors: int
    #: bytes of one experience on the wire (None: the real packed size).
    experience_bytes: int | None
    learner_steps: int
    seed: int


@dataclass(slots=True)
class RunMetrics:
    """What one run measured (times in ps)."""

    insert_ps: list[int] = field(default_factory=list)
    sample_ps: list[int] = field(default_factory=list)
    update_ps: list[int] = field(default_factory=list)
    learner_wait_ps: int = 0
    learner_train_ps: int = 0
    server_busy_ps: int = 0
    end_ps: int = 0
    start_ps: int = 0
    #: (emulated time ps, episode return) of every finished episode, all actors.
    episodes: list[tuple[int, float]] = field(default_factory=list)


class _Server:
    """The replay server's core (or FPGA pipeline): one request at a time."""

    def __init__(self, env: simpy.Environment, study: ReplayStudy, setup: RunSetup, link: LinkType,
                 fpga: FpgaServer | None, memory: ReplayMemory, size: int, trace: TraceRecorder | None):
        self.env, self.study, self.setup, self.link, self.fpga = env, study, setup, link, fpga
        self.memory, self.size, self.trace = memory, size, trace
        self.core = FifoPort()
        self.levels = tree_levels(study.dqn.memory)
        self.prioritized = setup.sampling is Sampling.PRIORITIZED
        self.warm = env.event()

    def _cpu_ps(self, *, copy_bytes: int, tree_walks: int, replies: int) -> int:
        costs = self.study.cluster.server
        tree_ns = tree_walks * self.levels * costs.tree_level_ns
        return (stack_ps(self.link) * (1 + replies) + ps_from_ns(costs.request_ns + tree_ns)
                + duration_ps_ceil(copy_bytes, costs.copy_gbps * 1e9))

    def serve(self, kind: str, duration_ps: int) -> Generator:
        """Hold the core for ``duration_ps`` (queued behind earlier requests, first come first served)."""
        start = self.core.claim(self.env.now, duration_ps)
        yield self.env.timeout(start + duration_ps - self.env.now)
        if self.trace is not None:
            self.trace.span("core", kind, start, self.env.now, process=SERVER)

    def insert_ps(self) -> int:
        if self.fpga is not None:
            return self.fpga.insert_ps(self.size)
        return self._cpu_ps(copy_bytes=self.size, tree_walks=int(self.prioritized), replies=0)

    def sample_ps(self, batch: int) -> int:
        if self.fpga is not None:
            return self.fpga.sample_ps(batch, self.size, self.prioritized)
        return self._cpu_ps(copy_bytes=batch * self.size, tree_walks=batch if self.prioritized else 0, replies=1)

    def update_ps(self, batch: int) -> int:
        if self.fpga is not None:
            return self.fpga.update_ps(batch)
        return self._cpu_ps(copy_bytes=0, tree_walks=batch, replies=0)


def _epsilon(dqn, step: int) -> float:
    frac = min(1.0, step / dqn.epsilon_decay_steps)
    return dqn.epsilon_start + frac * (dqn.epsilon_end - dqn.epsilon_start)


def _actor(env, k: int, ctx: "_Context") -> Generator:
    dqn, name = ctx.study.dqn, ctx.fabric.actors[k]
    rng = np.random.default_rng([ctx.setup.seed, 1, k])
    cartpole = CartPole(rng)
    obs, ret, length, step = cartpole.reset(), 0.0, 0, 0
    qnet = ctx.actor_nets[k]
    step_ps = ps_from_ns(ctx.study.cluster.actor_step_ns)
    yield env.timeout(step_ps * k // ctx.setup.actors)  # actors start staggered evenly over one step
    while True:
        action = qnet.act(obs, _epsilon(dqn, step), rng)
        next_obs, reward, terminated = cartpole.step(action)
        start = env.now
        yield env.timeout(step_ps)
        if ctx.trace is not None:
            ctx.trace.span("compute", "env step", start, env.now, process=name)
        experience = np.array((obs, action, reward, next_obs, terminated), dtype=EXPERIENCE_DTYPE)
        env.process(_insert(env, name, experience, ctx))
        ret, length, step = ret + reward, length + 1, step + 1
        obs = next_obs
        if terminated or length >= dqn.max_episode_steps:
            ctx.metrics.episodes.append((env.now, ret))
            obs, ret, length = cartpole.reset(), 0.0, 0


def _insert(env, actor: str, experience: np.ndarray, ctx: "_Context") -> Generator:
    start = env.now
    yield from transfer(ctx.fabric, actor, SERVER, ctx.size, src_link=ctx.client_link, dst_link=ctx.server.link,
                        cable_m=ctx.study.cluster.cable_m, label="experience", receive_stack=False)
    yield from ctx.server.serve("insert", ctx.server.insert_ps())
    ctx.memory.insert(experience[()])
    ctx.metrics.insert_ps.append(env.now - start)
    if ctx.memory.size >= ctx.study.dqn.warmup and not ctx.server.warm.triggered:
        ctx.server.warm.succeed()


def _sample(env, ctx: "_Context", rng: np.random.Generator) -> Generator:
    """Request → server samples → batch back at the learner; returns the batch."""
    cable, batch = ctx.study.cluster.cable_m, ctx.study.dqn.batch
    yield from transfer(ctx.fabric, LEARNER, SERVER, REQUEST_BYTES, src_link=ctx.client_link,
                        dst_link=ctx.server.link, cable_m=cable, label="sample request", receive_stack=False)
    yield from ctx.server.serve("sample", ctx.server.sample_ps(batch))
    memory = ctx.memory
    drawn = memory.sample_prioritized(batch, rng) if ctx.server.prioritized else memory.sample_uniform(batch, rng)
    yield from transfer(ctx.fabric, SERVER, LEARNER, batch * (ctx.size + SAMPLE_META_BYTES), src_link=ctx.server.link,
                        dst_link=ctx.client_link, cable_m=cable, label="batch", send_stack=False)
    return drawn


def _update(env, indices: np.ndarray, td: np.ndarray, ctx: "_Context") -> Generator:
    start = env.now
    yield from transfer(ctx.fabric, LEARNER, SERVER, indices.size * PRIORITY_UPDATE_BYTES, src_link=ctx.client_link,
                        dst_link=ctx.server.link, cable_m=ctx.study.cluster.cable_m, label="priorities",
                        receive_stack=False)
    yield from ctx.server.serve("update", ctx.server.update_ps(indices.size))
    ctx.memory.update_priorities(indices, td)
    ctx.metrics.update_ps.append(env.now - start)


def _broadcast(env, k: int, weights: list[np.ndarray], nbytes: int, ctx: "_Context") -> Generator:
    yield from transfer(ctx.fabric, LEARNER, ctx.fabric.actors[k], nbytes, src_link=ctx.client_link,
                        dst_link=ctx.client_link, cable_m=ctx.study.cluster.cable_m, label="weights")
    ctx.actor_nets[k].load_weights(weights)


def _learn(batch: Batch, online: QNetwork, target: QNetwork, dqn) -> np.ndarray:
    e = batch.experiences
    obs, next_obs = e["obs"], e["next_obs"]
    bootstrap = target.forward(next_obs).max(axis=1) * (1.0 - e["done"])
    targets = (e["reward"] + dqn.gamma * bootstrap).astype(np.float32)
    return online.train(obs, e["action"].astype(np.int64), targets, batch.weights.astype(np.float32),
                        dqn.learning_rate)


def _learner(env, ctx: "_Context", done: simpy.Event) -> Generator:
    dqn, metrics = ctx.study.dqn, ctx.metrics
    rng = np.random.default_rng([ctx.setup.seed, 2])
    yield ctx.server.warm
    metrics.start_ps = env.now
    train_ps = ps_from_ns(ctx.study.cluster.learner_step_ns)
    for step in range(1, ctx.setup.learner_steps + 1):
        start = env.now
        batch = yield from _sample(env, ctx, rng)
        waited = env.now - start
        metrics.sample_ps.append(waited)
        metrics.learner_wait_ps += waited
        if ctx.trace is not None:
            ctx.trace.span("compute", "wait for batch", start, env.now, process=LEARNER)
        td = _learn(batch, ctx.online, ctx.target, dqn)
        start = env.now
        yield env.timeout(train_ps)
        metrics.learner_train_ps += train_ps
        if ctx.trace is not None:
            ctx.trace.span("compute", "train", start, env.now, process=LEARNER)
        if ctx.server.prioritized:
            env.process(_update(env, batch.indices, td, ctx))
        if step % dqn.target_update_steps == 0:
            ctx.target.load_weights(ctx.online.params)
        if step % dqn.weight_sync_steps == 0:
            weights = ctx.online.copy_weights()
            for k in range(ctx.setup.actors):
                env.process(_broadcast(env, k, weights, ctx.online.weight_bytes, ctx))
    metrics.end_ps = env.now
    done.succeed()


@dataclass(slots=True)
class _Context:
    study: ReplayStudy
    setup: RunSetup
    fabric: Fabric
    server: _Server
    memory: ReplayMemory
    client_link: LinkType
    size: int
    online: QNetwork
    target: QNetwork
    actor_nets: list[QNetwork]
    metrics: RunMetrics
    trace: TraceRecorder | None


def run_cluster(study: ReplayStudy, setup: RunSetup, links: dict[str, LinkType], fpga: FpgaServer | None,
                trace: TraceRecorder | None = None) -> RunMetrics:
    """Emulate one configuration until the learner has done ``setup.learner_steps`` steps.

    Args:
        study: the study. setup: the configuration. links: the link-type library.
        fpga: the FPGA server model (used when the placement's server is ``fpga``).
        trace: recorder or None.

    Returns:
        The run's :class:`RunMetrics`.
    """
    env = simpy.Environment()
    dqn, placement = study.dqn, setup.placement
    client_link = links[placement.stack]
    on_fpga = placement.server is ServerKind.FPGA
    server_link = links[study.fpga_nic.stack] if on_fpga else client_link
    size = setup.experience_bytes or EXPERIENCE_DTYPE.itemsize
    memory = ReplayMemory(dqn.memory, alpha=dqn.alpha, beta=dqn.beta, priority_eps=dqn.priority_eps)
    fabric = Fabric(env, actors=setup.actors, position=placement.position,
                    switch_latency_ns=study.cluster.switch_latency_ns,
                    forward_ns=study.cluster.server.request_ns if placement.position is Position.ON_PATH else 0.0,
                    trace=trace)
    server = _Server(env, study, setup, server_link, fpga if on_fpga else None, memory, size, trace)
    init = np.random.default_rng([setup.seed, 0])
    online = QNetwork(OBSERVATION_SIZE, ACTIONS, dqn.hidden, init)
    target = QNetwork(OBSERVATION_SIZE, ACTIONS, dqn.hidden, init)
    target.load_weights(online.params)
    actor_nets = []
    for _ in range(setup.actors):
        net = QNetwork(OBSERVATION_SIZE, ACTIONS, dqn.hidden, init)
        net.load_weights(online.params)
        actor_nets.append(net)
    metrics = RunMetrics()
    ctx = _Context(study=study, setup=setup, fabric=fabric, server=server, memory=memory, client_link=client_link,
                   size=size, online=online, target=target, actor_nets=actor_nets, metrics=metrics, trace=trace)
    done = env.event()
    for k in range(setup.actors):
        env.process(_actor(env, k, ctx))
    env.process(_learner(env, ctx, done))
    env.run(until=done)
    metrics.server_busy_ps = server.core.busy_ps
    return metrics
