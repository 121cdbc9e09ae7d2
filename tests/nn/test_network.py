"""Network and composite blocks: shape checks on construction, counts, errors."""

import re

import pytest

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn import Conv2d, Depthwise, DscBlock, GlobalAvgPool, Linear, Network, OdeBlock, Pointwise, Pool


def _conv(name, cin, cout, size, k=3, p=1):
    return Conv2d(name=name, in_channels=cin, out_channels=cout, in_h=size, in_w=size, kernel=k, padding=p)


def test_chained_network_and_counts() -> None:
    net = Network(name="n", input_shape=(3, 8, 8), batch=2, layers=(
        _conv("c1", 3, 4, 8), Pool(name="p", kind="max", channels=4, in_h=8, in_w=8, kernel=2, stride=2),
        GlobalAvgPool(name="g", channels=4, in_h=4, in_w=4), Linear(name="fc", in_features=4, out_features=2)))
    assert net.output_shape == (2, 1, 1)
    conv_macs = 4 * 64 * 3 * 9
    assert net.macs == conv_macs + 4 * 16 * 4 + 4 * 16 + 8
    assert net.macs_total == 2 * net.macs
    assert net.params == (4 * 3 * 9 + 4) + (8 + 2)


def test_shape_error_names_layer_got_and_expected() -> None:
    with pytest.raises(ShapeError, match=re.escape("layer 'c2' got shape (4, 8, 8), expected (5, 8, 8)")):
        Network(name="n", input_shape=(3, 8, 8), batch=1, layers=(_conv("c1", 3, 4, 8), _conv("c2", 5, 4, 8)))
    with pytest.raises(ShapeError, match="layer 'c1' got shape \\(3, 9, 9\\)"):
        Network(name="n", input_shape=(3, 9, 9), batch=1, layers=(_conv("c1", 3, 4, 8),))


def test_linear_accepts_flattened_input_only_with_matching_size() -> None:
    Network(name="n", input_shape=(2, 3, 3), batch=1, layers=(Linear(name="fc", in_features=18, out_features=1),))
    with pytest.raises(ShapeError, match="18 elements\\), expected 17 elements"):
        Network(name="n", input_shape=(2, 3, 3), batch=1, layers=(Linear(name="fc", in_features=17, out_features=1),))


def test_layer_table_skips_chain_check_but_not_first_layer() -> None:
    net = Network(name="t", input_shape=(3, 8, 8), batch=1, chained=False,
                  layers=(_conv("a", 3, 4, 8), _conv("b", 7, 2, 5)))
    assert net.output_shape == (2, 5, 5)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"batch": 0}, "batch=0: expected an integer >= 1"),
    ({"layers": ()}, "layers=\\(\\): expected at least one layer"),
    ({"layers": ("conv",)}, "layers\\[0\\]='conv': expected one of Conv2d"),
    ({"input_shape": (3, 8)}, "input_shape=\\(3, 8\\): expected \\(channels, height, width\\)"),
])
def test_network_argument_errors(kwargs, fragment) -> None:
    base = {"name": "n", "input_shape": (3, 8, 8), "batch": 1, "layers": (_conv("c", 3, 3, 8),)}
    with pytest.raises(BadArgument, match=fragment):
        Network(**{**base, **kwargs})


def test_duplicate_names_and_lookup() -> None:
    with pytest.raises(BadArgument, match="duplicate layer name 'c'"):
        Network(name="n", input_shape=(3, 8, 8), batch=1, layers=(_conv("c", 3, 3, 8), _conv("c", 3, 3, 8)))
    net = Network(name="n", input_shape=(3, 8, 8), batch=1, layers=(_conv("c", 3, 3, 8),))
    assert net.layer("c").name == "c"
    with pytest.raises(BadArgument, match="no layer named 'x'; layers: c"):
        net.layer("x")


def test_dsc_block_counts_and_shape_check() -> None:
    dw = Depthwise(name="dw", channels=8, in_h=6, in_w=6, kernel=3, padding=1)
    pw = Pointwise(name="pw", in_channels=8, out_channels=16, in_h=6, in_w=6)
    block = DscBlock(name="b", depthwise=dw, pointwise=pw)
    assert block.out_shape == (16, 6, 6) and block.macs == 8 * 36 * 9 + 16 * 36 * 8
    with pytest.raises(ShapeError, match="layer 'pw2' got shape \\(8, 6, 6\\), expected \\(4, 6, 6\\)"):
        DscBlock(name="b", depthwise=dw, pointwise=Pointwise(name="pw2", in_channels=4, out_channels=4, in_h=6, in_w=6))


@pytest.mark.parametrize(("solver", "evals"), [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_ode_block_macs_count_every_evaluation_params_once(solver, evals) -> None:
    f = (_conv("f1", 8, 8, 6), _conv("f2", 8, 8, 6))
    block = OdeBlock(name="ode", layers=f, steps=3, solver=solver)
    assert block.macs == 3 * evals * 2 * (8 * 36 * 8 * 9)
    assert block.params_weights == 2 * 8 * 8 * 9 and block.out_shape == (8, 6, 6)
    net = Network(name="n", input_shape=(8, 6, 6), batch=1, layers=(block,))
    assert [layer.name for layer in net.flat_layers()] == ["f1", "f2"]


def test_ode_block_errors() -> None:
    with pytest.raises(ShapeError, match="f maps \\(8, 6, 6\\) to \\(4, 6, 6\\), expected the same shape"):
        OdeBlock(name="o", layers=(_conv("f", 8, 4, 6),), steps=1)
    with pytest.raises(BadArgument, match="steps=0"):
        OdeBlock(name="o", layers=(_conv("f", 8, 8, 6),), steps=0)
    with pytest.raises(BadArgument, match="solver='rk45': expected one of euler, heun, rk4"):
        OdeBlock(name="o", layers=(_conv("f", 8, 8, 6),), steps=1, solver="rk45")
