"""Compute devices: the shipped library, hand-computed peaks, roofline properties, bad specs."""

import re
from dataclasses import fields, replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw import BOARDS_DIR, ComputeKind, ComputeSpec, Efficiency, OpClass, load_board, load_compute_devices
from tests.strategies.platforms import COMPUTE, compute_specs


def test_library_has_the_required_devices_and_only_the_a53s_are_calibrated():
    assert {"zcu102_ps_a53", "zcu104_ps_a53", "pynq_z2_ps_a9", "rpi3b_plus_a53"} <= set(COMPUTE)
    a53s = {"zcu102_ps_a53", "zcu104_ps_a53", "rpi3b_plus_a53"}   # fitted: tests/mapping/test_device_fit.py
    for name, spec in COMPUTE.items():
        assert spec.efficiency.calibrated is (name in a53s)
        if name not in a53s:
            assert all(spec.efficiency.of(op) == 1.0 for op in OpClass) and spec.dispatch_overhead_us == 0


@pytest.mark.parametrize(("compute_id", "board_id"), [("zcu102_ps_a53", "zcu102"), ("zcu104_ps_a53", "zcu104"),
                                                      ("pynq_z2_ps_a9", "pynq_z2")])
def test_processing_systems_agree_with_their_board_files(compute_id, board_id):
    spec, cpu = COMPUTE[compute_id], load_board(board_id).processor
    assert (spec.cores, spec.clock_mhz, spec.simd_bits) == (cpu.cores, cpu.clock_mhz, cpu.simd_bits)


def test_peaks_by_hand():
    a53 = COMPUTE["zcu104_ps_a53"]
    assert a53.peak_macs_per_s(32) == 4 * 1200e6 * 4 * 0.5      # 9.6 G: 4 fp32 lanes at half issue
    assert a53.peak_macs_per_s(8) == 4 * 1200e6 * 16 * 0.5
    assert COMPUTE["pynq_z2_ps_a9"].peak_macs_per_s(32) == 2 * 650e6 * 4 * 0.5
    assert COMPUTE["rpi3b_plus_a53"].peak_macs_per_s(32) == 4 * 1400e6 * 4 * 0.5
    assert COMPUTE["jetson_tx2_gpu"].peak_macs_per_s(16) == 665.6e9
    assert COMPUTE["jetson_tx2_gpu"].clock_mhz == 1300
    assert COMPUTE["pynq_z1_ps_a9"].peak_macs_per_s(32) == COMPUTE["pynq_z2_ps_a9"].peak_macs_per_s(32)
    assert COMPUTE["jetson_tx2_cpu"].peak_macs_per_s(32) == 4 * 2000e6 * 4 * 1.0
    assert COMPUTE["edge_gpu_ampere"].peak_macs_per_s(32) == 9750e9
    assert COMPUTE["aws_t2_micro"].peak_macs_per_s(32) == 1 * 3300e6 * 8 * 1.0


def test_library_has_the_edge_devices_of_the_seed_papers():
    assert {"pynq_z1_ps_a9", "jetson_tx2_cpu", "jetson_tx2_gpu", "edge_gpu_ampere", "aws_t2_micro"} <= set(COMPUTE)
    assert COMPUTE["edge_gpu_ampere"].kind is ComputeKind.GPU and COMPUTE["jetson_tx2_cpu"].kind is ComputeKind.CPU


def test_node_time_by_hand():
    a53 = replace(COMPUTE["zcu104_ps_a53"], efficiency=Efficiency(), dispatch_overhead_us=0.0)   # the peak bound
    # 9.6e8 MACs at 9.6 GMAC/s = 0.1 s; 1e8 B at 17.064 GB/s = 5.86 ms -> compute bound
    assert a53.node_time_s(op_class=OpClass.DENSE_CONV, macs=960_000_000, elementwise_ops=0,
                           bytes_moved=100_000_000, element_bits=32) == pytest.approx(0.1)
    # an elementwise node: 1e6 adds (1.04e-4 s) moving 12e6 B (7.03e-4 s) -> memory bound
    assert a53.node_time_s(op_class=OpClass.ELEMENTWISE, macs=0, elementwise_ops=1_000_000,
                           bytes_moved=12_000_000, element_bits=32) == pytest.approx(12e6 / 17.064e9)
    slow = replace(a53, efficiency=Efficiency(dense_conv=0.25), dispatch_overhead_us=50.0)
    assert slow.node_time_s(op_class=OpClass.DENSE_CONV, macs=960_000_000, elementwise_ops=0, bytes_moved=0,
                            element_bits=32) == pytest.approx(0.4 + 50e-6)


def test_efficiency_has_a_field_per_op_class():
    assert {f.name for f in fields(Efficiency)} == {op.value for op in OpClass} | {"calibrated"}
    assert Efficiency(pool=0.5).of("pool") == 0.5 and Efficiency(pool=0.5).of(OpClass.FC) == 1.0
    with pytest.raises(BadArgument, match=r"^op_class='conv': expected one of dense_conv, depthwise, pointwise, fc, "
                                          r"elementwise, pool$"):
        Efficiency().of("conv")


ELEMENT_BITS = st.sampled_from([8, 16, 32])


def _bits(spec, bits):
    return bits if spec.kind is ComputeKind.CPU else min(spec.peak_gmacs)


@given(compute_specs(), st.sampled_from(list(OpClass)), st.integers(0, 10**12), st.integers(0, 10**9),
       st.integers(0, 10**12), ELEMENT_BITS)
def test_node_time_is_the_roofline(spec, op, macs, ops, nbytes, bits):
    bits = _bits(spec, bits)
    t = spec.node_time_s(op_class=op, macs=macs, elementwise_ops=ops, bytes_moved=nbytes, element_bits=bits)
    compute_s = (macs + ops) / (spec.peak_macs_per_s(bits) * spec.efficiency.of(op))
    memory_s = nbytes / (spec.memory_gb_per_s * 1e9)
    assert t == max(compute_s, memory_s) + spec.dispatch_overhead_us * 1e-6
    assert t >= spec.dispatch_overhead_us * 1e-6


@given(compute_specs(), st.sampled_from(list(OpClass)), st.integers(0, 10**12), st.integers(1, 10**12),
       st.integers(0, 10**12), st.integers(0, 10**12), ELEMENT_BITS)
def test_node_time_is_monotone_and_bounded_by_either_roof(spec, op, macs, more, nbytes, more_bytes, bits):
    bits = _bits(spec, bits)

    def t(m, b):
        return spec.node_time_s(op_class=op, macs=m, elementwise_ops=0, bytes_moved=b, element_bits=bits)

    assert t(macs + more, nbytes) >= t(macs, nbytes) and t(macs, nbytes + more_bytes) >= t(macs, nbytes)
    assert t(macs + more, 0) > t(macs, 0)                      # without memory traffic: compute bound
    # a lower efficiency never makes a node faster
    worse = replace(spec, efficiency=replace(spec.efficiency, **{op.value: spec.efficiency.of(op) / 2}))
    assert worse.node_time_s(op_class=op, macs=macs, elementwise_ops=0, bytes_moved=nbytes,
                             element_bits=bits) >= t(macs, nbytes)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(macs=-1), r"^macs=-1: expected an integer >= 0$"),
    (dict(bytes_moved=1.5), r"^bytes_moved=1\.5: expected an integer >= 0$"),
    (dict(elementwise_ops=True), r"^elementwise_ops=True: expected an integer >= 0$"),
    (dict(element_bits=256), r"^ZCU104 PS, 4 x Cortex-A53: element_bits=256 exceeds simd_bits=128$"),
    (dict(element_bits=0), r"^element_bits=0: expected an integer > 0$"),
])
def test_node_time_rejects_bad_arguments(kwargs, message):
    args = dict(op_class=OpClass.FC, macs=1, elementwise_ops=0, bytes_moved=0, element_bits=32) | kwargs
    with pytest.raises(BadArgument, match=message):
        COMPUTE["zcu104_ps_a53"].node_time_s(**args)


def test_gpu_without_a_peak_for_the_width():
    with pytest.raises(BadArgument, match=r"^NVIDIA Jetson TX2, 256-core Pascal GPU: no peak_gmacs for "
                                          r"element_bits=8; known: 16, 32$"):
        COMPUTE["jetson_tx2_gpu"].peak_macs_per_s(8)


def test_kind_fields_are_enforced_on_direct_construction():
    with pytest.raises(BadArgument, match=r"^a cpu device needs cores, simd_bits, simd_issue_fraction; "
                                          r"missing simd_bits, simd_issue_fraction; has peak_gmacs "
                                          r"\(not for a cpu\)$"):
        ComputeSpec(kind=ComputeKind.CPU, name="x", clock_mhz=1000, cores=2, peak_gmacs={32: 1.0},
                    memory_gb_per_s=1.0, dispatch_overhead_us=0.0)
    with pytest.raises(BadArgument, match=r"^a gpu device needs peak_gmacs; peak_gmacs is empty$"):
        ComputeSpec(kind=ComputeKind.GPU, name="x", clock_mhz=1000, peak_gmacs={}, memory_gb_per_s=1.0,
                    dispatch_overhead_us=0.0)


LIBRARY = (BOARDS_DIR / "compute.yaml").read_text()


def _problems(tmp_path: Path, text: str):
    path = tmp_path / "compute.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_compute_devices(path)
    return {p.key_path: p.message for p in info.value.problems}


def test_library_mistakes_are_all_reported_with_places(tmp_path):
    text = LIBRARY.replace("    cores: {value: 4, source: S44}\n", "    cores: 4\n", 1)
    text = text.replace("    clock_mhz: {value: 1400, source: S61}",
                        "    peak_gmacs: {32: {value: 1, source: S61}}\n    clock_mhz: {value: 1400, source: S61}")
    text = text.replace("simd_bits: {value: 128, source: A2}", "simd_bitz: {value: 128, source: A2}", 1)
    problems = _problems(tmp_path, text)
    assert re.match(r"hardware number 4 has no source", problems["compute_devices.zcu102_ps_a53.cores"])
    assert problems["compute_devices.pynq_z2_ps_a9.simd_bitz"].startswith(
        "unknown key 'simd_bitz'; did you mean 'simd_bits'?")
    assert problems["compute_devices.rpi3b_plus_a53"] == (
        "a cpu device needs cores, simd_bits, simd_issue_fraction; has peak_gmacs (not for a cpu)")
    assert len(problems) == 3


def test_empty_library_is_refused(tmp_path):
    problems = _problems(tmp_path, "schema: 1\ncompute_devices: {}\nsources: {S1: x}\n")
    assert problems == {"compute_devices": "no compute devices defined; expected at least one"}
