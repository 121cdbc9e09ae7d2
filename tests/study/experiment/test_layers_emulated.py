"""Pooling and fully connected layers in ``fpgasim run``: bit exact against ``fpgasim.ops``,
pooled regions on several boards, the pooling model beside the emulator, ``pool_lanes``."""

from pathlib import Path

import numpy as np
import pytest

from fpgasim.errors import ConfigError
from fpgasim.study.experiment.experiment import Mode, load_experiment
from fpgasim.mapping.redistribute import needed_input, through_pools
from fpgasim.study.experiment.report import run_markdown
from fpgasim.study.experiment.runner import run_experiment, run_loaded
from fpgasim.mapping.parts import board_parts
from fpgasim.mapping.device import linear_as_conv
from fpgasim.mapping.layer_plan import LayerKind
from fpgasim.study.experiment.setup import build_setup
from fpgasim.nn import Linear

TINY = "{zoo: tiny_cnn, batch: 2}"


def _kinds(result) -> dict[str, LayerKind]:
    return {layer.plan.layer.name: layer.plan.kind for layer in result.layers}


@pytest.mark.parametrize("boards", [1, 2, 4])
def test_tiny_cnn_fixed_point_is_bit_exact_on_every_layer_kind(write_experiment, boards):
    """conv and pooling rows equal the direct conv / ``ops.pool``; FC rows equal ``ops.linear``."""
    result = run_experiment(write_experiment(mode="functional", network=TINY, boards=boards, topology="ring",
                                             tiling="search"))
    assert _kinds(result) == {"conv1": LayerKind.CONV, "pool1": LayerKind.POOL, "conv2": LayerKind.CONV,
                              "pool2": LayerKind.POOL, "fc1": LayerKind.LINEAR, "fc2": LayerKind.LINEAR}
    assert result.setup.skipped == ()
    assert result.bit_exact is True
    assert all(layer.emulated.max_abs_error == 0.0 for layer in result.layers)
    for layer in result.layers:
        assert layer.emulated.cycles > 0 and layer.emulated.bottleneck in layer.emulated.busy


def test_fc_is_a_1x1_convolution_on_a_1x1_map():
    conv = linear_as_conv(Linear(name="fc", in_features=256, out_features=10, bias=False))
    assert (conv.in_channels, conv.out_channels, conv.in_h, conv.in_w, conv.kernel) == (256, 10, 1, 1, 1)
    assert conv.macs == 256 * 10 and conv.out_shape == (10, 1, 1) and conv.bias is False


def test_fp32_pooling_is_bit_exact_and_fc_differs_only_by_summation_order(write_experiment):
    result = run_experiment(write_experiment(mode="functional", network=TINY, kernel="superlip-conv-64x7-fp32.yaml"))
    rows = {layer.emulated.name: layer.emulated for layer in result.layers}
    assert rows["pool1"].bit_exact and rows["pool2"].bit_exact
    assert rows["fc1"].max_abs_error < 1e-5


def test_each_board_pools_what_its_next_conv_part_needs(write_experiment):
    setup = build_setup(load_experiment(write_experiment(network=TINY, boards=2, tiling="search")))
    items = {item.layer.name: item for item in setup.layers}
    pool, conv2 = items["pool1"], items["conv2"]
    assert pool.partition == conv2.partition
    parts = board_parts(conv2.layer, 2, conv2.partition)
    for region, part in zip(pool.regions, parts, strict=True):
        need = needed_input(conv2.layer, part)
        assert (region.batch, region.out_ch, region.out_rows, region.out_cols) == (
            need.batch, need.channels, need.rows, need.cols)
    covered = np.zeros((2, 8, 8, 8), dtype=int)
    for r in pool.regions:
        covered[r.batch[0]:r.batch[1], r.out_ch[0]:r.out_ch[1], r.out_rows[0]:r.out_rows[1],
                r.out_cols[0]:r.out_cols[1]] += 1
    assert (covered >= 1).all()
    if conv2.partition.pr > 1:  # the 3x3 halo: the rows at the boundary are pooled twice
        assert (covered == 2).any()
    # pool2 feeds an FC layer: it runs whole on board 0
    assert len(items["pool2"].regions) == 1
    assert items["pool2"].regions[0].out_rows == (0, 4)


def test_pool_model_matches_the_emulator_on_alexnet(write_experiment):
    result = run_experiment(write_experiment())
    pools = [layer for layer in result.layers if layer.plan.kind is LayerKind.POOL]
    assert [layer.emulated.name for layer in pools] == ["pool1", "pool2"]
    for layer in pools:
        assert abs(layer.analytical_diff_pct) < 2.0, layer.emulated.name
        assert layer.emulated.bottleneck == "board0.axis_ifm"             # a 2-in-1 stream: reading the input
        assert str(layer.plan.analytical.bottleneck) == "DDR read IFM"
        # the whole input is read once per tile window (rows overlap by the halo), the output written once
        pool = layer.plan.layer
        assert layer.emulated.ddr_read_bytes >= pool.ifm_elems * 2
        assert layer.emulated.ddr_write_bytes == pool.ofm_elems * 2
    table = run_markdown(result)
    assert "| pool1 |" in table and "| pool2 |" in table


def _kernel_with_lanes(tmp_path: Path, lanes: str) -> str:
    source = (Path(__file__).resolve().parents[3] / "kernels" / "superlip-conv-16bit.yaml").read_text()
    path = tmp_path / f"kernel-{lanes}.yaml"
    path.write_text(source.replace("\nkernel:\n", f"\nkernel:\n  pool_lanes: {lanes}\n", 1))
    return str(path)


def test_fewer_pool_lanes_make_pooling_compute_bound(write_experiment, tmp_path):
    one_lane = load_experiment(write_experiment(kernel=_kernel_with_lanes(tmp_path, "1")))
    default = load_experiment(write_experiment())
    assert build_setup(one_lane).design.pooling_lanes == 1
    assert build_setup(default).design.pooling_lanes == build_setup(default).design.parallelism.tm
    slow, fast = run_loaded(one_lane, mode=Mode.TIMING), run_loaded(default, mode=Mode.TIMING)
    slow_pool = next(layer for layer in slow.layers if layer.emulated.name == "pool1")
    fast_pool = next(layer for layer in fast.layers if layer.emulated.name == "pool1")
    pool = slow_pool.plan.layer
    assert slow_pool.emulated.cycles >= pool.ofm_elems * pool.kernel ** 2       # one window op per cycle
    assert slow_pool.emulated.cycles > fast_pool.emulated.cycles
    assert str(slow_pool.plan.analytical.bottleneck) == "compute"
    assert abs(slow_pool.analytical_diff_pct) < 2.0


def test_bad_pool_lanes_is_a_config_error(write_experiment, tmp_path):
    with pytest.raises(ConfigError, match="pool_lanes"):
        build_setup(load_experiment(write_experiment(kernel=_kernel_with_lanes(tmp_path, "0"))))
