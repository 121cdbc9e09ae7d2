"""The table of ONNX parsers (:data:`PARSERS`, filled by :func:`parser`), the ops accepted only on
constants (:data:`FOLD_ONLY`) and how those are folded (:func:`fold`).

A parser reads its node's inputs through the :class:`~fpgasim.nn.onnx.context.Context` and binds
every output name. Nodes whose inputs are all constants never reach a parser: the importer folds
them with ``onnx.reference`` (a Constant's value is read directly).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from fpgasim.nn.onnx.context import Context

__all__ = ["Parser", "PARSERS", "FOLD_ONLY", "fold", "parser"]

#: (context, ONNX node, its name, its attributes) → None; binds every output in ``context.values``.
Parser = Callable[[Context, onnx.NodeProto, str, dict], None]

#: ONNX op type → its parser.
PARSERS: dict[str, Parser] = {}

#: Ops accepted only when every input is a constant (folded at import).
FOLD_ONLY = frozenset({
    "Constant", "ConstantOfShape", "Cast", "Range", "Floor", "Ceil", "Sqrt",
    "Pow", "Equal", "Where", "Expand", "Min", "Max", "Neg", "Not", "Less", "Greater", "ReduceProd", "Abs", "Mod",
    "ScatterND", "Exp",
})


#: A Constant's numeric attribute → the dtype ONNX gives its value.
_CONSTANT_DTYPES = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64,
                    "value_ints": np.int64}


def fold(node: onnx.NodeProto, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    """The outputs of a node whose inputs are all constants, by the ONNX reference implementation
    (a Constant with a tensor or numeric value read directly: Swin's export has 2653 of them)."""
    if node.op_type == "Constant" and len(node.attribute) == 1:
        attr = node.attribute[0]
        if attr.name == "value":
            return [numpy_helper.to_array(attr.t)]
        if attr.name in _CONSTANT_DTYPES:
            return [np.asarray(onnx.helper.get_attribute_value(attr), dtype=_CONSTANT_DTYPES[attr.name])]
    names = [n for n in node.input if n]
    graph = onnx.helper.make_graph([node], "fold", [onnx.helper.make_empty_tensor_value_info(n) for n in names],
                                   [onnx.helper.make_empty_tensor_value_info(n) for n in node.output if n])
    evaluator = ReferenceEvaluator(graph, opsets={"": opset})
    return list(evaluator.run(None, {n: v for n, v in zip(node.input, inputs) if n}))


def parser(*op_types: str) -> Callable[[Parser], Parser]:
    """Register a parser for ``op_types``."""
    def register(fn: Parser) -> Parser:
        for op_type in op_types:
            PARSERS[op_type] = fn
        return fn
    return register
