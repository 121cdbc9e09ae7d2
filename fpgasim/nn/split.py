"""Split points of a graph between a device and an edge server, and ScissionLite's transfer layer.

Owns: the valid split points and the blocks between them (:func:`blocks`), the check of one
split node (:func:`check_split`), where the transfer layer (TL) applies (:func:`tl_applies`),
the graph with the TL inserted (:func:`with_transfer_layer`) and the bytes a tensor puts on the
link (:func:`tensor_bytes`).

A split after node k sends k's output to the edge, which runs the rest. The released ScissionTL
rule (``SplitRule.BRANCHES``, qub-blesson/ScissionTL ``scissionTL_triton_benchmark.py``
``create_valid_splits``, as described in /tmp/spec/scission_ref/NOTES.md): walk the nodes in
order with a count of open branches — a node read by r > 1 nodes opens r − 1, a node with i > 1
inputs closes i − 1 — and a split after k is valid when the count is 0 after k. So a node whose
output forks (DenseNet's concatenations inside a dense block) is never a split point, even
though only its one tensor crosses the cut. ``SplitRule.TENSOR`` accepts exactly those cuts: a
split after k is valid when k's output is the only tensor that crosses it. The released tool
offers no split after the input layer (its first block is Keras layers 0–1); neither rule here
forbids it: the split after the input is full offload (the device only sends the input).

The TL (Ahn et al. 2021, seed-papers.md §c): a 2×2/2 max pool on the device (Keras
``MaxPool2D(2, 2, 'valid')``) and a nearest 2× upsample on the edge, back to the tensor's size
(an odd side repeats its last row/column). It applies to a (C, H, W) tensor with H, W > 1.
"""

from __future__ import annotations

import difflib
import io
from dataclasses import dataclass
from enum import StrEnum
from math import prod

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.layers import Shape

__all__ = ["SplitRule", "ByteAccounting", "Block", "blocks", "split_points", "check_split", "tl_applies",
           "tl_shape", "tensor_bytes", "npy_header_bytes", "with_transfer_layer", "TL_DOWN", "TL_UP",
           "FLOAT32_BYTES"]

#: Bytes per element on the link: the released tool sends float32 tensors.
FLOAT32_BYTES = 4
#: Name suffixes of the TL nodes inserted after a split node.
TL_DOWN, TL_UP = ".tl_down", ".tl_up"


class SplitRule(StrEnum):
    """Which cuts are split points."""

    #: the released tool's branch count (a forking node is not a split point).
    BRANCHES = "branches"
    #: exactly one tensor crosses the cut (the split node's output).
    TENSOR = "tensor"


class ByteAccounting(StrEnum):
    """How the bytes of a tensor on the link are counted."""

    #: 4 bytes per element.
    FLOAT32 = "float32"
    #: the released tool's ``.npy`` file size: the float32 data plus the npy header of the
    #: Keras-layout array (N, H, W, C), or (N, C) for a 1×1 tensor.
    NPY = "npy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """Consecutive nodes between two split points; a split after the block sends ``last``'s output.

    Attributes:
        index: position (0 first). first, last: its first and last node names.
        nodes: its node names in topological order.
    """

    index: int
    first: str
    last: str
    nodes: tuple[str, ...]


def _single_io(graph: Graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise BadArgument(f"graph {graph.name!r}: {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                          "splitting between a device and an edge needs one of each")


def _open_counts(graph: Graph, rule: SplitRule) -> list[tuple[str, ...]]:
    """Per node position: the tensors a cut right after it leaves open (empty: a valid split)."""
    last_reader: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for producer in node.inputs:
            last_reader[producer] = i
    live: list[str] = []
    result: list[tuple[str, ...]] = []
    count = 0
    for i, node in enumerate(graph.nodes):
        live = [n for n in live if last_reader[n] > i] + ([node.name] if last_reader.get(node.name, -1) > i else [])
        others = tuple(n for n in live if n != node.name)
        if rule is SplitRule.TENSOR:
            result.append(others)
            continue
        count += max(len(graph.consumers(node.name)) - 1, 0) - max(len(node.inputs) - 1, 0)
        result.append(() if count == 0 else others or (f"{node.name} (read by {len(graph.consumers(node.name))} "
                                                          "nodes)",))
    return result


def split_points(graph: Graph, rule: SplitRule = SplitRule.BRANCHES) -> tuple[str, ...]:
    """The nodes after which a split is valid, in order; the last is the output (device only).

    Raises:
        BadArgument: the graph has more than one input or output.
    """
    _single_io(graph)
    return tuple(node.name for node, open_ in zip(graph.nodes, _open_counts(graph, rule)) if not open_)


def blocks(graph: Graph, rule: SplitRule = SplitRule.BRANCHES) -> tuple[Block, ...]:
    """The blocks between consecutive split points (the last ends at the output).

    Raises:
        BadArgument: the graph has more than one input or output.
    """
    points = set(split_points(graph, rule))
    result: list[Block] = []
    current: list[str] = []
    for node in graph.nodes:
        current.append(node.name)
        if node.name in points:
            result.append(Block(index=len(result), first=current[0], last=node.name, nodes=tuple(current)))
            current = []
    return tuple(result)


def check_split(graph: Graph, node: str, rule: SplitRule = SplitRule.BRANCHES) -> None:
    """Refuse a split after ``node`` unless it is a valid split point.

    Raises:
        BadArgument: no such node (the closest names listed), or the node is inside a branch
            (the tensors that would cross the cut named).
    """
    _single_io(graph)
    names = [n.name for n in graph.nodes]
    if node not in names:
        close = difflib.get_close_matches(node, names, n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise BadArgument(f"split node {node!r}: no such node in graph {graph.name!r} ({len(names)} nodes){hint}")
    open_ = _open_counts(graph, rule)[names.index(node)]
    if open_:
        raise BadArgument(f"split node {node!r} is inside a branch of graph {graph.name!r}: a cut after it leaves "
                          f"{', '.join(open_)} open (rule {rule}); valid split points: "
                          f"{', '.join(split_points(graph, rule)[:8])}, ...")


def tl_applies(shape: Shape) -> bool:
    """Whether the TL applies to a (C, H, W) tensor: H and W both above 1."""
    return len(shape) == 3 and shape[1] > 1 and shape[2] > 1


def tl_shape(shape: Shape) -> Shape:
    """The tensor after the device TL (2×2/2 max pool, floor)."""
    return (shape[0], shape[1] // 2, shape[2] // 2)


def npy_header_bytes(shape: Shape, batch: int) -> int:
    """The ``.npy`` header numpy writes for a float32 array of the Keras layout of ``shape``."""
    keras = (batch, shape[0]) if shape[1:] == (1, 1) else (batch, shape[1], shape[2], shape[0])
    header = {"descr": np.dtype(np.float32).str, "fortran_order": False, "shape": keras}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return len(buffer.getvalue())


def tensor_bytes(shape: Shape, batch: int, accounting: ByteAccounting = ByteAccounting.FLOAT32) -> int:
    """Bytes of a float32 tensor of per-sample ``shape`` on the link (see :class:`ByteAccounting`)."""
    data = FLOAT32_BYTES * batch * prod(shape)
    return data + (npy_header_bytes(shape, batch) if accounting is ByteAccounting.NPY else 0)


def with_transfer_layer(graph: Graph, node: str, rule: SplitRule = SplitRule.BRANCHES) -> Graph:
    """``graph`` with the TL after split node ``node``: ``<node>.tl_down`` (max pool 2×2/2) then
    ``<node>.tl_up`` (nearest upsample to ``node``'s size), which the readers of ``node`` read.

    Raises:
        BadArgument: ``node`` is not a valid split point, is the output, or its tensor is not
            (C, H, W) with H, W > 1.
    """
    check_split(graph, node, rule)
    split = graph.node(node)
    if node in graph.outputs:
        raise BadArgument(f"split node {node!r} is the output of graph {graph.name!r}: nothing runs on the edge, "
                          "so there is no transfer layer")
    if not tl_applies(split.out_shape):
        raise BadArgument(f"transfer layer after {node!r}: its output {split.out_shape} is not (C, H, W) with "
                          "H, W > 1; the 2x2 max pool does not apply")
    down, up = node + TL_DOWN, node + TL_UP
    specs: list[NodeSpec] = []
    for n in graph.nodes:
        specs.append(NodeSpec(name=n.name, op=n.op, attrs=n.attrs,
                              inputs=tuple(up if p == node else p for p in n.inputs)))
        if n.name == node:
            specs.append(NodeSpec(name=down, op=Op.POOL, inputs=(node,), attrs={"kind": "max", "kernel": 2,
                                                                                  "stride": 2}))
            specs.append(NodeSpec(name=up, op=Op.UPSAMPLE, inputs=(down,),
                                  attrs={"scale": 2, "size": split.out_shape[1:]}))
    return Graph.build(name=graph.name, batch=graph.batch, specs=specs)
