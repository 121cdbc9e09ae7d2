"""Platforms: loading the section, every load-time check (message + key path), routing, clusters."""

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.config import parse_yaml
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import (
    BOARDS_DIR, Cable, ComputeDevice, FpgaDevice, Platform, load_board, load_link_types, load_platform_file,
    load_platform_section, topology_edges,
)
from tests.strategies.platforms import COMPUTE, connected_platforms

KERNELS = BOARDS_DIR.parent / "kernels"
KERNEL = KERNELS / "superlip-conv-16bit.yaml"
LINKS = load_link_types()

EXAMPLE = f"""\
schema: 1
platform:
  devices:
    - {{id: fpga0, board: zcu102, kernel: {KERNEL},
       memory: {{channel: ps_ddr4, burst_bytes: 2048}}}}
    - {{id: fpga1, board: zcu104, kernel: {KERNEL}, memory: {{channel: ps_ddr4}}}}
    - {{id: cpu0, compute: zcu104_ps_a53}}
  cables:
    - {{between: [fpga0, fpga1], link: aurora64b66b_10g, length_m: 1, packet_bytes: 256, fifo_bytes: 8192}}
    - {{between: [fpga1, cpu0], link: eth1g_tcp_kernel, length_m: 2}}
"""


def _write(tmp_path: Path, text: str, name: str = "platform.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_platform_file(path)
    assert all(p.file == str(path) and p.line is not None for p in info.value.problems)
    return {p.key_path: p.message for p in info.value.problems}


def _doc(devices: list[str], cables: list[str] = ()) -> str:
    text = "schema: 1\nplatform:\n  devices:\n" + "".join(f"    - {d}\n" for d in devices)
    return text + ("  cables:\n" + "".join(f"    - {c}\n" for c in cables) if cables else "")


def _fpga(name: str, board: str = "zcu102", channel: str = "ps_ddr4") -> str:
    return f"{{id: {name}, board: {board}, kernel: {KERNEL}, memory: {{channel: {channel}}}}}"


def test_example_loads_with_defaults_and_routes(tmp_path):
    platform = load_platform_file(_write(tmp_path, EXAMPLE))
    fpga0, fpga1, cpu0 = platform.devices
    assert isinstance(fpga0, FpgaDevice) and fpga0.board.id == "zcu102" and fpga0.burst_bytes == 2048
    assert isinstance(fpga1, FpgaDevice) and fpga1.burst_bytes == 4096 and fpga1.memory_channel == "ps_ddr4"
    assert fpga1.kernel_path == KERNEL.resolve()
    assert isinstance(cpu0, ComputeDevice) and cpu0.spec_id == "zcu104_ps_a53" and cpu0.spec == COMPUTE[cpu0.spec_id]
    aurora, eth = platform.cables
    assert (aurora.index, aurora.a, aurora.b, aurora.link_id, aurora.length_m) == (0, "fpga0", "fpga1",
                                                                                 "aurora64b66b_10g", 1.0)
    assert (eth.length_m, eth.packet_bytes, eth.fifo_bytes) == (2.0, 256, 8192)
    assert eth.fixed_latency_ns == 50_000 + 2 * 5
    assert platform.route("fpga0", "cpu0") == ((aurora, "fpga0", "fpga1"), (eth, "fpga1", "cpu0"))
    assert platform.route("cpu0", "fpga0") == ((eth, "cpu0", "fpga1"), (aurora, "fpga1", "fpga0"))
    assert platform.route("fpga1", "fpga1") == ()
    assert platform.device("cpu0") is cpu0 and platform.index("cpu0") == 2


def test_section_inside_another_document_with_relative_paths(tmp_path):
    (tmp_path / "hw").mkdir()
    shutil.copy(BOARDS_DIR / "zcu104.yaml", tmp_path / "hw" / "my_board.yaml")
    shutil.copy(KERNEL, tmp_path / "k.yaml")
    doc = parse_yaml("experiment:\n  platform:\n    devices:\n"
                     "      - {id: solo, board: hw/my_board.yaml, kernel: k.yaml, memory: {channel: pl_ddr4}}\n",
                     file="exp.yaml")
    platform = load_platform_section(doc, ("experiment", "platform"), tmp_path)
    (solo,) = platform.devices
    assert solo.board.id == "zcu104" and solo.kernel_path == (tmp_path / "k.yaml").resolve()
    assert platform.cables == () and platform.route("solo", "solo") == ()


def test_unknown_ids_suggest_the_closest(tmp_path):
    problems = _problems(tmp_path, _doc(
        [_fpga("f0", board="zcu1o2"), _fpga("f1", channel="ps_ddr5"), "{id: c0, compute: zcu104_ps_a35}"],
        ["{between: [f0, f1], link: aurora64b66b_10h}", "{between: [f1, c0], link: eth1g_tcp_kernel}"]))
    assert re.fullmatch(r"unknown board 'zcu1o2'; did you mean 'zcu102'\? known boards: .*zcu104 \(in .*\)",
                        problems["platform.devices[0].board"])
    assert problems["platform.devices[1].memory.channel"] == (
        "unknown memory channel 'ps_ddr5' on board 'zcu102'; did you mean 'ps_ddr4'? known: ps_ddr4, pl_ddr4")
    assert re.fullmatch(r"unknown compute device 'zcu104_ps_a35'; did you mean 'zcu104_ps_a53'\? known: .*",
                        problems["platform.devices[2].compute"])
    assert re.fullmatch(r"unknown link type 'aurora64b66b_10h'; did you mean 'aurora64b66b_10g'\? known: .*",
                        problems["platform.cables[0].link"])
    assert len(problems) == 4


def test_graph_mistakes_are_all_reported(tmp_path):
    problems = _problems(tmp_path, _doc(
        [_fpga("f0"), _fpga("f1"), "{id: f1, compute: rpi3b_plus_a53}", "{id: c0, compute: rpi3b_plus_a53}"],
        ["{between: [f0, f1], link: aurora64b66b_10g}", "{between: [f1, f0], link: eth1g_tcp_kernel}",
         "{between: [c0, c0], link: eth1g_tcp_kernel}", "{between: [f0, cpu0], link: eth1g_tcp_kernel}"]))
    assert problems == {
        "platform.devices[2].id": "duplicate device id 'f1' (first used at devices[1])",
        "platform.cables[1].between": "duplicate cable between 'f1' and 'f0' (first at cables[0])",
        "platform.cables[2].between": "cable joins device 'c0' to itself; expected two different devices",
        "platform.cables[3].between[1]": "unknown device 'cpu0'; did you mean 'c0'? known: f0, f1, c0",
        "platform.cables": "device c0 is not connected to f0, f1: no path of cables joins them; every device "
                           "must reach every other",
    }


def test_disconnected_platform_names_every_cut_device(tmp_path):
    problems = _problems(tmp_path, _doc(
        ["{id: a, compute: rpi3b_plus_a53}", "{id: b, compute: rpi3b_plus_a53}", "{id: c, compute: rpi3b_plus_a53}",
         "{id: d, compute: rpi3b_plus_a53}"],
        ["{between: [a, c], link: wifi_lcp}", "{between: [b, d], link: wifi_lcp}"]))
    assert problems == {"platform.cables": "devices b, d are not connected to a, c: no path of cables joins them; "
                                           "every device must reach every other"}


def test_a_single_device_needs_no_cable_and_no_device_is_refused(tmp_path):
    assert len(load_platform_file(_write(tmp_path, _doc(["{id: a, compute: pynq_z2_ps_a9}"]))).devices) == 1
    assert _problems(tmp_path, "schema: 1\nplatform: {devices: []}\n") == {
        "platform.devices": "no devices; expected at least one"}


def test_ports_are_counted_per_kind_with_reassignment(tmp_path):
    # zcu102: sfp0..sfp3, fmc_hpc0, eth0. Aurora (sfp/qsfp/fmc) first, then four 10G Ethernet (sfp/qsfp):
    # taking sfp0 for Aurora would leave one Ethernet cable without a port; Aurora moves to fmc_hpc0.
    cpus = [f"{{id: c{k}, compute: rpi3b_plus_a53}}" for k in range(6)]
    cables = ["{between: [hub, c0], link: aurora64b66b_10g}"] + [
        f"{{between: [hub, c{k}], link: eth10g_udp_hw}}" for k in range(1, 5)]
    platform = load_platform_file(_write(tmp_path, _doc([_fpga("hub"), *cpus[:5]], cables)))
    assert len(platform.cables) == 5
    problems = _problems(tmp_path, _doc([_fpga("hub"), *cpus], [*cables, "{between: [c5, hub], link: eth10g_udp_hw}"]))
    assert problems == {"platform.cables[5].link": (
        "device 'hub' (board zcu102) has no free port for link type 'eth10g_udp_hw', which runs over sfp_plus, "
        "qsfp28: its ports of those kinds (sfp0, sfp1, sfp2, sfp3) are taken by earlier cables")}


def test_a_board_without_a_port_of_the_link_kinds(tmp_path):
    problems = _problems(tmp_path, _doc([_fpga("f", board="zcu104"), "{id: c, compute: zcu104_ps_a53}"],
                                        ["{between: [c, f], link: eth10g_udp_hw}"]))
    assert problems == {"platform.cables[0].link": (
        "device 'f' (board zcu104) has no free port for link type 'eth10g_udp_hw', which runs over sfp_plus, "
        "qsfp28: it has no port of those kinds")}


def test_a_chain_of_zcu104_runs_out_of_fmc_ports(tmp_path):
    # each ZCU104 has one FMC LPC: the middle board of a chain needs two
    problems = _problems(tmp_path, _doc([_fpga(f"f{k}", board="zcu104") for k in range(3)],
                                        ["{between: [f0, f1], link: aurora64b66b_10g}",
                                         "{between: [f1, f2], link: aurora64b66b_10g}"]))
    assert list(problems) == ["platform.cables[1].link"]
    assert problems["platform.cables[1].link"].startswith("device 'f1' (board zcu104) has no free port")


@pytest.mark.parametrize(("device", "message"), [
    (f"{{id: x, board: zcu102, compute: zcu102_ps_a53, kernel: {KERNEL}, memory: {{channel: ps_ddr4}}}}",
     "device 'x' has both `board` and `compute`; expected `board` (with kernel and memory) or `compute`"),
    ("{id: x}", "device 'x' has neither `board` and `compute`; expected `board` (with kernel and memory) or `compute`"),
    ("{id: x, board: zcu102}", "FPGA device 'x' needs kernel and memory"),
    ("{id: x, compute: zcu102_ps_a53, memory: {channel: ps_ddr4}}", "compute device 'x' takes no memory; remove it"),
])
def test_device_entry_kinds(tmp_path, device, message):
    assert _problems(tmp_path, _doc([device])) == {"platform.devices[0]": message}


def test_missing_files_and_typos_in_keys(tmp_path):
    problems = _problems(tmp_path, _doc(
        ["{id: f, board: boards/none.yaml, kernel: nope.yaml, memory: {channel: ps_ddr4}}",
         "{id: c, compute: zcu102_ps_a53}"], ["{between: [f, c], link: wifi_lcp}"]))
    assert problems["platform.devices[0].board"] == f"file not found: {(tmp_path / 'boards/none.yaml').resolve()}"
    assert problems["platform.devices[0].kernel"] == f"file not found: {(tmp_path / 'nope.yaml').resolve()}"
    assert len(problems) == 2
    problems = _problems(tmp_path, _doc(["{id: c, compute: zcu102_ps_a53}"], ["{between: [c], lenght_m: 3}"]))
    assert problems["platform.cables[0].lenght_m"].startswith("unknown key 'lenght_m'; did you mean 'length_m'?")
    assert problems["platform.cables[0]"] == "missing key 'link' (found: between, lenght_m)"
    assert problems["platform.cables[0].between"].startswith("Tuple should have at least 2 items")
    problems = _problems(tmp_path, "schema: 1\nplatfrom: {devices: []}\n")
    assert problems["platfrom"] == "unknown key 'platfrom'; did you mean 'platform'? known keys: platform"


def test_direct_construction_obeys_the_graph_rules():
    spec = COMPUTE["pynq_z2_ps_a9"]
    a, b = (ComputeDevice(id=name, spec=spec, spec_id="pynq_z2_ps_a9") for name in "ab")
    wifi = LINKS["wifi_lcp"]
    with pytest.raises(BadArgument, match=r"^cables: device b is not connected to a: "):
        Platform(devices=(a, b))
    with pytest.raises(BadArgument, match=r"^cables\[0\]\.index: cable index 3 differs from its position$"):
        Platform(devices=(a, b), cables=(Cable(index=3, a="a", b="b", link_id="wifi_lcp", link=wifi),))
    with pytest.raises(BadArgument, match=r"^a platform needs at least one device; got none$"):
        Platform(devices=())
    platform = Platform(devices=(a, b), cables=(Cable(index=0, a="a", b="b", link_id="wifi_lcp", link=wifi),))
    with pytest.raises(BadArgument, match=r"^unknown device 'c'; known: a, b$"):
        platform.route("a", "c")


def test_topology_edges_order():
    assert topology_edges("pair", 2) == [(0, 1)]
    assert topology_edges("chain", 4) == [(0, 1), (1, 2), (2, 3)]
    assert topology_edges("ring", 4) == [(0, 1), (1, 2), (2, 3), (0, 3)]
    assert topology_edges("ring", 2) == [(0, 1)]
    assert topology_edges("fully_connected", 3) == [(0, 1), (0, 2), (1, 2)]
    assert topology_edges("chain", 1) == []
    with pytest.raises(BadArgument, match=r"^topology 'pair' joins exactly 2 boards; got boards=3"):
        topology_edges("pair", 3)
    with pytest.raises(BadArgument, match=r"^topology 'star': expected pair, chain, ring or fully_connected$"):
        topology_edges("star", 3)


def test_homogeneous_platform_is_todays_cluster():
    board = load_board("zcu102")
    aurora = LINKS["aurora64b66b_10g"]
    ring = Platform.homogeneous(boards=4, board=board, kernel_path=KERNEL, memory_channel="ps_ddr4",
                                topology="ring", link_id="aurora64b66b_10g", link=aurora, length_m=2.0)
    assert [d.id for d in ring.devices] == ["board0", "board1", "board2", "board3"]
    assert [(c.a, c.b) for c in ring.cables] == [(f"board{a}", f"board{b}") for a, b in topology_edges("ring", 4)]
    assert all(c.fixed_latency_ns == aurora.fixed_latency_ns(2.0) == 341.3 + 10 for c in ring.cables)
    # two shortest paths board0 -> board2; the one through the earlier-declared board1 wins
    assert [(a, b) for _, a, b in ring.route("board0", "board2")] == [("board0", "board1"), ("board1", "board2")]
    single = Platform.homogeneous(boards=1, board=board, kernel_path=KERNEL, memory_channel="ps_ddr4",
                                  topology="pair")
    assert single.cables == ()
    with pytest.raises(BadArgument, match=r"^a platform of 2 boards needs a link type"):
        Platform.homogeneous(boards=2, board=board, kernel_path=KERNEL, memory_channel="ps_ddr4", topology="pair")


def _shortest_paths(platform: Platform, src: int, dst: int) -> list[list[int]]:
    """Every shortest device-index path src -> dst, by brute force."""
    adjacent = {i: set() for i in range(len(platform.devices))}
    for cable in platform.cables:
        a, b = platform.index(cable.a), platform.index(cable.b)
        adjacent[a].add(b)
        adjacent[b].add(a)
    paths, frontier = [], [[src]]
    while not paths:
        paths = [p for p in frontier if p[-1] == dst]
        frontier = [p + [n] for p in frontier for n in adjacent[p[-1]] if n not in p]
    return paths


@given(st.data())
def test_route_is_the_first_shortest_path_over_real_cables(data):
    platform = data.draw(connected_platforms(max_devices=6))
    ids = [d.id for d in platform.devices]
    src, dst = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    hops = platform.route(src, dst)
    assert hops == platform.route(src, dst)
    walk = [src] + [to for _, _, to in hops]
    assert walk[-1] == dst and all(frm == walk[k] for k, (_, frm, _) in enumerate(hops))
    for cable, frm, to in hops:
        assert platform.cables[cable.index] is cable and {frm, to} == {cable.a, cable.b}
    shortest = _shortest_paths(platform, platform.index(src), platform.index(dst))
    assert [platform.index(name) for name in walk] == min(shortest)   # fewest hops, then earliest devices


@given(st.data())
def test_route_does_not_depend_on_cable_order(data):
    platform = data.draw(connected_platforms(min_devices=2, max_devices=6))
    order = data.draw(st.permutations(platform.cables))
    shuffled = Platform(devices=platform.devices, cables=tuple(
        Cable(index=k, a=c.a, b=c.b, link_id=c.link_id, link=c.link, length_m=c.length_m) for k, c in enumerate(order)))
    ids = [d.id for d in platform.devices]
    src, dst = data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids))
    assert [(a, b) for _, a, b in platform.route(src, dst)] == [(a, b) for _, a, b in shuffled.route(src, dst)]


def test_raspberry_pis_and_a_pynq_on_wifi_and_switched_ethernet_form_a_platform(tmp_path):
    doc = _doc(["{id: rpi0, compute: rpi3b_plus_a53}", "{id: rpi1, compute: rpi3b_plus_a53}",
                _fpga("pynq", board="pynq_z2", channel="ps_ddr3")],
               ["{between: [rpi0, rpi1], link: wifi_lcp}", "{between: [rpi0, pynq], link: wifi_lcp}",
                "{between: [rpi1, pynq], link: eth1g_switch_kernel}"])
    platform = load_platform_file(_write(tmp_path, doc))
    assert [type(d).__name__ for d in platform.devices] == ["ComputeDevice", "ComputeDevice", "FpgaDevice"]
    wifi_a, wifi_b, eth = platform.cables
    assert wifi_a.link.shared_medium and wifi_b.link.shared_medium and not eth.link.shared_medium
    assert platform.route("rpi1", "pynq") == ((eth, "rpi1", "pynq"),)


def test_all_wifi_cables_of_a_pynq_share_its_one_radio_port(tmp_path):
    devices = ["{id: rpi0, compute: rpi3b_plus_a53}", "{id: rpi1, compute: rpi3b_plus_a53}",
               _fpga("pynq", board="pynq_z2", channel="ps_ddr3")]
    wifi = ["{between: [rpi0, pynq], link: wifi_lcp}", "{between: [rpi1, pynq], link: wifi_lcp}"]
    platform = load_platform_file(_write(tmp_path, _doc(devices, wifi)))
    assert [cable.link_id for cable in platform.cables] == ["wifi_lcp", "wifi_lcp"]
    # a dedicated link still needs a port per cable: the PYNQ-Z2 has one RJ45
    eth = [w.replace("wifi_lcp", "eth1g_switch_kernel") for w in wifi]
    problems = _problems(tmp_path, _doc(devices, eth))
    assert list(problems) == ["platform.cables[1].link"]
    assert "device 'pynq' (board pynq_z2) has no free port for link type 'eth1g_switch_kernel'" in \
        problems["platform.cables[1].link"]
