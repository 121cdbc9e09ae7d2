"""The graph IR: a network as a DAG of named nodes with checked shapes, MACs and parameters.

Owns :class:`NodeSpec` (an unvalidated node, as YAML, Python or an importer describe it),
:class:`Graph.build` (validate, order topologically, infer shapes: every problem is a
:class:`GraphError` naming the node, its index and the key), :class:`Node`, :class:`Graph`,
the one expansion of composite blocks (:meth:`Graph.expand`) and :meth:`Graph.from_network`.
Per-sample shapes are ``(C, H, W)``; the batch lives on the graph. Op behaviour comes from
:data:`fpgasim.nn.graph_ops.OPS` only.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.nn._checks import check_int, check_name, known_names
from fpgasim.nn.graph_ops import LAYER_OPS, OPS, REQUIRED, Op, OpDef
from fpgasim.nn.layers import Shape
from fpgasim.nn.network import Network

__all__ = ["GraphError", "Attrs", "Node", "NodeSpec", "Graph"]


class GraphError(BadArgument):
    """A graph that cannot be built; says which node (``node_index`` into the specs) and ``key``.

    Attributes:
        node_index: index of the offending spec in the list given to :meth:`Graph.build`, or None.
        key: the offending part of that spec (``name``, ``op``, ``inputs``, ``inputs[1]``,
            ``attrs``, ``attrs.kernel``), or None.
    """

    def __init__(self, message: str, *, node_index: int | None = None, key: str | None = None):
        super().__init__(message)
        self.node_index = node_index
        self.key = key


def _freeze(value: object) -> object:
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


class Attrs(Mapping[str, object]):
    """A frozen, hashable mapping of node attributes (sorted key/value pairs; lists become tuples)."""

    __slots__ = ("_items", "_dict")

    def __init__(self, values: Mapping[str, object] | None = None):
        self._items = tuple(sorted((str(k), _freeze(v)) for k, v in (values or {}).items()))
        self._dict = dict(self._items)

    def __getitem__(self, key: str) -> object:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == dict(other.items()) if isinstance(other, Mapping) else NotImplemented

    def __repr__(self) -> str:
        return f"Attrs({self._dict!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """An unvalidated node: name, op, producer names (in order) and attributes."""

    name: str
    op: str | Op
    inputs: tuple[str, ...] = ()
    attrs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A checked node of a :class:`Graph` (counts per sample).

    Attributes:
        name: unique within the graph. op: its :class:`~fpgasim.nn.graph_ops.Op`.
        inputs: producer node names, in order. attrs: every attribute, defaults filled in.
        in_shapes: the producers' output shapes. out_shape: (C, H, W) of the output.
        layer: the typed layer spec the op builds (None for ops without one).
        macs: multiply-accumulates (conv-like, linear, composites). params: weights + biases.
        elementwise_ops: work that is not a MAC (pool windows, add/mul/activation elements).
    """

    name: str
    op: Op
    inputs: tuple[str, ...]
    attrs: Attrs
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    layer: object | None
    macs: int
    params: int
    elementwise_ops: int

    @property
    def opdef(self) -> OpDef:
        """The op table entry of this node."""
        return OPS[self.op]

    def spec(self) -> NodeSpec:
        """This node as a :class:`NodeSpec` (rebuilding it gives the same node)."""
        return NodeSpec(name=self.name, op=self.op, inputs=self.inputs, attrs=self.attrs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """A named DAG of :class:`Node` in topological order (ties broken by declaration order).

    Build with :meth:`build` (validates) or :meth:`from_network`.

    Attributes:
        name: graph name. batch: samples per inference.
        nodes: in topological order. outputs: nodes no other node reads, in node order.
    """

    name: str
    batch: int
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    _by_name: dict[str, Node] = field(init=False, repr=False, compare=False)
    _consumers: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {node.name: node for node in self.nodes})
        readers: dict[str, list[str]] = {node.name: [] for node in self.nodes}
        for node in self.nodes:
            for producer in dict.fromkeys(node.inputs):
                readers[producer].append(node.name)
        object.__setattr__(self, "_consumers", {k: tuple(v) for k, v in readers.items()})

    @classmethod
    def build(cls, *, name: str, batch: int, specs: Sequence[NodeSpec]) -> Graph:
        """Validate ``specs``, order them topologically and infer every shape and count.

        Raises:
            GraphError: a duplicate name, an unknown op, the wrong number of inputs, an unknown or
                missing attribute, a dangling input, a cycle, or shapes/attributes the op refuses
                (each message names the node; ``node_index`` and ``key`` point into ``specs``).
            BadArgument: a bad graph name or batch.
        """
        check_name("Graph", name)
        check_int(f"Graph {name!r}", "batch", batch, minimum=1)
        specs = tuple(specs)
        if not specs:
            raise GraphError(f"graph {name!r}: no nodes; expected at least one input node")
        checked = [_check_spec(i, spec) for i, spec in enumerate(specs)]
        index: dict[str, int] = {}
        for i, (node_name, _, _, _) in enumerate(checked):
            if node_name in index:
                raise GraphError(f"graph {name!r}: duplicate node name {node_name!r} (nodes {index[node_name]} "
                                 f"and {i})", node_index=i, key="name")
            index[node_name] = i
        for i, (node_name, _, inputs, _) in enumerate(checked):
            for j, producer in enumerate(inputs):
                if producer not in index:
                    raise GraphError(f"node {node_name!r} inputs[{j}]: no node named {producer!r}",
                                     node_index=i, key=f"inputs[{j}]")
        nodes: dict[str, Node] = {}
        for i in _topological(name, checked, index):
            node_name, op, inputs, attrs = checked[i]
            nodes[node_name] = _infer(i, node_name, op, tuple((p, nodes[p].out_shape) for p in inputs), attrs)
        ordered = tuple(nodes.values())
        read = {p for node in ordered for p in node.inputs}
        return cls(name=name, batch=batch, nodes=ordered, outputs=tuple(n.name for n in ordered if n.name not in read))

    def node(self, name: str) -> Node:
        """The node called ``name``.

        Raises:
            BadArgument: no such node (lists the names, the closest first).
        """
        if name not in self._by_name:
            raise BadArgument(f"graph {self.name!r}: no node named {name!r}; {known_names(name, self._by_name)}")
        return self._by_name[name]

    def consumers(self, name: str) -> tuple[str, ...]:
        """Nodes that read ``name``'s output, in node order (each once)."""
        self.node(name)
        return self._consumers[name]

    @property
    def inputs(self) -> tuple[Node, ...]:
        """The graph's input nodes, in node order."""
        return tuple(node for node in self.nodes if node.op is Op.INPUT)

    @property
    def macs(self) -> int:
        """MACs per sample, summed over nodes."""
        return sum(node.macs for node in self.nodes)

    @property
    def macs_total(self) -> int:
        """MACs for the whole batch."""
        return self.batch * self.macs

    @property
    def params(self) -> int:
        """Parameters (weights + biases), summed over nodes."""
        return sum(node.params for node in self.nodes)

    @property
    def elementwise_ops(self) -> int:
        """Element-wise operations per sample, summed over nodes."""
        return sum(node.elementwise_ops for node in self.nodes)

    def expand(self) -> Graph:
        """The graph an engine runs: every DSC node becomes ``<block>.depthwise`` → ``<block>.pointwise``
        (readers of the block read the pointwise node); ODE nodes stay whole (the dsODENet engine
        runs a block as one unit). MACs and parameters are preserved.
        """
        specs: list[NodeSpec] = []
        renamed: dict[str, str] = {}
        for node in self.nodes:
            inputs = tuple(renamed.get(p, p) for p in node.inputs)
            if node.op is not Op.DSC:
                specs.append(NodeSpec(name=node.name, op=node.op, inputs=inputs, attrs=node.attrs))
                continue
            dw, pw = f"{node.name}.depthwise", f"{node.name}.pointwise"
            specs.append(NodeSpec(name=dw, op=Op.DEPTHWISE, inputs=inputs,
                                  attrs={k: v for k, v in node.attrs.items() if k != "out_channels"}))
            specs.append(NodeSpec(name=pw, op=Op.POINTWISE, inputs=(dw,),
                                  attrs={"out_channels": node.attrs["out_channels"], "bias": node.attrs["bias"]}))
            renamed[node.name] = pw
        return Graph.build(name=self.name, batch=self.batch, specs=specs)

    @classmethod
    def from_network(cls, network: Network) -> Graph:
        """The graph of a :class:`~fpgasim.nn.Network`.

        A chained network becomes an input node ``input`` then one node per layer (named as the
        layer), each reading the previous; a layer table (``chained=False``) gives each layer its
        own input node ``<layer>.input`` of the layer's declared input shape.

        Raises:
            BadArgument: ``network`` is not a Network.
        """
        if not isinstance(network, Network):
            raise BadArgument(f"network={network!r}: expected an fpgasim.nn.Network")
        specs: list[NodeSpec] = []
        previous = "input"
        if network.chained:
            specs.append(NodeSpec(name=previous, op=Op.INPUT, attrs={"shape": network.input_shape}))
        for layer in network.layers:
            op = LAYER_OPS[type(layer)]
            if not network.chained:
                previous = f"{layer.name}.input"
                specs.append(NodeSpec(name=previous, op=Op.INPUT, attrs={"shape": tuple(layer.in_shape)}))
            specs.append(NodeSpec(name=layer.name, op=op, inputs=(previous,), attrs=OPS[op].from_layer(layer)))
            previous = layer.name
        return cls.build(name=network.name, batch=network.batch, specs=specs)


def _check_spec(i: int, spec: object) -> tuple[str, Op, tuple[str, ...], Attrs]:
    """Name, op, inputs and attrs (defaults filled in) of one spec, before any graph-level check."""
    if not isinstance(spec, NodeSpec):
        raise GraphError(f"specs[{i}]={spec!r}: expected a NodeSpec", node_index=i)
    name = spec.name
    if not isinstance(name, str) or not name:
        raise GraphError(f"specs[{i}]: name={name!r}: expected a non-empty string", node_index=i, key="name")
    try:
        op = Op(spec.op)
    except ValueError:
        raise GraphError(f"node {name!r}: op={spec.op!r} is not known; {known_names(str(spec.op), Op)}",
                         node_index=i, key="op") from None
    opdef = OPS[op]
    inputs = tuple(spec.inputs) if isinstance(spec.inputs, (list, tuple)) else (spec.inputs,)
    if not all(isinstance(p, str) for p in inputs):
        raise GraphError(f"node {name!r}: inputs={spec.inputs!r}: expected node names", node_index=i, key="inputs")
    low, high = opdef.min_inputs, opdef.max_inputs
    if not low <= len(inputs) <= (len(inputs) if high is None else high):
        wanted = f"at least {low}" if high is None else f"{low}" if low == high else f"{low} to {high}"
        raise GraphError(f"node {name!r} ({op}): {len(inputs)} inputs, expected {wanted}",
                         node_index=i, key="inputs")
    if not isinstance(spec.attrs, Mapping):
        raise GraphError(f"node {name!r}: attrs={spec.attrs!r}: expected a mapping", node_index=i, key="attrs")
    attrs = dict(opdef.attrs)
    for key, value in spec.attrs.items():
        if key not in opdef.attrs:
            allowed = known_names(str(key), opdef.attrs) if opdef.attrs else "it takes no attributes"
            raise GraphError(f"node {name!r} ({op}): unknown attribute {key!r}; {allowed}",
                             node_index=i, key=f"attrs.{key}")
        attrs[key] = value
    for key, value in attrs.items():
        if value is REQUIRED:
            raise GraphError(f"node {name!r} ({op}): missing attribute {key!r}; found: "
                             f"{', '.join(sorted(spec.attrs)) or 'nothing'}", node_index=i, key=f"attrs.{key}")
    return name, op, inputs, Attrs(attrs)


def _topological(graph: str, checked: list, index: dict[str, int]) -> list[int]:
    """Spec indices in topological order, the lowest ready index first; GraphError naming a cycle."""
    pending = [len(inputs) for _, _, inputs, _ in checked]
    readers: list[list[int]] = [[] for _ in checked]
    for i, (_, _, inputs, _) in enumerate(checked):
        for producer in inputs:
            readers[index[producer]].append(i)
    ready = [i for i, count in enumerate(pending) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for reader in readers[i]:
            pending[reader] -= 1
            if pending[reader] == 0:
                heapq.heappush(ready, reader)
    if len(order) < len(checked):
        cycle = _cycle(checked, index, set(range(len(checked))) - set(order))
        names = " -> ".join(checked[i][0] for i in (*cycle, cycle[0]))
        raise GraphError(f"graph {graph!r}: cycle {names}", node_index=cycle[0], key="inputs")
    return order


def _cycle(checked: list, index: dict[str, int], stuck: set[int]) -> list[int]:
    """One cycle among ``stuck`` (every stuck node reads a stuck node), producer → consumer order,
    starting at its lowest index."""
    path: list[int] = []
    current = min(stuck)
    while current not in path:
        path.append(current)
        current = next(index[p] for p in checked[current][2] if index[p] in stuck)
    loop = path[path.index(current):][::-1]
    start = loop.index(min(loop))
    return loop[start:] + loop[:start]


def _infer(i: int, name: str, op: Op, inputs: tuple[tuple[str, Shape], ...], attrs: Attrs) -> Node:
    """The checked node; an error of the op's shape inference or layer spec is re-raised naming it."""
    opdef = OPS[op]
    try:
        layer, out_shape = opdef.infer(name, inputs, attrs)
    except (BadArgument, ShapeError) as exc:
        text = str(exc)
        message = text if text.startswith(f"node {name!r}") else f"node {name!r} ({op}): {text}"
        key = next((f"attrs.{k}" for k in attrs if re.search(rf"\b{k}(\[\d+\])?=", text)), "inputs")
        raise GraphError(message, node_index=i, key=key) from None
    in_shapes = tuple(shape for _, shape in inputs)
    return Node(name=name, op=op, inputs=tuple(p for p, _ in inputs), attrs=attrs, in_shapes=in_shapes,
                out_shape=tuple(out_shape), layer=layer, macs=opdef.macs(layer), params=opdef.params(layer),
                elementwise_ops=opdef.elementwise(in_shapes, tuple(out_shape), layer))
