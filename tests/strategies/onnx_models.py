"""ONNX models built in the tests with ``onnx.helper`` (no downloads), and a strategy of random ones.

:func:`onnx_model` wraps nodes and initializers into a checked model. :func:`onnx_dags` turns a
drawn :func:`~tests.strategies.graphs.dag_specs` DAG (branches, adds, muls, concats, slices,
1×1 convs, global pools) into the ONNX model an exporter would write for it, with random float32
weights, so that the importer can be compared with ``onnxruntime`` on any such graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from fpgasim.nn import Graph, Op
from tests.strategies.graphs import dag_specs

__all__ = ["onnx_model", "init", "onnx_dags", "BATCH"]

#: Batch of the models :func:`onnx_dags` draws.
BATCH = 2


def init(name: str, values: np.ndarray) -> onnx.TensorProto:
    """An initializer (float arrays stored as float32)."""
    values = np.asarray(values)
    return numpy_helper.from_array(values.astype(np.float32) if values.dtype.kind == "f" else values, name)


def onnx_model(nodes: Sequence[onnx.NodeProto], initializers: Sequence[onnx.TensorProto],
               inputs: Mapping[str, Sequence[int | str]], outputs: Mapping[str, Sequence[int | str]], *,
               opset: int = 17, check: bool = True) -> onnx.ModelProto:
    """A model of ``nodes``; ``inputs``/``outputs`` map names to shapes (a str is a dynamic dim)."""
    graph = helper.make_graph(
        list(nodes), "test", [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in outputs.items()],
        list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    return model


def _node(spec, shapes: dict, rng: np.random.Generator) -> tuple[onnx.NodeProto, list[onnx.TensorProto]]:
    name, inputs = spec.name, list(spec.inputs)
    if spec.op in (Op.ADD, Op.MUL):
        return helper.make_node("Add" if spec.op is Op.ADD else "Mul", inputs, [name], name=name), []
    if spec.op is Op.CONCAT:
        return helper.make_node("Concat", inputs, [name], name=name, axis=1), []
    if spec.op is Op.RELU:
        return helper.make_node("Relu", inputs, [name], name=name), []
    if spec.op is Op.GLOBAL_POOL:
        op_type = "GlobalAveragePool" if spec.attrs["kind"] == "avg" else "GlobalMaxPool"
        return helper.make_node(op_type, inputs, [name], name=name), []
    if spec.op is Op.SLICE:
        bounds = [init(f"{name}.{k}", np.array([v], np.int64))
                  for k, v in (("starts", spec.attrs["start"]), ("ends", spec.attrs["stop"]), ("axes", 1))]
        return helper.make_node("Slice", [*inputs, *(b.name for b in bounds)], [name], name=name), bounds
    channels, out = shapes[inputs[0]][0], spec.attrs["out_channels"]
    weights = [init(f"{name}.weight", rng.normal(0, 1 / np.sqrt(channels), (out, channels, 1, 1)))]
    if spec.attrs["bias"]:
        weights.append(init(f"{name}.bias", rng.uniform(-0.1, 0.1, out)))
    return helper.make_node("Conv", [*inputs, *(w.name for w in weights)], [name], name=name), weights


@st.composite
def onnx_dags(draw, *, max_nodes: int = 6) -> onnx.ModelProto:
    """A random DAG of :func:`dag_specs` as an opset-17 ONNX model (batch :data:`BATCH`)."""
    specs = draw(dag_specs(max_nodes=max_nodes, shuffle=False))
    graph = Graph.build(name="g", batch=BATCH, specs=specs)
    shapes = {node.name: node.out_shape for node in graph.nodes}
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nodes, initializers = [], []
    for spec in specs[len(graph.inputs):]:
        node, weights = _node(spec, shapes, rng)
        nodes.append(node)
        initializers += weights
    if not nodes:
        nodes.append(helper.make_node("Relu", [graph.inputs[0].name], ["only"], name="only"))
        shapes["only"] = graph.inputs[0].out_shape
    read = {v for node in nodes for v in node.input}
    outputs = {node.output[0]: (BATCH, *shapes[node.output[0]]) for node in nodes if node.output[0] not in read}
    inputs = {node.name: (BATCH, *node.out_shape) for node in graph.inputs}
    return onnx_model(nodes, initializers, inputs, outputs)
