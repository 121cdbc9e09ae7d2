"""Cut-through forwarding in the cluster: a message's packets pipeline on the wire, the head
releases the next hop, the tail waits for the upstream to have everything; routes are the
platform's."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, strategies as st

from fpgasim.errors import BadArgument
from fpgasim.sim.cluster import Cluster, LinkSpec
from tests.strategies.platforms import connected_platforms

BYTE_PS = 1_000            # 8 Gb/s: one byte per nanosecond
PACKET = 256
LATENCY_PS = 1_000_000     # 1 µs per packet: far above a packet's 256 ns on the wire
MESSAGE_PS = 3_000_000


def _chain(boards: int, message_ps: int = 0, slow_first: int = 1) -> Cluster:
    """A chain whose first cable is ``slow_first`` times slower than the others."""
    def spec(k: int) -> LinkSpec:
        return LinkSpec(effective_bits_per_s=8 * 10**12 // (BYTE_PS * (slow_first if k == 0 else 1)),
                        fixed_latency_ps=LATENCY_PS, packet_bytes=PACKET, fifo_bytes=1 << 20,
                        message_latency_ps=message_ps)
    return Cluster.assemble(simpy.Environment(), [None] * boards,
                            [(k, k + 1, f"l{k}", spec(k)) for k in range(boards - 1)], trace=None)


def _arrival(cluster: Cluster, src: int, dst: int, nbytes: int) -> int:
    arrived = []
    cluster.transfer(src, dst, "s", nbytes).callbacks.append(lambda _event: arrived.append(cluster.env.now))
    cluster.env.run()
    return arrived[0]


def test_one_hop_pays_the_latency_once_and_keeps_the_wire_busy():
    """Head, middle and tail leave back to back: the last byte leaves at B/r and arrives L later."""
    nbytes = 10 * PACKET
    cluster = _chain(2, MESSAGE_PS)
    assert _arrival(cluster, 0, 1, nbytes) == MESSAGE_PS + nbytes * BYTE_PS + LATENCY_PS
    assert cluster.link_busy_ps()["l0.fwd"] == nbytes * BYTE_PS


def test_the_head_releases_the_next_hop():
    """Two equal hops: hop 2 starts when the head has crossed hop 1 (message + p/r + L) and, after
    its own message cost, sends the whole message back to back."""
    nbytes = 10 * PACKET
    expected = MESSAGE_PS + PACKET * BYTE_PS + LATENCY_PS + MESSAGE_PS + nbytes * BYTE_PS + LATENCY_PS
    assert _arrival(_chain(3, MESSAGE_PS), 0, 2, nbytes) == expected


def test_the_tail_waits_for_the_upstream_to_have_everything():
    """A first hop twice as slow: hop 2's head and middle are out long before hop 1 has delivered
    the last byte (2·B/r + L); the tail leaves then and takes p/r + L."""
    nbytes = 10 * PACKET
    hop1_done = 2 * nbytes * BYTE_PS + LATENCY_PS
    assert 2 * PACKET * BYTE_PS + LATENCY_PS + (nbytes - PACKET) * BYTE_PS < hop1_done
    assert _arrival(_chain(3, slow_first=2), 0, 2, nbytes) == hop1_done + PACKET * BYTE_PS + LATENCY_PS


def test_a_single_packet_is_forwarded_as_soon_as_it_arrives():
    hops = 3
    assert _arrival(_chain(hops + 1), 0, hops, 100) == hops * (100 * BYTE_PS + LATENCY_PS)


@given(st.data())
def test_the_cluster_routes_as_the_platform(data):
    """One routing rule: on any connected platform (random cabling and cable order) the emulator's
    route is the planner's, link for link."""
    platform = data.draw(connected_platforms(min_devices=2, max_devices=7))
    spec = LinkSpec(effective_bits_per_s=10**9, fixed_latency_ps=0, packet_bytes=256, fifo_bytes=8192)
    cluster = Cluster.assemble(simpy.Environment(), [None] * len(platform.devices),
                               [(platform.index(c.a), platform.index(c.b), f"c{c.index}", spec)
                                for c in platform.cables], trace=None)
    ids = [device.id for device in platform.devices]
    src, dst = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    names = {direction: key for key, direction in cluster.directions.items()}
    emulated = [names[direction] for direction in cluster.route(platform.index(src), platform.index(dst))]
    assert emulated == [(platform.index(a), platform.index(b)) for _, a, b in platform.route(src, dst)]


def test_an_unreachable_board_is_named():
    cluster = Cluster.assemble(simpy.Environment(), [None] * 3, [(0, 1, "c", LinkSpec(
        effective_bits_per_s=10**9, fixed_latency_ps=0, packet_bytes=256, fifo_bytes=8192))], trace=None)
    with pytest.raises(BadArgument, match=r"^board2 is not reachable from board0"):
        cluster.route(0, 2)
