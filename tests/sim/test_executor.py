"""The graph executor on a platform of different devices: random graphs with branches, adds and
concats placed at random over a ZCU102, a ZCU104 (each with its own design) and a Raspberry Pi
(a compute device), cabled by Aurora and 1 GbE — bit exact against fpgasim.ops node by node,
and a timeline that respects every dependency and never runs two nodes on one engine at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.hw import load_board, load_link_types
from fpgasim.hw.compute import Efficiency, load_compute_devices
from fpgasim.hw.platform import Cable, ComputeDevice, FpgaDevice, Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_plan import Engine, PlacementError, plan_graph
from fpgasim.nn import Graph
from fpgasim.nn.evaluate import synthetic_weights
from fpgasim.sim.executor import Numerics, carried_values, execute
from tests.strategies.graphs import dag_specs

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ("fpga0", "fpga1", "rpi")
#: the Raspberry Pi at its peak bound: fast enough that the memory test's tensors overlap on it
RPI_PEAK = dataclasses.replace(load_compute_devices()["rpi3b_plus_a53"], efficiency=Efficiency(),
                               dispatch_overhead_us=0.0)


@pytest.fixture(scope="module")
def platform_and_designs() -> tuple[Platform, dict]:
    links = load_link_types()
    kernels = {"fpga0": ROOT / "kernels" / "superlip-conv-16bit.yaml",
               "fpga1": ROOT / "kernels" / "conv-16bit-32x8-zcu104.yaml"}
    devices = (FpgaDevice(id="fpga0", board=load_board("zcu102"), kernel_path=kernels["fpga0"],
                          memory_channel="ps_ddr4", burst_bytes=2048),
               FpgaDevice(id="fpga1", board=load_board("zcu104"), kernel_path=kernels["fpga1"],
                          memory_channel="ps_ddr4", burst_bytes=2048),
               ComputeDevice(id="rpi", spec=RPI_PEAK, spec_id="rpi3b_plus_a53"))
    cables = (Cable(index=0, a="fpga0", b="fpga1", link_id="aurora64b66b_10g", link=links["aurora64b66b_10g"]),
              Cable(index=1, a="fpga1", b="rpi", link_id="eth1g_tcp_kernel", link=links["eth1g_tcp_kernel"]))
    designs = {key: load_kernel_file(path) for key, path in kernels.items()}
    return Platform(devices=devices, cables=cables), designs


def _numerics(designs: dict) -> Numerics:
    requant = designs["fpga0"].precision.fixed.requantizer()
    return Numerics(fmt=requant.out, requant=requant)


def _run(platform_and_designs, specs, placement, batch, *, functional, seed=0):
    platform, designs = platform_and_designs
    graph = Graph.build(name="random", batch=batch, specs=specs)
    plan = plan_graph(graph, platform, designs, placement)
    rng = np.random.default_rng(seed)
    inputs = {node.name: rng.uniform(-1, 1, (batch, *node.out_shape)) for node in plan.graph.inputs}
    values = carried_values(plan, _numerics(designs), inputs, synthetic_weights(plan.graph, seed=seed))
    return plan, execute(plan, trace=True, values=values if functional else None)


@given(specs=dag_specs(max_nodes=6, max_channels=4, max_hw=5), batch=st.integers(1, 2), data=st.data())
def test_random_graphs_on_three_devices_are_bit_exact_and_respect_every_dependency(
        platform_and_designs, specs, batch, data) -> None:
    placement = {spec.name: data.draw(st.sampled_from(DEVICES)) for spec in specs}
    plan, result = _run(platform_and_designs, specs, placement, batch, functional=True)
    assert result.bit_exact is True
    assert all(run.bit_exact for run in result.nodes)
    runs = {run.name: run for run in result.nodes}
    for item in plan.nodes:
        run = runs[item.node.name]
        assert run.device == item.device
        for name in item.node.inputs:
            assert run.ready_ps >= runs[name].end_ps
        assert run.start_ps >= run.ready_ps and run.end_ps >= run.start_ps
    busy: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for run in result.nodes:
        if run.engine != Engine.RELABEL and run.end_ps > run.start_ps:
            busy.setdefault((run.device, run.engine), []).append((run.start_ps, run.end_ps))
    for spans in busy.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert result.total_ps >= max(run.end_ps for run in result.nodes)


@given(specs=dag_specs(max_nodes=5, max_channels=3, max_hw=4), data=st.data())
def test_functional_mode_moves_no_event_in_time(platform_and_designs, specs, data) -> None:
    placement = {spec.name: data.draw(st.sampled_from(DEVICES)) for spec in specs}
    _, timing = _run(platform_and_designs, specs, placement, 1, functional=False)
    _, functional = _run(platform_and_designs, specs, placement, 1, functional=True)
    key = [(run.name, run.ready_ps, run.start_ps, run.end_ps) for run in timing.nodes]
    assert key == [(run.name, run.ready_ps, run.start_ps, run.end_ps) for run in functional.nodes]
    assert timing.total_ps == functional.total_ps


def test_an_edge_between_devices_crosses_the_route_once_per_destination(platform_and_designs) -> None:
    from fpgasim.nn import NodeSpec

    specs = [NodeSpec(name="x", op="input", attrs={"shape": (4, 4, 4)}),
             NodeSpec(name="a", op="relu", inputs=("x",)),
             NodeSpec(name="b", op="pointwise", inputs=("a",), attrs={"out_channels": 4}),
             NodeSpec(name="c", op="pointwise", inputs=("a",), attrs={"out_channels": 4}),
             NodeSpec(name="d", op="add", inputs=("b", "c"))]
    placement = {"x": "fpga0", "a": "fpga0", "b": "rpi", "c": "rpi", "d": "fpga1"}
    _, result = _run(platform_and_designs, specs, placement, 1, functional=True)
    sent = [(t.tensor, t.source, t.destination) for t in result.transfers]
    assert sent.count(("a", "fpga0", "rpi")) == 1  # two readers on rpi, one transfer (two hops)
    assert ("b", "rpi", "fpga1") in sent and ("c", "rpi", "fpga1") in sent
    assert result.bit_exact
    # a reaches rpi through fpga1: the transfer cannot beat the two links' latency
    a_to_rpi = next(t for t in result.transfers if t.tensor == "a")
    assert a_to_rpi.end_ps - a_to_rpi.start_ps > 50_000_000  # the 1 GbE kernel stack alone is 50 us
    assert result.peak_memory_bytes["rpi"] >= 3 * 4 * 4 * 4 * 2  # a, b and c held together


def test_a_node_on_a_device_without_an_engine_for_its_op_is_refused(platform_and_designs) -> None:
    from fpgasim.nn import NodeSpec

    platform, designs = platform_and_designs
    graph = Graph.build(name="g", batch=1, specs=[NodeSpec(name="x", op="input", attrs={"shape": (2, 2, 2)}),
                                                  NodeSpec(name="s", op="sigmoid", inputs=("x",))])
    with pytest.raises(PlacementError, match=r"node 's' \(sigmoid\) is placed on device 'fpga1'.*no engine.*"
                                             r"sigmoid needs a lookup table in the design \(kernel.sigmoid_table\)"):
        plan_graph(graph, platform, designs, {"s": "fpga1"})
    with pytest.raises(PlacementError, match="not placed"):
        plan_graph(graph, platform, designs, {})
    plan = plan_graph(graph, platform, designs, {"s": "rpi"})
    assert plan.plan_of("s").engine is Engine.SOFTWARE and plan.plan_of("x").device == "rpi"


def test_sigmoid_and_silu_read_the_designs_lookup_table_on_the_vector_unit(platform_and_designs) -> None:
    """With ``sigmoid_table`` in its design an FPGA runs sigmoid and SiLU on the vector unit, bit
    exact against the node-by-node reference with the same table; the values are the table's,
    not the exact σ's (2 of 5·5·4 = 100 gates at least differ at 16 bits)."""
    from fpgasim.nn import NodeSpec
    from fpgasim.nn.evaluate import compute_node_fixed
    from fpgasim.ops.lookup import SigmoidTable

    platform, designs = platform_and_designs
    designs = {**designs, "fpga0": load_kernel_file(ROOT / "kernels" / "superlip-conv-16bit-sigmoid.yaml")}
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (4, 5, 5)}),
             NodeSpec(name="c", op="conv", inputs=("x",), attrs={"out_channels": 4, "kernel": 3, "padding": 1}),
             NodeSpec(name="g", op="sigmoid", inputs=("c",)),
             NodeSpec(name="s", op="silu", inputs=("c",)),
             NodeSpec(name="m", op="mul", inputs=("g", "s"))]
    plan, result = _run((platform, designs), specs, {name: "fpga0" for name in ("c", "g", "s", "m")}, 1,
                        functional=True)
    assert {plan.plan_of(name).engine for name in ("g", "s")} == {Engine.VECTOR}
    assert plan.lookup_tables() == {"g": SigmoidTable(), "s": SigmoidTable()}
    assert result.bit_exact
    values = carried_values(plan, _numerics(designs), {"x": np.random.default_rng(0).uniform(-1, 1, (1, 4, 5, 5))},
                            synthetic_weights(plan.graph, seed=0))
    gate = plan.plan_of("g").node
    exact = compute_node_fixed(gate, [values.reference["c"]], None, fmt=values.numerics.fmt,
                               requant=values.numerics.requant)
    assert np.count_nonzero(exact.values != values.reference["g"].values) >= 2


def test_tanh_reads_the_sigmoid_table_on_the_vector_unit_bit_exact(platform_and_designs) -> None:
    """MaxViT's classifier head, linear → tanh → linear, on one board whose design has a
    ``sigmoid_table``: tanh runs on the vector unit as 2·σ̂(2x) − 1 from that table, bit exact against
    evaluate_fixed with the same table, within tanh_table_error (+ one rounding) of the exact tanh and
    not equal to it everywhere; a design without the table refuses tanh naming the key."""
    from fpgasim.nn import NodeSpec
    from fpgasim.nn.evaluate import compute_node_fixed, evaluate_fixed
    from fpgasim.ops.lookup import SigmoidTable, tanh_table_error, tanh_table_fixed

    platform, designs = platform_and_designs
    designs = {**designs, "fpga0": load_kernel_file(ROOT / "kernels" / "superlip-conv-16bit-sigmoid.yaml")}
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (64, 1, 1)}),
             NodeSpec(name="fc1", op="linear", inputs=("x",), attrs={"out_features": 48}),
             NodeSpec(name="t", op="tanh", inputs=("fc1",)),
             NodeSpec(name="fc2", op="linear", inputs=("t",), attrs={"out_features": 10})]
    plan, result = _run((platform, designs), specs, {name: "fpga0" for name in ("fc1", "t", "fc2")}, 2,
                        functional=True)
    assert plan.plan_of("t").engine is Engine.VECTOR and plan.lookup_tables() == {"t": SigmoidTable()}
    assert result.bit_exact
    inputs = {"x": np.random.default_rng(0).uniform(-1, 1, (2, 64, 1, 1))}
    values = carried_values(plan, _numerics(designs), inputs, synthetic_weights(plan.graph, seed=0))
    numerics = values.numerics
    whole = evaluate_fixed(plan.graph, values.inputs, synthetic_weights(plan.graph, seed=0), fmt=numerics.fmt,
                           requant=numerics.requant, tables={"t": SigmoidTable()})
    assert all(np.array_equal(whole[name].values, values.reference[name].values) for name in ("fc1", "t", "fc2"))
    tabled = tanh_table_fixed(values.reference["fc1"], requant=numerics.requant, table=SigmoidTable())[0]
    assert np.array_equal(tabled.values, values.reference["t"].values)
    exact = compute_node_fixed(plan.plan_of("t").node, [values.reference["fc1"]], None, fmt=numerics.fmt,
                               requant=numerics.requant)
    diff = np.abs(exact.to_float() - values.reference["t"].to_float())
    assert diff.max() > 0 and np.all(diff <= tanh_table_error(SigmoidTable()) + numerics.fmt.resolution)
    with pytest.raises(PlacementError, match=r"node 't' \(tanh\) is placed on device 'fpga1'.*"
                                             r"tanh needs a lookup table in the design \(kernel.sigmoid_table\)"):
        plan_graph(plan.graph, platform, designs, {name: "fpga1" for name in ("fc1", "t", "fc2")})


def test_an_unfolded_batch_norm_runs_on_the_vector_unit_bit_exact(platform_and_designs) -> None:
    from fpgasim.nn import NodeSpec

    specs = [NodeSpec(name="x", op="input", attrs={"shape": (4, 5, 5)}),
             NodeSpec(name="c", op="concat", inputs=("x", "x")),
             NodeSpec(name="bn", op="affine", inputs=("c",)),
             NodeSpec(name="r", op="relu", inputs=("bn",))]
    plan, result = _run(platform_and_designs, specs, {"c": "fpga1", "bn": "fpga1", "r": "fpga0"}, 2, functional=True)
    assert plan.plan_of("bn").engine is Engine.VECTOR
    assert result.bit_exact


def test_layer_norm_and_gelu_run_on_the_vector_unit_with_the_designs_normal_cdf_table(platform_and_designs) -> None:
    """A channels-last ConvNeXt block on one FPGA: layer norm on the vector unit, GELU from the
    design's ``gelu_table`` (Φ), bit exact against the node-by-node reference with the same table;
    without the table GELU is refused naming the key."""
    from fpgasim.nn import NodeSpec
    from fpgasim.nn.evaluate import compute_node_fixed
    from fpgasim.ops.lookup import NormalCdfTable

    platform, designs = platform_and_designs
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (8, 5, 5)}),
             NodeSpec(name="dw", op="depthwise", inputs=("x",), attrs={"kernel": 3, "padding": 1}),
             NodeSpec(name="ln", op="layernorm", inputs=("dw",), attrs={"eps": 1e-6}),
             NodeSpec(name="pw1", op="pointwise", inputs=("ln",), attrs={"out_channels": 32}),
             NodeSpec(name="ge", op="gelu", inputs=("pw1",)),
             NodeSpec(name="pw2", op="pointwise", inputs=("ge",), attrs={"out_channels": 8}),
             NodeSpec(name="res", op="add", inputs=("pw2", "x"))]
    on_fpga = {name: "fpga0" for name in ("dw", "ln", "pw1", "ge", "pw2", "res")}
    graph = Graph.build(name="g", batch=1, specs=specs)
    with pytest.raises(PlacementError, match=r"gelu needs a lookup table in the design \(kernel.gelu_table\)"):
        plan_graph(graph, platform, designs, on_fpga)
    designs = {**designs, "fpga0": load_kernel_file(ROOT / "kernels" / "superlip-conv-16bit-gelu.yaml")}
    plan, result = _run((platform, designs), specs, on_fpga, 1, functional=True)
    assert {plan.plan_of(name).engine for name in ("ln", "ge")} == {Engine.VECTOR}
    assert plan.lookup_tables() == {"ge": NormalCdfTable(entries=1024, input_bound=4.0)}
    assert result.bit_exact
    values = carried_values(plan, _numerics(designs), {"x": np.random.default_rng(0).uniform(-1, 1, (1, 8, 5, 5))},
                            synthetic_weights(plan.graph, seed=0))
    exact = compute_node_fixed(plan.plan_of("ge").node, [values.reference["pw1"]], None, fmt=values.numerics.fmt,
                               requant=values.numerics.requant)
    assert np.count_nonzero(exact.values != values.reference["ge"].values) >= 2  # the table's values, not erf's


def test_an_l2norm_per_head_runs_on_the_vector_unit_bit_exact(platform_and_designs) -> None:
    """Swin V2's normalised queries on one FPGA: pointwise → l2norm (2 heads) → pointwise, the
    l2norm on the vector unit (two operations per element), functional and bit exact; the carried
    reference is evaluate_fixed's, and every head of the output has norm 1 within its rounding."""
    from fpgasim.nn import NodeSpec
    from fpgasim.nn.evaluate import evaluate_fixed

    specs = [NodeSpec(name="x", op="input", attrs={"shape": (6, 4, 5)}),
             NodeSpec(name="q", op="pointwise", inputs=("x",), attrs={"out_channels": 8}),
             NodeSpec(name="qn", op="l2norm", inputs=("q",), attrs={"groups": 2}),
             NodeSpec(name="o", op="pointwise", inputs=("qn",), attrs={"out_channels": 4})]
    on_fpga = {name: "fpga0" for name in ("q", "qn", "o")}
    plan, result = _run(platform_and_designs, specs, on_fpga, 2, functional=True)
    assert plan.plan_of("qn").engine is Engine.VECTOR
    runs = {run.name: run for run in result.nodes}
    assert runs["qn"].engine == Engine.VECTOR and runs["qn"].cycles > 0 and runs["qn"].bit_exact
    assert result.bit_exact
    inputs = {"x": np.random.default_rng(0).uniform(-1, 1, (2, 6, 4, 5))}
    values = carried_values(plan, _numerics(platform_and_designs[1]), inputs, synthetic_weights(plan.graph, seed=0))
    numerics = values.numerics
    whole = evaluate_fixed(plan.graph, values.inputs, synthetic_weights(plan.graph, seed=0), fmt=numerics.fmt,
                           requant=numerics.requant)
    assert all(np.array_equal(whole[name].values, values.reference[name].values) for name in ("q", "qn", "o"))
    heads = whole["qn"].to_float().reshape(2, 2, 4, 4, 5)
    np.testing.assert_allclose(np.sqrt((heads**2).sum(axis=2)), 1, rtol=0, atol=4 * numerics.fmt.resolution)
