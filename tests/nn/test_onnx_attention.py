"""Transformers through the ONNX importer: torchvision's VisionTransformer exported by torch.onnx.export
(experiments/models/tiny-vit.onnx) against onnxruntime, its counts against torch's, and its emulated
run on one and two boards bit exact against fpgasim.ops node by node; attention's refusals."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import quantize
from fpgasim.hw import load_board, load_link_types
from fpgasim.hw.platform import Platform
from fpgasim.kernels import load_kernel_file
from fpgasim.mapping.graph_partition import plan_partitioned_graph
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn import Op
from fpgasim.nn.evaluate import evaluate_fixed, evaluate_ref
from fpgasim.nn.onnx import import_onnx
from fpgasim.sim.executor import Numerics, carried_values, execute
from tests.nn.test_onnx_import import N, _onnxruntime, _save
from tests.strategies.onnx_models import init, onnx_model

ROOT = Path(__file__).resolve().parents[2]
TINY_VIT = ROOT / "experiments" / "models" / "tiny-vit.onnx"
KERNEL = ROOT / "kernels" / "superlip-conv-16bit-transformer.yaml"
DESIGN = load_kernel_file(KERNEL)
LINK = "aurora64b66b_10g"

# torchvision VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32,
# mlp_dim=64, num_classes=10): 16 patches + the class token = 17 tokens of 32 values
TOKENS, EMBED, MLP, HEADS, LAYERS = 17, 32, 64, 4, 2


def platform_of(boards: int, kernel: Path = KERNEL) -> Platform:
    """``boards`` ZCU102s on a chain of Aurora cables, each with ``kernel``'s design."""
    return Platform.homogeneous(boards=boards, board=load_board("zcu102"), kernel_path=kernel,
                                memory_channel="ps_ddr4", topology="chain", link_id=LINK,
                                link=load_link_types()[LINK])


def run_bit_exact(imported, boards: int, partitioned: bool, kernel: Path = KERNEL):
    """Plan an imported model with an (N, 3, side, side) input on ``boards`` boards (nodes dealt
    round-robin, every edge may cross the cable, or partitioned by the planner), run it in
    functional mode and assert every node equal to evaluate_fixed with the same lookup tables.
    Returns (plan, emulation)."""
    graph, platform = imported.graph, platform_of(boards, kernel)
    ids = [device.id for device in platform.devices]
    design = load_kernel_file(kernel)
    designs = {board: design for board in ids}
    if partitioned:
        plan = plan_partitioned_graph(graph, platform, designs, ids)
    else:
        plan = plan_graph(graph, platform, designs, {node.name: ids[i % boards] for i, node in enumerate(graph.nodes)})
    requant = design.precision.fixed.requantizer()
    x = np.random.default_rng(boards).uniform(-1, 1, (graph.batch, *graph.node("input").out_shape))
    values = carried_values(plan, Numerics(fmt=requant.out, requant=requant), {"input": x}, imported.weights)
    emulation = execute(plan, trace=False, values=values)
    quantised = {"input": quantize(x, requant.out, rounding=requant.rounding, overflow=requant.overflow)[0]}
    reference = evaluate_fixed(graph, quantised, imported.weights, fmt=requant.out, requant=requant,
                               tables=plan.lookup_tables())
    for node in graph.nodes:
        assert np.array_equal(values.out[node.name].values, reference[node.name].values), node.name
    assert emulation.bit_exact is True
    return plan, emulation


def test_the_torch_export_imports_with_torchs_counts_and_equals_onnxruntime() -> None:
    imported = import_onnx(TINY_VIT)
    graph = imported.graph
    ops = [node.op for node in graph.nodes]
    assert ops.count(Op.SCORES) == ops.count(Op.ATTEND) == ops.count(Op.SOFTMAX) == LAYERS
    assert ops.count(Op.CONSTANT) == 2 and Op.TRANSPOSE not in ops  # every layout change is a view
    assert {node.attrs["groups"] for node in graph.nodes if node.op is Op.SOFTMAX} == {HEADS}
    scores = next(node for node in graph.nodes if node.op is Op.SCORES)
    assert scores.attrs["heads"] == HEADS and scores.attrs["scale"] == pytest.approx((EMBED // HEADS) ** -0.5)
    assert scores.out_shape == (HEADS * TOKENS, TOKENS, 1)
    # torch's parameter count: conv_proj, class token, position embedding, per layer two layer norms,
    # in_proj (3E×E + 3E), out_proj, the MLP; the final layer norm and the head
    per_layer = 2 * 2 * EMBED + (3 * EMBED * EMBED + 3 * EMBED) + (EMBED * EMBED + EMBED) \
        + (EMBED * MLP + MLP) + (MLP * EMBED + EMBED)
    assert imported.params == (EMBED * 3 * 64 + EMBED) + EMBED + TOKENS * EMBED + LAYERS * per_layer \
        + 2 * EMBED + (EMBED * 10 + 10)
    # MACs as the model cards count them: projections, MLP and the two attention products
    attention = 2 * TOKENS * TOKENS * EMBED
    per_layer_macs = TOKENS * EMBED * (3 * EMBED + EMBED + 2 * MLP) + attention
    assert graph.macs == 16 * EMBED * 3 * 64 + LAYERS * per_layer_macs + EMBED * 10
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 32))
    ours = evaluate_ref(graph, {"input": x}, imported.weights)[imported.outputs["logits"]]
    theirs = _onnxruntime(TINY_VIT, {"input": x})["logits"]
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("boards, partitioned", [(1, False), (2, False), (2, True)])
def test_the_emulated_transformer_is_bit_exact_on_one_and_two_boards(boards: int, partitioned: bool) -> None:
    """Nodes dealt round-robin over the boards (every edge may cross the cable), or partitioned by the
    planner (attention's products whole on the first board): every node bit exact against evaluate_fixed
    with the same lookup tables, and the scores and attend nodes really ran on the MAC array."""
    imported = import_onnx(TINY_VIT)
    plan, emulation = run_bit_exact(imported, boards, partitioned)
    graph = imported.graph
    assert {plan.plan_of(n.name).engine for n in graph.nodes if n.op in (Op.SCORES, Op.ATTEND)} == {"mac_array"}
    assert {plan.plan_of(n.name).engine for n in graph.nodes if n.op is Op.SOFTMAX} == {"vector"}
    if boards > 1 and not partitioned:
        assert emulation.transfers


def _attention_model(batch: int = 1, *, not_attention: bool = False) -> onnx.ModelProto:
    """x (N, 8, 5) → tokens × embedding: Q, K, V = x·W reshaped to 2 heads; Q·Kᵀ → Softmax → ·V → heads
    merged. With ``not_attention`` the graph ends in Kᵀ·Q instead (a product over the tokens)."""
    rng = np.random.default_rng(3)
    inits = [init(w, rng.normal(0, 0.5, (8, 8))) for w in ("wq", "wk", "wv")]
    inits += [init("heads", np.array([batch, 5, 2, 4], np.int64)), init("back", np.array([batch, 5, 8], np.int64))]
    nodes = [N("Transpose", ["x"], ["t"], "tokens", perm=[0, 2, 1])]
    for w in ("q", "k", "v"):
        nodes += [N("MatMul", ["t", f"w{w}"], [w], f"{w}/MatMul"), N("Reshape", [w, "heads"], [f"{w}4"], f"{w}/Reshape"),
                  N("Transpose", [f"{w}4"], [f"{w}h"], f"{w}/Transpose", perm=[0, 2, 1, 3])]
    nodes += [N("Transpose", ["kh"], ["kt"], "k/T", perm=[0, 1, 3, 2]),
              N("MatMul", ["qh", "kt"], ["s"], "scores"), N("Softmax", ["s"], ["p"], "softmax", axis=-1)]
    if not_attention:
        nodes += [N("MatMul", ["kt", "qh"], ["y"], "attend")]
        return onnx_model(nodes, inits, {"x": (batch, 8, 5)}, {"y": (batch, 2, 4, 4), "p": (batch, 2, 5, 5)})
    nodes += [N("MatMul", ["p", "vh"], ["o"], "attend"),
              N("Transpose", ["o"], ["ot"], "merge/Transpose", perm=[0, 2, 1, 3]),
              N("Reshape", ["ot", "back"], ["y"], "merge/Reshape")]
    return onnx_model(nodes, inits, {"x": (batch, 8, 5)}, {"y": (batch, 5, 8)})


def test_hand_built_attention_equals_onnxruntime(tmp_path: Path) -> None:
    path = _save(_attention_model(), tmp_path)
    imported = import_onnx(path)
    # the output (N, tokens, E) is the attention's (E, tokens) storage transposed once, for the graph output
    assert [n.op for n in imported.graph.nodes if n.op not in (Op.INPUT, Op.POINTWISE)] == \
        [Op.SCORES, Op.SOFTMAX, Op.ATTEND, Op.TRANSPOSE]
    assert imported.graph.node("scores").attrs["heads"] == 2
    x = np.random.default_rng(4).normal(size=(1, 8, 5))
    ours = evaluate_ref(imported.graph, {"x": x[..., None]}, imported.weights)
    theirs = _onnxruntime(path, {"x": x})["y"]
    np.testing.assert_allclose(ours[imported.outputs["y"]].reshape(theirs.shape), theirs, rtol=1e-5, atol=1e-6)


def test_a_product_of_two_computed_tensors_that_is_not_attention_is_refused(tmp_path: Path) -> None:
    path = _save(_attention_model(not_attention=True), tmp_path)
    with pytest.raises(BadArgument, match=r"ONNX node 'attend' \(MatMul\): .* attention's Q·Kᵀ or P·V per head"):
        import_onnx(path)


def test_attention_on_the_mac_array_runs_a_batch_with_weights_per_sample(tmp_path: Path) -> None:
    """K and V are the MAC array's weights, one set per sample: a batch of 2 plans (the scores' conv
    run for 2 samples), runs bit exact against evaluate_fixed in functional mode, each sample with its
    own keys; the float reference equals onnxruntime."""
    imported = import_onnx(_save(_attention_model(batch=2), tmp_path))
    plan = plan_graph(imported.graph, platform_of(1), {"board0": DESIGN}, {}, default="board0")
    assert plan.plan_of("scores").engine == "mac_array"
    x = np.random.default_rng(5).normal(size=(2, 8, 5))
    requant = DESIGN.precision.fixed.requantizer()
    values = carried_values(plan, Numerics(fmt=requant.out, requant=requant), {"x": x[..., None]}, imported.weights)
    assert execute(plan, trace=False, values=values).bit_exact is True
    assert values.begin(plan.plan_of("scores")).weights.shape[0] == 2  # one set of weights per sample
    out = evaluate_ref(imported.graph, {"x": x[..., None]}, imported.weights)[imported.outputs["y"]]
    theirs = _onnxruntime(tmp_path / "m.onnx", {"x": x})["y"]
    np.testing.assert_allclose(out.reshape(theirs.shape), theirs, rtol=1e-5, atol=1e-6)
