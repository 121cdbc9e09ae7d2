"""Guards before simulating: schema bounds with file/line/key, the kernel clock within the
board's range, the cost estimate and its refusal, the summary trace beyond --max-trace-spans."""

import json
import re
import time
from pathlib import Path

import pytest

from fpgasim.cli.main import main
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.study.common.plots import resource_kind
from fpgasim.study.experiment.emulate import emulate
from fpgasim.study.experiment.experiment import load_experiment
from fpgasim.study.experiment.guards import estimate_run
from fpgasim.study.experiment.report import layer_spans, write_run
from fpgasim.study.experiment.runner import run_setup
from fpgasim.study.experiment.setup import build_setup
from fpgasim.study.experiment.study import EXPERIMENT_STUDY
from fpgasim.study.protocol import Limits

KERNELS = Path(__file__).resolve().parents[3] / "kernels"


def _problem(exc: ConfigError) -> str:
    assert len(exc.problems) == 1
    return str(exc.problems[0])


@pytest.mark.parametrize("network, cluster, key", [
    ("{zoo: alexnet_conv, shapes: merged, batch: 1000000000000000000}", "{boards: 1}", "experiment.network.batch"),
    ("{zoo: alexnet_conv, shapes: merged, batch: 1025}", "{boards: 1}", "experiment.network.batch"),
    ("{zoo: alexnet_conv, shapes: merged}", "{boards: 1000000000000000000, link: aurora64b66b_10g, topology: ring}",
     "experiment.cluster.boards"),
])
def test_sanity_limits_name_file_line_and_key(write_experiment, network, cluster, key):
    path = write_experiment(network=network)
    path.write_text(re.sub(r"cluster: .*", f"cluster: {cluster}", path.read_text()))
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert time.monotonic() - started < 5
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: {re.escape(key)}: .*less than or equal to", _problem(info.value))


def test_more_boards_than_ports_is_refused_at_the_link(write_experiment):
    loaded = load_experiment(write_experiment(boards=7, topology="fully_connected"))
    with pytest.raises(ConfigError, match=r"experiment\.cluster\.link: .*needs 6 per board and zcu102 has 5"):
        EXPERIMENT_STUDY.plan(loaded)


@pytest.mark.parametrize("clock", ["5000", "0.000001", "1000000000000000000"])
def test_kernel_clock_outside_the_boards_fabric_range_names_the_kernel_file(write_experiment, tmp_path, clock):
    kernel = tmp_path / "kernel.yaml"
    kernel.write_text(re.sub(r"clock_mhz: \d+", f"clock_mhz: {clock}", (KERNELS / "superlip-conv-16bit.yaml").read_text()))
    path = write_experiment()
    path.write_text(path.read_text().replace(str(KERNELS / "superlip-conv-16bit.yaml"), str(kernel)))
    with pytest.raises(ConfigError) as info:
        EXPERIMENT_STUDY.plan(load_experiment(path))
    assert re.fullmatch(rf"{re.escape(str(kernel))}:\d+:\d+: kernel\.clock_mhz: .* MHz is outside the fabric clock "
                        r"range of zcu102 \(100-300 MHz, board.clock_mhz in its board file\)", _problem(info.value))


def test_estimate_is_within_a_factor_of_two_of_the_emulation(write_experiment):
    for boards, topology in ((1, "pair"), (2, "pair")):
        setup = build_setup(load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", boards=boards,
                                                             topology=topology)))
        estimate = estimate_run(setup, Limits())
        measured = emulate(setup, functional=False, trace=True)
        assert measured.events / 2 <= estimate.events <= measured.events * 2
        assert measured.trace.span_count / 2 <= estimate.spans <= measured.trace.span_count * 2
        assert estimate.trace_bytes == estimate.spans * 200


def test_a_run_beyond_the_limits_is_refused_naming_the_estimate_and_the_options(write_experiment, capsys):
    path = write_experiment(network="{zoo: vgg16_conv, batch: 256}")
    code = main(["run", str(path), "--out", str(path.parent / "out")])
    err = capsys.readouterr().err
    assert code == 2 and not (path.parent / "out").exists()
    assert re.search(r"refused before simulating: the run would need about [\d,]+ simulation events \(limit "
                     r"50,000,000; raise it with --max-events N\) and about [\d,]+ MB of memory \(limit 4,096 MB; "
                     r"raise it with --max-memory-mb N; --no-trace saves most of it\)", err)
    assert err.count("\n") == 1


def test_raised_limits_let_the_plan_through(write_experiment):
    loaded = load_experiment(write_experiment(network="{zoo: vgg16_conv, batch: 256}"))
    with pytest.raises(BadArgument, match="--max-events"):
        EXPERIMENT_STUDY.plan(loaded)
    plan = EXPERIMENT_STUDY.plan(loaded, limits=Limits(max_events=10**10, max_memory_mb=10**6))
    assert plan.estimate.events > 50_000_000


@pytest.mark.parametrize("option", ["--max-events", "--max-memory-mb", "--max-trace-spans"])
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_limit_options_refuse_what_is_not_a_positive_integer(write_experiment, capsys, option, value):
    with pytest.raises(SystemExit) as info:
        main(["run", str(write_experiment()), option, value])
    assert info.value.code == 2
    assert f"argument {option}: '{value}': expected a positive integer" in capsys.readouterr().err


def test_a_large_trace_is_written_as_a_summary_said_in_the_report(write_experiment, tmp_path):
    setup = build_setup(load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml")))
    result = run_setup(setup, trace=True)
    recorded = result.emulation.trace.span_count
    write_run(result, tmp_path / "summary", max_trace_spans=1000)
    events = json.loads((tmp_path / "summary" / "trace.json").read_text())["traceEvents"]
    spans = [event for event in events if event["ph"] == "X"]
    assert len(spans) <= 1000 and sum(event["args"]["spans"] for event in spans) == recorded
    report = (tmp_path / "summary" / "report.md").read_text()
    assert f"trace.json is a summary: the run recorded {recorded:,} spans, more than --max-trace-spans 1,000" in report
    write_run(result, tmp_path / "full", max_trace_spans=recorded)
    assert "## Trace" not in (tmp_path / "full" / "report.md").read_text()
    full = json.loads((tmp_path / "full" / "trace.json").read_text())["traceEvents"]
    assert sum(event["ph"] == "X" for event in full) == recorded


def test_timeline_layers_follow_each_other_and_end_with_the_run(write_experiment):
    result = run_setup(build_setup(load_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml"))),
                       trace=True)
    spans = layer_spans(result)
    assert [name for name, _, _ in spans] == [layer.emulated.name for layer in result.layers]
    assert spans[0][1] == 0 and all(a[2] <= b[1] for a, b in zip(spans, spans[1:]))
    assert spans[-1][2] == pytest.approx(result.emulation.total_ps, rel=1e-6)


@pytest.mark.parametrize("track, kind", [("board0.compute", "compute"), ("board1.pool", "compute"),
                                         ("cpu.cores", "compute"), ("board0.axis_ifm", "stream port"),
                                         ("board0.ddr", "DDR"), ("link0-1.fwd", "link"), ("misc", "other")])
def test_each_track_has_a_resource_kind(track, kind):
    assert resource_kind(track) == kind


def _platform_experiment(tmp_path: Path, **network) -> Path:
    """experiments/hetero-residual.yaml with another network, beside the shipped file's folder."""
    import yaml

    root = Path(__file__).resolve().parents[3]
    document = yaml.safe_load((root / "experiments" / "hetero-residual.yaml").read_text(encoding="utf-8"))
    if network:
        document["experiment"]["network"] = network
        document["experiment"]["placement"] = {"default": "fpga0"}
        document["experiment"]["mode"] = "timing"
    for device in document["experiment"]["platform"]["devices"]:
        if "kernel" in device:
            device["kernel"] = str(root / "kernels" / Path(device["kernel"]).name)
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_graph_estimate_is_within_a_factor_of_three_of_the_emulation(tmp_path: Path) -> None:
    from fpgasim.study.experiment.graph_run import plan_graph_experiment, run_graph_experiment
    from fpgasim.study.experiment.guards import estimate_graph

    setup = plan_graph_experiment(load_experiment(_platform_experiment(tmp_path)))
    estimate = estimate_graph(setup.plan, Limits())
    events = run_graph_experiment(setup, trace=False).emulation.events
    assert events / 3 <= estimate.events <= 3 * events


def test_a_graph_run_beyond_the_limits_is_refused_before_simulating(tmp_path: Path, capsys) -> None:
    path = _platform_experiment(tmp_path, zoo="resnet50", batch=1024)
    start = time.perf_counter()
    assert main(["validate", str(path)]) == 2
    assert time.perf_counter() - start < 30
    out = capsys.readouterr().out
    assert "refused before simulating" in out and "--max-events N" in out
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_platform_device_clock_outside_its_boards_range_names_the_kernel_file(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    kernel = tmp_path / "fast.yaml"
    kernel.write_text((root / "kernels" / "conv-16bit-32x8-zcu104.yaml").read_text(encoding="utf-8")
                      .replace("clock_mhz: 200", "clock_mhz: 5000"), encoding="utf-8")
    path = _platform_experiment(tmp_path)
    text = path.read_text(encoding="utf-8").replace(str(root / "kernels" / "conv-16bit-32x8-zcu104.yaml"), str(kernel))
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kernel\.clock_mhz: 5000 MHz is outside the fabric clock range of zcu104 "
                                          r"\(device fpga1"):
        EXPERIMENT_STUDY.plan(load_experiment(path))
