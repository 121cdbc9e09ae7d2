"""``fpgasim run``: exit codes, the files it writes, and nothing written on bad input."""

import json
from pathlib import Path

from fpgasim.cli.main import main

KERNELS = Path(__file__).resolve().parents[2] / "kernels"


def _experiment(tmp_path, *, kernel="superlip-conv-16bit.yaml", board="zcu102", extra=""):
    path = tmp_path / "exp.yaml"
    path.write_text(f"""schema: 1
experiment:
  name: cli-run
  network: {{zoo: alexnet_conv, shapes: merged}}
  board: {board}
  kernel: {KERNELS / kernel}
  memory: {{channel: ps_ddr4}}
{extra}""", encoding="utf-8")
    return path


def test_run_writes_every_file_and_a_valid_chrome_trace(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_experiment(tmp_path)), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".fpgasim-outputs.json", "layers.csv", "report.md",
                                                    "results.json", "timeline.png", "trace.json"]
    trace = json.loads((out / "trace.json").read_text())
    events = trace["traceEvents"]
    assert {"X", "M"} <= {event["ph"] for event in events}
    assert all({"name", "ph", "pid", "tid"} <= event.keys() for event in events if event["ph"] in "XM")
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == 1 and len(results["layers"]) == 7  # 5 conv + 2 pooling
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "conv3" in capsys.readouterr().out


def test_functional_mode_reports_bit_exact(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_experiment(tmp_path)), "--out", str(out), "--mode", "functional", "--no-trace"]) == 0
    assert "bit exact against the direct kernel" in capsys.readouterr().out
    assert json.loads((out / "results.json").read_text())["totals"]["bit_exact"] is True


def test_missing_file_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_experiment(tmp_path, kernel="missing.yaml")), "--out", str(out)]) == 2
    assert "experiment.kernel: file not found" in capsys.readouterr().err
    assert not out.exists()


def test_design_that_does_not_fit_is_exit_3_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    path = _experiment(tmp_path, kernel="superlip-conv-64x7-fp32.yaml", board="ultra96v2")
    assert main(["run", str(path), "--out", str(out)]) == 3
    assert "does not fit: DSP needs 2240" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_network_names_the_known_ones(tmp_path, capsys):
    path = _experiment(tmp_path)
    path.write_text(path.read_text().replace("alexnet_conv", "resnet"))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "network.zoo: network 'resnet' is not known; known: alexnet, " in err and "vgg16_conv" in err


def test_not_an_experiment_document(tmp_path, capsys):
    path = tmp_path / "x.yaml"
    path.write_text("schema: 1\nboard: {}\n")
    assert main(["run", str(path)]) == 2
    assert "expected a study document, one of: `experiment:`, `ode_study:`" in capsys.readouterr().err
