"""Split points, blocks and the transfer layer on the graph IR."""

import numpy as np
import pytest

from fpgasim.errors import BadArgument
from fpgasim.nn import Graph, NodeSpec, zoo_graph
from fpgasim.nn.evaluate import evaluate_ref, synthetic_weights
from fpgasim.nn.split import (
    ByteAccounting, SplitRule, blocks, check_split, split_points, tensor_bytes, tl_applies, with_transfer_layer,
)


def S(name, op, *inputs, **attrs):  # noqa: N802 - terse spec builder
    return NodeSpec(name=name, op=op, inputs=inputs, attrs=attrs)


def _residual() -> Graph:
    return Graph.build(name="res", batch=1, specs=[
        S("x", "input", shape=(4, 8, 8)), S("c1", "conv", "x", out_channels=4, kernel=3, padding=1),
        S("c2", "conv", "c1", out_channels=4, kernel=3, padding=1), S("add", "add", "c2", "c1"),
        S("p", "pool", "add", kind="max", kernel=2, stride=2), S("g", "global_pool", "p", kind="avg"),
        S("fc", "linear", "g", out_features=3)])


def test_a_fork_opens_a_branch_under_the_released_rule_but_not_under_the_tensor_rule() -> None:
    graph = _residual()
    assert split_points(graph) == ("x", "add", "p", "g", "fc")        # c1 forks: not a split point
    assert split_points(graph, SplitRule.TENSOR) == ("x", "c1", "add", "p", "g", "fc")
    assert [b.nodes for b in blocks(graph)] == [("x",), ("c1", "c2", "add"), ("p",), ("g",), ("fc",)]


def test_densenet169_has_22_blocks_aligned_with_the_keras_tool() -> None:
    """The released tool finds 22 blocks in Keras DenseNet-169 (seed-papers.md §c); fpgasim's graph
    (batch norms kept) has 22 too, each dense block plus the pool before it in one block."""
    graph = zoo_graph("densenet169", batch_norm=True)
    found = blocks(graph)
    assert len(found) == 22
    sizes = [len(b.nodes) for b in found]
    assert sizes == [1, 1, 1, 1, 43, 1, 1, 1, 85, 1, 1, 1, 225, 1, 1, 1, 225, 1, 1, 1, 1, 1]
    assert found[4].first == "features.pool0" and found[4].last == "features.denseblock1.denselayer6.concat"
    # one-tensor rule: also every other concatenation (82 dense layers, 4 already split points) and
    # the 4 pools that feed a dense block (each is the only tensor crossing, read twice)
    assert len(blocks(graph, SplitRule.TENSOR)) == 22 + (6 + 12 + 32 + 32 - 4) + 4


def test_npy_bytes_equal_the_released_file_sizes() -> None:
    # ScissionTL data: conv1/conv (64x112x112) 3,211,392 B; avg_pool (1664) 6,784 B; TL of 3x230x230 158,828 B
    assert tensor_bytes((64, 112, 112), 1, ByteAccounting.NPY) == 3_211_392
    assert tensor_bytes((1664, 1, 1), 1, ByteAccounting.NPY) == 6_784
    assert tensor_bytes((3, 115, 115), 1, ByteAccounting.NPY) == 158_828
    assert tensor_bytes((64, 112, 112), 2) == 2 * 4 * 64 * 112 * 112


def test_check_split_names_the_problem() -> None:
    graph = _residual()
    check_split(graph, "add")
    with pytest.raises(BadArgument, match=r"split node 'c11': no such node in graph 'res' \(7 nodes\); did you mean 'c1'"):
        check_split(graph, "c11")
    with pytest.raises(BadArgument, match=r"split node 'c2' is inside a branch.*leaves c1 open"):
        check_split(graph, "c2")


def test_transfer_layer_nodes_and_values() -> None:
    graph = _residual()
    tl = with_transfer_layer(graph, "add")
    assert [n.name for n in tl.nodes][3:7] == ["add", "add.tl_down", "add.tl_up", "p"]
    assert tl.node("add.tl_down").out_shape == (4, 4, 4) and tl.node("add.tl_up").out_shape == (4, 8, 8)
    weights = synthetic_weights(graph, seed=1)
    x = {"x": np.random.default_rng(0).normal(size=(1, 4, 8, 8))}
    ref, with_tl = evaluate_ref(graph, x, weights), evaluate_ref(tl, x, weights)
    # the edge sees each 2x2 window replaced by its maximum: never below the original values ...
    assert np.all(with_tl["add.tl_up"] >= ref["add"]) and not np.allclose(with_tl["add.tl_up"], ref["add"])
    # ... and a 2x2/2 max pool right after the split makes the TL lossless: pool(up(pool(a))) = pool(a)
    assert np.array_equal(with_tl["p"], ref["p"]) and np.allclose(with_tl["fc"], ref["fc"], rtol=0, atol=1e-12)
    early = evaluate_ref(with_transfer_layer(graph, "x"), x, weights)
    assert not np.allclose(early["fc"], ref["fc"])


@pytest.mark.parametrize(("node", "fragment"), [
    ("g", r"output \(4, 1, 1\) is not \(C, H, W\) with H, W > 1"),
    ("fc", "is the output"),
    ("c1", "inside a branch"),
])
def test_transfer_layer_where_it_does_not_apply(node, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment):
        with_transfer_layer(_residual(), node)
    assert not tl_applies((4, 1, 1)) and tl_applies((4, 2, 2))
