"""LCP's branch split of a network graph (Hadidi et al., CSCE 2023, Procedure 1; seed-papers.md §d),
and the model-parallel baseline it is compared with (LCP Table I).

Owns :func:`lcp_split` (n narrow independent branches with a shared broadcast input and one gather),
:func:`fit_branches` (the splitter's loop: halve every width until a branch fits a device) and
:func:`model_parallel` (every layer's outputs split over n parts; every part of a layer reads the whole
previous activation, so every intermediate activation crosses the devices).

A split keeps kernels, strides and depth; only widths change: the output channels of conv and
pointwise nodes and the output features of linear nodes become ``round(width / n · (1 + f/100))``
(``f`` the fattening in percent, LCP's +10 % steps; depthwise, pooling and element-wise nodes follow
their input). The classifier — the last linear node — is not split or fattened: it reads the
concatenation (``gather``) of the branches' pre-final activations. Nodes after it (a softmax) follow
it. Branch ``b``'s copy of node ``x`` is called ``b<b>/x``; the graph input stays ``input``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.nn.graph import Graph, Node, NodeSpec
from fpgasim.nn.graph_ops import Op

__all__ = ["GATHER", "CLASSIFIER_OPS", "WIDTH_ATTRS", "SplitCounts", "branch_name", "branch_of", "split_label",
           "lcp_split", "split_counts", "fit_branches", "model_parallel", "part_name"]

#: Name of the node that gathers the branches' pre-final activations on the final device.
GATHER = "gather"
#: The op of the classifier node (the last node of this op is the classifier).
CLASSIFIER_OPS = frozenset({Op.LINEAR})
#: The attribute holding the width of each op whose width the split divides.
WIDTH_ATTRS = {Op.CONV: "out_channels", Op.POINTWISE: "out_channels", Op.LINEAR: "out_features"}


def branch_name(branch: int, node: str) -> str:
    """The name of branch ``branch``'s copy of ``node``."""
    return f"b{branch}/{node}"


def part_name(part: int, node: str) -> str:
    """The name of part ``part`` of ``node`` in a model-parallel graph."""
    return f"p{part}/{node}"


def branch_of(name: str) -> int | None:
    """The branch (or model-parallel part) index of a node name, None for shared nodes."""
    head, sep, _ = name.partition("/")
    return int(head[1:]) if sep and head[:1] in "bp" and head[1:].isdigit() else None


def split_label(branches: int, fatten_pct: int) -> str:
    """LCP's name of a split: ``base``, ``split8``, ``split8-f40``."""
    if branches == 1 and fatten_pct == 0:
        return "base"
    return f"split{branches}" + (f"-f{fatten_pct}" if fatten_pct else "")


def _check(branches: int, fatten_pct: int) -> None:
    if isinstance(branches, bool) or not isinstance(branches, int) or branches < 1:
        raise BadArgument(f"branches={branches!r}: expected an integer >= 1")
    if isinstance(fatten_pct, bool) or not isinstance(fatten_pct, int) or fatten_pct < 0 or fatten_pct % 10:
        raise BadArgument(f"fatten_pct={fatten_pct!r}: expected a multiple of 10 >= 0 (LCP fattens in +10 % steps)")


def _classifier(graph: Graph) -> Node:
    linears = [node for node in graph.nodes if node.op in CLASSIFIER_OPS]
    if not linears:
        raise BadArgument(f"graph {graph.name!r} has no linear classifier; an LCP split gathers the branches' "
                          "pre-final activations into one")
    return linears[-1]


def _width(graph: str, node: Node, branches: int, fatten_pct: int) -> int:
    key = WIDTH_ATTRS[node.op]
    width = int(node.attrs[key])
    scaled = (width * (100 + fatten_pct) + 50 * branches) // (100 * branches)  # round(width/n·(1+f/100))
    if scaled < 1:
        most = width * (100 + fatten_pct) // 50 if width else 0
        raise BadArgument(f"{split_label(branches, fatten_pct)} of {graph!r}: node {node.name!r} has {key}={width}; "
                          f"split {branches} ways it leaves each branch 0 channels; expected at most "
                          f"{max(most, 1)} branches")
    return scaled


def _scaled_attrs(graph: str, node: Node, branches: int, fatten_pct: int) -> dict[str, object]:
    attrs = dict(node.attrs)
    if node.op in WIDTH_ATTRS:
        attrs[WIDTH_ATTRS[node.op]] = _width(graph, node, branches, fatten_pct)
    if node.op is Op.CONV and int(node.attrs["groups"]) != 1:
        raise BadArgument(f"node {node.name!r}: a grouped convolution (groups={node.attrs['groups']}) cannot be split "
                          "by width; expected groups=1")
    return attrs


def lcp_split(graph: Graph, *, branches: int, fatten_pct: int = 0) -> Graph:
    """LCP's split of ``graph`` into ``branches`` independent branches, fattened by ``fatten_pct`` %.

    Args:
        graph: a single-input network whose last linear node is the classifier.
        branches: n ≥ 1 (1 with fattening 0 returns an equivalent graph with one branch).
        fatten_pct: widening of every layer but the classifier, a multiple of 10 (f40 = 40).

    Returns:
        The split graph: ``input`` → n branches ``b<i>/…`` → ``gather`` (concat) → classifier.

    Raises:
        BadArgument: a bad count or fattening, no classifier, several inputs, a grouped convolution,
            or a width that leaves a branch zero channels (names the node and the largest n).
    """
    _check(branches, fatten_pct)
    if len(graph.inputs) != 1:
        raise BadArgument(f"graph {graph.name!r} has {len(graph.inputs)} inputs; an LCP split broadcasts one")
    graph = graph.expand()
    classifier = _classifier(graph)
    after = _downstream(graph, classifier.name)
    trunk = [node for node in graph.nodes if node.name not in after and node.op is not Op.INPUT]
    source = graph.inputs[0].name
    specs = [graph.inputs[0].spec()]
    for b in range(branches):
        rename = {source: source}
        for node in trunk:
            rename[node.name] = branch_name(b, node.name)
            specs.append(NodeSpec(name=rename[node.name], op=node.op, inputs=tuple(rename[p] for p in node.inputs),
                                  attrs=_scaled_attrs(graph.name, node, branches, fatten_pct)))
    (pre_final,) = classifier.inputs
    if pre_final == source:
        raise BadArgument(f"graph {graph.name!r}: the classifier {classifier.name!r} reads the input directly")
    specs.append(NodeSpec(name=GATHER, op=Op.CONCAT if branches > 1 else Op.FLATTEN,
                          inputs=tuple(branch_name(b, pre_final) for b in range(branches))))
    for node in graph.nodes:
        if node.name in after:
            inputs = tuple(GATHER if p == pre_final else p for p in node.inputs)
            specs.append(NodeSpec(name=node.name, op=node.op, inputs=inputs, attrs=node.attrs))
    return Graph.build(name=f"{graph.name}-{split_label(branches, fatten_pct)}", batch=graph.batch, specs=specs)


def _downstream(graph: Graph, name: str) -> set[str]:
    """``name`` and every node that reads it, directly or not."""
    found, stack = {name}, [name]
    while stack:
        for reader in graph.consumers(stack.pop()):
            if reader not in found:
                found.add(reader)
                stack.append(reader)
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitCounts:
    """Parameters and MACs of a split graph, in total and in its largest branch (per sample).

    Attributes:
        params, macs: the whole model (every branch plus the classifier).
        branch_params, branch_macs: the largest branch alone.
        final_params, final_macs: the nodes outside the branches (gather, classifier).
    """

    params: int
    macs: int
    branch_params: int
    branch_macs: int
    final_params: int
    final_macs: int


def split_counts(graph: Graph) -> SplitCounts:
    """The :class:`SplitCounts` of a graph from :func:`lcp_split` (an unsplit graph: one branch)."""
    per: dict[int | None, list[int]] = {}
    for node in graph.nodes:
        key = branch_of(node.name)
        counts = per.setdefault(key, [0, 0])
        counts[0] += node.params
        counts[1] += node.macs
    shared = per.pop(None, [0, 0])
    largest = max(per.values(), key=lambda c: (c[1], c[0]), default=[0, 0])
    return SplitCounts(params=graph.params, macs=graph.macs, branch_params=largest[0], branch_macs=largest[1],
                       final_params=shared[0], final_macs=shared[1])


def fit_branches(graph: Graph, *, memory_bytes: int, macs: int, bytes_per_param: int,
                 max_branches: int = 64) -> int:
    """LCP Procedure 1: the fewest branches n (1, 2, 4, …) whose largest branch fits a device.

    A branch fits when its weights (``params · bytes_per_param``) fit ``memory_bytes`` and its
    MACs per sample are at most ``macs``.

    Raises:
        BadArgument: non-positive budgets, or no n ≤ ``max_branches`` fits (a width reaches zero
            first, or the budget is too small).
    """
    for name, value in (("memory_bytes", memory_bytes), ("macs", macs), ("bytes_per_param", bytes_per_param)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadArgument(f"{name}={value!r}: expected a positive integer")
    branches = 1
    while branches <= max_branches:
        counts = split_counts(lcp_split(graph, branches=branches))
        if counts.branch_params * bytes_per_param <= memory_bytes and counts.branch_macs <= macs:
            return branches
        branches *= 2
    raise BadArgument(f"graph {graph.name!r}: no split up to {max_branches} branches fits {memory_bytes} bytes and "
                      f"{macs} MACs per branch")


def model_parallel(graph: Graph, *, parts: int) -> Graph:
    """The model-parallel baseline (LCP Table I): every layer split over ``parts`` by output width.

    Part ``p`` of a conv, pointwise or linear node (``p<p>/x``) computes its share of the outputs from
    the whole previous activation, which a ``concat`` on that part (``p<p>/x.all``) assembles from
    every part; channel-wise nodes (pooling, activations, depthwise, add) run on their own part.
    Placed one part per device, every intermediate activation crosses the network. The classifier's
    outputs are gathered (``gather``) on part 0's side. Totals of MACs and parameters are unchanged
    when every width divides by ``parts``.

    Raises:
        BadArgument: parts < 2, several inputs, a grouped convolution, a concat/slice/reshape
            or a softmax/l2norm (over the channels: not channel-wise), or a width smaller than ``parts``.
    """
    _check(parts, 0)
    if parts < 2:
        raise BadArgument(f"parts={parts}: the model-parallel baseline needs at least 2 parts")
    if len(graph.inputs) != 1:
        raise BadArgument(f"graph {graph.name!r} has {len(graph.inputs)} inputs; expected one")
    graph = graph.expand()
    source = graph.inputs[0].name
    specs = [graph.inputs[0].spec()]
    split: set[str] = set()

    def whole(producer: str, p: int) -> str:
        """The name of the whole activation of ``producer`` on part ``p``."""
        return f"{part_name(p, producer)}.all" if producer in split else producer

    for node in graph.nodes:
        if node.op is Op.INPUT:
            continue
        if node.op in (Op.CONCAT, Op.SLICE, Op.RESHAPE, Op.TRANSPOSE, Op.DSC, Op.ODE, Op.SOFTMAX, Op.L2NORM,
                       Op.LAYERNORM):
            raise BadArgument(f"node {node.name!r} ({node.op}): the model-parallel baseline splits channel-wise "
                              "layers only")
        for p in range(parts):
            if node.op in WIDTH_ATTRS:
                inputs = tuple(whole(i, p) for i in node.inputs)
                attrs = _scaled_attrs(graph.name, node, parts, 0)
                width = int(node.attrs[WIDTH_ATTRS[node.op]])
                attrs[WIDTH_ATTRS[node.op]] = width // parts + (1 if p < width % parts else 0)
                if attrs[WIDTH_ATTRS[node.op]] < 1:
                    raise BadArgument(f"node {node.name!r}: width {width} split over {parts} parts leaves part {p} "
                                      "0 channels")
            else:
                inputs = tuple(part_name(p, i) if i in split else i for i in node.inputs)
                attrs = dict(node.attrs)
            specs.append(NodeSpec(name=part_name(p, node.name), op=node.op, inputs=inputs, attrs=attrs))
        split.add(node.name)
        if any(reader for reader in graph.consumers(node.name)
               if graph.node(reader).op in WIDTH_ATTRS):
            for p in range(parts):
                specs.append(NodeSpec(name=f"{part_name(p, node.name)}.all", op=Op.CONCAT,
                                      inputs=tuple(part_name(q, node.name) for q in range(parts))))
    outputs = [n for n in graph.outputs if n != source]
    specs.append(NodeSpec(name=GATHER, op=Op.CONCAT,
                          inputs=tuple(part_name(p, name) for name in outputs for p in range(parts))))
    return Graph.build(name=f"{graph.name}-mp{parts}", batch=graph.batch, specs=specs)
