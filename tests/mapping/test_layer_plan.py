"""The layer-list planner: which layers it plans and skips, fixed and searched partitions, and
that its plan is what the emulator runs (the Super-LIP comparison's numbers come from it)."""

from pathlib import Path

import pytest

from fpgasim.errors import BadArgument
from fpgasim.hw import load_board
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping import Partition
from fpgasim.mapping.device import resource_bounds, stream_rates
from fpgasim.mapping.layer_plan import LayerKind, plan_layers
from fpgasim.nn import alexnet_conv

ROOT = Path(__file__).resolve().parents[2]
DESIGN = load_kernel_file(ROOT / "kernels" / "superlip-conv-64x7-fp32.yaml")
BOARD = load_board("zcu102")
DDR = BOARD.memory_channel("ps_ddr4").sustained_bytes_per_s


def _plan(network, *, boards=1, partition=None, pooling=True, search_all_tiles=False):
    return plan_layers(network, design=DESIGN, rates=stream_rates(DESIGN, DDR), bounds=resource_bounds(BOARD, DESIGN),
                       ddr_bytes_per_s=DDR, burst_bytes=2048, boards=boards, search_all_tiles=search_all_tiles,
                       partition=partition, pooling=pooling)


def test_conv_layers_keep_the_designs_tm_tn_and_pools_run_or_are_skipped() -> None:
    net = alexnet_conv(shapes="merged", batch=1)
    layers, skipped = _plan(net, pooling=False)
    assert skipped == ("pool1", "pool2")
    assert [item.layer.name for item in layers] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert {(item.tiling.tm, item.tiling.tn) for item in layers} == {(64, 7)}
    assert (layers[1].shape.groups, layers[1].shape.out_channels, layers[1].shape.in_channels) == (2, 128, 48)
    with_pools, skipped = _plan(net)
    assert skipped == () and [item.kind for item in with_pools].count(LayerKind.POOL) == 2
    searched, _ = _plan(net, pooling=False, search_all_tiles=True)
    assert sum(item.analytical.cycles for item in searched) < sum(item.analytical.cycles for item in layers)


def test_fixed_partition_is_used_everywhere_and_checked_against_the_boards() -> None:
    net = alexnet_conv(shapes="superlip_dse")
    layers, _ = _plan(net, boards=2, partition=Partition(pm=2))
    assert {item.partition for item in layers} == {Partition(pm=2)}
    with pytest.raises(BadArgument, match="3"):
        _plan(net, boards=3, partition=Partition(pm=2))


def test_more_boards_never_plan_a_slower_network() -> None:
    net = alexnet_conv(shapes="superlip_dse")
    totals = [sum(item.analytical.cycles for item in _plan(net, boards=boards)[0]) for boards in (1, 2, 4)]
    assert totals[0] > totals[1] > totals[2]
