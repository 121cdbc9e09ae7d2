"""The one op table of the graph IR: :class:`Op` and :data:`OPS` (arity, attributes, shape inference,
typed layer, counts).

Every op's :class:`OpDef` says how many inputs it takes, which attributes it accepts (with their
defaults; :data:`REQUIRED` marks the ones without), how its output shape follows from its input
shapes, which typed layer spec of :mod:`fpgasim.nn.layers` / :mod:`fpgasim.nn.composite` it builds
(MACs and parameters are read from that spec: one home for the counting), and its element-wise
work. Shape inference raises :class:`~fpgasim.errors.BadArgument` or
:class:`~fpgasim.errors.ShapeError`; :mod:`fpgasim.nn.graph` re-raises them naming the node.

Counting rules, per sample: ``macs`` only for conv/depthwise/pointwise/linear and the composites
(as torchvision counts); ``elementwise_ops`` = window elements for pooling (out · KH·KW), C·H·W for
global pooling, one per output element for affine, add/mul and the activations, two per element for
layernorm and l2norm (a statistics pass and a normalising pass over each pixel's channels), zero for
the relabelling ops (flatten/reshape/transpose), slice and concat (data movement only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from math import inf, prod

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn._checks import check_int, parse_choice
from fpgasim.nn.composite import DscBlock, OdeBlock, OdeSolver
from fpgasim.ops.attention import check_window
from fpgasim.ops.layernorm import DEFAULT_EPS, DEFAULT_L2NORM_EPS
from fpgasim.ops.resample import check_pads, upsample_size
from fpgasim.nn.layers import (
    Affine, Conv2d, Depthwise, GlobalAvgPool, HeadMatmul, Linear, Pointwise, Pool, PoolKind, Shape, StoredTensor,
)

__all__ = ["Op", "OpDef", "OPS", "REQUIRED", "Inputs", "LAYER_OPS"]


class Op(StrEnum):
    """Every node kind of the graph IR."""

    INPUT = "input"
    CONSTANT = "constant"
    CONV = "conv"
    DEPTHWISE = "depthwise"
    POINTWISE = "pointwise"
    LINEAR = "linear"
    SCORES = "scores"
    ATTEND = "attend"
    POOL = "pool"
    GLOBAL_POOL = "global_pool"
    AFFINE = "affine"
    ADD = "add"
    MUL = "mul"
    CONCAT = "concat"
    SLICE = "slice"
    FLATTEN = "flatten"
    RESHAPE = "reshape"
    TRANSPOSE = "transpose"
    RELU = "relu"
    RELU6 = "relu6"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    SILU = "silu"
    HARDSWISH = "hardswish"
    GELU = "gelu"
    SOFTMAX = "softmax"
    LAYERNORM = "layernorm"
    L2NORM = "l2norm"
    UPSAMPLE = "upsample"
    PAD = "pad"
    DSC = "dsc"
    ODE = "ode"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marks an attribute without a default.
REQUIRED = _Required()

#: The inputs of a node as (producer name, shape) pairs, in order.
Inputs = tuple[tuple[str, Shape], ...]

#: Shape inference: (node name, inputs, attrs) → (typed layer or None, output shape).
Infer = Callable[[str, Inputs, Mapping[str, object]], tuple[object | None, Shape]]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpDef:
    """How one op behaves in the graph.

    Attributes:
        op: the op.
        min_inputs, max_inputs: allowed number of inputs (``max_inputs`` None = unbounded).
        attrs: allowed attribute names and their defaults (:data:`REQUIRED` = no default).
        infer: (node name, inputs, attrs) → (typed layer or None, output shape); raises
            BadArgument/ShapeError on bad attributes or shapes.
        elementwise: (input shapes, output shape, layer) → element-wise operations per sample.
        weight_shape: layer → shape of its weight array (None for ops without weights).
        layer_type: the typed layer class a Network layer of this op has (for from_network).
        from_layer: typed layer → attrs (the inverse of ``infer`` for from_network).
        has_macs: whether the layer's MACs count (conv-like, linear, composites; not pooling).
    """

    op: Op
    min_inputs: int
    max_inputs: int | None
    attrs: Mapping[str, object]
    infer: Infer
    elementwise: Callable[[tuple[Shape, ...], Shape, object | None], int]
    weight_shape: Callable[[object], tuple[int, ...]] | None = None
    layer_type: type | None = None
    from_layer: Callable[[object], dict[str, object]] | None = None
    has_macs: bool = False

    def macs(self, layer: object | None) -> int:
        """MACs per sample: the layer's when ``has_macs``, else 0."""
        return layer.macs if self.has_macs else 0

    @staticmethod
    def params(layer: object | None) -> int:
        """Weights + biases of the layer (0 without one)."""
        return 0 if layer is None else layer.params_weights + layer.params_biases


def _elems(shape: Shape) -> int:
    return prod(shape)


def _one(inputs: Inputs) -> Shape:
    return inputs[0][1]


# --- shape inference ----------------------------------------------------------------------------

def _shape_attr(owner: str, field: str, value: object) -> Shape:
    if not isinstance(value, tuple) or len(value) != 3:
        raise BadArgument(f"{owner}: {field}={value!r}: expected (channels, height, width)")
    for i, v in enumerate(value):
        check_int(owner, f"{field}[{i}]", v, minimum=1)
    return value


def _input(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    return None, _shape_attr(f"node {name!r}", "shape", attrs["shape"])


def _constant(name: str, inputs: Inputs, attrs: Mapping) -> tuple[StoredTensor, Shape]:
    """A stored tensor (ViT's class token and position embedding); its values count as parameters."""
    c, h, w = _shape_attr(f"node {name!r}", "shape", attrs["shape"])
    return StoredTensor(name=name, channels=c, in_h=h, in_w=w), (c, h, w)


def _heads(name: str, attrs: Mapping, *channels: tuple[str, int]) -> int:
    heads = attrs["heads"]
    check_int(f"node {name!r}", "heads", heads, minimum=1)
    for what, count in channels:
        if count % heads:
            raise ShapeError(f"node {name!r}: {what} has {count} channels, not divisible by heads={heads}")
    return heads


def _window(name: str, attrs: Mapping, first: tuple[str, Shape], second: tuple[str, Shape]) -> tuple[int, int] | None:
    """The node's ``window`` (None: unwindowed) once it and ``dilated`` are checked: windowed
    operands share one H×W map, which the window divides."""
    (a, (_, h, w)), (b, (_, hb, wb)) = first, second
    window = check_window(attrs["window"], attrs["dilated"], h, w, repr(a))
    if window is not None and (h, w) != (hb, wb):
        raise ShapeError(f"node {name!r}: {a!r} is {h}×{w} and {b!r} {hb}×{wb}: windowed attention (window="
                         f"{window}) expects both on the same map")
    return window


def _scores(name: str, inputs: Inputs, attrs: Mapping) -> tuple[HeadMatmul, Shape]:
    """Q·Kᵀ·scale per head: channel ``h·L + j`` of the output is head h's score of key j (L keys =
    K's positions, or a window's wh·ww with ``window``) at each query position of Q."""
    (q, (e, h, w)), (k, (ek, hk, wk)) = inputs
    if ek != e:
        raise ShapeError(f"node {name!r}: queries {q!r} {(e, h, w)} and keys {k!r} {(ek, hk, wk)} differ in "
                         "channels: expected the same embedding")
    scale = attrs["scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < inf:
        raise BadArgument(f"node {name!r}: scale={scale!r}: expected a finite number > 0")
    heads = _heads(name, attrs, (repr(q), e))
    window = _window(name, attrs, *inputs)
    wh, ww = window or (hk, wk)
    layer = HeadMatmul(name=name, in_channels=e, out_channels=heads * wh * ww, in_h=h, in_w=w, groups=heads,
                       window_h=wh if window else None, window_w=ww if window else None)
    return layer, layer.out_shape


def _attend(name: str, inputs: Inputs, attrs: Mapping) -> tuple[HeadMatmul, Shape]:
    """P·V per head: the probabilities of :func:`_scores`'s layout weight V's positions (a window's
    with ``window``)."""
    (p, (c, h, w)), (v, (ev, hv, wv)) = inputs
    heads = _heads(name, attrs, (repr(v), ev))
    window = _window(name, attrs, *inputs)
    wh, ww = window or (hv, wv)
    if c != heads * wh * ww:
        where = f"a {wh}×{ww} window" if window else "the values"
        raise ShapeError(f"node {name!r}: probabilities {p!r} {(c, h, w)} and values {v!r} {(ev, hv, wv)}: "
                         f"expected heads·positions of {where} = {heads * wh * ww} channels")
    layer = HeadMatmul(name=name, in_channels=c, out_channels=ev, in_h=h, in_w=w, groups=heads,
                       window_h=wh if window else None, window_w=ww if window else None)
    return layer, layer.out_shape


def _conv(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Conv2d, Shape]:
    c, h, w = _one(inputs)
    layer = Conv2d(name=name, in_channels=c, in_h=h, in_w=w, **attrs)
    return layer, layer.out_shape


def _depthwise(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Depthwise, Shape]:
    c, h, w = _one(inputs)
    layer = Depthwise(name=name, channels=c, in_h=h, in_w=w, **attrs)
    return layer, layer.out_shape


def _pointwise(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Pointwise, Shape]:
    c, h, w = _one(inputs)
    layer = Pointwise(name=name, in_channels=c, in_h=h, in_w=w, **attrs)
    return layer, layer.out_shape


def _linear(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Linear, Shape]:
    layer = Linear(name=name, in_features=_elems(_one(inputs)), **attrs)
    return layer, layer.out_shape


def _pool(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Pool, Shape]:
    c, h, w = _one(inputs)
    layer = Pool(name=name, channels=c, in_h=h, in_w=w, **attrs)
    return layer, layer.out_shape


def _global_pool(name: str, inputs: Inputs, attrs: Mapping) -> tuple[GlobalAvgPool | None, Shape]:
    c, h, w = _one(inputs)
    kind = parse_choice(f"node {name!r}", "kind", PoolKind, attrs["kind"])
    layer = GlobalAvgPool(name=name, channels=c, in_h=h, in_w=w) if kind is PoolKind.AVG else None
    return layer, (c, 1, 1)


def _affine(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Affine, Shape]:
    c, h, w = _one(inputs)
    layer = Affine(name=name, channels=c, in_h=h, in_w=w)
    return layer, layer.out_shape


def _layernorm(name: str, inputs: Inputs, attrs: Mapping) -> tuple[Affine, Shape]:
    """Normalises each pixel over its channels; its γ and β count as an :class:`Affine`'s scale and shift."""
    eps = attrs["eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise BadArgument(f"node {name!r}: eps={eps!r}: expected a number > 0")
    return _affine(name, inputs, attrs)


def _broadcast(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    (a, sa), (b, sb) = inputs
    if any(x != y and 1 not in (x, y) for x, y in zip(sa, sb)):
        raise ShapeError(f"node {name!r}: inputs {a!r} {sa} and {b!r} {sb} do not broadcast")
    return None, tuple(max(x, y) for x, y in zip(sa, sb))


def _concat(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    axis = attrs["axis"]
    if axis not in (0, 1, 2) or isinstance(axis, bool):
        raise BadArgument(f"node {name!r}: axis={axis!r}: expected 0 (channels), 1 (height) or 2 (width)")
    first, shape0 = inputs[0]
    keep = [i for i in range(3) if i != axis]
    for other, shape in inputs[1:]:
        if [shape[i] for i in keep] != [shape0[i] for i in keep]:
            raise ShapeError(f"node {name!r}: inputs {first!r} {shape0} and {other!r} {shape} differ outside "
                             f"axis {axis}: concat needs the other two the same")
    out = list(shape0)
    out[axis] = sum(shape[axis] for _, shape in inputs)
    return None, tuple(out)


def _slice(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    """``start:stop:step`` of the channels (``axis`` 0), rows (1) or columns (2)."""
    shape = list(_one(inputs))
    owner = f"node {name!r}"
    start, stop, axis, step = attrs["start"], attrs["stop"], attrs["axis"], attrs["step"]
    check_int(owner, "start", start, minimum=0)
    check_int(owner, "stop", stop, minimum=1)
    check_int(owner, "step", step, minimum=1)
    if axis not in (0, 1, 2) or isinstance(axis, bool):
        raise BadArgument(f"{owner}: axis={axis!r}: expected 0 (channels), 1 (height) or 2 (width)")
    if not start < stop <= shape[axis]:
        raise ShapeError(f"{owner}: start={start}, stop={stop}: expected 0 <= start < stop <= {shape[axis]} "
                         f"({('channels', 'height', 'width')[axis]} of {inputs[0][0]!r})")
    shape[axis] = len(range(start, stop, step))
    return None, tuple(shape)


def _flatten(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    return None, (_elems(_one(inputs)), 1, 1)


def _reshape(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    shape = _shape_attr(f"node {name!r}", "shape", attrs["shape"])
    if _elems(shape) != _elems(_one(inputs)):
        raise ShapeError(f"node {name!r}: shape={shape} has {_elems(shape)} elements but input "
                         f"{inputs[0][0]!r} {_one(inputs)} has {_elems(_one(inputs))}")
    return None, shape


def _transpose(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    perm = attrs["perm"]
    if not isinstance(perm, tuple) or sorted(perm) != [0, 1, 2]:
        raise BadArgument(f"node {name!r}: perm={perm!r}: expected a permutation of (0, 1, 2)")
    return None, tuple(_one(inputs)[p] for p in perm)


def _upsample(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    c, h, w = _one(inputs)
    size = attrs["size"]
    if size is not None and (not isinstance(size, tuple) or len(size) != 2):
        raise BadArgument(f"node {name!r}: size={size!r}: expected (height, width) or none")
    out_h, out_w = upsample_size(h, w, scale=attrs["scale"], out_h=None if size is None else size[0],
                                 out_w=None if size is None else size[1])
    return None, (c, out_h, out_w)


def _pad(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    """Rows and columns of zeros around the map: ``pads`` = (top, bottom, left, right)."""
    c, h, w = _one(inputs)
    try:
        top, bottom, left, right = check_pads(attrs["pads"])
    except BadArgument as exc:
        raise BadArgument(f"node {name!r}: {exc}") from None
    return None, (c, h + top + bottom, w + left + right)


def _same(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    return None, _one(inputs)


def _softmax(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    """Over each of ``groups`` equal runs of channels (one per attention head; 1: all channels)."""
    return None, _channel_runs(name, inputs, attrs)


def _l2norm(name: str, inputs: Inputs, attrs: Mapping) -> tuple[None, Shape]:
    """Each of ``groups`` equal runs of a pixel's channels divided by its L2 norm, at least ``eps``."""
    eps = attrs["eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < inf:
        hint = " (YAML reads 1e-12 as text: write 1.0e-12)" if isinstance(eps, str) else ""
        raise BadArgument(f"node {name!r}: eps={eps!r}: expected a finite number > 0{hint}")
    return None, _channel_runs(name, inputs, attrs)


def _channel_runs(name: str, inputs: Inputs, attrs: Mapping) -> Shape:
    """The input's shape once ``groups`` is checked to be a positive divisor of its channels."""
    groups = attrs["groups"]
    check_int(f"node {name!r}", "groups", groups, minimum=1)
    if _one(inputs)[0] % groups:
        raise ShapeError(f"node {name!r}: input {inputs[0][0]!r} {_one(inputs)}: channels not divisible by "
                         f"groups={groups}")
    return _one(inputs)


def _dsc(name: str, inputs: Inputs, attrs: Mapping) -> tuple[DscBlock, Shape]:
    depthwise, shape = _depthwise(f"{name}.depthwise", inputs, {k: attrs[k] for k in _DW_KEYS})
    pointwise, shape = _pointwise(f"{name}.pointwise", ((name, shape),),
                                  {"out_channels": attrs["out_channels"], "bias": attrs["bias"]})
    return DscBlock(name=name, depthwise=depthwise, pointwise=pointwise), shape


def _ode(name: str, inputs: Inputs, attrs: Mapping) -> tuple[OdeBlock, Shape]:
    layer = OdeBlock(name=name, layers=attrs["layers"], steps=attrs["steps"], solver=attrs["solver"])
    if layer.in_shape != _one(inputs):
        raise ShapeError(f"node {name!r}: input {inputs[0][0]!r} {_one(inputs)} but f expects {layer.in_shape}")
    return layer, layer.out_shape


_DW_KEYS = ("kernel", "stride", "padding", "bias")

# --- counts -------------------------------------------------------------------------------------

def _zero(in_shapes: tuple[Shape, ...], out: Shape, layer: object | None) -> int:
    return 0


def _per_output(in_shapes: tuple[Shape, ...], out: Shape, layer: object | None) -> int:
    return _elems(out)


def _windows(in_shapes: tuple[Shape, ...], out: Shape, layer: object | None) -> int:
    return layer.macs


def _two_per_output(in_shapes: tuple[Shape, ...], out: Shape, layer: object | None) -> int:
    return 2 * _elems(out)


def _per_input(in_shapes: tuple[Shape, ...], out: Shape, layer: object | None) -> int:
    return _elems(in_shapes[0])


def _conv_weights(layer: Conv2d) -> tuple[int, ...]:
    return (layer.out_channels, layer.in_channels // layer.groups, layer.kernel_h, layer.kernel_w)


def _fields(*names: str) -> Callable[[object], dict[str, object]]:
    return lambda layer: {n: getattr(layer, n) for n in names}


_CONV_ATTRS = {"out_channels": REQUIRED, "kernel": REQUIRED, "stride": 1, "padding": 0, "groups": 1, "bias": True}
_DW_ATTRS = {"kernel": REQUIRED, "stride": 1, "padding": 0, "bias": True}
#: Windowed attention: ``window`` (wh, ww) or None (all positions), ``dilated`` grid windows.
_WINDOW_ATTRS = {"window": None, "dilated": False}
_POOL_ATTRS = {"kind": REQUIRED, "kernel": REQUIRED, "stride": REQUIRED, "padding": 0, "ceil_mode": False}


def _def(op: Op, infer: Infer, *, inputs: tuple[int, int | None] = (1, 1), attrs: Mapping | None = None,
         elementwise=_zero, **rest: object) -> OpDef:
    return OpDef(op=op, min_inputs=inputs[0], max_inputs=inputs[1], attrs=attrs or {}, infer=infer,
                 elementwise=elementwise, **rest)


#: The op table: every :class:`Op` has exactly one :class:`OpDef`.
OPS: dict[Op, OpDef] = {d.op: d for d in (
    _def(Op.INPUT, _input, inputs=(0, 0), attrs={"shape": REQUIRED}),
    _def(Op.CONSTANT, _constant, inputs=(0, 0), attrs={"shape": REQUIRED},
         weight_shape=lambda layer: layer.in_shape),
    _def(Op.CONV, _conv, attrs=_CONV_ATTRS, has_macs=True, weight_shape=_conv_weights, layer_type=Conv2d,
         from_layer=_fields(*_CONV_ATTRS)),
    _def(Op.DEPTHWISE, _depthwise, attrs=_DW_ATTRS, has_macs=True, layer_type=Depthwise, from_layer=_fields(*_DW_ATTRS),
         weight_shape=lambda layer: (layer.channels, 1, layer.kernel_h, layer.kernel_w)),
    _def(Op.POINTWISE, _pointwise, attrs={"out_channels": REQUIRED, "bias": True}, has_macs=True, layer_type=Pointwise,
         from_layer=_fields("out_channels", "bias"),
         weight_shape=lambda layer: (layer.out_channels, layer.in_channels, 1, 1)),
    _def(Op.LINEAR, _linear, attrs={"out_features": REQUIRED, "bias": True}, has_macs=True, layer_type=Linear,
         from_layer=_fields("out_features", "bias"),
         weight_shape=lambda layer: (layer.out_features, layer.in_features)),
    _def(Op.SCORES, _scores, inputs=(2, 2), attrs={"heads": REQUIRED, "scale": 1.0, **_WINDOW_ATTRS}, has_macs=True),
    _def(Op.ATTEND, _attend, inputs=(2, 2), attrs={"heads": REQUIRED, **_WINDOW_ATTRS}, has_macs=True),
    _def(Op.POOL, _pool, attrs=_POOL_ATTRS, elementwise=_windows, layer_type=Pool, from_layer=_fields(*_POOL_ATTRS)),
    _def(Op.GLOBAL_POOL, _global_pool, attrs={"kind": REQUIRED}, elementwise=_per_input,
         layer_type=GlobalAvgPool, from_layer=lambda layer: {"kind": PoolKind.AVG}),
    _def(Op.AFFINE, _affine, elementwise=_per_output, weight_shape=lambda layer: (layer.channels,)),
    _def(Op.LAYERNORM, _layernorm, attrs={"eps": DEFAULT_EPS}, elementwise=_two_per_output,
         weight_shape=lambda layer: (layer.channels,)),
    _def(Op.L2NORM, _l2norm, attrs={"groups": 1, "eps": DEFAULT_L2NORM_EPS}, elementwise=_two_per_output),
    _def(Op.ADD, _broadcast, inputs=(2, 2), elementwise=_per_output),
    _def(Op.MUL, _broadcast, inputs=(2, 2), elementwise=_per_output),
    _def(Op.CONCAT, _concat, inputs=(2, None), attrs={"axis": 0}),
    _def(Op.SLICE, _slice, attrs={"start": REQUIRED, "stop": REQUIRED, "axis": 0, "step": 1}),
    _def(Op.FLATTEN, _flatten),
    _def(Op.RESHAPE, _reshape, attrs={"shape": REQUIRED}),
    _def(Op.TRANSPOSE, _transpose, attrs={"perm": REQUIRED}),
    *(_def(op, _same, elementwise=_per_output)
      for op in (Op.RELU, Op.RELU6, Op.SIGMOID, Op.TANH, Op.SILU, Op.HARDSWISH, Op.GELU)),
    _def(Op.SOFTMAX, _softmax, attrs={"groups": 1}, elementwise=_per_output),
    _def(Op.UPSAMPLE, _upsample, attrs={"scale": 2, "size": None}, elementwise=_per_output),
    _def(Op.PAD, _pad, attrs={"pads": REQUIRED}),
    _def(Op.DSC, _dsc, attrs={"out_channels": REQUIRED, **_DW_ATTRS}, has_macs=True, layer_type=DscBlock,
         from_layer=lambda layer: {**_fields(*_DW_KEYS)(layer.depthwise), "out_channels": layer.pointwise.out_channels}),
    _def(Op.ODE, _ode, attrs={"layers": REQUIRED, "steps": REQUIRED, "solver": OdeSolver.EULER},
         has_macs=True, layer_type=OdeBlock, from_layer=_fields("layers", "steps", "solver")),
)}

#: Typed layer class → its op (how :meth:`~fpgasim.nn.graph.Graph.from_network` names a layer).
LAYER_OPS: dict[type, Op] = {d.layer_type: d.op for d in OPS.values() if d.layer_type is not None}
