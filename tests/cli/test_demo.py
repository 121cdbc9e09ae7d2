"""``fpgasim demo``: exit 0, a deterministic table, errors that shrink with more bits."""

import numpy as np

from fpgasim.cli.cmd_demo import run_demo
from fpgasim.cli.main import main


def test_demo_exits_zero_and_is_deterministic(capsys) -> None:
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == first
    for fragment in ("conv 3x3", "DSC block", "ODE euler x4", "float32", "fixed 8", "fixed 16", "max |err|"):
        assert fragment in first


def test_demo_rows_are_sensible() -> None:
    rows = run_demo(0)
    assert len(rows) == 3 * 4
    by_key = {(block, precision): (values, err, counts) for block, precision, values, err, counts, _ in rows}
    for block in ("conv 3x3", "DSC block", "ODE euler x4"):
        ref = by_key[(block, "float64")][0]
        assert by_key[(block, "float64")][1] == 0.0
        assert by_key[(block, "float32")][1] < 1e-4
        # more bits, smaller error; errors are what the table says they are
        assert by_key[(block, "fixed 16")][1] < by_key[(block, "fixed 8")][1] < 1.0
        values, err, _ = by_key[(block, "fixed 8")]
        assert err == float(np.max(np.abs(values - ref)))
    assert np.all(by_key[("DSC block", "fixed 8")][0] >= 0)  # ReLU at the end


def test_demo_seed_changes_data(capsys) -> None:
    assert main(["demo", "--seed", "1"]) == 0
    one = capsys.readouterr().out
    assert main(["demo", "--seed", "2"]) == 0
    assert capsys.readouterr().out != one and "seed 1" in one
