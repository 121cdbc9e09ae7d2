"""``fpgasim run`` on a replay study: the files, the documented keys, the trace tracks, bad input."""

import json

import pytest

from fpgasim.cli.main import main


def test_run_writes_every_file_with_the_documented_keys(small_doc, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(small_doc()), "--out", str(out), "--workers", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".fpgasim-outputs.json", "latency.png", "learning_curve.png",
                                                    "report.md", "results.json", "trace.json"]
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["reductions"]) == {"bypass", "in_network_access", "in_network_prioritized_sampling"}
    for red in doc["reductions"].values():
        assert red["fpgasim_min_percent"] <= red["fpgasim_max_percent"]
        assert len(red["paper_percent"]) == 2 and len(red["points"]) == 2
    assert doc["reductions"]["bypass"]["paper_percent"] == [32.7, 58.9]
    assert len(doc["rows"]) == 2 * 1 * 4 * 2  # sizes x actors x placements x samplings
    assert {r["experience_bytes"] for r in doc["rows"]} == {41, 4096}
    assert all(r["sample_mean_us"] > 0 and r["insert_p99_us"] > 0 for r in doc["rows"])
    assert set(doc["curves"]) == {"kernel", "dpdk", "in_network", "fpga_nic"}
    assert doc["fpga_nic"]["fits"] and doc["fpga_nic"]["levels"] == 11  # ceil(log2 2000)
    events = json.loads((out / "trace.json").read_text())["traceEvents"]
    names = {(e["pid"], e["args"]["name"]) for e in events if e.get("name") == "process_name"}
    processes = {name for _, name in names}
    assert {"actor00", "actor01", "learner", "server", "switch"} <= processes
    threads = {e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    assert {"compute", "core", "nic", "nic_b", "to_server"} <= threads
    report = (out / "report.md").read_text()
    assert "32.7–58.9 %" in report and "Beyond the paper" in report


def test_run_is_deterministic(small_doc, tmp_path):
    path = small_doc(**{"dqn_replay.curve.learner_steps": 5, "dqn_replay.sweep.experience_bytes": [None]})
    for name in ("a", "b"):
        assert main(["run", str(path), "--out", str(tmp_path / name), "--workers", "1", "--no-trace"]) == 0
    assert (tmp_path / "a" / "results.json").read_bytes() == (tmp_path / "b" / "results.json").read_bytes()


@pytest.mark.parametrize("edits, fragment", [
    ({"dqn_replay.dqn.actors": 0}, "dqn_replay.dqn.actors: 0: expected at least 1 actor"),
    ({"dqn_replay.sweep.actors": [0, 2]}, "replay.yaml:79:7: dqn_replay.sweep.actors[0]: 0: expected at least 1 actor"),
    ({"dqn_replay.dqn.batch": 5000}, "5000 is larger than the replay memory (2000 experiences)"),
    ({"dqn_replay.dqn.alpha": 1.5}, "alpha=1.5: expected a number in [0, 1]"),
    ({"dqn_replay.dqn.beta": -0.1}, "beta=-0.1: expected a number in [0, 1]"),
    ({"dqn_replay.dqn.experience_bytes": 0}, "expected an experience size > 0 bytes"),
    ({"dqn_replay.sweep.experience_bytes": [-8]}, "-8: expected an experience size > 0 bytes"),
    ({"dqn_replay.sweep.experience_bytes": [16]}, "16: expected at least 41 bytes"),
    ({"dqn_replay.cluster.server.nic_ports": {"value": 1, "source": "K7"}}, "on_path needs a server with 2 NIC ports"),
    ({"dqn_replay.fpga_nic.board": "zcu102"}, "board 'zcu102' has 0 port(s) for link type 'eth40g_udp_hw'"),
    ({"dqn_replay.placements": [{"name": "dpdk", "stack": "eth40g_dpdk", "position": "separate"}]},
     "missing placement 'kernel'"),
    ({"dqn_replay.placements": [{"name": "kernel", "stack": "aurora64b66b_10g", "position": "separate"}]},
     "has no `frames:` section"),
    ({"dqn_replay.cluster.switch_latency_ns": 500}, "hardware number 500 has no source"),
])
def test_bad_input_exits_2_and_writes_nothing(small_doc, tmp_path, capsys, edits, fragment):
    out = tmp_path / "out"
    assert main(["run", str(small_doc(**edits)), "--out", str(out)]) == 2
    assert fragment in capsys.readouterr().err
    assert not out.exists()


def test_a_tree_too_large_for_the_board_exits_3(small_doc, tmp_path, capsys):
    path = small_doc(**{"dqn_replay.dqn.memory": 2**26, "dqn_replay.fpga_nic.priority_bits": {"value": 64,
                                                                                              "source": "P"}})
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 3
    assert "does not fit: BRAM18 needs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_sweep_over_a_replay_study_needs_no_kernel(small_doc, tmp_path):
    base = small_doc()
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""schema: 1
sweep:
  name: replay-sweep
  base: {base}
  axes:
    - {{key: dqn_replay.dqn.actors, values: [1, 2]}}
  objectives: [latency_ms, speedup]
  recheck: {{top_k: 0}}
""", encoding="utf-8")
    out = tmp_path / "sw"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    points = json.loads((out / "points.json").read_text())["points"]
    assert len(points) == 2
    assert all(p["analytical"]["speedup"] > 1 and p["analytical"]["latency_ms"] > 0 for p in points)


def test_the_fits_constraint_is_refused_without_a_kernel(small_doc, tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"""schema: 1
sweep:
  name: replay-sweep
  base: {small_doc()}
  axes:
    - {{key: dqn_replay.dqn.actors, values: [1, 2]}}
  constraints: [fits]
  objectives: [latency_ms, speedup]
""", encoding="utf-8")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "sw")]) == 2
    assert "'fits' needs a kernel design; a dqn_replay places none" in capsys.readouterr().err
    assert not (tmp_path / "sw").exists()
