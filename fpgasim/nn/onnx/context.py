"""The state of one import: ONNX values as graph-IR tensors or folded constants, and the emitted nodes.

Owns :class:`Tensor` (a runtime value: the IR node that computes it and its full ONNX shape,
batch first), :func:`per_sample` (full ONNX shape → the IR's (C, H, W)) and :class:`Context`,
through which every parser reads its inputs and emits IR nodes, so that shape inference, naming
and error wording live in one place.

A rank-4 Transpose that keeps the batch first emits no node at once: its output is the same IR
node seen through a permutation (:attr:`Tensor.axes`), as ConvNeXt's channels-last blocks
(NCHW → NHWC → layer norm, MatMul, GELU → NCHW) are. Parsers that work in any layout (element-wise
ops, per-channel constants, a layer norm or MatMul over the axis that holds the IR's channels) keep
the view; every other reader gets the permutation materialised as one ``transpose`` node, named
after the Transpose (:meth:`Context.tensor`). A round trip back to NCHW costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod

import numpy as np
import onnx
from onnx import numpy_helper

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph import NodeSpec
from fpgasim.nn.graph_ops import OPS, Op
from fpgasim.nn.layers import Shape

__all__ = ["Tensor", "per_sample", "Context", "attributes"]


@dataclass(frozen=True, slots=True)
class Tensor:
    """A runtime value: ``node`` (the IR node computing it) and ``shape`` (full ONNX shape, batch first).

    ``axes`` (rank 4 only; empty = none): the ONNX value is the IR node's (N, C, H, W) array
    transposed by ``axes``, i.e. ONNX axis ``i`` is the node's axis ``axes[i]``; ``transpose`` is
    the ONNX Transpose that made the view (its name and its node, for a materialised ``transpose``).
    """

    node: str
    shape: tuple[int, ...]
    axes: tuple[int, ...] = ()
    transpose: tuple[str, onnx.NodeProto] | None = None

    @property
    def rank(self) -> int:
        """ONNX rank, batch included."""
        return len(self.shape)

    @property
    def channel_axis(self) -> int:
        """The ONNX axis that holds the IR's channels (1 without a permuted view)."""
        return self.axes.index(1) if self.axes else 1

    def like(self, node: str, shape: tuple[int, ...] | None = None) -> Tensor:
        """The output of an IR node that keeps this tensor's view (and, by default, its shape)."""
        return Tensor(node, self.shape if shape is None else shape, self.axes, self.transpose)


def per_sample(shape: Sequence[int]) -> Shape:
    """The IR's (C, H, W) of a full ONNX shape: rank < 4 padded with 1s, rank > 4 with its trailing
    spatial dims merged into W (so a channel-shuffle's (N, g, C/g, H, W) is (g, C/g, H·W))."""
    dims = tuple(int(d) for d in shape[1:])
    if len(dims) <= 3:
        return (*dims, *(1,) * (3 - len(dims)))
    return (dims[0], dims[1], prod(dims[2:]))


class Context:
    """Values by ONNX name, the IR node specs and weights emitted so far, the batch and the opset."""

    def __init__(self, *, batch: int, opset: int, constants: Mapping[str, np.ndarray], consumers: Mapping[str, int]):
        self.batch = batch
        self.opset = opset
        self.values: dict[str, Tensor | np.ndarray] = dict(constants)
        self.consumers = consumers
        self.specs: list[NodeSpec] = []
        self.shapes: dict[str, Shape] = {}
        self.weights: dict[str, NodeWeights] = {}
        self.sources: dict[str, str] = {}
        self.names: set[str] = set()
        self._transposes: dict[tuple[str, tuple[int, ...]], Tensor] = {}
        self._rebinds: dict[str, int] = {}

    # --- reading inputs ---------------------------------------------------------------------------

    @staticmethod
    def where(node: onnx.NodeProto, name: str) -> str:
        """``ONNX node 'x' (Conv)`` — how every message names a node."""
        return f"ONNX node {name!r} ({node.op_type})"

    def has(self, node: onnx.NodeProto, i: int) -> bool:
        """Whether optional input ``i`` is given."""
        return len(node.input) > i and bool(node.input[i])

    def tensor(self, node: onnx.NodeProto, name: str, i: int, *, view: bool = False) -> Tensor:
        """Input ``i`` as a runtime tensor (a constant there is refused); a permuted view is
        materialised unless the parser takes views (``view``)."""
        value = self.values[node.input[i]]
        if not isinstance(value, Tensor):
            raise BadArgument(f"{self.where(node, name)} input[{i}] {node.input[i]!r}: a constant where the "
                              "importer expects a tensor computed from the network input")
        return value if view else self.materialised(value)

    def materialised(self, value: Tensor) -> Tensor:
        """``value`` as an IR node of its own layout: a permuted view becomes one ``transpose`` node
        (emitted once per view, named after the ONNX Transpose that made it)."""
        if not value.axes:
            return value
        key = (value.node, value.axes)
        if key not in self._transposes:
            name, onnx_node = value.transpose
            perm = tuple(a - 1 for a in value.axes[1:])
            self._transposes[key] = self.emit(self.where(onnx_node, name), name, Op.TRANSPOSE,
                                              [Tensor(value.node, value.shape)], {"perm": perm},
                                              full_shape=value.shape)
        return self._transposes[key]

    def constant(self, node: onnx.NodeProto, name: str, i: int, what: str) -> np.ndarray:
        """Input ``i`` as a constant (an initializer or folded); a runtime value is a missing initializer."""
        value = self.values[node.input[i]]
        if isinstance(value, Tensor):
            raise BadArgument(f"{self.where(node, name)} input[{i}] {node.input[i]!r} ({what}): not an initializer "
                              "or constant; the importer needs it stored in the model")
        return value

    def sole_reader(self, node: str) -> bool:
        """Whether the node being parsed is the only reader left of IR node ``node``'s output: the
        ONNX values bound to it (itself, aliases, views) are read once in all, counting out the
        reads that only bound another name to it (:meth:`rebound`), and none is a graph output."""
        bound = sum(self.consumers.get(value, 0) for value, tensor in self.values.items()
                    if isinstance(tensor, Tensor) and tensor.node == node)
        return bound - self._rebinds.get(node, 0) == 1

    def rebound(self, node: str) -> None:
        """Count one read of ``node``'s output that bound a new ONNX name to the same IR node."""
        self._rebinds[node] = self._rebinds.get(node, 0) + 1

    # --- emitting IR nodes ------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        """``name``, or ``name.1``, ``name.2``… if the IR already has it."""
        candidate, k = name, 0
        while candidate in self.names:
            k += 1
            candidate = f"{name}.{k}"
        self.names.add(candidate)
        return candidate

    def emit(self, where: str, name: str, op: Op, inputs: Sequence[Tensor], attrs: Mapping[str, object] | None = None,
             *, rank: int | None = None, full_shape: tuple[int, ...] | None = None,
             weights: NodeWeights | None = None, source: str | None = None, view: Tensor | None = None) -> Tensor:
        """Add one IR node reading ``inputs``; its output shape is inferred by the op table.

        ``full_shape`` gives the ONNX shape of the output when it is not (N, C, H, W) of the
        inferred shape cut to ``rank`` (default: the first input's rank). ``source`` names the
        weight initializer used unchanged (shared initializers are counted once). ``view``: the
        output keeps that input's permuted view (``full_shape``, default its shape).

        Raises:
            BadArgument / ShapeError: what the op's shape inference refuses, naming the ONNX node.
        """
        name = self.unique(name)
        attrs = dict(attrs or {})
        if view is not None and view.axes:
            full_shape = full_shape or view.shape
        pairs = tuple((t.node, self.shapes[t.node]) for t in inputs)
        try:
            _, out = OPS[op].infer(name, pairs, {**OPS[op].attrs, **attrs})
        except (BadArgument, ShapeError) as exc:
            raise type(exc)(f"{where}: {exc}") from None
        if full_shape is None:
            rank = rank or (inputs[0].rank if inputs else 4)
            full_shape = (self.batch, *out)[:rank]
            if prod(full_shape) != self.batch * prod(out):
                raise ShapeError(f"{where}: output {out} does not fit an ONNX rank-{rank} tensor")
        self.specs.append(NodeSpec(name=name, op=op, inputs=tuple(t.node for t in inputs), attrs=attrs))
        self.shapes[name] = tuple(out)
        if weights is not None:
            self.weights[name] = weights
        if source is not None:
            self.sources[name] = source
        if view is not None and view.axes:
            return view.like(name, tuple(full_shape))
        return Tensor(name, tuple(full_shape))

    def replace_weights(self, node: str, weights: NodeWeights, *, bias: bool) -> None:
        """New weights for an emitted node (a folded batch norm); its ``bias`` attribute follows."""
        index = next(i for i, spec in enumerate(self.specs) if spec.name == node)
        spec = self.specs[index]
        self.specs[index] = NodeSpec(name=spec.name, op=spec.op, inputs=spec.inputs,
                                     attrs={**spec.attrs, "bias": bias})
        self.weights[node] = weights
        self.sources.pop(node, None)


def attributes(node: onnx.NodeProto) -> dict[str, object]:
    """A node's ONNX attributes as Python values (tensors as arrays)."""
    out = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        out[attr.name] = numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value
    return out
