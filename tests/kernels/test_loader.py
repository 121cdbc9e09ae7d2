"""Kernel design YAML: every shipped file loads; every error path names file, key and value."""

import math
from pathlib import Path

import pytest

from fpgasim.errors import ConfigError
from fpgasim.kernels import KERNELS_DIR, DscOdeDesign, TiledConvDesign, load_kernel
from fpgasim.kernels.resources import MemoryPreference

SHIPPED = sorted(KERNELS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_kernel_loads(path: Path) -> None:
    design = load_kernel(path)
    assert design.name == path.stem
    assert design.macs >= 1


def test_superlip_64x7_fp32_design() -> None:
    design = load_kernel("superlip-conv-64x7-fp32")
    assert isinstance(design, TiledConvDesign)
    assert (design.parallelism.tm, design.parallelism.tn) == (64, 7)
    assert (design.tile.tr, design.tile.tc, design.tile.max_kernel) == (13, 55, 11)
    assert design.clock_mhz == 100
    assert design.precision.word_bits == 32
    assert design.elements_per_beat() == {"weights": 2, "ifm": 2, "ofm": 2}
    specs = {spec.name: spec for spec in design.buffer_specs()}
    assert (specs["ifm"].banks, specs["ifm"].depth_words) == (7, 13 * 55)
    assert (specs["weights"].banks, specs["weights"].depth_words) == (64 * 7, 121)
    assert (specs["ofm"].banks, specs["ofm"].depth_words) == (64, 13 * 55)
    assert all(spec.double_buffered for spec in specs.values())


def test_16_bit_variant() -> None:
    design = load_kernel("superlip-conv-16bit")
    assert design.precision.mac_precision == "int16"
    assert design.precision.describe() == "ap_fixed<16,6>"
    assert design.elements_per_beat()["ifm"] == 4
    requantizer = design.precision.fixed.requantizer()
    assert requantizer.accumulator.bits == 48


def test_a_sigmoid_table_is_a_read_only_bram_per_two_lanes() -> None:
    design = load_kernel("superlip-conv-16bit-sigmoid")
    assert design.lookup_tables()["sigmoid_table"].max_error() == pytest.approx(1 / 512)
    table = design.buffer_specs()[-1]
    assert (table.name, table.depth_words, table.banks, table.copies) == ("sigmoid_table", 1024, 32, 1)
    assert load_kernel("superlip-conv-16bit").sigmoid_table is None


def test_a_gelu_table_is_a_normal_cdf_table_in_its_own_brams() -> None:
    from fpgasim.ops.lookup import NormalCdfTable

    design = load_kernel("superlip-conv-16bit-gelu")
    assert design.sigmoid_table is None and list(design.lookup_tables()) == ["gelu_table"]
    table = design.lookup_tables()["gelu_table"]
    assert isinstance(table, NormalCdfTable) and table.max_error() == pytest.approx(1 / (256 * (2 * math.pi) ** 0.5))
    spec = design.buffer_specs()[-1]
    assert (spec.name, spec.depth_words, spec.banks, spec.copies) == ("gelu_table", 1024, 32, 1)


SIGMOID = (KERNELS_DIR / "superlip-conv-16bit-sigmoid.yaml").read_text(encoding="utf-8")
GELU = (KERNELS_DIR / "superlip-conv-16bit-gelu.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("new", "key", "fragment"), [
    ("entries: 1", "kernel.sigmoid_table.entries", "1 entries: expected at least 2"),
    ("entries: 0", "kernel.sigmoid_table.entries", "greater than 0"),
    ("entries: 1024, input_bound: -1.0", "kernel.sigmoid_table.input_bound", "greater than 0"),
    ("entry: 1024", "kernel.sigmoid_table.entry", "did you mean 'entries'"),
])
@pytest.mark.parametrize("table", ["sigmoid_table", "gelu_table"])
def test_a_bad_lookup_table_is_refused_at_its_key(tmp_path: Path, new: str, key: str, fragment: str, table: str) -> None:
    old = "entries: 1024, input_bound: 8.0" if "input_bound" in new else "entries: 1024"
    text = SIGMOID if table == "sigmoid_table" else GELU.replace("input_bound: 4.0", "input_bound: 8.0")
    path = _write(tmp_path, text.replace(old, new, 1))
    key = key.replace("sigmoid_table", table)
    with pytest.raises(ConfigError) as info:
        load_kernel(path)
    assert any(p.key_path == key and p.line is not None for p in info.value.problems), str(info.value)
    assert fragment in str(info.value)


def test_dsodenet_engine() -> None:
    design = load_kernel("dsodenet-engine")
    assert isinstance(design, DscOdeDesign)
    assert design.macs == 16 * 9 + 16 * 16
    assert design.buffer_specs() == ()
    assert design.buffers.weights.memory is MemoryPreference.AUTO


BASE = (KERNELS_DIR / "superlip-conv-64x7-fp32.yaml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "k.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "key", "fragment"), [
    ("type: tiled_conv", "type: systolic", "kernel.type", "unknown kernel type 'systolic'; expected one of: tiled_conv, dsc_ode"),
    ("  type: tiled_conv\n", "", "kernel", "missing key 'type'"),
    ("tm: 64 ", "tm: 0 ", "kernel.parallelism.tm", "greater than 0"),
    ("weights: 64", "weights: 60", "kernel.stream_width_bits.weights", "60 bits is not a multiple of 8"),
    ("ifm: 64", "ifm: 16", "kernel.stream_width_bits.ifm", "narrower than one 32-bit word"),
    ("kind: fp32", "kind: fixed", "kernel.precision.kind", "no 'fixed:' section"),
    ("kind: fp32", "kind: fp64", "kernel.precision.kind", "fp32"),
    ("clock_mhz: 100", "clock_mhz: -5", "kernel.clock_mhz", "greater than 0"),
    ("max_kernel: 11", "max_kernal: 11", "kernel.tile.max_kernal", "did you mean 'max_kernel'"),
    ("memory: lutram", "memory: sram", "kernel.buffers.bias.memory", "'bram', 'uram', 'lutram' or 'auto'"),
    ("schema: 1", "schema: 2", "schema", "expected `schema: 1`"),
])
def test_bad_kernel_yaml(tmp_path: Path, old: str, new: str, key: str, fragment: str) -> None:
    assert old in BASE
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_kernel(path)
    text = str(info.value)
    assert str(path) in text
    assert any(p.key_path == key for p in info.value.problems), text
    assert fragment in text


def test_fixed_format_with_too_many_int_bits(tmp_path: Path) -> None:
    text = (KERNELS_DIR / "superlip-conv-16bit.yaml").read_text(encoding="utf-8")
    path = _write(tmp_path, text.replace("int_bits: 6", "int_bits: 17"))
    with pytest.raises(ConfigError) as info:
        load_kernel(path)
    problem = info.value.problems[0]
    assert problem.key_path == "kernel.precision.fixed.int_bits"
    assert "int_bits=17 exceeds total_bits=16" in problem.message
    assert problem.line is not None


def test_missing_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_kernel(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="missing key 'kernel'"):
        load_kernel(_write(tmp_path, "schema: 1\nboard: {}\n"))
