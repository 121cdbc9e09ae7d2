"""Placement of LCP split graphs and of the model-parallel baseline on a cluster, and its refusals."""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.hw import ComputeDevice, Platform, load_compute_devices, load_link_types
from fpgasim.hw.platform import Cable
from fpgasim.mapping.graph_plan import PlacementError, plan_graph
from fpgasim.mapping.lcp_place import branch_count, branch_placement
from fpgasim.nn import zoo_graph
from fpgasim.nn.lcp_split import lcp_split, model_parallel
from fpgasim.sim.executor import execute


def _cluster(n: int, cables: bool = True) -> Platform:
    spec = load_compute_devices()["rpi3b_plus_a53"]
    wifi = load_link_types()["wifi_lcp"]
    devices = tuple(ComputeDevice(id=f"d{i}", spec=spec, spec_id="rpi3b_plus_a53") for i in range(n))
    links = tuple(Cable(index=i - 1, a="d0", b=f"d{i}", link_id="wifi_lcp", link=wifi) for i in range(1, n)) \
        if cables else ()
    return Platform(devices=devices, cables=links)


def test_branches_one_per_device_input_and_classifier_on_the_gather_device():
    graph = lcp_split(zoo_graph("cifarnet"), branches=4)
    where = branch_placement(graph, _cluster(4), ["d0", "d1", "d2", "d3"], gather="d0")
    assert branch_count(graph) == 4
    assert where["input"] == where["gather"] == where["logits"] == "d0"
    assert {where[f"b{b}/conv1"] for b in range(4)} == {"d0", "d1", "d2", "d3"}
    assert where["b3/fc4"] == "d3"


def test_branch_parallel_sends_only_the_input_and_the_pre_final_activations():
    graph = lcp_split(zoo_graph("cifarnet"), branches=4)
    platform = _cluster(4)
    where = branch_placement(graph, platform, ["d0", "d1", "d2", "d3"], gather="d0")
    emulation = execute(plan_graph(graph, platform, {}, where, word_bits=32), trace=False)
    sent = sorted((t.tensor, t.destination, t.nbytes) for t in emulation.transfers)
    image, features = 3 * 32 * 32 * 4, 48 * 4
    assert sent == [("b1/fc4.relu", "d0", features), ("b2/fc4.relu", "d0", features), ("b3/fc4.relu", "d0", features),
                    ("input", "d1", image), ("input", "d2", image), ("input", "d3", image)]


def test_model_parallel_sends_every_intermediate_activation():
    base = zoo_graph("cifarnet")
    graph = model_parallel(base, parts=2)
    platform = _cluster(2)
    emulation = execute(plan_graph(graph, platform, {}, branch_placement(graph, platform, ["d0", "d1"], gather="d0"),
                                   word_bits=32), trace=False)
    tensors = {t.tensor for t in emulation.transfers}
    # every layer's part crosses to the other device before the next MAC layer
    assert {"input", "p0/pool1", "p1/pool1", "p0/flatten", "p1/flatten", "p0/fc3.relu", "p1/fc4.relu", "p1/logits"} <= tensors


@pytest.mark.parametrize(("devices", "gather", "match"), [
    (["d0", "d1"], "d0", "has 4 branches but the cluster lists 2 device"),
    (["d0", "d1", "d1", "d2"], "d0", "listed twice"),
    (["d0", "d1", "d2", "d9"], "d0", "device 'd9' is not in the platform"),
    (["d0", "d1", "d2", "d3"], "dX", "device 'dX' is not in the platform"),
])
def test_bad_clusters_are_refused(devices, gather, match):
    graph = lcp_split(zoo_graph("cifarnet"), branches=4)
    with pytest.raises(PlacementError, match=match):
        branch_placement(graph, _cluster(4), devices, gather=gather)


def test_devices_that_cannot_reach_the_gather_device_are_refused_by_the_platform():
    with pytest.raises(BadArgument, match="not all connected|not connected|cut"):
        _cluster(3, cables=False)
