"""Values end to end: ``fpgasim run --input X.npy --save-outputs`` feeds a user's float input to a graph
network, quantised to the design's format, and writes its dequantised outputs; bad input files are
refused (exit 2, nothing written); the report gives the agreement with the float64 reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import yaml

from fpgasim.cli.main import main
from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import quantize
from fpgasim.kernels import load_kernel_file
from fpgasim.nn import Graph, NodeSpec
from fpgasim.nn.evaluate import agreement, evaluate_fixed
from fpgasim.nn.onnx import import_onnx
from fpgasim.study.experiment.graph_values import AGREEMENT_BITS, read_inputs
from tests.study.test_network_sources import _small_onnx

ROOT = Path(__file__).resolve().parents[3]
KERNEL = ROOT / "kernels" / "superlip-conv-16bit.yaml"


def _one_board(tmp_path: Path, network: dict, *, mode: str = "functional") -> Path:
    """An experiment running ``network`` on one ZCU102 with the 16-bit engine."""
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({"schema": 1, "experiment": {
        "name": "values", "network": network, "board": "zcu102", "kernel": str(KERNEL),
        "memory": {"channel": "ps_ddr4", "burst_bytes": 2048}, "mode": mode}}), encoding="utf-8")
    return path


def _two_inputs() -> Graph:
    return Graph.build(name="two", batch=2, specs=[
        NodeSpec(name="a", op="input", attrs={"shape": (2, 3, 3)}),
        NodeSpec(name="b", op="input", attrs={"shape": (1, 3, 3)}),
        NodeSpec(name="cat", op="concat", inputs=("a", "b"))])


def test_read_inputs_takes_a_npy_for_one_input_and_a_npz_for_several(tmp_path: Path) -> None:
    one = Graph.build(name="one", batch=1, specs=[NodeSpec(name="x", op="input", attrs={"shape": (2, 3, 3)})])
    x = np.arange(18, dtype=np.int32).reshape(1, 2, 3, 3)
    np.save(tmp_path / "x.npy", x)
    got = read_inputs(tmp_path / "x.npy", one)
    assert list(got) == ["x"] and got["x"].dtype == np.float64 and np.array_equal(got["x"], x)
    a, b = np.ones((2, 2, 3, 3)), np.zeros((2, 1, 3, 3), np.float32)
    np.savez(tmp_path / "ab.npz", b=b, a=a)
    got = read_inputs(tmp_path / "ab.npz", _two_inputs())
    assert np.array_equal(got["a"], a) and np.array_equal(got["b"], b)


@pytest.mark.parametrize(("write", "fragment"), [
    (lambda p: np.save(p / "in.npy", np.zeros((2, 2, 3, 3))), "one array, but the network has 2 inputs"),
    (lambda p: np.savez(p / "in.npz", a=np.zeros((2, 2, 3, 3))), "arrays ['a']; expected one per network input: "
                                                                  "'a' [2, 2, 3, 3], 'b' [2, 1, 3, 3]"),
    (lambda p: np.savez(p / "in.npz", a=np.zeros((1, 2, 3, 3)), b=np.zeros((2, 1, 3, 3))),
     "array 'a' has shape [1, 2, 3, 3]; expected [2, 2, 3, 3]"),
    (lambda p: np.savez(p / "in.npz", a=np.full((2, 2, 3, 3), np.nan), b=np.zeros((2, 1, 3, 3))),
     "holds 36 values that are NaN or infinite"),
    (lambda p: np.savez(p / "in.npz", a=np.zeros((2, 2, 3, 3), complex), b=np.zeros((2, 1, 3, 3))),
     "has dtype complex128; expected real numbers"),
    (lambda p: np.savez(p / "in.npz", a=np.zeros((2, 2, 3, 3), bool), b=np.zeros((2, 1, 3, 3))),
     "has dtype bool"),
    (lambda p: np.savez(p / "in.npz", a=np.array([{"x": 1}] * 36, dtype=object).reshape(2, 2, 3, 3),
                        b=np.zeros((2, 1, 3, 3))), "an array cannot be read"),
    (lambda p: (p / "in.npy").write_text("not numpy"), "not a readable .npy/.npz file"),
    (lambda p: None, "no such file"),
])
def test_read_inputs_refuses_a_bad_file_naming_it_and_the_expected_shapes(tmp_path: Path, write, fragment) -> None:
    write(tmp_path)
    files = sorted(tmp_path.iterdir())
    path = files[0] if files else tmp_path / "missing.npy"
    with pytest.raises(BadArgument) as caught:
        read_inputs(path, _two_inputs())
    assert str(caught.value).startswith(f"--input {path}: ") and fragment in str(caught.value)


def test_run_with_input_and_save_outputs_writes_the_dequantised_outputs_of_that_input(tmp_path: Path) -> None:
    """One board, an ONNX model: outputs.npz holds exactly the fixed-point evaluation of the user's
    input (quantised with the design's rounding and overflow), dequantised; its bytes are
    deterministic; it agrees with onnxruntime's float output as the report says it agrees with the
    float64 reference."""
    model = _small_onnx(tmp_path / "small.onnx")
    experiment = _one_board(tmp_path, {"onnx": str(model), "input_shape": [3, 4, 8, 8]})
    x = np.random.default_rng(5).normal(size=(3, 4, 8, 8))
    np.save(tmp_path / "x.npy", x)
    blobs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert main(["run", str(experiment), "--out", str(out), "--input", str(tmp_path / "x.npy"),
                     "--save-outputs", "--no-trace"]) == 0
        blobs.append((out / "outputs.npz").read_bytes())
    assert blobs[0] == blobs[1]
    saved = np.load(tmp_path / "a" / "outputs.npz", allow_pickle=False)
    imported = import_onnx(model, input_shape=[3, 4, 8, 8])
    requant = load_kernel_file(KERNEL).precision.fixed.requantizer()
    q = quantize(x, requant.out, rounding=requant.rounding, overflow=requant.overflow)[0]
    expected = evaluate_fixed(imported.graph, {"x": q}, imported.weights, fmt=requant.out, requant=requant)
    assert saved.files == ["fc"] and saved["fc"].shape == (3, 5, 1, 1)
    assert np.array_equal(saved["fc"], expected["fc"].to_float())
    theirs = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.astype(np.float32)})[0]
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert results["input"] == str(tmp_path / "x.npy") and results["totals"]["bit_exact"] is True
    rows = {row["word_bits"]: row for row in results["agreement"]}
    assert sorted(rows) == sorted({*AGREEMENT_BITS, 16}) and rows[16]["emulated"] is True
    vs_onnxruntime = agreement(theirs, saved["fc"].reshape(3, 5))
    assert vs_onnxruntime.snr_db > 30 and abs(vs_onnxruntime.snr_db - rows[16]["snr_db"]) < 0.5
    assert rows[8]["snr_db"] < rows[12]["snr_db"] < rows[16]["snr_db"]
    report = (tmp_path / "a" / "report.md").read_text()
    assert "| fc | 16 | ⟨16, 6⟩ | emulated |" in report and "`y` is node `fc`" in report


def test_a_platform_run_saves_its_outputs_and_reports_seeded_inputs(tmp_path: Path, capsys) -> None:
    """The shipped three-device experiment: no --input (seeded inputs), --save-outputs."""
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "experiments" / "hetero-residual.yaml"), "--out", str(out), "--save-outputs",
                 "--no-trace"]) == 0
    assert "agreement of prob with the float64 reference at 16 bits: SNR" in capsys.readouterr().out
    saved = np.load(out / "outputs.npz", allow_pickle=False)
    assert saved.files == ["prob"] and saved["prob"].shape == (1, 10, 1, 1)
    assert abs(float(saved["prob"].sum()) - 1) < 0.01  # a softmax, dequantised
    results = json.loads((out / "results.json").read_text())
    assert results["input"] is None and results["totals"]["bit_exact"] is True
    assert "seeded uniform(−1, 1) (seed 0)" in (out / "report.md").read_text()


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--mode", "timing", "--save-outputs"], "--save-outputs: values need functional mode, and this run is in "
                                             "timing mode (pass --mode functional)"),
    (["--input", "{x}", "--mode", "timing"], "--input: values need functional mode"),
    (["--input", "{bad}"], "expected [1, 8, 16, 16] (N, C, H, W"),
])
def test_bad_value_flags_exit_2_and_write_nothing(tmp_path: Path, capsys, extra, fragment) -> None:
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 16, 16)))
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 16, 16)))
    args = [arg.format(x=tmp_path / "x.npy", bad=tmp_path / "bad.npy") for arg in extra]
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "experiments" / "hetero-residual.yaml"), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in " ".join(err.split())
    if "{bad}" in extra:
        assert str(tmp_path / "bad.npy") in err
    assert not out.exists()


def test_a_layer_list_experiment_refuses_the_value_flags(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(ROOT / "experiments" / "alexnet-zcu102.yaml"), "--out", str(out), "--save-outputs"]) == 2
    assert "only a graph network carries values end to end" in capsys.readouterr().err
    assert not out.exists()


def test_onnx_example_input_named_after_the_onnx_input(tmp_path: Path) -> None:
    """The shipped ONNX model's input is named ``input``: a .npz keyed by that name is accepted."""
    graph = import_onnx(ROOT / "experiments" / "models" / "small-cnn.onnx", input_shape=[1, 3, 32, 32]).graph
    np.savez(tmp_path / "x.npz", input=np.zeros((1, 3, 32, 32)))
    assert list(read_inputs(tmp_path / "x.npz", graph)) == ["input"]
