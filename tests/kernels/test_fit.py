"""The fit verdict: exact at the capacity edge, names resource, culprit and gap."""

import dataclasses
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, DoesNotFit
from fpgasim.kernels.resources import MemoryPreference
from fpgasim.kernels import (
    FitLimits, OnChipLayer, OnChipLayerKind, Resource, bram18_blocks, check_fit, evaluate_fit, load_kernel,
)

BIG = 10**9


class _DspType:
    """Stand-in for fpgasim.hw.DspType: DSP slices per MAC by precision (DSP48E2 values)."""

    def dsp_per_mac(self, precision: str) -> float:
        return {"fp32": 5.0, "fp16": 2.0, "int8": 0.5, "int16": 1.0, "int32": 4.0}[precision]


DSP_TYPES = {"DSP48E2": _DspType()}


def _board(board_id: str = "test", *, dsp: int = BIG, bram18: int = BIG, uram: int = 0,
           luts: int = BIG, ffs: int = BIG, dsp_type: str = "DSP48E2") -> SimpleNamespace:
    fabric = SimpleNamespace(available_dsp=dsp, available_bram18=bram18, available_uram=uram,
                             available_luts=luts, available_ffs=ffs, dsp=SimpleNamespace(type=dsp_type))
    return SimpleNamespace(id=board_id, fabric=fabric)


ZCU102 = _board("zcu102", dsp=2520, bram18=1824, uram=0, luts=274080, ffs=548160)
ULTRA96 = _board("ultra96v2", dsp=360, bram18=432, uram=0, luts=70560, ffs=141120)
FP32 = load_kernel("superlip-conv-64x7-fp32")


def test_superlip_fp32_fits_zcu102_with_published_counts() -> None:
    result = check_fit(ZCU102, FP32, dsp_types=DSP_TYPES)
    assert result.fits and result.verdict == "fits" and result.report is None
    assert result.row("DSP").used == 2240
    assert result.row("BRAM18").used == 1180
    assert result.row("LUT").estimate and not result.row("DSP").estimate
    bias = next(use for use in result.buffers if use.spec.name == "bias")
    assert bias.lutram_luts == 2 * 32          # 2 copies x 32 bits x ceil(64/64)


def test_superlip_fp32_does_not_fit_ultra96() -> None:
    result = evaluate_fit(ULTRA96, FP32, dsp_types=DSP_TYPES)
    report = result.report
    assert not result.fits
    assert (report.resource, report.demand, report.bound, report.gap) == ("DSP", 2240, 360, 1880)
    assert "MAC array Tm=64 x Tn=7" in report.culprit
    assert "Tm 64->10" in report.levers        # 10*7*5 = 350 <= 360 < 11*7*5
    with pytest.raises(DoesNotFit, match="does not fit: DSP needs 2240 slices, 360 available"):
        check_fit(ULTRA96, FP32, dsp_types=DSP_TYPES)


def test_finn_limits_apply_fractions() -> None:
    result = evaluate_fit(ZCU102, FP32, dsp_types=DSP_TYPES, limits="finn")
    assert result.limits is FitLimits.FINN
    assert result.row("DSP").available == 2016          # floor(2520 * 0.8)
    assert result.row("FF").available == 274080         # 548160 * 0.5
    assert result.report.resource == "DSP"


def test_16bit_variant_dsp_is_tm_tn() -> None:
    design = load_kernel("superlip-conv-16bit")
    result = evaluate_fit(_board(), design, dsp_types=DSP_TYPES)
    assert result.row("DSP").used == design.parallelism.tm * design.parallelism.tn == 448


def test_design_dsp_override_wins() -> None:
    design = dataclasses.replace(FP32, dsp_per_mac=3.0)
    result = evaluate_fit(_board(), design, dsp_types=DSP_TYPES)
    assert (result.row("DSP").used, result.dsp_per_mac_source) == (3 * 448, "design")


@given(st.integers(1, 64), st.integers(1, 16), st.sampled_from(["superlip-conv-64x7-fp32", "superlip-conv-16bit"]))
def test_dsp_verdict_flips_exactly_at_capacity(tm: int, tn: int, name: str) -> None:
    base = load_kernel(name)
    design = dataclasses.replace(base, parallelism=dataclasses.replace(base.parallelism, tm=tm, tn=tn))
    need = tm * tn * (5 if name.endswith("fp32") else 1)
    assert evaluate_fit(_board(dsp=need), design, dsp_types=DSP_TYPES).fits
    result = evaluate_fit(_board(dsp=need - 1), design, dsp_types=DSP_TYPES)
    assert not result.fits
    assert (result.report.resource, result.report.gap) == ("DSP", 1)
    # growing parallelism by one MAC column past the board also flips it
    bigger = dataclasses.replace(design, parallelism=dataclasses.replace(design.parallelism, tm=tm + 1))
    assert not evaluate_fit(_board(dsp=need), bigger, dsp_types=DSP_TYPES).fits


@given(st.integers(1, 6))
def test_bram_verdict_flips_exactly_when_a_buffer_needs_one_more_block(k: int) -> None:
    # One output row of tc words per OFM bank: fp32 words step every 512 words (512x36).
    def design_with(tc: int):
        return dataclasses.replace(FP32, tile=dataclasses.replace(FP32.tile, tr=1, tc=tc))

    edge = k * 512
    at_edge = evaluate_fit(_board(), design_with(edge), dsp_types=DSP_TYPES)
    bound = at_edge.row("BRAM18").used
    ofm = next(use for use in at_edge.buffers if use.spec.name == "ofm")
    assert ofm.blocks_per_bank == bram18_blocks(32, edge) == k
    assert evaluate_fit(_board(bram18=bound), design_with(edge), dsp_types=DSP_TYPES).fits
    # every word below the edge still fits; the first word past it does not
    assert evaluate_fit(_board(bram18=bound), design_with(edge - 1), dsp_types=DSP_TYPES).fits
    over = evaluate_fit(_board(bram18=bound), design_with(edge + 1), dsp_types=DSP_TYPES)
    assert not over.fits
    # IFM (7 banks) and OFM (64 banks) both grow by one block per bank, x2 copies
    assert over.report.resource == "BRAM18" and over.report.gap == 2 * (64 + 7)
    assert "buffer ofm" in over.report.culprit or "buffer weights" in over.report.culprit


def test_dsc_ode_needs_network_for_buffers_and_counts_them() -> None:
    design = load_kernel("dsodenet-engine")
    alone = evaluate_fit(_board(), design, dsp_types=DSP_TYPES)
    assert alone.row("BRAM18").used == 0 and any("no network given" in n for n in alone.notes)
    layers = (
        OnChipLayer(name="dw", kind=OnChipLayerKind.DEPTHWISE, in_channels=64, out_channels=64, kernel=3,
                    in_h=32, in_w=32, out_h=32, out_w=32, bias=False),
        OnChipLayer(name="pw", kind=OnChipLayerKind.POINTWISE, in_channels=64, out_channels=64, kernel=1,
                    in_h=32, in_w=32, out_h=32, out_w=32, bias=True),
    )
    result = evaluate_fit(_board(uram=0), design, dsp_types=DSP_TYPES, layers=layers)
    specs = {use.spec.name: use for use in result.buffers}
    assert specs["weights_dw"].spec.depth_words == 4 * 9       # ceil(64/16) channels per bank x 9 taps
    assert specs["weights_pw"].spec.depth_words == 4 * 4       # ceil(64/16) x ceil(64/16)
    assert specs["weights_pw"].spec.banks == 256
    assert specs["biases"].spec.depth_words == 64
    fm = specs["feature_maps[0]"]
    assert (fm.spec.banks, fm.spec.depth_words) == (16, 4 * 32 * 32)
    assert sum(1 for name in specs if name.startswith("feature_maps")) == 3
    # 4096 words x 32 bits per bank -> 8 deep of 512x36 = 8 BRAM18 per bank (no URAM on this board)
    assert fm.bram18 == 16 * 8
    # auto keeps it in BRAM even with URAM on the board: one URAM (16 BRAM18 of bits) > 8 BRAM18
    with_uram = evaluate_fit(_board(uram=100), design, dsp_types=DSP_TYPES, layers=layers)
    assert next(u for u in with_uram.buffers if u.spec.name == "feature_maps[0]").bram18 == 16 * 8
    forced = dataclasses.replace(design, buffers=dataclasses.replace(
        design.buffers, feature_maps=dataclasses.replace(design.buffers.feature_maps, memory=MemoryPreference.URAM)))
    in_uram = evaluate_fit(_board(uram=100), forced, dsp_types=DSP_TYPES, layers=layers)
    assert in_uram.row("URAM").used == 3 * 16                  # 3 buffers x 16 banks x one 4Kx72


def test_estimate_only_overflow_is_labelled() -> None:
    result = evaluate_fit(_board(luts=1000), FP32, dsp_types=DSP_TYPES)
    assert result.report.resource == "LUT" and "estimate" in result.report.unit


def test_bad_arguments() -> None:
    with pytest.raises(BadArgument, match="limits='tight'"):
        evaluate_fit(ZCU102, FP32, dsp_types=DSP_TYPES, limits="tight")
    with pytest.raises(BadArgument, match="DSP type 'DSP58'.*known: DSP48E2"):
        evaluate_fit(_board(dsp_type="DSP58"), FP32, dsp_types=DSP_TYPES)
    with pytest.raises(BadArgument, match="depthwise kernel 5 exceeds"):
        evaluate_fit(_board(), load_kernel("dsodenet-engine"), dsp_types=DSP_TYPES, layers=(
            OnChipLayer(name="dw5", kind=OnChipLayerKind.DEPTHWISE, in_channels=8, out_channels=8, kernel=5,
                        in_h=8, in_w=8, out_h=8, out_w=8, bias=False),))


def test_json_document_is_complete() -> None:
    doc = evaluate_fit(ULTRA96, FP32, dsp_types=DSP_TYPES).to_dict()
    assert doc["schema_version"] == 1 and doc["fits"] is False
    assert doc["verdict"].startswith("does not fit: DSP")
    assert {row["resource"] for row in doc["resources"]} == {r.value for r in Resource}
    assert [b["name"] for b in doc["buffers"]] == ["ifm", "weights", "ofm", "bias"]


def test_uram_lever_only_names_a_buffer_that_would_fit_in_uram() -> None:
    zcu104 = _board("zcu104", dsp=1728, bram18=624, uram=96)
    levers = evaluate_fit(zcu104, FP32, dsp_types=DSP_TYPES).report.levers
    # ifm: 7 banks x 2 copies x one 4Kx72 = 14 <= 96; ofm needs 128 and weights 896 URAMs
    assert "memory: uram for buffer ifm" in levers
    assert not any("uram for buffer weights" in lever or "uram for buffer ofm" in lever for lever in levers)
