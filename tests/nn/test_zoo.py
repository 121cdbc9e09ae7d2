"""Zoo networks: the documented shape sets, hand-checked counts."""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.nn import (
    ODENET_VARIANTS, PER_GROUP_TABLE, SUPERLIP_DSE_TABLE, ZOO, Conv2d, alexnet_conv, vgg16_conv, zoo_network,
)


def _convs(net):
    return [layer for layer in net.layers if isinstance(layer, Conv2d)]


def test_merged_alexnet_matches_the_paper_architecture() -> None:
    net = alexnet_conv(shapes="merged", batch=1)
    convs = _convs(net)
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert [c.out_h for c in convs] == [55, 27, 13, 13, 13]
    assert sum(c.params_weights for c in convs) == 34848 + 307200 + 884736 + 663552 + 442368
    # 2 · conv MACs ≈ 1.33 GFLOP, the figure Zhang FPGA'15 divides by 61.62 GFLOPS.
    assert sum(c.macs for c in convs) == 665_784_864


@pytest.mark.parametrize(("shapes", "table"), [("per_group", PER_GROUP_TABLE), ("superlip_dse", SUPERLIP_DSE_TABLE)])
def test_tables_give_exactly_their_mnrck_tuples(shapes, table) -> None:
    net = alexnet_conv(shapes=shapes, batch=1)
    assert not net.chained
    got = tuple((c.out_channels, c.in_channels, c.out_h, c.out_w, c.kernel) for c in _convs(net))
    assert got == table


def test_superlip_dse_tuples_are_merged_per_group_shapes() -> None:
    merged = _convs(alexnet_conv(shapes="merged"))
    per_group = tuple((c.out_channels // c.groups, c.in_channels // c.groups, c.out_h, c.out_w, c.kernel)
                      for c in merged)
    assert per_group == SUPERLIP_DSE_TABLE


def test_the_spec_tables_literally() -> None:
    assert SUPERLIP_DSE_TABLE == ((96, 3, 55, 55, 11), (128, 48, 27, 27, 5), (384, 256, 13, 13, 3),
                                  (192, 192, 13, 13, 3), (128, 192, 13, 13, 3))
    assert [row[0] for row in PER_GROUP_TABLE] == [48, 128, 192, 192, 128]


def test_vgg16_conv_counts() -> None:
    net = vgg16_conv(batch=1)
    assert len(net.layers) == 13 and net.params == 14_714_688  # the widely quoted conv-part size
    assert net.layers[-1].out_shape == (512, 14, 14)
    chained = vgg16_conv(batch=3, with_pools=True)
    assert chained.output_shape == (512, 7, 7) and chained.macs_total == 3 * chained.macs
    assert sum(c.macs for c in _convs(chained)) == net.macs


def test_bad_shape_set_lists_the_allowed_ones() -> None:
    with pytest.raises(BadArgument, match="shapes='paper': expected one of merged, per_group, superlip_dse"):
        alexnet_conv(shapes="paper")


# --- the one registry ---------------------------------------------------------------------------

def test_registry_keeps_every_name_of_fit_and_of_experiments() -> None:
    fit_names = {"alexnet", "alexnet-per-group", "alexnet-superlip-dse", "vgg16", *ODENET_VARIANTS}
    graphs = {"resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "densenet121", "densenet169", "squeezenet1_1",
              "squeezenet1_0", "alexnet_fc", "vgg16_fc", "vgg_s", "lenet5", "cifarnet",
              "efficientnet_b0", "convnext_tiny", "vit_b_16"}  # tests/nn/test_zoo_graphs.py
    assert fit_names | {"alexnet_conv", "vgg16_conv", "tiny_cnn"} | graphs == set(ZOO)


def test_aliases_build_the_same_network() -> None:
    assert zoo_network("alexnet", batch=2) == zoo_network("alexnet_conv", shapes="merged", batch=2)
    assert zoo_network("alexnet-superlip-dse") == alexnet_conv(shapes="superlip_dse")
    assert zoo_network("vgg16") == zoo_network("vgg16_conv") == vgg16_conv()
    assert zoo_network("dsodenet-ode", batch=4).batch == 4 and zoo_network("tiny_cnn", batch=3).batch == 3


def test_registry_errors_name_the_network_and_the_closest() -> None:
    with pytest.raises(BadArgument, match=r"network 'vgg61' is not known; known: alexnet, .*; did you mean 'vgg16'\?"):
        zoo_network("vgg61")
    with pytest.raises(BadArgument, match="network 'alexnet_conv': missing a required argument: 'shapes'"):
        zoo_network("alexnet_conv")
    with pytest.raises(BadArgument, match="network 'tiny_cnn': got an unexpected keyword argument 'shapes'"):
        zoo_network("tiny_cnn", shapes="merged")
    with pytest.raises(BadArgument, match="shapes='huge'"):
        zoo_network("alexnet", shapes="huge")
