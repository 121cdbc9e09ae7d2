"""``fpgasim network SOURCE``: one row per node and the totals from a zoo name, a network YAML or an
ONNX model; ``--json`` as documented; bad sources exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import yaml

from fpgasim.cli.main import main
from fpgasim.nn import Graph, zoo_network
from tests.nn.test_onnx_import import cnn


def _json(capsys, *argv: str) -> dict:
    assert main(["network", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_zoo_network_rows_and_totals(capsys) -> None:
    document = _json(capsys, "tiny_cnn")
    graph = Graph.from_network(zoo_network("tiny_cnn"))
    assert [n["name"] for n in document["nodes"]] == [n.name for n in graph.nodes]
    assert document["totals"] == {"macs": graph.macs, "params": graph.params,
                                  "elementwise_ops": graph.elementwise_ops, "nodes": len(graph.nodes)}
    first_conv = next(n for n in document["nodes"] if n["op"] == "conv")
    assert set(first_conv) == {"name", "op", "inputs", "output_shape", "macs", "params", "elementwise_ops", "engine"}
    assert first_conv["engine"] == "mac_array" and first_conv["inputs"] == ["input"]
    assert main(["network", "tiny_cnn"]) == 0
    table = capsys.readouterr().out
    assert f"{graph.macs:,}" in table and table.count("\n") == len(graph.nodes) + 5


def test_network_yaml_and_onnx_sources(tmp_path: Path, capsys) -> None:
    network = tmp_path / "net.yaml"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "mini", "batch": 2, "nodes": [
        {"name": "x", "op": "input", "shape": [4, 8, 8]},
        {"name": "c", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "s", "op": "softmax", "inputs": ["c"]}]}}), encoding="utf-8")
    document = _json(capsys, str(network))
    assert document["network"] == "mini" and document["batch"] == 2 and document["source"] == "file"
    assert [n["engine"] for n in document["nodes"]] == ["relabel", "mac_array",
                                                        "vector (with a softmax table) or software"]
    assert document["totals"]["macs"] == 8 * 64 * 36
    model = tmp_path / "cnn.onnx"
    onnx.save(cnn(), str(model))
    document = _json(capsys, str(model), "--input-shape", "1", "3", "8", "8")
    ops = {n["name"]: n["op"] for n in document["nodes"]}
    assert document["source"] == "onnx" and ops["dw"] == "depthwise" and ops["bn3"] == "affine"
    assert document["totals"]["params"] == sum(n["params"] for n in document["nodes"])


def test_a_ceil_mode_pool_is_shown_and_validated(tmp_path: Path, capsys) -> None:
    """``op: pool`` takes ``ceil_mode: true`` (5x5 -> 3x3 with 2x2/2 windows, floor mode 2x2), the table
    and the JSON show it; a non-bool ceil_mode is located at its key, exit 2."""
    nodes = [{"name": "x", "op": "input", "shape": [2, 5, 5]},
             {"name": "p", "op": "pool", "inputs": ["x"], "kind": "max", "kernel": 2, "stride": 2, "ceil_mode": True},
             {"name": "q", "op": "pool", "inputs": ["p"], "kind": "avg", "kernel": 3, "stride": 1}]
    network = tmp_path / "net.yaml"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "ceil", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    document = _json(capsys, str(network))
    pools = {n["name"]: n for n in document["nodes"] if n["op"] == "pool"}
    assert pools["p"]["ceil_mode"] is True and pools["p"]["output_shape"] == [2, 3, 3]
    assert pools["q"]["ceil_mode"] is False and pools["q"]["output_shape"] == [2, 1, 1]
    assert main(["network", str(network)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[3:-2]}
    assert "pool (ceil)" in rows["p"] and "(ceil)" not in rows["q"]
    nodes[1]["ceil_mode"] = "yes"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "ceil", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    assert main(["network", str(network)]) == 2
    err = capsys.readouterr().err
    assert "net.yaml:" in err and "network.nodes[1].ceil_mode" in err and "expected True or False" in err


def test_per_axis_windows_in_a_network_yaml_and_a_bad_one_located(tmp_path: Path, capsys) -> None:
    """``kernel``/``stride``/``padding`` take [height, width] (a 1x7 conv, padding [0, 3], on 17x17: 8·17·17·4·7
    MACs); a three-entry kernel is located at its key, exit 2."""
    nodes = [{"name": "x", "op": "input", "shape": [4, 17, 17]},
             {"name": "c", "op": "conv", "inputs": ["x"], "out_channels": 8, "kernel": [1, 7], "padding": [0, 3]},
             {"name": "p", "op": "pool", "inputs": ["c"], "kind": "max", "kernel": [3, 1], "stride": [2, 1]}]
    network = tmp_path / "net.yaml"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "rect", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    document = _json(capsys, str(network))
    shapes = {n["name"]: n["output_shape"] for n in document["nodes"]}
    assert shapes == {"x": [4, 17, 17], "c": [8, 17, 17], "p": [8, 8, 17]}
    assert document["totals"]["macs"] == 8 * 17 * 17 * 4 * 7
    nodes[1]["kernel"] = [1, 7, 7]
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "rect", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    assert main(["network", str(network)]) == 2
    err = capsys.readouterr().err
    assert "net.yaml:" in err and "network.nodes[1].kernel" in err
    assert "kernel=(1, 7, 7): expected an integer >= 1 or [height, width] of them" in err


def test_bad_sources_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["network", "resnet-9000"]) == 2
    assert "expected a zoo name, a .yaml network file or an .onnx model" in capsys.readouterr().err
    model = tmp_path / "cnn.onnx"
    onnx.save(cnn(), str(model))
    assert main(["network", str(model)]) == 2
    assert "--input-shape N C H W" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("schema: 1\nnetwork:\n  nodes:\n    - {name: x, op: inptu}\n", encoding="utf-8")
    assert main(["network", str(broken)]) == 2
    assert "broken.yaml:4:" in capsys.readouterr().err


def test_windowed_attention_is_shown_and_a_bad_window_located(tmp_path: Path, capsys) -> None:
    """scores/attend show their window: ``window`` [h, w] or null and ``dilated`` in the JSON,
    ``scores (window 2x3)`` / ``attend (grid 2x3)`` in the table; a window that does not divide the
    map is located at its key, exit 2."""
    nodes = [{"name": "x", "op": "input", "shape": [8, 4, 6]},
             {"name": "s", "op": "scores", "inputs": ["x", "x"], "heads": 2, "window": [2, 3]},
             {"name": "p", "op": "softmax", "inputs": ["s"], "groups": 2},
             {"name": "a", "op": "attend", "inputs": ["p", "x"], "heads": 2, "window": [2, 3], "dilated": True},
             {"name": "g", "op": "scores", "inputs": ["x", "x"], "heads": 2}]
    network = tmp_path / "net.yaml"
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "win", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    document = _json(capsys, str(network))
    shown = {n["name"]: (n.get("window"), n.get("dilated")) for n in document["nodes"]}
    assert shown == {"x": (None, None), "s": ([2, 3], False), "p": (None, None), "a": ([2, 3], True),
                     "g": (None, False)}
    assert {n["name"]: n["macs"] for n in document["nodes"]}["s"] == 8 * 6 * 24
    assert main(["network", str(network)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[3:-2]}
    assert "scores (window 2x3)" in rows["s"] and "attend (grid 2x3)" in rows["a"] and "(" not in rows["g"].split()[1]
    nodes[1]["window"] = [3, 3]
    network.write_text(yaml.safe_dump({"schema": 1, "network": {"name": "win", "nodes": nodes}}, sort_keys=False),
                       encoding="utf-8")
    assert main(["network", str(network)]) == 2
    err = capsys.readouterr().err
    assert "net.yaml:" in err and "network.nodes[1].window" in err and "does not divide into 3×3 windows" in err
