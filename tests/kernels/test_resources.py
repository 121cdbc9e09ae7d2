"""The on-chip resource model: block counts by aspect ratio, DSPs, and the released formulas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.kernels.resources import (
    BRAM18_BITS, BufferSpec, MemoryKind, MemoryPreference, bram18_blocks, bram36_blocks, buffer_bram18,
    dsp_count, lutram_luts, map_buffer, released_bram18, released_bram18_parts, released_dsp, uram_blocks,
)
from fpgasim.kernels.tiled_conv import tiled_conv_bram18, tiled_conv_resources

# (width_bits, depth_words, BRAM18 blocks), each worked out by hand from the aspect ratios.
BRAM18_CASES = [
    (32, 715, 2),     # 512x36: 1 wide x ceil(715/512)=2 deep
    (32, 121, 1),     # one 512x36
    (1, 16384, 1),    # exactly one 16Kx1
    (1, 16385, 2),    # one word more: a second block
    (9, 2048, 1),     # 2Kx9 uses the parity bits
    (8, 2049, 2),     # 2Kx9 twice deep (4Kx4 twice wide is also 2)
    (36, 512, 1),     # 512x36 (SDP)
    (72, 512, 2),     # two 512x36 side by side
    (18, 1024, 1),    # 1Kx18
    (19, 1024, 2),    # 19 bits: 1Kx18 x2 wide or 512x36 x2 deep
    (0, 100, 0),
    (32, 0, 0),
]


@pytest.mark.parametrize(("width", "depth", "blocks"), BRAM18_CASES)
def test_bram18_blocks_hand_cases(width: int, depth: int, blocks: int) -> None:
    assert bram18_blocks(width, depth) == blocks


def test_bram36_and_uram_hand_cases() -> None:
    assert bram36_blocks(72, 512) == 1          # 512x72 SDP
    assert bram36_blocks(1, 32768) == 1         # 32Kx1
    assert bram36_blocks(1, 32769) == 2
    assert uram_blocks(72, 4096) == 1
    assert uram_blocks(73, 4096) == 2
    assert uram_blocks(64, 4097) == 2
    assert lutram_luts(32, 64) == 32            # 64x1 per LUT
    assert lutram_luts(32, 65) == 64


@given(st.integers(1, 100), st.integers(0, 100_000))
def test_block_count_never_beats_capacity(width: int, depth: int) -> None:
    blocks = bram18_blocks(width, depth)
    assert blocks * BRAM18_BITS >= width * depth
    # a BRAM36 is two BRAM18 stacked: never cheaper than two BRAM18 in this count
    assert 2 * bram36_blocks(width, depth) >= blocks


@given(st.integers(1, 100), st.integers(0, 100_000))
def test_blocks_never_decrease_with_depth(width: int, depth: int) -> None:
    now, more = bram18_blocks(width, depth), bram18_blocks(width, depth + 1)
    assert now <= more


# word width → depth of one block column in its best shape (the exact block edge).
EDGES = {32: 512, 36: 512, 16: 1024, 18: 1024, 8: 2048, 9: 2048, 4: 4096, 2: 8192, 1: 16384}


@given(st.sampled_from(sorted(EDGES)), st.integers(1, 40))
def test_blocks_step_exactly_at_the_edge(width: int, k: int) -> None:
    edge = EDGES[width]
    assert bram18_blocks(width, k * edge) == k
    assert bram18_blocks(width, k * edge + 1) == k + 1


@given(st.lists(st.tuples(st.integers(0, 80), st.integers(0, 40_000)), min_size=1, max_size=20))
def test_vectorised_equals_scalar(pairs: list[tuple[int, int]]) -> None:
    widths = np.array([p[0] for p in pairs])
    depths = np.array([p[1] for p in pairs])
    vector = bram18_blocks(widths, depths)
    assert isinstance(vector, np.ndarray)
    assert vector.tolist() == [bram18_blocks(int(w), int(d)) for w, d in pairs]


@given(st.sampled_from([16, 32]), st.integers(1, 50_000))
def test_general_model_at_least_released_for_16_and_32_bit_words(bits: int, depth: int) -> None:
    # released: ceil(depth*bits/18000) per bank; general: 512x36 (32 bit) / 1Kx18 (16 bit)
    released = -(-(depth * bits) // 18000)
    assert bram18_blocks(bits, depth) >= released


def test_superlip_64x7_fp32_released_numbers() -> None:
    # ceil(13*55*32/18000) = ceil(1.271) = 2 per IFM/OFM bank; ceil(121*32/18000) = 1 per weight bank
    assert released_bram18_parts(64, 7, 13, 55, 11, 32) == (2 * 7 * 2, 2 * 64 * 2, 2 * 64 * 7 * 1)
    assert released_bram18(64, 7, 13, 55, 11, 32) == 1180


def test_released_bram18_with_halo_hand_case() -> None:
    # IFM window (12·4+11)×(54·4+11) = 59×227 words of 32 bits: ⌈428576/18000⌉ = 24 per map.
    assert released_bram18_parts(64, 7, 13, 55, 11, 32, stride=4) == (2 * 7 * 24, 2 * 64 * 2, 2 * 64 * 7 * 1)
    assert released_bram18(64, 7, 13, 55, 11, 32, stride=4) == 1488


@given(tm=st.integers(1, 64), tn=st.integers(1, 16), tr=st.integers(1, 64), tc=st.integers(1, 64),
       k=st.integers(1, 11), s=st.integers(1, 4), bits=st.sampled_from([16, 32]))
def test_released_bram18_halo_holds_at_least_the_tile(tm, tn, tr, tc, k, s, bits) -> None:
    halo = released_bram18(tm, tn, tr, tc, k, bits, stride=s)
    if k >= s:  # the window is at least the tile
        assert halo >= released_bram18(tm, tn, tr, tc, k, bits)
    assert released_bram18(tm, tn, tr, tc, 1, bits, stride=1) == released_bram18(tm, tn, tr, tc, 1, bits)
    grid = released_bram18(np.array([tm]), tn, tr, tc, k, bits, stride=s)
    assert grid.tolist() == [halo]
    assert released_dsp(64, 7, 32) == 2240


def test_superlip_64x7_fp32_general_model_reproduces_released() -> None:
    dsp, bram = tiled_conv_resources(64, 7, 13, 55, 11, 32, 5.0)
    assert dsp == 2240
    assert bram == released_bram18(64, 7, 13, 55, 11, 32) == 1180


def test_16_bit_released_and_general() -> None:
    assert released_dsp(64, 7, 16) == 448
    b_i, b_o, b_w = released_bram18_parts(64, 7, 13, 55, 11, 16)
    assert (b_i, b_o) == (2 * 7 * 1, 2 * 64 * 1)  # ceil(715*16/18000) = 1
    assert b_w == 64 * 7 * 1                       # Tm*Tn*ceil(4*121*16/18000), no x2 as written
    dsp, bram = tiled_conv_resources(64, 7, 13, 55, 11, 16, 1.0)
    assert dsp == 448
    # the general model ping-pongs the weights: exactly one released weight count more
    assert bram == b_i + b_o + 2 * b_w


@given(st.integers(1, 64), st.integers(1, 16), st.integers(1, 32), st.integers(1, 64), st.integers(1, 11))
def test_tiled_conv_general_at_least_released_fp32(tm: int, tn: int, tr: int, tc: int, k: int) -> None:
    assert tiled_conv_bram18(tm, tn, tr, tc, k, 32) >= released_bram18(tm, tn, tr, tc, k, 32)


def test_tiled_conv_resources_vectorised() -> None:
    tm = np.array([64, 32, 1])
    dsp, bram = tiled_conv_resources(tm, 7, 13, 55, 11, 32, 5.0)
    assert dsp.tolist() == [2240, 1120, 35]
    assert bram.tolist() == [tiled_conv_bram18(int(m), 7, 13, 55, 11, 32) for m in tm]
    released = released_bram18(tm, 7, 13, 55, 11, 32)
    assert released.tolist()[0] == 1180


def test_dsp_count_rounds_up() -> None:
    assert dsp_count(448, 5) == 2240
    assert dsp_count(7, 0.5) == 4
    assert dsp_count(448, 1.0) == 448
    assert dsp_count(np.array([1, 2, 3]), 0.5).tolist() == [1, 1, 2]


def test_buffer_bram18_double_and_banks() -> None:
    assert buffer_bram18(32, 715, 7, True) == 28
    assert buffer_bram18(32, 715, 7, False) == 14


def test_map_buffer_auto_rule() -> None:
    deep = BufferSpec(name="fm", width_bits=72, depth_words=4096, banks=2, double_buffered=False,
                      memory=MemoryPreference.AUTO)
    use = map_buffer(deep, uram_available=True)
    assert (use.kind, use.uram, use.bram18) == (MemoryKind.URAM, 2, 0)
    assert use.efficiency == pytest.approx(1.0)
    use = map_buffer(deep, uram_available=False)
    assert (use.kind, use.bram18) == (MemoryKind.BRAM18, 2 * 16)   # 8 deep x 2 wide of 512x36
    shallow = BufferSpec(name="w", width_bits=32, depth_words=715, banks=1, double_buffered=True,
                         memory=MemoryPreference.AUTO)
    assert map_buffer(shallow, uram_available=True).kind is MemoryKind.BRAM18
    forced = BufferSpec(name="w", width_bits=32, depth_words=715, banks=3, double_buffered=True,
                        memory=MemoryPreference.URAM)
    assert map_buffer(forced, uram_available=False).uram == 6


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: bram18_blocks(-1, 10), "width_bits=-1"),
    (lambda: bram18_blocks(32, 1.5), "depth_words=1.5"),
    (lambda: bram18_blocks(True, 10), "width_bits=True"),
    (lambda: dsp_count(10, float("nan")), "dsp_per_mac=nan"),
    (lambda: dsp_count(-3, 1), "macs=-3"),
    (lambda: released_bram18(64, 7, 13, 55, 11, 8), "bits=8"),
    (lambda: released_dsp(64, 7, 24), "16 and 32"),
    (lambda: tiled_conv_resources(64, 7, 13, 55, 11, 0, 5.0), "bits=0"),
])
def test_bad_arguments(call, fragment: str) -> None:
    with pytest.raises(BadArgument, match=fragment.replace("(", r"\(")):
        call()
