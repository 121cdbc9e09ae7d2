"""The runner: bit-exact functional runs on 1, 2 and 4 boards, timing results, bad input."""

import dataclasses

import pytest

from fpgasim.errors import ConfigError, DoesNotFit
from fpgasim.study.experiment.experiment import Mode, load_experiment
from fpgasim.study.experiment.runner import run_experiment, run_loaded


def test_single_board_functional_fixed_point_is_bit_exact(write_experiment):
    result = run_experiment(write_experiment(mode="functional"))
    assert result.bit_exact is True
    assert [layer.emulated.name for layer in result.layers] == ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5"]
    assert all(layer.emulated.max_abs_error == 0.0 for layer in result.layers)


@pytest.mark.parametrize("boards, topology", [(2, "pair"), (4, "ring")])
def test_partitioned_alexnet_assembles_bit_exactly(write_experiment, boards, topology):
    """Issue 5: a 2- and a 4-board partitioned AlexNet conv stack in fixed point assembles to
    exactly the single-kernel output, with every board's share of the operands moved over links."""
    result = run_experiment(write_experiment(mode="functional", boards=boards, topology=topology, tiling="search"))
    assert result.bit_exact is True
    partitions = [layer.plan.partition for layer in result.layers]
    assert all(p.pb * p.pr * p.pc * p.pm == boards for p in partitions)
    assert result.summary()["link_bytes"] > 0


def test_two_boards_beat_one_and_report_link_traffic(write_experiment):
    one = run_experiment(write_experiment(tiling="search"))
    two = run_experiment(write_experiment(boards=2, tiling="search"))
    assert two.time_ms < one.time_ms
    assert one.summary()["link_bytes"] == 0 < two.summary()["link_bytes"]


def test_timing_mode_matches_the_model_and_names_a_bottleneck(write_experiment):
    result = run_experiment(write_experiment())
    for layer in result.layers:
        assert abs(layer.analytical_diff_pct) < 2.0, layer.emulated.name
        assert layer.emulated.bottleneck in layer.emulated.busy
        assert layer.emulated.bit_exact is None
    assert result.to_dict()["totals"]["latency_ms"] == pytest.approx(result.time_ms)


def test_results_are_deterministic(write_experiment):
    path = write_experiment(boards=2, tiling="search")
    assert run_experiment(path).to_dict() == run_experiment(path).to_dict()


def test_design_that_does_not_fit_is_refused_before_simulation(write_experiment):
    with pytest.raises(DoesNotFit, match="DSP"):
        run_experiment(write_experiment(kernel="superlip-conv-64x7-fp32.yaml", board="pynq_z2"))


def test_missing_kernel_file_names_the_path(tmp_path, write_experiment):
    path = write_experiment(kernel="nope.yaml")
    with pytest.raises(ConfigError, match=r"experiment\.kernel: file not found: .*nope\.yaml"):
        load_experiment(path)


@pytest.mark.parametrize("boards, topology, fragment", [
    (4, "pair", "'pair' joins exactly 2 boards"),
    (8, "fully_connected", "needs 7 per board and zcu102 has 5"),
])
def test_impossible_cabling_is_bad_input(write_experiment, boards, topology, fragment):
    loaded = load_experiment(write_experiment(boards=boards, topology=topology, tiling="search"))
    with pytest.raises(ConfigError, match=fragment):
        run_loaded(loaded, mode=Mode.TIMING)


def test_link_type_without_a_port_on_the_board_is_bad_input(write_experiment):
    loaded = load_experiment(write_experiment(boards=2, tiling="search"))
    spec = dataclasses.replace(loaded.spec, cluster=dataclasses.replace(loaded.spec.cluster, link="wifi_lcp"))
    with pytest.raises(ConfigError, match="runs over usb, wifi ports; a pair of 2 boards needs 1 per board and zcu102 has 0"):
        run_loaded(dataclasses.replace(loaded, spec=spec))


def test_fixed_partition_product_must_equal_boards(write_experiment):
    extra = "  partition: {policy: fixed, factors: {pr: 3}}\n"
    loaded = load_experiment(write_experiment(boards=2, extra=extra, tiling="search"))
    with pytest.raises(Exception, match="boards"):
        run_loaded(loaded)


def test_conv_only_timing_skips_pools_but_still_moves_data_through_them(write_experiment):
    network = "{zoo: alexnet_conv, shapes: merged, batch: 1, pooling: false}"
    result = run_experiment(write_experiment(boards=2, tiling="search", network=network))
    assert result.setup.skipped == ("pool1", "pool2")
    assert [layer.emulated.name for layer in result.layers] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert result.redistribution_cycles > 0
