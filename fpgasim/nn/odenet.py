"""ODENet, dsODENet and rODENet builders (Watanabe & Matsutani 2021; Kawakami et al. 2022/2023).

Owns: :class:`OdeNetSpec` (every reconstruction choice as a documented parameter),
:func:`odenet` (spec → :class:`~fpgasim.nn.Network`), the named variants
(:data:`ODENET_VARIANTS`, :func:`odenet_variant`) and the parameter accounting
(:func:`param_rows`, :func:`core_params`, :func:`param_reduction`).

Macro structure (seed-papers.md §a, inferred from the rODENet paper and torchdiffeq's
``odenet_mnist.py``)::

    conv1 (pre, CPU) → layer1 ODE(C0) → layer2_1 down(C0→C1, /2) → layer2_2 ODE(C1)
          → layer3_1 down(C1→C2, /2) → layer3_2 ODE(C2) → avgpool → fc (post, CPU)

Reconstruction choices (all parameters of :class:`OdeNetSpec`, none hidden):

* ODE function f = two 3×3 convolutions (stride 1, pad 1) with BatchNorm folded into a bias
  (activations: ReLU after the first, none after the second — used by the accuracy study);
  torchdiffeq's time channel is dropped (the FPGA versions probably drop it, seed-papers §a).
* ``dsc``: which 3×3 convolutions become depthwise 3×3 + pointwise 1×1 — ``none`` (ODENet),
  ``ode`` (the ODE blocks only) or ``ode_and_down`` (ODE and downsampling blocks).
* downsampling block = ``down_convs`` 3×3 convolutions, the first with stride 2 (C→2C); no
  residual shortcut (a sequential IR; the shortcut's 1×1 weights would add C·C' per block).
* ``ode_blocks``: which of the three ODE blocks exist; rODENet variants drop blocks and give
  their steps to layer1 ("fewer blocks, more steps"; the rODENet step counts are unpublished).

Counting rule (:func:`param_rows`): weights + biases; BatchNorm is folded, so each conv has one
bias per output channel (unfolded BN would instead have 2 trainable + 2 running values per
channel). Pre-processing (conv1) and post-processing (avgpool, fc) are excluded from the core
count, as the dsODENet papers do for their 54.2 %–79.8 % figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from fpgasim.errors import BadArgument
from fpgasim.nn._checks import check_int, parse_choice
from fpgasim.nn.composite import DscBlock, OdeBlock, OdeSolver
from fpgasim.nn.layers import Conv2d, Depthwise, GlobalAvgPool, Linear, Pointwise
from fpgasim.nn.network import Network

__all__ = [
    "DscScope", "LayerRole", "OdeNetSpec", "odenet", "ODENET_VARIANTS", "odenet_variant", "ParamRow",
    "param_rows", "core_params", "param_reduction", "layer_role",
]


class DscScope(StrEnum):
    """Which 3×3 convolutions are depthwise-separable."""

    #: plain ODENet.
    NONE = "none"
    #: dsODENet (i): the ODE blocks only.
    ODE = "ode"
    #: dsODENet (ii): the ODE blocks and the downsampling blocks.
    ODE_AND_DOWN = "ode_and_down"


class LayerRole(StrEnum):
    """Role of a top-level layer in the parameter accounting."""

    PRE = "pre"
    ODE = "ode"
    DOWN = "down"
    POST = "post"


@dataclass(frozen=True, slots=True, kw_only=True)
class OdeNetSpec:
    """Every parameter of an ODENet-family network.

    Attributes:
        name: network name.
        channels: channels of the three stages (C0, C1, C2); the paper's are 64, 128, 256.
        steps: solver steps of the three ODE blocks (each ≥ 1; unpublished in the papers).
        ode_blocks: which ODE blocks exist (layer1, layer2_2, layer3_2).
        solver: euler (the papers), heun or rk4.
        dsc: :class:`DscScope`.
        down_convs: 3×3 convolutions per downsampling block (1 or 2; the first has stride 2).
        input_hw: input height = width in pixels (must be divisible by 4).
        in_channels: input image channels.
        classes: classifier outputs.
        stem_kernel: kernel of the pre-processing conv1 (odd; stride 1, "same" padding).
        batch: samples per inference.

    Raises:
        BadArgument: a value outside its range, naming the field.
    """

    name: str
    channels: tuple[int, int, int] = (64, 128, 256)
    steps: tuple[int, int, int] = (10, 10, 10)
    ode_blocks: tuple[bool, bool, bool] = (True, True, True)
    solver: OdeSolver = OdeSolver.EULER
    dsc: DscScope = DscScope.NONE
    down_convs: int = 1
    input_hw: int = 32
    in_channels: int = 3
    classes: int = 10
    stem_kernel: int = 3
    batch: int = 1

    def __post_init__(self) -> None:
        owner = f"OdeNetSpec {self.name!r}"
        for field in ("channels", "steps", "ode_blocks"):
            value = getattr(self, field)
            if not isinstance(value, (tuple, list)) or len(value) != 3:
                raise BadArgument(f"{owner}: {field}={value!r}: expected 3 values (one per stage)")
            object.__setattr__(self, field, tuple(value))
        for i in range(3):
            check_int(owner, f"channels[{i}]", self.channels[i], minimum=1)
            check_int(owner, f"steps[{i}]", self.steps[i], minimum=1)
            if not isinstance(self.ode_blocks[i], bool):
                raise BadArgument(f"{owner}: ode_blocks[{i}]={self.ode_blocks[i]!r}: expected true or false")
        object.__setattr__(self, "solver", parse_choice(owner, "solver", OdeSolver, self.solver))
        object.__setattr__(self, "dsc", parse_choice(owner, "dsc", DscScope, self.dsc))
        check_int(owner, "down_convs", self.down_convs, minimum=1)
        if self.down_convs > 2:
            raise BadArgument(f"{owner}: down_convs={self.down_convs}: expected 1 or 2")
        for field in ("input_hw", "in_channels", "classes", "stem_kernel", "batch"):
            check_int(owner, field, getattr(self, field), minimum=1)
        if self.input_hw % 4:
            raise BadArgument(f"{owner}: input_hw={self.input_hw}: expected a multiple of 4 (two stride-2 stages)")
        if self.stem_kernel % 2 == 0:
            raise BadArgument(f"{owner}: stem_kernel={self.stem_kernel}: expected an odd kernel size")


def _conv(name: str, cin: int, cout: int, hw: int, stride: int = 1, kernel: int = 3) -> Conv2d:
    return Conv2d(name=name, in_channels=cin, out_channels=cout, in_h=hw, in_w=hw, kernel=kernel,
                  stride=stride, padding=kernel // 2)


def _dsc(name: str, cin: int, cout: int, hw: int, stride: int = 1) -> DscBlock:
    dw = Depthwise(name=f"{name}_dw", channels=cin, in_h=hw, in_w=hw, kernel=3, stride=stride, padding=1)
    out_hw = dw.out_h
    pw = Pointwise(name=f"{name}_pw", in_channels=cin, out_channels=cout, in_h=out_hw, in_w=out_hw)
    return DscBlock(name=name, depthwise=dw, pointwise=pw)


def _sub(name: str, cin: int, cout: int, hw: int, stride: int, separable: bool):
    return _dsc(name, cin, cout, hw, stride) if separable else _conv(name, cin, cout, hw, stride)


def odenet(spec: OdeNetSpec) -> Network:
    """Build the network ``spec`` describes (module docstring for the structure and names).

    Layer names: ``conv1``; ODE blocks ``layer1``, ``layer2_2``, ``layer3_2`` with sub-layers
    ``<block>_f1``, ``<block>_f2``; downsampling ``layer2_1``/``layer3_1`` (with ``down_convs=2``
    their second conv is ``<block>_b``); ``avgpool``; ``fc``.

    Raises:
        BadArgument: ``spec`` is not an :class:`OdeNetSpec`.
    """
    if not isinstance(spec, OdeNetSpec):
        raise BadArgument(f"spec={spec!r}: expected an OdeNetSpec")
    ode_dsc = spec.dsc is not DscScope.NONE
    down_dsc = spec.dsc is DscScope.ODE_AND_DOWN
    hw, c0 = spec.input_hw, spec.channels[0]
    layers: list = [_conv("conv1", spec.in_channels, c0, hw, kernel=spec.stem_kernel)]
    names = (("layer1", None), ("layer2_2", "layer2_1"), ("layer3_2", "layer3_1"))
    cin = c0
    for stage, (ode_name, down_name) in enumerate(names):
        c = spec.channels[stage]
        if down_name is not None:
            layers.append(_sub(down_name, cin, c, hw, 2, down_dsc))
            hw //= 2
            if spec.down_convs == 2:
                layers.append(_sub(f"{down_name}_b", c, c, hw, 1, down_dsc))
        elif cin != c:
            raise BadArgument(f"OdeNetSpec {spec.name!r}: channels[0]={c} must equal conv1's output {cin}")
        if spec.ode_blocks[stage]:
            f = (_sub(f"{ode_name}_f1", c, c, hw, 1, ode_dsc), _sub(f"{ode_name}_f2", c, c, hw, 1, ode_dsc))
            layers.append(OdeBlock(name=ode_name, layers=f, steps=spec.steps[stage], solver=spec.solver))
        cin = c
    layers.append(GlobalAvgPool(name="avgpool", channels=cin, in_h=hw, in_w=hw))
    layers.append(Linear(name="fc", in_features=cin, out_features=spec.classes))
    return Network(name=spec.name, input_shape=(spec.in_channels, spec.input_hw, spec.input_hw),
                   layers=tuple(layers), batch=spec.batch)


#: Named variants. rODENet-k keeps layer1 and moves the dropped blocks' steps into it
#: (which blocks each rODENet drops is inferred, seed-papers.md §a').
ODENET_VARIANTS: dict[str, OdeNetSpec] = {
    "odenet": OdeNetSpec(name="odenet"),
    "dsodenet-ode": OdeNetSpec(name="dsodenet-ode", dsc=DscScope.ODE),
    "dsodenet-all": OdeNetSpec(name="dsodenet-all", dsc=DscScope.ODE_AND_DOWN),
    "rodenet-1": OdeNetSpec(name="rodenet-1", steps=(30, 10, 10), ode_blocks=(True, False, False)),
    "rodenet-2": OdeNetSpec(name="rodenet-2", steps=(20, 10, 10), ode_blocks=(True, False, True)),
    "rodenet-3": OdeNetSpec(name="rodenet-3", steps=(20, 10, 10), ode_blocks=(True, True, False)),
}


def odenet_variant(name: str, **overrides: object) -> Network:
    """Build the named variant, with optional :class:`OdeNetSpec` field overrides.

    Raises:
        BadArgument: an unknown variant (lists the known ones) or a bad override.
    """
    if name not in ODENET_VARIANTS:
        raise BadArgument(f"ODENet variant {name!r} is not known; expected one of: {', '.join(ODENET_VARIANTS)}")
    try:
        spec = replace(ODENET_VARIANTS[name], **overrides)
    except TypeError as exc:
        raise BadArgument(f"ODENet variant {name!r}: bad override ({exc}); fields: "
                          f"{', '.join(OdeNetSpec.__dataclass_fields__)}") from None
    return odenet(spec)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamRow:
    """Parameters of one top-level layer.

    Attributes:
        layer: layer name. role: :class:`LayerRole`. weights, biases: counts (BN folded).
    """

    layer: str
    role: LayerRole
    weights: int
    biases: int

    @property
    def total(self) -> int:
        """weights + biases."""
        return self.weights + self.biases


def layer_role(network: Network, layer: object) -> LayerRole:
    """pre (the first layer, a conv), ode, post (pooling/linear) or down (anything else)."""
    if layer is network.layers[0] and isinstance(layer, Conv2d):
        return LayerRole.PRE
    if isinstance(layer, OdeBlock):
        return LayerRole.ODE
    if isinstance(layer, (GlobalAvgPool, Linear)):
        return LayerRole.POST
    return LayerRole.DOWN


def param_rows(network: Network) -> tuple[ParamRow, ...]:
    """One :class:`ParamRow` per top-level layer (ODE weights counted once, shared by all steps).

    Raises:
        BadArgument: ``network`` is not a Network.
    """
    if not isinstance(network, Network):
        raise BadArgument(f"network={network!r}: expected an fpgasim.nn.Network")
    return tuple(ParamRow(layer=layer.name, role=layer_role(network, layer), weights=layer.params_weights,
                          biases=layer.params_biases) for layer in network.layers)


def core_params(network: Network) -> int:
    """Parameters excluding pre- and post-processing layers (the papers' counting scope)."""
    return sum(row.total for row in param_rows(network) if row.role in (LayerRole.ODE, LayerRole.DOWN))


def param_reduction(baseline: Network, variant: Network) -> float:
    """``1 − core(variant) / core(baseline)`` (0.542 would be the papers' 54.2 %).

    Raises:
        BadArgument: a baseline without core parameters.
    """
    base = core_params(baseline)
    if base == 0:
        raise BadArgument(f"baseline {baseline.name!r} has no parameters outside pre/post-processing")
    return 1.0 - core_params(variant) / base
