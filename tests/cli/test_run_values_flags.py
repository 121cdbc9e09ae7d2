"""`--input` and `--save-outputs` belong to graph network experiments: every other study refuses
them before it plans or writes anything (exit 2, naming the document and the study)."""

from pathlib import Path

import pytest

from fpgasim.cli.main import main

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("document, kind", [
    ("dsodenet-zcu104.yaml", "ode_study"),
    ("lcp-rpi.yaml", "lcp_study"),
    ("scissionlite-densenet169.yaml", "scission_study"),
    ("dqn-replay-40gbe.yaml", "dqn_replay"),
])
@pytest.mark.parametrize("flag", [["--save-outputs"], ["--input", "x.npy"]])
def test_a_study_without_values_refuses_the_flags(tmp_path, capsys, document, kind, flag):
    out = tmp_path / "out"
    assert main(["run", str(EXPERIMENTS / document), "--out", str(out), *flag]) == 2
    err = capsys.readouterr().err
    assert document in err and f"a {kind} runs its own inputs" in err
    assert not out.exists()
