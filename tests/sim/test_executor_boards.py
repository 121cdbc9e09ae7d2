"""Imported graphs on 1, 2 and 4 boards are bit exact: random small ONNX models (branches, adds, muls,
concats, slices, 1×1 convs, global pools; tests/strategies/onnx_models.py), imported, their nodes
placed on different ZCU102 boards of a chain, run functionally through the executor — every node's
output must equal :func:`fpgasim.nn.evaluate.evaluate_fixed` run node by node, bit for bit, whatever
the number of boards and wherever the nodes sit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.fixedpoint import quantize
from fpgasim.hw import load_board, load_link_types
from fpgasim.hw.platform import Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn import Graph
from fpgasim.nn.evaluate import evaluate_fixed
from fpgasim.nn.onnx import import_onnx
from fpgasim.sim.executor import Numerics, carried_values, execute
from tests.strategies.onnx_models import BATCH, onnx_dags

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "kernels" / "superlip-conv-16bit.yaml"
DESIGN = load_kernel_file(KERNEL)
LINK = "aurora64b66b_10g"


def _platform(boards: int) -> Platform:
    return Platform.homogeneous(boards=boards, board=load_board("zcu102"), kernel_path=KERNEL,
                                memory_channel="ps_ddr4", topology="chain", link_id=LINK,
                                link=load_link_types()[LINK])


PLATFORMS = {boards: _platform(boards) for boards in (1, 2, 4)}


@pytest.mark.parametrize("boards", [1, 2, 4])
@settings(max_examples=8, deadline=None)
@given(model=onnx_dags(max_nodes=6), rotation=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_imported_graphs_on_several_boards_equal_the_node_by_node_reference(boards: int, model: onnx.ModelProto,
                                                                            rotation: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.onnx"
        onnx.save(model, str(path))
        imported = import_onnx(path)
    graph, platform = imported.graph, PLATFORMS[boards]
    ids = [device.id for device in platform.devices]
    # consecutive nodes of the topological order on different boards: every edge may cross a cable
    placement = {node.name: ids[(index + rotation) % boards] for index, node in enumerate(graph.nodes)}
    plan = plan_graph(graph, platform, {board: DESIGN for board in ids}, placement)
    requant = DESIGN.precision.fixed.requantizer()
    rng = np.random.default_rng(seed)
    inputs = {node.name: rng.uniform(-2, 2, (BATCH, *node.out_shape)) for node in graph.inputs}
    values = carried_values(plan, Numerics(fmt=requant.out, requant=requant), inputs, imported.weights)
    emulation = execute(plan, trace=False, values=values)

    quantised = {name: quantize(x, requant.out, rounding=requant.rounding, overflow=requant.overflow)[0]
                 for name, x in inputs.items()}
    reference = evaluate_fixed(graph, quantised, imported.weights, fmt=requant.out, requant=requant)
    for node in graph.nodes:
        assert np.array_equal(values.out[node.name].values, reference[node.name].values), node.name
    assert emulation.bit_exact is True and all(run.bit_exact for run in emulation.nodes)
    assert all(run.device == placement[run.name] for run in emulation.nodes)
    for name in graph.outputs:
        assert np.array_equal(emulation.outputs[name], reference[name].to_float())
    if boards > 1 and any(placement[p] != placement[n.name] for n in graph.nodes for p in n.inputs):
        assert emulation.transfers  # values really crossed the links


@pytest.mark.parametrize("boards", [1, 2])
def test_ceil_mode_pools_on_the_pool_unit_equal_the_node_by_node_reference(tmp_path: Path, boards: int) -> None:
    """Ceil-mode pools whose last windows run past the map (an odd 11x11 map, MaxPool 2x2/2: 11 -> 6, floor
    mode 5; then an AveragePool 3x3/2 padding 1: 6 -> 4, floor mode 3, whose end windows divide by 6 and 4)
    on the pool unit, functional: bit exact against evaluate_fixed node by node."""
    from onnx import helper

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["m"], name="max", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             helper.make_node("AveragePool", ["m"], ["y"], name="avg", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)]
    graph = _emulated_bit_exact(tmp_path, boards, nodes, {"w": (4, 3, 3, 3)}, (3, 11, 11), (4, 4, 4))
    assert [node.out_shape for node in graph.nodes if node.op == "pool"] == [(4, 6, 6), (4, 4, 4)]


@pytest.mark.parametrize("boards", [1, 2])
def test_rectangular_windows_on_the_engines_equal_the_node_by_node_reference(tmp_path: Path, boards: int) -> None:
    """inception_v3's factorized convolutions on the MAC array (a 1x3 conv with pads [0, 1, 0, 1], a 3x1 conv
    with strides [2, 1] and pads [1, 0, 1, 0]) and a 3x1/(2, 1) average pool with per-axis padding on the pool
    unit, functional: bit exact against evaluate_fixed node by node."""
    from onnx import helper

    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1x3", kernel_shape=[1, 3], pads=[0, 1, 0, 1]),
             helper.make_node("Conv", ["a", "w2"], ["b"], name="conv3x1", kernel_shape=[3, 1], strides=[2, 1],
                              pads=[1, 0, 1, 0]),
             helper.make_node("AveragePool", ["b"], ["y"], name="avg3x1", kernel_shape=[3, 1], strides=[2, 1],
                              pads=[1, 0, 1, 0], count_include_pad=1)]
    graph = _emulated_bit_exact(tmp_path, boards, nodes, {"w1": (4, 3, 1, 3), "w2": (5, 4, 3, 1)}, (3, 11, 9),
                                (5, 3, 9))
    assert [graph.node(name).attrs["kernel"] for name in ("conv1x3", "conv3x1", "avg3x1")] == [(1, 3), (3, 1), (3, 1)]


def _emulated_bit_exact(tmp_path: Path, boards: int, nodes: list, weights: dict[str, tuple[int, ...]],
                        x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> Graph:
    """Import the one-input model ``nodes`` (random ``weights`` of those shapes), run it functionally on
    ``boards`` boards (nodes dealt round-robin), assert every node bit exact against evaluate_fixed and
    that pools ran on the pool unit; return the graph."""
    from fpgasim.mapping.graph_plan import Engine
    from tests.strategies.onnx_models import init, onnx_model

    rng = np.random.default_rng(boards)
    model = onnx_model(nodes, [init(name, rng.normal(0, 0.3, shape)) for name, shape in weights.items()],
                       {"x": (BATCH, *x_shape)}, {"y": (BATCH, *y_shape)})
    onnx.save(model, str(tmp_path / "model.onnx"))
    imported = import_onnx(tmp_path / "model.onnx")
    graph, platform = imported.graph, PLATFORMS[boards]
    ids = [device.id for device in platform.devices]
    plan = plan_graph(graph, platform, {board: DESIGN for board in ids},
                      {node.name: ids[index % boards] for index, node in enumerate(graph.nodes)})
    assert {plan.plan_of(node.name).engine for node in graph.nodes if node.op == "pool"} == {Engine.VECTOR}
    requant = DESIGN.precision.fixed.requantizer()
    x = rng.uniform(-2, 2, (BATCH, *x_shape))
    values = carried_values(plan, Numerics(fmt=requant.out, requant=requant), {"x": x}, imported.weights)
    emulation = execute(plan, trace=False, values=values)
    quantised = {"x": quantize(x, requant.out, rounding=requant.rounding, overflow=requant.overflow)[0]}
    reference = evaluate_fixed(graph, quantised, imported.weights, fmt=requant.out, requant=requant)
    for node in graph.nodes:
        assert np.array_equal(values.out[node.name].values, reference[node.name].values), node.name
    assert emulation.bit_exact is True and all(run.bit_exact for run in emulation.nodes)
    return graph
