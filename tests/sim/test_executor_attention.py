"""Attention on the graph executor: input → pointwise q, k, v → (windowed) scores → softmax per head
→ attend → pointwise, its products on the MAC array as batch·windows samples of one window's conv,
each with its own weights — bit exact against fpgasim.ops node by node (block and dilated windows,
no window, batch 1 and 2; one board, and two), with timing mode taking the same time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fpgasim.hw import load_board, load_link_types
from fpgasim.hw.platform import Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_partition import plan_partitioned_graph
from fpgasim.mapping.graph_plan import Engine, conv_batch, plan_graph
from fpgasim.nn import Graph, NodeSpec
from fpgasim.nn.evaluate import synthetic_weights
from fpgasim.sim.executor import Numerics, carried_values, execute

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "kernels" / "superlip-conv-16bit-transformer.yaml"
DESIGN = load_kernel_file(KERNEL)
E, HEADS, H, W = 8, 2, 4, 6
LINK = "aurora64b66b_10g"


def _platform(boards: int) -> Platform:
    return Platform.homogeneous(boards=boards, board=load_board("zcu102"), kernel_path=KERNEL,
                                memory_channel="ps_ddr4", burst_bytes=2048, topology="chain",
                                link_id=LINK if boards > 1 else None,
                                link=load_link_types()[LINK] if boards > 1 else None)


def _graph(batch: int, window: tuple[int, int] | None, dilated: bool) -> Graph:
    windowing = {"window": window, "dilated": dilated}
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (E, H, W)}),
             *(NodeSpec(name=name, op="pointwise", inputs=("x",), attrs={"out_channels": E}) for name in "qkv"),
             NodeSpec(name="s", op="scores", inputs=("q", "k"), attrs={"heads": HEADS, "scale": 0.5, **windowing}),
             NodeSpec(name="p", op="softmax", inputs=("s",), attrs={"groups": HEADS}),
             NodeSpec(name="a", op="attend", inputs=("p", "v"), attrs={"heads": HEADS, **windowing}),
             NodeSpec(name="o", op="pointwise", inputs=("a",), attrs={"out_channels": E})]
    return Graph.build(name="attention", batch=batch, specs=specs)


def _run(plan, batch: int, *, functional: bool, seed: int = 0):
    requant = DESIGN.precision.fixed.requantizer()
    x = np.random.default_rng(seed).uniform(-1, 1, (batch, E, H, W))
    values = carried_values(plan, Numerics(fmt=requant.out, requant=requant), {"x": x},
                            synthetic_weights(plan.graph, seed=seed))
    return values, execute(plan, trace=False, values=values if functional else None)


CASES = [pytest.param(window, dilated, id=name) for name, window, dilated in
         [("block", (2, 3), False), ("grid", (2, 3), True), ("square-grid", (2, 2), True), ("none", None, False)]]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize(("window", "dilated"), CASES)
def test_attention_on_one_board_is_bit_exact_and_times_the_same_in_both_modes(window, dilated, batch) -> None:
    plan = plan_graph(_graph(batch, window, dilated), _platform(1), {"board0": DESIGN}, {}, default="board0")
    assert {plan.plan_of(name).engine for name in "sa"} == {Engine.MAC_ARRAY}
    assert plan.plan_of("p").engine is Engine.VECTOR
    values, functional = _run(plan, batch, functional=True)
    assert functional.bit_exact is True and all(run.bit_exact for run in functional.nodes)
    windows = 1 if window is None else (H // window[0]) * (W // window[1])
    assert values.begin(plan.plan_of("s")).weights.shape[0] == batch * windows  # one set per window sample
    _, timing = _run(plan, batch, functional=False)
    assert [(run.name, run.start_ps, run.end_ps) for run in timing.nodes] == \
        [(run.name, run.start_ps, run.end_ps) for run in functional.nodes]


def test_each_window_reads_only_its_own_keys_once() -> None:
    """Weight traffic of windowed scores: one tile step per window sample (each window's 6 positions
    fit one Tr×Tc tile), so the MAC array reads every key exactly once — E·H·W weights per sample —
    and every query once: the DDR reads are the two operands, no more."""
    batch = 2
    plan = plan_graph(_graph(batch, (2, 3), False), _platform(1), {"board0": DESIGN}, {}, default="board0")
    item = plan.plan_of("s")
    assert conv_batch(item.node, batch) == batch * 4 and item.node.layer.weight_elems == E * H * W
    _, timing = _run(plan, batch, functional=False)
    run = next(run for run in timing.nodes if run.name == "s")
    element = DESIGN.precision.word_bits // 8
    assert run.ddr_read_bytes == batch * (E * H * W + E * H * W) * element
    assert run.ddr_write_bytes == batch * HEADS * 6 * H * W * element


@pytest.mark.parametrize(("window", "dilated"), CASES[:2])
@pytest.mark.parametrize("partitioned", [False, True])
def test_attention_on_two_boards_is_bit_exact(window, dilated, partitioned) -> None:
    """Nodes alternating between the boards (every edge may cross the cable), or partitioned by the
    planner (attention's products whole on one board): every node bit exact, batch 2."""
    graph = _graph(2, window, dilated)
    platform = _platform(2)
    ids = [device.id for device in platform.devices]
    designs = {device: DESIGN for device in ids}
    if partitioned:
        plan = plan_partitioned_graph(graph, platform, designs, ids)
    else:
        plan = plan_graph(graph, platform, designs, {node.name: ids[i % 2] for i, node in enumerate(graph.nodes)})
    _, result = _run(plan, 2, functional=True, seed=7)
    assert result.bit_exact is True and all(run.bit_exact for run in result.nodes)
    if not partitioned:
        assert result.transfers
