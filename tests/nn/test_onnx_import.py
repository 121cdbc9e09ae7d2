"""ONNX import against onnxruntime: models built here with onnx.helper (no downloads), imported into the
graph IR, evaluated with fpgasim.nn.evaluate and compared with onnxruntime's float output."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import Accumulator, FixedFormat, Requantizer, quantize
from fpgasim.nn import Op, Pool
from fpgasim.nn.evaluate import agreement, evaluate_fixed, evaluate_ref
from fpgasim.nn.onnx import import_onnx
from fpgasim.nn.onnx.parsers import fold
from tests.strategies.onnx_models import BATCH, init, onnx_dags, onnx_model

CURRENT = onnx.defs.onnx_opset_version()


def N(op_type, inputs, outputs, name, **attrs):  # noqa: N802 - terse node builder
    return helper.make_node(op_type, inputs, outputs, name=name, **attrs)


def _bn(name: str, x: str, channels: int, rng) -> tuple[onnx.NodeProto, list]:
    params = [init(f"{name}.g", rng.uniform(0.5, 1.5, channels)), init(f"{name}.b", rng.normal(0, 0.1, channels)),
              init(f"{name}.m", rng.normal(0, 0.1, channels)), init(f"{name}.v", rng.uniform(0.5, 2, channels))]
    return N("BatchNormalization", [x, *(p.name for p in params)], [name], name, epsilon=1e-5), params


def _unsqueeze(name: str, x: str, opset: int) -> tuple[onnx.NodeProto, list]:
    if opset < 13:
        return N("Unsqueeze", [x], [name], name, axes=[0]), []
    return N("Unsqueeze", [x, "axis0"], [name], name), [init("axis0", np.array([0], np.int64))]


def cnn(opset: int = 17, *, seed: int = 0) -> onnx.ModelProto:
    """conv-BN-ReLU → depthwise-BN-ReLU6 → 1×1 conv-BN + residual → max pool → a torchvision channel
    shuffle whose shapes come from Shape→Gather→Unsqueeze→Concat → BN (no conv before: affine) →
    concat with a branch → global pool → flatten → dropout → Gemm → identity."""
    rng = np.random.default_rng(seed)
    inits = [init("w1", rng.normal(0, 0.3, (8, 3, 3, 3))), init("b1", rng.normal(0, 0.1, 8)),
             init("wd", rng.normal(0, 0.3, (8, 1, 3, 3))), init("w2", rng.normal(0, 0.3, (8, 8, 1, 1))),
             init("fc", rng.normal(0, 0.2, (10, 16))), init("fcb", rng.normal(0, 0.1, 10)),
             init("zero", np.array(0, np.int64)), init("two", np.array([2], np.int64)),
             init("four", np.array([4], np.int64)), init("minus1", np.array([-1], np.int64)),
             init("six", np.array(6.0, np.float32)), init("nil", np.array(0.0, np.float32))]
    nodes = [N("Conv", ["x", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3])]
    for name, source in (("bn1", "c1"), ("bnd", "cd"), ("bn2", "c2"), ("bn3", "shuffled")):
        bn, params = _bn(name, source, 8, rng)
        inits += params
        if name == "bn1":
            nodes += [bn, N("Relu", ["bn1"], ["r1"], "relu1"),
                      N("Conv", ["r1", "wd"], ["cd"], "dw", group=8, pads=[1, 1, 1, 1], strides=[1, 1])]
        elif name == "bnd":
            nodes += [bn, N("Clip", ["bnd", "nil", "six"], ["r6"], "relu6"), N("Conv", ["r6", "w2"], ["c2"], "pw")]
        elif name == "bn2":
            nodes += [bn, N("Add", ["bn2", "r1"], ["res"], "add"),
                      N("MaxPool", ["res"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
                      N("Shape", ["p"], ["shape"], "shape"), N("Gather", ["shape", "zero"], ["n"], "gather", axis=0)]
            unsq, extra = _unsqueeze("n1", "n", opset)
            inits += extra
            nodes += [unsq, N("Concat", ["n1", "two", "four", "minus1"], ["s5"], "cat5", axis=0),
                      N("Reshape", ["p", "s5"], ["g5"], "split_groups"),
                      N("Transpose", ["g5"], ["t5"], "swap", perm=[0, 2, 1, 3]),
                      N("Shape", ["p"], ["shape2"], "shape2"), N("Reshape", ["t5", "shape2"], ["shuffled"], "merge")]
        else:
            nodes += [bn, N("Identity", ["bn3"], ["i3"], "identity"),
                      N("Concat", ["i3", "p"], ["cat"], "concat", axis=1),
                      N("GlobalAveragePool", ["cat"], ["gap"], "gap"), N("Flatten", ["gap"], ["flat"], "flatten"),
                      N("Dropout", ["flat"], ["drop"], "dropout"),
                      N("Gemm", ["drop", "fc", "fcb"], ["logits"], "fc", transB=1)]
    return onnx_model(nodes, inits, {"x": ("N", 3, 8, 8)}, {"logits": ("N", 10)}, opset=opset)


def _save(model: onnx.ModelProto, tmp_path: Path, name: str = "m.onnx") -> Path:
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _onnxruntime(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {k: v.astype(np.float32) for k, v in inputs.items()})))


@pytest.mark.parametrize("opset", [11, 13, 17, CURRENT])
def test_imported_cnn_equals_onnxruntime(tmp_path: Path, opset: int) -> None:
    path = _save(cnn(opset), tmp_path)
    imported = import_onnx(path, input_shape=[4, 3, 8, 8])
    x = np.random.default_rng(1).normal(size=(4, 3, 8, 8))
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[imported.outputs["logits"]]
    theirs = _onnxruntime(path, {"x": x})["logits"]
    assert ours.shape == (4, 10, 1, 1)
    np.testing.assert_allclose(ours.reshape(4, 10), theirs, rtol=1e-4, atol=1e-5)
    assert imported.opset == opset


def factorized(opset: int = 17, *, seed: int = 0) -> onnx.ModelProto:
    """inception_v3's factorized convolutions, small: a 1×3 conv (pads [0, 1, 0, 1]) and a 3×1 conv
    (pads [1, 0, 1, 0]) on parallel branches, a 3×2 conv with strides [2, 1], and a 1×3 max pool
    with strides [1, 2], concatenated."""
    rng = np.random.default_rng(seed)
    inits = [init("w13", rng.normal(0, 0.3, (4, 3, 1, 3))), init("b13", rng.normal(0, 0.1, 4)),
             init("w31", rng.normal(0, 0.3, (5, 3, 3, 1))), init("w32", rng.normal(0, 0.3, (6, 9, 3, 2)))]
    nodes = [N("Conv", ["x", "w13", "b13"], ["a"], "conv1x3", kernel_shape=[1, 3], pads=[0, 1, 0, 1]),
             N("Conv", ["x", "w31"], ["b"], "conv3x1", kernel_shape=[3, 1], pads=[1, 0, 1, 0]),
             N("Concat", ["a", "b"], ["ab"], "cat", axis=1), N("Relu", ["ab"], ["r"], "relu"),
             N("Conv", ["r", "w32"], ["c"], "conv3x2", kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 0]),
             N("MaxPool", ["c"], ["y"], "pool1x3", kernel_shape=[1, 3], strides=[1, 2])]
    return onnx_model(nodes, inits, {"x": ("N", 3, 9, 8)}, {"y": ("N", 6, 5, 3)}, opset=opset)


def test_rectangular_windows_equal_onnxruntime(tmp_path: Path) -> None:
    path = _save(factorized(), tmp_path)
    imported = import_onnx(path, input_shape=[2, 3, 9, 8])
    graph = imported.graph
    assert [graph.node(n).attrs["kernel"] for n in ("conv1x3", "conv3x1", "conv3x2", "pool1x3")] == [
        (1, 3), (3, 1), (3, 2), (1, 3)]
    assert graph.node("conv3x2").attrs["stride"] == (2, 1) and graph.node("conv3x1").attrs["padding"] == (1, 0)
    assert graph.node("conv1x3").macs == 4 * 9 * 8 * 3 * 3 and graph.node("conv3x2").params == 6 * 9 * 3 * 2
    x = np.random.default_rng(1).normal(size=(2, 3, 9, 8))
    ours = evaluate_ref(graph, {"x": x}, imported.weights)[imported.outputs["y"]]
    np.testing.assert_allclose(ours, _onnxruntime(path, {"x": x})["y"], rtol=1e-4, atol=1e-5)


def test_import_folds_batch_norms_constants_and_no_op_nodes(tmp_path: Path) -> None:
    graph = import_onnx(_save(cnn(), tmp_path), input_shape=[1, 3, 8, 8]).graph
    ops = {node.name: node.op for node in graph.nodes}
    assert ops == {"x": Op.INPUT, "conv1": Op.CONV, "relu1": Op.RELU, "dw": Op.DEPTHWISE, "relu6": Op.RELU6,
                   "pw": Op.CONV, "add": Op.ADD, "pool": Op.POOL, "split_groups": Op.RESHAPE, "swap": Op.TRANSPOSE,
                   "merge": Op.RESHAPE, "bn3": Op.AFFINE, "concat": Op.CONCAT, "gap": Op.GLOBAL_POOL,
                   "fc": Op.LINEAR}
    assert graph.node("split_groups").out_shape == (2, 4, 16) and graph.node("swap").out_shape == (4, 2, 16)
    assert graph.node("pw").attrs["bias"] is True  # the folded batch norm's shift
    assert graph.node("add").inputs == ("pw", "relu1") and graph.outputs == ("fc",)
    assert graph.node("fc").inputs == ("gap",)  # (N, C, 1, 1) → (N, C) keeps the IR shape: no node
    assert graph.macs == 8 * 64 * 27 + 8 * 64 * 9 + 8 * 64 * 8 + 160


def test_shared_initializer_is_counted_once(tmp_path: Path) -> None:
    w = init("w", np.ones((4, 4, 1, 1)))
    nodes = [N("Conv", ["x", "w"], ["a"], "a"), N("Conv", ["a", "w"], ["b"], "b")]
    imported = import_onnx(_save(onnx_model(nodes, [w], {"x": (1, 4, 2, 2)}, {"b": (1, 4, 2, 2)}), tmp_path))
    assert imported.graph.params == 32 and imported.params == 16


BITS = (8, 12, 16)


def test_fixed_point_agreement_with_onnxruntime_grows_with_the_bit_width(tmp_path: Path) -> None:
    """The logit SNR (dB) and top-1 agreement of fixed-point evaluation against onnxruntime's float
    output, per word width (integer bits fixed at 6, the rest fraction)."""
    path = _save(cnn(), tmp_path)
    imported = import_onnx(path, input_shape=[64, 3, 8, 8])
    x = np.random.default_rng(2).normal(size=(64, 3, 8, 8))
    theirs = _onnxruntime(path, {"x": x})["logits"]
    results = {}
    for bits in BITS:
        fmt = FixedFormat(total_bits=bits, int_bits=6, signed=True)
        requant = Requantizer(out=fmt, rounding="half_even", overflow="saturate",
                              accumulator=Accumulator(bits=48, overflow="saturate"))
        q = quantize(x, fmt, rounding="half_even", overflow="saturate")[0]
        out = evaluate_fixed(imported.graph, {"x": q}, imported.weights, fmt=fmt, requant=requant)
        logits = out[imported.outputs["logits"]].to_float().reshape(64, 10)
        results[bits] = agreement(theirs, logits)
    snr = [results[bits].snr_db for bits in BITS]
    assert snr[0] < snr[1] < snr[2]
    assert snr[2] > 40 and results[16].top1 >= 0.95
    assert results[8].top1 <= results[16].top1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(onnx_dags())
def test_random_dags_equal_onnxruntime(tmp_path: Path, model: onnx.ModelProto) -> None:
    path = _save(model, tmp_path)
    imported = import_onnx(path)
    rng = np.random.default_rng(0)
    inputs = {v.name: rng.normal(size=[d.dim_value for d in v.type.tensor_type.shape.dim])
              for v in model.graph.input}
    ours = evaluate_ref(imported.graph, inputs, imported.weights)
    theirs = _onnxruntime(path, inputs)
    assert set(imported.outputs) == set(theirs)
    for name, values in theirs.items():
        np.testing.assert_allclose(ours[imported.outputs[name]], values, rtol=1e-4, atol=1e-5)
    assert imported.graph.batch == BATCH


# --- bad input: one clear message each ------------------------------------------------------------

def _tiny(nodes, inits=(), **kwargs) -> onnx.ModelProto:
    return onnx_model(nodes, list(inits), {"x": (1, 4, 4, 4)}, {"y": (1, 4, 4, 4)}, check=False, **kwargs)


def test_non_onnx_and_truncated_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.onnx"
    text.write_bytes(b"this is not an onnx model\x00\xff\xfe")
    with pytest.raises(BadArgument, match="not an ONNX model"):
        import_onnx(text)
    whole = _save(cnn(), tmp_path).read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadArgument, match="cut.onnx.*(not an ONNX model|truncated|checker)"):
        import_onnx(cut)
    with pytest.raises(BadArgument, match="no such file"):
        import_onnx(tmp_path / "missing.onnx")


@pytest.mark.parametrize(("nodes", "inits", "message"), [
    ([N("Relu", ["x"], ["a"], "a"), N("Relu", ["b"], ["y"], "y"), N("Relu", ["y"], ["b"], "b")], [],
     r"the graph has a cycle b -> y -> b"),
    ([N("Add", ["x", "ghost"], ["y"], "add")], [], r"ONNX node 'add' \(Add\) input\[1\] 'ghost': no graph input"),
    ([N("Relu", ["x"], ["a"], "r"), N("Relu", ["a"], ["y"], "r")], [], r"duplicate node name 'r' \(nodes 0 and 1\)"),
    ([N("MaxPool", ["x"], ["p"], "p", kernel_shape=[2, 2], strides=[2, 2]), N("Add", ["x", "p"], ["y"], "add")], [],
     r"'x' \(4, 4, 4\) and 'p' \(4, 2, 2\) do not broadcast"),
    ([N("MaxPool", ["x"], ["p"], "p", kernel_shape=[2, 2], strides=[2, 2]),
      N("Concat", ["x", "p"], ["y"], "cat", axis=1)], [], r"'x' \[1, 4, 4, 4\] and 'p' \[1, 4, 2, 2\]"),
    ([N("Conv", ["x", "w"], ["y"], "c")], [], r"'c' \(Conv\) input\[1\] 'w' \(weight\): not an initializer"),
    ([N("Conv", ["x", "w"], ["y"], "c", kernel_shape=[3, 1], pads=[1, 0, 0, 0])],
     [init("w", np.ones((4, 4, 3, 1)))], r"pads=\[1, 0, 0, 0\]: the graph IR holds 2-D windows with the same padding "
                                         r"on both sides of an axis"),
    ([N("Conv", ["x", "w"], ["y"], "c", dilations=[1, 2])], [init("w", np.ones((4, 4, 2, 2)))],
     r"'c' \(Conv\): dilations=\[1, 2\]"),
    ([N("Conv", ["x", "w"], ["y"], "c", pads=[0, 0, 1, 1])], [init("w", np.ones((4, 4, 2, 2)))],
     r"pads=\[0, 0, 1, 1\]"),
])
def test_bad_graphs_name_the_node(tmp_path: Path, nodes, inits, message) -> None:
    model = _tiny(nodes, inits)
    if any(n.input[-1] == "w" for n in nodes) and not inits:
        model.graph.input.append(helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [4, 4, 1, 1]))
    with pytest.raises((BadArgument, ShapeError), match=message):
        import_onnx(_save(model, tmp_path))


def test_every_unsupported_op_type_is_named_in_one_message(tmp_path: Path) -> None:
    nodes = [N("LRN", ["x"], ["a"], "lrn1", size=3), N("Elu", ["a"], ["b"], "elu1"), N("LRN", ["b"], ["c"], "lrn2", size=3),
             N("Softplus", ["c"], ["y"], "softplus1")]
    with pytest.raises(BadArgument, match=r"unsupported op types: LRN \(first node 'lrn1'\), Elu \(first node "
                                          r"'elu1'\), Softplus \(first node 'softplus1'\)") as err:
        import_onnx(_save(_tiny(nodes), tmp_path))
    assert "lrn2" not in str(err.value)


def test_dynamic_dimensions_need_input_shape(tmp_path: Path) -> None:
    path = _save(cnn(), tmp_path)
    with pytest.raises(BadArgument, match=r"input 'x' has dynamic dimensions \['\?', 3, 8, 8\]; give input_shape"):
        import_onnx(path)
    with pytest.raises(BadArgument, match=r"input_shape=\[1, 4, 8, 8\] does not fit ONNX input 'x'"):
        import_onnx(path, input_shape=[1, 4, 8, 8])


def test_opset_outside_the_supported_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadArgument, match=r"opset 10: expected 11 to"):
        import_onnx(_save(_tiny([N("Relu", ["x"], ["y"], "r")], opset=10), tmp_path))


def test_external_data_must_stay_in_the_model_folder(tmp_path: Path) -> None:
    def model() -> onnx.ModelProto:
        return _tiny([N("Conv", ["x", "w"], ["y"], "c")], [init("w", np.ones((4, 4, 1, 1)))])

    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(model(), str(folder / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    assert import_onnx(folder / "m.onnx").weights["c"].weight.shape == (4, 4, 1, 1)
    escaping = model()
    for tensor in escaping.graph.initializer:
        onnx.external_data_helper.set_external_data(tensor, location="../elsewhere.bin")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        tensor.ClearField("raw_data")
    onnx.save(escaping, str(folder / "escape.onnx"))
    with pytest.raises(BadArgument, match=r"initializer 'w' stores its data at '\.\./elsewhere\.bin', outside"):
        import_onnx(folder / "escape.onnx")


def test_the_other_op_families_equal_onnxruntime(tmp_path: Path) -> None:
    """Per-channel constant arithmetic (affine), Split, Slice, ReduceMean, a ceil-mode pool whose size
    equals floor mode's, HardSwish, Sigmoid·x, HardSigmoid·x (MobileNetV3's gate), Mul of tensors,
    MatMul + Softmax."""
    rng = np.random.default_rng(5)
    inits = [init("mean", rng.normal(0, 1, (1, 6, 1, 1))), init("std", rng.uniform(0.5, 2, (6, 1, 1))),
             init("two", np.array(2.0)), init("halves", np.array([3, 3], np.int64)),
             init("s0", np.array([1], np.int64)), init("s1", np.array([5], np.int64)), init("ax", np.array([1], np.int64)),
             init("mm", rng.normal(0, 0.5, (2, 5)))]
    nodes = [N("Sub", ["x", "mean"], ["centred"], "centre"), N("Div", ["centred", "std"], ["scaled"], "scale"),
             N("Mul", ["scaled", "two"], ["doubled"], "double"), N("HardSwish", ["doubled"], ["hs"], "hswish"),
             N("MaxPool", ["hs"], ["p"], "pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
             N("Split", ["p", "halves"], ["a", "b"], "split", axis=1), N("Sigmoid", ["a"], ["sa"], "sig"),
             N("Mul", ["a", "sa"], ["silu"], "silu"), N("HardSigmoid", ["b"], ["hb"], "hsig", alpha=0.25, beta=0.4),
             N("Mul", ["b", "hb"], ["gated"], "hgate"), N("Mul", ["silu", "gated"], ["prod"], "gate"),
             N("Slice", ["prod", "s0", "s1", "ax"], ["sl"], "slice"),
             N("ReduceMean", ["sl"], ["mean_hw"], "reduce", keepdims=0, axes=[2, 3]),
             N("MatMul", ["mean_hw", "mm"], ["z"], "matmul"), N("Softmax", ["z"], ["y"], "softmax", axis=1)]
    path = _save(onnx_model(nodes, inits, {"x": (3, 6, 9, 9)}, {"y": (3, 5)}, opset=17), tmp_path)
    imported = import_onnx(path)
    ops = [node.op for node in imported.graph.nodes]
    assert ops.count(Op.AFFINE) == 5 and ops.count(Op.SLICE) == 3 and Op.SOFTMAX in ops and Op.RELU6 in ops
    x = rng.normal(size=(3, 6, 9, 9))
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[imported.outputs["y"]]
    np.testing.assert_allclose(ours.reshape(3, 5), _onnxruntime(path, {"x": x})["y"], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(("op_type", "hw", "kernel", "stride", "pad", "include_pad", "ceil_hw", "floor_hw"), [
    ("MaxPool", (7, 7), 2, 2, 0, 0, (4, 4), (3, 3)),       # an odd input
    ("MaxPool", (10, 8), 3, 2, 1, 0, (6, 5), (5, 4)),      # GoogLeNet's 3x3/2 (112 -> 56, floor 55), padded
    ("AveragePool", (10, 8), 3, 2, 1, 1, (6, 5), (5, 4)),  # the end windows divide by 6 (and 4), not 9
    ("AveragePool", (7, 9), 2, 2, 0, 0, (4, 5), (3, 4)),   # no padding: count_include_pad=0 is the same
    ("AveragePool", (11, 11), 3, 3, 1, 1, (4, 4), (4, 4)),  # a fifth window would start in the padding
])
def test_ceil_mode_pools_equal_onnxruntime(tmp_path: Path, op_type, hw, kernel, stride, pad, include_pad, ceil_hw,
                                           floor_hw) -> None:
    """MaxPool / AveragePool with ceil_mode=1: the output shape (larger than floor mode's where the last
    window runs past the map) and the values (an average's end window divides by its positions inside
    the padded map) equal onnxruntime's float output."""
    attrs = {"kernel_shape": [kernel] * 2, "strides": [stride] * 2, "pads": [pad] * 4, "ceil_mode": 1}
    if op_type == "AveragePool":
        attrs["count_include_pad"] = include_pad
    x = np.random.default_rng(sum(hw) + kernel).normal(size=(2, 3, *hw))
    model = onnx_model([N(op_type, ["x"], ["y"], "pool", **attrs)], [], {"x": x.shape}, {"y": ("n", "c", "h", "w")})
    path = _save(model, tmp_path)
    imported = import_onnx(path)
    node = imported.graph.node(imported.outputs["y"])
    theirs = _onnxruntime(path, {"x": x})["y"]
    assert node.attrs["ceil_mode"] is True and node.out_shape[1:] == ceil_hw == theirs.shape[2:]
    floor = Pool(name="p", kind="max", channels=3, in_h=hw[0], in_w=hw[1], kernel=kernel, stride=stride, padding=pad)
    assert (floor.out_h, floor.out_w) == floor_hw
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[node.name]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_the_shipped_onnx_example_agrees_with_onnxruntime_as_the_readme_says() -> None:
    """experiments/models/small-cnn.onnx: fpgasim's float64 reference equals onnxruntime's float32 output,
    and the fixed-point logits' SNR against onnxruntime grows with the width and passes 40 dB at the
    16 bits of the shipped design (README; experiments/models/agreement_small_cnn.py prints the table)."""
    path = Path(__file__).resolve().parents[2] / "experiments" / "models" / "small-cnn.onnx"
    imported = import_onnx(path, input_shape=[32, 3, 32, 32])
    x = np.random.default_rng(0).uniform(-1, 1, (32, 3, 32, 32))
    theirs = _onnxruntime(path, {"input": x})["logits"]
    node = imported.outputs["logits"]
    np.testing.assert_allclose(evaluate_ref(imported.graph, {"input": x}, imported.weights)[node].reshape(32, 10),
                               theirs, rtol=1e-4, atol=1e-5)
    snr = {}
    for bits in (8, 12, 16):
        fmt = FixedFormat(total_bits=bits, int_bits=6, signed=True)
        requant = Requantizer(out=fmt, rounding="half_even", overflow="saturate",
                              accumulator=Accumulator(bits=48, overflow="wrap"))
        q = quantize(x, fmt, rounding="half_even", overflow="saturate")[0]
        out = evaluate_fixed(imported.graph, {"input": q}, imported.weights, fmt=fmt, requant=requant)
        snr[bits] = agreement(theirs, out[node].to_float().reshape(32, 10)).snr_db
    assert snr[8] < snr[12] < snr[16] and snr[16] > 40


def test_hard_sigmoid_clamps_at_both_ends_like_onnxruntime(tmp_path: Path) -> None:
    """HardSigmoid lowers to affine → relu6 → affine: equal to onnxruntime over inputs far beyond both
    clamps (default α = 0.2, β = 0.5: 0 below −2.5, 1 above 2.5)."""
    path = _save(onnx_model([N("HardSigmoid", ["x"], ["y"], "hsig")], [], {"x": (2, 3, 4, 4)}, {"y": (2, 3, 4, 4)}),
                 tmp_path)
    imported = import_onnx(path)
    x = np.random.default_rng(7).normal(0, 4, (2, 3, 4, 4))
    theirs = _onnxruntime(path, {"x": x})["y"]
    assert (theirs == 0).any() and (theirs == 1).any() and ((theirs > 0) & (theirs < 1)).any()
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[imported.outputs["y"]]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert [node.op for node in imported.graph.nodes] == [Op.INPUT, Op.AFFINE, Op.RELU6, Op.AFFINE]


def test_a_tanh_classifier_head_equals_onnxruntime(tmp_path: Path) -> None:
    """torchvision MaxViT's classifier, Gemm → Tanh → Gemm: Tanh imports as a ``tanh`` node (as Sigmoid
    does), equal to onnxruntime over inputs that reach both of tanh's saturated ends."""
    rng = np.random.default_rng(11)
    inits = [init("w1", rng.normal(0, 1.0, (12, 16))), init("b1", rng.normal(0, 0.1, 12)),
             init("w2", rng.normal(0, 0.3, (5, 12))), init("b2", rng.normal(0, 0.1, 5))]
    nodes = [N("Gemm", ["x", "w1", "b1"], ["h"], "pre_logits.0", transB=1), N("Tanh", ["h"], ["t"], "pre_logits.1"),
             N("Gemm", ["t", "w2", "b2"], ["y"], "head", transB=1)]
    path = _save(onnx_model(nodes, inits, {"x": (3, 16)}, {"y": (3, 5)}, opset=17), tmp_path)
    imported = import_onnx(path)
    assert [node.op for node in imported.graph.nodes] == [Op.INPUT, Op.LINEAR, Op.TANH, Op.LINEAR]
    x = rng.normal(0, 2, (3, 16))
    hidden = evaluate_ref(imported.graph, {"x": x.reshape(3, 16, 1, 1)}, imported.weights)  # the IR's (N, C, 1, 1)
    tanh = hidden[imported.graph.nodes[2].name]
    assert (tanh < -0.999).any() and (tanh > 0.999).any() and (np.abs(tanh) < 0.9).any()
    np.testing.assert_allclose(hidden[imported.outputs["y"]].reshape(3, 5), _onnxruntime(path, {"x": x})["y"],
                               rtol=1e-4, atol=1e-5)


def test_a_gather_after_a_split_is_undone_equals_onnxruntime(tmp_path: Path) -> None:
    """(N, 6, 16) tokens-last → (N, 16, 6) → (N, 16, 2, 3) → (N, 16, 6) → Gather index 4 of the 6:
    the split is undone, so the gather is a slice of one channel (the view once kept the two
    halves apart and the import was refused)."""
    rng = np.random.default_rng(0)
    inits = [init("w", rng.normal(0, 0.3, (6, 3, 1, 1))), init("s1", np.array([-1, 6, 16], np.int64)),
             init("s2", np.array([-1, 16, 2, 3], np.int64)), init("s3", np.array([-1, 16, 6], np.int64)),
             init("i", np.array(4, np.int64))]
    nodes = [N("Conv", ["x", "w"], ["a"], "conv", kernel_shape=[1, 1]), N("Reshape", ["a", "s1"], ["b"], "flat"),
             N("Transpose", ["b"], ["t"], "tokens", perm=[0, 2, 1]), N("Reshape", ["t", "s2"], ["c"], "split"),
             N("Reshape", ["c", "s3"], ["d"], "join"), N("Gather", ["d", "i"], ["y"], "pick", axis=2)]
    path = _save(onnx_model(nodes, inits, {"x": ("N", 3, 4, 4)}, {"y": ("N", 16)}), tmp_path)
    imported = import_onnx(path, input_shape=[2, 3, 4, 4])
    x = rng.normal(size=(2, 3, 4, 4))
    ours = evaluate_ref(imported.graph, {"x": x}, imported.weights)[imported.outputs["y"]]
    np.testing.assert_allclose(ours.reshape(2, 16), _onnxruntime(path, {"x": x})["y"], rtol=1e-5, atol=1e-6)
    assert [n.op for n in imported.graph.nodes].count(Op.SLICE) == 1


def test_the_onnx_package_loads_only_when_a_model_is_imported() -> None:
    """``onnx`` takes seconds to import (a Ctrl-C meanwhile aborts the process): the CLI's network
    sources and the experiment runner must not import it until an ONNX model is read."""
    import subprocess
    import sys

    code = ("import sys, fpgasim.cli.main, fpgasim.nn.sources, fpgasim.study.experiment.graph_run\n"
            "before = 'onnx' in sys.modules\n"
            "from fpgasim.nn.onnx import import_onnx\n"
            "print(before, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.parametrize("attrs", [
    {"value": helper.make_tensor("v", TensorProto.FLOAT, [2, 3], np.arange(6.0).tolist())},
    {"value": helper.make_tensor("v", TensorProto.INT64, [3], [4, -1, 7])},
    {"value_float": 0.5}, {"value_floats": [1.5, -2.0]}, {"value_int": 3}, {"value_ints": [1, 2, 3]},
    {"value_string": "kept"},
])
def test_a_constant_read_directly_equals_the_reference_evaluator(attrs) -> None:
    """Constants (2653 of Swin-T's 6261 nodes) skip the reference evaluator; the value and dtype are
    the evaluator's."""
    node = helper.make_node("Constant", [], ["c"], name="c", **attrs)
    ours = fold(node, [], 17)[0]
    graph = helper.make_graph([node], "g", [], [helper.make_empty_tensor_value_info("c")])
    theirs = ReferenceEvaluator(graph, opsets={"": 17}).run(None, {})[0]
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape and np.array_equal(ours, theirs)
