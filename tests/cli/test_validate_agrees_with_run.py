"""``fpgasim validate`` = load + plan: it refuses exactly what ``fpgasim run`` refuses, with the same
message and exit code, and ``run`` writes nothing when it refuses."""

from pathlib import Path

import pytest

from fpgasim.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "experiments").glob("*.yaml"))
SWEEPS = sorted((REPO / "experiments" / "sweeps").glob("*.yaml"))

#: (shipped file, text replaced, replacement, exit code, message fragment): each refused by planning
#: or loading, never by the YAML schema alone.
BAD = [
    ("alexnet-zcu102.yaml", "zoo: alexnet_conv", "zoo: resnet9000", 2, "experiment.network.zoo: network 'resnet9000'"),
    ("alexnet-zcu102.yaml", "channel: ps_ddr4", "channel: pl_ddr9", 2, "experiment.memory.channel"),
    ("alexnet-zcu102.yaml", "superlip-conv-64x7-fp32.yaml", "missing.yaml", 2, "experiment.kernel: file not found"),
    ("alexnet-zcu102.yaml", "board: zcu102", "board: ultra96v2", 3, "does not fit: DSP needs 2240"),
    ("superlip-alexnet.yaml", "{boards: 8, topology: ring}", "{boards: 8, topology: pair}", 2,
     "topology 'pair' joins exactly 2 boards; got boards=8"),
    ("dsodenet-zcu104.yaml", "board: zcu104", "board: pynq_z2", 3, "does not fit: URAM needs"),
    ("dsodenet-zcu104.yaml", "kernel: ../kernels/dsodenet-zcu104-8x8.yaml",
     "kernel: ../kernels/superlip-conv-16bit.yaml", 2, "expected a dsc_ode kernel"),
    ("rodenet-pynq-z2.yaml", "variants: [odenet, rodenet-1, rodenet-3]", "variants: [odenet, rodenet-9]", 2,
     "timing.variants entry 'rodenet-9' is not a variant"),
    ("rodenet-pynq-z2.yaml", "on_chip: [layer1]}\n    - {name: rodenet-1", "on_chip: [all]}\n    - {name: rodenet-1",
     3, "does not fit: BRAM18 needs"),
]


def _bad_copy(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (REPO / "experiments" / name).read_text(encoding="utf-8")
    assert old in text, f"{name} no longer contains {old!r}"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1).replace("../kernels/", f"{REPO}/kernels/"), encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SHIPPED + SWEEPS, ids=lambda p: p.name)
def test_every_shipped_study_and_sweep_validates(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"ok {path} (")


@pytest.mark.parametrize(("name", "old", "new", "code", "fragment"), BAD,
                         ids=[f"{b[0]}:{b[4][:30]}" for b in BAD])
def test_validate_and_run_refuse_alike(tmp_path, capsys, name, old, new, code, fragment):
    path = _bad_copy(tmp_path, name, old, new)
    assert main(["validate", str(path)]) == code
    validated = capsys.readouterr().out
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--workers", "1"]) == code
    refused = capsys.readouterr().err
    assert fragment in refused
    assert not out.exists()
    message = refused.removeprefix("fpgasim: ").strip()
    assert validated.startswith(f"invalid {path}: ")
    for line in message.splitlines():  # every problem of run's message, word for word
        assert line.strip() in validated


def test_a_sweep_point_the_study_refuses_is_refused_by_validate(tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""schema: 1
sweep:
  name: bad
  base: {REPO / "experiments" / "alexnet-zcu102.yaml"}
  axes:
    - {{key: experiment.network.batch, values: [1, 0]}}
""", encoding="utf-8")
    assert main(["validate", str(sweep)]) == 2
    assert "point 1: experiment.network.batch=0" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_study_runs(tmp_path, path):
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
