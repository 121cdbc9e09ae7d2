"""Rewrites of an ONNX graph before the import walk: PyTorch's erf GELU becomes ONNX's ``Gelu``.

``torch.onnx.export`` at opsets below 20 writes ``nn.GELU()`` as five nodes,
``Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)``; the graph IR has one ``gelu`` op (ONNX's ``Gelu``
of opset 20, ``approximate='none'``), which an FPGA computes as ``x·Φ(x)`` from one table.
:func:`fuse_gelu` finds every such chain whose inner values have no other reader and replaces
it, in place, by one ``Gelu`` node at the place of its last ``Mul``, named after the ``Erf`` node
(``…/Erf`` → ``…/Gelu``). Chains that differ (another constant, an inner value read elsewhere)
are left as they are, and their ``Erf`` is then reported as an unsupported op.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["fuse_gelu"]

_TOLERANCE = 1e-6


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Initializers and the outputs of Constant nodes that hold a ``value`` tensor."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _is_scalar(constants: dict[str, np.ndarray], name: str, value: float) -> bool:
    c = constants.get(name)
    return c is not None and c.size == 1 and abs(float(c.reshape(-1)[0]) - value) <= _TOLERANCE * abs(value)


def _other(node: onnx.NodeProto, name: str) -> str | None:
    """The input of a two-input node that is not ``name`` (None if ``name`` is not one of them)."""
    if len(node.input) != 2 or name not in node.input:
        return None
    return node.input[1] if node.input[0] == name else node.input[0]


def fuse_gelu(graph: onnx.GraphProto) -> int:
    """Replace every PyTorch erf-GELU chain in ``graph`` by one ``Gelu`` node; returns how many."""
    constants = _constants(graph)
    producer = {out: node for node in graph.node for out in node.output}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for value in node.input:
            readers.setdefault(value, []).append(node)
    reads = Counter(v for node in graph.node for v in node.input) + Counter(o.name for o in graph.output)

    def only_reader(value: str, op_type: str) -> onnx.NodeProto | None:
        found = readers.get(value, [])
        return found[0] if reads[value] == 1 and found[0].op_type == op_type else None

    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for erf in (n for n in graph.node if n.op_type == "Erf"):
        scale = producer.get(erf.input[0])
        if scale is None or reads[erf.input[0]] != 1 or scale.op_type not in ("Div", "Mul"):
            continue
        x = scale.input[0]
        factor = math.sqrt(2.0) if scale.op_type == "Div" else 1 / math.sqrt(2.0)
        if not _is_scalar(constants, scale.input[1], factor):
            continue
        plus = only_reader(erf.output[0], "Add")
        if plus is None or not _is_scalar(constants, _other(plus, erf.output[0]), 1.0):
            continue
        gate = only_reader(plus.output[0], "Mul")
        if gate is None or _other(gate, plus.output[0]) != x:
            continue
        half = only_reader(gate.output[0], "Mul")
        if half is None or not _is_scalar(constants, _other(half, gate.output[0]), 0.5):
            continue
        name = erf.name[:-len("Erf")] + "Gelu" if erf.name.endswith("Erf") else f"{erf.name}.gelu"
        replaced[id(half)] = onnx.helper.make_node("Gelu", [x], [half.output[0]], name=name)
        dropped.update(id(n) for n in (scale, erf, plus, gate))
    kept = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)
    return len(replaced)
