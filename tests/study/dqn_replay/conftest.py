"""A small replay-study document (the shipped one with a one-point sweep and a short curve)."""

import copy
from pathlib import Path

import pytest
import yaml

SHIPPED = Path(__file__).resolve().parents[3] / "experiments" / "dqn-replay-40gbe.yaml"


@pytest.fixture(scope="session")
def shipped_data() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


@pytest.fixture
def small_doc(shipped_data, tmp_path):
    """``write(**edits)``: the shipped study shrunk to seconds, with dotted-key edits; returns its path."""

    def write(**edits) -> Path:
        data = copy.deepcopy(shipped_data)
        body = data["dqn_replay"]
        body["sweep"].update({"experience_bytes": [None, 4096], "actors": [2], "learner_steps": 3})
        body["curve"].update({"actors": 2, "learner_steps": 25})
        body["dqn"].update({"warmup": 64, "memory": 2000})
        for key, value in edits.items():
            node = data
            *parents, last = key.split(".")
            for part in parents:
                node = node[part]
            node[last] = value
        path = tmp_path / "replay.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write
