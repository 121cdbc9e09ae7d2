"""AlexNet conv stacks (three documented shape sets) and VGG16 conv.

Shape sets of :func:`alexnet_conv` (see docs/analytical-model.md and
reference/superlip-model.md §1.6, §5.2):

- ``merged``: true AlexNet (Krizhevsky 2012, one-tower form): 227×227×3 input, conv1 96
  11×11/4, max-pool 3/2, conv2 256 5×5 pad 2 groups 2, max-pool 3/2, conv3 384 3×3 pad 1,
  conv4 384 groups 2, conv5 256 groups 2 (all pads 1). A chained network.
- ``per_group``: Zhang FPGA'15's per-group table, (M, N, K, R=C): (48,3,11,55),
  (128,48,5,27), (192,256,3,13), (192,192,3,13), (128,192,3,13). A layer table
  (``chained=False``): the rows do not chain.
- ``superlip_dse``: exactly the (M, N, R, C, K) tuples of the Super-LIP DSE script:
  (96,3,55,55,11), (128,48,27,27,5), (384,256,13,13,3), (192,192,13,13,3),
  (128,192,13,13,3), stride 1 as in the script. A layer table; these are also the per-group
  shapes of ``merged`` (one group of conv2/4/5), which is what the script evaluates.

In the two tables each layer is a dense Conv2d with stride 1 and "same" padding (K−1)/2, so
its input is R×C and its output R×C, matching the (R, C) the tables give.
"""

from __future__ import annotations

from enum import StrEnum

from fpgasim.nn._checks import parse_choice
from fpgasim.nn.layers import Conv2d, Pool, PoolKind
from fpgasim.nn.network import Network

__all__ = ["AlexNetShapes", "alexnet_conv", "vgg16_conv", "PER_GROUP_TABLE", "SUPERLIP_DSE_TABLE"]


class AlexNetShapes(StrEnum):
    """Which AlexNet conv shape set :func:`alexnet_conv` builds."""

    MERGED = "merged"
    PER_GROUP = "per_group"
    SUPERLIP_DSE = "superlip_dse"


#: Zhang FPGA'15 per-group table as (M, N, R, C, K) (superlip-model.md §1.6).
PER_GROUP_TABLE = ((48, 3, 55, 55, 11), (128, 48, 27, 27, 5), (192, 256, 13, 13, 3),
                   (192, 192, 13, 13, 3), (128, 192, 13, 13, 3))
#: Super-LIP DSE script layers as (M, N, R, C, K) (superlip-model.md §5.2).
SUPERLIP_DSE_TABLE = ((96, 3, 55, 55, 11), (128, 48, 27, 27, 5), (384, 256, 13, 13, 3),
                      (192, 192, 13, 13, 3), (128, 192, 13, 13, 3))


def _table(name: str, table: tuple, batch: int) -> Network:
    layers = tuple(
        Conv2d(name=f"conv{i + 1}", in_channels=n, out_channels=m, in_h=r, in_w=c, kernel=k,
               stride=1, padding=(k - 1) // 2)
        for i, (m, n, r, c, k) in enumerate(table)
    )
    return Network(name=name, input_shape=layers[0].in_shape, layers=layers, batch=batch, chained=False)


def _merged(batch: int) -> Network:
    def conv(name, cin, cout, hw, k, s=1, p=0, g=1):
        return Conv2d(name=name, in_channels=cin, out_channels=cout, in_h=hw, in_w=hw,
                      kernel=k, stride=s, padding=p, groups=g)

    def pool(name, ch, hw):
        return Pool(name=name, kind=PoolKind.MAX, channels=ch, in_h=hw, in_w=hw, kernel=3, stride=2)

    layers = (
        conv("conv1", 3, 96, 227, 11, s=4), pool("pool1", 96, 55),
        conv("conv2", 96, 256, 27, 5, p=2, g=2), pool("pool2", 256, 27),
        conv("conv3", 256, 384, 13, 3, p=1), conv("conv4", 384, 384, 13, 3, p=1, g=2),
        conv("conv5", 384, 256, 13, 3, p=1, g=2),
    )
    return Network(name="alexnet_conv_merged", input_shape=(3, 227, 227), layers=layers, batch=batch)


def alexnet_conv(*, shapes: AlexNetShapes | str, batch: int = 1) -> Network:
    """The AlexNet convolution stack in one of three documented shape sets.

    Args:
        shapes: ``merged``, ``per_group`` or ``superlip_dse`` (see the module docstring).
        batch: samples per inference; the Super-LIP DSE script and Zhang FPGA'15 use 1.

    Returns:
        The :class:`Network` (``chained=False`` for the two tables).

    Raises:
        BadArgument: an unknown shape set (lists the allowed ones) or batch < 1.
    """
    which = parse_choice("alexnet_conv", "shapes", AlexNetShapes, shapes)
    if which is AlexNetShapes.MERGED:
        return _merged(batch)
    if which is AlexNetShapes.PER_GROUP:
        return _table("alexnet_conv_per_group", PER_GROUP_TABLE, batch)
    return _table("alexnet_conv_superlip_dse", SUPERLIP_DSE_TABLE, batch)


#: VGG16 conv blocks: output channels per conv, a max-pool 2/2 after each block.
_VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg16_conv(*, batch: int = 1, with_pools: bool = False) -> Network:
    """VGG16's 13 convolution layers (3×3, stride 1, pad 1) on a 224×224×3 input.

    Args:
        batch: samples per inference (Simonyan & Zisserman evaluate single images: 1).
        with_pools: if True, insert the five 2×2/2 max-pools and make a chained network; if
            False (default), return the 13 conv layers only as a layer table.

    Returns:
        The :class:`Network`; conv layers are named ``conv1_1`` … ``conv5_3``.

    Raises:
        BadArgument: batch < 1.
    """
    layers: list = []
    channels, size = 3, 224
    for block, widths in enumerate(_VGG16_BLOCKS, start=1):
        for index, width in enumerate(widths, start=1):
            layers.append(Conv2d(name=f"conv{block}_{index}", in_channels=channels, out_channels=width,
                                 in_h=size, in_w=size, kernel=3, stride=1, padding=1))
            channels = width
        if with_pools:
            layers.append(Pool(name=f"pool{block}", kind=PoolKind.MAX, channels=channels,
                               in_h=size, in_w=size, kernel=2, stride=2))
        size //= 2
    return Network(name="vgg16_conv", input_shape=(3, 224, 224), layers=tuple(layers), batch=batch,
                   chained=with_pools)
