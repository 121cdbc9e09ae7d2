"""MTU segmentation of the 40GbE link types: frames, wire bytes and serialisation by hand."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.hw import load_link_types

LINKS = load_link_types()
ETH40 = ("eth40g_kernel", "eth40g_dpdk", "eth40g_udp_hw")


def test_the_40gbe_stacks_differ_only_in_software_cost():
    kernel, dpdk, hw = (LINKS[name] for name in ETH40)
    assert kernel.line_gbps == dpdk.line_gbps == hw.line_gbps == pytest.approx(40.0)  # 4 x 10.3125 x 64/66
    assert (kernel.latency_ns.software, dpdk.latency_ns.software, hw.latency_ns.software) == (10_000, 2000, 0)
    assert kernel.latency_ns.endpoint_fixed == dpdk.latency_ns.endpoint_fixed == hw.latency_ns.endpoint_fixed


def test_frames_by_hand():
    dpdk = LINKS["eth40g_dpdk"]
    assert dpdk.frame_count(0) == 1 and dpdk.frame_count(1472) == 1 and dpdk.frame_count(1473) == 2
    assert dpdk.wire_bytes(0) == 84            # padded to the 64 B minimum frame + preamble + IFG
    assert dpdk.wire_bytes(1472) == 1538       # a full frame: 1472 + 66
    assert dpdk.wire_bytes(1473) == 1538 + 84  # the 1-byte tail is padded
    assert dpdk.wire_bytes(3000) == 2 * 1538 + (56 + 66)
    assert dpdk.serialisation_ns(1472) == pytest.approx(1538 * 8 / 40.0)


def test_older_entries_keep_the_payload_rate_model():
    aurora = LINKS["aurora64b66b_10g"]
    assert aurora.frames is None and aurora.frame_count(10**6) == 1
    assert aurora.serialisation_ns(1000) == pytest.approx(8000 / aurora.effective_gbps)
    with pytest.raises(BadArgument, match="has no `frames:` section"):
        aurora.wire_bytes(10)
    with pytest.raises(BadArgument, match="size_bytes must be an int >= 0"):
        LINKS["eth40g_dpdk"].wire_bytes(-1)


@given(st.sampled_from(ETH40), st.integers(0, 10**7))
def test_wire_bytes_bound_the_payload(name, size):
    link = LINKS[name]
    frames = link.frame_count(size)
    assert size + 66 * frames <= link.wire_bytes(size) <= size + 66 * frames + 84
    assert (frames - 1) * 1472 < max(size, 1) <= frames * 1472
