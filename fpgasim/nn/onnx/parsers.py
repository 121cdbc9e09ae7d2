"""One parser per ONNX op family, registered in one table (:mod:`~fpgasim.nn.onnx.registry`'s
:data:`PARSERS`), as Stream/ZigZag do; attention's parsers are in :mod:`~fpgasim.nn.onnx.attention`,
which importing this module registers too.

A parser reads its node's inputs through the :class:`~fpgasim.nn.onnx.context.Context` and binds
every output name: to a :class:`~fpgasim.nn.onnx.context.Tensor` of an emitted IR node, to an
existing tensor (Identity, Dropout, a batch norm folded into its conv, a reshape that keeps the
IR shape) or to a constant (Shape). Nodes whose inputs are all constants never reach a parser:
the importer folds them (:func:`fold`); :data:`FOLD_ONLY` are the ops accepted only that way (the
Shape→Gather→Concat→Reshape arithmetic of torchvision's exports).
Rank-4 Transposes are views (:class:`~fpgasim.nn.onnx.context.Tensor` ``axes``): element-wise ops,
per-channel constants, LayerNormalization and MatMul over the axis that holds the channels keep
them; every other parser reads its input materialised. Constant per-channel arithmetic and batch
norms fold into the conv/MatMul before them when nothing else reads it.
Windows are per axis (``kernel_shape=[kh, kw]``, ``strides=[sh, sw]``, ``pads=[ph, pw, ph, pw]`` become
the IR's int-or-(height, width) ``kernel``/``stride``/``padding``); geometry the IR cannot express
(padding that differs between the two sides of an axis, dilation) is refused naming the node and the
attribute; a pool's ``ceil_mode`` is the IR's (an average pool's ceil-mode window
divides by its positions inside the padded map, as ONNX's ``count_include_pad=1`` does, and as
``count_include_pad=0`` does without padding).
"""

from __future__ import annotations

from math import prod

import numpy as np
import onnx

from fpgasim.errors import BadArgument
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.onnx.attention import head_matmul
from fpgasim.nn.onnx.context import Context, Tensor, per_sample
from fpgasim.nn.onnx.layout import BATCH, HEIGHT, WIDTH, LayoutError, View
from fpgasim.nn.onnx.registry import FOLD_ONLY, PARSERS, Parser, fold, parser
from fpgasim.ops.window import Pair, as_pair

__all__ = ["Parser", "PARSERS", "FOLD_ONLY", "fold"]

# --- geometry -----------------------------------------------------------------------------------

def _window(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict, kernel: tuple[int, ...]) -> dict[str, Pair]:
    """kernel/stride/padding of a 2-D window (per axis), refusing what the IR's windows cannot hold."""
    where = ctx.where(node, name)
    strides = tuple(attrs.get("strides", (1, 1)))
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    dilations = tuple(attrs.get("dilations", (1, 1)))
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in ("NOTSET", "VALID"):
        raise BadArgument(f"{where}: auto_pad={auto_pad!r}: expected NOTSET or VALID (explicit pads)")
    checks = (("kernel_shape", kernel, len(kernel) == 2),
              ("strides", strides, len(strides) == 2),
              ("pads", pads, len(pads) == 4 and pads[:2] == pads[2:]),
              ("dilations", dilations, set(dilations) == {1}))
    for field, value, ok in checks:
        if not ok:
            raise BadArgument(f"{where}: {field}={list(value)}: the graph IR holds 2-D windows with the same "
                              "padding on both sides of an axis and no dilation")
    return {"kernel": as_pair(int(kernel[0]), int(kernel[1])), "stride": as_pair(int(strides[0]), int(strides[1])),
            "padding": as_pair(int(pads[0]), int(pads[1]))}


def _spatial(ctx: Context, node: onnx.NodeProto, name: str, x: Tensor) -> None:
    if x.rank != 4:
        raise BadArgument(f"{ctx.where(node, name)}: input {node.input[0]!r} has shape {list(x.shape)}: "
                          "expected a 4-D (N, C, H, W) tensor")


# --- convolution, fully connected, batch norm ---------------------------------------------------

@parser("Conv")
def _conv(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    _spatial(ctx, node, name, x)
    weight = ctx.constant(node, name, 1, "weight").astype(np.float64)
    bias = ctx.constant(node, name, 2, "bias").astype(np.float64) if ctx.has(node, 2) else None
    window = _window(ctx, node, name, attrs, tuple(attrs.get("kernel_shape", weight.shape[2:])))
    groups, out_channels, channels = int(attrs.get("group", 1)), weight.shape[0], x.shape[1]
    weights = NodeWeights(weight, bias)
    where = ctx.where(node, name)
    if groups == channels == out_channels and groups > 1:
        out = ctx.emit(where, name, Op.DEPTHWISE, [x], {**window, "bias": bias is not None}, weights=weights,
                       source=node.input[1])
    else:
        out = ctx.emit(where, name, Op.CONV, [x], {**window, "out_channels": out_channels, "groups": groups,
                                                   "bias": bias is not None}, weights=weights, source=node.input[1])
    ctx.values[node.output[0]] = out


def _flat_input(ctx: Context, node: onnx.NodeProto, name: str) -> Tensor:
    x = ctx.tensor(node, name, 0)
    if x.rank != 2:
        raise BadArgument(f"{ctx.where(node, name)}: input {node.input[0]!r} has shape {list(x.shape)}: expected "
                          "a 2-D (N, features) tensor (flatten first)")
    return x


def _channels_last(x: Tensor) -> bool:
    """Whether ``x`` is a view whose last axis holds the IR's channels (tokens × embedding, NHWC)."""
    return x.view is not None and x.channel_axis == x.rank - 1


def _projection(ctx: Context, node: onnx.NodeProto, name: str, x: Tensor, weight: np.ndarray,
                bias: np.ndarray | None, source: str | None) -> Tensor:
    """``x @ weight.T + bias`` over the last axis of a channels-last view: a ``pointwise`` (1×1 conv)
    node whose output keeps the view with the new channels (``x``'s pending scale folded in)."""
    out_channels = weight.shape[0]
    out = ctx.emit(ctx.where(node, name), name, Op.POINTWISE, [x], {"out_channels": out_channels,
                                                                    "bias": bias is not None},
                   weights=NodeWeights(x.scale * weight[:, :, None, None], bias),
                   source=source if x.scale == 1.0 else None, full_shape=(*x.shape[:-1], out_channels))
    return ctx.viewed(out.node, out.shape, x.view.with_channels(out_channels), x.transpose)


@parser("Gemm")
def _gemm(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """``linear`` on a flat (N, features) input; ``pointwise`` over the channel axis of a
    channels-last view (a transformer's tokens × embedding)."""
    x = ctx.tensor(node, name, 0, view=True)
    if attrs.get("transA", 0):
        raise BadArgument(f"{ctx.where(node, name)}: transA=1: expected the batch in A's rows (transA=0)")
    b = ctx.constant(node, name, 1, "B").astype(np.float64)
    weight = float(attrs.get("alpha", 1.0)) * (b if attrs.get("transB", 0) else b.T)
    bias = None
    if ctx.has(node, 2):
        c = ctx.constant(node, name, 2, "C").astype(np.float64) * float(attrs.get("beta", 1.0))
        bias = np.broadcast_to(c, (1, weight.shape[0])).reshape(-1).copy()
    same = attrs.get("alpha", 1.0) == 1.0 and attrs.get("transB", 0)
    source = node.input[1] if same else None
    if _channels_last(x):
        ctx.values[node.output[0]] = _projection(ctx, node, name, x, weight, bias, source)
        return
    x = _flat_input(ctx, node, name)
    ctx.values[node.output[0]] = ctx.emit(
        ctx.where(node, name), name, Op.LINEAR, [x], {"out_features": weight.shape[0], "bias": bias is not None},
        weights=NodeWeights(weight, bias), source=source)


@parser("MatMul")
def _matmul(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A constant 2-D B: ``linear`` on a flat (N, features) input, ``pointwise`` (a 1×1 conv) over
    the last axis of a view that holds the channels there (ConvNeXt's NHWC MLPs, a transformer's
    tokens × embedding). Two computed operands: attention's Q·Kᵀ or P·V
    (:func:`~fpgasim.nn.onnx.attention.head_matmul`)."""
    if isinstance(ctx.values[node.input[1]], Tensor):
        head_matmul(ctx, node, name)
        return
    where = ctx.where(node, name)
    b = ctx.constant(node, name, 1, "B").astype(np.float64)
    if b.ndim != 2:
        raise BadArgument(f"{where}: B has shape {list(b.shape)}: expected a 2-D weight matrix")
    x = ctx.tensor(node, name, 0, view=True)
    if _channels_last(x):
        ctx.values[node.output[0]] = _projection(ctx, node, name, x, b.T, None, None)
        return
    x = _flat_input(ctx, node, name)
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.LINEAR, [x], {"out_features": b.shape[1], "bias": False},
                                          weights=NodeWeights(b.T, None))


_FOLDS_INTO = frozenset({Op.CONV, Op.DEPTHWISE, Op.POINTWISE, Op.LINEAR})


def _folded(ctx: Context, x: Tensor, scale: np.ndarray, shift: np.ndarray) -> bool:
    """Fold ``scale·x + shift`` (per channel) into the conv/linear node computing ``x`` when nothing
    else reads that node's output; whether it did."""
    producer = next((spec for spec in reversed(ctx.specs) if spec.name == x.node), None)
    if producer is None or Op(producer.op) not in _FOLDS_INTO or not ctx.sole_reader(x.node):
        return False
    old = ctx.weights[x.node]
    weight = old.weight * scale.reshape(-1, *(1,) * (old.weight.ndim - 1))
    bias = shift if old.bias is None else old.bias * scale + shift
    ctx.replace_weights(x.node, NodeWeights(weight, bias), bias=True)
    return True


@parser("BatchNormalization")
def _batch_norm(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Folded into the conv/linear it follows when that output has no other reader; else an ``affine`` node."""
    x = ctx.tensor(node, name, 0)
    gamma, beta, mean, var = (ctx.constant(node, name, i, what).astype(np.float64)
                              for i, what in enumerate(("scale", "B", "mean", "var"), start=1))
    scale = gamma / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
    shift = beta - mean * scale
    if _folded(ctx, x, scale, shift):
        ctx.values[node.output[0]] = x
        return
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, Op.AFFINE, [x],
                                          weights=NodeWeights(scale, shift))


# --- element-wise -------------------------------------------------------------------------------

_ACTIVATIONS = {"Relu": Op.RELU, "Sigmoid": Op.SIGMOID, "Tanh": Op.TANH, "HardSwish": Op.HARDSWISH}


@parser(*_ACTIVATIONS)
def _activation(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0, view=True)
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, _ACTIVATIONS[node.op_type], [x], view=x)


@parser("Gelu")
def _gelu(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """ONNX's Gelu (opset 20), and torch's erf GELU that :mod:`~fpgasim.nn.onnx.fuse` rewrites to it."""
    approximate = attrs.get("approximate", b"none")
    approximate = approximate.decode() if isinstance(approximate, bytes) else approximate
    if approximate != "none":
        raise BadArgument(f"{ctx.where(node, name)}: approximate={approximate!r}: the graph IR's gelu is the exact "
                          "erf form (approximate='none')")
    x = ctx.tensor(node, name, 0, view=True)
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, Op.GELU, [x], view=x)


@parser("LayerNormalization")
def _layer_norm(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A layer norm over the one axis that holds the IR's channels (the last axis of a channels-last
    view, as ConvNeXt's, or of a flat (N, C) tensor)."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    axis = int(attrs.get("axis", -1)) % x.rank
    if axis != x.rank - 1 or (x.rank > 2 and x.channel_axis != axis):
        raise BadArgument(f"{where}: axis={attrs.get('axis', -1)} on {list(x.shape)}: the graph IR normalises "
                          "over the channels only (the last axis, holding the channels of a channels-last "
                          "view or of a flat (N, C) tensor)")
    channels = x.shape[axis]
    gamma = ctx.constant(node, name, 1, "Scale").astype(np.float64).reshape(-1)
    beta = (ctx.constant(node, name, 2, "B").astype(np.float64).reshape(-1) if ctx.has(node, 2)
            else np.zeros(channels))
    if gamma.size != channels or beta.size != channels:
        raise BadArgument(f"{where}: Scale {gamma.size} and B {beta.size} values for {channels} channels: "
                          "expected one per channel")
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.LAYERNORM, [x],
                                          {"eps": float(attrs.get("epsilon", 1e-5))},
                                          weights=NodeWeights(gamma, beta), view=x)


@parser("Clip")
def _clip(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    low = float(ctx.constant(node, name, 1, "min")) if ctx.has(node, 1) else attrs.get("min", -np.inf)
    high = float(ctx.constant(node, name, 2, "max")) if ctx.has(node, 2) else attrs.get("max", np.inf)
    ops = {(0.0, 6.0): Op.RELU6, (0.0, np.inf): Op.RELU}
    if (low, high) not in ops:
        raise BadArgument(f"{ctx.where(node, name)}: min={low}, max={high}: expected ReLU (0, none) or ReLU6 (0, 6)")
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, ops[(low, high)], [ctx.tensor(node, name, 0)])


@parser("HardSigmoid")
def _hard_sigmoid(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """max(0, min(1, αx + β)) = relu6(6αx + 6β) / 6: ``affine`` → ``relu6`` → ``affine`` (the IR has no
    clip to 1; MobileNetV3's squeeze-excite gates are HardSigmoids)."""
    x = ctx.tensor(node, name, 0)
    where, channels = ctx.where(node, name), x.shape[1]
    alpha, beta = float(attrs.get("alpha", 0.2)), float(attrs.get("beta", 0.5))
    full = np.full(channels, 1.0)
    scaled = ctx.emit(where, f"{name}.scale", Op.AFFINE, [x], weights=NodeWeights(6 * alpha * full, 6 * beta * full))
    clipped = ctx.emit(where, f"{name}.relu6", Op.RELU6, [scaled])
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.AFFINE, [clipped], weights=NodeWeights(full / 6, 0 * full))


def _per_channel(x: Tensor, c: np.ndarray) -> np.ndarray | None:
    """A constant operand of several values as one per channel of ``x`` (the channels on its view's
    channel axis); None when it is not one value per channel."""
    axis = x.channel_axis
    padded = (1,) * (x.rank - c.ndim) + c.shape
    if axis is None or c.ndim > x.rank or padded[axis] != x.shape[axis] or prod(padded) != x.shape[axis]:
        return None
    return c.astype(np.float64).reshape(-1)


def _stored(ctx: Context, node: onnx.NodeProto, name: str, value: str, like: Tensor) -> Tensor:
    """The constant ONNX value ``value``, an operand broadcast to the shape of ``like`` (ViT's
    position embedding, Swin's relative-position bias and shift mask), as a ``constant`` node laid
    out as ``like``'s storage, seen through the same view."""
    where = ctx.where(node, name)
    c = ctx.values[value]
    view = ctx.view_of(like)
    padded = c.astype(np.float64).reshape((1,) * (like.rank - c.ndim) + c.shape)
    if c.ndim > like.rank or any(p not in (1, s) for p, s in zip(padded.shape, like.shape)):
        raise BadArgument(f"{where}: constant of shape {list(c.shape)} with {list(like.shape)}: expected it to "
                          "broadcast to the tensor")
    try:
        storage = _into_storage(padded, view, ctx.storage(like))
    except LayoutError as exc:
        raise BadArgument(f"{where}: constant of shape {list(c.shape)}: {exc}") from None
    out = _constant_node(ctx, where, f"{name}.constant", storage, value)
    return like.like(out.node) if like.view is not None else Tensor(out.node, like.shape)


def _constant_node(ctx: Context, where: str, name: str, stored: np.ndarray, value: str) -> Tensor:
    """A ``constant`` node holding one sample's (C, H, W) values ``stored`` of the ONNX ``value``;
    its parameters are the initializers ``value`` comes from (:attr:`Context.origins`)."""
    out = ctx.emit(where, name, Op.CONSTANT, [], {"shape": stored.shape}, weights=NodeWeights(stored, None),
                   full_shape=(ctx.batch, *stored.shape))
    ctx.constant_origins[out.node] = ctx.origins.get(value, frozenset())
    return out


def _into_storage(values: np.ndarray, view: View, storage: tuple[int, ...]) -> np.ndarray:
    """One sample's values of a tensor laid out by ``view`` over ``storage``, as (C, H, W);
    ``values`` broadcast to the view's shape (a Swin bias the same for every window).

    Raises:
        LayoutError: the values differ between samples (a constant is the same for all).
    """
    order = [f for axis in view.axes for f in axis]
    factored = np.broadcast_to(values, view.shape).reshape([view.sizes[f] for f in order] or [1])
    stored = factored.transpose([order.index(f) for f in sorted(order)]) if order else factored
    samples = stored.reshape(prod(view.sizes[f] for f in view.factors_of(BATCH)), -1)
    if not np.all(samples == samples[:1]):
        raise LayoutError("values that differ between samples")
    return samples[0].reshape(storage[1:])


@parser("Add", "Sub", "Mul", "Div")
def _arithmetic(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Two tensors: ``add`` / ``mul``; a tensor and a per-channel constant: folded into the conv/linear
    node before it when nothing else reads that (a MatMul's bias Add, ConvNeXt's layer scale), else
    an ``affine`` node; a scalar Mul/Div of a view that only MatMuls read: pending, for attention's
    scores to absorb; a constant of the tensor's shape (a position embedding): a ``constant`` node."""
    where = ctx.where(node, name)
    a, b = (ctx.values[v] for v in node.input)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if node.op_type not in ("Add", "Mul"):
            raise BadArgument(f"{where}: {node.op_type} of two tensors: the graph IR has add and mul only")
        if a.rank != b.rank:
            raise BadArgument(f"{where}: inputs {node.input[0]!r} {list(a.shape)} and {node.input[1]!r} "
                              f"{list(b.shape)} differ in rank")
        if a.view != b.view or a.scale != 1.0 or b.scale != 1.0:
            a, b = ctx.materialised(a), ctx.materialised(b)
        op = Op.ADD if node.op_type == "Add" else Op.MUL
        ctx.values[node.output[0]] = ctx.emit(where, name, op, [a, b], view=a)
        return
    constant = node.input[1]
    if not isinstance(a, Tensor):
        if node.op_type in ("Sub", "Div"):
            raise BadArgument(f"{where}: {node.op_type} of a constant by a tensor is not supported; expected the "
                              "tensor as the first input")
        a, b, constant = b, a, node.input[0]
    readers = ctx.readers.get(node.output[0], set())
    if b.size == 1 and node.op_type in ("Mul", "Div") and a.view is not None and readers \
            and readers <= {"MatMul", "Einsum"}:
        factor = float(b.reshape(-1)[0])
        ctx.values[node.output[0]] = Tensor(a.node, a.shape, a.view, a.transpose,
                                            a.scale * (factor if node.op_type == "Mul" else 1 / factor))
        return
    if a.scale != 1.0:
        a = ctx.materialised(a)
    c = _per_channel(a, b) if b.size != 1 else np.full(ctx.shapes[a.node][0], float(b.reshape(-1)[0]))
    if c is None:
        if node.op_type not in ("Add", "Mul"):
            raise BadArgument(f"{where}: constant of shape {list(b.shape)} with {list(a.shape)}: expected a "
                              "scalar or one value per channel")
        stored = _stored(ctx, node, name, constant, a)
        op = Op.ADD if node.op_type == "Add" else Op.MUL
        ctx.values[node.output[0]] = ctx.emit(where, name, op, [a, stored], view=a)
        return
    ones, zeros = np.ones_like(c), np.zeros_like(c)
    if node.op_type in ("Add", "Sub"):
        scale, shift = ones, (c if node.op_type == "Add" else -c)
    else:
        scale, shift = (c if node.op_type == "Mul" else 1 / c), zeros
    if _folded(ctx, a, scale, shift):
        ctx.values[node.output[0]] = a
        return
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.AFFINE, [a], weights=NodeWeights(scale, shift), view=a)


# --- pooling ------------------------------------------------------------------------------------

@parser("MaxPool", "AveragePool")
def _pool(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    _spatial(ctx, node, name, x)
    where = ctx.where(node, name)
    if len(node.output) > 1 and node.output[1]:
        raise BadArgument(f"{where}: the Indices output is not supported")
    window = _window(ctx, node, name, attrs, tuple(attrs["kernel_shape"]))
    kind = "max" if node.op_type == "MaxPool" else "avg"
    if kind == "avg" and window["padding"] and not attrs.get("count_include_pad", 0):
        raise BadArgument(f"{where}: count_include_pad=0 with pads={window['padding']}: the IR's average pool "
                          "divides by the window's size (count_include_pad=1)")
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.POOL, [x], {"kind": kind, **window, "ceil_mode": ceil_mode})


@parser("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    _spatial(ctx, node, name, x)
    kind = "avg" if node.op_type == "GlobalAveragePool" else "max"
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, Op.GLOBAL_POOL, [x], {"kind": kind})


@parser("ReduceMean")
def _reduce_mean(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A mean over H and W: a global average pool (keepdims=0 gives (N, C))."""
    x = ctx.tensor(node, name, 0)
    axes = ctx.constant(node, name, 1, "axes") if ctx.has(node, 1) else attrs.get("axes", ())
    if x.rank != 4 or sorted(int(a) % 4 for a in axes) != [2, 3]:
        raise BadArgument(f"{ctx.where(node, name)}: axes={list(axes)} on {list(x.shape)}: expected a mean over "
                          "height and width (axes 2, 3)")
    rank = 4 if attrs.get("keepdims", 1) else 2
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, Op.GLOBAL_POOL, [x], {"kind": "avg"},
                                          rank=rank)


# --- data movement ------------------------------------------------------------------------------

@parser("Identity", "Dropout")
def _alias(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    if len(node.output) > 1 and node.output[1] and ctx.consumers.get(node.output[1], 0):
        raise BadArgument(f"{ctx.where(node, name)}: the dropout mask output is read; inference has no mask")
    ctx.values[node.output[0]] = ctx.values[node.input[0]]


@parser("Pad")
def _pad(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Zeros before and after the rows and columns (Swin pads its map to whole windows): ``pad``,
    keeping a view; zero pads (Swin at sizes that are already whole windows) are no node. Another
    mode or value, or padding of the channels or the batch, is refused naming the pads."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    pads = [int(p) for p in (ctx.constant(node, name, 1, "pads") if ctx.has(node, 1) else attrs.get("pads", []))]
    value = ctx.constant(node, name, 2, "constant_value") if ctx.has(node, 2) else np.zeros(1)
    if not any(pads):
        ctx.values[node.output[0]] = x
        return
    x = ctx.materialised(x) if x.scale != 1.0 else x
    view = ctx.view_of(x)
    sides = {}  # storage dimension → (before, after, ONNX axis, its factor)
    for axis in range(x.rank):
        before, after = pads[axis], pads[axis + x.rank]
        factors = view.axes[axis]
        dim = view.dims[factors[0]] if len(factors) == 1 else None
        if (before or after) and dim in (HEIGHT, WIDTH) and view.factors_of(dim) == factors:
            sides[dim] = (before, after, axis, factors[0])
        elif before or after:
            sides = None
            break
    mode = attrs.get("mode", b"constant")
    if sides is None or mode not in (b"constant", "constant") or np.any(value != 0) or min(pads) < 0:
        raise BadArgument(f"{where}: pads={pads}, mode={mode!r}: the graph IR pads the rows and columns of a "
                          "map with zeros")
    top, bottom = sides.get(HEIGHT, (0, 0, 0, 0))[:2]
    left, right = sides.get(WIDTH, (0, 0, 0, 0))[:2]
    shape = list(x.shape)
    for before, after, axis, factor in sides.values():
        shape[axis] += before + after
        view = _resized(view, factor, shape[axis])
    out = ctx.emit(where, name, Op.PAD, [x], {"pads": (top, bottom, left, right)}, full_shape=tuple(shape))
    ctx.values[node.output[0]] = ctx.viewed(out.node, tuple(shape), view, x.transpose or (name, node))


@parser("Shape")
def _shape(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0, view=True)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    ctx.values[node.output[0]] = np.array(x.shape[start:end], dtype=np.int64)


@parser("Concat")
def _concat(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Along the channels of plain tensors; along the one IR dimension that the axis of a view
    holds, constants included (ViT's class token joins its patch tokens), as ``concat`` ``axis``."""
    values = [ctx.values[v] for v in node.input]
    where = ctx.where(node, name)
    if any(not isinstance(v, Tensor) or v.view is not None for v in values):
        _concat_along(ctx, node, name, values, int(attrs["axis"]))
        return
    xs = [ctx.tensor(node, name, i) for i in range(len(node.input))]
    if int(attrs["axis"]) % xs[0].rank != 1:
        raise BadArgument(f"{where}: axis={attrs['axis']}: the graph IR concatenates along channels (axis 1)")
    for i, x in enumerate(xs[1:], start=1):
        if x.rank != xs[0].rank or x.shape[2:] != xs[0].shape[2:]:
            raise BadArgument(f"{where}: inputs {node.input[0]!r} {list(xs[0].shape)} and {node.input[i]!r} "
                              f"{list(x.shape)} differ outside the channel axis")
    if len(xs) == 1:
        ctx.values[node.output[0]] = xs[0]
        return
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.CONCAT, xs)


def _concat_along(ctx: Context, node: onnx.NodeProto, name: str, values: list, axis: int) -> None:
    """Concat of views and constants along an axis that holds one whole IR dimension of the first
    viewed input; every other input laid out the same way."""
    where = ctx.where(node, name)
    ref = next((v for v in values if isinstance(v, Tensor) and v.view is not None),
               next(v for v in values if isinstance(v, Tensor)))
    axis %= ref.rank
    view, storage = ctx.view_of(ref), ctx.storage(ref)
    factors = view.axes[axis]
    dim = view.dims[factors[0]] if len(factors) == 1 else None
    if dim is None or dim == BATCH or view.factors_of(dim) != factors:
        raise BadArgument(f"{where}: axis={axis} of {list(ref.shape)}: expected an axis that holds one whole "
                          "channel, height or width dimension of the IR")
    inputs = []
    for i, value in enumerate(values):
        if isinstance(value, Tensor):
            if value.scale != 1.0 or ctx.view_of(value) != _resized(view, factors[0], value.shape[axis]):
                raise BadArgument(f"{where}: input {node.input[i]!r} {list(value.shape)} is laid out unlike "
                                  f"{list(ref.shape)}; expected the same layout outside axis {axis}")
            inputs.append(value)
            continue
        size = int(value.shape[axis]) if value.ndim == ref.rank else 0
        if value.ndim != ref.rank or size < 1:
            raise BadArgument(f"{where}: constant input {node.input[i]!r} {list(value.shape)}: expected rank "
                              f"{ref.rank} like {list(ref.shape)}")
        own = list(storage)
        own[dim] = size
        stored = _into_storage(np.asarray(value, np.float64), _resized(view, factors[0], size), tuple(own))
        inputs.append(_constant_node(ctx, where, f"{name}.constant{i}", stored, node.input[i]))
    total = sum(v.shape[axis] for v in values)
    out = ctx.emit(where, name, Op.CONCAT, inputs, {"axis": dim - 1},
                   full_shape=(*ref.shape[:axis], total, *ref.shape[axis + 1:]))
    ctx.values[node.output[0]] = ctx.viewed(out.node, out.shape, _resized(view, factors[0], total),
                                            ref.transpose or (name, node))


def _resized(view: View, factor: int, size: int) -> View:
    """``view`` with ``factor`` of ``size``."""
    return View(tuple(size if f == factor else s for f, s in enumerate(view.sizes)), view.dims, view.axes)


def _channel_slices(ctx: Context, node: onnx.NodeProto, name: str, x: Tensor, bounds: list[tuple[int, int]]) -> None:
    where = ctx.where(node, name)
    for k, ((start, stop), output) in enumerate(zip(bounds, node.output)):
        if start == 0 and stop == x.shape[1]:
            ctx.values[output] = x
            continue
        label = name if len(node.output) == 1 else f"{name}:{k}"
        ctx.values[output] = ctx.emit(where, label, Op.SLICE, [x], {"start": start, "stop": stop})


@parser("Split")
def _split(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    if int(attrs.get("axis", 0)) % x.rank != 1:
        raise BadArgument(f"{ctx.where(node, name)}: axis={attrs.get('axis', 0)}: expected a split of the "
                          "channels (axis 1)")
    if ctx.has(node, 1):
        sizes = [int(s) for s in ctx.constant(node, name, 1, "split")]
    elif "split" in attrs:
        sizes = [int(s) for s in attrs["split"]]
    else:
        parts = len(node.output)
        sizes = [-(-x.shape[1] // parts)] * parts
        sizes[-1] = x.shape[1] - sum(sizes[:-1])
    starts = np.cumsum([0, *sizes])
    _channel_slices(ctx, node, name, x, [(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])])


@parser("Slice")
def _slice(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Positive-step ranges of axes that each hold one whole IR dimension (the channels of a plain
    tensor; the rows or columns of a channels-last view: Swin's cyclic shift and its patch
    merging's every-other-row/column), a ``slice`` per axis that changes."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    starts, ends = (ctx.constant(node, name, i, what) for i, what in ((1, "starts"), (2, "ends")))
    axes = ctx.constant(node, name, 3, "axes") if ctx.has(node, 3) else np.arange(len(starts))
    steps = ctx.constant(node, name, 4, "steps") if ctx.has(node, 4) else np.ones(len(starts), dtype=np.int64)
    if x.view is None and [int(a) % x.rank for a in axes] == [1] and int(steps[0]) == 1:
        start, stop, _ = slice(int(starts[0]), int(ends[0])).indices(x.shape[1])
        _channel_slices(ctx, node, name, x, [(start, stop)])
        return
    x = ctx.materialised(x) if x.scale != 1.0 else x
    view = ctx.view_of(x)
    shape = list(x.shape)
    for k, (axis, first, last, step) in enumerate(zip(axes, starts, ends, steps)):
        axis = int(axis) % x.rank
        factors = view.axes[axis]
        dim = view.dims[factors[0]] if len(factors) == 1 else None
        if dim in (None, BATCH) or view.factors_of(dim) != factors or int(step) < 1:
            raise BadArgument(f"{where}: axes={[int(a) for a in axes]}, steps={[int(s) for s in steps]} on "
                              f"{list(x.shape)}: expected "
                              "positive steps over axes that each hold the channels, the rows or the columns")
        start, stop, step = slice(int(first), int(last), int(step)).indices(shape[axis])
        size = len(range(start, stop, step))
        if size == shape[axis]:
            continue
        if size == 0:
            raise BadArgument(f"{where}: axis {axis} of {list(x.shape)}: the slice is empty")
        shape[axis] = size
        view = _resized(view, factors[0], size)
        out = ctx.emit(where, name if len(axes) == 1 else f"{name}:{k}", Op.SLICE, [x],
                       {"start": start, "stop": stop, "axis": dim - 1, "step": step}, full_shape=tuple(shape))
        x = ctx.viewed(out.node, tuple(shape), view, x.transpose or (name, node))
    ctx.values[node.output[0]] = x


@parser("Gather")
def _gather(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """One index of an axis of a computed tensor that is the major part of one IR dimension: a
    ``slice`` of that dimension (Q, K or V out of a packed projection; ViT's class token)."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    index = ctx.constant(node, name, 1, "indices")
    axis = int(attrs.get("axis", 0)) % x.rank
    if index.ndim != 0:
        raise BadArgument(f"{where}: indices of shape {list(index.shape)}: expected one index (a scalar)")
    try:
        rest, dim, span = ctx.view_of(x).without(axis)
    except LayoutError as exc:
        raise BadArgument(f"{where}: {exc}; the graph IR slices one run of a dimension") from None
    if dim == BATCH:
        raise BadArgument(f"{where}: axis={axis} of {list(x.shape)} is the batch")
    start = (int(index) % x.shape[axis]) * span
    shape = (*x.shape[:axis], *x.shape[axis + 1:])
    out = ctx.emit(where, name, Op.SLICE, [x], {"start": start, "stop": start + span, "axis": dim - 1},
                   full_shape=shape)
    ctx.values[node.output[0]] = ctx.viewed(out.node, shape, rest, x.transpose or (name, node)).with_scale(x.scale)


def _cuts_space(ctx: Context, x: Tensor, shape: tuple[int, ...]) -> bool:
    """Whether a reshape of a stored (N, C, H, W) tensor to more than four axes cuts its rows or
    columns (MaxViT's window partition): a view, where a cut of the channels (a channel shuffle's
    groups) is one stored reshape."""
    if x.view is not None or len(shape) <= 4:
        return False
    try:
        view = View.of_storage(ctx.storage(x), shape)
    except LayoutError:
        return False
    return any(len(view.factors_of(dim)) > 1 for dim in (HEIGHT, WIDTH))


@parser("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")
def _relabel(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A new layout of the same values. A Transpose, and a reshape of a view or one that moves the
    batch, is a view (:mod:`~fpgasim.nn.onnx.layout`); a plain reshape is none (the IR shape is
    unchanged), ``flatten`` or ``reshape``, and so is a reshape of an image layout (a rank-4 view
    whose axes are whole IR dimensions, as NHWC: materialised first, then reshaped as stored);
    the output's ONNX shape comes from the reference implementation on zeros."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    constants = [ctx.constant(node, name, i, "shape/axes") for i in range(1, len(node.input)) if ctx.has(node, i)]
    shape = tuple(fold(node, [np.zeros(x.shape, np.float32), *constants], ctx.opset)[0].shape)
    out = node.output[0]
    if node.op_type == "Transpose":
        perm = [int(p) for p in attrs.get("perm", range(x.rank - 1, -1, -1))]
        if x.view is None and x.rank > 4 and perm[0] == 0 and perm[3:] == list(range(3, x.rank)):
            x = ctx.materialised(x)  # a channel shuffle's (N, g, C/g, H, W): one transpose of (g, C/g, H·W)
            ir_perm = tuple(p - 1 for p in perm[1:4])
            ctx.values[out] = (ctx.emit(where, name, Op.TRANSPOSE, [x], {"perm": ir_perm}, full_shape=shape)
                               if ir_perm != (0, 1, 2) else Tensor(x.node, shape))
            return
        ctx.values[out] = ctx.viewed(x.node, shape, ctx.view_of(x).transpose(perm), (name, node)).with_scale(x.scale)
        return
    image = x.view is not None and x.rank == 4 and len(shape) <= 4 and x.view.dim_permutation() is not None
    if (x.view is not None and not image) or not shape or shape[0] != ctx.batch or _cuts_space(ctx, x, shape):
        try:
            view = ctx.view_of(x).reshape(shape)
        except LayoutError as exc:
            if x.view is None:
                raise BadArgument(f"{where}: output shape {list(shape)} from {list(x.shape)}: {exc}") from None
        else:
            ctx.values[out] = ctx.viewed(x.node, shape, view, x.transpose or (name, node)).with_scale(x.scale)
            return
    x = ctx.materialised(x)
    if not shape or shape[0] != ctx.batch:
        raise BadArgument(f"{where}: output shape {list(shape)} from {list(x.shape)}: the batch ({ctx.batch}) must "
                          "stay the first dimension")
    if per_sample(shape) == per_sample(x.shape):
        ctx.values[out] = Tensor(x.node, shape)
    elif len(shape) == 2:
        ctx.values[out] = ctx.emit(where, name, Op.FLATTEN, [x], full_shape=shape)
    else:
        ctx.values[out] = ctx.emit(where, name, Op.RESHAPE, [x], {"shape": per_sample(shape)}, full_shape=shape)
