"""Reference evaluation of graphs: synthetic weights, float64 and fixed point, node by node."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Requantizer
from fpgasim.nn import OPS, Graph, NodeSpec, Op, zoo_network
from fpgasim.nn.evaluate import (
    NodeWeights, agreement, compute_node_fixed, evaluate_fixed, evaluate_ref, synthetic_weights,
)
from fpgasim.ops import SigmoidTable, conv2d_ref, tanh_fixed, tanh_table_error, tanh_table_fixed
from fpgasim.ops.layernorm import l2norm_fixed
from tests.strategies.graphs import dag_specs
from tests.strategies.numeric import roundings

FMT = FixedFormat(total_bits=24, int_bits=12, signed=True)
REQUANT = Requantizer(out=FMT, rounding="half_even", overflow="saturate",
                      accumulator=Accumulator(bits=48, overflow="saturate"))


def S(name, op, *inputs, **attrs):  # noqa: N802 - terse spec builder
    return NodeSpec(name=name, op=op, inputs=inputs, attrs=attrs)


def _every_op_graph(batch: int = 2) -> Graph:
    """Every op that is evaluated node by node, the composite DSC included (expanded)."""
    specs = [S("x", "input", shape=(4, 8, 8)), S("c1", "conv", "x", out_channels=8, kernel=3, padding=1, groups=2),
             S("r1", "relu", "c1"), S("s1", "slice", "r1", start=2, stop=6), S("a1", "add", "s1", "x"),
             S("g", "global_pool", "a1", kind="avg"), S("sg", "sigmoid", "g"), S("m", "mul", "a1", "sg"),
             S("cat", "concat", "m", "r1"), S("gm", "global_pool", "cat", kind="max"), S("r6", "relu6", "gm"),
             S("t", "transpose", "cat", perm=(1, 2, 0)), S("fl", "flatten", "t"),
             S("fc", "linear", "fl", out_features=10), S("sm", "softmax", "fc"),
             S("p", "pool", "cat", kind="max", kernel=2, stride=2), S("pa", "pool", "p", kind="avg", kernel=3,
                                                                       stride=1, padding=1),
             S("af", "affine", "pa"), S("hs", "hardswish", "af"), S("si", "silu", "hs"), S("ln", "layernorm", "si"),
             S("ge", "gelu", "ln"), S("th", "tanh", "af"), S("l2", "l2norm", "ge", groups=3),
             S("rs", "reshape", "l2", shape=(48, 2, 2)),
             S("d", "dsc", "rs", out_channels=6, kernel=3, padding=1),
             S("up", "upsample", "d", scale=2, size=(5, 4)), S("pd", "pad", "up", pads=(0, 2, 1, 0)),
             # attention over 3 stored keys, 4 heads: scores → softmax per head → attend
             S("kv", "constant", shape=(48, 3, 1)), S("sc", "scores", "rs", "kv", heads=4, scale=0.5),
             S("pr", "softmax", "sc", groups=4), S("vv", "slice", "kv", start=0, stop=8),
             S("at", "attend", "pr", "vv", heads=4), S("hc", "concat", "at", "at", axis=1),
             S("hr", "slice", "hc", start=1, stop=3, axis=1)]
    return Graph.build(name="every", batch=batch, specs=specs).expand()


def _fixed_inputs(graph: Graph, rng: np.random.Generator, fmt: FixedFormat = FMT) -> dict[str, FixedTensor]:
    return {n.name: FixedTensor(rng.integers(-(1 << fmt.frac_bits), 1 << fmt.frac_bits,
                                             (graph.batch, *n.out_shape)), fmt) for n in graph.inputs}


def test_every_evaluated_op_is_in_the_test_graph() -> None:
    covered = {n.op for n in _every_op_graph().nodes}
    assert covered == set(OPS) - {Op.DSC, Op.ODE}


def test_synthetic_weights_are_deterministic_he_normal() -> None:
    graph = Graph.build(name="g", batch=1, specs=[
        S("x", "input", shape=(32, 8, 8)), S("c", "conv", "x", out_channels=64, kernel=3),
        S("l", "linear", "c", out_features=5, bias=False), S("r", "relu", "l")])
    w = synthetic_weights(graph, seed=7)
    assert set(w) == {"c", "l"}
    assert w["c"].weight.shape == (64, 32, 3, 3) and w["c"].bias.shape == (64,) and w["l"].bias is None
    assert w["l"].weight.shape == (5, 64 * 6 * 6)
    assert abs(w["c"].weight.std() / np.sqrt(2 / (32 * 9)) - 1) < 0.05
    assert np.abs(w["c"].bias).max() <= 0.1
    again, other = synthetic_weights(graph, seed=7), synthetic_weights(graph, seed=8)
    assert np.array_equal(again["c"].weight, w["c"].weight) and np.array_equal(again["l"].weight, w["l"].weight)
    assert not np.array_equal(other["c"].weight, w["c"].weight)
    with pytest.raises(BadArgument, match="seed=-1"):
        synthetic_weights(graph, seed=-1)


def test_evaluate_ref_matches_numpy_for_the_relabelling_and_elementwise_ops() -> None:
    graph = _every_op_graph()
    weights = synthetic_weights(graph, seed=3)
    x = np.random.default_rng(0).normal(size=(2, 4, 8, 8))
    out = evaluate_ref(graph, {"x": x}, weights)
    assert set(out) == {n.name for n in graph.nodes}
    for node in graph.nodes:
        assert out[node.name].shape == (2, *node.out_shape)
    assert np.array_equal(out["s1"], out["r1"][:, 2:6]) and np.array_equal(out["a1"], out["s1"] + x)
    assert np.allclose(out["m"], out["a1"] / (1 + np.exp(-out["a1"].mean(axis=(2, 3), keepdims=True))))
    assert np.array_equal(out["cat"], np.concatenate([out["m"], out["r1"]], axis=1))
    assert np.array_equal(out["fl"][:, :, 0, 0], out["cat"].transpose(0, 2, 3, 1).reshape(2, -1))
    assert np.allclose(out["sm"].sum(axis=1), 1.0)
    scale, shift = weights["af"].weight, weights["af"].bias
    assert scale.shape == shift.shape == (graph.node("pa").out_shape[0],)
    assert np.allclose(out["af"], out["pa"] * scale[None, :, None, None] + shift[None, :, None, None])
    assert np.allclose(out["th"], np.tanh(out["af"])) and (out["th"] < 0).any()
    centred = out["si"] - out["si"].mean(axis=1, keepdims=True)
    normalised = centred / np.sqrt((centred ** 2).mean(axis=1, keepdims=True) + 1e-5)
    gamma, beta = weights["ln"].weight, weights["ln"].bias
    assert np.allclose(out["ln"], normalised * gamma[None, :, None, None] + beta[None, :, None, None])
    heads = out["ge"].reshape(2, 3, 4, 4, 4)  # (N, groups, C/groups, H, W)
    assert np.allclose(out["l2"], (heads / np.linalg.norm(heads, axis=2, keepdims=True)).reshape(2, 12, 4, 4))
    assert np.allclose(out["fc"][:, :, 0, 0], out["fl"][:, :, 0, 0] @ weights["fc"].weight.T + weights["fc"].bias)
    q = out["rs"].reshape(2, 4, 12, 4)  # (N, heads, d, positions)
    k = np.broadcast_to(weights["kv"].weight.reshape(4, 12, 3), (2, 4, 12, 3))
    scores = 0.5 * np.einsum("nhdq,nhdk->nhkq", q, k)
    assert np.array_equal(out["kv"], np.broadcast_to(weights["kv"].weight, (2, 48, 3, 1)))
    assert np.allclose(out["sc"], scores.reshape(2, 12, 2, 2))
    p = np.exp(scores) / np.exp(scores).sum(axis=2, keepdims=True)
    v = np.broadcast_to(weights["kv"].weight[:8].reshape(4, 2, 3), (2, 4, 2, 3))
    assert np.allclose(out["at"], np.einsum("nhkq,nhek->nheq", p, v).reshape(2, 8, 2, 2))
    assert np.array_equal(out["hr"], np.concatenate([out["at"]] * 2, axis=2)[:, :, 1:3])


def test_evaluate_fixed_outputs_are_in_the_output_format() -> None:
    graph = _every_op_graph()
    out = evaluate_fixed(graph, _fixed_inputs(graph, np.random.default_rng(1)), synthetic_weights(graph, seed=3),
                         fmt=FMT, requant=REQUANT)
    for node in graph.nodes:
        assert out[node.name].fmt == FMT and out[node.name].shape == (2, *node.out_shape)


@given(dag_specs(max_nodes=6), st.integers(0, 2**32 - 1), roundings)
def test_evaluate_fixed_equals_compute_node_fixed_node_by_node(specs, seed, rounding) -> None:
    graph = Graph.build(name="g", batch=2, specs=specs)
    requant = Requantizer(out=FixedFormat(total_bits=16, int_bits=8, signed=True), rounding=rounding,
                          overflow="saturate", accumulator=Accumulator(bits=40, overflow="wrap"))
    fmt = FixedFormat(total_bits=12, int_bits=4, signed=True)
    inputs = _fixed_inputs(graph, np.random.default_rng(seed), fmt=FixedFormat(total_bits=20, int_bits=4,
                                                                                signed=True))
    weights = synthetic_weights(graph, seed=seed)
    whole = evaluate_fixed(graph, inputs, weights, fmt=fmt, requant=requant)
    by_hand: dict[str, FixedTensor] = {}
    pending = list(reversed(graph.nodes))  # the test's own order: any node whose producers are done
    while pending:
        node = next(n for n in pending if all(p in by_hand for p in n.inputs))
        pending.remove(node)
        xs = [inputs[node.name]] if node.op is Op.INPUT else [by_hand[p] for p in node.inputs]
        by_hand[node.name] = compute_node_fixed(node, xs, weights.get(node.name), fmt=fmt, requant=requant)
    assert set(whole) == set(by_hand)
    for name, tensor in whole.items():
        assert tensor.fmt == requant.out and np.array_equal(tensor.values, by_hand[name].values)


def test_fixed_point_stays_within_the_derived_error_bound_of_the_reference() -> None:
    """x (on the grid) → conv 3×3 → relu → linear, one rounding per node (half ulp q/2 each) and
    weights/biases rounded to the grid: |conv error| ≤ (Σ_window|x| + 2)·q/2; relu keeps it; the
    linear error ≤ Σ_i e_i·(|w_i| + q/2) + |h_i|·q/2, plus q/2 for its bias and q/2 for its output."""
    graph = Graph.build(name="chain", batch=3, specs=[
        S("x", "input", shape=(3, 6, 6)), S("c", "conv", "x", out_channels=4, kernel=3, padding=1),
        S("r", "relu", "c"), S("l", "linear", "r", out_features=5)])
    rng = np.random.default_rng(11)
    weights = synthetic_weights(graph, seed=5)
    xq = FixedTensor(rng.integers(-(1 << FMT.frac_bits), 1 << FMT.frac_bits, (3, 3, 6, 6)), FMT)
    half = FMT.resolution / 2
    ref = evaluate_ref(graph, {"x": xq.to_float()}, weights)
    fixed = evaluate_fixed(graph, {"x": xq}, weights, fmt=FMT, requant=REQUANT)
    window_sums = conv2d_ref(np.abs(xq.to_float()), np.ones((4, 3, 3, 3)), stride=1, padding=1, groups=1)
    e_conv = (window_sums + 2) * half
    assert np.all(np.abs(fixed["c"].to_float() - ref["c"]) <= e_conv)
    assert np.all(np.abs(fixed["r"].to_float() - ref["r"]) <= e_conv)
    w = np.abs(weights["l"].weight)
    e_lin = e_conv.reshape(3, -1) @ (w + half).T + np.abs(ref["r"]).reshape(3, -1).sum(axis=1, keepdims=True) * half
    error = np.abs(fixed["l"].to_float() - ref["l"])[:, :, 0, 0]
    assert np.all(error <= e_lin + 2 * half)
    assert error.max() > 0   # the bound is not vacuous: rounding happened


def test_evaluation_errors() -> None:
    graph = _every_op_graph(batch=1)
    weights = synthetic_weights(graph, seed=0)
    x = np.zeros((1, 4, 8, 8))
    with pytest.raises(BadArgument, match=r"inputs for \['y'\], expected \['x'\]"):
        evaluate_ref(graph, {"y": x}, weights)
    with pytest.raises(ShapeError, match=r"input 'x': shape \(2, 4, 8, 8\), expected \(1, 4, 8, 8\)"):
        evaluate_ref(graph, {"x": np.zeros((2, 4, 8, 8))}, weights)
    with pytest.raises(BadArgument, match="node 'c1' \\(conv\\): no weights given"):
        evaluate_ref(graph, {"x": x}, {})
    with pytest.raises(BadArgument, match="input 'x': ndarray, expected a FixedTensor"):
        evaluate_fixed(graph, {"x": x}, weights, fmt=FMT, requant=REQUANT)
    dsc = Graph.build(name="d", batch=1, specs=[S("x", "input", shape=(4, 8, 8)),
                                                  S("d", "dsc", "x", out_channels=4, kernel=3)])
    with pytest.raises(BadArgument, match=r"node 'd' \(dsc\): composite nodes are not evaluated.*expand"):
        evaluate_ref(dsc, {"x": x}, {})
    with pytest.raises(BadArgument, match="2 input tensors, expected 1"):
        compute_node_fixed(graph.node("r1"), [FixedTensor(np.zeros((1, 8, 8, 8), int), FMT)] * 2, None,
                           fmt=FMT, requant=REQUANT)
    with pytest.raises(BadArgument, match="node 'c1' \\(conv\\): no weights given"):
        compute_node_fixed(graph.node("c1"), [FixedTensor(np.zeros((1, 4, 8, 8), int), FMT)], None,
                           fmt=FMT, requant=REQUANT)


def test_a_tanh_node_reads_the_sigmoid_table_when_given_one() -> None:
    """compute_node_fixed: a tanh node is tanh_fixed without a table, tanh_table_fixed (2·σ̂(2x) − 1)
    with the σ table, as sigmoid is sigmoid_fixed / sigmoid_table_fixed."""
    graph = Graph.build(name="t", batch=2, specs=[S("x", "input", shape=(3, 4, 4)), S("t", "tanh", "x")])
    x = _fixed_inputs(graph, np.random.default_rng(4))["x"]
    table = SigmoidTable(entries=64, input_bound=4.0)
    exact = compute_node_fixed(graph.node("t"), [x], None, fmt=FMT, requant=REQUANT)
    tabled = compute_node_fixed(graph.node("t"), [x], None, fmt=FMT, requant=REQUANT, table=table)
    assert np.array_equal(exact.values, tanh_fixed(x, requant=REQUANT)[0].values)
    assert np.array_equal(tabled.values, tanh_table_fixed(x, requant=REQUANT, table=table)[0].values)
    assert not np.array_equal(exact.values, tabled.values)
    assert np.all(np.abs(tabled.to_float() - exact.to_float()) <= tanh_table_error(table) + FMT.resolution)
    whole = evaluate_fixed(graph, {"x": x}, {}, fmt=FMT, requant=REQUANT, tables={"t": table})
    assert np.array_equal(whole["t"].values, tabled.values)


def test_an_l2norm_node_is_l2norm_fixed_within_half_a_step_of_the_reference() -> None:
    """compute_node_fixed on an l2norm node (groups = 2) is l2norm_fixed with the node's groups and
    eps; on exact inputs the only error is the output rounding: |fixed − ref| ≤ res/2 + (m + 8)·2^−53."""
    graph = Graph.build(name="n", batch=2, specs=[S("x", "input", shape=(6, 3, 3)),
                                                  S("n", "l2norm", "x", groups=2, eps=1e-3)])
    x = _fixed_inputs(graph, np.random.default_rng(5))["x"]
    got = evaluate_fixed(graph, {"x": x}, {}, fmt=FMT, requant=REQUANT)["n"]
    assert np.array_equal(got.values, l2norm_fixed(x, requant=REQUANT, groups=2, eps=1e-3)[0].values)
    ref = evaluate_ref(graph, {"x": x.to_float()}, {})["n"]
    assert np.all(np.abs(got.to_float() - ref) <= FMT.resolution / 2 + 11 * 2.0**-53)
    assert np.abs(got.to_float() - ref).max() > 0


def test_zoo_network_evaluates_in_both_paths() -> None:
    graph = Graph.from_network(zoo_network("tiny_cnn"))
    weights = synthetic_weights(graph, seed=1)
    xq = _fixed_inputs(graph, np.random.default_rng(2))
    ref = evaluate_ref(graph, {"input": xq["input"].to_float()}, weights)
    fixed = evaluate_fixed(graph, xq, weights, fmt=FMT, requant=REQUANT)
    assert ref["fc2"].shape == fixed["fc2"].shape == (1, 10, 1, 1)
    assert np.abs(ref["fc2"] - fixed["fc2"].to_float()).max() < 0.05
    assert isinstance(weights["fc1"], NodeWeights)


def test_agreement_is_logit_snr_and_top1() -> None:
    ref = np.array([[1.0, 3.0, 0.0], [2.0, 0.0, 1.0]])
    assert agreement(ref, ref).snr_db == float("inf") and agreement(ref, ref).top1 == 1.0
    noisy = ref + np.array([[0.0, 0.0, 3.5], [0.1, 0.0, 0.0]])  # sample 0 flips its class
    result = agreement(ref, noisy)
    assert result.top1 == 0.5
    assert result.snr_db == pytest.approx(10 * np.log10(15.0 / (3.5**2 + 0.1**2)))
    with pytest.raises(ShapeError, match=r"output shape \(2, 2\) and reference shape \(2, 3\)"):
        agreement(ref, ref[:, :2])


@pytest.mark.parametrize("dilated", [False, True])
def test_windowed_attention_is_evaluated_with_its_window(dilated) -> None:
    """The window and dilated attrs reach the ops in both paths: scores and attend of the graph equal
    the ops called with that window (and differ from the unwindowed ones: each query sees 4 of
    16 keys), and each fixed-point node is within one output resolution of the float reference of
    its own fixed inputs (the op's derived bound: one rounding of exact sums)."""
    from fpgasim.ops.attention import attend_ref, scores_ref

    specs = [S("x", "input", shape=(4, 4, 4)), S("s", "scores", "x", "x", heads=2, scale=0.5, window=[2, 2],
                                                  dilated=dilated),
             S("p", "softmax", "s", groups=2), S("a", "attend", "p", "x", heads=2, window=[2, 2], dilated=dilated)]
    graph = Graph.build(name="w", batch=2, specs=specs)
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 4, 4, 4))
    out = evaluate_ref(graph, {"x": x}, {})
    want = scores_ref(x, x, heads=2, scale=0.5, window=(2, 2), dilated=dilated)
    assert out["s"].shape == (2, 8, 4, 4) and np.array_equal(out["s"], want)
    assert not np.allclose(out["s"][:, :8], scores_ref(x, x, heads=2, scale=0.5)[:, :8])
    assert np.array_equal(out["a"], attend_ref(out["p"], x, heads=2, window=(2, 2), dilated=dilated))
    fixed = evaluate_fixed(graph, _fixed_inputs(graph, rng), {}, fmt=FMT, requant=REQUANT)
    resolution = 2.0 ** -FMT.frac_bits
    ref_s = scores_ref(fixed["x"].to_float(), fixed["x"].to_float(), heads=2, scale=0.5, window=(2, 2),
                       dilated=dilated)
    ref_a = attend_ref(fixed["p"].to_float(), fixed["x"].to_float(), heads=2, window=(2, 2), dilated=dilated)
    assert np.all(np.abs(fixed["s"].to_float() - ref_s) <= resolution / 2)
    assert np.all(np.abs(fixed["a"].to_float() - ref_a) <= resolution / 2)
