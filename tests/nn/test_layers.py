"""Layer specs: hand-computed shapes and counts, and one clear error per bad field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.nn import Conv2d, Depthwise, GlobalAvgPool, Linear, Pointwise, Pool, PoolKind


def test_alexnet_conv1_shape_and_counts_by_hand() -> None:
    conv = Conv2d(name="conv1", in_channels=3, out_channels=96, in_h=227, in_w=227, kernel=11, stride=4)
    assert (conv.out_h, conv.out_w) == (55, 55)  # (227 - 11) / 4 + 1
    assert conv.weight_elems == conv.params_weights == 96 * 3 * 11 * 11 == 34848
    assert conv.params_biases == 96
    assert conv.macs == 96 * 55 * 55 * 3 * 121
    assert conv.ifm_elems == 3 * 227 * 227 and conv.ofm_elems == 96 * 55 * 55


def test_grouped_conv_divides_weights_and_macs_by_groups() -> None:
    dense = Conv2d(name="d", in_channels=96, out_channels=256, in_h=27, in_w=27, kernel=5, padding=2)
    grouped = Conv2d(name="g", in_channels=96, out_channels=256, in_h=27, in_w=27, kernel=5, padding=2, groups=2)
    assert grouped.out_shape == dense.out_shape == (256, 27, 27)
    assert 2 * grouped.macs == dense.macs and 2 * grouped.weight_elems == dense.weight_elems


def test_depthwise_and_pointwise_equal_their_conv_views() -> None:
    dw = Depthwise(name="dw", channels=32, in_h=14, in_w=14, kernel=3, stride=2, padding=1)
    assert dw.out_shape == (32, 7, 7)
    assert dw.macs == 32 * 7 * 7 * 9 and dw.params_weights == 32 * 9
    pw = Pointwise(name="pw", in_channels=32, out_channels=64, in_h=7, in_w=7, bias=False)
    assert pw.out_shape == (64, 7, 7) and pw.macs == 64 * 49 * 32 and pw.params_biases == 0
    assert pw.as_conv().kernel == 1 and dw.as_conv().groups == 32


def test_pool_global_pool_linear() -> None:
    pool = Pool(name="p", kind="avg", channels=8, in_h=55, in_w=55, kernel=3, stride=2)
    assert pool.kind is PoolKind.AVG and pool.out_shape == (8, 27, 27) and pool.params_weights == 0
    gap = GlobalAvgPool(name="g", channels=8, in_h=7, in_w=5)
    assert gap.out_shape == (8, 1, 1) and gap.macs == 8 * 35
    fc = Linear(name="fc", in_features=4096, out_features=1000)
    assert fc.macs == fc.params_weights == 4096 * 1000 and fc.params_biases == 1000


def test_rectangular_windows_count_per_axis_and_keep_square_ones_as_ints() -> None:
    conv = Conv2d(name="c", in_channels=192, out_channels=160, in_h=17, in_w=17, kernel=[1, 7], padding=(0, 3))
    assert (conv.kernel, conv.padding, conv.stride) == ((1, 7), (0, 3), 1)
    assert (conv.kernel_h, conv.kernel_w, conv.pad_h, conv.pad_w, conv.stride_h, conv.stride_w) == (1, 7, 0, 3, 1, 1)
    assert conv.out_shape == (160, 17, 17)
    assert conv.macs == 160 * 17 * 17 * 192 * 7 and conv.weight_elems == 160 * 192 * 7
    square = Conv2d(name="s", in_channels=1, out_channels=1, in_h=8, in_w=8, kernel=[3, 3], stride=(2, 2))
    assert (square.kernel, square.stride, square.padding) == (3, 2, 0)  # canonical: an int when square
    dw = Depthwise(name="dw", channels=4, in_h=9, in_w=8, kernel=(3, 1), stride=(2, 1), padding=[1, 0])
    assert dw.out_shape == (4, 5, 8) and dw.macs == 4 * 5 * 8 * 3 and dw.as_conv().kernel == (3, 1)
    pool = Pool(name="p", kind="max", channels=2, in_h=7, in_w=9, kernel=(1, 3), stride=(1, 2))
    assert pool.out_shape == (2, 7, 4) and pool.macs == 2 * 7 * 4 * 3


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"kernel": [1, 2, 3]}, r"Conv2d 'c': kernel=\[1, 2, 3\]: expected an integer >= 1 or \[height, width\]"),
    ({"stride": (1, 0)}, r"Conv2d 'c': stride=\(1, 0\): expected an integer >= 1"),
    ({"padding": [0, -1]}, r"Conv2d 'c': padding=\[0, -1\]: expected an integer >= 0"),
    ({"kernel": (1, 9)}, r"Conv2d 'c': kernel=9 does not fit in_w=8 with padding=0"),
])
def test_rectangular_window_errors_name_the_field(kwargs, fragment) -> None:
    base = {"name": "c", "in_channels": 4, "out_channels": 4, "in_h": 8, "in_w": 8, "kernel": 3}
    with pytest.raises(BadArgument, match=fragment):
        Conv2d(**{**base, **kwargs})


@given(in_size=st.integers(1, 64), kernel=st.integers(1, 11), stride=st.integers(1, 5), padding=st.integers(0, 5))
def test_conv_out_size_matches_the_window_count(in_size, kernel, stride, padding) -> None:
    padded = in_size + 2 * padding
    if kernel > padded:
        with pytest.raises(BadArgument, match="kernel"):
            Conv2d(name="c", in_channels=1, out_channels=1, in_h=in_size, in_w=in_size, kernel=kernel,
                   stride=stride, padding=padding)
        return
    conv = Conv2d(name="c", in_channels=1, out_channels=1, in_h=in_size, in_w=in_size, kernel=kernel,
                  stride=stride, padding=padding)
    windows = len(range(0, padded - kernel + 1, stride))  # start positions of full windows
    assert conv.out_h == conv.out_w == windows


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"in_channels": 0}, r"Conv2d 'c': in_channels=0: expected an integer >= 1"),
    ({"stride": 1.5}, r"stride=1.5"),
    ({"padding": -1}, r"padding=-1: expected an integer >= 0"),
    ({"groups": 2, "in_channels": 3}, r"in_channels=3 is not divisible by groups=2"),
    ({"bias": "yes"}, r"bias='yes': expected True or False"),
    ({"name": ""}, r"name='': expected a non-empty string"),
])
def test_conv_errors_name_the_field(kwargs, fragment) -> None:
    base = {"name": "c", "in_channels": 4, "out_channels": 4, "in_h": 8, "in_w": 8, "kernel": 3}
    with pytest.raises(BadArgument, match=fragment):
        Conv2d(**{**base, **kwargs})


def test_pool_kind_error_lists_allowed() -> None:
    with pytest.raises(BadArgument, match=r"kind='median': expected one of max, avg"):
        Pool(name="p", kind="median", channels=1, in_h=4, in_w=4, kernel=2, stride=2)
