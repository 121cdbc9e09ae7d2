"""Every shipped board loads and matches its table in the reference (boards.md §1–§7)."""

import dataclasses

import pytest

from fpgasim.hw import BOARDS_DIR, DspTypeName, board_ids, load_board

GB = 1e9

# (dsp, bram36, uram, luts, ffs, {memory id: total peak GB/s}) as tabulated in boards.md.
REFERENCE = {
    "zcu102": (2520, 912, 0, 274_080, 548_160, {"ps_ddr4": 17.1, "pl_ddr4": 4.8}),
    "zcu104": (1728, 312, 96, 230_400, 460_800, {"ps_ddr4": 17.1, "pl_ddr4": 17.1}),
    "ultra96v2": (360, 216, 0, 70_560, 141_120, {"ps_lpddr4": 4.3}),
    "pynq_z2": (220, 140, 0, 53_200, 106_400, {"ps_ddr3": 2.1}),
    "pynq_z1": (220, 140, 0, 53_200, 106_400, {"ps_ddr3": 2.1}),
    "alveo_u250": (12_288, 2688, 1280, 1_728_000, 3_456_000, {"ddr4": 77.0}),
    "alveo_u280": (9024, 2016, 960, 1_303_680, 2_607_360, {"hbm": 460.0, "ddr4": 38.5}),
    "vcu118": (6840, 2160, 960, 1_182_240, 2_364_480, {"pl_ddr4": 38.4}),
}
# User-available after the Alveo shells (boards.md §5, §6): dsp, bram18, uram, luts.
AVAILABLE = {
    "alveo_u250": (4 * 2877, 4 * 500 * 2, 1280, 4 * 345_000),
    "alveo_u280": (8496, 3504, 960, 1_165_920),
}


def test_the_library_has_the_eight_boards():
    assert board_ids() == sorted(REFERENCE)
    assert (BOARDS_DIR / "zcu102.yaml").is_file()


@pytest.mark.parametrize("board_id", sorted(REFERENCE))
def test_board_matches_reference_table(board_id):
    dsp, bram36, uram, luts, ffs, memory = REFERENCE[board_id]
    board = load_board(board_id)
    fabric = board.fabric
    assert board.id == board_id
    assert (fabric.dsp.count, fabric.bram.count_36k, fabric.uram.count, fabric.luts, fabric.ffs) == (
        dsp, bram36, uram, luts, ffs)
    # reference bandwidths are rounded to 0.1 GB/s, or vendor figures (19.25, 14.375 GB/s)
    assert {m.id: pytest.approx(m.total_peak_bytes_per_s / GB, rel=0.01) for m in board.memory} == memory
    for channel in board.memory:
        assert channel.sustained_bytes_per_s == pytest.approx(channel.peak_bytes_per_s * channel.efficiency)
        assert 0 < channel.efficiency <= 1
    expected_type = DspTypeName.DSP48E1 if board_id in ("pynq_z1", "pynq_z2") else DspTypeName.DSP48E2
    assert fabric.dsp.type is expected_type


@pytest.mark.parametrize("board_id", sorted(REFERENCE))
def test_available_resources(board_id):
    fabric = load_board(board_id).fabric
    dsp, bram36, uram, luts, _, _ = REFERENCE[board_id]
    expected = AVAILABLE.get(board_id, (dsp, 2 * bram36, uram, luts))
    assert (fabric.available_dsp, fabric.available_bram18, fabric.available_uram, fabric.available_luts) == expected
    assert fabric.available_bram18 == 2 * fabric.available_bram36


@pytest.mark.parametrize("board_id", sorted(REFERENCE))
def test_every_number_is_cited_with_a_defined_source(board_id):
    board = load_board(board_id)
    assert {"fabric.luts", "fabric.ffs", "fabric.dsp.count", "fabric.bram.count_36k", "clock_mhz.default"} <= set(
        board.citations)
    assert all(ids and set(ids) <= set(board.sources) for ids in board.citations.values())
    assert set(board.unverified) <= set(board.citations)
    numbers = _numeric_paths(dataclasses.asdict(board), exclude={"citations", "unverified", "sources"})
    # only the default `count: 1` of a memory channel may be left unwritten (and so uncited)
    defaults = {f"memory[{i}].count" for i, m in enumerate(board.memory) if m.count == 1}
    assert numbers - defaults <= set(board.citations)


def _numeric_paths(data, prefix="", exclude=frozenset()):
    found = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in exclude:
                continue
            found |= _numeric_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            found |= _numeric_paths(value, f"{prefix}[{index}]")
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        found.add(prefix)
    return found


def test_zcu102_details_from_the_reference():
    board = load_board("zcu102")
    assert [p.id for p in board.io_ports if p.kind == "sfp_plus"] == ["sfp0", "sfp1", "sfp2", "sfp3"]
    assert board.processor is not None and (board.processor.cores, board.processor.clock_mhz) == (4, 1200)
    hp = board.host_ports[0]
    assert (hp.count, hp.width_bits) == (4, 128)
    assert board.memory_channel("ps_ddr4").sustained_bytes_per_s == pytest.approx(8 * 2133e6 * 0.75)
    assert board.clock_mhz.min <= board.clock_mhz.default <= board.clock_mhz.max


def test_zynq7000_board_has_no_uram_and_a_cortex_a9():
    board = load_board("pynq_z2")
    assert board.fabric.available_uram == 0
    assert board.processor is not None and board.processor.core == "cortex-a9"
    assert board.host_ports[0].peak_bytes_per_s == pytest.approx(1.2e9)  # 64 bit x 150 MHz
