"""The planner's link model against the emulator's links: routes, lone flows, shared links, XFER sharing."""

from pathlib import Path

import pytest
import simpy
from hypothesis import given, settings, strategies as st

from fpgasim.hw import load_board, load_link_types
from fpgasim.hw.platform import Platform, topology_edges
from fpgasim.mapping import ConvShape, Partition
from fpgasim.mapping.device import cable_bits_per_s
from fpgasim.mapping.latency import xfer_shared
from fpgasim.mapping.link_model import LinkModel
from fpgasim.sim.clock import ps_from_ns
from fpgasim.sim.cluster import Cluster, LinkSpec

KERNEL = Path(__file__).resolve().parents[2] / "kernels" / "superlip-conv-64x7-fp32.yaml"
BOARD = load_board("zcu102")
LINKS = load_link_types()
CLOCK_MHZ = 100.0
CAP = 64 * 100_000_000  # a 64-bit weight stream at 100 MHz
TOPOLOGIES = [("pair", 2)] + [(kind, n) for kind in ("chain", "ring", "fully_connected") for n in range(2, 9)]


def _platform(topology: str, boards: int, link: str, length_m: float = 1.0) -> Platform:
    return Platform.homogeneous(boards=boards, board=BOARD, kernel_path=KERNEL, memory_channel="ps_ddr4",
                                topology=topology, link_id=link, link=LINKS[link], length_m=length_m)


def _model(platform: Platform) -> LinkModel:
    return LinkModel.from_platform(platform, clock_mhz=CLOCK_MHZ,
                                   caps_bits_per_s={device.id: CAP for device in platform.devices}, element_bytes=4)


def _emulate(platform: Platform, flows: list[tuple[int, int, int]]) -> float:
    """Cycles until the last of ``flows`` (source, destination, bytes), started together, has arrived."""
    env = simpy.Environment()
    cables = []
    for cable in platform.cables:
        spec = LinkSpec(effective_bits_per_s=cable_bits_per_s(cable.link, [CAP, CAP]),
                        fixed_latency_ps=ps_from_ns(cable.link.wire_latency_ns(cable.length_m)),
                        packet_bytes=cable.packet_bytes, fifo_bytes=cable.fifo_bytes,
                        message_latency_ps=ps_from_ns(cable.link.latency_ns.software))
        cables.append((platform.index(cable.a), platform.index(cable.b), f"link{cable.index}", spec))
    cluster = Cluster.assemble(env, [None] * len(platform.devices), cables, trace=None)
    arrived = []
    for number, (src, dst, size) in enumerate(flows):
        cluster.transfer(src, dst, f"flow{number}", size).callbacks.append(lambda _event: arrived.append(env.now))
    env.run()
    return max(arrived) * CLOCK_MHZ / 1e6


@pytest.mark.parametrize("topology,boards", TOPOLOGIES)
def test_routes_are_the_emulators(topology, boards):
    """Platform.route (the model's) and Cluster.route (the emulator's) pick the same links."""
    platform = _platform(topology, boards, "aurora64b66b_10g")
    env = simpy.Environment()
    spec = LinkSpec(effective_bits_per_s=10**9, fixed_latency_ps=0, packet_bytes=256, fifo_bytes=8192)
    cluster = Cluster.assemble(env, [None] * boards, [(a, b, f"l{a}-{b}", spec)
                                                     for a, b in topology_edges(topology, boards)], trace=None)
    names = {direction: key for key, direction in cluster.directions.items()}
    for src in range(boards):
        for dst in range(boards):
            if src != dst:
                emulated = [names[direction] for direction in cluster.route(src, dst)]
                modelled = [(platform.index(a), platform.index(b)) for _, a, b in
                            platform.route(f"board{src}", f"board{dst}")]
                assert emulated == modelled


@settings(max_examples=15, deadline=None)
@given(topology=st.sampled_from([t for t in TOPOLOGIES if t[1] >= 3]), link=st.sampled_from(
    ["aurora64b66b_10g", "eth10g_udp_hw"]), size=st.integers(1, 20_000), length_m=st.sampled_from([0.0, 1.0, 30.0]),
    data=st.data())
def test_a_lone_flow_is_timed_exactly(topology, link, size, length_m, data):
    """One transfer over any route: head, middle and tail packets forwarded cut-through hop by hop."""
    kind, boards = topology
    platform = _platform(kind, boards, link, length_m)
    src, dst = data.draw(st.lists(st.integers(0, boards - 1), min_size=2, max_size=2, unique=True))
    links = _model(platform)
    model = float(links.flows_cycles([(f"board{src}", f"board{dst}", size, 0.0)]))
    # the emulator ends each packet on the wire's next byte edge (at most one byte time, 0.125 cycles
    # here, per hop) and rounds each latency to whole ps
    hops = links.hops(f"board{src}", f"board{dst}")
    assert model == pytest.approx(_emulate(platform, [(src, dst, size)]), rel=2e-3, abs=0.15 * hops)


def _byte_cycles(link: str) -> float:
    """One byte's time on the wire of ``link``, cycles (the emulator starts packets on byte edges)."""
    return 8e9 / cable_bits_per_s(LINKS[link], [CAP, CAP]) * CLOCK_MHZ / 1e3


@settings(max_examples=15, deadline=None)
@given(topology=st.sampled_from([("pair", 2), ("chain", 3), ("chain", 4), ("ring", 3), ("ring", 4)]),
       size=st.integers(1, 20_000), data=st.data())
def test_a_lone_flow_pays_the_software_stack_once_per_hop(topology, size, data):
    """Switched 1 GbE with a 50 µs kernel-socket cost per message: the model pays it once per hop
    before the head packet, as the emulator does, not per packet."""
    kind, boards = topology
    platform = _platform(kind, boards, "eth1g_switch_kernel")
    src, dst = data.draw(st.lists(st.integers(0, boards - 1), min_size=2, max_size=2, unique=True))
    links = _model(platform)
    model = float(links.flows_cycles([(f"board{src}", f"board{dst}", size, 0.0)]))
    # each hop's head and tail start on the wire's next byte edge
    hops = links.hops(f"board{src}", f"board{dst}")
    assert model == pytest.approx(_emulate(platform, [(src, dst, size)]), rel=1e-4, abs=2 * _byte_cycles(
        "eth1g_switch_kernel") * hops)


@pytest.mark.parametrize("kind,boards,flows", [
    ("pair", 2, [(0, 1, 9000), (1, 0, 200)]),                       # opposite directions: independent
    ("chain", 3, [(0, 2, 3000), (1, 2, 3000)]),                     # two flows into one link direction
    ("chain", 4, [(0, 3, 5000), (1, 3, 1000), (2, 3, 7000)]),       # three converge on the last link
    ("ring", 3, [(a, b, 4000) for a in range(3) for b in range(3) if a != b]),   # all-to-all
    ("ring", 4, [(a, b, 2000 + 500 * a) for a in range(4) for b in range(4) if a != b]),
])
def test_concurrent_flows_with_a_software_stack(kind, boards, flows):
    """Small flow sets on switched 1 GbE (software cost per message, store-and-forward latency per
    packet) start together: the model agrees with the emulator within 2 %."""
    platform = _platform(kind, boards, "eth1g_switch_kernel")
    model = float(_model(platform).flows_cycles([(f"board{a}", f"board{b}", n, 0.0) for a, b, n in flows]))
    assert model == pytest.approx(_emulate(platform, flows), rel=0.02)


@pytest.mark.parametrize("kind,boards", [("chain", 5), ("ring", 8), ("ring", 6), ("fully_connected", 4)])
@pytest.mark.parametrize("link", ["aurora64b66b_10g", "eth10g_udp_hw"])
def test_all_to_all_on_shared_links(kind, boards, link):
    """Every board sends to every other at once (XFER's pattern): flows share link directions round
    robin; the model's fair share is within 6 % (measured: 0 … +5.6 %, most on rings, where flows
    that started early on a shared link finish before its whole load)."""
    platform = _platform(kind, boards, link)
    flows = [(a, b, 5000 + 37 * a + b) for a in range(boards) for b in range(boards) if a != b]
    model = float(_model(platform).flows_cycles([(f"board{a}", f"board{b}", n, 0.0) for a, b, n in flows]))
    assert model == pytest.approx(_emulate(platform, flows), rel=0.06)


def test_a_ring_loads_its_links_more_than_a_fully_connected_cluster():
    """XFER among 8 boards: a ring forwards most shares over several hops, so the same exchange takes
    longer and moves more bytes than on dedicated cables."""
    ring, full = (_model(_platform(kind, 8, "aurora64b66b_10g")) for kind in ("ring", "fully_connected"))
    part = Partition(pr=8)
    ring_x, full_x = ring.xfer(part), full.xfer(part)
    assert ring_x.hop_flows_weights > full_x.hop_flows_weights == 56
    assert float(ring_x.cycles(64 * 7 * 9, 0, 100.0, 0.0)) > float(full_x.cycles(64 * 7 * 9, 0, 100.0, 0.0))


def test_a_slower_link_and_a_longer_cable_cost_more():
    """Endpoint latency and propagation per metre are in the model."""
    flows = [("board0", "board1", 7000, 0.0)]
    aurora = float(_model(_platform("pair", 2, "aurora64b66b_10g")).flows_cycles(flows))
    eth = float(_model(_platform("pair", 2, "eth10g_udp_hw")).flows_cycles(flows))
    far = float(_model(_platform("pair", 2, "aurora64b66b_10g", 100.0)).flows_cycles(flows))
    # the packets pipeline: the last one's latency (99 m × 5 ns/m more) is all that shows
    assert eth > aurora and far == pytest.approx(aurora + 99 * 5 / 10, rel=1e-9)


def test_no_xfer_without_a_shared_operand():
    assert _model(_platform("pair", 2, "aurora64b66b_10g")).xfer(Partition()) is None


def test_uneven_parts_do_not_share():
    """55 columns over 4 boards: 14, 14, 14, 13 — even tile counts at Tc = 7 (2 each), uneven at
    Tc = 13 (2, 2, 2, 1), as the emulator decides."""
    shape = ConvShape(batch=1, out_channels=96, in_channels=3, out_h=55, out_w=55, kernel=11, stride=4)
    assert xfer_shared(shape, Partition(pc=4), 64, 13, 7) == (True, False)
    assert xfer_shared(shape, Partition(pc=4), 64, 13, 13) == (False, False)
    assert xfer_shared(shape, Partition(pm=4), 24, 13, 13) == (False, True)
    odd = ConvShape(batch=1, out_channels=90, in_channels=3, out_h=55, out_w=55, kernel=11, stride=4)
    assert xfer_shared(odd, Partition(pm=4), 23, 13, 13) == (False, True)  # 23, 23, 23, 21 channels: 1 tile each
    assert xfer_shared(odd, Partition(pm=4), 22, 13, 13) == (False, False)  # 2, 2, 2, 1 tiles


@settings(max_examples=25, deadline=None)
@given(topology=st.sampled_from([t for t in TOPOLOGIES if t[1] >= 3]), link=st.sampled_from(
    ["aurora64b66b_10g", "eth10g_udp_hw"]), w_tile=st.integers(1, 40_000), ifm_tile=st.integers(1, 40_000),
    reads=st.tuples(st.floats(0, 5000), st.floats(0, 5000)), data=st.data())
def test_the_search_bound_is_a_lower_bound(topology, link, w_tile, ifm_tile, reads, data):
    kind, boards = topology
    divisors = [d for d in range(1, boards + 1) if boards % d == 0]
    pm = data.draw(st.sampled_from(divisors))
    xfer = _model(_platform(kind, boards, link)).xfer(Partition(pr=boards // pm, pm=pm))
    bound = float(xfer.lower_bound(w_tile, ifm_tile, *reads))
    assert bound <= float(xfer.cycles(w_tile, ifm_tile, *reads)) + 1e-9
