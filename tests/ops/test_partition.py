"""Partitioned == unpartitioned, bit for bit, for every split kind and 1..8 parts; plans are consistent."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Requantizer
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_int_sums, conv2d_ref
from fpgasim.ops.partition import ConvPath, SplitKind, balanced_ranges, plan_partition, run_partitioned
from fpgasim.ops.window import as_pair, per_axis
from tests.strategies.numeric import fixed_tensors, overflows, roundings


@st.composite
def layers(draw):
    """A conv layer and a split kind + part count legal for it."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, mg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    if depthwise:
        groups, cg, mg = draw(st.integers(1, 5)), 1, 1
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))  # rectangular windows too
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(kh, 9)), draw(st.integers(kw, 9))
    x_shape, w_shape = (n, cg * groups, h, w), (mg * groups, cg, kh, kw)
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    split = draw(st.sampled_from(list(SplitKind)))
    dim = {SplitKind.OUTPUT_CHANNELS: mg * groups if groups == 1 else groups, SplitKind.ROWS: oh,
           SplitKind.COLS: ow, SplitKind.BATCH: n}[split]
    parts = draw(st.integers(1, min(8, dim)))
    return x_shape, w_shape, dict(stride=as_pair(sh, sw), padding=as_pair(ph, pw), groups=groups), split, parts


@given(layers(), st.data(), roundings, overflows)
def test_fixed_partitioned_equals_unpartitioned(layer, data, rounding, overflow) -> None:
    x_shape, w_shape, geo, split, parts = layer
    xf, wf = FixedFormat(total_bits=8, int_bits=3, signed=True), FixedFormat(total_bits=6, int_bits=1, signed=True)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))  # large tensors: numpy, not st.lists
    x = FixedTensor(rng.integers(xf.min_int, xf.max_int + 1, x_shape).astype(np.int8), xf)
    w = FixedTensor(rng.integers(wf.min_int, wf.max_int + 1, w_shape).astype(np.int8), wf)
    b = data.draw(st.none() | fixed_tensors(xf, (w_shape[0],)))
    rq = Requantizer(out=FixedFormat(total_bits=8, int_bits=4, signed=True), rounding=rounding, overflow=overflow,
                     accumulator=Accumulator(bits=16, overflow=data.draw(overflows)))
    whole, counts = conv2d_fixed(x, w, b, requant=rq, **geo)
    res = run_partitioned("fixed", x, w, b, split=split, parts=parts, requant=rq, **geo)
    assert isinstance(res.output, FixedTensor) and res.output.fmt == rq.out
    assert res.output.values.dtype == whole.values.dtype and np.array_equal(res.output.values, whole.values)
    assert res.counts == counts and len(res.plans) == parts


@given(layers(), st.integers(0, 2**31))
def test_int_sums_and_float_partitioned_equal_unpartitioned(layer, seed) -> None:
    x_shape, w_shape, geo, split, parts = layer
    rng = np.random.default_rng(seed)
    xi, wi = rng.integers(-(2**15), 2**15, x_shape), rng.integers(-(2**15), 2**15, w_shape)
    assert np.array_equal(run_partitioned("int_sums", xi, wi, split=split, parts=parts, **geo).output,
                          conv2d_int_sums(xi, wi, **geo))
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    # float32 with < 8 channels per group runs the conv engine's direct loop: same order per output, bit-exact
    f32 = run_partitioned(ConvPath.F32, x, w, b, split=split, parts=parts, **geo).output
    assert f32.dtype == np.float32 and np.array_equal(f32, conv2d_f32(x, w, b, **geo))
    np.testing.assert_allclose(run_partitioned("ref", x, w, b, split=split, parts=parts, **geo).output,
                               conv2d_ref(x, w, b, **geo), rtol=1e-12, atol=1e-12)


@given(layers())
def test_plans_tile_the_output_and_read_inside_the_input(layer) -> None:
    x_shape, w_shape, geo, split, parts = layer
    plans = plan_partition(x_shape, w_shape, split=split, parts=parts, **geo)
    covered = np.zeros(plans[-1].batch[1:] + plans[-1].out_channels[1:] + plans[-1].out_rows[1:]
                       + plans[-1].out_cols[1:], dtype=int)
    for p in plans:
        covered[p.out_slice] += 1
        for (lo, hi), size in zip((p.batch, p.in_channels, p.in_rows, p.in_cols), x_shape):
            assert 0 <= lo < hi <= size
        # padded input extent gives exactly the part's output extent
        (sh, sw), (ph, pw) = per_axis("stride", geo["stride"], 1), per_axis("padding", geo["padding"], 0)
        rows = p.in_rows[1] - p.in_rows[0] + p.pad_top + p.pad_bottom
        cols = p.in_cols[1] - p.in_cols[0] + p.pad_left + p.pad_right
        assert (rows - w_shape[2]) // sh + 1 == p.out_rows[1] - p.out_rows[0]
        assert (cols - w_shape[3]) // sw + 1 == p.out_cols[1] - p.out_cols[0]
        assert max(p.pad_top, p.pad_bottom) <= ph and max(p.pad_left, p.pad_right) <= pw
    assert np.all(covered == 1)


def test_rows_halo_hand_computed() -> None:
    # H = 8, 3x3, stride 1, padding 1 -> 8 output rows; two parts: rows 0..4 and 4..8
    top, bottom = plan_partition((1, 1, 8, 8), (1, 1, 3, 3), stride=1, padding=1, groups=1, split="rows", parts=2)
    assert (top.in_rows, top.pad_top, top.pad_bottom, top.out_rows) == ((0, 5), 1, 0, (0, 4))
    assert (bottom.in_rows, bottom.pad_top, bottom.pad_bottom, bottom.out_rows) == ((3, 8), 0, 1, (4, 8))
    assert top.in_elements == 5 * 8


def test_grouped_output_channel_split_takes_whole_groups() -> None:
    plans = plan_partition((1, 6, 4, 4), (9, 2, 1, 1), stride=1, padding=0, groups=3, split="output_channels",
                           parts=2)
    assert [(p.in_channels, p.out_channels, p.groups) for p in plans] == [((0, 4), (0, 6), 2), ((4, 6), (6, 9), 1)]


def test_balanced_ranges() -> None:
    assert balanced_ranges(7, 3) == [(0, 3), (3, 5), (5, 7)]


@pytest.mark.parametrize(
    ("split", "parts", "fragment"),
    [
        ("rows", 9, "parts=9 exceeds the 8 output rows"),
        ("cols", 9, "parts=9 exceeds the 8 output columns"),
        ("batch", 3, "parts=3 exceeds the 2 images in the batch"),
        ("output_channels", 5, "parts=5 exceeds the 4 output channels"),
        ("rows", 0, "parts=0: expected an integer >= 1"),
        ("diagonal", 2, "split='diagonal' is not one of: output_channels, rows, cols, batch"),
    ],
)
def test_bad_part_counts(split, parts, fragment) -> None:
    with pytest.raises(BadArgument, match=fragment):
        plan_partition((2, 3, 8, 8), (4, 3, 3, 3), stride=1, padding=1, groups=1, split=split, parts=parts)


def test_bad_arguments() -> None:
    x, w = np.zeros((1, 4, 4, 4)), np.zeros((4, 2, 1, 1))
    with pytest.raises(BadArgument, match="parts=3 exceeds the 2 groups"):
        plan_partition(x.shape, w.shape, stride=1, padding=0, groups=2, split="output_channels", parts=3)
    with pytest.raises(ShapeError, match="divisible by groups"):
        plan_partition((1, 3, 4, 4), (4, 1, 1, 1), stride=1, padding=0, groups=2, split="rows", parts=1)
    with pytest.raises(BadArgument, match="expected a Requantizer for path=fixed"):
        run_partitioned("fixed", x, w, stride=1, padding=0, groups=2, split="rows", parts=2)
    with pytest.raises(BadArgument, match="bias: expected None for path=int_sums"):
        run_partitioned("int_sums", x.astype(int), w.astype(int), np.zeros(4), stride=1, padding=0, groups=2,
                        split="rows", parts=2)
    with pytest.raises(BadArgument, match="path='gpu' is not one of"):
        run_partitioned("gpu", x, w, stride=1, padding=0, groups=2, split="rows", parts=2)


def test_float32_gemm_path_agrees_to_rounding() -> None:
    """>= 8 channels per group: im2col + BLAS, whose blocking depends on the slice shapes."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 16, 9, 9)), rng.standard_normal((12, 16, 3, 3))
    whole = conv2d_f32(x, w, None, stride=1, padding=1, groups=1)
    for split in SplitKind:
        got = run_partitioned("f32", x, w, None, stride=1, padding=1, groups=1, split=split, parts=2).output
        np.testing.assert_allclose(got, whole, rtol=1e-5, atol=1e-4)
