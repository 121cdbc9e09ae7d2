"""Which layers of a network a kernel keeps on chip (``fpgasim fit --network``).

Owns the translation of a :class:`~fpgasim.nn.Network` or a :class:`~fpgasim.nn.Graph` (a zoo
graph, a network file, an imported ONNX model: the typed layers of its nodes in topological order)
into the engine's :class:`~fpgasim.kernels.dsc_ode.OnChipLayer` list. Rules: composite blocks (DSC, ODE) are
expanded into their leaf layers (an ODE block's weights are stored once, however many steps it
takes); pooling, global pooling and linear layers are not run by these engines and are left out;
for a ``dsc_ode`` engine a leading dense convolution is the pre-processing layer and stays on the
CPU (dsODENet keeps "all layers except pre- and post-processing" on chip, seed-papers.md §a).
"""

from __future__ import annotations

from fpgasim.errors import BadArgument
from fpgasim.kernels.dsc_ode import DscOdeDesign, OnChipLayer, OnChipLayerKind
from fpgasim.kernels.tiled_conv import TiledConvDesign
from fpgasim.nn import Conv2d, Depthwise, DscBlock, Graph, Network, OdeBlock, Pointwise

__all__ = ["on_chip_layers", "layers_for"]


def _leaves(layers: tuple) -> list:
    out: list = []
    for layer in layers:
        if isinstance(layer, (DscBlock, OdeBlock)):
            out.extend(_leaves(tuple(layer.layers)))
        else:
            out.append(layer)
    return out


def _layers(network: Network | Graph) -> tuple:
    """The typed layers of a chain, or of a graph's nodes in topological order.

    Raises:
        BadArgument: ``network`` is neither.
    """
    if isinstance(network, Network):
        return tuple(network.layers)
    if isinstance(network, Graph):
        return tuple(node.layer for node in network.nodes if node.layer is not None)
    raise BadArgument(f"network={network!r}: expected an fpgasim.nn.Network or Graph")


def on_chip_layers(network: Network | Graph) -> tuple[OnChipLayer, ...]:
    """Every convolution-like leaf layer of ``network`` as an :class:`OnChipLayer` (in order).

    Raises:
        BadArgument: ``network`` is not a :class:`~fpgasim.nn.Network` or :class:`~fpgasim.nn.Graph`.
    """
    result = []
    for layer in _leaves(_layers(network)):
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


def layers_for(design: TiledConvDesign | DscOdeDesign, network: Network | Graph) -> tuple[OnChipLayer, ...]:
    """The layers ``design`` runs from ``network`` (module docstring rules)."""
    layers = on_chip_layers(network)
    leaves = _leaves(_layers(network))
    if isinstance(design, DscOdeDesign) and layers and leaves and isinstance(leaves[0], Conv2d) \
            and layers[0].kind is OnChipLayerKind.DENSE:
        layers = layers[1:]
    return layers
