"""``fpgasim boards``: table and JSON of the board library."""

import json
import re

from fpgasim.cli.main import main
from fpgasim.hw import BOARDS_DIR_ENV, board_ids


def test_table_lists_every_board(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.match(r"^id\s+part\s+DSP\s+BRAM18\s+URAM\s+LUT\s+memory \(sustained GB/s\)\s+link ports$", out[0])
    rows = {line.split()[0]: line for line in out[2:]}
    assert sorted(rows) == board_ids()
    # zcu102: 2520 DSP, 1824 BRAM18, PS DDR4 17.06 x 0.75 = 12.8 GB/s, 4 SFP+ cages
    assert re.search(r"\b2520\s+1824\s+0\s+274080\s+ps_ddr4 12\.8, pl_ddr4 3\.6\s+.*4xsfp_plus", rows["zcu102"])
    assert re.search(r"32xhbm 345\.6", rows["alveo_u280"])


def test_json_is_sorted_and_versioned(capsys):
    assert main(["boards", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1
    boards = {b["id"]: b for b in document["boards"]}
    assert list(boards) == board_ids()
    zcu104 = boards["zcu104"]
    assert (zcu104["dsp"], zcu104["bram18"], zcu104["uram"]) == (1728, 624, 96)
    assert zcu104["memory"][1]["peak_gbytes_per_s"] == round(8 * 2133e6 / 1e9, 3)
    assert boards["zcu102"]["link_ports"] == {"fmc_hpc": 1, "rj45": 1, "sfp_plus": 4}


def test_a_broken_library_file_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(BOARDS_DIR_ENV, str(tmp_path))
    (tmp_path / "bad.yaml").write_text("schema: 1\nboard: {id: bad}\n")
    assert main(["boards"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"bad\.yaml:2:\d+: board: missing key 'name'", err)
