"""The zoo's graphs against their published MAC and parameter figures.

Sources:
- torchvision model cards (https://pytorch.org/vision/stable/models.html, "Table of all available
  classification weights": ``num_params`` exact, ``GFLOPS`` = giga-MACs of conv and fc layers rounded
  to 0.01): ResNet-18 11,689,512 / 1.81; ResNet-50 25,557,032 / 4.09; MobileNet V2 3,504,872 / 0.30;
  DenseNet-121 7,978,856 / 2.83; DenseNet-169 14,149,480 / 3.36; SqueezeNet 1.1 1,235,496 / 0.35;
  AlexNet 61,100,840 / 0.71; VGG16 138,357,544 / 15.47; EfficientNet-B0 5,288,548 / 0.39;
  ConvNeXt-T 28,589,128 / 4.46; ViT-B/16 86,567,656 / 17.56 (its GFLOPS count attention's two
  matmuls, Q·Kᵀ and P·V, as well).
- MobileNet v1: Howard et al. 2017, "MobileNets", Table 4 (1.0 MobileNet-224): 569 million
  mult-adds, 4.2 million parameters.
- LeNet-5: LeCun et al. 1998, "Gradient-based learning applied to document recognition", Sec. II.B:
  60,000 trainable parameters (with the partial C3 table; the zoo's full C3 has 1,516 more).
- VGG-S: Chatfield et al. 2014, "Return of the devil in the details", Table 1 (the architecture; the
  paper gives no totals, so the counts are derived from the table here by hand).
- CifarNet: TensorFlow-slim ``nets/cifarnet.py`` (layer sizes; totals derived by hand).
"""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.nn import Graph, Op, zoo_graph, zoo_network

TORCHVISION = {  # name: (num_params, GFLOPS as printed on the model card)
    "resnet18": (11_689_512, 1.81), "resnet50": (25_557_032, 4.09), "mobilenet_v2": (3_504_872, 0.30),
    "densenet121": (7_978_856, 2.83), "densenet169": (14_149_480, 3.36), "squeezenet1_1": (1_235_496, 0.35),
    "alexnet_fc": (61_100_840, 0.71), "vgg16_fc": (138_357_544, 15.47), "squeezenet1_0": (1_248_424, 0.82),
    "efficientnet_b0": (5_288_548, 0.39),
}
WITH_BATCH_NORM = {"resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "densenet121", "densenet169",
                   "efficientnet_b0"}


def _graph(name: str) -> Graph:
    return zoo_graph(name, batch_norm=True) if name in WITH_BATCH_NORM else zoo_graph(name)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_params_exactly_and_gflops_to_the_printed_digits(name: str) -> None:
    params, gflops = TORCHVISION[name]
    graph = _graph(name)
    assert graph.params == params
    assert round(graph.macs / 1e9, 2) == gflops
    assert graph.node(graph.outputs[0]).out_shape == (1000, 1, 1) and graph.inputs[0].out_shape == (3, 224, 224)


def test_convnext_tiny_is_torchvisions_with_the_layer_scales_folded() -> None:
    """torchvision's card (28,589,128 params, 4.46 GFLOPS) less the 96·3 + 192·3 + 384·9 + 768·3 = 6,624
    layer-scale factors, folded into each block's second 1×1 conv (as the ONNX importer folds them)."""
    graph = zoo_graph("convnext_tiny")
    assert graph.params == 28_589_128 - 6_624
    assert round(graph.macs / 1e9, 2) == 4.46
    ops = [node.op for node in graph.nodes]
    assert ops.count(Op.LAYERNORM) == 1 + 3 + 18 + 1 and ops.count(Op.GELU) == 18 and ops.count(Op.DEPTHWISE) == 18
    assert graph.node("features.7.2.block.0").out_shape == (768, 7, 7)
    assert graph.node(graph.outputs[0]).out_shape == (1000, 1, 1)


def test_vit_b_16_is_torchvisions_with_attentions_matmuls_counted() -> None:
    """torchvision's card: 86,567,656 params, 17.56 GFLOPS. Per op, derived from the architecture
    (T = 197 tokens of D = 768, 12 layers, MLP 3072) and equal to the import of torchvision's ONNX
    export (opset 17) op for op: per layer q, k, v 3·D²·T, out projection D²·T and MLP 2·D·3072·T
    (all ``pointwise``), Q·Kᵀ and P·V T²·D each; the 16×16/16 patch conv 768·3·16²·196 and the head
    D·1000. Parameters: the patch conv, the class token (D) and position embedding (T·D), per layer
    two layer norms (2·2D), q, k, v (3D² + 3D), out projection (D² + D) and MLP (2·D·3072 + 3072 + D),
    the final layer norm and the head."""
    tokens, d, mlp, layers = 197, 768, 3072, 12
    graph = zoo_graph("vit_b_16")
    per_op: dict[Op, int] = {}
    for node in graph.nodes:
        if node.macs:
            per_op[node.op] = per_op.get(node.op, 0) + node.macs
    assert per_op == {
        Op.CONV: d * 3 * 16 * 16 * (tokens - 1),
        Op.POINTWISE: layers * (3 * d * d * tokens + d * d * tokens + 2 * d * mlp * tokens),
        Op.SCORES: layers * tokens * tokens * d,
        Op.ATTEND: layers * tokens * tokens * d,
        Op.LINEAR: d * 1000,
    }
    assert graph.macs == sum(per_op.values()) == 17_563_828_224 and round(graph.macs / 1e9, 2) == 17.56
    per_layer = 2 * 2 * d + 3 * d * d + 3 * d + d * d + d + 2 * d * mlp + mlp + d
    assert graph.params == (d * 3 * 16 * 16 + d) + d + tokens * d + layers * per_layer + 2 * d + d * 1000 + 1000
    assert graph.params == 86_567_656
    ops = [node.op for node in graph.nodes]
    assert len(ops) == 190 and ops.count(Op.LAYERNORM) == 2 * layers + 1 and ops.count(Op.GELU) == layers
    assert ops.count(Op.CONSTANT) == 2 and ops.count(Op.SLICE) == 3 * layers + 1
    layer = "encoder.layers.encoder_layer_11.self_attention"
    assert graph.node(f"{layer}.scores").attrs["heads"] == graph.node(f"{layer}.attend").attrs["heads"] == 12
    assert graph.node(f"{layer}.softmax").attrs["groups"] == 12
    assert graph.node(f"{layer}.scores").out_shape == (12 * tokens, tokens, 1)  # one channel per head and key
    assert graph.node("encoder.pos_embedding.add").out_shape == (d, tokens, 1)
    assert graph.node("class_token.concat").inputs == ("class_token", "conv_proj.tokens")
    assert graph.node(graph.outputs[0]).out_shape == (1000, 1, 1)


def test_mobilenet_v1_matches_the_paper() -> None:
    graph = _graph("mobilenet_v1")
    assert round(graph.macs / 1e6) == 569 and round(graph.params / 1e5) == 42


def test_lenet5_is_the_paper_network_with_a_full_c3() -> None:
    graph = zoo_graph("lenet5")
    assert graph.params == 60_190 + 1_516  # the paper's 60k (C3 partial: 1,516 weights fewer)
    assert graph.macs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert [n.out_shape for n in graph.nodes if n.op is Op.CONV] == [(6, 28, 28), (16, 10, 10)]


def test_vgg_s_and_cifarnet_counts_derived_from_their_layer_tables() -> None:
    vgg_s = zoo_graph("vgg_s")
    assert [n.out_shape for n in vgg_s.nodes if n.op is Op.POOL] == [(96, 36, 36), (256, 17, 17), (512, 6, 6)]
    assert vgg_s.params == (7 * 7 * 3 * 96 + 96 + 5 * 5 * 96 * 256 + 256 + 3 * 3 * 256 * 512 + 512
                            + 2 * (3 * 3 * 512 * 512 + 512) + 18432 * 4096 + 4096 + 4096 * 4096 + 4096
                            + 4096 * 1000 + 1000)
    cifarnet = zoo_graph("cifarnet")
    assert cifarnet.params == 4_864 + 102_464 + 1_573_248 + 73_920 + 1_930
    assert cifarnet.macs == 64 * 32 * 32 * 75 + 64 * 16 * 16 * 1600 + 4096 * 384 + 384 * 192 + 1920


@pytest.mark.parametrize("name", sorted(WITH_BATCH_NORM))
def test_folding_the_batch_norms_keeps_macs_and_drops_one_parameter_per_folded_channel(name: str) -> None:
    explicit, folded = zoo_graph(name, batch_norm=True), zoo_graph(name, batch_norm=False)
    after_conv = [n for n in explicit.nodes if n.op is Op.AFFINE
                  and explicit.node(n.inputs[0]).op in (Op.CONV, Op.DEPTHWISE)]
    assert folded.macs == explicit.macs
    assert explicit.params - folded.params == sum(n.out_shape[0] for n in after_conv)
    assert sum(n.op is Op.AFFINE for n in folded.nodes) == sum(n.op is Op.AFFINE for n in explicit.nodes) - len(after_conv)


def test_residual_and_dense_connections() -> None:
    resnet = zoo_graph("resnet18")
    assert resnet.node("layer2.0.add").inputs == ("layer2.0.conv2", "layer2.0.downsample")
    assert resnet.node("layer1.0.add").inputs == ("layer1.0.conv2", "maxpool")
    densenet = zoo_graph("densenet169", batch=2, batch_norm=True)
    assert densenet.batch == 2 and densenet.node("features.norm5").out_shape == (1664, 7, 7)
    last = densenet.node("features.denseblock4.denselayer32.concat")
    assert last.inputs == ("features.denseblock4.denselayer31.concat", "features.denseblock4.denselayer32.conv2")
    assert len(densenet.nodes) == 1 + 4 + 82 * 7 + 3 * 4 + 2 + 3  # stem, 82 dense layers, 3 transitions, head


def test_graphs_are_refused_where_a_layer_chain_is_needed() -> None:
    with pytest.raises(BadArgument, match="network 'resnet18' is a graph"):
        zoo_network("resnet18")
    with pytest.raises(BadArgument, match="network 'squeezenet1_1'.*batch_norm"):
        zoo_graph("squeezenet1_1", batch_norm=True)
    assert zoo_graph("tiny_cnn").macs == Graph.from_network(zoo_network("tiny_cnn")).macs
