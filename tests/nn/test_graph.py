"""Graph IR: build and its errors, topological order, counts, from_network, expand, the op table."""

import re

import numpy as np
import pytest
from hypothesis import given

from fpgasim.errors import BadArgument
from fpgasim.nn import (
    GRAPH_NAMES, OPS, ZOO, Attrs, Conv2d, Graph, GraphError, Network, NodeSpec, Op, Pool, PoolKind, zoo_network,
)
from fpgasim.nn.evaluate import evaluate_ref
from fpgasim.nn.graph_ops import LAYER_OPS, REQUIRED
from fpgasim.nn.sources import load_network_file
from tests.strategies.graphs import dag_specs


def S(name, op, *inputs, **attrs):  # noqa: N802 - a terse spec builder for the tables below
    return NodeSpec(name=name, op=op, inputs=inputs, attrs=attrs)


def _build(*specs, batch=1):
    return Graph.build(name="g", batch=batch, specs=specs)


X = S("x", "input", shape=(8, 16, 16))


def _error(*specs) -> GraphError:
    with pytest.raises(GraphError) as info:
        _build(*specs)
    assert isinstance(info.value, BadArgument)
    return info.value


# --- errors -------------------------------------------------------------------------------------

def test_duplicate_name_names_both_indices() -> None:
    err = _error(X, S("c", "relu", "x"), S("c", "relu", "x"))
    assert "duplicate node name 'c' (nodes 1 and 2)" in str(err)
    assert (err.node_index, err.key) == (2, "name")


def test_unknown_op_lists_known_ones_and_the_closest() -> None:
    err = _error(X, S("c", "cnov", "x"))
    assert re.search(r"node 'c': op='cnov' is not known; known: add, affine, attend, concat, constant, conv, .*; "
                     r"did you mean 'conv'\?",
                     str(err))
    assert (err.node_index, err.key) == (1, "op")


def test_dangling_input() -> None:
    err = _error(X, S("c1", "relu", "x"), S("add1", "add", "c1", "c9"))
    assert str(err) == "node 'add1' inputs[1]: no node named 'c9'"
    assert (err.node_index, err.key) == (2, "inputs[1]")


def test_cycle_names_its_nodes_in_order() -> None:
    err = _error(X, S("a", "add", "x", "c"), S("b", "relu", "a"), S("c", "relu", "b"), S("d", "relu", "x"))
    assert str(err) == "graph 'g': cycle a -> b -> c -> a"
    assert (err.node_index, err.key) == (1, "inputs")


def test_self_loop_is_a_cycle() -> None:
    assert "cycle r -> r" in str(_error(X, S("r", "add", "x", "r")))


@pytest.mark.parametrize(("spec", "wanted"), [
    (S("a", "add", "x"), "1 inputs, expected 2"),
    (S("a", "concat", "x"), "1 inputs, expected at least 2"),
    (S("a", "relu", "x", "x"), "2 inputs, expected 1"),
    (S("a", "input", "x", shape=(1, 1, 1)), "1 inputs, expected 0"),
])
def test_wrong_number_of_inputs(spec, wanted) -> None:
    err = _error(X, spec)
    assert f"node 'a' ({spec.op}): {wanted}" in str(err)
    assert (err.node_index, err.key) == (1, "inputs")


def test_unknown_attribute_suggests_the_closest() -> None:
    err = _error(X, S("c", "conv", "x", out_channels=4, kernal=3))
    assert "node 'c' (conv): unknown attribute 'kernal'; known: bias, groups, kernel" in str(err)
    assert "did you mean 'kernel'?" in str(err)
    assert (err.node_index, err.key) == (1, "attrs.kernal")
    assert "it takes no attributes" in str(_error(X, S("r", "relu", "x", kind="max")))


def test_missing_attribute_names_it_and_what_was_found() -> None:
    err = _error(X, S("c", "conv", "x", kernel=3))
    assert "node 'c' (conv): missing attribute 'out_channels'; found: kernel" in str(err)
    assert (err.node_index, err.key) == (1, "attrs.out_channels")


def test_add_shapes_that_do_not_broadcast_name_both_inputs() -> None:
    err = _error(X, S("c1", "conv", "x", out_channels=8, kernel=3, padding=1),
                 S("c2", "conv", "x", out_channels=8, kernel=2, stride=2), S("add1", "add", "c1", "c2"))
    assert str(err) == "node 'add1': inputs 'c1' (8, 16, 16) and 'c2' (8, 8, 8) do not broadcast"
    assert (err.node_index, err.key) == (3, "inputs")


def test_concat_height_mismatch_names_both_inputs() -> None:
    err = _error(X, S("p", "pool", "x", kind="max", kernel=2, stride=2), S("cat", "concat", "x", "p"))
    assert "node 'cat': inputs 'x' (8, 16, 16) and 'p' (8, 8, 8) differ outside axis 0" in str(err)


def test_layer_spec_errors_are_reraised_with_the_node_and_attribute() -> None:
    err = _error(X, S("c", "conv", "x", out_channels=4, kernel=19))
    assert str(err).startswith("node 'c' (conv): Conv2d 'c': kernel=19 does not fit in_h=16")
    assert (err.node_index, err.key) == (1, "attrs.kernel")
    err = _error(X, S("c", "conv", "x", out_channels=6, kernel=1, groups=4))
    assert (err.key, "groups=4" in str(err)) == ("attrs.groups", True)
    err = _error(X, S("p", "pool", "x", kind="min", kernel=2, stride=2))
    assert "kind='min': expected one of max, avg" in str(err) and err.key == "attrs.kind"


def test_per_axis_windows_build_and_their_errors_name_the_attribute() -> None:
    graph = _build(X, S("c", "conv", "x", out_channels=4, kernel=[1, 7], padding=[0, 3]),
                   S("p", "pool", "c", kind="avg", kernel=[3, 1], stride=[2, 1], padding=[1, 0]))
    assert graph.node("c").out_shape == (4, 16, 16) and graph.node("c").layer.kernel == (1, 7)
    assert graph.node("p").out_shape == (4, 8, 16) and graph.node("c").macs == 4 * 16 * 16 * 8 * 7
    err = _error(X, S("c", "conv", "x", out_channels=4, kernel=[1, 7, 7]))
    assert "kernel=(1, 7, 7): expected an integer >= 1 or [height, width] of them" in str(err)
    assert (err.node_index, err.key) == (1, "attrs.kernel")


@pytest.mark.parametrize(("spec", "wanted", "key"), [
    (S("s", "slice", "x", start=4, stop=9), "start=4, stop=9: expected 0 <= start < stop <= 8 (channels of 'x')",
     "attrs.start"),
    (S("s", "slice", "x", start=-1, stop=2), "start=-1: expected an integer >= 0", "attrs.start"),
    (S("s", "slice", "x", start=0, stop=2, step=0), "step=0: expected an integer >= 1", "attrs.step"),
    (S("p", "pad", "x", pads=(0, 1, 2)), "pads=(0, 1, 2): expected [top, bottom, left, right]", "attrs.pads"),
    (S("r", "reshape", "x", shape=(8, 8, 8)), "shape=(8, 8, 8) has 512 elements but input 'x' (8, 16, 16) has 2048",
     "attrs.shape"),
    (S("t", "transpose", "x", perm=(0, 0, 1)), "perm=(0, 0, 1): expected a permutation of (0, 1, 2)", "attrs.perm"),
    (S("i", "input", shape=(3, 0, 2)), "shape[1]=0: expected an integer >= 1", "attrs.shape"),
    (S("g", "global_pool", "x", kind="sum"), "kind='sum': expected one of max, avg", "attrs.kind"),
])
def test_attribute_values_checked_by_the_op(spec, wanted, key) -> None:
    err = _error(X, spec)
    assert wanted in str(err) and err.key == key and err.node_index == 1


def test_not_a_spec_bad_name_and_empty_graph() -> None:
    assert _error(X, ("c", "relu")).node_index == 1
    assert _error(X, S("", "relu", "x")).key == "name"
    with pytest.raises(GraphError, match="no nodes"):
        Graph.build(name="g", batch=1, specs=[])
    with pytest.raises(BadArgument, match="batch=0"):
        Graph.build(name="g", batch=0, specs=[X])


# --- order, lookup, counts ----------------------------------------------------------------------

def test_topological_order_breaks_ties_by_declaration_order() -> None:
    graph = _build(S("b", "relu", "a"), S("c", "relu", "x"), S("a", "relu", "x"), X, S("d", "add", "b", "c"))
    assert [n.name for n in graph.nodes] == ["x", "c", "a", "b", "d"]
    assert graph.outputs == ("d",)


def _is_greedy_order(graph: Graph, specs) -> bool:
    """Each node is the earliest-declared of the nodes whose inputs all came before it."""
    declared = {spec.name: i for i, spec in enumerate(specs)}
    placed: set[str] = set()
    for node in graph.nodes:
        ready = [s.name for s in specs if s.name not in placed and set(s.inputs) <= placed]
        if node.name != min(ready, key=declared.get):
            return False
        placed.add(node.name)
    return True


@given(dag_specs())
def test_random_dags_build_in_an_order_that_respects_edges(specs) -> None:
    graph = Graph.build(name="g", batch=2, specs=specs)
    position = {node.name: i for i, node in enumerate(graph.nodes)}
    assert sorted(position) == sorted(spec.name for spec in specs)
    for node in graph.nodes:
        assert all(position[p] < position[node.name] for p in node.inputs)
        assert node.in_shapes == tuple(graph.node(p).out_shape for p in node.inputs)
        for p in node.inputs:
            assert node.name in graph.consumers(p)
    assert _is_greedy_order(graph, specs)
    assert Graph.build(name="g", batch=2, specs=specs) == graph
    assert Graph.build(name="g", batch=2, specs=[n.spec() for n in graph.nodes]) == graph
    assert graph.outputs == tuple(n.name for n in graph.nodes if not graph.consumers(n.name))


def test_lookup_consumers_inputs_and_totals() -> None:
    graph = _build(X, S("c", "conv", "x", out_channels=4, kernel=3, padding=1), S("r", "relu", "c"),
                   S("a", "add", "r", "r"), S("m", "mul", "x", "x"), batch=3)
    assert graph.consumers("x") == ("c", "m") and graph.consumers("r") == ("a",)
    assert [n.name for n in graph.inputs] == ["x"] and graph.outputs == ("a", "m")
    conv = graph.node("c")
    assert isinstance(conv.layer, Conv2d) and conv.macs == 4 * 16 * 16 * 8 * 9 and conv.params == 4 * 8 * 9 + 4
    assert graph.macs == conv.macs and graph.macs_total == 3 * conv.macs and graph.params == conv.params
    assert graph.elementwise_ops == 2 * 4 * 16 * 16 + 8 * 16 * 16  # relu, add; mul
    with pytest.raises(BadArgument, match="no node named 'cc'; known: .*did you mean 'c'"):
        graph.node("cc")


@pytest.mark.parametrize(("a", "b", "out"), [
    ((8, 16, 16), (8, 1, 1), (8, 16, 16)), ((1, 16, 16), (8, 1, 1), (8, 16, 16)),
    ((8, 1, 16), (1, 16, 1), (8, 16, 16)), ((4, 2, 2), (4, 2, 2), (4, 2, 2)),
])
def test_add_and_mul_broadcast(a, b, out) -> None:
    graph = _build(S("a", "input", shape=a), S("b", "input", shape=b), S("s", "add", "a", "b"),
                   S("p", "mul", "b", "a"))
    assert graph.node("s").out_shape == graph.node("p").out_shape == out
    assert graph.node("s").elementwise_ops == out[0] * out[1] * out[2]


def test_relabelling_ops_shapes_and_zero_cost() -> None:
    graph = _build(X, S("f", "flatten", "x"), S("r", "reshape", "f", shape=(32, 8, 8)),
                   S("t", "transpose", "r", perm=(2, 0, 1)), S("s", "slice", "t", start=2, stop=5),
                   S("cat", "concat", "s", "t", "t"), S("g", "global_pool", "cat", kind="max"),
                   S("l", "linear", "cat", out_features=3, bias=False), S("sm", "softmax", "l"))
    shapes = {n.name: n.out_shape for n in graph.nodes}
    assert shapes == {"x": (8, 16, 16), "f": (2048, 1, 1), "r": (32, 8, 8), "t": (8, 32, 8), "s": (3, 32, 8),
                      "cat": (19, 32, 8), "g": (19, 1, 1), "l": (3, 1, 1), "sm": (3, 1, 1)}
    for name in ("f", "r", "t", "s", "cat"):
        node = graph.node(name)
        assert (node.macs, node.params, node.elementwise_ops, node.layer) == (0, 0, 0, None)
    assert graph.node("l").macs == 19 * 32 * 8 * 3 and graph.node("g").layer is None
    assert graph.node("g").elementwise_ops == 19 * 32 * 8


@pytest.mark.parametrize(("axis", "start", "stop", "step", "size"), [(0, 1, 8, 2, 4), (1, 0, 16, 2, 8),
                                                                   (2, 3, 16, 5, 3), (2, 3, 4, 7, 1)])
def test_a_strided_slice_keeps_every_step_th(axis, start, stop, step, size) -> None:
    """Swin's patch merging takes every other row and column: ``slice`` with ``step``."""
    graph = _build(X, S("s", "slice", "x", start=start, stop=stop, axis=axis, step=step))
    wanted = [8, 16, 16]
    wanted[axis] = size
    assert graph.node("s").out_shape == tuple(wanted)
    x = np.arange(8 * 16 * 16, dtype=np.float64).reshape(1, 8, 16, 16)
    index = [slice(None)] * 4
    index[axis + 1] = slice(start, stop, step)
    np.testing.assert_array_equal(evaluate_ref(graph, {"x": x}, {})["s"], x[tuple(index)])


def test_a_pad_grows_the_map_and_copies_it_in() -> None:
    graph = _build(X, S("p", "pad", "x", pads=[0, 2, 1, 3]))
    assert graph.node("p").out_shape == (8, 18, 20) and graph.node("p").params == 0
    x = np.ones((1, 8, 16, 16))
    out = evaluate_ref(graph, {"x": x}, {})["p"]
    assert out[:, :, :16, 1:17].sum() == x.sum() and out.sum() == x.sum()


def test_attrs_are_frozen_hashable_and_filled_with_defaults() -> None:
    node = _build(X, S("c", "conv", "x", out_channels=4, kernel=[3][0])).node("c")
    assert dict(node.attrs) == {"out_channels": 4, "kernel": 3, "stride": 1, "padding": 0, "groups": 1,
                                "bias": True}
    assert node.attrs.get("dilation") is None and list(node.attrs) == sorted(node.attrs)
    assert Attrs({"shape": [1, 2, 3]}) == Attrs({"shape": (1, 2, 3)}) == {"shape": (1, 2, 3)}
    assert hash(Attrs({"a": 1, "b": 2})) == hash(Attrs({"b": 2, "a": 1}))
    with pytest.raises(TypeError):
        node.attrs["kernel"] = 5


# --- the op table -------------------------------------------------------------------------------

def test_every_op_has_one_opdef() -> None:
    assert set(OPS) == set(Op)
    for op, opdef in OPS.items():
        assert opdef.op is op and opdef.min_inputs <= (opdef.max_inputs or opdef.min_inputs)
        assert all(isinstance(k, str) for k in opdef.attrs)
    assert {op for op, d in OPS.items() if d.min_inputs == 0} == {Op.INPUT, Op.CONSTANT}
    assert set(LAYER_OPS.values()) == {Op.CONV, Op.DEPTHWISE, Op.POINTWISE, Op.LINEAR, Op.POOL, Op.GLOBAL_POOL,
                                       Op.DSC, Op.ODE}
    assert OPS[Op.CONV].attrs["kernel"] is REQUIRED and OPS[Op.CONV].attrs["stride"] == 1


def test_tanh_is_defined_like_sigmoid_and_a_network_file_names_it(tmp_path) -> None:
    """tanh has sigmoid's op-table entry (one input, no attributes, same shape, one vector-unit
    operation per output element, no layer) and a ``file:`` network's ``op: tanh`` builds it."""
    tanh, sigmoid = OPS[Op.TANH], OPS[Op.SIGMOID]
    assert Op.TANH.value == "tanh"
    assert ((tanh.min_inputs, tanh.max_inputs, dict(tanh.attrs), tanh.infer, tanh.elementwise, tanh.layer_type)
            == (sigmoid.min_inputs, sigmoid.max_inputs, dict(sigmoid.attrs), sigmoid.infer, sigmoid.elementwise,
                sigmoid.layer_type))
    node = _build(X, S("t", "tanh", "x"), batch=2).node("t")
    assert (node.out_shape, node.macs, node.params, node.elementwise_ops) == ((8, 16, 16), 0, 0, 8 * 16 * 16)
    path = tmp_path / "head.yaml"
    path.write_text("schema: 1\nnetwork:\n  nodes:\n    - {name: x, op: input, shape: [16, 1, 1]}\n"
                    "    - {name: fc1, op: linear, inputs: [x], out_features: 12}\n"
                    "    - {name: act, op: tanh, inputs: [fc1]}\n"
                    "    - {name: fc2, op: linear, inputs: [act], out_features: 5}\n", encoding="utf-8")
    graph = load_network_file(path)
    assert [n.op for n in graph.nodes] == [Op.INPUT, Op.LINEAR, Op.TANH, Op.LINEAR]
    assert graph.node("act").elementwise_ops == 12


def test_l2norm_keeps_the_shape_counts_two_passes_and_a_network_file_names_it(tmp_path) -> None:
    """l2norm (Swin V2's cosine attention normalising Q and K per head): one input, ``groups`` = 1
    and ``eps`` = 1e-12 by default, output shaped as the input, no layer or parameters, two
    vector-unit operations per element (sum of squares, scaling); ``op: l2norm`` in a ``file:``
    network builds it and evaluates as F.normalize per run of channels."""
    assert Op.L2NORM.value == "l2norm" and dict(OPS[Op.L2NORM].attrs) == {"groups": 1, "eps": 1e-12}
    graph = _build(X, S("n", "l2norm", "x"), S("h", "l2norm", "x", groups=4, eps=1e-6), batch=2)
    for name in ("n", "h"):
        node = graph.node(name)
        assert (node.out_shape, node.macs, node.params, node.elementwise_ops, node.layer) == (
            (8, 16, 16), 0, 0, 2 * 8 * 16 * 16, None)
    assert dict(graph.node("h").attrs) == {"groups": 4, "eps": 1e-6}
    path = tmp_path / "qk.yaml"
    path.write_text("schema: 1\nnetwork:\n  nodes:\n    - {name: x, op: input, shape: [8, 2, 3]}\n"
                    "    - {name: q, op: pointwise, inputs: [x], out_channels: 6, bias: false}\n"
                    "    - {name: qn, op: l2norm, inputs: [q], groups: 2, eps: 1.0e-12}\n", encoding="utf-8")
    graph = load_network_file(path)
    assert [n.op for n in graph.nodes] == [Op.INPUT, Op.POINTWISE, Op.L2NORM]
    assert graph.node("qn").elementwise_ops == 2 * 6 * 2 * 3
    q = np.random.default_rng(0).normal(size=(1, 6, 2, 3))
    out = evaluate_ref(_build(S("q", "input", shape=(6, 2, 3)), S("qn", "l2norm", "q", groups=2)), {"q": q}, {})["qn"]
    heads = q.reshape(1, 2, 3, 2, 3)
    np.testing.assert_allclose(out, (heads / np.linalg.norm(heads, axis=2, keepdims=True)).reshape(q.shape),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize(("attrs", "wanted", "key"), [
    ({"groups": 3}, "node 'n': input 'x' (8, 16, 16): channels not divisible by groups=3", "attrs.groups"),
    ({"groups": 0}, "node 'n': groups=0: expected an integer >= 1", "attrs.groups"),
    ({"groups": 2.0}, "node 'n': groups=2.0: expected an integer >= 1", "attrs.groups"),
    ({"eps": 0}, "node 'n': eps=0: expected a finite number > 0", "attrs.eps"),
    ({"eps": float("inf")}, "node 'n': eps=inf: expected a finite number > 0", "attrs.eps"),
    ({"eps": True}, "node 'n': eps=True: expected a finite number > 0", "attrs.eps"),
    ({"eps": "1e-12"}, "node 'n': eps='1e-12': expected a finite number > 0 (YAML reads 1e-12 as text: write "
                       "1.0e-12)", "attrs.eps"),
    ({"p": 1}, "node 'n' (l2norm): unknown attribute 'p'; known: eps, groups", "attrs.p"),
])
def test_l2norm_attribute_errors_name_the_node_and_key(attrs, wanted, key) -> None:
    err = _error(X, S("n", "l2norm", "x", **attrs))
    assert str(err) == wanted and (err.node_index, err.key) == (1, key)


# --- from_network and expand --------------------------------------------------------------------

def _zoo(name: str) -> Network:
    return zoo_network(name, **({"shapes": "merged"} if name == "alexnet_conv" else {}))


@pytest.mark.parametrize("name", sorted(set(ZOO) - GRAPH_NAMES))
def test_from_network_keeps_every_layer_and_count(name) -> None:
    network = _zoo(name)
    graph = Graph.from_network(network)
    assert (graph.name, graph.batch) == (network.name, network.batch)
    window_ops = sum(n.elementwise_ops for n in graph.nodes if n.op in (Op.POOL, Op.GLOBAL_POOL))
    assert graph.macs + window_ops == network.macs
    assert graph.params == network.params
    for layer in network.layers:
        node = graph.node(layer.name)
        assert node.op is LAYER_OPS[type(layer)] and node.out_shape == tuple(layer.out_shape)
        assert node.macs + (node.elementwise_ops if node.op in (Op.POOL, Op.GLOBAL_POOL) else 0) == layer.macs
        if node.op is not Op.DSC:
            assert node.layer == layer
    if network.chained:
        assert [n.name for n in graph.inputs] == ["input"] and graph.outputs == (network.layers[-1].name,)
    else:
        assert [n.name for n in graph.inputs] == [f"{layer.name}.input" for layer in network.layers]


def test_from_network_rejects_other_things() -> None:
    with pytest.raises(BadArgument, match="expected an fpgasim.nn.Network"):
        Graph.from_network("alexnet")


@pytest.mark.parametrize("name", ["odenet", "dsodenet-ode", "dsodenet-all", "rodenet-2"])
def test_expand_splits_dsc_blocks_keeps_ode_blocks_and_every_total(name) -> None:
    graph = Graph.from_network(zoo_network(name))
    expanded = graph.expand()
    assert (expanded.macs, expanded.params, expanded.elementwise_ops) == \
        (graph.macs, graph.params, graph.elementwise_ops)
    assert Op.DSC not in {n.op for n in expanded.nodes}
    assert [n.name for n in expanded.nodes if n.op is Op.ODE] == [n.name for n in graph.nodes if n.op is Op.ODE]
    for node in graph.nodes:
        if node.op is Op.DSC:
            dw, pw = expanded.node(f"{node.name}.depthwise"), expanded.node(f"{node.name}.pointwise")
            assert (dw.layer, pw.layer) == (node.layer.depthwise, node.layer.pointwise)
            assert pw.inputs == (dw.name,) and pw.out_shape == node.out_shape
            assert all(pw.name in expanded.node(reader).inputs for reader in graph.consumers(node.name))
    assert expanded.expand() == expanded
    assert (len(expanded.nodes) > len(graph.nodes)) == (name == "dsodenet-all")


def test_dsc_node_builds_its_block_and_expands_in_place() -> None:
    graph = _build(X, S("d", "dsc", "x", out_channels=4, kernel=3, stride=2, padding=1), S("r", "relu", "d"))
    block = graph.node("d").layer
    assert (block.depthwise.name, block.pointwise.name, block.out_shape) == ("d.depthwise", "d.pointwise", (4, 8, 8))
    expanded = graph.expand()
    assert [n.name for n in expanded.nodes] == ["x", "d.depthwise", "d.pointwise", "r"]
    assert expanded.node("r").inputs == ("d.pointwise",) and expanded.outputs == ("r",)


def test_ode_node_checks_its_input_shape() -> None:
    ode = next(layer for layer in zoo_network("odenet").layers if type(layer).__name__ == "OdeBlock")
    err = _error(X, S("o", "ode", "x", layers=ode.layers, steps=2))
    assert "node 'o': input 'x' (8, 16, 16) but f expects (64, 32, 32)" in str(err)
    pool = Pool(name="p", kind=PoolKind.MAX, channels=8, in_h=16, in_w=16, kernel=2, stride=2)
    assert Graph.from_network(Network(name="n", input_shape=(8, 16, 16), layers=(pool,), batch=1)).node("p").layer == pool


@pytest.mark.parametrize("scale", [0, -0.5, float("inf"), float("nan"), True])
def test_scores_scale_must_be_finite_and_positive(scale) -> None:
    """An infinite scale would turn every score into ±inf (NaN where Q·Kᵀ is 0) downstream."""
    err = _error(X, S("k", "constant", shape=(8, 3, 1)), S("s", "scores", "x", "k", heads=2, scale=scale))
    assert f"node 's': scale={scale!r}: expected a finite number > 0" in str(err)


# --- windowed attention -------------------------------------------------------------------------

Q = S("q", "input", shape=(8, 4, 6))  # E = 8 (2 heads of 4) on a 4×6 map


@pytest.mark.parametrize("dilated", [False, True])
def test_windowed_scores_and_attend_infer_one_windows_keys(dilated) -> None:
    """window=[2, 3] (a list, as YAML gives it) becomes (2, 3): each of the 4 windows per sample
    has L = 6 keys, so scores has heads·L = 12 channels and E·L MACs per position; attend reads
    those 12 channels and has L MACs per output. The layer's conv is one window, run 4 times per sample."""
    graph = _build(Q, S("s", "scores", "q", "q", heads=2, scale=0.5, window=[2, 3], dilated=dilated),
                   S("p", "softmax", "s", groups=2), S("a", "attend", "p", "q", heads=2, window=[2, 3], dilated=dilated),
                   batch=2)
    scores, attend = graph.node("s"), graph.node("a")
    assert scores.attrs["window"] == (2, 3) and scores.attrs["dilated"] is dilated
    assert scores.out_shape == (12, 4, 6) and attend.out_shape == (8, 4, 6)
    assert scores.macs == 8 * 6 * 4 * 6 and attend.macs == 8 * 6 * 4 * 6
    layer = scores.layer
    assert (layer.window_h, layer.window_w, layer.windows) == (2, 3, 4)
    conv = layer.as_conv()
    assert (conv.in_h, conv.in_w, conv.in_channels, conv.out_channels, conv.groups) == (2, 3, 8, 12, 2)
    assert layer.macs == layer.windows * conv.macs and layer.weight_elems == layer.windows * conv.weight_elems
    assert layer.weight_elems == 8 * 4 * 6  # every key, once
    assert (layer.ifm_elems, layer.ofm_elems, layer.out_h, layer.out_w) == (8 * 24, 12 * 24, 4, 6)
    assert scores.params == attend.params == 0
    assert graph.macs == scores.macs + attend.macs


def test_an_unwindowed_head_matmul_is_one_window_of_the_whole_map() -> None:
    """Defaults: window None, dilated False; the layer's window is the map (one window) and its
    conv the whole map's, with the counts of before (E·L MACs per query, L = all Hk·Wk keys)."""
    graph = _build(Q, S("k", "constant", shape=(8, 3, 1)), S("s", "scores", "q", "k", heads=2))
    node = graph.node("s")
    assert node.attrs["window"] is None and node.attrs["dilated"] is False
    assert (node.layer.window_h, node.layer.window_w, node.layer.windows) == (4, 6, 1)
    assert node.layer.as_conv().in_h == 4 and node.out_shape == (6, 4, 6) and node.macs == 8 * 3 * 24


@pytest.mark.parametrize(("spec", "wanted", "key"), [
    (S("s", "scores", "q", "q", heads=2, window=(3, 2)),
     "node 's' (scores): window=(3, 2): the 4×6 map of 'q' does not divide into 3×2 windows", "attrs.window"),
    (S("s", "scores", "q", "q", heads=2, window=(2, 0)),
     "window=(2, 0): expected None or (height, width), two integers >= 1", "attrs.window"),
    (S("s", "scores", "q", "q", heads=2, window=2),
     "window=2: expected None or (height, width), two integers >= 1", "attrs.window"),
    (S("s", "scores", "q", "q", heads=2, window=(2, 3), dilated="yes"),
     "dilated='yes': expected True or False", "attrs.dilated"),
    (S("s", "scores", "q", "q", heads=2, dilated=True),
     "dilated=True with window=None: expected a window", "attrs.dilated"),
    (S("s", "scores", "q", "k", heads=2, window=(2, 3)),
     "node 's': 'q' is 4×6 and 'k' 2×6: windowed attention (window=(2, 3)) expects both on the same map",
     "attrs.window"),
    (S("s", "attend", "q", "q", heads=2, window=(2, 3)),
     "node 's': probabilities 'q' (8, 4, 6) and values 'q' (8, 4, 6): expected heads·positions of a 2×3 window "
     "= 12 channels", "inputs"),
])
def test_window_attributes_are_checked_naming_the_key(spec, wanted, key) -> None:
    err = _error(Q, S("k", "input", shape=(8, 2, 6)), spec)
    assert wanted in str(err) and err.key == key and err.node_index == 2


def test_windowed_attention_in_a_network_file_round_trips(tmp_path) -> None:
    """A network YAML writes ``window: [2, 3]`` and ``dilated: true`` as lists and bools; loading
    it gives the graph built in Python node for node; a bad window is located at its key."""
    import yaml

    from fpgasim.errors import ConfigError
    from fpgasim.nn.sources import load_network_file

    specs = [Q, S("s", "scores", "q", "q", heads=2, scale=0.5, window=(2, 3), dilated=True),
             S("p", "softmax", "s", groups=2), S("a", "attend", "p", "q", heads=2, window=(2, 3), dilated=True)]
    built = _build(*specs, batch=2)
    nodes = [{"name": n.name, "op": str(n.op), **({"inputs": list(n.inputs)} if n.inputs else {}),
              **{k: list(v) if isinstance(v, tuple) else v for k, v in n.attrs.items()}} for n in built.nodes]
    path = tmp_path / "win.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "g", "batch": 2, "nodes": nodes}}), "utf-8")
    assert "window:\n    - 2\n    - 3" in path.read_text("utf-8")
    loaded = load_network_file(path)
    assert [n.spec() for n in loaded.nodes] == [n.spec() for n in built.nodes]
    assert [n.layer for n in loaded.nodes] == [n.layer for n in built.nodes]
    nodes[1]["window"] = [2, 4]
    path.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "g", "batch": 2, "nodes": nodes}}), "utf-8")
    with pytest.raises(ConfigError, match=r"win\.yaml:.*network\.nodes\[1\]\.window.*does not divide into 2×4 windows"):
        load_network_file(path)
