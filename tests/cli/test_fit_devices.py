"""``fpgasim fit-devices``: the stored A53 numbers and the residual table; bad documents exit 2."""

import json
import re

from fpgasim.cli.main import main
from fpgasim.hw import BOARDS_DIR
from fpgasim.hw.compute import load_compute_devices


def test_table_prints_the_stored_numbers_and_every_network(capsys):
    assert main(["fit-devices"]) == 0
    out = capsys.readouterr().out
    a53 = load_compute_devices()["rpi3b_plus_a53"]
    assert out.startswith("## a53_lcp_rpi: rpi3b_plus_a53 (stored for rpi3b_plus_a53, zcu102_ps_a53, zcu104_ps_a53)")
    assert f"dense_conv {a53.efficiency.dense_conv:g}," in out and f"fc {a53.efficiency.fc:g};" in out
    assert f"dispatch_overhead_us: {a53.dispatch_overhead_us:g}" in out
    rows = [line for line in out.splitlines() if re.match(r"^\| (alexnet|vgg|resnet|mobilenet|squeezenet)", line)]
    assert len(rows) == 6
    row = r"^\| mobilenet_v2 \| 1398 \| \d+ \| [+-]\d+\.\d% \| \d+ \| [+-]\d+\.\d% \(depthwise unidentified\) \|$"
    assert re.search(row, out, re.MULTILINE)


def test_json_is_versioned_and_holds_the_held_out_errors(capsys):
    assert main(["fit-devices", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    fit = document["fits"]["a53_lcp_rpi"]
    assert set(fit["networks"]) == {"alexnet_fc", "vgg16_fc", "resnet50", "resnet18", "mobilenet_v2", "squeezenet1_0"}
    for row in fit["networks"].values():
        assert abs(row["held_out_error"] - (row["held_out_ms"] / row["measured_ms"] - 1)) < 1e-4


def test_an_unknown_device_is_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "fits.yaml"
    bad.write_text((BOARDS_DIR / "device_fits.yaml").read_text().replace("device: rpi3b_plus_a53", "device: rpi5", 1))
    before = sorted(tmp_path.iterdir())
    assert main(["fit-devices", "--fits", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(r"fits\.yaml:\d+:\d+: device_fits\.a53_lcp_rpi\.device: unknown compute device 'rpi5'; known: ",
                     captured.err)
    assert sorted(tmp_path.iterdir()) == before
