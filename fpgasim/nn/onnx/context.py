"""The state of one import: ONNX values as graph-IR tensors or folded constants, and the emitted nodes.

Owns :class:`Tensor` (a runtime value: the IR node that computes it, its full ONNX shape, and how
that shape lays out the node's values), :func:`per_sample` (full ONNX shape → the IR's (C, H, W))
and :class:`Context`, through which every parser reads its inputs and emits IR nodes, so that shape
inference, naming and error wording live in one place.

A Transpose emits no node at once: its output is the same IR node seen through a
:class:`~fpgasim.nn.onnx.layout.View`, as ConvNeXt's channels-last blocks (NCHW → NHWC → layer
norm, MatMul, GELU → NCHW) and a transformer's token and per-head layouts are; reshapes of a view
stay views. Parsers that work in any layout (element-wise ops, per-channel constants, a layer norm
or MatMul over the axis that holds the IR's channels, attention's products) keep the view; every
other reader gets it materialised as one ``transpose`` node (and a ``reshape`` where the layout
needs one), named after the Transpose (:meth:`Context.tensor`). A round trip back to the storage
order costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import permutations
from math import prod

import numpy as np
import onnx
from onnx import numpy_helper

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph import NodeSpec
from fpgasim.nn.graph_ops import OPS, Op
from fpgasim.nn.layers import Shape
from fpgasim.nn.onnx.layout import BATCH, View

__all__ = ["Tensor", "per_sample", "Context", "attributes"]


@dataclass(frozen=True, slots=True)
class Tensor:
    """A runtime value: ``node`` (the IR node computing it) and ``shape`` (full ONNX shape).

    ``view`` (None: the ONNX value is the node's (N, C, H, W) array reshaped row-major, batch first)
    lays the shape out over the node's storage; ``transpose`` is the ONNX Transpose that made the
    view (its name and its node, for a materialised ``transpose``). ``scale``: the ONNX value is
    ``scale`` times the node's (a scalar Mul that only attention's Q·Kᵀ reads, absorbed there).
    """

    node: str
    shape: tuple[int, ...]
    view: View | None = None
    transpose: tuple[str, onnx.NodeProto] | None = None
    scale: float = 1.0

    @property
    def rank(self) -> int:
        """ONNX rank, batch included."""
        return len(self.shape)

    @property
    def channel_axis(self) -> int | None:
        """The ONNX axis that holds the IR's channels (1 without a view; None: no one axis does)."""
        return 1 if self.view is None else self.view.channel_axis

    def with_scale(self, scale: float) -> Tensor:
        """This tensor with a pending ``scale`` in place of its own."""
        return self if scale == self.scale else Tensor(self.node, self.shape, self.view, self.transpose, scale)

    def like(self, node: str, shape: tuple[int, ...] | None = None) -> Tensor:
        """The output of an IR node that keeps this tensor's view (and, by default, its shape)."""
        return Tensor(node, self.shape if shape is None else shape, self.view, self.transpose)


def per_sample(shape: Sequence[int]) -> Shape:
    """The IR's (C, H, W) of a full ONNX shape: rank < 4 padded with 1s, rank > 4 with its trailing
    spatial dims merged into W (so a channel-shuffle's (N, g, C/g, H, W) is (g, C/g, H·W))."""
    dims = tuple(int(d) for d in shape[1:])
    if len(dims) <= 3:
        return (*dims, *(1,) * (3 - len(dims)))
    return (dims[0], dims[1], prod(dims[2:]))


class Context:
    """Values by ONNX name, the IR node specs and weights emitted so far, the batch and the opset."""

    def __init__(self, *, batch: int, opset: int, constants: Mapping[str, np.ndarray], consumers: Mapping[str, int],
                 readers: Mapping[str, set[str]]):
        self.batch = batch
        self.opset = opset
        self.values: dict[str, Tensor | np.ndarray] = dict(constants)
        self.consumers = consumers
        #: ONNX value → the op types of the nodes that read it.
        self.readers = readers
        self.specs: list[NodeSpec] = []
        self.shapes: dict[str, Shape] = {}
        self.weights: dict[str, NodeWeights] = {}
        self.sources: dict[str, str] = {}
        #: ONNX constant value → the initializers it is computed from (folding carries them).
        self.origins: dict[str, frozenset[str]] = {name: frozenset({name}) for name in constants}
        #: ``constant`` IR node → the initializers its values come from (its parameters).
        self.constant_origins: dict[str, frozenset[str]] = {}
        self.names: set[str] = set()
        self._transposes: dict[tuple[str, View, tuple[int, ...]], Tensor] = {}
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
        """Input ``i`` as a runtime tensor (a constant there is refused); a view is materialised
        unless the parser takes views (``view``)."""
        value = self.values[node.input[i]]
        if not isinstance(value, Tensor):
            raise BadArgument(f"{self.where(node, name)} input[{i}] {node.input[i]!r}: a constant where the "
                              "importer expects a tensor computed from the network input")
        return value if view else self.materialised(value)

    def storage(self, value: Tensor) -> tuple[int, ...]:
        """The (N, C, H, W) of the IR node holding ``value``."""
        return (self.batch, *self.shapes[value.node])

    def view_of(self, value: Tensor) -> View:
        """``value``'s view (a tensor without one: its row-major shape over the storage)."""
        return value.view or View.of_storage(self.storage(value), value.shape)

    def viewed(self, node: str, shape: tuple[int, ...], view: View, transpose: tuple[str, onnx.NodeProto]) -> Tensor:
        """The tensor of ``shape`` laid out by ``view`` over ``node``; without a view when it is the
        storage order with the IR's (C, H, W) of ``shape``."""
        if view.is_storage_order and per_sample(shape) == self.shapes[node] and shape[0] == self.batch:
            return Tensor(node, shape)
        return Tensor(node, shape, view, transpose)

    def materialised(self, value: Tensor) -> Tensor:
        """``value`` as an IR node of its own layout, batch first: a view becomes one ``transpose``
        node (emitted once per view, named after the ONNX Transpose that made it), with a
        ``reshape`` before or after it when its axes do not fall on the IR's dimensions; a pending
        scale becomes an ``affine`` node."""
        if value.scale != 1.0:
            value = self._scaled(value)
        if value.view is None:
            return value
        key = (value.node, value.view, value.shape)
        if key not in self._transposes:
            self._transposes[key] = self._rearranged(value)
        return self._transposes[key]

    def _scaled(self, value: Tensor) -> Tensor:
        name, onnx_node = value.transpose
        channels = self.shapes[value.node][0]
        unscaled = Tensor(value.node, value.shape, value.view, value.transpose)
        return self.emit(self.where(onnx_node, name), f"{name}.scale", Op.AFFINE, [unscaled],
                         weights=NodeWeights(np.full(channels, value.scale), np.zeros(channels)), view=unscaled)

    def _rearranged(self, value: Tensor) -> Tensor:
        """The IR nodes that store ``value`` batch first in its ONNX order (see :meth:`materialised`):
        one ``transpose`` when the view permutes whole IR dimensions, else ``reshape`` into the runs
        of factors it moves, ``transpose``, ``reshape`` to the ONNX shape."""
        name, onnx_node = value.transpose
        where = self.where(onnx_node, name)
        view, storage = value.view, self.shapes[value.node]
        target = per_sample(value.shape)
        order = [f for axis in view.axes for f in axis]
        batch = view.factors_of(BATCH)
        if batch and tuple(order[:len(batch)]) != batch:
            raise BadArgument(f"{where}: output {list(value.shape)}: the batch ({self.batch}) must stay the "
                              "first dimension")
        source = Tensor(value.node, (self.batch, *storage))
        if view.is_storage_order:
            return self.emit(where, f"{name}.reshape", Op.RESHAPE, [source], {"shape": target}, full_shape=value.shape)
        dims = view.dim_permutation()
        perm = None if dims is None else _dims_perm(storage, target, [d - 1 for d in dims if d != BATCH])
        if perm is not None:
            return self.emit(where, name, Op.TRANSPOSE, [source], {"perm": perm}, full_shape=value.shape)
        blocks: list[list[int]] = []  # runs of factors adjacent in storage, in ONNX order
        for factor in order[len(batch):]:
            if blocks and factor == blocks[-1][-1] + 1:
                blocks[-1].append(factor)
            else:
                blocks.append([factor])
        if len(blocks) > 3:
            raise BadArgument(f"{where}: output {list(value.shape)}: a layout of the values in {len(blocks)} "
                              "separately moved blocks; the graph IR transposes three dimensions")
        stored = sorted(blocks)
        sizes = [prod(view.sizes[f] for f in block) for block in stored]
        blocked = tuple(sizes + [1] * (3 - len(sizes)))
        perm = tuple([stored.index(block) for block in blocks] + list(range(len(blocks), 3)))
        if blocked != storage:
            source = self.emit(where, f"{name}.blocks", Op.RESHAPE, [source], {"shape": blocked},
                               full_shape=(self.batch, *blocked))
        moved = tuple(blocked[p] for p in perm)
        out = self.emit(where, name, Op.TRANSPOSE, [source], {"perm": perm}, full_shape=(self.batch, *moved))
        if moved != target:
            out = self.emit(where, f"{name}.reshape", Op.RESHAPE, [out], {"shape": target}, full_shape=value.shape)
        return Tensor(out.node, value.shape)

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
        output keeps that input's view (``full_shape``, default its shape).

        Raises:
            BadArgument / ShapeError: what the op's shape inference refuses, naming the ONNX node.
        """
        name = self.unique(name)
        attrs = dict(attrs or {})
        if view is not None and view.view is not None:
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
        if view is not None and view.view is not None:
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


def _dims_perm(storage: Shape, target: Shape, order: list[int]) -> tuple[int, ...] | None:
    """The permutation of the IR's (C, H, W) that turns ``storage`` into ``target`` keeping the
    dimensions larger than 1 in ``order`` (the first in lexicographic order; None: none does)."""
    for perm in permutations(range(3)):
        if tuple(storage[p] for p in perm) == target and [p for p in perm if storage[p] > 1] == order:
            return perm
    return None


def attributes(node: onnx.NodeProto) -> dict[str, object]:
    """A node's ONNX attributes as Python values (tensors as arrays)."""
    out = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        out[attr.name] = numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else value
    return out
