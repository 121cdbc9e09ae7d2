"""Mapping layer: the closed-form analytical latency model, tiling and partition search, and the
planners (mapping.layer_plan for layer lists, mapping.graph_plan for graphs on platforms)."""

from fpgasim.mapping.latency import BOTTLENECK_ORDER, LayerLatency, latency_arrays, layer_latency
from fpgasim.mapping.plan import LayerPlan, NetworkPlan, network_shapes, plan_network
from fpgasim.mapping.search import (
    TilingChoice, partition_candidates, partition_preference, search_partition, search_tiling, tile_candidates,
)
from fpgasim.mapping.spec import (
    Bottleneck, ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, Tiling, conv_shape,
    rate_from_bandwidth,
)

__all__ = [
    "BOTTLENECK_ORDER", "LayerLatency", "latency_arrays", "layer_latency",
    "LayerPlan", "NetworkPlan", "network_shapes", "plan_network",
    "TilingChoice", "partition_candidates", "partition_preference", "search_partition", "search_tiling",
    "tile_candidates",
    "Bottleneck", "ConvShape", "ModelVariant", "Partition", "ResourceBounds", "StreamRates", "Tiling",
    "conv_shape", "rate_from_bandwidth",
]
