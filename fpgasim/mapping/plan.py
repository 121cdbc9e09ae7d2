"""Network-level analytical plan: per-layer partition + tiling + latency, summed.

Owns :func:`plan_network`. Layers run one after another, each with its own tiling and
partition, so the network latency is the sum of the layer latencies (superlip-model.md §2.2;
inter-layer redistribution is not modelled, §6.2). Only conv-like layers (Conv2d, Depthwise,
Pointwise, also inside DscBlock/OdeBlock) are modelled; an OdeBlock's layers count once per
function evaluation; other layers (pooling, linear) are listed in ``skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.mapping.latency import parse_variant
from fpgasim.mapping.search import TilingChoice, search_partition, search_tiling
from fpgasim.mapping.spec import ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, conv_shape
from fpgasim.nn import Conv2d, Depthwise, Network, OdeBlock, Pointwise

__all__ = ["LayerPlan", "NetworkPlan", "plan_network", "network_shapes"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerPlan:
    """One modelled layer: its name, shape, repeat count and chosen partition/tiling/latency."""

    name: str
    shape: ConvShape
    repeats: int
    choice: TilingChoice

    @property
    def cycles(self) -> float:
        """Cycles of this layer including repeats (ODE function evaluations)."""
        return self.repeats * self.choice.latency.cycles


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPlan:
    """Per-layer plans and the network latency (sum over layers, in cycles)."""

    layers: tuple[LayerPlan, ...]
    skipped: tuple[str, ...]
    variant: ModelVariant
    boards: int

    @property
    def cycles(self) -> float:
        """Network latency in cycles: the sum of the layer latencies."""
        return sum(layer.cycles for layer in self.layers)

    def time_ms(self, clock_mhz: float) -> float:
        """Network latency in milliseconds at ``clock_mhz``."""
        return self.cycles / (clock_mhz * 1e3)


def network_shapes(network: Network) -> tuple[tuple[tuple[str, ConvShape, int], ...], tuple[str, ...]]:
    """The modelled layers of ``network`` as (name, shape, repeats), and the skipped layer names."""
    modelled, skipped = [], []

    def visit(layer, repeats: int) -> None:
        if isinstance(layer, (Conv2d, Depthwise, Pointwise)):
            modelled.append((layer.name, conv_shape(layer, batch=network.batch), repeats))
        elif isinstance(layer, OdeBlock):
            for sub in layer.layers:
                visit(sub, repeats * layer.evals)
        elif hasattr(layer, "layers"):
            for sub in layer.layers:
                visit(sub, repeats)
        else:
            skipped.append(layer.name)

    for layer in network.layers:
        visit(layer, 1)
    return tuple(modelled), tuple(skipped)


def plan_network(network: Network, *, bounds: ResourceBounds, rates: StreamRates,
                 variant: ModelVariant | str = ModelVariant.COMPLETE, boards: int = 1,
                 partition: Partition | None = None, candidates: tuple[Partition, ...] | None = None,
                 fixed_tm: int | None = None, fixed_tn: int | None = None,
                 exhaustive: bool = False) -> NetworkPlan:
    """Choose a partition and tiling per layer and sum the latencies.

    Args:
        network: an ``fpgasim.nn`` :class:`Network`.
        bounds, rates, variant: as for :func:`~fpgasim.mapping.search.search_tiling`.
        boards: number of boards (1 = single board).
        partition: use this partition for every layer (product must equal ``boards``);
            otherwise the partition is searched per layer among ``candidates`` (default: all).
        fixed_tm, fixed_tn: a uniform ⟨Tm,Tn⟩ engine for all layers (Tr/Tc per layer).
        exhaustive: brute-force tilings instead of the (equivalent) dominant ones.

    Returns:
        :class:`NetworkPlan`.

    Raises:
        BadArgument: bad arguments, a partition that does not match ``boards`` or a layer.
        DoesNotFit: a layer has no fitting tiling.
    """
    variant = parse_variant(variant)
    if not isinstance(network, Network):
        raise BadArgument(f"plan_network: network={network!r}: expected an fpgasim.nn.Network")
    if isinstance(boards, bool) or not isinstance(boards, int) or boards < 1:
        raise BadArgument(f"plan_network: boards={boards!r}: expected an integer >= 1")
    options = {"fixed_tm": fixed_tm, "fixed_tn": fixed_tn, "exhaustive": exhaustive}
    modelled, skipped = network_shapes(network)
    plans = []
    for name, shape, repeats in modelled:
        if partition is not None or boards == 1:
            part = Partition() if partition is None else partition
            part.check(shape, boards=boards)
            choice = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part, **options)
        else:
            choice = search_partition(shape, boards=boards, bounds=bounds, rates=rates, variant=variant,
                                      candidates=candidates, **options)
        plans.append(LayerPlan(name=name, shape=shape, repeats=repeats, choice=choice))
    return NetworkPlan(layers=tuple(plans), skipped=skipped, variant=variant, boards=boards)
