"""Composite layers: a depthwise-separable block and a Neural-ODE block.

Owns :class:`DscBlock` (depthwise then pointwise) and :class:`OdeBlock` (a sub-network f
integrated over ``steps`` solver steps; its weights are shared by every step, so parameters
count once while MACs count once per function evaluation). Sub-layer shapes are checked on
construction like a :class:`~fpgasim.nn.network.Network`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn._checks import check_int, check_name, parse_choice
from fpgasim.nn.layers import Depthwise, Pointwise, Shape

__all__ = ["DscBlock", "OdeSolver", "OdeBlock", "check_chain"]


def check_chain(owner: str, input_shape: Shape, layers: tuple) -> Shape:
    """Check that each layer's input shape equals the previous output; return the last output.

    A :class:`~fpgasim.nn.layers.Linear` layer accepts any shape with C·H·W = in_features.

    Raises:
        ShapeError: naming the layer, the shape it got and the shape it expects.
    """
    shape = tuple(input_shape)
    for layer in layers:
        expected = tuple(layer.in_shape)
        got_elems = shape[0] * shape[1] * shape[2]
        if hasattr(layer, "in_features"):
            if got_elems != layer.in_features:
                raise ShapeError(
                    f"{owner}: layer {layer.name!r} got shape {shape} ({got_elems} elements), "
                    f"expected {layer.in_features} elements (in_features)"
                )
        elif shape != expected:
            raise ShapeError(f"{owner}: layer {layer.name!r} got shape {shape}, expected {expected}")
        shape = tuple(layer.out_shape)
    return shape


def _sum(layers: tuple, attr: str) -> int:
    return sum(getattr(layer, attr) for layer in layers)


@dataclass(frozen=True, slots=True, kw_only=True)
class DscBlock:
    """A depthwise-separable convolution: :class:`Depthwise` then :class:`Pointwise`.

    Raises:
        BadArgument: a sub-layer of the wrong type.
        ShapeError: the pointwise input differs from the depthwise output.
    """

    name: str
    depthwise: Depthwise
    pointwise: Pointwise

    def __post_init__(self) -> None:
        check_name("DscBlock", self.name)
        if not isinstance(self.depthwise, Depthwise) or not isinstance(self.pointwise, Pointwise):
            raise BadArgument(f"DscBlock {self.name!r}: expected depthwise=Depthwise and pointwise=Pointwise")
        check_chain(f"DscBlock {self.name!r}", self.depthwise.in_shape, self.layers)

    @property
    def layers(self) -> tuple:
        """The sub-layers in execution order."""
        return (self.depthwise, self.pointwise)

    in_shape = property(lambda self: self.depthwise.in_shape, doc="Input shape (C, H, W).")
    out_shape = property(lambda self: self.pointwise.out_shape, doc="Output shape (C, H, W).")
    macs = property(lambda self: _sum(self.layers, "macs"), doc="MACs per sample.")
    params_weights = property(lambda self: _sum(self.layers, "params_weights"))
    params_biases = property(lambda self: _sum(self.layers, "params_biases"))
    weight_elems = property(lambda self: _sum(self.layers, "weight_elems"))
    ifm_elems = property(lambda self: self.depthwise.ifm_elems)
    ofm_elems = property(lambda self: self.pointwise.ofm_elems)


class OdeSolver(StrEnum):
    """Fixed-step ODE solver; the value is the method name."""

    EULER = "euler"
    HEUN = "heun"
    RK4 = "rk4"

    @property
    def evals_per_step(self) -> int:
        """Evaluations of f per solver step (Euler 1, Heun 2, RK4 4)."""
        return {"euler": 1, "heun": 2, "rk4": 4}[self.value]


@dataclass(frozen=True, slots=True, kw_only=True)
class OdeBlock:
    """A Neural-ODE block: h ← solver step of dh/dt = f(h), repeated ``steps`` times.

    Attributes:
        name: block name.
        layers: the sub-layers of f, in order; f must map its input shape to itself.
        steps: number of solver steps (>= 1).
        solver: :class:`OdeSolver` (``euler``, ``heun`` or ``rk4``).

    Raises:
        BadArgument: no layers, steps < 1, an unknown solver.
        ShapeError: a sub-layer chain mismatch, or f changes the shape.
    """

    name: str
    layers: tuple
    steps: int
    solver: OdeSolver = OdeSolver.EULER

    def __post_init__(self) -> None:
        check_name("OdeBlock", self.name)
        owner = f"OdeBlock {self.name!r}"
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise BadArgument(f"{owner}: layers=(): expected at least one sub-layer")
        check_int(owner, "steps", self.steps, minimum=1)
        object.__setattr__(self, "solver", parse_choice(owner, "solver", OdeSolver, self.solver))
        out = check_chain(owner, self.layers[0].in_shape, self.layers)
        if out != tuple(self.layers[0].in_shape):
            raise ShapeError(f"{owner}: f maps {tuple(self.layers[0].in_shape)} to {out}, expected the same shape")

    @property
    def evals(self) -> int:
        """Evaluations of f in one forward pass: steps · evals_per_step."""
        return self.steps * self.solver.evals_per_step

    in_shape = property(lambda self: tuple(self.layers[0].in_shape), doc="Input shape (C, H, W).")
    out_shape = property(lambda self: tuple(self.layers[0].in_shape), doc="Output shape (= input).")
    macs = property(lambda self: self.evals * _sum(self.layers, "macs"), doc="MACs per sample, all steps.")
    params_weights = property(lambda self: _sum(self.layers, "params_weights"), doc="Shared by all steps.")
    params_biases = property(lambda self: _sum(self.layers, "params_biases"))
    weight_elems = property(lambda self: _sum(self.layers, "weight_elems"))
    ifm_elems = property(lambda self: self.layers[0].ifm_elems)
    ofm_elems = property(lambda self: self.layers[0].ifm_elems)
