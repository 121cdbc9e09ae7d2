"""ONNX import speed: DenseNet-169 (≈600 ONNX nodes) imported, shapes inferred and MACs counted.

Run: ``.venv/bin/python benchmarks/onnx_import.py [--repeat N]``. The script writes DenseNet-169
as ONNX itself (the zoo graph with explicit batch norms → Conv / BatchNormalization / Relu /
Concat / pools / Gemm with random float32 weights, opset 17) into a temporary folder, then prints

* ``ratio.densenet169_import_vs_target: X`` — wall seconds of :func:`fpgasim.nn.onnx.import_onnx`
  plus the MAC count, divided by the issue's 2 s target (below 1: faster than the target);
* ``ratio.densenet169_import_vs_onnx_load_check: Y`` — the same wall time divided by what
  ``onnx.load`` + ``onnx.checker.check_model`` alone take on the file in the same run (the floor
  any importer built on the ``onnx`` package pays).

Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fpgasim.nn import Graph, Op, zoo_graph
from fpgasim.nn.onnx import import_onnx

TARGET_S = 2.0


def _initializer(name: str, values: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(values.astype(np.float32), name)


def densenet169_onnx(path: Path) -> int:
    """Write DenseNet-169 as an opset-17 ONNX model; returns its number of ONNX nodes."""
    graph: Graph = zoo_graph("densenet169", batch_norm=True)
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for node in graph.nodes[1:]:
        name, inputs = node.name, list(node.inputs)
        if node.op is Op.CONV:
            weight = rng.normal(0, 0.05, (node.attrs["out_channels"], node.in_shapes[0][0], node.attrs["kernel"],
                                          node.attrs["kernel"]))
            inits.append(_initializer(f"{name}.weight", weight))
            pad = node.attrs["padding"]
            nodes.append(helper.make_node("Conv", [*inputs, f"{name}.weight"], [name], name=name,
                                          strides=[node.attrs["stride"]] * 2, pads=[pad] * 4))
        elif node.op is Op.AFFINE:
            channels = node.out_shape[0]
            names = [f"{name}.{part}" for part in ("scale", "bias", "mean", "var")]
            for part, values in zip(names, (rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels),
                                            rng.normal(0, 0.1, channels), rng.uniform(0.5, 2, channels))):
                inits.append(_initializer(part, values))
            nodes.append(helper.make_node("BatchNormalization", [*inputs, *names], [name], name=name))
        elif node.op is Op.POOL:
            op_type = "MaxPool" if node.attrs["kind"] == "max" else "AveragePool"
            k, pad = node.attrs["kernel"], node.attrs["padding"]
            nodes.append(helper.make_node(op_type, inputs, [name], name=name, kernel_shape=[k, k],
                                          strides=[node.attrs["stride"]] * 2, pads=[pad] * 4))
        elif node.op is Op.LINEAR:
            inits += [_initializer(f"{name}.weight", rng.normal(0, 0.02, (1000, node.in_shapes[0][0]))),
                      _initializer(f"{name}.bias", np.zeros(1000))]
            nodes.append(helper.make_node("Gemm", [*inputs, f"{name}.weight", f"{name}.bias"], [name], name=name,
                                          transB=1))
        else:
            op_type = {Op.RELU: "Relu", Op.CONCAT: "Concat", Op.GLOBAL_POOL: "GlobalAveragePool",
                       Op.FLATTEN: "Flatten"}[node.op]
            extra = {"axis": 1} if node.op is Op.CONCAT else {}
            nodes.append(helper.make_node(op_type, inputs, [name], name=name, **extra))
    model = helper.make_model(
        helper.make_graph(nodes, "densenet169", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                               [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("fc", TensorProto.FLOAT, [1, 1000])], inits),
        opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return len(nodes)


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "densenet169.onnx"
        count = densenet169_onnx(path)
        macs: list[int] = []
        imports, floors = [], []
        for _ in range(args.repeat):
            imports.append(_timed(lambda: macs.append(import_onnx(path).graph.macs)))
            floors.append(_timed(lambda: onnx.checker.check_model(onnx.load(str(path)))))
    wall, floor = statistics.median(imports), statistics.median(floors)
    print(f"densenet169: {count} ONNX nodes, {macs[0]:,} MACs; import {wall:.3f} s, onnx load+check {floor:.3f} s")
    print(f"ratio.densenet169_import_vs_target: {wall / TARGET_S:.3f}")
    print(f"ratio.densenet169_import_vs_onnx_load_check: {wall / floor:.2f}")


if __name__ == "__main__":
    main()
