"""Reference evaluation of a graph, node by node with :mod:`fpgasim.ops`: float64 and fixed point.

Owns :class:`NodeWeights`, :func:`synthetic_weights` (deterministic He-normal weights),
:func:`evaluate_ref`, :func:`evaluate_fixed` and :func:`compute_node_fixed` — the single-node
fixed-point step that both :func:`evaluate_fixed` and the emulator's functional mode call — and
:func:`agreement` (logit SNR and top-1 agreement of an output against a float reference).
Tensors are (N, C, H, W) with N = the graph's batch. Composite nodes (``dsc``, ``ode``) are not
evaluated here: evaluate :meth:`~fpgasim.nn.Graph.expand`'s graph (DSC) or the ODE kernels of
:mod:`fpgasim.ops.ode`. In fixed point every node's output is in ``requant.out``; weights and
biases are quantised to ``fmt`` with ``requant``'s rounding and overflow modes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import prod, sqrt

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedFormat, FixedTensor, Requantizer, quantize, requantize
from fpgasim.nn.graph import Graph, Node
from fpgasim.nn.graph_ops import Op
from fpgasim.ops import elementwise as ew
from fpgasim.ops.attention import attend_fixed, attend_ref, scores_fixed, scores_ref
from fpgasim.ops.activations import relu6_fixed, relu6_ref, relu_fixed, relu_ref
from fpgasim.ops.conv import (
    conv2d_fixed, conv2d_ref, depthwise_conv2d_fixed, depthwise_conv2d_ref, pointwise_conv2d_fixed,
    pointwise_conv2d_ref,
)
from fpgasim.ops.linear import linear_fixed, linear_ref
from fpgasim.ops.layernorm import l2norm_fixed, l2norm_ref, layernorm_fixed, layernorm_ref
from fpgasim.ops.lookup import (
    LookupTable, gelu_table_fixed, sigmoid_table_fixed, silu_table_fixed, softmax_table_fixed, tanh_table_fixed,
)
from fpgasim.ops.resample import pad_zeros_fixed, pad_zeros_ref, upsample_nearest_fixed, upsample_nearest_ref
from fpgasim.ops.pool import (
    avg_pool2d_fixed, avg_pool2d_ref, global_avg_pool2d_fixed, global_avg_pool2d_ref, max_pool2d_fixed,
    max_pool2d_ref,
)

__all__ = ["NodeWeights", "synthetic_weights", "evaluate_ref", "evaluate_fixed", "compute_node_fixed", "Agreement",
           "agreement"]

#: Half-width of the uniform distribution of synthetic biases.
SYNTHETIC_BIAS_RANGE = 0.1


@dataclass(frozen=True, slots=True, eq=False)
class NodeWeights:
    """Real (float64) weights of one node: ``weight`` shaped as the op's kernel expects (``affine``:
    the per-channel scale, (C,)), ``bias`` (M,)."""

    weight: np.ndarray | None
    bias: np.ndarray | None


def synthetic_weights(graph: Graph, *, seed: int) -> dict[str, NodeWeights]:
    """He-normal weights (std √(2/fan_in)) and uniform(−0.1, 0.1) biases for every node with weights.

    Deterministic: node ``i`` of ``graph.nodes`` draws from ``default_rng((seed, i))``.

    Raises:
        BadArgument: a negative seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadArgument(f"seed={seed!r}: expected an integer >= 0")
    weights = {}
    for index, node in enumerate(graph.nodes):
        shape_of = node.opdef.weight_shape
        if shape_of is None:
            continue
        rng = np.random.default_rng((seed, index))
        shape = shape_of(node.layer)
        weight = rng.normal(0.0, sqrt(2.0 / prod(shape[1:])), size=shape)
        bias = rng.uniform(-SYNTHETIC_BIAS_RANGE, SYNTHETIC_BIAS_RANGE, size=shape[0]) if node.layer.bias else None
        weights[node.name] = NodeWeights(weight, bias)
    return weights


# --- float64 ------------------------------------------------------------------------------------

def _window(node: Node) -> dict[str, int | bool]:
    return {k: node.attrs[k] for k in ("kernel", "stride", "padding", "ceil_mode")}


def _windowing(node: Node) -> dict[str, object]:
    """A scores/attend node's windowed-attention arguments (``window`` None: unwindowed)."""
    return {"window": node.attrs["window"], "dilated": node.attrs["dilated"]}


def _resample(node: Node) -> dict[str, int]:
    """The upsample kernel's arguments: the scale and the node's output size."""
    return {"scale": node.attrs["scale"], "out_h": node.out_shape[1], "out_w": node.out_shape[2]}


def _linear_ref(node: Node, xs: list, w: NodeWeights) -> np.ndarray:
    x = xs[0]
    return linear_ref(x.reshape(x.shape[0], -1), w.weight, w.bias).reshape(x.shape[0], -1, 1, 1)


def _per_channel(values: np.ndarray) -> np.ndarray:
    return values.reshape(1, -1, 1, 1)


def _affine_ref(node: Node, xs: list, w: NodeWeights) -> np.ndarray:
    return xs[0] * _per_channel(w.weight) + _per_channel(w.bias)


def _relabel(node: Node, x: np.ndarray) -> np.ndarray:
    """flatten / reshape / transpose / slice of a stored array (same values, new layout)."""
    if node.op is Op.SLICE:
        index = [slice(None)] * 4
        index[node.attrs["axis"] + 1] = slice(node.attrs["start"], node.attrs["stop"], node.attrs["step"])
        return x[tuple(index)]
    if node.op is Op.TRANSPOSE:
        return x.transpose(0, *(p + 1 for p in node.attrs["perm"]))
    return x.reshape(x.shape[0], *node.out_shape)


def _stored(values: np.ndarray, batch: int) -> np.ndarray:
    """A constant node's (C, H, W) values as (batch, C, H, W): the same for every sample."""
    return np.broadcast_to(values, (batch, *values.shape)).copy()


_REF: dict[Op, Callable[[Node, list, NodeWeights | None], np.ndarray]] = {
    Op.INPUT: lambda n, xs, w: xs[0],
    Op.SCORES: lambda n, xs, w: scores_ref(*xs, heads=n.attrs["heads"], scale=n.attrs["scale"], **_windowing(n)),
    Op.ATTEND: lambda n, xs, w: attend_ref(*xs, heads=n.attrs["heads"], **_windowing(n)),
    Op.CONV: lambda n, xs, w: conv2d_ref(xs[0], w.weight, w.bias, stride=n.attrs["stride"],
                                         padding=n.attrs["padding"], groups=n.attrs["groups"]),
    Op.DEPTHWISE: lambda n, xs, w: depthwise_conv2d_ref(xs[0], w.weight, w.bias, stride=n.attrs["stride"],
                                                        padding=n.attrs["padding"]),
    Op.POINTWISE: lambda n, xs, w: pointwise_conv2d_ref(xs[0], w.weight, w.bias),
    Op.LINEAR: _linear_ref,
    Op.POOL: lambda n, xs, w: (max_pool2d_ref if n.attrs["kind"] == "max" else avg_pool2d_ref)(xs[0], **_window(n)),
    Op.GLOBAL_POOL: lambda n, xs, w: (ew.global_max_pool2d_ref if n.attrs["kind"] == "max"
                                      else global_avg_pool2d_ref)(xs[0]),
    Op.AFFINE: _affine_ref,
    Op.ADD: lambda n, xs, w: ew.add_ref(*xs),
    Op.MUL: lambda n, xs, w: ew.mul_ref(*xs),
    Op.CONCAT: lambda n, xs, w: ew.concat_ref(xs, n.attrs["axis"] + 1),
    Op.RELU: lambda n, xs, w: relu_ref(xs[0]),
    Op.RELU6: lambda n, xs, w: relu6_ref(xs[0]),
    Op.SIGMOID: lambda n, xs, w: ew.sigmoid_ref(xs[0]),
    Op.TANH: lambda n, xs, w: ew.tanh_ref(xs[0]),
    Op.SILU: lambda n, xs, w: ew.silu_ref(xs[0]),
    Op.HARDSWISH: lambda n, xs, w: ew.hardswish_ref(xs[0]),
    Op.GELU: lambda n, xs, w: ew.gelu_ref(xs[0]),
    Op.SOFTMAX: lambda n, xs, w: ew.softmax_ref(xs[0], n.attrs["groups"]),
    Op.LAYERNORM: lambda n, xs, w: layernorm_ref(xs[0], w.weight, w.bias, n.attrs["eps"]),
    Op.L2NORM: lambda n, xs, w: l2norm_ref(xs[0], n.attrs["groups"], n.attrs["eps"]),
    Op.UPSAMPLE: lambda n, xs, w: upsample_nearest_ref(xs[0], **_resample(n)),
    Op.PAD: lambda n, xs, w: pad_zeros_ref(xs[0], pads=n.attrs["pads"]),
    **{op: (lambda n, xs, w: _relabel(n, xs[0])) for op in (Op.SLICE, Op.FLATTEN, Op.RESHAPE, Op.TRANSPOSE)},
}


def _supported(node: Node, table: Mapping) -> None:
    if node.op not in table and node.op is not Op.CONSTANT:
        raise BadArgument(f"node {node.name!r} ({node.op}): composite nodes are not evaluated node by node; "
                          "evaluate graph.expand() (dsc) or fpgasim.ops.ode (ode)")


def _node_weights(node: Node, weights: Mapping[str, NodeWeights]) -> NodeWeights | None:
    if node.opdef.weight_shape is None:
        return None
    if node.name not in weights:
        raise BadArgument(f"node {node.name!r} ({node.op}): no weights given; expected NodeWeights")
    return weights[node.name]


def _check_inputs(graph: Graph, inputs: Mapping[str, object], shape_of: Callable[[object], tuple]) -> None:
    wanted = {node.name: (graph.batch, *node.out_shape) for node in graph.inputs}
    if set(inputs) != set(wanted):
        raise BadArgument(f"graph {graph.name!r}: inputs for {sorted(inputs)}, expected {sorted(wanted)}")
    for name, shape in wanted.items():
        if tuple(shape_of(inputs[name])) != shape:
            raise ShapeError(f"graph {graph.name!r} input {name!r}: shape {tuple(shape_of(inputs[name]))}, "
                             f"expected {shape} (batch, C, H, W)")


def evaluate_ref(graph: Graph, inputs: Mapping[str, np.ndarray],
                 weights: Mapping[str, NodeWeights]) -> dict[str, np.ndarray]:
    """Every node's float64 output, (N, C, H, W), in node order.

    Raises:
        BadArgument: inputs not exactly the graph's input nodes, a node without its weights, a
            composite node. ShapeError: an input not shaped (batch, C, H, W).
    """
    _check_inputs(graph, inputs, np.shape)
    out: dict[str, np.ndarray] = {}
    for node in graph.nodes:
        _supported(node, _REF)
        if node.op is Op.CONSTANT:
            out[node.name] = _stored(_node_weights(node, weights).weight, graph.batch)
            continue
        xs = [np.asarray(inputs[node.name], dtype=np.float64)] if node.op is Op.INPUT else [out[p] for p in node.inputs]
        out[node.name] = _REF[node.op](node, xs, _node_weights(node, weights))
    return out


# --- fixed point --------------------------------------------------------------------------------

def _relabel_fixed(node: Node, xs: list[FixedTensor], w: object, requant: Requantizer) -> FixedTensor:
    return FixedTensor(_relabel(node, xs[0].values), xs[0].fmt)


def _pool_fixed(node: Node, xs: list[FixedTensor], w: object, requant: Requantizer) -> FixedTensor:
    if node.attrs["kind"] == "max":
        return max_pool2d_fixed(xs[0], **_window(node))[0]
    return avg_pool2d_fixed(xs[0], **_window(node), requant=requant)[0]


def _linear_fixed(node: Node, xs: list[FixedTensor], w: tuple, requant: Requantizer) -> FixedTensor:
    x = xs[0]
    flat = FixedTensor(x.values.reshape(x.shape[0], -1), x.fmt)
    y = linear_fixed(flat, *w, requant=requant)[0]
    return FixedTensor(y.values.reshape(x.shape[0], -1, 1, 1), y.fmt)


def _affine_fixed(node: Node, xs: list[FixedTensor], w: tuple, requant: Requantizer) -> FixedTensor:
    """Scale, requantise, then shift (each step as ``mul``/``add`` do it)."""
    scale, shift = (FixedTensor(_per_channel(t.values), t.fmt) for t in w)
    return ew.add_fixed(ew.mul_fixed(xs[0], scale, requant=requant)[0], shift, requant=requant)[0]


_FIXED: dict[Op, Callable[[Node, list[FixedTensor], tuple | None, Requantizer], FixedTensor]] = {
    Op.INPUT: lambda n, xs, w, rq: xs[0],
    Op.SCORES: lambda n, xs, w, rq: scores_fixed(*xs, heads=n.attrs["heads"], scale=n.attrs["scale"], requant=rq,
                                                 **_windowing(n))[0],
    Op.ATTEND: lambda n, xs, w, rq: attend_fixed(*xs, heads=n.attrs["heads"], requant=rq, **_windowing(n))[0],
    Op.CONV: lambda n, xs, w, rq: conv2d_fixed(xs[0], *w, stride=n.attrs["stride"], padding=n.attrs["padding"],
                                               groups=n.attrs["groups"], requant=rq)[0],
    Op.DEPTHWISE: lambda n, xs, w, rq: depthwise_conv2d_fixed(xs[0], *w, stride=n.attrs["stride"],
                                                              padding=n.attrs["padding"], requant=rq)[0],
    Op.POINTWISE: lambda n, xs, w, rq: pointwise_conv2d_fixed(xs[0], *w, requant=rq)[0],
    Op.LINEAR: _linear_fixed,
    Op.POOL: _pool_fixed,
    Op.GLOBAL_POOL: lambda n, xs, w, rq: (ew.global_max_pool2d_fixed(xs[0]) if n.attrs["kind"] == "max"
                                          else global_avg_pool2d_fixed(xs[0], requant=rq))[0],
    Op.AFFINE: _affine_fixed,
    Op.ADD: lambda n, xs, w, rq: ew.add_fixed(*xs, requant=rq)[0],
    Op.MUL: lambda n, xs, w, rq: ew.mul_fixed(*xs, requant=rq)[0],
    Op.CONCAT: lambda n, xs, w, rq: ew.concat_fixed(xs, requant=rq, axis=n.attrs["axis"] + 1)[0],
    Op.RELU: lambda n, xs, w, rq: relu_fixed(xs[0])[0],
    Op.RELU6: lambda n, xs, w, rq: relu6_fixed(xs[0])[0],
    Op.SIGMOID: lambda n, xs, w, rq: ew.sigmoid_fixed(xs[0], requant=rq)[0],
    Op.TANH: lambda n, xs, w, rq: ew.tanh_fixed(xs[0], requant=rq)[0],
    Op.SILU: lambda n, xs, w, rq: ew.silu_fixed(xs[0], requant=rq)[0],
    Op.HARDSWISH: lambda n, xs, w, rq: ew.hardswish_fixed(xs[0], requant=rq)[0],
    Op.GELU: lambda n, xs, w, rq: ew.gelu_fixed(xs[0], requant=rq)[0],
    Op.SOFTMAX: lambda n, xs, w, rq: ew.softmax_fixed(xs[0], requant=rq, groups=n.attrs["groups"])[0],
    Op.LAYERNORM: lambda n, xs, w, rq: layernorm_fixed(xs[0], *w, requant=rq, eps=n.attrs["eps"])[0],
    Op.L2NORM: lambda n, xs, w, rq: l2norm_fixed(xs[0], requant=rq, groups=n.attrs["groups"], eps=n.attrs["eps"])[0],
    Op.UPSAMPLE: lambda n, xs, w, rq: upsample_nearest_fixed(xs[0], **_resample(n))[0],
    Op.PAD: lambda n, xs, w, rq: pad_zeros_fixed(xs[0], pads=n.attrs["pads"])[0],
    **{op: _relabel_fixed for op in (Op.SLICE, Op.FLATTEN, Op.RESHAPE, Op.TRANSPOSE)},
}


#: Sigmoid, tanh, SiLU, GELU and softmax read from a lookup table (an FPGA's vector unit; tanh reads the σ table).
_TABLE_FIXED = {Op.SIGMOID: sigmoid_table_fixed, Op.TANH: tanh_table_fixed, Op.SILU: silu_table_fixed,
                Op.GELU: gelu_table_fixed,
                Op.SOFTMAX: lambda x, *, requant, table, groups: softmax_table_fixed(x, requant=requant, table=table,
                                                                                     groups=groups)}


def _quantise(values: np.ndarray | None, fmt: FixedFormat, requant: Requantizer) -> FixedTensor | None:
    if values is None:
        return None
    return quantize(values, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]


def compute_node_fixed(node: Node, inputs: list[FixedTensor], weights: NodeWeights | None, *,
                       fmt: FixedFormat, requant: Requantizer, table: LookupTable | None = None,
                       batch: int = 1) -> FixedTensor:
    """One node in fixed point: weights quantised to ``fmt``, the op's ``fpgasim.ops`` fixed kernel,
    the result requantised to ``requant.out`` (rounding/overflow of ``requant``) if not already there.

    Args:
        node: the node. inputs: its producers' outputs in ``node.inputs`` order (an input node
            takes the graph input tensor as its one input). weights: real weights of a node with
            weights, else None. fmt: weight format. requant: output format, rounding, overflow and
            accumulator of every kernel. table: a sigmoid, tanh, SiLU, GELU or softmax node read from this
            lookup table (an FPGA's vector unit, :mod:`fpgasim.ops.lookup`); None: computed exactly.
            batch: the samples a constant node's stored values are repeated for.

    Raises:
        BadArgument: a composite node, missing weights, a wrong number of inputs, or what the
            kernel raises. ShapeError: tensors the kernel refuses.
    """
    _supported(node, _FIXED)
    expected = 1 if node.op is Op.INPUT else len(node.inputs)
    if len(inputs) != expected:
        raise BadArgument(f"node {node.name!r}: {len(inputs)} input tensors, expected {expected}")
    quantised = None
    if node.opdef.weight_shape is not None:
        if weights is None:
            raise BadArgument(f"node {node.name!r} ({node.op}): no weights given; expected NodeWeights")
        quantised = (_quantise(weights.weight, fmt, requant), _quantise(weights.bias, fmt, requant))
    if node.op is Op.CONSTANT:
        out = FixedTensor(_stored(quantised[0].values, batch), quantised[0].fmt)
    elif table is not None and node.op in _TABLE_FIXED:
        extra = {"groups": node.attrs["groups"]} if node.op is Op.SOFTMAX else {}
        out = _TABLE_FIXED[node.op](inputs[0], requant=requant, table=table, **extra)[0]
    else:
        out = _FIXED[node.op](node, list(inputs), quantised, requant)
    if out.fmt != requant.out:
        out = requantize(out, requant.out, rounding=requant.rounding, overflow=requant.overflow)[0]
    return out


def evaluate_fixed(graph: Graph, inputs: Mapping[str, FixedTensor], weights: Mapping[str, NodeWeights], *,
                   fmt: FixedFormat, requant: Requantizer,
                   tables: Mapping[str, LookupTable] | None = None) -> dict[str, FixedTensor]:
    """Every node's fixed-point output (in ``requant.out``), node by node with :func:`compute_node_fixed`
    (``tables``: the lookup table of each sigmoid/tanh/SiLU/GELU/softmax node that reads one).

    Raises:
        As :func:`evaluate_ref` and :func:`compute_node_fixed`.
    """
    for name, tensor in inputs.items():
        if not isinstance(tensor, FixedTensor):
            raise BadArgument(f"graph {graph.name!r} input {name!r}: {type(tensor).__name__}, expected a FixedTensor")
    _check_inputs(graph, inputs, lambda t: t.shape)
    out: dict[str, FixedTensor] = {}
    for node in graph.nodes:
        xs = [inputs[node.name]] if node.op is Op.INPUT else [out[p] for p in node.inputs]
        w = weights.get(node.name) if node.opdef.weight_shape is not None else None
        out[node.name] = compute_node_fixed(node, xs, w, fmt=fmt, requant=requant,
                                            table=(tables or {}).get(node.name), batch=graph.batch)
    return out


@dataclass(frozen=True, slots=True)
class Agreement:
    """How close a network output is to a float reference.

    Attributes:
        snr_db: 10·log10(Σ ref² / Σ (out − ref)²) over all logits; ``inf`` when they are equal.
        top1: fraction of samples whose arg-max class is the reference's.
    """

    snr_db: float
    top1: float


def agreement(reference: np.ndarray, output: np.ndarray) -> Agreement:
    """The :class:`Agreement` of ``output`` with ``reference``, both (N, …) with samples along axis 0.

    Raises:
        ShapeError: the shapes differ.
    """
    ref, out = np.asarray(reference, np.float64), np.asarray(output, np.float64)
    if ref.shape != out.shape or ref.ndim < 1:
        raise ShapeError(f"agreement: output shape {out.shape} and reference shape {ref.shape}: expected the same "
                         "(N, ...) shape")
    noise = float(np.sum((out - ref) ** 2))
    snr = float("inf") if noise == 0 else 10 * np.log10(float(np.sum(ref**2)) / noise)
    flat_ref, flat_out = ref.reshape(len(ref), -1), out.reshape(len(out), -1)
    top1 = float(np.mean(flat_ref.argmax(axis=1) == flat_out.argmax(axis=1)))
    return Agreement(snr, top1)
