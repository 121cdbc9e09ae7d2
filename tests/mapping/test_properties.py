"""Properties of the closed-form model (hypothesis)."""

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.mapping import Partition, StreamRates, layer_latency
from tests.strategies.mapping import conv_shapes, partitions, stream_rates, tilings

VARIANTS = st.sampled_from(["released", "complete"])


@given(st.data(), VARIANTS, st.sampled_from(["weights", "ifm", "ofm", "link"]), st.sampled_from([1.5, 2.0, 10.0]))
def test_latency_non_increasing_in_each_stream_rate(data, variant, field, factor) -> None:
    shape = data.draw(conv_shapes())
    part = data.draw(partitions(shape))
    tiling = data.draw(tilings(shape, part))
    rates = data.draw(stream_rates(link=True))
    faster = StreamRates(**{f: getattr(rates, f) for f in ("weights", "ifm", "ofm", "link")}
                         | {field: getattr(rates, field) * factor})
    slow = layer_latency(shape, tiling, rates=rates, partition=part, variant=variant)
    fast = layer_latency(shape, tiling, rates=faster, partition=part, variant=variant)
    assert fast.cycles <= slow.cycles


@given(st.data())
def test_complete_at_least_released_on_one_board(data) -> None:
    shape = data.draw(conv_shapes())
    tiling = data.draw(tilings(shape))
    rates = data.draw(stream_rates(link=False))
    assume(shape.in_channels % min(tiling.tn, shape.in_channels) == 0)  # else the last step loads less
    done = layer_latency(shape, tiling, rates=rates, variant="complete")
    rel = layer_latency(shape, tiling, rates=rates, variant="released")
    assert done.cycles >= rel.cycles
    # the pipeline's exposed stages: at least the first tile's exposed load/compute and last store
    assert done.cycles - rel.cycles >= done.fill_cycles - done.l_out_cycles + done.drain_cycles - 1e-9 * done.cycles


@given(st.data(), VARIANTS)
def test_bottleneck_label_is_the_argmax_term(data, variant) -> None:
    shape = data.draw(conv_shapes())
    part = data.draw(partitions(shape))
    lat = layer_latency(shape, data.draw(tilings(shape, part)), rates=data.draw(stream_rates()), partition=part,
                        variant=variant)
    terms = lat.tile_terms_cycles()
    assert terms[lat.bottleneck] == max(terms.values())
    assert lat.l_out_cycles == max(lat.inner_cycles, lat.t_o_cycles)
    assert max(terms.values()) <= lat.l_out_cycles * (1 + 1e-12)  # no resource is busier than the tile
    if lat.steps * lat.l_in_cycles == lat.inner_cycles:  # every step alike: the busiest resource is L_out
        assert max(terms.values()) == pytest.approx(lat.l_out_cycles, rel=1e-12)
    tiles = lat.tiles if lat.variant.value == "released" else lat.tiles - 1  # complete: fill holds tile 1
    assert math.isclose(lat.cycles, tiles * lat.l_out_cycles + lat.fill_cycles + lat.drain_cycles)


@given(st.data())
def test_all_ones_partition_is_the_single_board_model(data) -> None:
    shape = data.draw(conv_shapes())
    t = data.draw(tilings(shape))
    rates = data.draw(stream_rates(link=False))
    lat = layer_latency(shape, t, rates=rates, partition=Partition(), variant="released", boards=1)
    m, n, r, c, taps = shape.out_channels, shape.in_channels, shape.out_h, shape.out_w, shape.kernel_h * shape.kernel_w
    l_in = max(t.tn * t.tr * t.tc / rates.ifm, t.tm * t.tn * taps / rates.weights, taps * t.tr * t.tc)
    l_out = max(math.ceil(n / t.tn) * l_in, t.tm * t.tr * t.tc / rates.ofm)
    zhang = shape.groups * shape.batch * math.ceil(r / t.tr) * math.ceil(c / t.tc) * math.ceil(m / t.tm) * l_out
    assert math.isclose(lat.cycles, zhang)
    linked = StreamRates(weights=rates.weights, ifm=rates.ifm, ofm=rates.ofm, link=data.draw(st.sampled_from([0.5, 4.0])))
    assert (layer_latency(shape, t, rates=linked, variant="complete").cycles
            == layer_latency(shape, t, rates=rates, variant="complete").cycles)


@given(st.data(), st.sampled_from(["pb", "pr", "pc", "pm"]))
def test_partition_factor_larger_than_dimension_is_refused(data, field) -> None:
    shape = data.draw(conv_shapes(max_channels=8, max_size=8))
    dim = {"pb": shape.batch, "pr": shape.out_h, "pc": shape.out_w, "pm": shape.out_channels}[field]
    part = Partition(**{field: dim + 1})
    try:
        layer_latency(shape, data.draw(tilings(shape)), rates=StreamRates.uniform(1), partition=part)
    except BadArgument as error:
        assert f"{field}={dim + 1} exceeds" in str(error)
    else:
        raise AssertionError("no BadArgument")


@given(st.data(), st.integers(1, 16))
def test_partition_product_must_equal_boards(data, boards) -> None:
    shape = data.draw(conv_shapes())
    part = data.draw(partitions(shape))
    call = lambda: layer_latency(shape, data.draw(tilings(shape, part)), rates=StreamRates.uniform(1),  # noqa: E731
                                 partition=part, boards=boards)
    if part.boards == boards:
        call()
    else:
        try:
            call()
        except BadArgument as error:
            assert f"={part.boards} " in str(error) and f"number of boards {boards}" in str(error)
        else:
            raise AssertionError("no BadArgument")
