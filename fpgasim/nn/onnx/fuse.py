"""Rewrites of an ONNX graph before the import walk: chains that PyTorch writes for one operation
become the one ONNX node the importer maps to one IR op.

- :func:`fuse_gelu`: ``torch.onnx.export`` at opsets below 20 writes ``nn.GELU()`` as five nodes,
  ``Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)``; the graph IR has one ``gelu`` op (ONNX's ``Gelu``
  of opset 20, ``approximate='none'``), which an FPGA computes as ``x·Φ(x)`` from one table. The
  ``Gelu`` node is named after the ``Erf`` (``…/Erf`` → ``…/Gelu``).
- :func:`fuse_l2_norm`: ``F.normalize(x, dim=d)`` (Swin V2's cosine attention) is
  ``Div(x, Expand(Clip(ReduceL2(x, axes=[d], keepdims=1), min=eps), shape))``; it becomes
  ``LpNormalization(x, axis=d, p=2)`` (the IR's ``l2norm``, whose ``eps`` is F.normalize's 1e-12)
  when ``eps`` is at most 1e-6, named after the ``ReduceL2``.

Each rewrite takes a chain only when its inner values have no other reader, in place, at the place
of the chain's last node. Chains that differ (another constant, an inner value read elsewhere) are
left as they are, and their ``Erf`` or ``ReduceL2`` is then reported as an unsupported op.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["fuse", "fuse_gelu", "fuse_l2_norm"]

_TOLERANCE = 1e-6
#: the largest ``eps`` of an L2 normalisation fused into ``LpNormalization`` (the IR's eps is 1e-12).
_MAX_EPS = 1e-6


class _Links:
    """Who produces and who reads each value of a graph, and its constants (read as arrays only
    when a rewrite asks: the rewrites look at scalars, not at the model's weights)."""

    def __init__(self, graph: onnx.GraphProto):
        self._tensors: dict[str, onnx.TensorProto] = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self._tensors[node.output[0]] = node.attribute[0].t
        self.producer = {out: node for node in graph.node for out in node.output}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for value in node.input:
                self.readers.setdefault(value, []).append(node)
        self.reads = Counter(v for node in graph.node for v in node.input) + Counter(o.name for o in graph.output)

    def constant(self, name: str) -> np.ndarray | None:
        """The constant value ``name`` (an initializer or a Constant's tensor); None if it is none."""
        tensor = self._tensors.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def only_reader(self, value: str, *op_types: str) -> onnx.NodeProto | None:
        """The one node that reads ``value``, if it is of one of ``op_types``."""
        found = self.readers.get(value, [])
        return found[0] if self.reads[value] == 1 and found[0].op_type in op_types else None

    def is_scalar(self, name: str, value: float) -> bool:
        c = self.constant(name)
        return c is not None and c.size == 1 and abs(float(c.reshape(-1)[0]) - value) <= _TOLERANCE * abs(value)


def _other(node: onnx.NodeProto, name: str) -> str | None:
    """The input of a two-input node that is not ``name`` (None if ``name`` is not one of them)."""
    if len(node.input) != 2 or name not in node.input:
        return None
    return node.input[1] if node.input[0] == name else node.input[0]


def _rewrite(graph: onnx.GraphProto, replaced: dict[int, onnx.NodeProto], dropped: set[int]) -> int:
    """Put each replacement at the place of the node it replaces and drop the chains' other nodes."""
    kept = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    return len(replaced)


def _renamed(node: onnx.NodeProto, old: str, new: str) -> str:
    return node.name[:-len(old)] + new if node.name.endswith(old) else f"{node.name}.{new.lower()}"


def fuse_gelu(graph: onnx.GraphProto) -> int:
    """Replace every PyTorch erf-GELU chain in ``graph`` by one ``Gelu`` node; returns how many."""
    links = _Links(graph)
    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for erf in (n for n in graph.node if n.op_type == "Erf"):
        scale = links.producer.get(erf.input[0])
        if scale is None or links.reads[erf.input[0]] != 1 or scale.op_type not in ("Div", "Mul"):
            continue
        x = scale.input[0]
        factor = math.sqrt(2.0) if scale.op_type == "Div" else 1 / math.sqrt(2.0)
        if not links.is_scalar(scale.input[1], factor):
            continue
        plus = links.only_reader(erf.output[0], "Add")
        if plus is None or not links.is_scalar(_other(plus, erf.output[0]), 1.0):
            continue
        gate = links.only_reader(plus.output[0], "Mul")
        if gate is None or _other(gate, plus.output[0]) != x:
            continue
        half = links.only_reader(gate.output[0], "Mul")
        if half is None or not links.is_scalar(_other(half, gate.output[0]), 0.5):
            continue
        replaced[id(half)] = onnx.helper.make_node("Gelu", [x], [half.output[0]], name=_renamed(erf, "Erf", "Gelu"))
        dropped.update(id(n) for n in (scale, erf, plus, gate))
    return _rewrite(graph, replaced, dropped)


def _reduced_axis(links: _Links, norm: onnx.NodeProto) -> int | None:
    """The one axis a keepdims ReduceL2 reduces (attribute before opset 18, input after)."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in norm.attribute}
    axes = attrs.get("axes")
    if axes is None and len(norm.input) > 1 and norm.input[1]:
        constant = links.constant(norm.input[1])
        axes = None if constant is None else constant.reshape(-1).tolist()
    if attrs.get("keepdims", 1) != 1 or axes is None or len(axes) != 1:
        return None
    return int(axes[0])


def fuse_l2_norm(graph: onnx.GraphProto) -> int:
    """Replace every ``F.normalize`` chain in ``graph`` by one ``LpNormalization``; returns how many."""
    links = _Links(graph)
    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for norm in (n for n in graph.node if n.op_type == "ReduceL2"):
        x, axis = norm.input[0], _reduced_axis(links, norm)
        floor = links.only_reader(norm.output[0], "Clip", "Max")
        if axis is None or floor is None:
            continue
        eps = links.constant(floor.input[1] if len(floor.input) > 1 else "")
        if eps is None or eps.size != 1 or not 0 <= float(eps.reshape(-1)[0]) <= _MAX_EPS \
                or (floor.op_type == "Clip" and len(floor.input) > 2 and floor.input[2]):
            continue
        chain = [norm, floor]
        divisor = floor
        expand = links.only_reader(floor.output[0], "Expand")
        if expand is not None:
            chain.append(expand)
            divisor = expand
        div = links.only_reader(divisor.output[0], "Div")
        if div is None or list(div.input) != [x, divisor.output[0]]:
            continue
        replaced[id(div)] = onnx.helper.make_node("LpNormalization", [x], [div.output[0]], axis=axis, p=2,
                                                  name=_renamed(norm, "ReduceL2", "LpNormalization"))
        dropped.update(id(n) for n in chain)
    return _rewrite(graph, replaced, dropped)


def fuse(graph: onnx.GraphProto) -> None:
    """Every rewrite above, in place."""
    fuse_gelu(graph)
    fuse_l2_norm(graph)
