"""Attention in an ONNX export: the products of two computed tensors and the per-head
normalisations around them.

A MatMul of two computed tensors, or an Einsum that is a batched matrix product, is attention's
``scores`` (Q·Kᵀ) or ``attend`` (P·V) per head, as the operands' views lay the heads and positions
out (:func:`head_matmul`): over every position (ViT), within blocks of rows and columns (Swin,
MaxViT's block attention) or within a dilated grid (MaxViT's grid attention). A Softmax or an
L2 normalisation over a view's axis of minor channel factors runs per head (``groups``).
"""

from __future__ import annotations

from math import prod
from typing import NamedTuple

import onnx

from fpgasim.errors import BadArgument
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.onnx.context import Context, Tensor
from fpgasim.nn.onnx.layout import BATCH, CHANNELS, HEIGHT, WIDTH, View
from fpgasim.nn.onnx.registry import parser

__all__ = ["head_matmul"]


class _Heads(NamedTuple):
    """How a per-head tensor's view holds its heads and positions (:func:`_per_head`)."""

    heads: int
    #: the heads' axis counted from the end (None: one head).
    heads_axis: int | None
    #: the attention window (rows, columns) and whether it is dilated; None: every position.
    window: tuple[tuple[int, int], bool] | None
    #: per axis that holds the batch and the window index: its factors' (dimension, size).
    outer: tuple[tuple[tuple[int, int], ...], ...]


def _attention_window(view: View, tokens: tuple[int, ...]) -> tuple[tuple[int, int], bool] | None | bool:
    """The window a tensor's ``tokens`` factors attend within: all positions (None); the minor
    factors of each of height and width, the major ones counting windows (a block: Swin, MaxViT's
    block attention); or the major factors, strided over the map (dilated: MaxViT's grid attention).
    False when the tokens are none of these (not spatial, not in storage order, mixed kinds)."""
    if not tokens or tokens != tuple(sorted(tokens)) or any(view.dims[f] not in (HEIGHT, WIDTH) for f in tokens):
        return False
    sizes, kinds = [], set()
    for dim in (HEIGHT, WIDTH):
        factors = view.factors_of(dim)
        own = tuple(f for f in tokens if view.dims[f] == dim)
        sizes.append(prod(view.sizes[f] for f in own))
        if own == factors or not own:
            continue
        if factors[len(factors) - len(own):] == own:
            kinds.add(False)
        elif factors[:len(own)] == own:
            kinds.add(True)
        else:
            return False
    if len(kinds) > 1:
        return False
    if all(view.factors_of(dim) == tuple(f for f in tokens if view.dims[f] == dim) for dim in (HEIGHT, WIDTH)):
        return None
    return (sizes[0], sizes[1]), kinds == {True}


def _per_head(view: View, tokens_axis: int, channels_axis: int) -> _Heads | None:
    """How a view of a transformer's per-head tensor holds the IR's values: ``channels_axis`` a run
    of the minor channel factors (one head's channels), ``tokens_axis`` height/width factors in
    storage order (the positions one query attends: all, or a window, :func:`_attention_window`), the
    remaining channel factors (the heads) on one other axis, and the batch and the window index on
    the others. None when the view is not such a tensor."""
    rank = len(view.axes)
    channels = view.factors_of(CHANNELS)
    own = view.axes[channels_axis]
    if not own or channels[len(channels) - len(own):] != own:
        return None
    tokens = view.axes[tokens_axis]
    window = _attention_window(view, tokens)
    if window is False:
        return None
    heads_factors = channels[:len(channels) - len(own)]
    heads_axis, outer = None, []
    for i, axis in enumerate(view.axes):
        if i in (tokens_axis % rank, channels_axis % rank) or not axis:
            continue
        if all(view.dims[f] != CHANNELS for f in axis):
            outer.append(tuple((view.dims[f], view.sizes[f]) for f in axis))
            continue
        if axis != heads_factors:
            return None
        heads_axis = i - rank
    if heads_factors and heads_axis is None:
        return None
    return _Heads(prod(view.sizes[f] for f in heads_factors), heads_axis, window, tuple(outer))


def _head_output(a: View, heads: int, last: int, heads_axis: int | None, batch: int) -> View:
    """The view of a per-head product's output: ``a``'s axes, its channel axis now ``last`` values
    of each of ``heads`` heads, its heads and positions where ``a`` had them."""
    sizes, dims, index = [], [], {}
    for factor in a.factors_of(BATCH):
        index[factor] = len(sizes)
        sizes.append(batch), dims.append(BATCH)
    heads_factor = last_factor = None
    if heads > 1:
        heads_factor = len(sizes)
        sizes.append(heads), dims.append(CHANNELS)
    if last > 1:
        last_factor = len(sizes)
        sizes.append(last), dims.append(CHANNELS)
    for factor, dim in enumerate(a.dims):
        if dim in (HEIGHT, WIDTH):
            index[factor] = len(sizes)
            sizes.append(a.sizes[factor]), dims.append(dim)
    rank = len(a.axes)
    axes = []
    for i, axis in enumerate(a.axes):
        if i == rank - 1:
            axes.append(() if last_factor is None else (last_factor,))
        elif heads_axis is not None and i == rank + heads_axis:
            axes.append(() if heads_factor is None else (heads_factor,))
        else:
            axes.append(tuple(index[f] for f in axis))
    return View(tuple(sizes), tuple(dims), tuple(axes))


def head_matmul(ctx: Context, node: onnx.NodeProto, name: str, operands: tuple[Tensor, Tensor] | None = None) -> None:
    """A MatMul of two computed tensors (or ``operands``, an Einsum's in A·B form): attention's
    ``scores`` (Q·Kᵀ: A holds a head's channels last, B in the second-to-last axis) or ``attend``
    (P·V: A's last axis is each head's scores of B's positions), per head as the views lay the
    heads out; a pending scalar scale on Q and K becomes the scores' ``scale``."""
    where = ctx.where(node, name)
    a, b = operands or tuple(ctx.tensor(node, name, i, view=True) for i in (0, 1))
    refusal = (f"{where}: inputs {node.input[0]!r} {list(a.shape)} and {node.input[1]!r} {list(b.shape)}: a "
               "product of two computed tensors is attention's Q·Kᵀ or P·V per head (the IR's scores and "
               "attend), with each head's channels and positions (all, or a window of rows and columns) on the "
               "last two axes")
    if a.rank != b.rank or a.rank < 2:
        raise BadArgument(refusal)
    va, vb = ctx.view_of(a), ctx.view_of(b)
    query = _per_head(va, -2, -1)
    keys, values = _per_head(vb, -1, -2), _per_head(vb, -2, -1)
    if query is None or (keys is None and values is None):
        raise BadArgument(refusal)
    heads, heads_axis, window = query.heads, query.heads_axis, query.window
    windowed = {} if window is None else {"window": window[0], "dilated": window[1]}
    if keys is not None and keys == query and a.shape[-1] == b.shape[-2]:
        op, attrs, last = Op.SCORES, {"heads": heads, "scale": a.scale * b.scale, **windowed}, b.shape[-1]
    elif values is not None and values == query and a.shape[-1] == b.shape[-2] and a.scale == b.scale == 1.0:
        op, attrs, last = Op.ATTEND, {"heads": heads, **windowed}, b.shape[-1]
    else:
        raise BadArgument(refusal)
    shape = (*a.shape[:-1], last)
    out = ctx.emit(where, name, op, [a, b], attrs, full_shape=shape)
    view = _head_output(va, heads, last, heads_axis, ctx.batch)
    ctx.values[node.output[0]] = ctx.viewed(out.node, shape, view, a.transpose or b.transpose or (name, node))


@parser("Einsum")
def _einsum(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """A batched matrix product of two computed tensors written as an Einsum (MaxViT's
    ``B G H I D, B G H J D -> B G H I J`` and its P·V): both operands transposed, as views, into
    the A·B of a MatMul, then :func:`head_matmul`."""
    where = ctx.where(node, name)
    equation = attrs["equation"].decode() if isinstance(attrs["equation"], bytes) else attrs["equation"]
    terms = equation.replace(" ", "").replace("->", ",").split(",")
    refusal = (f"{where}: equation {equation!r}: expected a batched matrix product of two tensors, "
               "'...ik, ...kj -> ...ij' with the batch letters in the output's order")
    if len(terms) != 3 or len(node.input) != 2 or any(len(set(t)) != len(t) for t in terms):
        raise BadArgument(refusal)
    left, right, out = terms
    batch = out[:-2]
    rows, cols = out[-2:]
    inner = set(left) & set(right) - set(out)
    if len(inner) != 1 or set(left) != {*batch, rows, *inner} or set(right) != {*batch, cols, *inner}:
        raise BadArgument(refusal)
    (k,) = inner
    operands = []
    for i, (term, order) in enumerate(((left, batch + rows + k), (right, batch + k + cols))):
        x = ctx.tensor(node, name, i, view=True)
        perm = [term.index(letter) for letter in order]
        shape = tuple(x.shape[p] for p in perm)
        view = ctx.viewed(x.node, shape, ctx.view_of(x).transpose(perm), x.transpose or (name, node))
        operands.append(view.with_scale(x.scale))
    head_matmul(ctx, node, name, (operands[0], operands[1]))


def _channel_groups(x: Tensor, axis: int) -> int | None:
    """How many groups a per-group op over ``axis`` of a view cuts the channels into: the axis must
    hold the minor channel factors (each head's scores, each head's channels); None otherwise."""
    if x.view is None or x.scale != 1.0 or axis != x.rank - 1:
        return None
    channels = x.view.factors_of(CHANNELS)
    own = x.view.axes[axis]
    if not own or channels[len(channels) - len(own):] != own:
        return None
    return prod(x.view.sizes[f] for f in channels[:len(channels) - len(own)])


@parser("Softmax")
def _softmax(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """Over the channels; over a view's last axis when it holds the minor channel factors (each
    head's scores of every key: one softmax per group of channels, ``groups`` = the heads)."""
    x = ctx.tensor(node, name, 0, view=True)
    axis = int(attrs.get("axis", -1 if ctx.opset >= 13 else 1)) % x.rank
    where = ctx.where(node, name)
    groups = _channel_groups(x, axis)
    if groups is not None:
        ctx.values[node.output[0]] = ctx.emit(where, name, Op.SOFTMAX, [x], {"groups": groups}, view=x)
        return
    x = ctx.materialised(x)
    if axis != 1 or not (x.rank == 2 or ctx.opset >= 13 or prod(x.shape[2:]) == 1):
        raise BadArgument(f"{where}: axis={attrs.get('axis')} on shape {list(x.shape)}: "
                          "expected a softmax over the channels (or over each head's scores)")
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.SOFTMAX, [x])


@parser("LpNormalization")
def _l2_norm(ctx: Context, node: onnx.NodeProto, name: str, attrs: dict) -> None:
    """p = 2 over the channels, or over a view's last axis when it holds the minor channel factors
    (each head's channels: Swin V2's normalised Q and K, ``groups`` = the heads): ``l2norm``."""
    x = ctx.tensor(node, name, 0, view=True)
    where = ctx.where(node, name)
    axis = int(attrs.get("axis", -1)) % x.rank
    if int(attrs.get("p", 2)) != 2:
        raise BadArgument(f"{where}: p={attrs['p']}: the graph IR normalises by the L2 norm (p=2)")
    groups = _channel_groups(x, axis)
    if groups is not None:
        ctx.values[node.output[0]] = ctx.emit(where, name, Op.L2NORM, [x], {"groups": groups}, view=x)
        return
    x = ctx.materialised(x)
    if axis != 1:
        raise BadArgument(f"{where}: axis={attrs.get('axis', -1)} on shape {list(x.shape)}: expected the "
                          "channels (or each head's channels on a view's last axis)")
    ctx.values[node.output[0]] = ctx.emit(where, name, Op.L2NORM, [x])
