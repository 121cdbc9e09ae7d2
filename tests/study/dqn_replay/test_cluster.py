"""The cluster model: one sampling round trip by hand, FIFO ports, placements that differ by a hop."""

import pytest

from fpgasim.hw import load_link_types
from fpgasim.study.dqn_replay.cluster import RunSetup, run_cluster
from fpgasim.study.dqn_replay.config import Sampling, load_study
from fpgasim.study.dqn_replay.network import FifoPort
from fpgasim.study.dqn_replay.runner import fpga_server

LINKS = load_link_types()


@pytest.fixture(scope="module")
def loaded(shipped_data, tmp_path_factory):
    import yaml
    path = tmp_path_factory.mktemp("c") / "replay.yaml"
    shipped_data = dict(shipped_data)
    path.write_text(yaml.safe_dump(shipped_data), encoding="utf-8")
    return load_study(path)


def _sample_ns(loaded, placement: str) -> list[float]:
    study = loaded.study
    setup = RunSetup(placement=study.placement(placement), sampling=Sampling.UNIFORM, actors=1, experience_bytes=None,
                     learner_steps=3, seed=0)
    return [t / 1000 for t in run_cluster(study, setup, loaded.links, fpga_server(loaded)).sample_ps]


def test_an_unloaded_uniform_sample_round_trip_by_hand(loaded):
    """DPDK, separate server, 32 CartPole experiences of 41 B (link numbers from boards/links.yaml)."""
    # request, 16 B = one 84 B frame (16.8 ns at 40 Gb/s): sender NIC/2 + stack/2 = 500 + 1000; wire 16.8;
    # switch: 16.8 (frame in) + 10 (2 m x 5 ns/m) + 500 (switch) before the egress port starts; 16.8 wire;
    # 10 propagation; receiver NIC/2 500
    request = 1500 + 16.8 + 10 + 500 + 16.8 + 10 + 500
    # server core: stack/2 in + 1000 request + 32 x 41 B at 10 GB/s (131.2) + stack/2 out
    core = 1000 + 1000 + 131.2 + 1000
    # reply: 32 x (41 + 8) = 1568 B = 1472 + 96 -> frames of 1538 and 162 wire bytes = 340 ns, the first 307.6 ns;
    # NIC/2 out; switch as above with the first frame; wire; propagation; NIC/2 + stack/2 in
    reply = 500 + 307.6 + 10 + 500 + 340 + 10 + 500 + 1000
    assert _sample_ns(loaded, "dpdk") == pytest.approx([request + core + reply] * 3, abs=1e-3)


def test_the_on_path_server_saves_one_switch_traversal_each_way(loaded):
    separate, on_path = _sample_ns(loaded, "dpdk"), _sample_ns(loaded, "in_network")
    saved = (16.8 + 10 + 500) + (307.6 + 10 + 500)  # request's and reply's first frame + cable + switch
    assert [a - b for a, b in zip(separate, on_path)] == pytest.approx([saved] * 3, abs=1e-3)


def test_kernel_sockets_cost_the_stack_difference_on_all_four_ends(loaded):
    kernel, dpdk = _sample_ns(loaded, "kernel"), _sample_ns(loaded, "dpdk")
    assert [a - b for a, b in zip(kernel, dpdk)] == pytest.approx([2 * (10_000 - 2000)] * 3, abs=1e-3)


def test_fifo_port_serves_claims_in_order():
    port = FifoPort()
    assert [port.claim(0, 10), port.claim(3, 5), port.claim(40, 1)] == [0, 10, 40]
    assert port.busy_ps == 16 and port.free_ps == 41


def test_more_actors_contend_at_the_kernel_server(loaded):
    study = loaded.study
    means = []
    for actors in (1, 16):
        setup = RunSetup(placement=study.placement("kernel"), sampling=Sampling.UNIFORM, actors=actors,
                         experience_bytes=56456, learner_steps=4, seed=0)
        metrics = run_cluster(study, setup, loaded.links, fpga_server(loaded))
        means.append(sum(metrics.insert_ps) / len(metrics.insert_ps))
    assert means[1] > 2 * means[0]
