"""Hypothesis strategies for graph IR specs: random small DAGs that always build.

:func:`dag_specs` draws one or two input nodes of the same height/width, then nodes that read
earlier ones: add/mul (partner drawn among broadcast-compatible nodes), concat (same H and W),
slice (a channel range), relu, pointwise (new channel count) and global pooling ((C, 1, 1),
broadcast back by mul/add: the squeeze-excite shape). The list is returned in a drawn order,
so producers may be declared after their consumers.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fpgasim.nn import NodeSpec, Op, Shape

__all__ = ["dag_specs", "broadcastable"]

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
