"""ONNX model → graph IR plus its weights: :func:`import_onnx` and :class:`ImportedGraph`.

The walk binds every ONNX value to a runtime tensor or a constant: initializers and Constant
nodes are constants, nodes whose inputs are all constants are folded (so Shape→Gather→Concat→
Reshape becomes a constant shape), every other node goes to its parser in
:data:`~fpgasim.nn.onnx.parsers.PARSERS`. Before the walk, PyTorch's erf GELU and F.normalize
chains become single ``Gelu`` and ``LpNormalization`` nodes (:mod:`~fpgasim.nn.onnx.fuse`). Unsupported op types are found before the
walk and reported all at once. The result is built with :meth:`Graph.build`, which infers every shape
and count again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.onnx.context import Context, Tensor, attributes, per_sample
from fpgasim.nn.onnx.fuse import fuse
from fpgasim.nn.onnx.load import load_model, node_names
from fpgasim.nn.onnx.parsers import FOLD_ONLY, PARSERS, fold

__all__ = ["ImportedGraph", "import_onnx"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportedGraph:
    """An imported ONNX model.

    Attributes:
        graph: the graph IR (batch norms folded, constants folded, Identity/Dropout gone).
        weights: real weights of every node with weights, as :mod:`fpgasim.nn.evaluate` takes them.
        outputs: ONNX graph output name → the IR node computing it.
        params: parameters with every shared initializer counted once (``graph.params`` counts
            each reading node).
        opset: the model's default-domain opset.
    """

    graph: Graph
    weights: Mapping[str, NodeWeights]
    outputs: Mapping[str, str]
    params: int
    opset: int


def _dims(value: onnx.ValueInfoProto) -> list[int | None]:
    dims = value.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]


def _input_shapes(path: Path, inputs: Sequence[onnx.ValueInfoProto],
                  input_shape: Sequence[int] | None) -> dict[str, tuple[int, ...]]:
    """Full shape of every graph input: static dims, or ``input_shape`` (which must agree with them)."""
    shapes = {}
    for value in inputs:
        dims = _dims(value)
        if input_shape is None:
            if None in dims or not dims:
                raise BadArgument(f"ONNX model {str(path)!r}: input {value.name!r} has dynamic dimensions "
                                  f"{[d if d else '?' for d in dims]}; give input_shape: [N, C, H, W] "
                                  "(fpgasim network: --input-shape N C H W)")
            shapes[value.name] = tuple(dims)
            continue
        given = tuple(input_shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in given):
            raise BadArgument(f"input_shape={list(given)}: expected positive integers")
        if len(given) != len(dims) or any(d is not None and d != g for d, g in zip(dims, given)):
            raise BadArgument(f"input_shape={list(given)} does not fit ONNX input {value.name!r} of shape "
                              f"{[d if d else '?' for d in dims]}")
        shapes[value.name] = given
    return shapes


def _same_batch(path: Path, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Checked after the walk, so that a weight left out of the initializers is reported as that."""
    if len({shape[0] for shape in shapes.values()}) > 1:
        listed = ", ".join(f"{name!r} {list(shape)}" for name, shape in shapes.items())
        raise BadArgument(f"ONNX model {str(path)!r}: inputs with different batch sizes: {listed}")


def _unsupported(graph: onnx.GraphProto, names: list[str]) -> None:
    """Every op type without a parser (or a non-default domain), with its first node, in one message."""
    first: dict[str, str] = {}
    for node, name in zip(graph.node, names):
        op_type = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        if op_type not in PARSERS and op_type not in FOLD_ONLY:
            first.setdefault(op_type, name)
    if first:
        listed = ", ".join(f"{op} (first node {name!r})" for op, name in first.items())
        raise BadArgument(f"ONNX model: unsupported op types: {listed}; supported: "
                          f"{', '.join(sorted(PARSERS))} (and constant arithmetic)")


def _readers(graph: onnx.GraphProto) -> dict[str, set[str]]:
    readers: dict[str, set[str]] = {}
    for node in graph.node:
        for value in node.input:
            readers.setdefault(value, set()).add(node.op_type)
    return readers


def _consumers(graph: onnx.GraphProto) -> dict[str, int]:
    counts = Counter(v for node in graph.node for v in node.input if v)
    for output in graph.output:
        counts[output.name] += 2
    return dict(counts)


def _walk(ctx: Context, graph: onnx.GraphProto, names: list[str]) -> None:
    for node, name in zip(graph.node, names):
        inputs = [ctx.values[v] if v else None for v in node.input]
        if not any(isinstance(v, Tensor) for v in inputs):
            origin = frozenset().union(*(ctx.origins.get(v, frozenset()) for v in node.input if v))
            for output, value in zip(node.output, fold(node, inputs, ctx.opset)):
                ctx.values[output] = np.asarray(value)
                ctx.origins[output] = origin
            continue
        if node.op_type in FOLD_ONLY:
            raise BadArgument(f"{ctx.where(node, name)}: supported only on constants (shape arithmetic), but "
                              f"input {next(v for v, x in zip(node.input, inputs) if isinstance(x, Tensor))!r} is "
                              "computed from the network input")
        PARSERS[node.op_type](ctx, node, name, attributes(node))
        read = {v.node for v in inputs if isinstance(v, Tensor)}
        for output in node.output:
            value = ctx.values.get(output)
            if isinstance(value, Tensor) and value.node in read:
                ctx.rebound(value.node)


def import_onnx(path: str | Path, *, input_shape: Sequence[int] | None = None,
                name: str | None = None) -> ImportedGraph:
    """Import the ONNX model at ``path`` into the graph IR with its weights.

    Args:
        path: an ``.onnx`` file (external data must sit in its folder).
        input_shape: full input shape [N, C, H, W] for models with dynamic dimensions.
        name: graph name (default: the file's stem).

    Raises:
        BadArgument: anything :func:`~fpgasim.nn.onnx.load.load_model` refuses, dynamic dimensions
            without ``input_shape``, unsupported op types (all of them, first node of each), a
            graph-input weight (missing initializer), geometry the IR cannot hold.
        ShapeError: shapes that do not agree at a node (Add, Concat…; both shapes named).
    """
    path = Path(path)
    model, opset = load_model(path)
    graph = model.graph
    fuse(graph)
    names = node_names(graph)
    _unsupported(graph, names)
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    runtime = [v for v in graph.input if v.name not in constants]
    if not runtime:
        raise BadArgument(f"ONNX model {str(path)!r}: no graph input that is not an initializer")
    shapes = _input_shapes(path, runtime, input_shape)
    batch = next(iter(shapes.values()))[0]
    ctx = Context(batch=batch, opset=opset, constants=constants, consumers=_consumers(graph), readers=_readers(graph))
    for value_name, shape in shapes.items():
        ctx.names.add(value_name)
        ctx.specs.append(NodeSpec(name=value_name, op=Op.INPUT, attrs={"shape": per_sample(shape)}))
        ctx.shapes[value_name] = per_sample(shape)
        ctx.values[value_name] = Tensor(value_name, shape)
    _walk(ctx, graph, names)
    _same_batch(path, shapes)
    outputs = {}
    for output in graph.output:
        value = ctx.values[output.name]
        if not isinstance(value, Tensor):
            raise BadArgument(f"ONNX model {str(path)!r}: graph output {output.name!r} is a constant")
        outputs[output.name] = ctx.materialised(value).node
    try:
        built = Graph.build(name=name or path.stem, batch=batch, specs=ctx.specs)
    except (BadArgument, ShapeError) as exc:
        raise type(exc)(f"ONNX model {str(path)!r}: {exc}") from None
    used = {n.name for n in built.nodes}
    weights = {k: w for k, w in ctx.weights.items() if k in used}
    learned = {k: v.size for k, v in constants.items() if np.issubdtype(v.dtype, np.floating)}
    params = _params(built, ctx.sources, ctx.constant_origins, learned)
    return ImportedGraph(graph=built, weights=weights, outputs=outputs, params=params, opset=opset)


def _params(graph: Graph, sources: Mapping[str, str], constant_origins: Mapping[str, frozenset[str]],
            learned: Mapping[str, int]) -> int:
    """The model's parameters as its initializers hold them: a weight initializer read by several
    nodes counted once, and a ``constant`` node by the floating-point initializers (``learned``:
    name → size) it was computed from (Swin's relative-position bias is its 169-entry table, not
    the gathered 49×49 it stores, nor the integer index that gathers it; its shift mask, computed
    from shapes alone, none)."""
    seen: set[str] = set()
    total = 0
    for node in graph.nodes:
        if node.name in constant_origins:
            fresh = constant_origins[node.name] - seen
            seen |= fresh
            total += sum(learned.get(name, 0) for name in fresh)
            continue
        source = sources.get(node.name)
        if source in seen:
            total += node.params - node.layer.params_weights
            continue
        if source is not None:
            seen.add(source)
        total += node.params
    return total
