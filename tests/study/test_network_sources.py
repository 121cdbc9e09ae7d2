"""A platform experiment names its network by a network file or an ONNX model as well as by a graph:
the same run, the ONNX model's own weights in functional mode, and exactly one form refused alike
by validate and run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import helper

from fpgasim.cli.main import main
from tests.strategies.onnx_models import init, onnx_model

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "hetero-residual.yaml"


@pytest.fixture()
def experiment_file(tmp_path: Path):
    made: list[Path] = []

    def make(network: dict, placement: dict | None = None) -> Path:
        document = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))
        document["experiment"]["network"] = network
        document["experiment"]["placement"] = placement or document["experiment"]["placement"]
        path = ROOT / "experiments" / f".test-{tmp_path.name}-{len(made)}.yaml"  # kernels resolve beside it
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        made.append(path)
        return path

    yield make
    for path in made:
        path.unlink(missing_ok=True)


def _small_onnx(path: Path) -> Path:
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="c1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="c2", pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["add"], name="add"),
             helper.make_node("MaxPool", ["add"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1)]
    inits = [init("w1", rng.normal(0, 0.2, (8, 4, 3, 3))), init("b1", rng.normal(0, 0.1, 8)),
             init("w2", rng.normal(0, 0.2, (8, 8, 3, 3))), init("fc", rng.normal(0, 0.3, (5, 8))),
             init("fcb", rng.normal(0, 0.1, 5))]
    onnx.save(onnx_model(nodes, inits, {"x": ("N", 4, 8, 8)}, {"y": ("N", 5)}), str(path))
    return path


def test_an_onnx_model_runs_functional_on_a_platform_with_its_own_weights(tmp_path: Path, experiment_file) -> None:
    model = _small_onnx(tmp_path / "small.onnx")
    experiment = experiment_file({"onnx": str(model), "input_shape": [2, 4, 8, 8]}, {"default": "fpga0"})
    assert main(["validate", str(experiment)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(experiment), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    nodes = {node["name"]: node for node in results["nodes"]}
    assert list(nodes) == ["x", "c1", "r1", "c2", "add", "pool", "gap", "fc"]
    assert results["totals"]["bit_exact"] is True and results["experiment"]["batch"] == 2
    assert nodes["c1"]["macs"] == 2 * 8 * 64 * 36 and nodes["fc"]["engine"] == "mac_array"


def test_a_network_file_runs_like_the_same_graph_inline(tmp_path: Path, experiment_file) -> None:
    inline = yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))["experiment"]["network"]
    network = tmp_path / "residual.yaml"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {**inline["graph"], "batch": 1}}), encoding="utf-8")
    assert main(["validate", str(network)]) == 0
    runs = {}
    for form, ref in (("file", {"file": str(network)}), ("graph", inline)):
        out = tmp_path / form
        assert main(["run", str(experiment_file(ref)), "--out", str(out), "--mode", "timing"]) == 0
        runs[form] = json.loads((out / "results.json").read_text())
    assert runs["file"]["nodes"] == runs["graph"]["nodes"]


@pytest.mark.parametrize(("network", "message"), [
    ({"zoo": "tiny_cnn", "onnx": "m.onnx"}, "expected exactly one of `zoo`, `graph`, `file` or `onnx`; found `zoo`, "
                                            "`onnx`"),
    ({"zoo": "tiny_cnn", "input_shape": [1, 3, 8, 8]}, "only an `onnx` network takes an input_shape"),
    ({"onnx": "no-such-model.onnx"}, "file not found"),
    ({"file": "no-such-network.yaml"}, "file not found"),
])
def test_bad_network_forms_are_refused_by_validate_and_run(tmp_path: Path, experiment_file, capsys, network,
                                                          message) -> None:
    experiment = experiment_file(network)
    for command in (["validate", str(experiment)], ["run", str(experiment), "--out", str(tmp_path / "out")]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert message in captured.out + captured.err
    assert not (tmp_path / "out").exists()


def test_an_onnx_model_the_importer_refuses_is_located_at_network_onnx(tmp_path: Path, experiment_file,
                                                                       capsys) -> None:
    model = _small_onnx(tmp_path / "small.onnx")
    assert main(["validate", str(experiment_file({"onnx": str(model)}, {"default": "fpga0"}))]) == 2
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert "experiment.network.onnx:" in err and "dynamic dimensions" in err


def test_a_zoo_graph_on_one_board_runs_on_the_graph_executor(tmp_path: Path) -> None:
    """LeNet-5 (a zoo graph) named by `zoo:` with board/kernel/memory: timing mode, one row per node."""
    text = (ROOT / "experiments" / "alexnet-zcu102.yaml").read_text(encoding="utf-8")
    experiment = ROOT / "experiments" / f".test-{tmp_path.name}-lenet.yaml"
    experiment.write_text(text.replace("{zoo: alexnet_conv, shapes: merged, batch: 1}", "{zoo: lenet5, batch: 1}"),
                          encoding="utf-8")
    try:
        out = tmp_path / "out"
        assert main(["run", str(experiment), "--out", str(out)]) == 0
    finally:
        experiment.unlink()
    results = json.loads((out / "results.json").read_text())
    assert results["totals"]["macs"] == 416_520 and len(results["nodes"]) == 13
    assert {node["engine"] for node in results["nodes"]} == {"relabel", "mac_array", "vector"}


def test_a_sweep_over_a_graph_network_emulates_every_point(tmp_path: Path) -> None:
    """A graph network on one board (here the shipped ONNX model) sweeps like a layer list; its
    points are emulated (a graph has no closed form yet), so both fidelities agree."""
    import json

    from fpgasim.cli.main import main

    root = Path(__file__).resolve().parents[2]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""schema: 1
sweep:
  name: onnx-tm
  base: {root / 'experiments' / 'onnx-small-cnn-zcu102.yaml'}
  sampling: grid
  axes:
    - {{key: kernel.parallelism.tm, values: [32, 64]}}
  objectives: [latency_ms, dsp]
  pareto: [dsp, latency_ms]
  recheck: {{top_k: 1, rank_by: latency_ms}}
""", encoding="utf-8")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    points = json.loads((tmp_path / "out" / "points.json").read_text())["points"]
    dsp = sorted(point["analytical"]["dsp"] for point in points)
    assert dsp == [224, 448]  # 32×7 and 64×7 16-bit MACs, one DSP each
    rechecked = [point for point in points if point.get("emulated")]
    assert rechecked and all(point["emulated"]["latency_ms"] == point["analytical"]["latency_ms"]
                             for point in rechecked)
    assert {row["name"] for row in points[0]["layers"]} >= {"conv1", "fc"}


def test_a_sweep_over_a_platform_experiment_is_refused_with_the_reason(tmp_path: Path, capsys) -> None:
    from fpgasim.cli.main import main

    root = Path(__file__).resolve().parents[2]
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""schema: 1
sweep:
  name: hetero
  base: {root / 'experiments' / 'hetero-residual.yaml'}
  axes: [{{key: experiment.network.batch, values: [1, 2]}}]
  objectives: [latency_ms]
""", encoding="utf-8")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == 2
    assert "sweeping platforms is not supported yet" in capsys.readouterr().err


def test_windowed_attention_in_a_network_file_runs_bit_exact(tmp_path: Path) -> None:
    """A network file with grid-windowed scores and attend (window: [2, 3], dilated: true), batch 2,
    on one ZCU102 with the transformer design: validate passes, the functional run is bit exact and
    each product's MACs are E·L per position over the whole map for both samples."""
    nodes = [{"name": "x", "op": "input", "shape": [8, 4, 6]},
             *({"name": name, "op": "pointwise", "inputs": ["x"], "out_channels": 8} for name in "qkv"),
             {"name": "s", "op": "scores", "inputs": ["q", "k"], "heads": 2, "scale": 0.5, "window": [2, 3],
              "dilated": True},
             {"name": "p", "op": "softmax", "inputs": ["s"], "groups": 2},
             {"name": "a", "op": "attend", "inputs": ["p", "v"], "heads": 2, "window": [2, 3], "dilated": True}]
    (tmp_path / "net.yaml").write_text(yaml.safe_dump({"schema": 1, "network": {"name": "w", "batch": 2,
                                                                                "nodes": nodes}}), encoding="utf-8")
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(yaml.safe_dump({"schema": 1, "experiment": {
        "name": "window-attention", "network": {"file": "net.yaml"}, "board": "zcu102",
        "kernel": str(ROOT / "kernels" / "superlip-conv-16bit-transformer.yaml"),
        "memory": {"channel": "ps_ddr4", "burst_bytes": 2048}, "mode": "functional"}}), encoding="utf-8")
    assert main(["validate", str(experiment)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(experiment), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    by_name = {node["name"]: node for node in results["nodes"]}
    assert results["totals"]["bit_exact"] is True
    assert by_name["s"]["macs"] == by_name["a"]["macs"] == 2 * 8 * 6 * 4 * 6
    assert by_name["s"]["engine"] == by_name["a"]["engine"] == "mac_array"
