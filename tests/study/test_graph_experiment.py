"""A graph on a platform of different devices, end to end through the CLI: values bit exact node by
node, every device and link in the trace, and every bad input refused alike by validate and run."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from fpgasim.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = ROOT / "experiments" / "hetero-residual.yaml"


def _document() -> dict:
    return yaml.safe_load(EXPERIMENT.read_text(encoding="utf-8"))


def _write(tmp_path: Path, document: dict) -> Path:
    path = ROOT / "experiments" / f".test-{tmp_path.name}.yaml"  # beside the shipped file: relative paths resolve
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture()
def experiment_file(tmp_path: Path):
    made: list[Path] = []

    def make(document: dict) -> Path:
        path = _write(tmp_path, document)
        made.append(path)
        return path

    yield make
    for path in made:
        path.unlink(missing_ok=True)


def test_functional_run_on_three_devices_is_bit_exact_and_traces_every_device_and_link(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["run", str(EXPERIMENT), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["totals"]["bit_exact"] is True
    nodes = {node["name"]: node for node in results["nodes"]}
    assert all(node["bit_exact"] for node in nodes.values())
    assert {node["device"] for node in nodes.values()} == {"fpga0", "fpga1", "rpi"}
    assert nodes["c1"]["engine"] == "mac_array" and nodes["add1"]["engine"] == "vector"
    assert nodes["prob"]["engine"] == "software" and nodes["flat"]["engine"] == "relabel"
    assert (nodes["c1"]["op"], nodes["cat1"]["op"], nodes["p1"]["op"]) == ("conv", "concat", "pool")
    csv_rows = [line.split(",") for line in (out / "nodes.csv").read_text().splitlines()]
    assert csv_rows[0][:2] == ["node", "op"] and ["c1", "conv"] == csv_rows[1 + list(nodes).index("c1")][:2]
    # a node starts only once its inputs are on its device
    for node in nodes.values():
        for name in node["inputs"]:
            assert node["start_ms"] >= nodes[name]["end_ms"]
    crossing = {(t["tensor"], t["destination"]) for t in results["transfers"]}
    assert ("r1", "fpga1") in crossing and ("add1", "rpi") in crossing and ("r1", "rpi") in crossing
    trace = json.loads((out / "trace.json").read_text())
    processes = {event["args"]["name"] for event in trace["traceEvents"] if event.get("name") == "process_name"}
    assert {"fpga0", "fpga1", "rpi", "link0-1", "link1-2"} <= processes


def _mutations() -> dict[str, tuple]:
    """name -> (edit of the document, fragments the message must contain, key of the located line)."""

    def nodes(doc):
        return doc["experiment"]["network"]["graph"]["nodes"]

    def node(doc, name):
        return next(n for n in nodes(doc) if n["name"] == name)

    def no_engine(doc):
        doc["experiment"]["placement"]["nodes"]["prob"] = "fpga0"

    def unplaced(doc):
        del doc["experiment"]["placement"]["default"]

    def disconnected(doc):
        doc["experiment"]["platform"]["cables"].pop()

    def cycle(doc):
        node(doc, "c1")["inputs"] = ["add1"]

    def dangling(doc):
        node(doc, "add1")["inputs"] = ["c2", "c9"]

    def shapes(doc):
        node(doc, "shortcut")["out_channels"] = 8

    def concat_shapes(doc):
        node(doc, "cat1")["inputs"] = ["add1", "p1"]
        node(doc, "p1")["inputs"] = ["r1"]

    return {
        "no engine for the op": (no_engine, ["prob", "fpga0", "softmax"]),
        "unplaced node": (unplaced, ["not placed"]),
        "devices not connected": (disconnected, ["rpi"]),
        "cycle": (cycle, ["cycle", "c1", "add1"]),
        "dangling input": (dangling, ["add1", "c9"]),
        "add shapes disagree": (shapes, ["c2", "shortcut", "(16, 16, 16)", "(8, 16, 16)"]),
        "concat shapes disagree": (concat_shapes, ["add1", "p1"]),
    }


@pytest.mark.parametrize("case", sorted(_mutations()))
def test_bad_input_is_refused_alike_by_validate_and_run(case: str, experiment_file, tmp_path: Path, capsys) -> None:
    edit, fragments = _mutations()[case]
    document = copy.deepcopy(_document())
    edit(document)
    path = experiment_file(document)
    assert main(["validate", str(path)]) == 2
    validated = capsys.readouterr()
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 2
    ran = capsys.readouterr()
    assert not out.exists()
    message = validated.out + validated.err
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    # the same problem, at the same line and key, from both commands
    problem = next(line.strip() for line in validated.out.splitlines() if line.startswith("  "))
    assert problem in ran.err + ran.out
    assert re.match(rf".*{re.escape(path.name)}:\d+:\d+: experiment\.", problem), problem


def _single_board(document: dict) -> dict:
    """The graph without its softmax, on one ZCU102 named with board/kernel/memory."""
    experiment = document["experiment"]
    experiment["network"]["graph"]["nodes"] = [n for n in experiment["network"]["graph"]["nodes"] if n["name"] != "prob"]
    for key in ("platform", "placement"):
        del experiment[key]
    experiment.update(board="zcu102", kernel="../kernels/superlip-conv-16bit.yaml",
                      memory={"channel": "ps_ddr4", "burst_bytes": 2048})
    return document


def test_a_graph_named_with_board_kernel_memory_runs_on_that_one_board(experiment_file, tmp_path: Path) -> None:
    path = experiment_file(_single_board(_document()))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-trace"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["totals"]["bit_exact"] is True and results["transfers"] == []
    assert {node["device"] for node in results["nodes"]} == {"board0"}


def test_a_graph_on_a_cluster_is_partitioned_node_by_node_and_stays_bit_exact(experiment_file, tmp_path: Path) -> None:
    document = _single_board(_document())
    document["experiment"]["cluster"] = {"boards": 2, "link": "aurora64b66b_10g"}
    path = experiment_file(document)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-trace"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["totals"]["bit_exact"] is True
    model = results["model"]
    assert model["partition"]["group"] == ["board0", "board1"] and model["partition"]["exact"] is True
    assert model["latency_ms"] > 0 and model["emulated_latency_ms"] == results["totals"]["latency_ms"]
    nodes = {node["name"]: node for node in results["nodes"]}
    assert {tuple(node["devices"]) for node in nodes.values()} >= {("board0",)}
    assert all("model_redistribution_cycles" in node for node in nodes.values())
    report = (out / "report.md").read_text()
    assert "## Model" in report and "Every node partitioned over board0, board1" in report


def test_a_platform_partition_pins_a_softmax_to_a_compute_device(experiment_file, tmp_path: Path) -> None:
    document = _document()
    experiment = document["experiment"]
    experiment["platform"]["devices"][1] = {"id": "fpga1", "board": "zcu102",
                                            "kernel": "../kernels/superlip-conv-16bit.yaml",
                                            "memory": {"channel": "ps_ddr4", "burst_bytes": 2048}}
    experiment["placement"] = {"partition": ["fpga0", "fpga1"], "nodes": {"prob": "rpi"}}
    path = experiment_file(document)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--no-trace"]) == 0
    results = json.loads((out / "results.json").read_text())
    nodes = {node["name"]: node for node in results["nodes"]}
    assert nodes["prob"]["devices"] == ["rpi"] and nodes["prob"]["engine"] == "software"
    assert results["totals"]["bit_exact"] is True and results["model"]["partition"]["group"] == ["fpga0", "fpga1"]


@pytest.mark.parametrize(("edit", "where"), [
    (lambda e: e["placement"].update(partition=["fpga0", "fpga1"]), "experiment.placement.default: not used with"),
    (lambda e: e["placement"].update(partition=["fpga0", "rpi"], default=None),
     "experiment.placement.partition: partition: device 'rpi' is not an FPGA device"),
    (lambda e: e["placement"].update(partition=["fpga0", "fpga1"], default=None),
     "experiment.placement.partition: partition: device 'fpga1' (zcu104"),
])
def test_partitions_the_planner_cannot_use_are_refused(experiment_file, capsys, edit, where) -> None:
    document = _document()
    edit(document["experiment"])
    if document["experiment"]["placement"].get("default") is None:
        document["experiment"]["placement"].pop("default", None)
        document["experiment"]["placement"]["nodes"] = {"prob": "rpi"}
    path = experiment_file(document)
    assert main(["run", str(path), "--out", str(path.parent / "never")]) == 2
    assert where in capsys.readouterr().err
    assert not (path.parent / "never").exists()


def test_a_graph_cluster_refuses_layer_list_partition_settings(experiment_file, capsys) -> None:
    document = _single_board(_document())
    document["experiment"]["cluster"] = {"boards": 2, "link": "aurora64b66b_10g"}
    document["experiment"]["partition"] = {"planner": "blind"}
    path = experiment_file(document)
    assert main(["validate", str(path)]) == 2
    assert "experiment.partition: a graph network on a cluster is partitioned node by node" in capsys.readouterr().out


def test_a_comparison_needs_zoo_layer_lists(experiment_file, capsys) -> None:
    document = _single_board(_document())
    document["experiment"]["comparison"] = {"scale_out": [{"boards": 2, "topology": "pair"}],
                                            "networks": [{"graph": {"nodes": []}}]}
    path = experiment_file(document)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "experiment.comparison.networks[0]: a comparison network names a zoo layer list" in out
    assert "experiment.network: a comparison runs a zoo layer list" in out
