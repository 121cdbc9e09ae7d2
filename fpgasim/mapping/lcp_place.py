"""Placements of LCP's split graphs and of the model-parallel baseline on a cluster of devices.

Owns :func:`branch_placement`: for LCP, the input broadcast from the gather device, branch ``b`` on
``devices[b]``, the gathered pre-final activations and the classifier on the gather device; for the
model-parallel baseline, part ``p`` of every layer on ``devices[p]`` (its names carry the part
the same way). It returns the node → device map :func:`~fpgasim.mapping.graph_plan.plan_graph` takes, after
checking the cluster: enough devices for the branches, each listed once, every device known. That
every device reaches the gather device is the platform's own rule (a :class:`Platform` whose
devices no cable path joins is refused when it is built).
"""

from __future__ import annotations

from collections.abc import Sequence

from fpgasim.hw.platform import Platform
from fpgasim.mapping.graph_plan import PlacementError
from fpgasim.nn.graph import Graph
from fpgasim.nn.lcp_split import branch_of

__all__ = ["branch_placement", "branch_count"]


def branch_count(graph: Graph) -> int:
    """Branches (or model-parallel parts) of a split graph: 1 + the highest index in its names."""
    indices = [branch_of(node.name) for node in graph.nodes]
    return 1 + max((i for i in indices if i is not None), default=0)


def _check(graph: Graph, platform: Platform, devices: Sequence[str], gather: str) -> int:
    branches = branch_count(graph)
    if len(devices) < branches:
        raise PlacementError(f"graph {graph.name!r} has {branches} branches but the cluster lists {len(devices)} "
                             f"device(s) ({', '.join(devices) or 'none'}); expected at least {branches}, one per branch")
    if len(set(devices)) != len(devices):
        raise PlacementError(f"devices {', '.join(devices)}: a device is listed twice; expected one branch per device")
    known = {device.id for device in platform.devices}
    for device in (*devices, gather):
        if device not in known:
            raise PlacementError(f"device {device!r} is not in the platform; its devices are {', '.join(sorted(known))}")
    return branches


def branch_placement(graph: Graph, platform: Platform, devices: Sequence[str], *, gather: str) -> dict[str, str]:
    """Node → device for a graph from :func:`~fpgasim.nn.lcp_split.lcp_split` or
    :func:`~fpgasim.nn.lcp_split.model_parallel`.

    Args:
        graph: the split graph (``b<i>/…`` branch nodes; shared input, gather and classifier).
        platform: the cluster.
        devices: device ids, ``devices[b]`` runs branch ``b`` (extra devices stay idle).
        gather: the device that holds the input, gathers the branches and runs the classifier.

    Raises:
        PlacementError: fewer devices than branches, a device listed twice, or an unknown device.
    """
    _check(graph, platform, devices, gather)
    return {node.name: gather if branch_of(node.name) is None else devices[branch_of(node.name)]
            for node in graph.nodes}

