"""Attention's products on the MAC array (fpgasim.mapping.graph_plan, graph_partition): a windowed
scores/attend node is planned as ONE window's grouped 1×1 convolution run for batch·windows samples
— the plan of the equivalent plain grouped conv with that batch, tile for tile and cycle for cycle —
and batch > 1 is planned (each sample, or window, with its own weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fpgasim.hw import load_board
from fpgasim.hw.platform import Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_partition import _Planner, plan_partitioned_graph
from fpgasim.mapping.graph_plan import Engine, conv_batch, fpga_contexts, plan_graph
from fpgasim.mapping.redistribute import Region
from fpgasim.mapping.spec import conv_shape
from fpgasim.nn import Graph, NodeSpec

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "kernels" / "superlip-conv-16bit-transformer.yaml"
DESIGN = load_kernel_file(KERNEL)
E, HEADS, H, W = 32, 4, 8, 12


def _platform(boards: int) -> Platform:
    from fpgasim.hw import load_link_types

    link = "aurora64b66b_10g"
    return Platform.homogeneous(boards=boards, board=load_board("zcu102"), kernel_path=KERNEL,
                                memory_channel="ps_ddr4", burst_bytes=2048, topology="chain",
                                link_id=link if boards > 1 else None,
                                link=load_link_types()[link] if boards > 1 else None)


def _attention(batch: int, window: tuple[int, int] | None, dilated: bool = False) -> Graph:
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (E, H, W)}),
             NodeSpec(name="s", op="scores", inputs=("x", "x"),
                      attrs={"heads": HEADS, "scale": 0.25, "window": window, "dilated": dilated}),
             NodeSpec(name="p", op="softmax", inputs=("s",), attrs={"groups": HEADS}),
             NodeSpec(name="a", op="attend", inputs=("p", "x"), attrs={"heads": HEADS, "window": window,
                                                                    "dilated": dilated})]
    return Graph.build(name="attention", batch=batch, specs=specs)


def _one_window_conv(batch: int, in_channels: int, out_channels: int, window: tuple[int, int]) -> Graph:
    """The plain grouped 1×1 conv the MAC array runs for one window, as a graph of that batch."""
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (in_channels, *window)}),
             NodeSpec(name="c", op="conv", inputs=("x",), attrs={"out_channels": out_channels, "kernel": 1,
                                                                 "groups": HEADS, "bias": False})]
    return Graph.build(name="conv", batch=batch, specs=specs)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize(("window", "dilated"), [((4, 4), False), ((2, 6), True), ((H, W), False)])
def test_a_windowed_product_is_planned_as_one_windows_conv_for_batch_times_windows(batch, window, dilated) -> None:
    graph = _attention(batch, window, dilated)
    plan = plan_graph(graph, _platform(1), {"board0": DESIGN}, {}, default="board0")
    windows = (H // window[0]) * (W // window[1])
    for name, (cin, cout) in {"s": (E, HEADS * window[0] * window[1]), "a": (HEADS * window[0] * window[1], E)}.items():
        item = plan.plan_of(name)
        assert item.engine is Engine.MAC_ARRAY
        assert (item.conv.in_h, item.conv.in_w, item.conv.in_channels, item.conv.out_channels) == (*window, cin, cout)
        assert conv_batch(item.node, batch) == batch * windows
        # every window's MACs together are the node's whole-map MACs
        assert conv_shape(item.conv, batch=batch * windows).macs == batch * item.node.macs
        same = plan_graph(_one_window_conv(batch * windows, cin, cout, window), _platform(1), {"board0": DESIGN},
                          {}, default="board0").plan_of("c")
        assert (item.tiling, item.analytical_cycles) == (same.tiling, same.analytical_cycles)


def test_scores_macs_are_the_embedding_times_a_windows_keys_per_position() -> None:
    """E·L per position: L = all H·W keys unwindowed, wh·ww windowed (4·4 = 16 of 96)."""
    whole, windowed = _attention(1, None).node("s"), _attention(1, (4, 4)).node("s")
    assert whole.macs == E * H * W * H * W and windowed.macs == E * 16 * H * W
    assert windowed.layer.weight_elems == E * H * W  # each key read once, by its own window


def test_batch_two_unwindowed_head_matmuls_are_planned_with_weights_per_sample() -> None:
    plan = plan_graph(_attention(2, None), _platform(1), {"board0": DESIGN}, {}, default="board0")
    for name in ("s", "a"):
        item = plan.plan_of(name)
        assert item.engine is Engine.MAC_ARRAY and conv_batch(item.node, 2) == 2
        assert (item.conv.in_h, item.conv.in_w) == (H, W)


def test_the_partition_planner_runs_a_windowed_product_whole_on_one_board_holding_its_whole_output() -> None:
    """Both operands gathered on one board; the layout it leaves is the node's whole (N, C, H, W)
    output, not one window's."""
    platform = _platform(2)
    ids = [device.id for device in platform.devices]
    graph = _attention(2, (4, 4), True)
    plan = plan_partitioned_graph(graph, platform, {device: DESIGN for device in ids}, ids)
    for name in ("s", "a"):
        item = plan.plan_of(name)
        assert item.engine is Engine.MAC_ARRAY and item.devices == () and item.parts == ()
        assert (item.conv.in_h, item.conv.in_w) == (4, 4)
    planner = _Planner(graph, platform, tuple(ids), fpga_contexts(platform, {device: DESIGN for device in ids}), {},
                       DESIGN.precision.word_bits)
    x = planner.options(graph.node("x"), ())[0]
    option = planner.options(graph.node("s"), (x.layout, x.layout))[0]
    whole = Region((0, 2), (0, HEADS * 16), (0, H), (0, W))
    assert option.layout.regions == (whole,) and option.plan.conv.in_h == 4
    assert option.needs == (((option.plan.device, Region((0, 2), (0, E), (0, H), (0, W))),),) * 2
