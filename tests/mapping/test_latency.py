"""Closed-form model: hand-computed cases, link shares, fill/drain, errors."""

import math

import pytest

from fpgasim.errors import BadArgument
from fpgasim.mapping import (
    Bottleneck, ConvShape, ModelVariant, Partition, StreamRates, Tiling, conv_shape, layer_latency,
    rate_from_bandwidth,
)
from fpgasim.nn import Depthwise

SHAPE = ConvShape(batch=1, out_channels=4, in_channels=2, out_h=4, out_w=4, kernel=3)
TILING = Tiling(tm=2, tn=1, tr=2, tc=2)
ONES = StreamRates(weights=1, ifm=1, ofm=1)


def test_released_single_board_by_hand() -> None:
    lat = layer_latency(SHAPE, TILING, rates=ONES, variant="released")
    # t_W = 2·1·9 = 18, t_I = 1·2·2 = 4, t_C = 9·2·2 = 36, t_O = 2·2·2 = 8
    assert (lat.t_w_cycles, lat.t_i_cycles, lat.t_c_cycles, lat.t_o_cycles) == (18, 4, 36, 8)
    assert lat.steps == 2 and lat.l_in_cycles == 36 and lat.l_out_cycles == 72
    assert lat.tiles == 8 and lat.cycles == 8 * 72  # ⌈4/2⌉·⌈4/2⌉·⌈4/2⌉ output tiles
    assert lat.bottleneck is Bottleneck.COMPUTE and lat.fill_cycles == lat.drain_cycles == 0
    assert lat.time_ms(100) == pytest.approx(576 / 1e5)


def test_complete_adds_halo_fill_and_drain_by_hand() -> None:
    lat = layer_latency(SHAPE, TILING, rates=ONES, variant="complete")
    assert lat.t_i_cycles == 1 * (2 + 3 - 1) * (2 + 3 - 1)  # (S·Tr+K−S)(S·Tc+K−S)
    # first output tile: 2 steps x L_in (36, compute bound) + the exposed first load max(16, 18)
    assert lat.fill_cycles == 2 * 36 + 18
    assert lat.drain_cycles == 8  # last store t_O
    assert lat.cycles == 7 * 72 + 90 + 8  # the other 7 output tiles at L_out = 72


def test_weight_bound_label() -> None:
    lat = layer_latency(SHAPE, TILING, rates=StreamRates(weights=0.25, ifm=1, ofm=1), variant="released")
    assert lat.t_w_cycles == 72 and lat.cycles == 8 * 2 * 72
    assert lat.bottleneck is Bottleneck.DDR_READ_WEIGHTS


def test_ofm_bound_label() -> None:
    lat = layer_latency(SHAPE, Tiling(tm=4, tn=2, tr=4, tc=4), rates=StreamRates(weights=1, ifm=1, ofm=0.1),
                        variant="released")
    assert lat.t_o_cycles == pytest.approx(640) and lat.l_out_cycles == pytest.approx(640)
    assert lat.bottleneck is Bottleneck.DDR_WRITE_OFM


def test_released_xfer_two_boards_by_hand() -> None:
    rates = StreamRates(weights=0.25, ifm=1, ofm=1, link=1)
    lat = layer_latency(SHAPE, TILING, rates=rates, partition=Partition(pr=2), variant="released", boards=2)
    assert lat.t_w_cycles == 36 and lat.t_link_w_cycles == 9  # 72/2 from DDR; 18/a/2 over the link
    assert lat.tiles == 4 and lat.cycles == 4 * 2 * 36
    lat_m = layer_latency(SHAPE, TILING, rates=rates, partition=Partition(pm=2), variant="released", boards=2)
    assert lat_m.t_i_cycles == 2 and lat_m.t_link_i_cycles == 2 and lat_m.t_w_cycles == 72


def test_released_fallback_row_uses_whole_weight_tile_on_link() -> None:
    lat = layer_latency(SHAPE, TILING, rates=StreamRates(weights=1, ifm=1, ofm=1, link=0.1), variant="released")
    assert lat.t_link_w_cycles == pytest.approx(180) and lat.bottleneck is Bottleneck.LINK


def test_three_boards_receive_two_thirds_in_complete_one_third_in_released() -> None:
    shape = ConvShape(batch=1, out_channels=2, in_channels=1, out_h=6, out_w=2, kernel=1)
    rates = StreamRates(weights=1, ifm=100, ofm=100, link=0.1)
    tiling = Tiling(tm=2, tn=1, tr=2, tc=2)
    done = layer_latency(shape, tiling, rates=rates, partition=Partition(pr=3), variant="complete", boards=3)
    assert done.t_link_cycles == pytest.approx(2 * (2 / 3) / 0.1)  # weight tile 2, (P−1)/P received
    assert done.t_w_cycles == pytest.approx(2 / 3) and done.bottleneck is Bottleneck.LINK
    # 1 tile (link bound) + the exposed compute of the last step (fill = min(load, compute)) + drain
    assert done.cycles == pytest.approx(done.t_link_cycles + done.t_c_cycles + 0.08)
    rel = layer_latency(shape, tiling, rates=rates, partition=Partition(pr=3), variant="released", boards=3)
    assert rel.t_link_cycles == pytest.approx(2 / 0.1 / 3)


def test_groups_multiply_and_depthwise_maps_to_per_group_shape() -> None:
    dw = conv_shape(Depthwise(name="dw", channels=8, in_h=6, in_w=6, kernel=3, padding=1), batch=2)
    assert (dw.groups, dw.out_channels, dw.in_channels, dw.batch) == (8, 1, 1, 2)
    one = layer_latency(ConvShape(batch=2, out_channels=1, in_channels=1, out_h=6, out_w=6, kernel=3),
                        Tiling(tm=1, tn=1, tr=6, tc=6), rates=ONES, variant="released")
    eight = layer_latency(dw, Tiling(tm=1, tn=1, tr=6, tc=6), rates=ONES, variant="released")
    assert eight.cycles == 8 * one.cycles


def test_rate_from_bandwidth() -> None:
    assert rate_from_bandwidth(bandwidth_bytes_per_s=800e6, bytes_per_element=4, clock_mhz=100) == 2.0
    with pytest.raises(BadArgument, match="clock_mhz=0"):
        rate_from_bandwidth(bandwidth_bytes_per_s=1e9, bytes_per_element=4, clock_mhz=0)


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: layer_latency(SHAPE, TILING, rates=ONES, partition=Partition(pr=5)), "pr=5 exceeds out_h R=4"),
    (lambda: layer_latency(SHAPE, TILING, rates=ONES, partition=Partition(pm=5)), "pm=5 exceeds out_channels M=4"),
    (lambda: layer_latency(SHAPE, TILING, rates=ONES, partition=Partition(pb=2)), "pb=2 exceeds batch B=1"),
    (lambda: layer_latency(SHAPE, TILING, rates=ONES, partition=Partition(pr=2), boards=4),
     "pb\\*pr\\*pc\\*pm=2 .*expected the number of boards 4"),
    (lambda: layer_latency(SHAPE, TILING, rates=ONES, variant="exact"), "variant='exact': expected one of released, complete"),
    (lambda: layer_latency(SHAPE, (2, 1, 2, 2), rates=ONES), "tiling=\\(2, 1, 2, 2\\): expected a Tiling"),
    (lambda: Tiling(tm=0, tn=1, tr=1, tc=1), "Tiling: tm=0: expected an integer >= 1"),
    (lambda: Partition(pr=0), "Partition: pr=0"),
    (lambda: StreamRates(weights=1, ifm=-1, ofm=1), "StreamRates: ifm=-1: expected a positive number"),
    (lambda: StreamRates(weights=1, ifm=1, ofm=1, link=math.inf), "link=inf"),
    (lambda: ConvShape(batch=1, out_channels=1, in_channels=1, out_h=0, out_w=1, kernel=1), "out_h=0"),
])
def test_bad_arguments_name_themselves(call, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment):
        call()


def test_variant_enum_values() -> None:
    assert {v.value for v in ModelVariant} == {"released", "complete"}
