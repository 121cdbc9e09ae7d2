"""``fpgasim sweep``: a real small sweep end to end; bad input exits 2 and writes nothing."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from fpgasim.cli.main import main
from tests.study.sweep.test_sweep_helpers import REPO, write_sweep


def _run(capsys, *argv):
    code = main(["sweep", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_real_sweep_with_emulator_recheck(tmp_path, capsys):
    path = write_sweep(tmp_path, axes=[{"key": "kernel.parallelism.tm", "values": [16, 32, 64]}],
                       extra={"experiment": {"name": "t", "network": {"zoo": "alexnet_conv", "shapes": "merged"},
                                             "board": "zcu102", "kernel": str(REPO / "kernels/superlip-conv-16bit.yaml"),
                                             "memory": {"channel": "ps_ddr4"}},
                              "objectives": ["latency_ms", "dsp", "throughput_gops"], "recheck": {"top_k": 1}})
    code, out, err = _run(capsys, path, "--out", tmp_path / "o", "--workers", "1")
    assert code == 0, err
    assert "sweep: 3 points, 3 after constraints; evaluated 3 analytical + 1 emulated now" in out
    assert "emulator re-check: points 2" in out
    rows = list(csv.DictReader((tmp_path / "o" / "points.csv").open()))
    assert [r["kernel.parallelism.tm"] for r in rows] == ["16", "32", "64"]
    latency = [float(r["latency_ms"]) for r in rows]
    dsp = [float(r["dsp"]) for r in rows]
    assert latency[0] > latency[1] > latency[2] and dsp[0] < dsp[1] < dsp[2]  # more MACs: faster, more DSP
    assert rows[2]["emulated_status"] == "ok" and float(rows[2]["emulated_latency_ms"]) > 0
    assert rows[0]["emulated_status"] == ""
    document = json.loads((tmp_path / "o" / "points.json").read_text())
    assert document["pareto_front"] == [2, 1, 0]  # ordered along the first objective (latency) and document["schema_version"] == 1
    report = (tmp_path / "o" / "report.md").read_text()
    assert "| 2 | kernel.parallelism.tm=64 | " in report and "%)" in report
    assert (tmp_path / "o" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = _run(capsys, path, "--out", tmp_path / "o", "--workers", "1")
    assert code == 0 and "evaluated 0 analytical + 0 emulated now, 3 analytical + 1 emulated already in the store" in out


@pytest.mark.parametrize("axes, extra, fragment", [
    ([{"key": "experiment.boards", "values": [1]}], {}, "unknown key 'experiment.boards'"),
    ([{"key": "experiment.cluster.boards", "values": []}], {}, "is empty"),
    # the store's changed-input check comes before expanding the points
    (None, {"constraints": ["experiment.cluster.boards > 99"]}, "holds results of different inputs"),
])
def test_bad_input_exits_2_and_leaves_the_store_untouched(tmp_path, capsys, axes, extra, fragment):
    good = write_sweep(tmp_path / "good")
    out_dir = tmp_path / "o"
    code, _, err = _run(capsys, good, "--out", out_dir, "--workers", "1", "--no-recheck")
    assert code == 0, err
    shutil.copy(good, tmp_path / "before.yaml")
    store_before = (out_dir / "store.sqlite").read_bytes()
    listing = sorted(p.name for p in out_dir.iterdir())
    bad = write_sweep(tmp_path / "bad", axes=axes, extra=extra)
    code, out, err = _run(capsys, bad, "--out", out_dir, "--workers", "1")
    assert code == 2 and fragment in err and out == ""
    assert err.count("\n") <= 3 and "Traceback" not in err
    assert (out_dir / "store.sqlite").read_bytes() == store_before
    assert sorted(p.name for p in out_dir.iterdir()) == listing


def test_unreachable_scheduler_exits_2(tmp_path, capsys):
    pytest.importorskip("distributed", reason="Dask distributed is not installed")
    code, _, err = _run(capsys, write_sweep(tmp_path), "--out", tmp_path / "o", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and "cannot reach a Dask scheduler" in err
    assert not (tmp_path / "o").exists()


def test_shipped_sweeps_load_and_expand():
    from fpgasim.study.sweep.sweep import prepare_sweep

    files = sorted((REPO / "experiments" / "sweeps").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        prepared = prepare_sweep(path)
        assert prepared.points, path


def test_dsodenet_sweep_over_an_ode_study(tmp_path, capsys):
    path = REPO / "experiments" / "sweeps" / "dsodenet-precision-variant-zcu104.yaml"
    code, out, err = _run(capsys, path, "--out", tmp_path / "o", "--workers", "1")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "o" / "points.csv").open()))
    assert len(rows) == 15
    fits: dict[str, list[tuple[int, bool]]] = {}
    for row in rows:
        fits.setdefault(row["ode_study.timing.variants"], []).append(
            (int(row["kernel.precision.fixed.total_bits"]), row["status"] == "ok"))
        assert row["status"] in ("ok", "does_not_fit")
        if row["status"] == "does_not_fit":
            assert "does not fit: BRAM18 needs" in row["message"]
        else:
            assert float(row["latency_ms"]) > 0 and float(row["speedup"]) > 0
    for variant, marks in fits.items():  # narrower words never need more memory: fits are a prefix
        flags = [ok for _, ok in sorted(marks)]
        assert flags == sorted(flags, reverse=True), variant
    assert dict(fits["['dsodenet-all']"])[8] is True  # the most compressed variant fits at 8 bits
    report = (tmp_path / "o" / "report.md").read_text()
    assert "the study's model: fit + SimPy timing" in report


def test_ode_study_keys_are_checked_against_the_study(tmp_path):
    from fpgasim.errors import ConfigError
    from fpgasim.study.sweep.spec import load_sweep

    path = tmp_path / "s.yaml"
    path.write_text(f"""schema: 1
sweep:
  name: s
  base: {REPO / 'experiments' / 'dsodenet-zcu104.yaml'}
  axes:
    - {{key: ode_study.timing.imagez, values: [1]}}
    - {{key: experiment.cluster.boards, values: [1]}}
""")
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    text = str(info.value)
    assert "unknown key 'ode_study.timing.imagez': ode_study.timing has keys: variants, images" in text
    assert "a key of an ode_study sweep starts with 'ode_study.' or 'kernel.'" in text
