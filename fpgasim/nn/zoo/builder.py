"""A small helper the graph builders of the zoo share: append nodes, each reading the last by default.

Owns :class:`GraphBuilder`. Its ``conv_bn`` emits a convolution and its batch norm in one of two
forms: folded (the conv gets the bias, as an accelerator runs it) or explicit (a bias-free conv
then an ``affine`` node, whose two parameters per channel are the ones torchvision counts).
"""

from __future__ import annotations

from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.layers import Shape

__all__ = ["GraphBuilder"]


class GraphBuilder:
    """Collects the specs of one graph; ``last`` is the most recent node."""

    def __init__(self, name: str, shape: Shape, *, batch: int, batch_norm: bool):
        self.name, self.batch, self.batch_norm = name, batch, batch_norm
        self.specs = [NodeSpec(name="input", op=Op.INPUT, attrs={"shape": shape})]
        self.last = "input"

    def add(self, name: str, op: Op, *inputs: str, **attrs: object) -> str:
        """Append a node reading ``inputs`` (default: the last node); returns its name."""
        self.specs.append(NodeSpec(name=name, op=op, inputs=inputs or (self.last,), attrs=attrs))
        self.last = name
        return name

    def constant(self, name: str, shape: Shape) -> str:
        """Append a stored tensor (no inputs; ``last`` is left where it was); returns its name."""
        self.specs.append(NodeSpec(name=name, op=Op.CONSTANT, attrs={"shape": shape}))
        return name

    def conv_bn(self, name: str, *inputs: str, out_channels: int, kernel: int, stride: int = 1, padding: int = 0,
                groups: int = 1, relu: Op | None = Op.RELU) -> str:
        """A bias-free conv (``depthwise`` when every channel is its own group), its batch norm and
        an optional activation; returns the last node."""
        bias = not self.batch_norm
        if groups > 1 and groups == out_channels:
            self.add(name, Op.DEPTHWISE, *inputs, kernel=kernel, stride=stride, padding=padding, bias=bias)
        else:
            self.add(name, Op.CONV, *inputs, out_channels=out_channels, kernel=kernel, stride=stride,
                     padding=padding, groups=groups, bias=bias)
        if self.batch_norm:
            self.add(f"{name}.bn", Op.AFFINE)
        return self.add(f"{name}.{relu}", relu) if relu is not None else self.last

    def build(self) -> Graph:
        """The checked graph."""
        return Graph.build(name=self.name, batch=self.batch, specs=self.specs)
