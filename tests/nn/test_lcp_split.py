"""LCP's splitter on the graph IR against the published parameter and MAC counts (LCP, CSCE 2023,
Tables II and III; seed-papers.md §d), and its structure and refusals.

Where the paper's base model is the zoo's (ResNet-18, VGG16) the split counts are compared
directly. Where its base model differs from the zoo's (AlexNet 50.3M vs torchvision's 61.1M,
CifarNet 798k vs TF-slim's 1.76M, ResNet-50 22.8M/4.87G vs torchvision's 25.6M/4.09G) the ratio
split/base is compared instead; the remaining gaps are written in docs/lcp.md.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.nn import Graph, NodeSpec, Op, zoo_graph
from fpgasim.nn.lcp_split import (
    GATHER, branch_of, fit_branches, lcp_split, model_parallel, split_counts, split_label,
)


def _rel(ours: float, paper: float) -> float:
    return abs(ours - paper) / paper


@pytest.mark.parametrize(("branches", "params", "macs"), [(2, 6.11e6, 0.98e9), (4, 3.32e6, 0.55e9),
                                                          (8, 1.93e6, 0.34e9)])
def test_resnet18_splits_match_table_ii(branches, params, macs):
    # LCP Table II, ResNet-18-split2/4/8 on ImageNet: within 3.5 % (MACs of split8: 0.330G vs 0.34G).
    counts = split_counts(lcp_split(zoo_graph("resnet18"), branches=branches))
    assert _rel(counts.params, params) < 0.035
    assert _rel(counts.macs, macs) < 0.035


@pytest.mark.parametrize(("fatten", "macs"), [(0, 2.01e9), (40, 3.87e9)])
def test_vgg16_split8_macs_match_table_iii(fatten, macs):
    # LCP Table III: VGG16-split8 2.01G MACs, -split8-f40 3.87G (ours 2.013G and 3.871G).
    assert _rel(lcp_split(zoo_graph("vgg16_fc"), branches=8, fatten_pct=fatten).macs, macs) < 0.01


def test_vgg16_split8_params_disagree_with_table_iii_by_the_fc_layers():
    # Table III gives VGG16-split8 7.64M parameters (the same number as its VGG-S-split8 row); the
    # split keeps 8 branches of fc6 (512·7·7 → 512) = 12.8M alone, so 20.9M. The f40 row (33.78M)
    # is within 15 % of ours (38.8M).
    split8 = lcp_split(zoo_graph("vgg16_fc"), branches=8)
    fc6 = sum(node.params for node in split8.nodes if node.name.endswith("/fc1"))
    assert fc6 > 7.64e6
    assert _rel(lcp_split(zoo_graph("vgg16_fc"), branches=8, fatten_pct=40).params, 33.78e6) < 0.15


@pytest.mark.parametrize(("model", "config", "paper_ratio", "tolerance"), [
    ("alexnet_fc", (8, 0), 145.37 / 678.97, 0.02),      # Table III AlexNet-split8 MACs / AlexNet
    ("alexnet_fc", (8, 40), 244 / 678.97, 0.02),        # Table III AlexNet-split8-f40
])
def test_mac_reduction_matches_tables(model, config, paper_ratio, tolerance):
    base = zoo_graph(model)
    split = lcp_split(base, branches=config[0], fatten_pct=config[1])
    assert abs(split.macs / base.macs - paper_ratio) / paper_ratio < tolerance


def test_resnet50_split8_f40_macs_match_table_iii_not_its_base():
    # Table III: ResNet-split8-f40 1.18G MACs (ours 1.131G, 4 %); its base 4.87G is not torchvision's
    # 4.09G, and its split8 0.88G is 43 % above ours (0.616G): docs/lcp.md.
    assert _rel(lcp_split(zoo_graph("resnet50"), branches=8, fatten_pct=40).macs, 1.18e9) < 0.05
    assert _rel(lcp_split(zoo_graph("resnet50"), branches=8).macs, 0.88e9) > 0.25


@pytest.mark.parametrize(("branches", "params"), [(2, 31.5e3), (4, 16.1e3), (8, 8.8e3)])
def test_lenet_splits_match_table_ii(branches, params):
    # Table II LeNet-split2/4/8 (MNIST): within 3.5 % (its MAC column equals its parameters, not compared)
    assert _rel(lcp_split(zoo_graph("lenet5"), branches=branches).params, params) < 0.035


@pytest.mark.parametrize(("branches", "paper_params"), [(2, 410.48e3), (4, 208.05e3), (8, 106.85e3)])
def test_cifarnet_parameter_reduction_matches_table_ii(branches, paper_params):
    # Table II CifarNet (CIFAR100, 815.34k): the split divides the parameters as the paper's does.
    base = zoo_graph("cifarnet")
    assert abs(lcp_split(base, branches=branches).params / base.params - paper_params / 815.34e3) < 0.01


def test_structure_broadcast_input_branches_gather_classifier():
    graph = lcp_split(zoo_graph("alexnet_fc"), branches=4, fatten_pct=40)
    assert graph.consumers("input") == tuple(f"b{b}/conv1" for b in range(4))
    gather = graph.node(GATHER)
    assert gather.op is Op.CONCAT and gather.inputs == tuple(f"b{b}/fc2.relu" for b in range(4))
    assert graph.consumers(GATHER) == ("fc3",) and graph.node("fc3").out_shape == (1000, 1, 1)
    # fattening: round(64 / 4 · 1.4) = 22 channels; the classifier is not fattened
    assert graph.node("b2/conv1").out_shape[0] == 22
    # no node of one branch reads another branch
    for node in graph.nodes:
        own = branch_of(node.name)
        assert all(branch_of(p) in (own, None) for p in node.inputs) or node.name == GATHER
    assert split_label(4, 40) == "split4-f40" and graph.name == "alexnet-split4-f40"


@settings(max_examples=15, deadline=None)
@given(branches=st.sampled_from([1, 2, 4, 8]), fatten=st.sampled_from([0, 10, 20, 40]))
def test_branches_are_identical_and_width_scales(branches, fatten):
    graph = lcp_split(zoo_graph("resnet18"), branches=branches, fatten_pct=fatten)
    counts = split_counts(graph)
    assert counts.params == branches * counts.branch_params + counts.final_params
    assert counts.macs == branches * counts.branch_macs + counts.final_macs
    width = graph.node("b0/conv1").out_shape[0]
    assert width == (64 * (100 + fatten) + 50 * branches) // (100 * branches)


def test_fit_branches_halves_until_a_branch_fits():
    graph = zoo_graph("vgg16_fc")
    per = {n: split_counts(lcp_split(graph, branches=n)) for n in (1, 2, 4, 8)}
    # a budget between split4's and split2's branch weights gives 4 branches
    budget = (per[4].branch_params + per[2].branch_params) * 2
    assert fit_branches(graph, memory_bytes=budget, macs=10**12, bytes_per_param=4) == 4
    assert fit_branches(graph, memory_bytes=10**12, macs=per[8].branch_macs, bytes_per_param=4) == 8
    assert fit_branches(graph, memory_bytes=10**12, macs=10**12, bytes_per_param=4) == 1
    with pytest.raises(BadArgument, match="no split up to 8 branches"):
        fit_branches(graph, memory_bytes=1, macs=10**12, bytes_per_param=4, max_branches=8)


def test_a_split_leaving_zero_channels_is_refused():
    with pytest.raises(BadArgument, match=r"split32 of 'lenet5': node 'c1' has out_channels=6; split 32 ways it "
                                          r"leaves each branch 0 channels; expected at most 12 branches"):
        lcp_split(zoo_graph("lenet5"), branches=32)


@pytest.mark.parametrize(("kwargs", "match"), [({"branches": 0}, "branches=0"),
                                               ({"branches": 2, "fatten_pct": 15}, "multiple of 10")])
def test_bad_split_arguments(kwargs, match):
    with pytest.raises(BadArgument, match=match):
        lcp_split(zoo_graph("cifarnet"), **kwargs)


def test_model_parallel_keeps_every_count_and_sends_every_activation():
    base = zoo_graph("vgg16_fc")
    graph = model_parallel(base, parts=4)
    assert (graph.params, graph.macs) == (base.params, base.macs)
    # part 2 of conv2_1 reads the whole pool1 output, assembled on part 2 from all four parts
    assert graph.node("p2/conv2_1").inputs == ("p2/pool1.all",)
    assert graph.node("p2/pool1.all").inputs == tuple(f"p{p}/pool1" for p in range(4))
    assert graph.node(GATHER).out_shape == (1000, 1, 1)
    with pytest.raises(BadArgument, match="at least 2 parts"):
        model_parallel(base, parts=1)


@pytest.mark.parametrize("op, attrs", [("softmax", {"groups": 2}), ("l2norm", {"groups": 2}), ("layernorm", {})])
def test_model_parallel_refuses_a_normalisation_over_the_channels(op, attrs):
    """A part holds a share of the channels, so a softmax, an L2 norm or a layer norm over them
    cannot run on it (each part would normalise its share alone)."""
    graph = Graph.build(name="g", batch=1, specs=[
        NodeSpec(name="x", op="input", attrs={"shape": (8, 2, 2)}),
        NodeSpec(name="pw", op="pointwise", inputs=("x",), attrs={"out_channels": 8}),
        NodeSpec(name="n", op=op, inputs=("pw",), attrs=attrs)])
    with pytest.raises(BadArgument, match=rf"^node 'n' \({op}\): the model-parallel baseline splits channel-wise "
                                          "layers only$"):
        model_parallel(graph, parts=2)
