"""Hypothesis strategies for graph IR specs: random small DAGs that always build.

:func:`dag_specs` draws one or two input nodes of the same height/width, then nodes that read
earlier ones: add/mul (partner drawn among broadcast-compatible nodes), concat (same H and W),
slice (a channel range), relu, pointwise (new channel count) and global pooling ((C, 1, 1),
broadcast back by mul/add: the squeeze-excite shape). The list is returned in a drawn order,
so producers may be declared after their consumers.

:func:`cnn_specs` draws small convolutional networks in topological order: 3×3 and 1×1
convolutions (stride 1 or 2), 1×3 and 3×1 ones (inception's factorized windows, per-axis stride and
padding), depthwise convolutions, max/avg pooling, ReLU, residual adds,
channel concats, squeeze-excite style global pooling × map, and optionally a classifier head
(global pooling, flatten, linear) — the node kinds a partitioned plan cuts, with halos.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fpgasim.nn import NodeSpec, Op, Shape
from fpgasim.ops.window import as_pair

__all__ = ["dag_specs", "cnn_specs", "broadcastable"]

_KINDS = (Op.ADD, Op.MUL, Op.CONCAT, Op.SLICE, Op.RELU, Op.POINTWISE, Op.GLOBAL_POOL)


def broadcastable(a: Shape, b: Shape) -> bool:
    """Whether two (C, H, W) shapes broadcast (each dimension equal or one of them 1)."""
    return all(x == y or 1 in (x, y) for x, y in zip(a, b))


@st.composite
def dag_specs(draw, *, max_nodes: int = 8, max_channels: int = 4, max_hw: int = 4,
              shuffle: bool = True) -> list[NodeSpec]:
    """Specs of a random DAG (``max_nodes`` nodes besides the inputs) that :meth:`Graph.build` accepts."""
    hw = (draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw)))
    shapes: dict[str, Shape] = {}
    specs: list[NodeSpec] = []
    for i in range(draw(st.integers(1, 2))):
        shape = (draw(st.integers(1, max_channels)), *hw)
        specs.append(NodeSpec(name=f"in{i}", op=Op.INPUT, attrs={"shape": shape}))
        shapes[f"in{i}"] = shape
    for i in range(draw(st.integers(1, max_nodes))):
        name, kind = f"n{i}", draw(st.sampled_from(_KINDS))
        a = draw(st.sampled_from(sorted(shapes)))
        (c, h, w), attrs, inputs = shapes[a], {}, (a,)
        if kind in (Op.ADD, Op.MUL):
            b = draw(st.sampled_from([n for n in sorted(shapes) if broadcastable(shapes[n], shapes[a])]))
            inputs, out = (a, b), tuple(max(x, y) for x, y in zip(shapes[a], shapes[b]))
        elif kind is Op.CONCAT:
            same = [n for n in sorted(shapes) if shapes[n][1:] == (h, w)]
            inputs = (a, *draw(st.lists(st.sampled_from(same), min_size=1, max_size=2)))
            out = (sum(shapes[n][0] for n in inputs), h, w)
        elif kind is Op.SLICE:
            start = draw(st.integers(0, c - 1))
            attrs = {"start": start, "stop": draw(st.integers(start + 1, c))}
            out = (attrs["stop"] - start, h, w)
        elif kind is Op.POINTWISE:
            attrs = {"out_channels": draw(st.integers(1, max_channels)), "bias": draw(st.booleans())}
            out = (attrs["out_channels"], h, w)
        elif kind is Op.GLOBAL_POOL:
            attrs, out = {"kind": draw(st.sampled_from(["avg", "max"]))}, (c, 1, 1)
        else:
            out = (c, h, w)
        specs.append(NodeSpec(name=name, op=kind, inputs=inputs, attrs=attrs))
        shapes[name] = out
    return draw(st.permutations(specs)) if shuffle else specs


_CNN_KINDS = ("conv", "pointwise", "depthwise", "pool", "relu", "add", "concat", "excite")


@st.composite
def cnn_specs(draw, *, max_nodes: int = 7, max_channels: int = 8, max_hw: int = 12, min_channels: int = 1,
              min_hw: int = 4, head: bool | None = None, kinds: tuple[str, ...] = _CNN_KINDS,
              chain: bool = False) -> list[NodeSpec]:
    """Specs of a random small CNN graph in topological order (see the module docstring); ``kinds``
    limits the node kinds drawn; ``chain`` makes every node read the one before it (a second
    input, for add/concat, may still be any earlier node)."""
    side = draw(st.integers(min_hw, max_hw))
    shapes: dict[str, Shape] = {"x": (draw(st.integers(min_channels, max_channels)), side, side)}
    specs = [NodeSpec(name="x", op=Op.INPUT, attrs={"shape": shapes["x"]})]
    for i in range(draw(st.integers(1, max_nodes))):
        name, kind = f"n{i}", draw(st.sampled_from(kinds))
        a = specs[-1].name if chain else draw(st.sampled_from(sorted(shapes)))
        (c, h, w), inputs = shapes[a], (a,)
        if kind == "conv":
            # square windows and inception's factorized ones (per-axis kernel, stride and padding)
            (kh, kw), (sh, sw) = draw(st.sampled_from([((3, 3), (1, 1)), ((3, 3), (2, 2)), ((1, 1), (1, 1)),
                                                       ((1, 1), (2, 2)), ((1, 3), (1, 1)), ((3, 1), (2, 1))]))
            out_c = draw(st.integers(min_channels, max_channels))
            attrs = {"out_channels": out_c, "kernel": as_pair(kh, kw), "stride": as_pair(sh, sw),
                     "padding": as_pair(kh // 2, kw // 2)}
            op, out = Op.CONV, (out_c, (h + 2 * (kh // 2) - kh) // sh + 1, (w + 2 * (kw // 2) - kw) // sw + 1)
        elif kind == "pointwise":
            out_c = draw(st.integers(min_channels, max_channels))
            op, attrs, out = Op.POINTWISE, {"out_channels": out_c}, (out_c, h, w)
        elif kind == "depthwise":
            op, attrs, out = Op.DEPTHWISE, {"kernel": 3, "padding": 1}, (c, h, w)
        elif kind == "pool" and min(h, w) >= 2:
            kernel, stride, padding = draw(st.sampled_from([(2, 2, 0), (3, 1, 1), (3, 2, 1)]))
            op = Op.POOL
            attrs = {"kind": draw(st.sampled_from(["max", "avg"])), "kernel": kernel, "stride": stride,
                     "padding": padding}
            out = (c, (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1)
        elif kind == "add":
            same = [n for n in sorted(shapes) if shapes[n] == shapes[a]]
            op, attrs, inputs, out = Op.ADD, {}, (a, draw(st.sampled_from(same))), (c, h, w)
        elif kind == "concat":
            same = [n for n in sorted(shapes) if shapes[n][1:] == (h, w)]
            inputs = (a, draw(st.sampled_from(same)))
            op, attrs, out = Op.CONCAT, {}, (sum(shapes[n][0] for n in inputs), h, w)
        elif kind == "excite":
            squeeze = f"{name}.squeeze"
            specs.append(NodeSpec(name=squeeze, op=Op.GLOBAL_POOL, inputs=(a,), attrs={"kind": "avg"}))
            shapes[squeeze] = (c, 1, 1)
            op, attrs, inputs, out = Op.MUL, {}, (squeeze, a), (c, h, w)
        else:
            op, attrs, out = Op.RELU, {}, (c, h, w)
        specs.append(NodeSpec(name=name, op=op, inputs=inputs, attrs=attrs))
        shapes[name] = out
    if head if head is not None else draw(st.booleans()):
        last = specs[-1].name
        specs += [NodeSpec(name="gap", op=Op.GLOBAL_POOL, inputs=(last,), attrs={"kind": "avg"}),
                  NodeSpec(name="flat", op=Op.FLATTEN, inputs=("gap",)),
                  NodeSpec(name="fc", op=Op.LINEAR, inputs=("flat",),
                           attrs={"out_features": draw(st.integers(1, 10))})]
    return specs
