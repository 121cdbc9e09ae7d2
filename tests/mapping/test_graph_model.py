"""The executor's closed-form twin (fpgasim.mapping.graph_model):

- on one device a chain's prediction is the sum of its engine times, and each engine time is the
  planner's own model (MAC array: ``analytical_cycles`` in the device's clock);
- on random graphs placed over 1–3 boards it agrees with the emulator within 5 % wherever it
  names no effect it leaves out (measured −2.2 … +0.1 % on 200 graphs), and it never runs far
  from it otherwise (−27 … +6 %);
- on a shared medium it takes one tensor's copies together, as the emulated medium carries them;
- a plan with a node it has no closed form for gives no prediction.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fpgasim.hw import load_link_types
from fpgasim.hw.compute import load_compute_devices
from fpgasim.hw.platform import Cable, ComputeDevice, Platform
from fpgasim.mapping.graph_model import predict
from fpgasim.mapping.graph_plan import Engine, plan_graph
from fpgasim.nn import Graph, NodeSpec
from fpgasim.sim.executor import execute
from tests.mapping.test_graph_partition import DESIGN, _platform
from tests.strategies.graphs import cnn_specs

#: measured on 200 random graphs: −2.2 … +0.1 % without named effects.
TOLERANCE = 0.05
#: with them (short steps, edge tiles, concurrent nodes and transfers): −27 … +6 %.
NAMED_TOLERANCE = 0.5


def _chain() -> Graph:
    return Graph.build(name="chain", batch=1, specs=[
        NodeSpec(name="x", op="input", attrs={"shape": (16, 24, 24)}),
        NodeSpec(name="c", op="conv", inputs=("x",), attrs={"out_channels": 32, "kernel": 3, "padding": 1}),
        NodeSpec(name="r", op="relu", inputs=("c",)),
        NodeSpec(name="p", op="pool", inputs=("r",), attrs={"kind": "max", "kernel": 2, "stride": 2}),
        NodeSpec(name="f", op="flatten", inputs=("p",)),
        NodeSpec(name="fc", op="linear", inputs=("f",), attrs={"out_features": 10})])


def test_on_one_device_a_chain_is_the_sum_of_its_engine_times() -> None:
    plan = plan_graph(_chain(), _platform(1), {"board0": DESIGN}, {}, default="board0")
    prediction = predict(plan)
    assert prediction.total_ps == pytest.approx(sum(node.engine_ps for node in prediction.nodes), rel=1e-12)
    per_cycle_ps = 1e6 / DESIGN.clock_mhz
    for item, node in zip(plan.nodes, prediction.nodes, strict=True):
        if item.engine is Engine.MAC_ARRAY:
            assert node.engine_ps == pytest.approx(item.analytical_cycles * per_cycle_ps)
        assert node.start_ps == node.asks_ps  # nothing else holds the engines
    assert all("short steps" in effect or "edge tile" in effect for effect in prediction.unmodelled)


#: Found by CI: 7 output rows in tiles of 2 (a half-empty edge tile), +8.7 % before the twin named it.
_EDGE_TILE_CONV = [NodeSpec(name="x", op="input", attrs={"shape": (8, 13, 13)}),
                   NodeSpec(name="n0", op="conv", inputs=("x",),
                            attrs={"out_channels": 8, "kernel": 3, "stride": 2, "padding": 1})]


@settings(max_examples=12, deadline=None)
@example(specs=_EDGE_TILE_CONV, boards=1, link="aurora64b66b_10g", rotation=0)
@given(specs=cnn_specs(max_nodes=5, max_channels=64, max_hw=28, min_channels=8, min_hw=8),
       boards=st.sampled_from([1, 2, 3]), link=st.sampled_from(["aurora64b66b_10g", "eth10g_udp_hw"]),
       rotation=st.integers(0, 5))
def test_placed_graphs_agree_with_the_emulator(specs, boards: int, link: str, rotation: int) -> None:
    graph = Graph.build(name="g", batch=1, specs=specs)
    platform = _platform(boards, "chain", link)
    ids = [device.id for device in platform.devices]
    placement = {node.name: ids[(index + rotation) % boards] for index, node in enumerate(graph.nodes)}
    plan = plan_graph(graph, platform, {device: DESIGN for device in ids}, placement)
    prediction = predict(plan)
    emulated = execute(plan, trace=False).total_ps
    bound = NAMED_TOLERANCE if prediction.unmodelled else TOLERANCE
    assert prediction.total_ps == pytest.approx(emulated, rel=bound), prediction.unmodelled


def _wifi_star(receivers: int) -> Platform:
    rpi = load_compute_devices()["rpi3b_plus_a53"]
    wifi = load_link_types()["wifi_lcp"]
    devices = tuple(ComputeDevice(id=f"rpi{k}", spec=rpi, spec_id="rpi3b_plus_a53") for k in range(receivers + 1))
    cables = tuple(Cable(index=k - 1, a="rpi0", b=f"rpi{k}", link_id="wifi_lcp", link=wifi)
                   for k in range(1, receivers + 1))
    return Platform(devices=devices, cables=cables)


@pytest.mark.parametrize("receivers", [1, 3])
def test_a_shared_medium_carries_one_tensors_copies_together(receivers: int) -> None:
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (64, 32, 32)}),
             NodeSpec(name="a", op="relu", inputs=("x",))]
    specs += [NodeSpec(name=f"b{k}", op="relu", inputs=("a",)) for k in range(1, receivers + 1)]
    graph = Graph.build(name="bcast", batch=1, specs=specs)
    platform = _wifi_star(receivers)
    placement = {"x": "rpi0", "a": "rpi0", **{f"b{k}": f"rpi{k}" for k in range(1, receivers + 1)}}
    plan = plan_graph(graph, platform, {}, placement, word_bits=16)
    prediction = predict(plan)
    emulated = execute(plan, trace=False)
    assert prediction.total_ps == pytest.approx(emulated.total_ps, rel=0.02)
    assert any("shared medium" in effect for effect in prediction.unmodelled)


def test_tensors_cross_a_shared_medium_as_soon_as_they_are_produced() -> None:
    """Three tensors wait on rpi0 for one late input of their readers; each is sent when it is
    produced, in the order it was, not when its reader is ready (5 % late before) nor in a
    set's hash order."""
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (16, 32, 32)}),
             NodeSpec(name="z", op="relu", inputs=("x",))]
    placement = {"x": "rpi0", "z": "rpi0"}
    for k in range(1, 4):
        specs += [NodeSpec(name=f"a{k}", op="relu", inputs=("x",)),
                  NodeSpec(name=f"b{k}", op="add", inputs=(f"a{k}", "z"))]
        placement |= {f"a{k}": "rpi0", f"b{k}": f"rpi{k}"}
    plan = plan_graph(Graph.build(name="fan", batch=1, specs=specs), _wifi_star(3), {}, placement, word_bits=16)
    emulated = execute(plan, trace=False)
    assert predict(plan).total_ps == pytest.approx(emulated.total_ps, rel=1e-3)


def test_a_node_without_a_closed_form_gives_no_prediction() -> None:
    plan = plan_graph(_chain(), _platform(1), {"board0": DESIGN}, {}, default="board0")
    mac = next(index for index, item in enumerate(plan.nodes) if item.engine is Engine.MAC_ARRAY)
    nodes = list(plan.nodes)
    nodes[mac] = dataclasses.replace(nodes[mac], analytical_cycles=None)
    assert predict(dataclasses.replace(plan, nodes=tuple(nodes))) is None


def test_the_shipped_heterogeneous_platform_is_predicted_within_two_per_cent() -> None:
    from fpgasim.study.experiment.experiment import load_experiment
    from fpgasim.study.experiment.graph_run import plan_graph_experiment

    root = Path(__file__).resolve().parents[2]
    setup = plan_graph_experiment(load_experiment(root / "experiments" / "hetero-residual.yaml"))
    emulated = execute(setup.plan, trace=False).total_ps
    assert predict(setup.plan).total_ps == pytest.approx(emulated, rel=0.02)
