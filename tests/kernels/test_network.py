"""From an nn.Network to the layers an engine keeps on chip (fit --network)."""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.kernels import OnChipLayerKind, load_kernel
from fpgasim.kernels.network import layers_for, on_chip_layers
from fpgasim.nn import ZOO, Conv2d, Depthwise, DscBlock, Linear, Network, OdeBlock, Pointwise, zoo_network


def _ode_net() -> Network:
    """conv1 (pre-processing) → an ODE block of one DSC block (64 ch, 32×32) → fc."""
    dsc = DscBlock(name="f", depthwise=Depthwise(name="f_dw", channels=64, in_h=32, in_w=32, kernel=3, padding=1),
                   pointwise=Pointwise(name="f_pw", in_channels=64, out_channels=64, in_h=32, in_w=32))
    layers = (Conv2d(name="conv1", in_channels=3, out_channels=64, in_h=32, in_w=32, kernel=3, padding=1),
              OdeBlock(name="layer1", layers=(dsc,), steps=10),
              Linear(name="fc", in_features=64 * 32 * 32, out_features=10))
    return Network(name="tiny_odenet", input_shape=(3, 32, 32), layers=layers, batch=1, chained=False)


def test_composites_are_expanded_and_pools_linear_dropped() -> None:
    layers = on_chip_layers(_ode_net())
    assert [(l.name, l.kind) for l in layers] == [
        ("conv1", OnChipLayerKind.DENSE), ("f_dw", OnChipLayerKind.DEPTHWISE), ("f_pw", OnChipLayerKind.POINTWISE)]
    dw = layers[1]
    assert (dw.in_channels, dw.kernel, dw.out_h, dw.out_w) == (64, 3, 32, 32)
    assert layers[2].kernel == 1


def test_dsc_ode_engine_leaves_pre_processing_on_cpu() -> None:
    design = load_kernel("dsodenet-engine")
    assert [l.name for l in layers_for(design, _ode_net())] == ["f_dw", "f_pw"]
    tiled = load_kernel("superlip-conv-64x7-fp32")
    assert [l.name for l in layers_for(tiled, _ode_net())] == ["conv1", "f_dw", "f_pw"]


def test_zoo_names_resolve() -> None:
    assert {"alexnet", "alexnet-per-group", "alexnet-superlip-dse", "vgg16"} <= set(ZOO)
    layers = on_chip_layers(zoo_network("alexnet-superlip-dse"))
    assert [l.out_channels for l in layers] == [96, 128, 384, 192, 128]
    grouped = on_chip_layers(zoo_network("alexnet"))
    assert grouped[1].in_channels == 96 // 2          # conv2 has groups=2: 48 inputs per output


def test_unknown_network_and_wrong_type() -> None:
    with pytest.raises(BadArgument, match="network 'resnet' is not known; known: alexnet"):
        zoo_network("resnet")
    with pytest.raises(BadArgument, match="expected an fpgasim.nn.Network"):
        on_chip_layers("alexnet")
