"""The compute-device fit: the stored Cortex-A53 numbers are the fit's output, the solver recovers
known efficiencies from synthetic measurements, held-out predictions are honest (a class only the
held-out network has stays at the peak bound), and bad fit documents are refused with places."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from fpgasim.errors import ConfigError
from fpgasim.hw import BOARDS_DIR
from fpgasim.hw.compute import Efficiency, OpClass, load_compute_devices
from fpgasim.mapping.device_fit import (
    DeviceFitSpec, Measurement, fit_device, load_device_fits, stored_value,
)
from fpgasim.mapping.software import graph_software_s
from fpgasim.nn.zoo import zoo_graph

DEVICES = load_compute_devices()
FITS = load_device_fits()


@pytest.fixture(scope="module")
def a53_fit():
    return fit_device("a53_lcp_rpi", FITS["a53_lcp_rpi"])


def test_stored_a53_numbers_are_the_output_of_the_fit(a53_fit):
    fit = FITS["a53_lcp_rpi"]
    assert fit.device == "rpi3b_plus_a53" and set(fit.apply_to) == {"rpi3b_plus_a53", "zcu102_ps_a53", "zcu104_ps_a53"}
    for device in fit.apply_to:
        spec = DEVICES[device]
        assert spec.efficiency.calibrated
        assert {str(op): spec.efficiency.of(op) for op in fit.fitted} == a53_fit.efficiency
        assert spec.dispatch_overhead_us == a53_fit.dispatch_overhead_us
        assert spec.efficiency.elementwise == spec.efficiency.pool == 1.0   # not fitted


def test_fit_reports_every_measurement_with_its_residual_and_held_out_error(a53_fit):
    measured = {m.network: m.latency_ms for m in FITS["a53_lcp_rpi"].measurements}
    assert a53_fit.measured_ms == measured and set(a53_fit.held_out_ms) == set(measured)
    spec = DEVICES["rpi3b_plus_a53"]
    for network, latency in measured.items():
        graph = zoo_graph(network, **({"batch_norm": True} if network in ("resnet50", "resnet18", "mobilenet_v2")
                                      else {}))
        assert a53_fit.predicted_ms[network] == pytest.approx(graph_software_s(graph, spec, 32) * 1e3)
        assert a53_fit.residual(network) == pytest.approx(a53_fit.predicted_ms[network] / latency - 1)
    # only MobileNet-v2 has depthwise work: held out, its depthwise class cannot be identified
    assert a53_fit.held_out_unidentified["mobilenet_v2"] == ("depthwise",)
    assert all(not classes for name, classes in a53_fit.held_out_unidentified.items() if name != "mobilenet_v2")


def _synthetic(networks: dict[str, bool], truth: Efficiency, dispatch_us: float) -> DeviceFitSpec:
    """Measurements that a device with ``truth`` and ``dispatch_us`` would give, exactly."""
    spec = dataclasses.replace(DEVICES["rpi3b_plus_a53"], efficiency=truth, dispatch_overhead_us=dispatch_us)
    rows = []
    for network, batch_norm in networks.items():
        graph = zoo_graph(network, **({"batch_norm": True} if batch_norm else {}))
        rows.append(Measurement(network=network, batch_norm=batch_norm,
                                latency_ms=graph_software_s(graph, spec, 32) * 1e3))
    return DeviceFitSpec(device="rpi3b_plus_a53", element_bits=32, fitted=(OpClass.DENSE_CONV, OpClass.POINTWISE,
                                                                            OpClass.FC),
                         measurements=tuple(rows), apply_to=("rpi3b_plus_a53",))


def test_the_fit_recovers_known_efficiencies_and_overhead():
    truth = Efficiency(dense_conv=0.3, pointwise=0.15, fc=0.05, calibrated=True)
    fit = _synthetic({"alexnet_fc": False, "vgg16_fc": False, "resnet18": False, "squeezenet1_0": False,
                      "resnet50": False}, truth, dispatch_us=500.0)
    result = fit_device("synthetic", fit)
    assert result.efficiency == {"dense_conv": 0.3, "pointwise": 0.15, "fc": 0.05}
    assert result.dispatch_overhead_us == 500.0
    for network in result.measured_ms:
        assert abs(result.residual(network)) < 1e-3 and abs(result.held_out_error(network)) < 1e-3


def test_stored_value_keeps_four_significant_digits():
    assert stored_value(0.0020963) == 0.002096 and stored_value(8998.4) == 8998.0 and stored_value(1.0) == 1.0


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "fits.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_device_fits(path)
    assert all(p.file == str(path) and p.line is not None for p in info.value.problems)
    return {p.key_path: p.message for p in info.value.problems}


def test_unknown_devices_and_uncited_latencies_are_reported_with_places(tmp_path):
    text = (BOARDS_DIR / "device_fits.yaml").read_text()
    text = text.replace("device: rpi3b_plus_a53", "device: rpi3b_plus_a35", 1)
    text = text.replace("apply_to: [rpi3b_plus_a53, zcu102_ps_a53, zcu104_ps_a53]",
                        "apply_to: [rpi3b_plus_a53, zcu102_ps_a53, zcu106_ps_a53]")
    text = text.replace("latency_ms: {value: 2801, source: L1}", "latency_ms: 2801")
    problems = _problems(tmp_path, text)
    assert re.match(r"unknown compute device 'rpi3b_plus_a35'; known: aws_t2_micro, ",
                    problems["device_fits.a53_lcp_rpi.device"])
    assert problems["device_fits.a53_lcp_rpi.apply_to[2]"].startswith("unknown compute device 'zcu106_ps_a53'")
    assert problems["device_fits.a53_lcp_rpi.measurements[0].latency_ms"].startswith(
        "hardware number 2801 has no source")
    assert len(problems) == 3


def test_a_network_measured_twice_is_refused(tmp_path):
    text = (BOARDS_DIR / "device_fits.yaml").read_text().replace("network: vgg16_fc", "network: alexnet_fc", 1)
    problems = _problems(tmp_path, text)
    assert problems == {"device_fits.a53_lcp_rpi.measurements[1].network":
                        "network 'alexnet_fc' is measured twice; expected each once"}
