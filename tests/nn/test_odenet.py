"""ODENet / dsODENet / rODENet builders and the parameter accounting (hand-computed cases)."""

import pytest

from fpgasim.errors import BadArgument
from fpgasim.nn import zoo_network
from fpgasim.nn import DscBlock, GlobalAvgPool, Linear, OdeBlock
from fpgasim.nn.odenet import (
    ODENET_VARIANTS, DscScope, LayerRole, OdeNetSpec, core_params, odenet, odenet_variant, param_reduction,
    param_rows,
)


def _dense(cin: int, cout: int, k: int = 3) -> int:
    """Weights + one folded-BN bias per output channel of a dense KxK conv."""
    return cin * cout * k * k + cout


def _dsc(cin: int, cout: int) -> int:
    """Depthwise 3x3 (+bias) then pointwise (+bias)."""
    return cin * 9 + cin + cin * cout + cout


def test_odenet_core_params_by_hand() -> None:
    c0, c1, c2 = 64, 128, 256
    expected = (2 * _dense(c0, c0) + _dense(c0, c1) + 2 * _dense(c1, c1) + _dense(c1, c2) + 2 * _dense(c2, c2))
    assert expected == 1_918_208
    assert core_params(odenet_variant("odenet")) == expected


def test_dsodenet_variants_by_hand() -> None:
    c0, c1, c2 = 64, 128, 256
    ode_only = 2 * _dsc(c0, c0) + _dense(c0, c1) + 2 * _dsc(c1, c1) + _dense(c1, c2) + 2 * _dsc(c2, c2)
    all_dsc = 2 * _dsc(c0, c0) + _dsc(c0, c1) + 2 * _dsc(c1, c1) + _dsc(c1, c2) + 2 * _dsc(c2, c2)
    base = odenet_variant("odenet")
    assert core_params(odenet_variant("dsodenet-ode")) == ode_only == 550_912
    assert core_params(odenet_variant("dsodenet-all")) == all_dsc
    assert param_reduction(base, odenet_variant("dsodenet-ode")) == pytest.approx(1 - ode_only / 1_918_208)
    # seed-papers.md example: the two convs of one C=64 block, 74,880 -> 9,490 weights (without biases)
    layer1 = odenet_variant("dsodenet-ode").layer("layer1")
    assert layer1.params_weights == 2 * (64 * 9 + 64 * 64) == 9_344
    assert odenet_variant("odenet").layer("layer1").params_weights == 73_728


def test_tiny_network_rows_and_roles() -> None:
    net = odenet(OdeNetSpec(name="tiny", channels=(2, 4, 8), steps=(1, 2, 3), input_hw=8, classes=3))
    rows = {row.layer: row for row in param_rows(net)}
    assert rows["conv1"].role is LayerRole.PRE and rows["conv1"].total == 3 * 2 * 9 + 2
    assert rows["layer1"].role is LayerRole.ODE and rows["layer1"].total == 2 * (2 * 2 * 9 + 2)
    assert rows["layer2_1"].role is LayerRole.DOWN and rows["layer2_1"].total == 2 * 4 * 9 + 4
    assert rows["fc"].role is LayerRole.POST and rows["fc"].total == 8 * 3 + 3
    assert rows["avgpool"].total == 0
    assert core_params(net) == sum(r.total for r in rows.values() if r.role in (LayerRole.ODE, LayerRole.DOWN))
    assert net.output_shape == (3, 1, 1)
    assert net.layer("layer3_2").in_shape == (8, 2, 2)


def test_structure_of_variants() -> None:
    net = odenet_variant("dsodenet-all")
    assert isinstance(net.layer("layer2_1"), DscBlock)
    assert net.layer("layer2_1").depthwise.stride == 2
    assert isinstance(net.layers[-2], GlobalAvgPool) and isinstance(net.layers[-1], Linear)
    r1 = odenet_variant("rodenet-1")
    assert [l.name for l in r1.layers if isinstance(l, OdeBlock)] == ["layer1"]
    assert r1.layer("layer1").steps == 30
    two = odenet_variant("odenet", down_convs=2)
    assert two.layer("layer2_1_b").in_shape == (128, 16, 16)


def test_macs_grow_by_one_f_evaluation_per_step() -> None:
    a = odenet_variant("dsodenet-ode", steps=(10, 10, 10))
    b = odenet_variant("dsodenet-ode", steps=(11, 10, 10))
    f = a.layer("layer1")
    assert b.macs - a.macs == sum(sub.macs for sub in f.layers)


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"steps": (0, 10, 10)}, "steps[0]=0"),
    ({"steps": (10, -1, 10)}, "steps[1]=-1"),
    ({"solver": "midpoint"}, "solver='midpoint': expected one of euler, heun, rk4"),
    ({"dsc": "all"}, "dsc='all'"),
    ({"input_hw": 30}, "input_hw=30"),
    ({"down_convs": 3}, "down_convs=3"),
    ({"channels": (64, 128)}, "channels="),
])
def test_bad_spec_names_the_parameter(overrides: dict, fragment: str) -> None:
    with pytest.raises(BadArgument) as info:
        odenet_variant("odenet", **overrides)
    assert fragment in str(info.value)


def test_unknown_variant_and_override() -> None:
    with pytest.raises(BadArgument, match="expected one of: odenet"):
        odenet_variant("resnet")
    with pytest.raises(BadArgument, match="bad override"):
        odenet_variant("odenet", widths=3)


def test_fit_network_names_resolve() -> None:
    for name in ODENET_VARIANTS:
        assert zoo_network(name).name == name
    assert ODENET_VARIANTS["dsodenet-ode"].dsc is DscScope.ODE
