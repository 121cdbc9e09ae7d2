"""Network IR: typed layer specs, composite blocks, the Network container, the graph IR and the zoo."""

from fpgasim.nn.composite import DscBlock, OdeBlock, OdeSolver
from fpgasim.nn.graph import Attrs, Graph, GraphError, Node, NodeSpec
from fpgasim.nn.graph_ops import OPS, Op, OpDef
from fpgasim.nn.layers import Conv2d, Depthwise, GlobalAvgPool, Linear, Pointwise, Pool, PoolKind, Shape
from fpgasim.nn.network import LAYER_TYPES, Network
from fpgasim.nn.odenet import (
    ODENET_VARIANTS, DscScope, LayerRole, OdeNetSpec, ParamRow, core_params, layer_role, odenet, odenet_variant,
    param_reduction, param_rows,
)
from fpgasim.nn.zoo import (
    GRAPH_NAMES, PER_GROUP_TABLE, SUPERLIP_DSE_TABLE, ZOO, AlexNetShapes, Builder, alexnet_conv, tiny_cnn, vgg16_conv, zoo_graph,
    zoo_network,
)

__all__ = [
    "Shape", "Conv2d", "Depthwise", "Pointwise", "PoolKind", "Pool", "GlobalAvgPool", "Linear",
    "DscBlock", "OdeBlock", "OdeSolver", "Network", "LAYER_TYPES",
    "Graph", "GraphError", "Node", "NodeSpec", "Attrs", "Op", "OpDef", "OPS",
    "AlexNetShapes", "alexnet_conv", "vgg16_conv", "tiny_cnn", "PER_GROUP_TABLE", "SUPERLIP_DSE_TABLE",
    "ZOO", "GRAPH_NAMES", "Builder", "zoo_network", "zoo_graph",
    "DscScope", "LayerRole", "OdeNetSpec", "odenet", "ODENET_VARIANTS", "odenet_variant", "ParamRow",
    "param_rows", "core_params", "param_reduction", "layer_role",
]
