"""Which layers of a network a kernel keeps on chip (``fpgasim fit --network``).

Owns the translation of a :class:`~fpgasim.nn.Network` into the engine's
:class:`~fpgasim.kernels.dsc_ode.OnChipLayer` list. Rules: composite blocks (DSC, ODE) are
expanded into their leaf layers (an ODE block's weights are stored once, however many steps it
takes); pooling, global pooling and linear layers are not run by these engines and are left out;
for a ``dsc_ode`` engine a leading dense convolution is the pre-processing layer and stays on the
CPU (dsODENet keeps "all layers except pre- and post-processing" on chip, seed-papers.md §a).
"""

from __future__ import annotations

from fpgasim.errors import BadArgument
from fpgasim.kernels.dsc_ode import DscOdeDesign, OnChipLayer, OnChipLayerKind
from fpgasim.kernels.tiled_conv import TiledConvDesign
from fpgasim.nn import Conv2d, Depthwise, DscBlock, Network, OdeBlock, Pointwise

__all__ = ["on_chip_layers", "layers_for"]


def _leaves(layers: tuple) -> list:
    out: list = []
    for layer in layers:
        if isinstance(layer, (DscBlock, OdeBlock)):
            out.extend(_leaves(tuple(layer.layers)))
        else:
            out.append(layer)
    return out


def on_chip_layers(network: Network) -> tuple[OnChipLayer, ...]:
    """Every convolution-like leaf layer of ``network`` as an :class:`OnChipLayer` (in order).

    Raises:
        BadArgument: ``network`` is not a :class:`~fpgasim.nn.Network`.
    """
    if not isinstance(network, Network):
        raise BadArgument(f"network={network!r}: expected an fpgasim.nn.Network")
    result = []
    for layer in _leaves(tuple(network.layers)):
        if isinstance(layer, Depthwise):
            kind, cin, cout = OnChipLayerKind.DEPTHWISE, layer.channels, layer.channels
        elif isinstance(layer, Pointwise):
            kind, cin, cout = OnChipLayerKind.POINTWISE, layer.in_channels, layer.out_channels
        elif isinstance(layer, Conv2d):
            depthwise = layer.groups == layer.in_channels == layer.out_channels and layer.groups > 1
            kind = OnChipLayerKind.DEPTHWISE if depthwise else OnChipLayerKind.DENSE
            cin = layer.in_channels if depthwise else layer.in_channels // layer.groups
            cout = layer.out_channels
        else:
            continue
        _, out_h, out_w = layer.out_shape
        result.append(OnChipLayer(name=layer.name, kind=kind, in_channels=cin, out_channels=cout,
                                  kernel=layer.kernel if kind is not OnChipLayerKind.POINTWISE else 1,
                                  in_h=layer.in_h, in_w=layer.in_w, out_h=out_h, out_w=out_w, bias=layer.bias))
    return tuple(result)


def layers_for(design: TiledConvDesign | DscOdeDesign, network: Network) -> tuple[OnChipLayer, ...]:
    """The layers ``design`` runs from ``network`` (module docstring rules)."""
    layers = on_chip_layers(network)
    leaves = _leaves(tuple(network.layers))
    if isinstance(design, DscOdeDesign) and layers and leaves and isinstance(leaves[0], Conv2d) \
            and layers[0].kind is OnChipLayerKind.DENSE:
        layers = layers[1:]
    return layers
