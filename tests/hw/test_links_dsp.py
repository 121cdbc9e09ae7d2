"""Link types and DSP types: hand-computed rates, transfer times and DSP costs."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import BOARDS_DIR, IoPortKind, load_dsp_types, load_link_types

LINKS = load_link_types()
DSP = load_dsp_types()


def test_link_library_has_the_shipped_types():
    assert {"aurora64b66b_10g", "eth10g_udp_hw", "eth40g_dpdk", "eth1g_tcp_kernel", "wifi_lcp",
            "eth1g_switch_kernel", "eth40g_kernel", "eth40g_udp_hw"} <= set(LINKS)


def test_aurora_rate_and_time_by_hand():
    aurora = LINKS["aurora64b66b_10g"]
    # 10.3125 Gb/s x 64/66 = 10.0 Gb/s; x 0.99 protocol = 9.9 Gb/s
    assert aurora.effective_gbps == pytest.approx(9.9, rel=1e-12)
    # 1000 B over 2 m: 341.3 ns endpoint + 2 x 5 ns/m + 8000 bit / 9.9 Gb/s (808.08 ns)
    assert aurora.transfer_time_ns(1000, 2) == pytest.approx(341.3 + 10 + 8000 / 9.9)
    assert IoPortKind.SFP_PLUS in aurora.port_kinds and IoPortKind.RJ45 not in aurora.port_kinds
    # endpoint latency = 55 user_clk cycles of 64/10.3125 ns (PG074 derivation)
    assert aurora.latency_ns.endpoint_fixed == pytest.approx(55 * 64 / 10.3125, abs=0.05)


def test_ethernet_rates_by_hand():
    assert LINKS["eth10g_udp_hw"].effective_gbps == pytest.approx(10 * 0.941)
    assert LINKS["eth40g_dpdk"].effective_gbps == pytest.approx(40 * 0.941)
    eth1g = LINKS["eth1g_tcp_kernel"]
    assert eth1g.effective_gbps == pytest.approx(0.941)  # iperf3 941 Mb/s
    # a 1500 B message: 50 us stack + 12000 bit / 0.941 Gb/s
    assert eth1g.transfer_time_ns(1500, 0) == pytest.approx(50_000 + 12_000 / 0.941)


def test_wifi_reproduces_lcp_measurement():
    wifi = LINKS["wifi_lcp"]
    assert wifi.effective_gbps == pytest.approx(0.06224)
    assert wifi.transfer_time_ns(64, 0) == pytest.approx(8.83e6, abs=1.0)   # 8.83 ms for 64 B
    # the whole measured latency is a per-message cost; nothing is paid again per packet
    assert wifi.latency_ns.software == pytest.approx(8.83e6 - 64 * 8 / 0.06224, abs=1.0)
    assert wifi.wire_latency_ns(0) == 0 and wifi.shared_medium


def test_switched_gigabit_ethernet_by_hand():
    eth = LINKS["eth1g_switch_kernel"]
    assert not eth.shared_medium and eth.effective_gbps == pytest.approx(0.941)
    # per packet: one 1538 B frame stored and forwarded (12.304 us) + 5 ns/m; per message: 50 us kernel sockets
    assert eth.wire_latency_ns(10) == pytest.approx(1538 * 8 / 1.0 + 50)
    assert eth.transfer_time_ns(1500, 10) == pytest.approx(50_000 + 12_304 + 50 + 12_000 / 0.941)


def test_only_wifi_is_a_shared_medium():
    assert {name for name, link in LINKS.items() if link.shared_medium} == {"wifi_lcp"}


@given(st.sampled_from(sorted(LINKS)), st.integers(0, 10**9), st.integers(0, 10**9),
       st.floats(0, 1000, allow_nan=False))
def test_transfer_time_is_affine_in_bytes(name, a, b, length_m):
    link = LINKS[name]
    extra = link.transfer_time_ns(a + b, length_m) - link.transfer_time_ns(a, length_m)
    assert extra == pytest.approx(8 * b / link.effective_gbps, rel=1e-9, abs=1e-6)
    assert link.transfer_time_ns(a, length_m) >= link.latency_ns.endpoint_fixed


@given(st.sampled_from(sorted(LINKS)), st.one_of(st.integers(0, 1000), st.floats(0, 1000, allow_nan=False)))
def test_fixed_latency_is_the_zero_byte_transfer(name, length_m):
    link = LINKS[name]
    lat = link.latency_ns
    assert link.fixed_latency_ns(length_m) == link.transfer_time_ns(0, length_m)
    assert link.fixed_latency_ns(length_m) == lat.endpoint_fixed + lat.software + lat.per_meter * length_m


def test_fixed_latency_by_hand_and_bad_length():
    assert LINKS["aurora64b66b_10g"].fixed_latency_ns(2) == 341.3 + 2 * 5
    assert LINKS["eth40g_dpdk"].fixed_latency_ns(0) == 1000 + 2000
    with pytest.raises(BadArgument, match=r"^length_m must be a number >= 0; got -1$"):
        LINKS["wifi_lcp"].fixed_latency_ns(-1)


@pytest.mark.parametrize(("size", "length", "name"), [(-1, 0, "size_bytes"), (10, -2.0, "length_m"),
                                                      ("10", 0, "size_bytes"), (1, float("nan"), "length_m")])
def test_transfer_time_rejects_bad_arguments(size, length, name):
    with pytest.raises(BadArgument, match=rf"^{name} must be a number >= 0; got "):
        LINKS["aurora64b66b_10g"].transfer_time_ns(size, length)


@pytest.mark.parametrize(("dsp", "precision", "cost"), [
    ("DSP48E2", "int8", 0.5), ("DSP48E1", "int8", 1.0), ("DSP48E2", "int16", 1.0), ("DSP48E1", "int16", 1.0),
    ("DSP48E2", "fp32", 5.0), ("DSP48E1", "fp32", 5.0),
])
def test_dsp_cost_per_mac(dsp, precision, cost):
    assert DSP[dsp].dsp_per_mac(precision) == cost


def test_dsp_ports():
    e2, e1 = DSP["DSP48E2"], DSP["DSP48E1"]
    assert (e2.mult_a_bits, e2.mult_b_bits, e2.acc_bits) == (27, 18, 48)
    assert (e1.mult_a_bits, e1.mult_b_bits, e1.acc_bits) == (25, 18, 48)
    for dsp in (e1, e2):  # wider precisions never cost fewer DSPs
        assert dsp.dsp_per_mac("int8") <= dsp.dsp_per_mac("int16") <= dsp.dsp_per_mac("int32")


@pytest.mark.parametrize("bad", ["int4", "INT8", "", 8])
def test_unknown_precision(bad):
    with pytest.raises(BadArgument, match=r"^precision must be one of int8, int16, int32, fp16, fp32; got "):
        DSP["DSP48E2"].dsp_per_mac(bad)


def test_dsp_file_missing_precision_and_uncited(tmp_path):
    text = (BOARDS_DIR / "dsp_types.yaml").read_text()
    text = text.replace("      fp16: {value: 2, source: R1, verified: false}\n", "", 1)
    text = text.replace("acc_bits: {value: 48, source: S22}", "acc_bits: 48", 1)
    path = tmp_path / "dsp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_dsp_types(path)
    messages = {p.key_path: p.message for p in info.value.problems}
    assert len(messages) == 2
    assert re.match(r"^missing key 'fp16' \(found: fp32, int16, int32, int8\)$",
                    messages["dsp_types.DSP48E2.dsp_per_mac_by_precision"])
    assert re.match(r"^hardware number 48 has no source", messages["dsp_types.DSP48E1.acc_bits"])


def test_link_file_bad_port_kind_and_efficiency(tmp_path):
    text = (BOARDS_DIR / "links.yaml").read_text()
    text = text.replace("port_kinds: [rj45]", "port_kinds: [rj46]", 1)
    text = text.replace("protocol_efficiency: {value: 0.941, source: D2}", "protocol_efficiency: {value: 94.1, source: D2}", 1)
    path = tmp_path / "links.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_link_types(path)
    messages = {p.key_path: p.message for p in info.value.problems}
    assert re.match(r"^Input should be 'sfp_plus', 'qsfp28'", messages["link_types.eth1g_tcp_kernel.port_kinds[0]"])
    assert re.match(r"^Input should be less than or equal to 1; got float 94.1$",
                    messages["link_types.eth10g_udp_hw.protocol_efficiency"])
