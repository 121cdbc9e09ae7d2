"""`fpgasim fit`: exit codes, table, JSON, and every error path (type, exit code, message)."""

import json
from pathlib import Path

import pytest

from fpgasim.cli.main import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT, EXIT_OK, main
from fpgasim.kernels import KERNELS_DIR

FP32 = str(KERNELS_DIR / "superlip-conv-64x7-fp32.yaml")
BIT16 = str(KERNELS_DIR / "superlip-conv-16bit.yaml")


def test_fp32_design_fits_zcu102(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "zcu102", FP32]) == EXIT_OK
    out = capsys.readouterr().out
    assert "superlip-conv-64x7-fp32 on zcu102" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].isalpha()}
    assert lines["DSP"][1:3] == ["2240", "2520"]
    assert lines["BRAM18"][1:3] == ["1180", "1824"]
    assert "LUT (est.)" in out and "verdict: fits" in out
    assert out.count("bram18") >= 3          # ifm, weights, ofm rows of the buffer table


def test_fp32_design_does_not_fit_ultra96(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "ultra96v2", FP32]) == EXIT_DOES_NOT_FIT
    captured = capsys.readouterr()
    assert "DSP" in captured.out and "OVER" in captured.out          # the table is still printed
    assert "does not fit: DSP needs 2240 slices, 360 available (over by 1880)" in captured.err
    assert "MAC array Tm=64 x Tn=7" in captured.err


def test_16bit_does_not_fit_pynq_z2_on_bram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "pynq_z2", BIT16]) == EXIT_DOES_NOT_FIT
    err = capsys.readouterr().err
    assert "BRAM18 needs 1038 blocks, 280 available" in err and "buffer weights" in err


def test_finn_limits_make_zcu102_too_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "zcu102", FP32, "--limits", "finn"]) == EXIT_DOES_NOT_FIT
    assert "DSP needs 2240 slices, 2016 available" in capsys.readouterr().err


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "ultra96v2", FP32, "--json"]) == EXIT_DOES_NOT_FIT
    text = capsys.readouterr().out
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"
    assert doc["fits"] is False and doc["board"] == "ultra96v2" and doc["schema_version"] == 1
    dsp = next(row for row in doc["resources"] if row["resource"] == "DSP")
    assert (dsp["used"], dsp["available"]) == (2240, 360)


def test_bad_kernel_yaml_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(FP32).read_text(encoding="utf-8").replace("tm: 64 ", "tm: -1 "), encoding="utf-8")
    assert main(["fit", "zcu102", str(bad)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(bad) in err and "kernel.parallelism.tm" in err and "greater than 0" in err


def test_unknown_board_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "no_such_board", FP32]) == EXIT_BAD_INPUT
    assert "no_such_board" in capsys.readouterr().err


def test_missing_kernel_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["fit", "zcu102", str(missing)]) == EXIT_BAD_INPUT
    assert "file not found" in capsys.readouterr().err


def test_bad_limits_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fit", "zcu102", FP32, "--limits", "tight"])
    assert info.value.code == EXIT_BAD_INPUT
    assert "invalid choice: 'tight'" in capsys.readouterr().err


def test_network_sizes_dsc_ode_buffers(capsys: pytest.CaptureFixture[str]) -> None:
    kernel = str(KERNELS_DIR / "dsodenet-engine.yaml")
    assert main(["fit", "zcu104", kernel, "--json"]) == EXIT_OK
    alone = json.loads(capsys.readouterr().out)
    assert alone["buffers"] == [] and alone["network"] is None
    assert main(["fit", "zcu104", kernel, "--network", "vgg16", "--json"]) == EXIT_DOES_NOT_FIT
    doc = json.loads(capsys.readouterr().out)
    assert doc["network"] == "vgg16"
    names = [buffer["name"] for buffer in doc["buffers"]]
    assert "weights_conv1_1" not in names and "weights_conv1_2" in names   # conv1_1 is pre-processing
    assert names[-3:] == ["feature_maps[0]", "feature_maps[1]", "feature_maps[2]"]


def test_unknown_network_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "zcu102", FP32, "--network", "resnet"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "network 'resnet': expected a zoo name, a .yaml network file or an .onnx model" in err
    assert "did you mean" in err


ROOT = Path(__file__).resolve().parents[2]
SMALL_CNN = str(ROOT / "experiments" / "models" / "small-cnn.onnx")


@pytest.mark.parametrize(("network", "extra", "weights", "first"), [
    ("resnet18", [], {"weights_layer1.0.conv1", "weights_layer4.1.conv2"}, "conv1"),
    (SMALL_CNN, ["--input-shape", "1", "3", "32", "32"], {"weights_conv2", "weights_conv3"}, "conv1"),
    ("{file}", [], {"weights_c2"}, "c1"),
])
def test_network_takes_a_zoo_graph_a_network_file_and_an_onnx_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], network: str, extra: list[str], weights: set[str],
        first: str) -> None:
    """A dsc_ode engine sizes its buffers from the network's conv layers in any of the three forms (the
    leading dense conv is pre-processing: no buffer)."""
    file = tmp_path / "net.yaml"
    file.write_text("schema: 1\nnetwork:\n  nodes:\n    - {name: x, op: input, shape: [3, 16, 16]}\n"
                    "    - {name: c1, op: conv, inputs: [x], out_channels: 8, kernel: 3, padding: 1}\n"
                    "    - {name: c2, op: depthwise, inputs: [c1], kernel: 3, padding: 1}\n", encoding="utf-8")
    kernel = str(KERNELS_DIR / "dsodenet-engine.yaml")
    code = main(["fit", "zcu104", kernel, "--network", network.format(file=file), *extra, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code in (EXIT_OK, EXIT_DOES_NOT_FIT)
    names = {buffer["name"] for buffer in doc["buffers"]}
    assert {name for name in names if name.startswith("weights_")} >= weights
    assert f"weights_{first}" not in names


def test_a_dynamic_onnx_network_without_input_shape_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "zcu104", str(KERNELS_DIR / "dsodenet-engine.yaml"), "--network", SMALL_CNN]) == EXIT_BAD_INPUT
    assert "has dynamic dimensions" in capsys.readouterr().err
