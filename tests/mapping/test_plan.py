"""Network plans: sums of layer latencies, skipped layers, ODE repeats, brute-force equivalence."""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.mapping import ConvShape, Partition, ResourceBounds, StreamRates, plan_network, search_tiling
from fpgasim.nn import Conv2d, Network, OdeBlock, Pool, alexnet_conv

ZCU102 = ResourceBounds(dsp=2520, bram18=1824, data_bits=32)


def _conv(name, c, size):
    return Conv2d(name=name, in_channels=c, out_channels=c, in_h=size, in_w=size, kernel=3, padding=1)


def test_network_latency_is_the_sum_and_pools_are_skipped() -> None:
    net = alexnet_conv(shapes="merged", batch=1)
    plan = plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(2, link=False))
    assert plan.skipped == ("pool1", "pool2")
    assert [layer.name for layer in plan.layers] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert plan.cycles == sum(layer.choice.latency.cycles for layer in plan.layers)
    conv2 = plan.layers[1]
    assert (conv2.shape.groups, conv2.shape.out_channels, conv2.shape.in_channels) == (2, 128, 48)


def test_ode_block_layers_repeat_per_evaluation() -> None:
    block = OdeBlock(name="ode", layers=(_conv("f", 8, 6),), steps=3, solver="heun")
    net = Network(name="n", input_shape=(8, 6, 6), batch=1,
                  layers=(block, Pool(name="p", kind="avg", channels=8, in_h=6, in_w=6, kernel=2, stride=2)))
    plan = plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(1, link=False))
    assert plan.layers[0].repeats == 6 and plan.cycles == 6 * plan.layers[0].choice.latency.cycles


def test_fixed_partition_and_argument_errors() -> None:
    net = alexnet_conv(shapes="superlip_dse")
    plan = plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(2), boards=2, partition=Partition(pm=2))
    assert {layer.choice.partition for layer in plan.layers} == {Partition(pm=2)}
    with pytest.raises(BadArgument, match="expected the number of boards 3"):
        plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(2), boards=3, partition=Partition(pm=2))
    with pytest.raises(BadArgument, match="boards=0"):
        plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(2), boards=0)
    with pytest.raises(BadArgument, match="network='alexnet'"):
        plan_network("alexnet", bounds=ZCU102, rates=StreamRates.uniform(2))


def test_more_boards_never_slower_in_released_xfer() -> None:
    net = alexnet_conv(shapes="superlip_dse")
    times = [plan_network(net, bounds=ZCU102, rates=StreamRates.uniform(2), variant="released", boards=b).cycles
             for b in (1, 2, 4)]
    assert times[0] > times[1] > times[2]
