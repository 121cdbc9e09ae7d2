"""Write small-cnn.onnx: the model experiments/onnx-small-cnn-zcu102.yaml imports.

A CIFAR-sized CNN exported the way torch.onnx.export writes one (opset 17, batch-norm nodes,
a residual Add, a dynamic batch dimension), built with onnx.helper from seeded weights so that
it needs no download and no PyTorch. Run: ``.venv/bin/python experiments/models/make_small_cnn.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _init(name: str, values: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(values.astype(np.float32), name)


def build(seed: int = 0) -> onnx.ModelProto:
    """conv3x3(3→16)-BN-ReLU → conv3x3(16→16)-BN + residual → ReLU → maxpool 2 →
    conv3x3(16→32)-BN-ReLU → global average pool → flatten → Gemm(32→10)."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def conv_bn(name: str, x: str, cin: int, cout: int) -> str:
        inits.append(_init(f"{name}.w", rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3))))
        inits.extend(_init(f"{name}.bn.{p}", v) for p, v in (
            ("scale", rng.uniform(0.8, 1.2, cout)), ("bias", rng.normal(0, 0.1, cout)),
            ("mean", rng.normal(0, 0.1, cout)), ("var", rng.uniform(0.5, 1.5, cout))))
        nodes.append(helper.make_node("Conv", [x, f"{name}.w"], [f"{name}.c"], name=name, pads=[1, 1, 1, 1],
                                      kernel_shape=[3, 3]))
        nodes.append(helper.make_node("BatchNormalization", [f"{name}.c"] + [f"{name}.bn.{p}" for p in
                                      ("scale", "bias", "mean", "var")], [f"{name}.y"], name=f"{name}.bn"))
        return f"{name}.y"

    y = conv_bn("conv1", "input", 3, 16)
    nodes.append(helper.make_node("Relu", [y], ["r1"], name="relu1"))
    y = conv_bn("conv2", "r1", 16, 16)
    nodes += [helper.make_node("Add", [y, "r1"], ["res"], name="add"),
              helper.make_node("Relu", ["res"], ["r2"], name="relu2"),
              helper.make_node("MaxPool", ["r2"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
    y = conv_bn("conv3", "p", 16, 32)
    inits += [_init("fc.w", rng.normal(0, np.sqrt(1 / 32), (10, 32))), _init("fc.b", rng.normal(0, 0.1, 10))]
    nodes += [helper.make_node("Relu", [y], ["r3"], name="relu3"),
              helper.make_node("GlobalAveragePool", ["r3"], ["gap"], name="gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small-cnn",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fpgasim")
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    target = Path(__file__).with_name("small-cnn.onnx")
    onnx.save(build(), target)
    print(f"wrote {target}")
