"""Experiment files written into tmp_path for the study tests."""

from pathlib import Path

import pytest

KERNELS = Path(__file__).resolve().parents[2] / "kernels"


@pytest.fixture
def write_experiment(tmp_path):
    """``write_experiment(**overrides) -> Path`` of a small, valid experiment YAML."""

    def write(*, kernel="superlip-conv-16bit.yaml", board="zcu102", boards=1, topology="pair",
              mode="timing", extra="", network="{zoo: alexnet_conv, shapes: merged, batch: 1}", tiling="kernel"):
        text = f"""schema: 1
experiment:
  name: test-run
  network: {network}
  board: {board}
  kernel: {KERNELS / kernel}
  memory: {{channel: ps_ddr4, burst_bytes: 2048}}
  mode: {mode}
  tiling: {{policy: {tiling}}}
  cluster: {{boards: {boards}, link: aurora64b66b_10g, topology: {topology}}}
{extra}"""
        path = tmp_path / "experiment.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
