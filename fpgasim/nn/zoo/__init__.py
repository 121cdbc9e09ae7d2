"""The network zoo: one registry, :data:`ZOO`, used by every command (``fit --network``,
experiments' ``network.zoo``).

Every entry is a builder taking keyword arguments only (``batch``; ``shapes`` for the AlexNet
conv family; ``batch_norm`` for the networks with batch norms) and returning a layer chain
(:class:`~fpgasim.nn.Network`) or, for networks with branches and the full classifiers of
:mod:`~fpgasim.nn.zoo.imagenet` and :mod:`~fpgasim.nn.zoo.small`, a
:class:`~fpgasim.nn.Graph`. :func:`zoo_graph` gives any entry as a graph; :func:`zoo_network`
gives the layer chains (what ``fit`` and the board-list emulator take). Several names may share
a builder: the ``fit`` names (``alexnet``, ``vgg16``, …) and the experiment names
(``alexnet_conv``, ``vgg16_conv``) are both kept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial

from fpgasim.errors import BadArgument
from fpgasim.nn._checks import known_names
from fpgasim.nn.graph import Graph
from fpgasim.nn.network import Network
from fpgasim.nn.odenet import ODENET_VARIANTS, odenet_variant
from fpgasim.nn.zoo.alexnet_vgg import (
    PER_GROUP_TABLE, SUPERLIP_DSE_TABLE, AlexNetShapes, alexnet_conv, vgg16_conv,
)
from fpgasim.nn.zoo.imagenet import (
    alexnet, convnext_tiny, densenet121, densenet169, efficientnet_b0, mobilenet_v1, mobilenet_v2, resnet18, resnet50,
    squeezenet1_0, squeezenet1_1, vgg16, vgg_s, vit_b_16,
)
from fpgasim.nn.zoo.small import cifarnet, lenet5
from fpgasim.nn.zoo.tiny_cnn import tiny_cnn

__all__ = [
    "Builder", "ZOO", "GRAPH_NAMES", "zoo_network", "zoo_graph", "AlexNetShapes", "alexnet_conv", "vgg16_conv",
    "tiny_cnn", "PER_GROUP_TABLE", "SUPERLIP_DSE_TABLE",
]

#: A zoo entry: keyword arguments (``batch``, ``shapes``, …) → Network or Graph.
Builder = Callable[..., Network | Graph]

#: Every network a command may name (the layer chains first, then :data:`GRAPH_NAMES`).
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

#: The entries that build a :class:`~fpgasim.nn.Graph` (branches, full classifiers), not a chain.
_GRAPHS: dict[str, Builder] = {
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "efficientnet_b0": efficientnet_b0,
    "convnext_tiny": convnext_tiny,
    "vit_b_16": vit_b_16,
    "densenet121": densenet121,
    "densenet169": densenet169,
    "squeezenet1_0": squeezenet1_0,
    "squeezenet1_1": squeezenet1_1,
    "alexnet_fc": alexnet,
    "vgg16_fc": vgg16,
    "vgg_s": vgg_s,
    "lenet5": lenet5,
    "cifarnet": cifarnet,
}
ZOO.update(_GRAPHS)

#: Names of the zoo entries that are graphs (they run on the graph executor only).
GRAPH_NAMES = frozenset(_GRAPHS)


def _build(name: str, kwargs: dict[str, object]) -> Network | Graph:
    builder = ZOO.get(name)
    if builder is None:
        raise BadArgument(f"network {name!r} is not known; {known_names(name, ZOO)}")
    try:
        inspect.signature(builder).bind(**kwargs)
    except TypeError as exc:
        raise BadArgument(f"network {name!r}: {exc}") from None
    return builder(**kwargs)


def zoo_network(name: str, **kwargs: object) -> Network:
    """Build the zoo network called ``name`` (a layer chain) with the builder's keyword arguments.

    Raises:
        BadArgument: an unknown name (lists the known ones and the closest), an argument the
            builder does not take or a missing one, a bad value (from the builder), or a network
            that is a graph (see :func:`zoo_graph`).
    """
    if name in GRAPH_NAMES:
        raise BadArgument(f"network {name!r} is a graph (branches or a full classifier), not a layer chain: it "
                          "runs on the graph executor (experiments) and in `fpgasim network`")
    return _build(name, kwargs)


def zoo_graph(name: str, **kwargs: object) -> Graph:
    """Build the zoo entry called ``name`` as a graph (a layer chain via :meth:`Graph.from_network`).

    Raises:
        BadArgument: as :func:`zoo_network`, except that graphs are accepted.
    """
    built = _build(name, kwargs)
    return built if isinstance(built, Graph) else Graph.from_network(built)
