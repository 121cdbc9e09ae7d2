"""The network zoo: one registry, :data:`ZOO`, used by every command (``fit --network``,
experiments' ``network.zoo``).

Every entry is a builder taking keyword arguments only (``batch``, and ``shapes`` for the AlexNet
family) and returning a :class:`~fpgasim.nn.Network`. Several names may share a builder: the
``fit`` names (``alexnet``, ``vgg16``, …) and the experiment names (``alexnet_conv``,
``vgg16_conv``) are both kept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial

from fpgasim.errors import BadArgument
from fpgasim.nn._checks import known_names
from fpgasim.nn.network import Network
from fpgasim.nn.odenet import ODENET_VARIANTS, odenet_variant
from fpgasim.nn.zoo.alexnet_vgg import (
    PER_GROUP_TABLE, SUPERLIP_DSE_TABLE, AlexNetShapes, alexnet_conv, vgg16_conv,
)
from fpgasim.nn.zoo.tiny_cnn import tiny_cnn

__all__ = [
    "Builder", "ZOO", "zoo_network", "AlexNetShapes", "alexnet_conv", "vgg16_conv", "tiny_cnn",
    "PER_GROUP_TABLE", "SUPERLIP_DSE_TABLE",
]

#: A zoo entry: keyword arguments (``batch``, ``shapes``, …) → Network.
Builder = Callable[..., Network]

#: Every network a command may name.
ZOO: dict[str, Builder] = {
    "alexnet": partial(alexnet_conv, shapes="merged"),
    "alexnet-per-group": partial(alexnet_conv, shapes="per_group"),
    "alexnet-superlip-dse": partial(alexnet_conv, shapes="superlip_dse"),
    "alexnet_conv": alexnet_conv,
    "vgg16": vgg16_conv,
    "vgg16_conv": vgg16_conv,
    "tiny_cnn": tiny_cnn,
    # ODENet / dsODENet / rODENet variants (fpgasim.nn.odenet, docs/dsodenet.md).
    **{name: partial(odenet_variant, name) for name in ODENET_VARIANTS},
}


def zoo_network(name: str, **kwargs: object) -> Network:
    """Build the zoo network called ``name`` with the builder's keyword arguments.

    Raises:
        BadArgument: an unknown name (lists the known ones and the closest), an argument the
            builder does not take or a missing one, or a bad value (from the builder).
    """
    builder = ZOO.get(name)
    if builder is None:
        raise BadArgument(f"network {name!r} is not known; {known_names(name, ZOO)}")
    try:
        inspect.signature(builder).bind(**kwargs)
    except TypeError as exc:
        raise BadArgument(f"network {name!r}: {exc}") from None
    return builder(**kwargs)
