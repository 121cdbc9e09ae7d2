"""Windowed transformers through the ONNX importer. torchvision's SwinTransformer and MaxVit exported
by torch.onnx.export (experiments/models/tiny-swin.onnx, tiny-maxvit.onnx): their windows found,
their counts reconciled with torch's, their float reference against onnxruntime and their emulated
runs bit exact on one and two boards. Then each piece against onnxruntime on a hand-built model:
rows and columns of a channels-last view sliced (Swin's cyclic shift as torch.roll exports it, its
patch merging's every-other row and column), zero Pads, Einsum products, and the parameters of a
constant computed from an initializer (a gathered bias table counts as the table)."""

from pathlib import Path

import numpy as np
import pytest

from fpgasim.errors import BadArgument
from fpgasim.nn import Op
from fpgasim.nn.evaluate import evaluate_ref
from fpgasim.nn.onnx import import_onnx
from tests.nn.test_onnx_attention import run_bit_exact
from tests.nn.test_onnx_import import N, _onnxruntime, _save
from tests.strategies.onnx_models import init, onnx_model

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "experiments" / "models"
KERNEL = ROOT / "kernels" / "superlip-conv-16bit-hybrid.yaml"  # sigmoid (MaxViT's SE, tanh), GELU, softmax
C, SIDE = 4, 6


def _windows(imported) -> list[tuple[int, tuple[int, int], bool]]:
    return [(n.attrs["heads"], n.attrs["window"], n.attrs["dilated"]) for n in imported.graph.nodes
            if n.op is Op.SCORES]


def test_swin_imports_shifted_windows_with_torchs_counts() -> None:
    """SwinTransformer(patch 2, embed 16, depths [2, 2], heads [2, 4], window 4) at 32×32: 4×4
    windows on a 16×16 then an 8×8 map; every second block shifted, its mask a constant."""
    imported = import_onnx(MODELS / "tiny-swin.onnx")
    assert _windows(imported) == [(2, (4, 4), False)] * 2 + [(4, (4, 4), False)] * 2
    assert [n.op for n in imported.graph.nodes].count(Op.CONSTANT) == 4 + 2  # a bias per block, 2 masks
    tokens = 16  # per window
    stages = [(16, 2, 16 * 16), (32, 4, 8 * 8)]  # channels, heads, positions

    def block(c: int, heads: int, table: int) -> int:  # norm1, qkv, proj, bias table, norm2, MLP
        return 2 * c + (3 * c * c + 3 * c) + (c * c + c) + table * heads + 2 * c + (8 * c * c + 5 * c)
    embed, merge, head = (3 * 16 * 2 * 2 + 16) + 2 * 16, 2 * 64 + 64 * 32, 2 * 32 + (32 * 10 + 10)
    torch_params = embed + merge + head + sum(2 * block(c, h, (2 * 4 - 1) ** 2) for c, h, _ in stages)
    assert torch_params == 35_366  # what make_tiny_windowed.py prints: sum(p.numel() for p in model.parameters())
    # the export stores each block's bias gathered (tokens × tokens per head), not the 7×7 table
    assert imported.params == torch_params + sum(2 * h * (tokens * tokens - 49) for _, h, _ in stages)
    attention = sum(2 * (2 * n * tokens * c) for c, _, n in stages)
    dense = sum(2 * n * 12 * c * c for c, _, n in stages) + 8 * 8 * 64 * 32
    assert imported.graph.macs == 16 * 16 * 16 * 3 * 2 * 2 + dense + attention + 32 * 10


def test_swin_v2_pads_to_whole_windows_and_normalises_q_and_k() -> None:
    """Swin V2's blocks at 36×36: an 18×18 then a 9×9 map padded to whole 4×4 windows (20×20,
    12×12) and cropped back, Q and K normalised per head, the MLP-computed bias folded at import."""
    imported = import_onnx(MODELS / "tiny-swin-v2.onnx")
    graph = imported.graph
    assert _windows(imported) == [(2, (4, 4), False)] * 2 + [(4, (4, 4), False)] * 2
    pads = [n for n in graph.nodes if n.op is Op.PAD]
    assert [(n.attrs["pads"], n.out_shape[1:]) for n in pads] == [((0, 2, 0, 2), (20, 20))] * 2 + \
        [((0, 3, 0, 3), (12, 12))] * 2
    norms = [n.attrs["groups"] for n in graph.nodes if n.op is Op.L2NORM]
    assert norms == [2, 2, 2, 2, 4, 4, 4, 4]  # Q and K of each block, per head
    # the windowed products run on the padded maps: 400 and 144 positions, 16 keys each
    products = sum(n.macs for n in graph.nodes if n.op in (Op.SCORES, Op.ATTEND))
    assert products == 2 * (2 * 400 * 16 * 16) + 2 * (2 * 144 * 16 * 32)


def test_maxvit_imports_block_and_grid_windows_with_torchs_counts() -> None:
    """MaxVit(64×64, stem 8, partition 4, channels [16, 32], heads of 8): each layer attends within
    4×4 blocks and then over a dilated 4×4 grid; both products are Einsums."""
    imported = import_onnx(MODELS / "tiny-maxvit.onnx")
    assert _windows(imported) == [(2, (4, 4), False), (2, (4, 4), True), (4, (4, 4), False), (4, (4, 4), True)]
    # torch's count, less a parameter per channel of each batch norm folded into its conv (γ, β → one
    # bias: the stem's 8 and both MBConvs' expand and depthwise, 4·16 and 4·32 channels), plus the
    # gathered biases (16 × 16 per head stored, (2·4−1)² counted by torch), window and grid, 2 + 4 heads
    torch_params = 48_536  # what make_tiny_windowed.py prints
    assert imported.params == torch_params - (8 + 2 * 64 + 2 * 128) + 2 * (2 + 4) * (16 * 16 - 49)
    products = sum(n.macs for n in imported.graph.nodes if n.op in (Op.SCORES, Op.ATTEND))
    assert products == 2 * (2 * 16 * 16 * 16 * 16) + 2 * (2 * 8 * 8 * 16 * 32)


@pytest.mark.parametrize("model", ["tiny-swin.onnx", "tiny-swin-v2.onnx", "tiny-maxvit.onnx"])
def test_windowed_transformers_equal_onnxruntime(model: str) -> None:
    path = MODELS / model
    imported = import_onnx(path)
    side = imported.graph.node("input").out_shape[1]
    x = np.random.default_rng(7).uniform(-1, 1, (1, 3, side, side))
    ours = evaluate_ref(imported.graph, {"input": x}, imported.weights)[imported.outputs["logits"]]
    theirs = _onnxruntime(path, {"input": x})["logits"]
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model, boards, partitioned", [("tiny-swin.onnx", 1, False), ("tiny-swin.onnx", 2, True),
                                                        ("tiny-swin-v2.onnx", 1, False),
                                                        ("tiny-swin-v2.onnx", 2, True),
                                                        ("tiny-maxvit.onnx", 1, False),
                                                        ("tiny-maxvit.onnx", 2, False)])
def test_windowed_transformers_run_bit_exact(model: str, boards: int, partitioned: bool) -> None:
    """Every node of the emulated run equals evaluate_fixed with the same tables; the windowed
    products ran on the MAC array, the masks and biases are stored constants."""
    imported = import_onnx(MODELS / model)
    plan, _ = run_bit_exact(imported, boards, partitioned, KERNEL)
    nodes = imported.graph.nodes
    assert {plan.plan_of(n.name).engine for n in nodes if n.op in (Op.SCORES, Op.ATTEND)} == {"mac_array"}
    assert {plan.plan_of(n.name).engine for n in nodes if n.op is Op.CONSTANT} == {"relabel"}


def _agree(path: Path, x: np.ndarray, output: str = "y") -> np.ndarray:
    imported = import_onnx(path)
    stored = x.reshape(x.shape[0], *imported.graph.node("x").out_shape)
    ours = evaluate_ref(imported.graph, {"x": stored}, imported.weights)[imported.outputs[output]]
    theirs = _onnxruntime(path, {"x": x})[output]
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-5, atol=1e-5)
    return imported


def _ints(name: str, values) -> object:
    return init(name, np.array(values, np.int64))


def test_a_roll_of_a_channels_last_view_is_row_and_column_slices_and_concats(tmp_path: Path) -> None:
    """torch.roll(x, (-2, -1), dims=(1, 2)) on NHWC: Slice + Concat per axis, no transpose."""
    inits = [_ints(n, v) for n, v in (("s2", [2]), ("s1", [1]), ("zero", [0]), ("end", [2**62]),
                                      ("ax1", [1]), ("ax2", [2]))]
    nodes = [N("Transpose", ["x"], ["t"], "to_nhwc", perm=[0, 2, 3, 1]),
             N("Slice", ["t", "s2", "end", "ax1"], ["h_tail"], "roll/Slice"),
             N("Slice", ["t", "zero", "s2", "ax1"], ["h_head"], "roll/Slice_1"),
             N("Concat", ["h_tail", "h_head"], ["h"], "roll/Concat", axis=1),
             N("Slice", ["h", "s1", "end", "ax2"], ["w_tail"], "roll/Slice_2"),
             N("Slice", ["h", "zero", "s1", "ax2"], ["w_head"], "roll/Slice_3"),
             N("Concat", ["w_tail", "w_head"], ["y"], "roll/Concat_1", axis=2)]
    model = onnx_model(nodes, inits, {"x": (1, C, SIDE, SIDE)}, {"y": (1, SIDE, SIDE, C)})
    x = np.random.default_rng(0).normal(size=(1, C, SIDE, SIDE))
    imported = _agree(_save(model, tmp_path), x)
    slices = [n for n in imported.graph.nodes if n.op is Op.SLICE]
    assert sorted(n.attrs["axis"] for n in slices) == [1, 1, 2, 2]
    assert [n.op for n in imported.graph.nodes].count(Op.TRANSPOSE) == 1  # only the output, materialised


def test_patch_merging_takes_every_other_row_and_column(tmp_path: Path) -> None:
    """Swin's x[..., 0::2, 0::2, :] … concatenated over the channels: strided slices (step 2)."""
    inits = [_ints(n, v) for n, v in (("z", [0, 0]), ("o", [1, 1]), ("end", [2**62, 2**62]), ("hw", [1, 2]),
                                      ("step", [2, 2]))]
    nodes = [N("Transpose", ["x"], ["t"], "to_nhwc", perm=[0, 2, 3, 1])]
    parts = []
    for i, (r, c) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        starts = f"start{i}"
        inits.append(_ints(starts, [r, c]))
        nodes.append(N("Slice", ["t", starts, "end", "hw", "step"], [f"x{i}"], f"merge/Slice_{i}"))
        parts.append(f"x{i}")
    nodes.append(N("Concat", parts, ["y"], "merge/Concat", axis=-1))
    model = onnx_model(nodes, inits, {"x": (1, C, SIDE, SIDE)}, {"y": (1, SIDE // 2, SIDE // 2, 4 * C)})
    x = np.random.default_rng(1).normal(size=(1, C, SIDE, SIDE))
    imported = _agree(_save(model, tmp_path), x)
    steps = {(n.attrs["axis"], n.attrs["step"]) for n in imported.graph.nodes if n.op is Op.SLICE}
    assert steps == {(1, 2), (2, 2)}


def test_zero_pads_are_no_node_and_row_and_column_pads_are_a_pad_node(tmp_path: Path) -> None:
    """Swin pads its NHWC map at the bottom and the right to whole windows: ``pad`` of the view."""
    nodes = [N("Pad", ["x", "pads"], ["p"], "pad"), N("Relu", ["p"], ["y"], "relu")]
    zero = onnx_model(nodes, [_ints("pads", [0] * 8)], {"x": (1, C, SIDE, SIDE)}, {"y": (1, C, SIDE, SIDE)})
    imported = _agree(_save(zero, tmp_path), np.random.default_rng(2).normal(size=(1, C, SIDE, SIDE)))
    assert [n.op for n in imported.graph.nodes] == [Op.INPUT, Op.RELU]
    nhwc = [N("Transpose", ["x"], ["t"], "to_nhwc", perm=[0, 2, 3, 1]), N("Pad", ["t", "pads"], ["p"], "pad"),
            N("Relu", ["p"], ["y"], "relu")]
    model = onnx_model(nhwc, [_ints("pads", [0, 1, 0, 0, 0, 0, 3, 0])], {"x": (1, C, SIDE, SIDE)},
                       {"y": (1, SIDE + 1, SIDE + 3, C)})
    imported = _agree(_save(model, tmp_path, "rows.onnx"), np.random.default_rng(3).normal(size=(1, C, SIDE, SIDE)))
    assert imported.graph.node("pad").attrs["pads"] == (1, 0, 0, 3)


@pytest.mark.parametrize("pads, mode", [([0, 1, 0, 0, 0, 1, 0, 0], "constant"), ([0, 0, 1, 0, 0, 0, 1, 0], "reflect"),
                                        ([0, 0, -1, 0, 0, 0, 0, 0], "constant")])
def test_a_pad_of_the_channels_or_not_of_zeros_is_refused(tmp_path: Path, pads, mode) -> None:
    nodes = [N("Pad", ["x", "pads"], ["y"], "pad", mode=mode)]
    model = onnx_model(nodes, [_ints("pads", pads)], {"x": (1, C, SIDE, SIDE)}, {"y": (1, C, SIDE, SIDE)})
    with pytest.raises(BadArgument, match=r"'pad' \(Pad\): pads=\[.*\], mode=.*: the graph IR pads the rows and "
                                          "columns of a map with zeros"):
        import_onnx(_save(model, tmp_path))


def test_a_reversed_or_batch_slice_is_refused_naming_the_node(tmp_path: Path) -> None:
    inits = [_ints("start", [-1]), _ints("end", [-2**62]), _ints("axis", [2]), _ints("step", [-1])]
    nodes = [N("Transpose", ["x"], ["t"], "to_nhwc", perm=[0, 2, 3, 1]),
             N("Slice", ["t", "start", "end", "axis", "step"], ["y"], "flip")]
    model = onnx_model(nodes, inits, {"x": (1, C, SIDE, SIDE)}, {"y": (1, SIDE, SIDE, C)})
    with pytest.raises(BadArgument, match=r"'flip' \(Slice\): axes=\[2\], steps=\[-1\].*positive steps"):
        import_onnx(_save(model, tmp_path))


def _einsum_attention(equation_scores: str = "bhid,bhjd->bhij") -> object:
    """x (1, 8, 5) as 5 tokens of 8: Q, K, V per 2 heads, both products written as Einsum."""
    rng = np.random.default_rng(3)
    inits = [init(w, rng.normal(0, 0.5, (8, 8))) for w in ("wq", "wk", "wv")]
    inits += [_ints("heads", [1, 5, 2, 4]), _ints("back", [1, 5, 8]), init("scale", np.array(0.5, np.float32))]
    nodes = [N("Transpose", ["x"], ["t"], "tokens", perm=[0, 2, 1])]
    for w in ("q", "k", "v"):
        nodes += [N("MatMul", ["t", f"w{w}"], [w], f"{w}/MatMul"), N("Reshape", [w, "heads"], [f"{w}4"], f"{w}/Reshape"),
                  N("Transpose", [f"{w}4"], [f"{w}h"], f"{w}/Transpose", perm=[0, 2, 1, 3])]
    nodes += [N("Mul", ["kh", "scale"], ["ks"], "k/scale"),
              N("Einsum", ["qh", "ks"], ["s"], "scores", equation=equation_scores),
              N("Softmax", ["s"], ["p"], "softmax", axis=-1),
              N("Einsum", ["p", "vh"], ["o"], "attend", equation="bhij,bhjd->bhid"),
              N("Transpose", ["o"], ["ot"], "merge/Transpose", perm=[0, 2, 1, 3]),
              N("Reshape", ["ot", "back"], ["y"], "merge/Reshape")]
    return onnx_model(nodes, inits, {"x": (1, 8, 5)}, {"y": (1, 5, 8)})


def test_einsum_attention_is_scores_and_attend(tmp_path: Path) -> None:
    """MaxViT's form: the scale on K (read only by the Einsum) becomes the scores' scale."""
    imported = _agree(_save(_einsum_attention(), tmp_path), np.random.default_rng(4).normal(size=(1, 8, 5)))
    scores = next(n for n in imported.graph.nodes if n.op is Op.SCORES)
    assert scores.attrs["heads"] == 2 and scores.attrs["scale"] == 0.5
    assert [n.op for n in imported.graph.nodes].count(Op.ATTEND) == 1


@pytest.mark.parametrize("equation", ["bhid,bhjd->bhji", "bhid,bhid->bhi", "bhid,bhjd,bhjd->bhij"])
def test_an_einsum_that_is_no_matrix_product_is_refused(tmp_path: Path, equation: str) -> None:
    model = _einsum_attention(equation)
    if equation.count(",") == 2:
        model.graph.node[-5].input.append("vh")
    with pytest.raises(BadArgument, match=r"'scores' \(Einsum\): equation .*batched matrix product"):
        import_onnx(_save(model, tmp_path))


def test_a_constant_gathered_from_a_table_counts_the_table(tmp_path: Path) -> None:
    """Swin's relative-position bias: a 7-entry table gathered into a (C, SIDE, SIDE) addend stores
    C·SIDE² values; the model's parameters are the table's 7 (a shape-only constant adds none)."""
    index = np.random.default_rng(5).integers(0, 7, (C, SIDE, SIDE))
    inits = [init("table", np.arange(7.0)), _ints("index", index), init("mask", np.ones((C, SIDE, SIDE)))]
    nodes = [N("Gather", ["table", "index"], ["bias"], "bias/Gather"),
             N("Add", ["x", "bias"], ["b"], "add_bias"),
             N("Shape", ["x"], ["shape"], "shape"),
             N("ConstantOfShape", ["shape"], ["zeros"], "zeros", value=init("v", np.array([0.25]))),
             N("Add", ["b", "zeros"], ["y"], "add_mask")]
    model = onnx_model(nodes, inits[:2], {"x": (1, C, SIDE, SIDE)}, {"y": (1, C, SIDE, SIDE)})
    imported = _agree(_save(model, tmp_path), np.random.default_rng(6).normal(size=(1, C, SIDE, SIDE)))
    constants = [n for n in imported.graph.nodes if n.op is Op.CONSTANT]
    assert [n.params for n in constants] == [C * SIDE * SIDE] * 2  # what each stores
    assert imported.params == 7


def _normalize(x: str, prefix: str, eps: float = 1e-12, *, expand: bool = True, opset: int = 17) -> tuple[list, list]:
    """``F.normalize(x, dim=-1)`` as torch.onnx.export writes it (axes an attribute before opset 18)."""
    inits = [init(f"{prefix}.eps", np.array(eps, np.float32))]
    if opset >= 18:
        inits.append(_ints(f"{prefix}.axes", [-1]))
        reduce = N("ReduceL2", [x, f"{prefix}.axes"], [f"{prefix}.norm"], f"{prefix}/ReduceL2", keepdims=1)
    else:
        reduce = N("ReduceL2", [x], [f"{prefix}.norm"], f"{prefix}/ReduceL2", axes=[-1], keepdims=1)
    nodes = [reduce,
             N("Clip", [f"{prefix}.norm", f"{prefix}.eps", ""], [f"{prefix}.clip"], f"{prefix}/Clip")]
    divisor = f"{prefix}.clip"
    if expand:
        nodes += [N("Shape", [x], [f"{prefix}.shape"], f"{prefix}/Shape"),
                  N("Expand", [divisor, f"{prefix}.shape"], [f"{prefix}.expand"], f"{prefix}/Expand")]
        divisor = f"{prefix}.expand"
    nodes.append(N("Div", [x, divisor], [f"{prefix}.out"], f"{prefix}/Div"))
    return nodes, inits


def _cosine_attention(eps: float = 1e-12, opset: int = 17) -> object:
    """Swin V2's attention on 5 tokens of 8, 2 heads: normalised Q·normalised Kᵀ times a per-head
    logit scale, softmax, ·V."""
    model = _einsum_attention()
    rng = np.random.default_rng(8)
    nodes = [n for n in model.graph.node if n.name not in ("k/scale", "scores", "softmax")]
    inits = [i for i in model.graph.initializer if i.name != "scale"]
    qn, q_inits = _normalize("qh", "q/normalize", eps, opset=opset)
    kn, k_inits = _normalize("kh", "k/normalize", eps, expand=False, opset=opset)
    inits += q_inits + k_inits + [init("logit", rng.uniform(5, 20, (2, 1, 1)))]
    attention = [N("Transpose", ["k/normalize.out"], ["kt"], "k/T", perm=[0, 1, 3, 2]),
                 N("MatMul", ["q/normalize.out", "kt"], ["cos"], "scores"),
                 N("Mul", ["cos", "logit"], ["s"], "logit_scale"),
                 N("Softmax", ["s"], ["p"], "softmax", axis=-1)]
    at = next(i for i, n in enumerate(nodes) if n.name == "attend")
    nodes[at:at] = qn + kn + attention
    return onnx_model(nodes, inits, {"x": (1, 8, 5)}, {"y": (1, 5, 8)}, opset=opset)


@pytest.mark.parametrize("opset", [17, 18])
def test_cosine_attention_normalises_each_head_and_equals_onnxruntime(tmp_path: Path, opset: int) -> None:
    """F.normalize's ReduceL2 → Clip → (Expand) → Div is one ``l2norm`` per head (groups 2); the
    per-head logit scale is a constant multiplying the scores."""
    model = _cosine_attention(opset=opset)
    imported = _agree(_save(model, tmp_path), np.random.default_rng(9).normal(size=(1, 8, 5)))
    norms = [n for n in imported.graph.nodes if n.op is Op.L2NORM]
    assert [n.attrs["groups"] for n in norms] == [2, 2] and norms[0].name == "q/normalize/LpNormalization"
    assert [n.op for n in imported.graph.nodes].count(Op.SCORES) == 1


def test_a_normalisation_with_a_large_eps_is_not_fused(tmp_path: Path) -> None:
    with pytest.raises(BadArgument, match=r"unsupported op types: ReduceL2 \(first node 'q/normalize/ReduceL2'\)"):
        import_onnx(_save(_cosine_attention(eps=1e-3), tmp_path))
