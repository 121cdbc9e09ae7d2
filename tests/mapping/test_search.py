"""Tiling and partition search: dominant-candidate search equals brute force; bounds; errors."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, DoesNotFit
from fpgasim.kernels.resources import released_bram18, released_dsp
from fpgasim.mapping import (
    ConvShape, Partition, ResourceBounds, StreamRates, partition_candidates, search_partition, search_tiling,
    tile_candidates,
)
from tests.strategies.mapping import conv_shapes, partitions, stream_rates

ZCU102 = ResourceBounds(dsp=2520, bram18=1824, data_bits=32)


def test_tile_candidates_are_the_smallest_tile_per_loop_count() -> None:
    assert tile_candidates(13, exhaustive=False).tolist() == [1, 2, 3, 4, 5, 7, 13]
    assert tile_candidates(4, exhaustive=True).tolist() == [1, 2, 3, 4]


@given(st.data(), st.sampled_from(["released", "complete"]), st.integers(40, 400), st.integers(40, 300))
def test_dominant_search_equals_brute_force(data, variant, dsp, bram) -> None:
    shape = data.draw(conv_shapes(max_channels=12, max_size=10, max_batch=2))
    part = data.draw(partitions(shape, max_factor=2))
    rates = data.draw(stream_rates())
    bounds = ResourceBounds(dsp=dsp, bram18=bram)
    try:
        fast = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part)
    except DoesNotFit:
        with pytest.raises(DoesNotFit):
            search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part, exhaustive=True)
        return
    brute = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part, exhaustive=True,
                          chunk_candidates=97)
    assert brute.tiling == fast.tiling and brute.latency == fast.latency
    assert brute.candidates_evaluated >= fast.candidates_evaluated


def test_chosen_tiling_respects_the_strict_released_bounds() -> None:
    shape = ConvShape(batch=1, out_channels=384, in_channels=256, out_h=13, out_w=13, kernel=3)
    choice = search_tiling(shape, bounds=ZCU102, rates=StreamRates.uniform(2, link=False), variant="released")
    t = choice.tiling
    assert choice.dsp == released_dsp(t.tm, t.tn, 32) < 2520
    assert choice.bram18 == released_bram18(t.tm, t.tn, t.tr, t.tc, 3, 32) < 1824


def test_strict_bound_in_released_inclusive_in_complete() -> None:
    # Only Tm=Tn=1 exists; it needs 5 DSPs. A 5-DSP board fits it in complete but not in released.
    shape = ConvShape(batch=1, out_channels=1, in_channels=1, out_h=1, out_w=1, kernel=1)
    bounds = ResourceBounds(dsp=5, bram18=100)
    assert search_tiling(shape, bounds=bounds, rates=StreamRates.uniform(1), variant="complete").dsp == 5
    with pytest.raises(DoesNotFit, match="DSP needs 5 slices, 5 available"):
        search_tiling(shape, bounds=bounds, rates=StreamRates.uniform(1), variant="released")


def test_fixed_unroll_factors_are_kept_and_too_big_fixed_design_does_not_fit() -> None:
    shape = ConvShape(batch=1, out_channels=96, in_channels=3, out_h=55, out_w=55, kernel=11)
    choice = search_tiling(shape, bounds=ZCU102, rates=StreamRates.uniform(2, link=False), variant="released",
                           fixed_tm=64, fixed_tn=7)
    assert (choice.tiling.tm, choice.tiling.tn, choice.dsp) == (64, 7, 2240)
    with pytest.raises(DoesNotFit, match="DSP needs 2560"):
        search_tiling(shape, bounds=ZCU102, rates=StreamRates.uniform(2), fixed_tm=64, fixed_tn=8)
    with pytest.raises(BadArgument, match="fixed_tm=0"):
        search_tiling(shape, bounds=ZCU102, rates=StreamRates.uniform(2), fixed_tm=0)


@pytest.mark.parametrize("boards", [1, 2, 3, 4, 6, 8])
def test_partition_candidates_cover_every_factorisation(boards) -> None:
    shape = ConvShape(batch=2, out_channels=16, in_channels=4, out_h=8, out_w=8, kernel=3)
    found = partition_candidates(shape, boards)
    assert all(p.boards == boards for p in found) and len(set(found)) == len(found)
    for p in found:
        p.check(shape)
    brute = {(b, r, c, m) for b in range(1, 3) for r in range(1, 9) for c in range(1, 9) for m in range(1, 17)
             if b * r * c * m == boards}
    assert {(p.pb, p.pr, p.pc, p.pm) for p in found} == brute


def test_partition_search_is_no_worse_than_any_candidate() -> None:
    shape = ConvShape(batch=1, out_channels=64, in_channels=32, out_h=13, out_w=13, kernel=3)
    rates = StreamRates.uniform(1)
    best = search_partition(shape, boards=4, bounds=ZCU102, rates=rates)
    for part in partition_candidates(shape, 4):
        assert best.latency.cycles <= search_tiling(shape, bounds=ZCU102, rates=rates, partition=part).latency.cycles
    with pytest.raises(BadArgument, match="expected the number of boards 4"):
        search_partition(shape, boards=4, bounds=ZCU102, rates=rates, candidates=(Partition(pr=2),))


def test_bram_shortage_is_reported_as_bram18() -> None:
    shape = ConvShape(batch=1, out_channels=1, in_channels=1, out_h=1, out_w=1, kernel=1)
    # Tm=Tn=Tr=Tc=1 needs 5 DSPs (fits exactly in complete) and 2+2+2 = 6 BRAM18.
    with pytest.raises(DoesNotFit, match="BRAM18 needs 6 blocks, 5 available"):
        search_tiling(shape, bounds=ResourceBounds(dsp=5, bram18=5), rates=StreamRates.uniform(1), variant="complete")


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["released", "complete"])
def test_alexnet_brute_force_equals_dominant_search(variant) -> None:
    bounds = ResourceBounds(dsp=2520, bram18=1824, data_bits=32)
    for m, n, r, c, k in ((96, 3, 55, 55, 11), (128, 48, 27, 27, 5), (384, 256, 13, 13, 3)):
        shape = ConvShape(batch=1, out_channels=m, in_channels=n, out_h=r, out_w=c, kernel=k)
        for part in (Partition(), Partition(pr=2)):
            rates = StreamRates.uniform(2, link=part.boards > 1)
            fast = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part)
            brute = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=part, exhaustive=True)
            assert (brute.tiling, brute.latency) == (fast.tiling, fast.latency)
