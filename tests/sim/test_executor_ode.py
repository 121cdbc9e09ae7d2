"""The executor's caller-timed software nodes (``duration_ps``) and its dsODENet engine
(``Engine.ODE``): an Arm PS (compute device) and a ZCU104 PL whose engine DMAs over the board's
PS DDR channel and S_AXI_HP port, as the placement and the node's work say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.hw import load_board
from fpgasim.hw.compute import load_compute_devices
from fpgasim.hw.links import LinkLatency, LinkType
from fpgasim.hw.platform import Cable, ComputeDevice, FpgaDevice, Platform
from fpgasim.mapping.graph_plan import Engine, GraphPlan, NodePlan
from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.sim import Clock
from fpgasim.sim.executor import execute
from fpgasim.sim.ode_engine import OdeEngineParams, OdeWork, PlBlock, PlLayer, PlLayerKind, eval_cycles

PS_SPEC = load_compute_devices()["zcu104_ps_a53"]
ZCU104 = load_board("zcu104")
HOST = LinkType(protocol="axi", line_rate_gbps=1.0, encoding_efficiency=1, protocol_efficiency=1,
                latency_ns=LinkLatency(endpoint_fixed=0.0, per_meter=0.0), port_kinds=())
BLOCK = PlBlock(name="blk", evals=4, update_elems=0, weight_elems=64, layers=(
    PlLayer(name="pw", kind=PlLayerKind.POINTWISE, in_channels=8, out_channels=8, kernel=1, out_h=4, out_w=4),))


def _params(**kw) -> OdeEngineParams:
    args = dict(clock=Clock.from_mhz(100), dw_channels=8, pw_in=8, pw_out=8, pipeline_depth_cycles=0,
                element_bytes=2, dma_chunk_bytes=4096, stream_width_bits=64)
    return OdeEngineParams(**(args | kw))


def _platform(*, with_pl: bool = True) -> Platform:
    ps = ComputeDevice(id="ps", spec=PS_SPEC, spec_id="zcu104_ps_a53")
    if not with_pl:
        return Platform(devices=(ps,))
    pl = FpgaDevice(id="pl", board=ZCU104, memory_channel="ps_ddr4", burst_bytes=128)
    return Platform(devices=(ps, pl), cables=(Cable(index=0, a="ps", b="pl", link_id="axi", link=HOST),))


def _chain(platform: Platform, steps: list[tuple[str, Engine, dict]]) -> GraphPlan:
    """Nodes ``x`` (input on ``ps``) then one node per step, each after the one before it."""
    specs = [NodeSpec(name="x", op=Op.INPUT, attrs={"shape": (8, 4, 4)})]
    specs += [NodeSpec(name=f"n{i}", op=Op.RELU, inputs=("x",)) for i in range(len(steps))]
    graph = Graph.build(name="chain", batch=1, specs=specs)
    plans = [NodePlan(node=graph.node("x"), device="ps", engine=Engine.RELABEL, after=())]
    for i, (device, engine, extra) in enumerate(steps):
        plans.append(NodePlan(node=graph.node(f"n{i}"), device=device, engine=engine, after=(plans[-1].node.name,),
                              **extra))
    return GraphPlan(graph=graph, platform=platform, fpgas={}, nodes=tuple(plans), word_bits=16)


def _work(**kw) -> dict:
    return {"work": OdeWork(**({"params": _params(), "host_port": "s_axi_hp"} | kw))}


@given(duration_ps=st.integers(0, 10**9))
def test_a_software_node_with_duration_ps_takes_exactly_that_time(duration_ps: int) -> None:
    plan = _chain(_platform(with_pl=False), [("ps", Engine.SOFTWARE, {"duration_ps": duration_ps})])
    run = {node.name: node for node in execute(plan, trace=False).nodes}
    assert run["n0"].end_ps - run["n0"].start_ps == duration_ps
    assert run["n0"].cycles == Clock.from_mhz(str(PS_SPEC.clock_mhz)).cycles_between(run["n0"].start_ps,
                                                                                       run["n0"].end_ps)


def test_without_duration_ps_the_throughput_model_times_the_node() -> None:
    timed = _chain(_platform(with_pl=False), [("ps", Engine.SOFTWARE, {"duration_ps": 1})])
    model = _chain(_platform(with_pl=False), [("ps", Engine.SOFTWARE, {})])
    assert execute(timed, trace=False).total_ps == 1
    assert execute(model, trace=False).total_ps > 1000   # dispatch overhead alone is microseconds


def test_the_engine_runs_the_block_at_its_clock_and_dmas_over_the_narrower_of_port_and_stream() -> None:
    """Weights (1 MiB) are DMA'd over the host port: at 8 bits × 100 MHz the port, not the DDR
    channel, bounds the load; a 64-bit engine stream is 8× faster. The block runs evals × its
    cycles at the engine clock, reported as a phase and as the engine's busy time."""
    elems = 1 << 19
    loads = {}
    for width in (8, 64):
        plan = _chain(_platform(), [("pl", Engine.ODE, _work(weight_elems=elems, params=_params(stream_width_bits=width))),
                                    ("pl", Engine.ODE, _work(params=_params(stream_width_bits=width), block=BLOCK))])
        runs = {node.name: node for node in execute(plan, trace=True).nodes}
        loads[width] = runs["n0"].end_ps - runs["n0"].start_ps
        assert runs["n0"].phases_ps == {"load weights": loads[width]}
        block_ps = BLOCK.evals * eval_cycles(BLOCK, _params()) * 10_000   # 100 MHz: 10 000 ps a cycle
        assert runs["n1"].phases_ps == {"pl blk": block_ps} and runs["n1"].cycles == block_ps // 10_000
        assert runs["n1"].busy["pl.engine"] == 1.0
    assert loads[8] == pytest.approx(2 * elems / 100e6 * 1e12, rel=1e-3)
    assert loads[8] == pytest.approx(8 * loads[64], rel=1e-2)


def test_moving_a_node_from_the_pl_to_the_ps_changes_its_time_to_the_callers() -> None:
    on_pl = _chain(_platform(), [("pl", Engine.ODE, _work(block=BLOCK, in_elems=128, out_elems=128))])
    on_ps = _chain(_platform(), [("ps", Engine.SOFTWARE, {"duration_ps": 123_456})])
    pl_run, ps_run = execute(on_pl, trace=False).nodes[-1], execute(on_ps, trace=False).nodes[-1]
    assert set(pl_run.phases_ps) == {"dma PS->PL", "pl blk", "dma PL->PS"}
    assert pl_run.end_ps - pl_run.start_ps == sum(pl_run.phases_ps.values())
    assert ps_run.end_ps - ps_run.start_ps == 123_456 and ps_run.device == "ps" and not ps_run.phases_ps


@pytest.mark.parametrize(("steps", "fragment"), [
    ([("ps", Engine.ODE, _work(block=BLOCK))], "device 'ps' has none"),
    ([("pl", Engine.ODE, {})], "its work is None"),
    ([("pl", Engine.ODE, _work(block=BLOCK, host_port="pcie"))], "host port 'pcie' not on board 'zcu104'"),
    ([("pl", Engine.ODE, _work(block=BLOCK)), ("pl", Engine.ODE, _work(block=BLOCK, params=_params(pw_in=4)))],
     "differ from those of the other dsODENet nodes on device 'pl'"),
])
def test_bad_ode_nodes_are_refused_naming_node_and_device(steps, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment):
        execute(_chain(_platform(), steps), trace=False)


def test_a_node_on_an_fpga_device_without_any_engine_is_refused() -> None:
    plan = _chain(_platform(), [("pl", Engine.SOFTWARE, {"duration_ps": 1})])
    with pytest.raises(BadArgument, match="node 'n0' is placed on FPGA device 'pl', which has no tiled-conv"):
        execute(plan, trace=False)
