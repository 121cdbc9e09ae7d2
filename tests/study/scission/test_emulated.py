"""Emulated split timing: the per-split sum equals the executor running the split placement whole."""

from pathlib import Path

import pytest

from fpgasim.hw import load_board
from fpgasim.hw.compute import load_compute_devices
from fpgasim.hw.links import load_link_types
from fpgasim.hw.platform import Cable, ComputeDevice, FpgaDevice, Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn import Graph, NodeSpec
from fpgasim.nn.split import TL_DOWN, ByteAccounting, blocks, with_transfer_layer
from fpgasim.sim.executor import execute
from fpgasim.study.scission.emulated import EmulatedPair, emulated_candidates
from fpgasim.study.scission.predict import Link, breakdown

KERNEL = Path(__file__).parents[3] / "kernels" / "superlip-conv-16bit.yaml"


def S(name, op, *inputs, **attrs):  # noqa: N802 - terse spec builder
    return NodeSpec(name=name, op=op, inputs=inputs, attrs=attrs)


def _net() -> Graph:
    return Graph.build(name="net", batch=1, specs=[
        S("x", "input", shape=(8, 16, 16)), S("c1", "conv", "x", out_channels=16, kernel=3, padding=1),
        S("r1", "relu", "c1"), S("c2", "conv", "r1", out_channels=16, kernel=3, padding=1),
        S("add", "add", "c2", "r1"), S("p", "pool", "add", kind="max", kernel=2, stride=2),
        S("c3", "conv", "p", out_channels=32, kernel=3, padding=1), S("g", "global_pool", "c3", kind="avg"),
        S("fl", "flatten", "g"), S("fc", "linear", "fl", out_features=10)])


def _pair(device) -> EmulatedPair:
    specs, links = load_compute_devices(), load_link_types()
    edge = ComputeDevice(id="edge", spec=specs["edge_gpu_ampere"], spec_id="edge_gpu_ampere")
    cable = Cable(index=0, a=device.id, b="edge", link_id="scissionlite_60m", link=links["scissionlite_60m"],
                  packet_bytes=1448)
    designs = {device.id: load_kernel_file(KERNEL)} if isinstance(device, FpgaDevice) else {}
    return EmulatedPair(platform=Platform(devices=(device, edge), cables=(cable,)), device=device.id, edge="edge",
                        designs=designs)


def _whole(graph: Graph, pair: EmulatedPair, split: str, *, tl: bool) -> float:
    """The executor on the whole split placement (device up to the split and its TL, edge after)."""
    if tl:
        graph = with_transfer_layer(graph, split)
    last = [n.name for n in graph.nodes].index(split + TL_DOWN if tl else split)
    placement = {n.name: pair.device if i <= last else pair.edge for i, n in enumerate(graph.nodes)}
    plan = plan_graph(graph, pair.platform, pair.designs, placement, word_bits=pair.word_bits)
    return execute(plan, trace=False).total_ps / 1e12


@pytest.mark.parametrize("device", [
    pytest.param(lambda: ComputeDevice(id="tx2", spec=load_compute_devices()["jetson_tx2_cpu"],
                                       spec_id="jetson_tx2_cpu"), id="tx2_cpu"),
    pytest.param(lambda: FpgaDevice(id="zcu102", board=load_board("zcu102"), memory_channel="ps_ddr4",
                                    kernel_path=KERNEL, burst_bytes=2048), id="zcu102_fpga"),
])
def test_split_sum_equals_the_whole_placement(device) -> None:
    graph, pair = _net(), _pair(device())
    candidates = emulated_candidates(graph, pair)
    assert [c.label for c in candidates] == [b.last for b in blocks(graph)] == ["x", "c1", "add", "p", "c3", "g", "fl", "fc"]
    link = Link(bandwidth_mbps=60, ping_ms=27.4)      # unused: every transfer was measured
    for c in candidates[:-1]:
        for tl in (False, True) if c.tl_nbytes is not None else (False,):
            # equal within a microsecond (of ~30 ms): separate runs meet clock and packet boundaries at other times
            assert breakdown(c, link, tl=tl).latency_s == pytest.approx(_whole(graph, pair, c.label, tl=tl), abs=1e-6)
    assert candidates[-1].local and candidates[-1].device_s > 0
    first = candidates[0]
    assert first.tl_nbytes * 4 == first.nbytes           # 16x16 -> 8x8: a quarter of the bytes cross
    assert first.tl_transfer_s < first.transfer_s and first.transfer_s > 0.0274


def test_npy_accounting_adds_the_header_at_the_link_rate() -> None:
    device = ComputeDevice(id="tx2", spec=load_compute_devices()["jetson_tx2_gpu"], spec_id="jetson_tx2_gpu")
    graph, pair = _net(), _pair(device)
    plain = emulated_candidates(graph, pair)[0]
    npy = emulated_candidates(graph, pair, accounting=ByteAccounting.NPY)[0]
    assert npy.nbytes - plain.nbytes == npy.tl_nbytes - plain.tl_nbytes == 128
    assert npy.transfer_s - plain.transfer_s == pytest.approx(128 * 8 / 60e6, rel=1e-9)
