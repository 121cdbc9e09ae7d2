"""The ScissionLite study from the CLI: a fast run of the released-data path, refusals, the shipped file."""

import json
import re
from pathlib import Path

import pytest
import yaml

from fpgasim.cli.main import main

ROOT = Path(__file__).parents[3]
SHIPPED = ROOT / "experiments" / "scissionlite-densenet169.yaml"


def _doc(**changes) -> dict:
    """The shipped study, CSV path absolute, without its slow sections, with ``changes`` applied
    (dotted keys under scission_study; value None deletes)."""
    doc = yaml.safe_load(SHIPPED.read_text())
    body = doc["scission_study"]
    body["released"]["csv"] = str(ROOT / "experiments" / "data" / "scissionlite-densenet169-triton.csv")
    for key in ("emulated", "functional"):
        body.pop(key)
    for key, value in changes.items():
        *parents, last = key.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is None:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return doc


def _run(tmp_path: Path, doc: dict, capsys) -> tuple[int, str, Path]:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out)])
    return code, capsys.readouterr().err, out


def test_released_path_writes_the_report_and_reproduces_the_readme(tmp_path, capsys) -> None:
    code, err, out = _run(tmp_path, _doc(privacy={"keep_on_device": ["features.conv0"]}), capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".fpgasim-outputs.json", "report.md", "results.json", "splits.png", "whatif.png"]
    result = json.loads((out / "results.json").read_text())
    gpu = result["released"]["devices"]["tx2_gpu"]
    assert round(gpu["summary"]["local_s"], 4) == 0.3904
    assert gpu["summary"]["best_tl"]["label"] == "1" and round(gpu["summary"]["best_tl"]["latency_s"], 4) == 0.0825
    assert round(gpu["summary"]["speedup_vs_local"], 2) == 4.73 and round(gpu["summary"]["speedup_vs_no_tl"], 2) == 1.76
    # conv0 kept on the device (through the alignment: Keras layer 2) = the paper's first split forbidden
    assert gpu["privacy"]["best_tl"]["label"] == "51"
    assert result["released"]["devices"]["tx2_cpu"]["privacy"]["best_tl"]["label"] == "2"
    run = result["released"]["readme_run"]
    assert [[round(t["latency_s"], 4), t["keras_layer"]] for t in run["top"]] == run["printed"]["top"]
    assert len(result["network"]["blocks"]) == 22
    assert "## What-if" in (out / "report.md").read_text()


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"functional": {"splits": ["features.conv9"]}}, r"functional.splits\[0\]: split node 'features.conv9': no such node"),
    ({"functional": {"splits": ["features.denseblock1.denselayer1.concat"]}}, "is inside a branch"),
    ({"functional": {"splits": ["avgpool"]}}, r"transfer layer after 'avgpool': its output \(1664, 1, 1\)"),
    ({"released.alignment.7.keras_layer": 50}, r"outputs 401408 elements, Keras layer 50 802816 \(.*:18\): the CSV's blocks do not match"),
    ({"released.alignment.7.keras_layer": 47}, "47 ends no block of"),
    ({"released.alignment.4.node": "features.denseblock1.denselayer5.concat"}, "is inside a branch"),
    ({"network": {"zoo": "densenet121", "batch_norm": True}}, "the CSV's blocks do not match|outputs"),
    ({"link.bandwidth_mbps": 0}, "link.bandwidth_mbps"),
    ({"link.bandwidth_mbps": -60}, "link.bandwidth_mbps"),
    ({"released.edge": "titan_cpu"}, "'titan_cpu' is not an edge"),
])
def test_bad_input_is_exit_2_and_writes_nothing(tmp_path, capsys, changes, fragment) -> None:
    code, err, out = _run(tmp_path, _doc(**changes), capsys)
    assert code == 2
    assert re.search(fragment, err), err
    assert not out.exists()


def test_the_shipped_file_validates(capsys) -> None:
    assert main(["validate", str(SHIPPED)]) == 0, capsys.readouterr().err


@pytest.mark.slow
def test_the_shipped_experiment_runs(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(SHIPPED), "--out", str(out)]) == 0, capsys.readouterr().err
    result = json.loads((out / "results.json").read_text())
    assert set(result["emulated"]["devices"]) == {"tx2_cpu", "tx2_gpu"}
    assert result["functional"]["splits"][0]["edge_input_changed_fraction"] > 0.5


def _sweep(tmp_path: Path, axes: str, extra: str = "") -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"schema: 1\nsweep:\n  name: s\n  base: {SHIPPED}\n  axes:\n{axes}\n"
                    f"  objectives: [latency_ms, speedup]\n  recheck: {{top_k: 0}}\n{extra}")
    return path


def test_a_sweep_over_bandwidth_finds_where_the_tl_stops_paying(tmp_path, capsys) -> None:
    path = _sweep(tmp_path, "    - {key: scission_study.link.bandwidth_mbps, values: [1, 60, 5000]}")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    points = json.loads((tmp_path / "out" / "points.json").read_text())
    speedups = [p["analytical"]["speedup"] for p in sorted(points["points"], key=lambda p: p["index"])]
    assert speedups[0] == 1.0                        # 1 Mb/s: device-only either way
    assert round(speedups[1], 2) == 1.71             # the study's link: the TL pays
    assert speedups[2] < 1.0                         # 5 Gb/s on the TX2 CPU: sending the full input is faster


@pytest.mark.parametrize(("axes", "extra", "fragment"), [
    ("    - {key: kernel.clock_mhz, values: [100]}", "", "kernel.clock_mhz"),
    ("    - {key: scission_study.link.ping_ms, values: [1, 2]}", "  constraints: [fits]\n",
     "'fits' needs a kernel design; a scission_study places none"),
])
def test_a_sweep_of_the_study_refuses_kernel_keys_and_fits(tmp_path, capsys, axes, extra, fragment) -> None:
    assert main(["sweep", str(_sweep(tmp_path, axes, extra)), "--out", str(tmp_path / "out")]) == 2
    assert fragment in capsys.readouterr().err
