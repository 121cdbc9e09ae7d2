"""One parser per ONNX op family, in one registration table (:data:`PARSERS`), as Stream/ZigZag do.

A parser reads its node's inputs through the :class:`~fpgasim.nn.onnx.context.Context` and binds
every output name: to a :class:`~fpgasim.nn.onnx.context.Tensor` of an emitted IR node, to an
existing tensor (Identity, Dropout, a batch norm folded into its conv, a reshape that keeps the
IR shape) or to a constant (Shape). Nodes whose inputs are all constants never reach a parser:
the importer folds them with ``onnx.reference``; :data:`FOLD_ONLY` are the ops accepted only
that way (the Shape→Gather→Concat→Reshape arithmetic of torchvision's exports).
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

from collections.abc import Callable
from math import prod

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator

from fpgasim.errors import BadArgument
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.onnx.context import Context, Tensor, per_sample
from fpgasim.ops.window import Pair, as_pair

__all__ = ["Parser", "PARSERS", "FOLD_ONLY", "fold"]

#: (context, ONNX node, its name, its attributes) → None; binds every output in ``context.values``.
Parser = Callable[[Context, onnx.NodeProto, str, dict], None]

#: ONNX op type → its parser.
PARSERS: dict[str, Parser] = {}

#: Ops accepted only when every input is a constant (folded at import).
FOLD_ONLY = frozenset({
    "Constant", "ConstantOfShape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Range", "Floor", "Ceil", "Sqrt",
    "Pow", "Equal", "Where", "Expand", "Min", "Max", "Neg", "Not", "Less", "Greater", "ReduceProd", "Abs", "Mod",
})


def fold(node: onnx.NodeProto, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    """The outputs of a node whose inputs are all constants, by the ONNX reference implementation."""
    names = [n for n in node.input if n]
    graph = onnx.helper.make_graph([node], "fold", [onnx.helper.make_empty_tensor_value_info(n) for n in names],
                                   [onnx.helper.make_empty_tensor_value_info(n) for n in node.output if n])
    evaluator = ReferenceEvaluator(graph, opsets={"": opset})
    return list(evaluator.run(None, {n: v for n, v in zip(node.input, inputs) if n}))


def parser(*op_types: str) -> Callable[[Parser], Parser]:
    """Register a parser for ``op_types``."""
    def register(fn: Parser) -> Parser:
        for op_type in op_types:
            PARSERS[op_type] = fn
        return fn
    return register


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


@parser("Gemm")
def _gemm(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = _flat_input(ctx, node, name)
    if attrs.get("transA", 0):
        raise BadArgument(f"{ctx.where(node, name)}: transA=1: expected the batch in A's rows (transA=0)")
    b = ctx.constant(node, name, 1, "B").astype(np.float64)
    weight = float(attrs.get("alpha", 1.0)) * (b if attrs.get("transB", 0) else b.T)
    bias = None
    if ctx.has(node, 2):
        c = ctx.constant(node, name, 2, "C").astype(np.float64) * float(attrs.get("beta", 1.0))
        bias = np.broadcast_to(c, (1, weight.shape[0])).reshape(-1).copy()
    same = attrs.get("alpha", 1.0) == 1.0 and attrs.get("transB", 0)
    ctx.values[node.output[0]] = ctx.emit(
        ctx.where(node, name), name, Op.LINEAR, [x], {"out_features": weight.shape[0], "bias": bias is not None},
        weights=NodeWeights(weight, bias), source=node.input[1] if same else None)


@parser("MatMul")
def _matmul(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A constant 2-D B: ``linear`` on a flat (N, features) input, ``pointwise`` (a 1×1 conv) on a
    rank-4 input whose last axis holds the channels (a channels-last view, as ConvNeXt's MLPs)."""
    where = ctx.where(node, name)
    b = ctx.constant(node, name, 1, "B").astype(np.float64)
    if b.ndim != 2:
        raise BadArgument(f"{where}: B has shape {list(b.shape)}: expected a 2-D weight matrix")
    x = ctx.tensor(node, name, 0, view=True)
    if x.rank == 4 and x.channel_axis == 3:
        out = ctx.emit(where, name, Op.POINTWISE, [x], {"out_channels": b.shape[1], "bias": False},
                       weights=NodeWeights(b.T[:, :, None, None], None), view=x, full_shape=(*x.shape[:3], b.shape[1]))
    else:
        x = _flat_input(ctx, node, name)
        out = ctx.emit(where, name, Op.LINEAR, [x], {"out_features": b.shape[1], "bias": False},
                       weights=NodeWeights(b.T, None))
    ctx.values[node.output[0]] = out


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

_ACTIVATIONS = {"Relu": Op.RELU, "Sigmoid": Op.SIGMOID, "HardSwish": Op.HARDSWISH}


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


@parser("Softmax")
def _softmax(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    axis = int(attrs.get("axis", -1 if ctx.opset >= 13 else 1)) % x.rank
    if axis != 1 or not (x.rank == 2 or ctx.opset >= 13 or prod(x.shape[2:]) == 1):
        raise BadArgument(f"{ctx.where(node, name)}: axis={attrs.get('axis')} on shape {list(x.shape)}: "
                          "expected a softmax over the channels")
    ctx.values[node.output[0]] = ctx.emit(ctx.where(node, name), name, Op.SOFTMAX, [x])


def _per_channel(ctx: Context, node: onnx.NodeProto, name: str, x: Tensor, c: np.ndarray) -> np.ndarray:
    """A constant operand as one value per channel of ``x`` (the channels on its view's channel axis)."""
    padded = (1,) * (x.rank - c.ndim) + c.shape
    axis = x.channel_axis
    channels = x.shape[axis]
    if c.size != 1 and (c.ndim > x.rank or padded[axis] != channels or prod(padded) != channels):
        raise BadArgument(f"{ctx.where(node, name)}: constant of shape {list(c.shape)} with {list(x.shape)}: "
                          "expected a scalar or one value per channel")
    return np.broadcast_to(c.astype(np.float64).reshape(-1), (channels,)).copy()


@parser("Add", "Sub", "Mul", "Div")
def _arithmetic(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Two tensors: ``add`` / ``mul``; a tensor and a per-channel constant: folded into the conv/linear
    node before it when nothing else reads that (a MatMul's bias Add, ConvNeXt's layer scale), else
    an ``affine`` node."""
    where = ctx.where(node, name)
    a, b = (ctx.values[v] for v in node.input)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if node.op_type not in ("Add", "Mul"):
            raise BadArgument(f"{where}: {node.op_type} of two tensors: the graph IR has add and mul only")
        if a.rank != b.rank:
            raise BadArgument(f"{where}: inputs {node.input[0]!r} {list(a.shape)} and {node.input[1]!r} "
                              f"{list(b.shape)} differ in rank")
        if a.axes != b.axes:
            a, b = ctx.materialised(a), ctx.materialised(b)
        op = Op.ADD if node.op_type == "Add" else Op.MUL
        ctx.values[node.output[0]] = ctx.emit(where, name, op, [a, b], view=a)
        return
    if not isinstance(a, Tensor):
        if node.op_type in ("Sub", "Div"):
            raise BadArgument(f"{where}: {node.op_type} of a constant by a tensor is not supported; expected the "
                              "tensor as the first input")
        a, b = b, a
    c = _per_channel(ctx, node, name, a, b)
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


@parser("Shape")
def _shape(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    x = ctx.tensor(node, name, 0)
    start, end = attrs.get("start", 0), attrs.get("end", None)
    ctx.values[node.output[0]] = np.array(x.shape[start:end], dtype=np.int64)


@parser("Concat")
def _concat(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    xs = [ctx.tensor(node, name, i) for i in range(len(node.input))]
    where = ctx.where(node, name)
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
    x = ctx.tensor(node, name, 0)
    starts, ends = (ctx.constant(node, name, i, what) for i, what in ((1, "starts"), (2, "ends")))
    axes = ctx.constant(node, name, 3, "axes") if ctx.has(node, 3) else np.arange(len(starts))
    steps = ctx.constant(node, name, 4, "steps") if ctx.has(node, 4) else np.ones(len(starts), dtype=np.int64)
    if [int(a) % x.rank for a in axes] != [1] or int(steps[0]) != 1:
        raise BadArgument(f"{ctx.where(node, name)}: axes={list(axes)}, steps={list(steps)}: expected a step-1 "
                          "slice of the channels (axis 1)")
    start, stop, _ = slice(int(starts[0]), int(ends[0])).indices(x.shape[1])
    _channel_slices(ctx, node, name, x, [(start, stop)])


@parser("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")
def _relabel(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A new layout of the same values: none (the IR shape is unchanged), ``flatten``, ``reshape`` or
    ``transpose``; the output's ONNX shape comes from the reference implementation on zeros."""
    x = ctx.tensor(node, name, 0, view=node.op_type == "Transpose")
    where = ctx.where(node, name)
    constants = [ctx.constant(node, name, i, "shape/axes") for i in range(1, len(node.input)) if ctx.has(node, i)]
    shape = fold(node, [np.zeros(x.shape, np.float32), *constants], ctx.opset)[0].shape
    if not shape or shape[0] != ctx.batch:
        raise BadArgument(f"{where}: output shape {list(shape)} from {list(x.shape)}: the batch ({ctx.batch}) must "
                          "stay the first dimension")
    if node.op_type == "Transpose":
        perm = [int(p) for p in attrs.get("perm", range(x.rank - 1, -1, -1))]
        if x.rank == 4 and perm[0] == 0:
            axes = tuple((x.axes or (0, 1, 2, 3))[p] for p in perm)
            identity = axes == (0, 1, 2, 3)
            ctx.values[node.output[0]] = Tensor(x.node, tuple(shape), () if identity else axes,
                                                None if identity else (name, node))
            return
        x = ctx.materialised(x)
        merged = list(range(3, x.rank))
        if perm[0] != 0 or (x.rank > 4 and perm[3:] != merged):
            raise BadArgument(f"{where}: perm={perm}: the batch must stay first (and dims past the 4th in place)")
        ir_perm = tuple(p - 1 for p in perm[1:4]) + tuple(range(len(perm[1:4]), 3))
        if ir_perm != (0, 1, 2):
            ctx.values[node.output[0]] = ctx.emit(where, name, Op.TRANSPOSE, [x], {"perm": ir_perm},
                                                  full_shape=tuple(shape))
            return
    if per_sample(shape) == per_sample(x.shape):
        ctx.values[node.output[0]] = Tensor(x.node, tuple(shape))
    elif len(shape) == 2:
        ctx.values[node.output[0]] = ctx.emit(where, name, Op.FLATTEN, [x], full_shape=tuple(shape))
    else:
        ctx.values[node.output[0]] = ctx.emit(where, name, Op.RESHAPE, [x], {"shape": per_sample(shape)},
                                              full_shape=tuple(shape))
