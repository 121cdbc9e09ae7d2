"""The ODE study: CPU model, fixed-point accuracy vs float64, fit at the capacity edge, config errors,
and a small end-to-end run (atomic, deterministic outputs)."""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fpgasim.errors import BadArgument, ConfigError, DoesNotFit
from fpgasim.fixedpoint import Overflow, Rounding
from fpgasim.hw import load_dsp_types
from fpgasim.kernels import evaluate_fit, load_kernel
from fpgasim.nn.odenet import OdeNetSpec, odenet, odenet_variant
from fpgasim.ops.conv import conv2d_ref
from fpgasim.study.dsodenet._accuracy import (
    AccuracyConfig, ConvOp, _conv_f64, calibrate_int_bits, center_classifier, dyadic_step, make_stages,
    new_ref_cache, run_accuracy,
)
from fpgasim.study.dsodenet._cpu import CpuModel, cpu_ops_per_s, cpu_time_ps
from fpgasim.study.dsodenet.config import load_study
from fpgasim.study.dsodenet.tables import _on_chip_layers, run_ode_study
from fpgasim.study.dsodenet._timing import on_chip_names

ROOT = Path(__file__).resolve().parents[3]
A53 = SimpleNamespace(cores=4, clock_mhz=1200.0, simd_bits=128, core="cortex-a53")


def test_cpu_model_by_hand() -> None:
    model = CpuModel(threads=None, element_bits=32, simd_issue_fraction=0.5, efficiency=1.0, source="t")
    assert cpu_ops_per_s(model, A53) == pytest.approx(4 * 1.2e9 * 4 * 0.5)
    assert cpu_time_ps(9_600_000_000, model, A53) == 10**12
    half = CpuModel(threads=2, element_bits=32, simd_issue_fraction=0.5, efficiency=0.5, source="t")
    assert cpu_time_ps(9_600_000_000, half, A53) == 4 * 10**12
    with pytest.raises(BadArgument, match="threads=8"):
        cpu_time_ps(1, CpuModel(threads=8, simd_issue_fraction=0.5, efficiency=1.0, source="t"), A53)
    with pytest.raises(BadArgument, match="no 'processor'"):
        cpu_time_ps(1, model, None)


def test_dyadic_step() -> None:
    assert dyadic_step(1.0, 10, 8) == 26 / 256
    assert dyadic_step(1.0, 4, 2) == 0.25
    with pytest.raises(BadArgument, match="end_time=0"):
        dyadic_step(0, 10, 8)
    with pytest.raises(BadArgument, match="steps=0"):
        dyadic_step(1.0, 0, 8)
    with pytest.raises(BadArgument, match="rounds to 0"):
        dyadic_step(1.0, 1000, 4)


def test_fast_depthwise_equals_ops_reference() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 7, 7))
    op = ConvOp(name="dw", w=rng.standard_normal((5, 1, 3, 3)), b=rng.standard_normal(5), stride=2, padding=1,
                groups=5, activation="none")
    ref = conv2d_ref(x, op.w, op.b, stride=2, padding=1, groups=5)
    assert np.allclose(_conv_f64(x, op), ref, rtol=1e-12, atol=1e-12)


def _tiny_stages(seed: int = 0):
    net = odenet(OdeNetSpec(name="tiny", channels=(4, 8, 8), steps=(2, 2, 2), input_hw=8, dsc="ode_and_down"))
    rng = np.random.default_rng(seed)
    stages = make_stages(net, rng, end_time=1.0, h_frac_bits=8)
    x = rng.standard_normal((8, 3, 8, 8))
    return center_classifier(stages, x), x


def _cfg(bits: int, int_bits: int) -> AccuracyConfig:
    return AccuracyConfig(bits=bits, act_int_bits=int_bits, max_weight_bits=18, rounding=Rounding.HALF_EVEN,
                          overflow=Overflow.SATURATE)


def test_fixed_network_within_derived_bound_and_converging() -> None:
    stages, x = _tiny_stages()
    int_bits = calibrate_int_bits(stages, x, 1)
    cache = new_ref_cache()
    errors = []
    for bits in (12, 16, 24):
        res = run_accuracy(stages, x, _cfg(bits, int_bits), cache=cache)
        for s in res.stages:
            assert s.overflow_output == 0 and s.overflow_accumulator == 0
            assert s.max_abs_error <= s.bound, (bits, s.stage)
        errors.append(res.stages[-1].max_abs_error)
    assert errors[0] > errors[1] > errors[2] > 0
    assert errors[1] < errors[0] / 4                      # 4 more fraction bits: well below a quarter
    assert res.top1_agreement == 1.0 and res.classes_seen > 1      # centred: not one class for every input
    assert res.stages[-1].snr_db > 60


def test_accuracy_is_deterministic_and_saturation_is_counted() -> None:
    stages, x = _tiny_stages(seed=5)
    a = run_accuracy(stages, x, _cfg(16, 6))
    b = run_accuracy(*_tiny_stages(seed=5), _cfg(16, 6))
    assert [(s.max_abs_error, s.snr_db) for s in a.stages] == [(s.max_abs_error, s.snr_db) for s in b.stages]
    squeezed = run_accuracy(stages, x, _cfg(8, 1))          # range [-1, 1): values saturate
    assert sum(s.overflow_output for s in squeezed.stages) > 0


def test_accuracy_rejects_other_solvers() -> None:
    net = odenet(OdeNetSpec(name="rk", channels=(4, 8, 8), steps=(1, 1, 1), input_hw=8, solver="rk4"))
    with pytest.raises(BadArgument, match="solver='rk4'"):
        make_stages(net, np.random.default_rng(0), end_time=1.0, h_frac_bits=8)


def test_fit_verdict_at_the_capacity_edge() -> None:
    design = load_kernel(ROOT / "kernels" / "rodenet-pynq-z2.yaml")
    net = odenet_variant("odenet")
    layers = _on_chip_layers(design, net, on_chip_names(net, ("layer1",)))
    # by hand: 2 weight buffers x 16 banks x 3 BRAM18 (2304 x 16 bit) + biases 1 + 2 feature maps x 4 banks x
    # 16 BRAM18 (16384 x 16 bit) = 225
    def board(bram18: int) -> SimpleNamespace:
        fabric = SimpleNamespace(available_dsp=220, available_bram18=bram18, available_uram=0,
                                 available_luts=53_200, available_ffs=106_400, dsp=SimpleNamespace(type="DSP48E1"))
        return SimpleNamespace(id="edge", fabric=fabric)

    fits = evaluate_fit(board(225), design, dsp_types=load_dsp_types(), layers=layers)
    assert fits.fits and fits.row("BRAM18").used == 225
    over = evaluate_fit(board(224), design, dsp_types=load_dsp_types(), layers=layers)
    assert not over.fits
    assert "BRAM18 needs 225 blocks, 224 available (over by 1)" in over.verdict


STUDY = """\
schema: 1
ode_study:
  name: tiny
  board: zcu104
  kernel: {kernel}
  baseline: odenet
  network: {{channels: [8, 16, 32], input_hw: 16}}
  variants:
    - {{name: odenet, steps: [2, 2, 2]}}
    - {{name: ds, dsc: ode_and_down, steps: [{steps}, 2, 2]}}
  fit_bit_widths: [8, 16]
  accuracy: {{variant: ds, bit_widths: [10, 16], inputs: 4, input_hw: 8, channels: [8, 8, 8], seed: 2}}
  timing:
    variants: [{timed}]
    images: 2
    cpu: {{simd_issue_fraction: 0.5, efficiency: 1.0, source: test}}
  paper: {{reduction_percent: [54.2, 79.8], speedups: {{PDP 2022: 27.9}}, source: test}}
"""


def _write(tmp_path: Path, *, steps: str = "2", timed: str = "ds", extra: str = "") -> Path:
    path = tmp_path / "study.yaml"
    kernel = ROOT / "kernels" / "dsodenet-zcu104-8x8.yaml"
    path.write_text(STUDY.format(kernel=kernel, steps=steps, timed=timed) + extra)
    return path


def test_end_to_end_small_study(tmp_path: Path) -> None:
    path = _write(tmp_path)
    results = run_ode_study(path, tmp_path / "out")
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == [".fpgasim-outputs.json", "accuracy.png", "report.md", "results.json"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "54.2-79.8 %" in report and "27.9x" in report and "| ds |" in report
    variants = {v["variant"]: v for v in results["parameters"]["variants"]}
    assert variants["odenet"]["reduction_percent"] == 0.0
    assert 0 < variants["ds"]["reduction_percent"] < 100
    row = results["timing"]["rows"][0]
    assert row["speedup"] == pytest.approx(row["software_us"] / row["image_us"])
    assert row["image_us"] == pytest.approx(sum(row["breakdown_us"].values()), rel=1e-3)  # mean/image
    assert json.loads((tmp_path / "out" / "results.json").read_text())["name"] == "tiny"
    again = run_ode_study(path, tmp_path / "out2")
    assert again == results
    for name in ("report.md", "results.json"):
        assert (tmp_path / "out" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes()


def test_timed_variant_that_does_not_fit_is_exit_3(tmp_path: Path) -> None:
    path = _write(tmp_path)
    text = path.read_text().replace("channels: [8, 16, 32], input_hw: 16", "channels: [64, 128, 256], input_hw: 32")
    path.write_text(text.replace("variants: [ds]", "variants: [odenet]"))
    with pytest.raises(DoesNotFit, match="BRAM18 needs"):
        run_ode_study(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(("kwargs", "extra", "fragment"), [
    ({"steps": "0"}, "", "steps[0]=0"),
    ({}, "  bogus: 1\n", "bogus"),
    ({"timed": "nope"}, "", "nope"),
])
def test_config_errors_name_the_key(tmp_path: Path, kwargs: dict, extra: str, fragment: str) -> None:
    path = _write(tmp_path, **kwargs, extra=extra)
    with pytest.raises((ConfigError, BadArgument)) as info:
        run_ode_study(path, tmp_path / "out")
    assert fragment in str(info.value)
    assert not (tmp_path / "out").exists()


def test_unknown_solver_and_bad_step_size(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text().replace("input_hw: 16}", "input_hw: 16, solver: midpoint}"))
    with pytest.raises(ConfigError, match="solver"):
        run_ode_study(path, tmp_path / "out")
    path.write_text(_write(tmp_path).read_text().replace("input_hw: 16}", "input_hw: 16, end_time: 0}"))
    with pytest.raises(ConfigError, match="end_time"):
        run_ode_study(path, tmp_path / "out")


def test_untileable_channels(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text().replace("channels: [8, 16, 32]", "channels: [12, 24, 48]"))
    with pytest.raises(BadArgument, match="not a multiple of the engine's"):
        run_ode_study(path, tmp_path / "out")


@pytest.mark.parametrize("name", ["dsodenet-zcu104.yaml", "rodenet-pynq-z2.yaml"])
def test_shipped_experiments_load(name: str) -> None:
    loaded = load_study(ROOT / "experiments" / name)
    study, board, design = loaded.study, loaded.board, loaded.design
    assert study.baseline in {v.name for v in study.variants}
    assert board.processor is not None and design.type.value == "dsc_ode"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dsodenet-zcu104.yaml", "rodenet-pynq-z2.yaml"])
def test_shipped_experiments_run(tmp_path: Path, name: str) -> None:
    results = run_ode_study(ROOT / "experiments" / name, tmp_path)
    assert results["timing"]["rows"] and all(r["speedup"] > 0 for r in results["timing"]["rows"])


def test_state_spills_to_ddr_when_feature_maps_do_not_fit(tmp_path: Path) -> None:
    """At 256x256 the ds variant's feature maps overflow the URAM: the largest states move to DDR
    (weights stay on chip, loaded once); the smallest (layer3_2) still fits. The spilled run is
    slower than the same plan with every state on chip by at least its DMA time, and the report
    says which block spilled and how many bytes per step."""
    from fpgasim.study.dsodenet._timing import time_variant
    from fpgasim.study.dsodenet.tables import state_placement

    path = _write(tmp_path)
    path.write_text(path.read_text().replace("input_hw: 16}", "input_hw: 256}"))
    loaded = load_study(path)
    study, board, design = loaded.study, loaded.board, loaded.design
    variant = study.variant("ds")
    net = odenet(study.spec(variant))
    names = on_chip_names(net, variant.on_chip)
    on_chip_fit = evaluate_fit(board, design, dsp_types=load_dsp_types(), limits=study.fit_limits,
                               layers=_on_chip_layers(design, net, names))
    assert not on_chip_fit.fits
    spilled, verdict = state_placement(study, board, design, net, names)
    assert verdict.fits and spilled == {"layer1", "layer2_1", "layer2_2", "layer3_1"}
    results = run_ode_study(path, tmp_path / "out")
    row = results["timing"]["rows"][0]
    # layer1: 8 x 256 x 256 state, 16-bit, read + written once per Euler step
    assert row["spill_bytes_per_step"]["layer1"] == 2 * 8 * 256 * 256 * 2
    assert row["state"]["layer1"] == "state spilled to DDR: 2,097,152 bytes per step"
    assert row["state"]["layer3_2"] == "state on chip" and row["spill_bytes_per_step"]["layer3_2"] == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "layer1: state spilled to DDR: 2,097,152 bytes per step" in report
    assert "layer3_2: state on chip" in report
    spill = time_variant(net, variant.on_chip, design, board, study.timing, spilled=spilled)
    ideal = time_variant(net, variant.on_chip, design, board, study.timing)
    # the DMA time of layer1's state is at least its bytes at the DDR channel's sustained rate, per image
    steps = next(layer.evals for layer in net.layers if layer.name == "layer1")
    ddr_bytes_per_s = board.memory_channel(study.timing.memory).sustained_bytes_per_s
    assert spill.breakdown_ps["spill layer1"] >= steps * 2 * 8 * 256 * 256 * 2 / ddr_bytes_per_s * 1e12
    spill_dma_ps = sum(v for k, v in spill.breakdown_ps.items() if k.startswith("spill "))
    assert spill.image_ps >= ideal.image_ps + spill_dma_ps
    assert spill.weights_ps == ideal.weights_ps
    assert spill.image_ps * 1e-6 == pytest.approx(row["image_us"])


@pytest.mark.parametrize("images", [1, 3])
def test_the_ps_pl_split_is_a_placement_on_the_executor(tmp_path: Path, images: int) -> None:
    """Every layer on the PS takes exactly the CPU model's time; moving a block from the PL to
    the PS replaces its DMA and engine time by that CPU time; the weights load once, before the
    first image, whatever the number of images."""
    from dataclasses import replace

    from fpgasim.study.dsodenet._timing import layer_ops, time_variant

    loaded = load_study(_write(tmp_path))
    study, board, design = loaded.study, loaded.board, loaded.design
    spec = replace(study.timing, images=images)
    net = odenet(study.spec(study.variant("ds")))
    cpu = {layer.name: cpu_time_ps(layer_ops(layer), spec.cpu, board.processor) for layer in net.layers}
    everything = time_variant(net, ("all",), design, board, spec)
    moved = time_variant(net, ("layer1", "layer2_1", "layer2_2", "layer3_1"), design, board, spec)
    software = time_variant(net, (), design, board, spec)
    assert software.image_ps == software.first_image_ps == sum(cpu.values()) and software.weights_ps == 0
    assert software.breakdown_ps == {f"cpu {name}": ps for name, ps in cpu.items()}
    assert "pl layer3_2" in everything.breakdown_ps and "cpu layer3_2" not in everything.breakdown_ps
    assert moved.breakdown_ps["cpu layer3_2"] == cpu["layer3_2"] and "pl layer3_2" not in moved.breakdown_ps
    for res in (everything, moved):
        for name in set(cpu) - set(res.on_chip):
            assert res.breakdown_ps[f"cpu {name}"] == cpu[name]
        assert res.weights_ps > 0
        assert res.first_image_ps - res.weights_ps == pytest.approx(res.image_ps, rel=1e-3)  # clock phase apart
        if images == 1:  # every picosecond of an image is in one phase
            assert res.image_ps == sum(res.breakdown_ps.values())
    one = time_variant(net, ("all",), design, board, replace(spec, images=1))
    assert one.weights_ps == everything.weights_ps and one.first_image_ps == everything.first_image_ps
    # layer3_2 sits between layer3_1 (PL) and avgpool (PS): on the PS, the PL hands its feature map
    # over after layer3_1 instead of layer3_2
    pl_share = everything.breakdown_ps["pl layer3_2"]
    assert moved.image_ps - everything.image_ps == pytest.approx(cpu["layer3_2"] - pl_share, abs=0.05 * pl_share)
    assert moved.weights_ps < everything.weights_ps


def test_calibrated_software_model_gives_a_second_speedup(tmp_path: Path) -> None:
    """With ``timing.calibrated_cpu`` each timed row carries both speedups: the peak bound (the old
    ``speedup``) and the one over the fitted A53 model, whose software-only time is the sum of its
    layers' calibrated times; the report names the measurements that calibrated it."""
    from fpgasim.hw.compute import load_compute_devices
    from fpgasim.study.dsodenet._cpu import calibrated_layer_ps

    path = _write(tmp_path)
    calibrated = "source: test}\n    calibrated_cpu: {device: zcu104_ps_a53}\n"
    path.write_text(path.read_text().replace("source: test}\n", calibrated, 1))
    results = run_ode_study(path, tmp_path / "out")
    row = results["timing"]["rows"][0]
    assert row["speedup_peak_bound"] == row["speedup"]
    assert row["speedup_calibrated"] == pytest.approx(row["software_calibrated_us"] / row["image_calibrated_us"])
    spec = load_compute_devices()["zcu104_ps_a53"]
    loaded = load_study(path)
    ds = loaded.study.variant("ds")
    network = odenet(loaded.study.spec(ds))
    expected_us = sum(calibrated_layer_ps(layer, spec, element_bits=32, batch=1) for layer in network.layers) / 1e6
    assert row["software_calibrated_us"] == pytest.approx(expected_us)
    assert 0 < row["software_calibrated_dispatch_share"] < 1
    cal = results["timing"]["calibrated_cpu"]
    assert cal["device"] == cal["efficiency_from"] == "zcu104_ps_a53"
    assert cal["fits"]["a53_lcp_rpi"]["measurements_ms"]["vgg16_fc"] == 9381
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### Speedup over the calibrated software model" in report and "vgg16_fc 9381 ms" in report


@pytest.mark.parametrize(("calibrated", "fragment"), [
    ("{device: zcu104_ps_a35}", "timing.calibrated_cpu.device: unknown compute device 'zcu104_ps_a35'; known: "),
    ("{device: pynq_z2_ps_a9}", "timing.calibrated_cpu.device: compute device 'pynq_z2_ps_a9' is not calibrated; "
                                "calibrated: rpi3b_plus_a53, zcu102_ps_a53, zcu104_ps_a53"),
    ("{device: pynq_z2_ps_a9, efficiency_from: rpi4}", "timing.calibrated_cpu.efficiency_from: unknown compute "
                                                       "device 'rpi4'"),
])
def test_a_bad_calibrated_device_is_refused_before_anything_is_written(tmp_path: Path, calibrated: str,
                                                                     fragment: str) -> None:
    path = _write(tmp_path)
    path.write_text(path.read_text().replace("source: test}\n", f"source: test}}\n    calibrated_cpu: {calibrated}\n",
                                             1))
    with pytest.raises(ConfigError) as info:
        run_ode_study(path, tmp_path / "out")
    assert fragment in str(info.value)
    assert not (tmp_path / "out").exists()
