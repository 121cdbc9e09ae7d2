"""Ordinary networks in the emulator: a shared medium (Wi-Fi) carries one transmitter at a time
across all its cables, a dedicated cable does not; a per-message software cost is paid once per
transfer and hop, before the first packet, and never blocks the wire."""

from __future__ import annotations

import dataclasses

import pytest
import simpy

from fpgasim.errors import BadArgument
from fpgasim.hw import load_link_types
from fpgasim.hw.compute import load_compute_devices
from fpgasim.hw.platform import Cable, ComputeDevice, Platform
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn import Graph, NodeSpec
from fpgasim.sim.cluster import Cluster, LinkSpec
from fpgasim.sim.executor import execute

RATE = 8_000_000          # 1 MB/s: one byte per microsecond
NBYTES = 4096
LATENCY_PS = 0           # per-packet latency is covered by tests/sim/test_link.py
MESSAGE_PS = 5_000_000


def _spec(medium: str | None) -> LinkSpec:
    return LinkSpec(effective_bits_per_s=RATE, fixed_latency_ps=LATENCY_PS, packet_bytes=256, fifo_bytes=1 << 20,
                    message_latency_ps=MESSAGE_PS, medium=medium)


def _two_transfers(medium: str | None) -> list[int]:
    """Devices 1 and 2 each send NBYTES to device 0 at time 0, over their own cable; arrival times."""
    env = simpy.Environment()
    cluster = Cluster.assemble(env, [None, None, None], [(0, 1, "c01", _spec(medium)), (0, 2, "c02", _spec(medium))],
                               trace=None)
    ends: list[int] = []

    def send(src: int):
        yield cluster.transfer(src, 0, f"from{src}", NBYTES)
        ends.append(env.now)

    env.process(send(1))
    env.process(send(2))
    env.run()
    return sorted(ends)


def test_two_simultaneous_transfers_on_a_shared_medium_serialise():
    wire_ps = NBYTES * 10**6          # NBYTES at one byte per microsecond
    packet_ps = 256 * 10**6
    dedicated = _two_transfers(None)
    assert dedicated == [MESSAGE_PS + wire_ps + LATENCY_PS] * 2
    shared = _two_transfers("air")
    # packet by packet round robin: the first finishes one packet before the second, both after 2x the wire time
    assert shared == [MESSAGE_PS + 2 * wire_ps - packet_ps + LATENCY_PS, MESSAGE_PS + 2 * wire_ps + LATENCY_PS]


def test_a_medium_counts_its_bytes_and_busy_time_once():
    env = simpy.Environment()
    cluster = Cluster.assemble(env, [None, None, None], [(0, 1, "c01", _spec("air")), (0, 2, "c02", _spec("air"))],
                               trace=None)
    env.process((lambda: (yield cluster.transfer(1, 0, "s", NBYTES)))())
    env.run()
    assert cluster.link_bytes() == NBYTES
    assert cluster.link_busy_ps() == {"air.medium": NBYTES * 10**6}


def test_cables_of_one_medium_must_agree_on_their_numbers():
    other = dataclasses.replace(_spec("air"), fixed_latency_ps=1)
    with pytest.raises(BadArgument, match=r"^cable c02 on shared medium 'air': its link numbers .* differ"):
        Cluster.assemble(simpy.Environment(), [None] * 3, [(0, 1, "c01", _spec("air")), (0, 2, "c02", other)],
                         trace=None)


def _wifi_star(shared: bool) -> Platform:
    """Three Raspberry Pis, rpi0 joined to rpi1 and rpi2 by the LCP Wi-Fi (or a dedicated copy of it)."""
    wifi = dataclasses.replace(load_link_types()["wifi_lcp"], shared_medium=shared)
    rpi = load_compute_devices()["rpi3b_plus_a53"]
    devices = tuple(ComputeDevice(id=f"rpi{k}", spec=rpi, spec_id="rpi3b_plus_a53") for k in range(3))
    cables = (Cable(index=0, a="rpi0", b="rpi1", link_id="wifi_lcp", link=wifi),
              Cable(index=1, a="rpi0", b="rpi2", link_id="wifi_lcp", link=wifi))
    return Platform(devices=devices, cables=cables)


def _broadcast(platform: Platform):
    """An input on rpi0 read by a node on rpi1 and one on rpi2 (LCP's input broadcast)."""
    specs = [NodeSpec(name="x", op="input", attrs={"shape": (3, 32, 32)}),
             NodeSpec(name="a", op="relu", inputs=("x",)), NodeSpec(name="b", op="relu", inputs=("x",))]
    graph = Graph.build(name="broadcast", batch=1, specs=specs)
    plan = plan_graph(graph, platform, {}, {"x": "rpi0", "a": "rpi1", "b": "rpi2"}, word_bits=32)
    return execute(plan, trace=False)


def test_the_executor_serialises_a_broadcast_over_shared_wifi():
    wifi = load_link_types()["wifi_lcp"]
    nbytes = 3 * 32 * 32 * 4
    wire_ps = nbytes * 8 * 10**12 / (wifi.effective_gbps * 1e9)
    dedicated = sorted(t.end_ps for t in _broadcast(_wifi_star(False)).transfers)
    shared = sorted(t.end_ps for t in _broadcast(_wifi_star(True)).transfers)
    message_ps = wifi.latency_ns.software * 1000
    byte_ps = 8 * 10**12 / (wifi.effective_gbps * 1e9)   # the wire starts packets on its byte edges
    assert dedicated[0] == dedicated[1] == pytest.approx(message_ps + wire_ps, abs=byte_ps)
    assert shared[1] == pytest.approx(message_ps + 2 * wire_ps, abs=byte_ps)
    assert shared[0] < shared[1]
