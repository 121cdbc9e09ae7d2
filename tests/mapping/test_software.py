"""A node's work on a compute device: op classes of convolutions, and the executor's single-device
time is the sum of the roofline node times (the quantity the device fit fits)."""

from __future__ import annotations

import pytest

from fpgasim.hw.compute import OpClass, load_compute_devices
from fpgasim.hw.platform import ComputeDevice, Platform
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.mapping.software import graph_software_s, node_op_class, node_work
from fpgasim.nn import Graph, NodeSpec
from fpgasim.nn.zoo import zoo_graph
from fpgasim.sim.executor import execute


def _graph() -> Graph:
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (8, 6, 6)}),
             NodeSpec(name="dense", op="conv", inputs=("x",), attrs={"out_channels": 8, "kernel": 3, "padding": 1}),
             NodeSpec(name="one", op="conv", inputs=("dense",), attrs={"out_channels": 4, "kernel": 1}),
             NodeSpec(name="dw", op="conv", inputs=("one",), attrs={"out_channels": 4, "kernel": 3, "groups": 4}),
             NodeSpec(name="grouped", op="conv", inputs=("dw",), attrs={"out_channels": 8, "kernel": 3, "groups": 2}),
             NodeSpec(name="act", op="relu", inputs=("grouped",))]
    return Graph.build(name="classes", batch=2, specs=specs)


def test_convolutions_are_classed_by_kernel_and_groups():
    graph = _graph()
    classes = {node.name: node_op_class(node) for node in graph.nodes if node.name != "x"}
    assert classes == {"dense": OpClass.DENSE_CONV, "one": OpClass.POINTWISE, "dw": OpClass.DEPTHWISE,
                       "grouped": OpClass.DENSE_CONV, "act": OpClass.ELEMENTWISE}
    work = node_work(graph.node("one"), 2, 4)
    assert (work.macs, work.elementwise_ops) == (2 * 4 * 8 * 36, 0)
    assert work.bytes_moved == 2 * (8 * 36 + 4 * 36) * 4


@pytest.mark.parametrize("network", ["squeezenet1_0", "tiny_graph"])
def test_the_executor_on_one_device_takes_the_sum_of_the_node_times(network):
    spec = load_compute_devices()["rpi3b_plus_a53"]
    graph = _graph() if network == "tiny_graph" else zoo_graph(network)
    platform = Platform(devices=(ComputeDevice(id="rpi", spec=spec, spec_id="rpi3b_plus_a53"),))
    plan = plan_graph(graph, platform, {}, {}, default="rpi", word_bits=32)
    result = execute(plan, trace=False)
    timed = sum(1 for node in graph.nodes if node.op.value not in ("input", "flatten"))
    # each node is rounded up to a whole core cycle (1/1400 MHz)
    expected_ps = graph_software_s(graph, spec, 32) * 1e12
    assert expected_ps <= result.total_ps + 1 <= expected_ps + timed * 1e6 / 1400 + 1
