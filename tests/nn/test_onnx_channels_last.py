"""ConvNeXt-style channels-last blocks through the ONNX importer, against onnxruntime: Transpose views,
LayerNormalization over the channels, MatMul as a 1×1 conv, PyTorch's erf GELU fused to one node,
constant Adds and Muls folded into the MatMul before them."""

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.nn import Op
from fpgasim.nn.evaluate import evaluate_ref
from fpgasim.nn.onnx import import_onnx
from tests.nn.test_onnx_import import N, _onnxruntime, _save
from tests.strategies.onnx_models import init, onnx_model

SQRT2 = math.sqrt(2.0)


def _gelu_chain(x: str, prefix: str) -> list:
    """``nn.GELU()`` as ``torch.onnx.export`` writes it at opset 17 (five nodes)."""
    return [N("Div", [x, "sqrt2"], [f"{prefix}.div"], f"{prefix}/Div"),
            N("Erf", [f"{prefix}.div"], [f"{prefix}.erf"], f"{prefix}/Erf"),
            N("Add", [f"{prefix}.erf", "one"], [f"{prefix}.add"], f"{prefix}/Add"),
            N("Mul", [x, f"{prefix}.add"], [f"{prefix}.mul"], f"{prefix}/Mul"),
            N("Mul", [f"{prefix}.mul", "half"], [prefix], f"{prefix}/Mul_1")]


def convnext_block(channels: int = 8, side: int = 6, *, seed: int = 0, opset: int = 17):
    """torchvision's CNBlock and classifier head: depthwise 3×3 → NHWC → LayerNorm → MatMul + bias →
    GELU → MatMul + bias → NCHW → layer scale → residual add → global pool → LayerNorm2d (NHWC
    round trip) → Flatten → Gemm."""
    rng = np.random.default_rng(seed)
    c, hidden = channels, 4 * channels
    inits = [init("dw", rng.normal(0, 0.3, (c, 1, 3, 3))), init("dwb", rng.normal(0, 0.1, c)),
             init("g1", rng.uniform(0.5, 1.5, c)), init("b1", rng.normal(0, 0.1, c)),
             init("w1", rng.normal(0, 0.3, (c, hidden))), init("bias1", rng.normal(0, 0.1, hidden)),
             init("w2", rng.normal(0, 0.3, (hidden, c))), init("bias2", rng.normal(0, 0.1, c)),
             init("scale", rng.uniform(0.1, 1.0, (c, 1, 1))), init("g2", rng.uniform(0.5, 1.5, c)),
             init("b2", rng.normal(0, 0.1, c)), init("fc", rng.normal(0, 0.3, (5, c))), init("fcb", rng.normal(0, 0.1, 5)),
             init("sqrt2", np.array(SQRT2)), init("one", np.array(1.0)), init("half", np.array(0.5))]
    nodes = [N("Conv", ["x", "dw", "dwb"], ["d"], "block.0/Conv", group=c, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Transpose", ["d"], ["nhwc"], "block.1/Transpose", perm=[0, 2, 3, 1]),
             N("LayerNormalization", ["nhwc", "g1", "b1"], ["ln"], "block.2/LayerNormalization", axis=-1, epsilon=1e-6),
             N("MatMul", ["ln", "w1"], ["m1"], "block.3/MatMul"), N("Add", ["bias1", "m1"], ["a1"], "block.3/Add"),
             *_gelu_chain("a1", "block.4"),
             N("MatMul", ["block.4", "w2"], ["m2"], "block.5/MatMul"), N("Add", ["bias2", "m2"], ["a2"], "block.5/Add"),
             N("Transpose", ["a2"], ["nchw"], "block.6/Transpose", perm=[0, 3, 1, 2]),
             N("Mul", ["scale", "nchw"], ["scaled"], "Mul"), N("Add", ["scaled", "x"], ["res"], "Add"),
             N("GlobalAveragePool", ["res"], ["gap"], "avgpool"),
             N("Transpose", ["gap"], ["gap_nhwc"], "head.0/Transpose", perm=[0, 2, 3, 1]),
             N("LayerNormalization", ["gap_nhwc", "g2", "b2"], ["ln2"], "head.0/LayerNormalization", axis=-1,
               epsilon=1e-6),
             N("Transpose", ["ln2"], ["ln2_nchw"], "head.0/Transpose_1", perm=[0, 3, 1, 2]),
             N("Flatten", ["ln2_nchw"], ["flat"], "head.1/Flatten"),
             N("Gemm", ["flat", "fc", "fcb"], ["logits"], "head.2/Gemm", transB=1)]
    return onnx_model(nodes, inits, {"x": (2, c, side, side)}, {"logits": (2, 5)}, opset=opset)


def test_a_convnext_block_equals_onnxruntime_with_no_transposes_or_affines(tmp_path: Path) -> None:
    path = _save(convnext_block(), tmp_path)
    imported = import_onnx(path)
    ops = [node.op for node in imported.graph.nodes]
    assert ops == [Op.INPUT, Op.DEPTHWISE, Op.LAYERNORM, Op.POINTWISE, Op.GELU, Op.POINTWISE, Op.ADD, Op.GLOBAL_POOL,
                   Op.LAYERNORM, Op.LINEAR]
    assert imported.graph.node("block.4/Gelu").inputs == ("block.3/MatMul",)
    assert imported.graph.node("block.2/LayerNormalization").attrs["eps"] == pytest.approx(1e-6)
    # biases and the layer scale are folded: torch's parameters less the 8 layer-scale values
    torch_params = 8 * 9 + 8 + 2 * 8 + (8 * 32 + 32) + (32 * 8 + 8) + 8 + 2 * 8 + 5 * 8 + 5
    assert imported.params == torch_params - 8
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 6))
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[imported.outputs["logits"]]
    np.testing.assert_allclose(ours.reshape(2, 5), _onnxruntime(path, {"x": x})["logits"], rtol=1e-4, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from([[0, 2, 3, 1], [0, 3, 1, 2], [0, 1, 3, 2], [0, 2, 1, 3]]), st.integers(0, 2**16))
def test_a_permuted_view_read_by_a_layout_op_is_materialised_once(perm, seed) -> None:
    """Transpose → Relu (keeps the view) → Flatten and → Reshape (both need the layout): one
    ``transpose`` node named after the Transpose, and values equal onnxruntime's."""
    import tempfile

    rng = np.random.default_rng(seed)
    shape = (1, 3, 4, 5)
    out_shape = [shape[p] for p in perm]
    nodes = [N("Transpose", ["x"], ["t"], "t", perm=perm), N("Relu", ["t"], ["r"], "relu"),
             N("Flatten", ["r"], ["y"], "flatten"), N("Reshape", ["r", "flat"], ["z"], "reshape")]
    model = onnx_model(nodes, [init("flat", np.array([1, -1], np.int64))], {"x": shape},
                       {"y": (1, 60), "z": (1, 60)})
    with tempfile.TemporaryDirectory() as folder:
        path = _save(model, Path(folder))
        imported = import_onnx(path)
        ops = [node.op for node in imported.graph.nodes]
        assert ops.count(Op.TRANSPOSE) == 1 and imported.graph.node("t").op is Op.TRANSPOSE
        assert imported.graph.node("t").out_shape == tuple(out_shape[1:])
        x = rng.normal(size=shape)
        values = evaluate_ref(imported.graph, {"x": x}, imported.weights)
        theirs = _onnxruntime(path, {"x": x})
    for output in ("y", "z"):
        np.testing.assert_allclose(values[imported.outputs[output]].reshape(1, 60), theirs[output], rtol=1e-6)


def test_a_view_that_is_a_graph_output_is_materialised(tmp_path: Path) -> None:
    model = onnx_model([N("Relu", ["x"], ["r"], "relu"), N("Transpose", ["r"], ["y"], "to_nhwc", perm=[0, 2, 3, 1])],
                       [], {"x": (1, 3, 2, 4)}, {"y": (1, 2, 4, 3)})
    path = _save(model, tmp_path)
    imported = import_onnx(path)
    assert imported.outputs["y"] == "to_nhwc" and imported.graph.node("to_nhwc").out_shape == (2, 4, 3)
    x = np.random.default_rng(0).normal(size=(1, 3, 2, 4))
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)["to_nhwc"]
    np.testing.assert_allclose(ours, _onnxruntime(path, {"x": x})["y"], rtol=1e-6)


def test_opset_20_gelu_is_the_same_node(tmp_path: Path) -> None:
    model = onnx_model([N("Gelu", ["x"], ["y"], "gelu")], [], {"x": (1, 3, 2, 2)}, {"y": (1, 3, 2, 2)}, opset=20)
    path = _save(model, tmp_path)
    imported = import_onnx(path)
    assert imported.graph.node("gelu").op is Op.GELU
    x = np.random.default_rng(0).normal(size=(1, 3, 2, 2)) * 3
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)["gelu"]
    np.testing.assert_allclose(ours, _onnxruntime(path, {"x": x})["y"], rtol=1e-5, atol=1e-7)


def test_an_erf_outside_the_gelu_chain_stays_unsupported(tmp_path: Path) -> None:
    """Another constant (÷2 instead of ÷√2) breaks the chain: Erf is then named as unsupported."""
    nodes = _gelu_chain("x", "g")
    model = onnx_model(nodes, [init("sqrt2", np.array(2.0)), init("one", np.array(1.0)), init("half", np.array(0.5))],
                       {"x": (1, 3, 2, 2)}, {"g": (1, 3, 2, 2)})
    with pytest.raises(BadArgument, match=r"unsupported op types: Erf \(first node 'g/Erf'\)"):
        import_onnx(_save(model, tmp_path))


@pytest.mark.parametrize(("nodes", "message"), [
    ([N("LayerNormalization", ["x", "g", "b"], ["y"], "ln", axis=-1)],
     r"'ln' \(LayerNormalization\): axis=-1 on \[1, 3, 2, 2\]: the graph IR normalises over the channels only"),
    ([N("Transpose", ["x"], ["t"], "t", perm=[0, 2, 3, 1]), N("LayerNormalization", ["t", "g", "b"], ["y"], "ln",
                                                              axis=2)],
     r"axis=2 on \[1, 2, 2, 3\]"),
    ([N("Gelu", ["x"], ["y"], "gelu", approximate="tanh")], r"approximate='tanh'"),
])
def test_what_the_ir_cannot_hold_is_refused_naming_the_node(tmp_path: Path, nodes, message) -> None:
    inits = [init("g", np.ones(2)), init("b", np.zeros(2))]
    model = onnx_model(nodes, inits, {"x": (1, 3, 2, 2)}, {"y": (1, 3, 2, 2)}, opset=20, check=False)
    with pytest.raises(BadArgument, match=message):
        import_onnx(_save(model, tmp_path))
