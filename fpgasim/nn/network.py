"""The network container: named layers in execution order, with shapes checked on construction.

Owns :class:`Network`. A network is a sequence today (a DAG later: the layer list is the
topological order). ``chained=False`` makes it a *layer table*: each layer is checked on its
own declared input shape only, as in papers that list per-layer shapes that do not chain
(e.g. per-group AlexNet tables). Counts are per sample unless the name says ``_total``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.nn._checks import check_bool, check_int, check_name
from fpgasim.nn.composite import DscBlock, OdeBlock, check_chain
from fpgasim.nn.layers import Conv2d, Depthwise, GlobalAvgPool, Linear, Pointwise, Pool, Shape

__all__ = ["Network", "LAYER_TYPES"]

#: Every layer type a Network accepts.
LAYER_TYPES = (Conv2d, Depthwise, Pointwise, Pool, GlobalAvgPool, Linear, DscBlock, OdeBlock)


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    """A named network: input shape, layers in execution order and batch size.

    Attributes:
        name: network name.
        input_shape: (C, H, W) of one sample, in elements.
        layers: layer specs in execution order (names unique).
        batch: samples per inference (>= 1).
        chained: if True, each layer's input must equal the previous layer's output (the first
            layer's must equal ``input_shape``); if False, the layers form an independent table.

    Raises:
        BadArgument: a bad name/batch, an unknown layer type, duplicate layer names, no layers.
        ShapeError: naming the layer, the shape it got and the shape it expected.
    """

    name: str
    input_shape: Shape
    layers: tuple
    batch: int
    chained: bool = True

    def __post_init__(self) -> None:
        check_name("Network", self.name)
        owner = f"Network {self.name!r}"
        check_int(owner, "batch", self.batch, minimum=1)
        check_bool(owner, "chained", self.chained)
        shape = tuple(self.input_shape)
        if len(shape) != 3:
            raise BadArgument(f"{owner}: input_shape={self.input_shape!r}: expected (channels, height, width)")
        for i, value in enumerate(shape):
            check_int(owner, f"input_shape[{i}]", value, minimum=1)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise BadArgument(f"{owner}: layers=(): expected at least one layer")
        seen: set[str] = set()
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, LAYER_TYPES):
                allowed = ", ".join(t.__name__ for t in LAYER_TYPES)
                raise BadArgument(f"{owner}: layers[{index}]={layer!r}: expected one of {allowed}")
            if layer.name in seen:
                raise BadArgument(f"{owner}: layers[{index}]: duplicate layer name {layer.name!r}")
            seen.add(layer.name)
        if self.chained:
            check_chain(owner, shape, self.layers)
        else:
            check_chain(owner, shape, self.layers[:1])

    @property
    def output_shape(self) -> Shape:
        """Output shape of the last layer."""
        return tuple(self.layers[-1].out_shape)

    def layer(self, name: str) -> object:
        """The layer called ``name``.

        Raises:
            BadArgument: no layer has that name (lists the names).
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = ", ".join(layer.name for layer in self.layers)
        raise BadArgument(f"Network {self.name!r}: no layer named {name!r}; layers: {names}")

    @property
    def macs(self) -> int:
        """MACs per sample, summed over layers."""
        return sum(layer.macs for layer in self.layers)

    @property
    def macs_total(self) -> int:
        """MACs for the whole batch."""
        return self.batch * self.macs

    @property
    def params_weights(self) -> int:
        """Weight parameters, summed over layers."""
        return sum(layer.params_weights for layer in self.layers)

    @property
    def params_biases(self) -> int:
        """Bias parameters, summed over layers."""
        return sum(layer.params_biases for layer in self.layers)

    @property
    def params(self) -> int:
        """All parameters (weights + biases)."""
        return self.params_weights + self.params_biases

    def flat_layers(self) -> tuple:
        """Leaf layers in execution order, composite blocks expanded once (ODE steps not repeated)."""
        out: list = []
        for layer in self.layers:
            out.extend(layer.layers if isinstance(layer, (DscBlock, OdeBlock)) else (layer,))
        return tuple(out)
