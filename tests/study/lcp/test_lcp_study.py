"""The LCP study end to end through the CLI: a small PYNQ cluster run, its documented results keys,
the super-linear compute speedup, and every bad input refused with exit 2 and nothing written."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import yaml

from fpgasim.cli.main import main

ROOT = Path(__file__).resolve().parents[3]
PYNQ = ROOT / "experiments" / "lcp-pynq.yaml"


def _small() -> dict:
    """lcp-pynq with CifarNet only, on 1, 2 and 4 devices (about a second)."""
    document = yaml.safe_load(PYNQ.read_text(encoding="utf-8"))
    study = document["lcp_study"]
    study["name"] = "lcp-small"
    study["device"]["kernel"] = str(ROOT / "kernels" / "lcp-systolic-32x64-pynq-z1.yaml")
    study["models"] = [{"label": "CifarNet", "zoo": "cifarnet"}]
    study["configs"] = [{"devices": 1}, {"devices": 2, "branches": 2}, {"devices": 4, "branches": 4}]
    study["paper"] = {"source": "LCP Fig. 16", "speedup": {"CifarNet": {"1 dev": 1.0, "split2": 3.5, "split4": 11.2}},
                      "latency_ms": {"CifarNet": {"1 dev": 7.6}}, "geomean_speedup": 7.35,
                      "geomean_configs": ["1 dev", "split2", "split4"]}
    return document


def _write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_small_pynq_study_writes_documented_results(tmp_path: Path):
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, _small())), "--out", str(out), "--workers", "1"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "report.md", "results.json", "speedup-cifarnet.png"]
    results = json.loads((out / "results.json").read_text())
    cases = {row["config"]: row for row in results["cases"]}
    assert results["speedup"]["CifarNet"]["split4"]["paper"] == 11.2
    assert results["speedup"]["CifarNet"]["split4"]["devices"] == 4
    assert results["speedup"]["CifarNet"]["1 dev"]["fpgasim"] == 1.0
    # compute only, the split is super-linear: 4 branches of a quarter-width CifarNet do < 1/4 of the work each
    assert cases["split4"]["speedup_compute"] > 4
    assert cases["split4"]["branch_macs"] * 4 < cases["1 dev"]["macs"]
    # LCP's Fig. 16b speedup (11.2x) is close to the ratio of the base model's MACs to one branch's
    assert cases["split4"]["mac_ratio"] == pytest.approx(11.2, rel=0.05)
    # with the link, every split pays at least the broadcast and the gather (2 x 8.83 ms over Wi-Fi)
    assert cases["split2"]["latency_ms"] > 2 * 8.83
    assert cases["split2"]["transfers"] == 2 and cases["1 dev"]["transfers"] == 0
    speeds = [cases[c]["speedup"] for c in ("1 dev", "split2", "split4")]
    assert results["geomean_speedup"]["fpgasim"] == pytest.approx(math.prod(speeds) ** (1 / 3))
    assert results["geomean_speedup"]["paper"] == 7.35
    assert results["fit"]["fits"] is False and results["fit"]["dsp_used"] == 2048
    report = (out / "report.md").read_text()
    assert "does not fit: DSP needs 2048" in report and "| CifarNet | split4 | 4 |" in report


def test_enforced_fit_refuses_the_published_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    document = _small()
    document["lcp_study"]["device"]["fit"] = "enforce"
    out = tmp_path / "out"
    assert main(["run", str(_write(tmp_path, document)), "--out", str(out)]) == 3
    assert "DSP needs 2048 slices, 220 available" in capsys.readouterr().err
    assert not out.exists()


def _bad(change) -> dict:
    document = copy.deepcopy(_small())
    change(document["lcp_study"])
    return document


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["configs"].append({"devices": 2, "branches": 128}),
     "configs[3].devices: 2 device(s) for 128 branches; expected at least 128"),
    (lambda s: (s["models"].append({"label": "LeNet", "zoo": "lenet5"}),
                s["configs"].append({"devices": 16, "branches": 16})),
     "configs[3]: LeNet (lenet5), split16: split16 of 'lenet5': node 'c1' has out_channels=6; split 16 ways it "
     "leaves each branch 0 channels; expected at most 12 branches"),
    (lambda s: s.update(gather=4), "gather: gather device 4 is not among the 1 device(s)"),
    (lambda s: s["link"].update(type="wifi_lpc"), "link.type: link type 'wifi_lpc' is not in boards/links.yaml"),
    (lambda s: s["models"].append({"label": "X", "zoo": "resnet5O"}), "models[1].zoo: network 'resnet5O' is not known"),
    (lambda s: s["device"].update(memory={"channel": "pl_ddr4"}), "board 'pynq_z1' has no memory channel 'pl_ddr4'"),
])
def test_bad_input_is_exit_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], change, message):
    out = tmp_path / "out"
    path = _write(tmp_path, _bad(change))
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    assert main(["run", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
