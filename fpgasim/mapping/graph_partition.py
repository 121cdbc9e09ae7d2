"""Partitioning a network graph over a group of identical FPGA boards, with the links priced.

Owns :func:`plan_partitioned_graph`: every node of the graph gets a share of each board of the
group — chosen jointly with the data its consumers then have to move — and the plan carries the
model's prediction beside it (:class:`PartitionModel`), to be compared with the emulator's.

Where a tensor lives is a :class:`Layout`: the devices that hold it and the (disjoint) box each
holds. Per node:

- a MAC-array node (conv, depthwise, pointwise, FC as 1×1 conv) runs either partitioned
  ⟨Pb,Pr,Pc,Pm⟩ over the whole group, with XFER priced on the real routes
  (:func:`~fpgasim.mapping.layer_plan.layer_choices`), or whole on the group's first board — a
  choice; each board then needs the input box of its part, halo included
  (:func:`~fpgasim.mapping.redistribute.needed_input`);
- a pooling node follows its input's partition (each board pools its part, fetching the halo),
  an element-wise node (add, mul, affine, activations) its first full-size input's layout, a
  concat its inputs' when they hold the same rows and columns, a global pooling its input's when
  every board holds whole maps, a flatten its input's when every board holds whole maps;
  otherwise the node is gathered onto the group's first board;
- a node the placement pins (``nodes``) runs whole on that device (a compute device's software
  for ops no FPGA engine has).

Before a node runs, every box a board needs and does not hold crosses the links from the boards
that hold it (``NodePlan.redistribution``, priced by :meth:`LinkModel.flows_cycles`). A node's
model time is that redistribution plus its engine time (the MAC array's complete model, the pool
unit's :func:`~fpgasim.mapping.pool_model.pool_estimate`, the vector unit's
:func:`~fpgasim.mapping.pool_model.vector_estimate`, a compute device's roofline), on the slowest
board (:func:`~fpgasim.mapping.graph_model.engine_ps`). The search minimises their sum in
topological order; :func:`~fpgasim.mapping.graph_model.predict` times the chosen plan as the
executor runs it, independent branches overlapping on free engines.

The choice is dynamic programming over the topological order whose state is the layout of every
live tensor (produced and still to be read): exact — equal to trying every combination — while
the number of distinct states stays within ``beam`` (chains and residual blocks keep one or two
live tensors); beyond it the cheapest ``beam`` states are kept and the plan says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from fpgasim.errors import BadArgument, DoesNotFit
from fpgasim.hw.platform import ComputeDevice, FpgaDevice, Platform
from fpgasim.kernels import TiledConvDesign
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.kernels.pool_schedule import whole_pool_part
from fpgasim.mapping.device import (
    FpgaContext, element_bytes, linear_as_conv, pool_tiling, stream_rates,
)
from fpgasim.mapping.graph_model import engine_ps, link_model
from fpgasim.mapping.graph_plan import (
    HEAD_MATMULS, Engine, GraphPlan, NodePlan, PlacementError, check_placement, conv_batch, fpga_contexts, node_engine,
    run_word_bits,
)
from fpgasim.mapping.layer_plan import layer_choices
from fpgasim.mapping.parts import board_parts, split_part, xfer_groups
from fpgasim.mapping.redistribute import Region, held_output, needed_input, through_pools
from fpgasim.mapping.search import partition_candidates, search_tiling
from fpgasim.mapping.spec import ModelVariant, Partition, conv_shape
from fpgasim.nn.graph import Graph, Node
from fpgasim.nn.graph_ops import Op

__all__ = ["Layout", "PartitionModel", "plan_partitioned_graph", "DEFAULT_BEAM"]

#: States kept per step of the dynamic programme (distinct live layouts); beyond it, the cheapest.
DEFAULT_BEAM = 256

_MAC_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.POINTWISE, Op.LINEAR})
_ELEMENTWISE = frozenset({Op.ADD, Op.MUL, Op.AFFINE, Op.RELU, Op.RELU6, Op.HARDSWISH, Op.GELU, Op.SIGMOID, Op.TANH,
                          Op.SILU})


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a tensor lives: ``regions[i]`` (a box of its output, batch included) on
    ``devices[i]``, disjoint; ``split`` the partition that cut it (None: not cut by one)."""

    devices: tuple[str, ...]
    regions: tuple[Region, ...]
    split: Partition | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionModel:
    """The planner's prediction for a partitioned graph (engine cycles of the group's clock).

    Attributes:
        group: the boards the graph is partitioned over.
        clock_mhz: the clock the cycles count.
        serial_cycles: what the search minimised: every node's redistribution and engine time, summed
            (the plan's predicted timeline, branches overlapping: :func:`~fpgasim.mapping.graph_model.predict`).
        states: the most distinct live-layout states any step of the search held.
        beam: the most it keeps; ``exact`` is False when a step had more (then pruned).
    """

    group: tuple[str, ...]
    clock_mhz: float
    serial_cycles: float
    states: int
    beam: int

    @property
    def exact(self) -> bool:
        """True when no step of the search pruned a state (the plan is the model's optimum)."""
        return self.states <= self.beam



@dataclass(frozen=True, slots=True)
class _Option:
    """One way to run a node: its plan (no redistribution yet), its output's layout, the box of
    each input every device needs (per input: (device, box) pairs), and its engine cycles."""

    plan: NodePlan
    layout: Layout
    needs: tuple[tuple[tuple[str, Region], ...], ...]
    cycles: float


def _whole(shape: tuple[int, ...], batch: int) -> Region:
    c, h, w = shape
    return Region((0, batch), (0, c), (0, h), (0, w))


def _part(region: Region) -> ConvPart:
    return ConvPart(batch=region.batch, out_ch=region.channels, out_rows=region.rows, out_cols=region.cols)


class _Planner:
    """The options of each node and their costs, for one graph on one group (memoised)."""

    def __init__(self, graph: Graph, platform: Platform, group: tuple[str, ...], contexts: Mapping[str, FpgaContext],
                 pinned: Mapping[str, str], word_bits: int):
        self.graph, self.platform, self.group, self.pinned = graph, platform, group, pinned
        self.contexts, self.word_bits = contexts, word_bits
        self.context = contexts[group[0]]
        self.design: TiledConvDesign = self.context.design
        self.batch = graph.batch
        self.nbytes = element_bytes(word_bits)
        self.links = link_model(platform, contexts, word_bits, clock_mhz=self.design.clock_mhz)
        # the stream rates with a link: the tiled model prices XFER only when the rates carry one
        # (its time then comes from the link model; a cable between two boards of the group names it)
        cable = next((cable for cable in platform.cables if cable.a in group and cable.b in group), None)
        self.rates = stream_rates(self.design, self.context.ddr_bytes_per_s, None if cable is None else cable.link)
        self._mac: dict[str, list[_Option]] = {}
        self._derived: dict[tuple, _Option] = {}
        self._moves: dict[tuple, tuple[float, tuple[tuple[str, str, int], ...]]] = {}
        self._flows: dict[tuple[tuple[str, str, int], ...], float] = {}
        self._layouts: dict[Layout, Layout] = {}

    # -- options ------------------------------------------------------------------------------

    def options(self, node: Node, inputs: tuple[Layout, ...]) -> list[_Option]:
        """Every way to run ``node`` given its inputs' layouts (one unless it is a MAC-array node
        the placement leaves free)."""
        if node.op in _MAC_OPS and node.name not in self.pinned:
            if node.name not in self._mac:
                self._mac[node.name] = self._mac_options(node)
            return self._mac[node.name]
        key = (node.name, *map(id, inputs))  # layouts are the memoised options' own objects
        if key not in self._derived:
            option = self._derived_option(node, inputs)
            # one object per distinct layout, so that the memos above can key on identity
            self._derived[key] = replace(option, layout=self._layouts.setdefault(option.layout, option.layout))
        return [self._derived[key]]

    def _mac_options(self, node: Node, devices: Sequence[str] | None = None) -> list[_Option]:
        """Partitioned over the group (every fitting partition, XFER on the real routes), then whole
        on the group's first board — or, for a pinned node, whole on ``devices`` only. (Whole on
        another board of the group would only move where the data sits: one inference runs its
        nodes one after another.)"""
        conv = linear_as_conv(node.layer) if node.op is Op.LINEAR else node.layer.as_conv()
        shape = conv_shape(conv, batch=conv_batch(node, self.batch))
        context = self.context
        if context.bounds is None:
            raise PlacementError(f"node {node.name!r}: the tiling search supports 16- or 32-bit designs; "
                                 f"{self.design.name} has {self.design.precision.word_bits}", node=node.name)
        found = []
        choices = []
        if devices is None and len(self.group) > 1 and partition_candidates(shape, len(self.group)):
            try:
                choices = layer_choices(shape, self.design, context.bounds, self.rates, len(self.group),
                                        search_all_tiles=False, partition=None, links=self.links, devices=self.group)
            except DoesNotFit:
                pass  # no partition's tiles fit the board: the node runs whole
            for choice in choices:
                parts = board_parts(conv, self.batch, choice.partition)
                plan = NodePlan(node=node, device=self.group[0], engine=Engine.MAC_ARRAY, conv=conv,
                                tiling=choice.tiling, analytical_cycles=float(choice.latency.cycles),
                                devices=self.group, parts=tuple(parts), xfer=tuple(xfer_groups(choice.partition)),
                                partition=choice.partition)
                layout = Layout(self.group, tuple(held_output(part) for part in parts), choice.partition)
                needs = tuple((device, needed_input(conv, part)) for device, part in zip(self.group, parts, strict=True)
                              if not part.is_empty)
                found.append(_Option(plan, layout, (needs,), float(choice.latency.cycles)))
        alone = search_tiling(shape, bounds=context.bounds, rates=context.rates, variant=ModelVariant.COMPLETE,
                              fixed_tm=self.design.parallelism.tm, fixed_tn=self.design.parallelism.tn)
        whole = ConvPart.whole(conv, batch=shape.batch)
        for device in (self.group[:1] if devices is None else devices):
            plan = NodePlan(node=node, device=device, engine=Engine.MAC_ARRAY, conv=conv, tiling=alone.tiling,
                            analytical_cycles=float(alone.latency.cycles))
            found.append(_Option(plan, Layout((device,), (held_output(whole),)),
                                 (((device, needed_input(conv, whole)),),), float(alone.latency.cycles)))
        return found

    def _derived_option(self, node: Node, inputs: tuple[Layout, ...]) -> _Option:
        """The one way a node that is not a free MAC-array node runs, given its inputs' layouts."""
        if node.name in self.pinned:
            return self._single(node, self.pinned[node.name])
        if node.op in (Op.INPUT, Op.CONSTANT):
            return self._single(node, self.group[0])
        follow = self._follow(node, inputs)
        if follow is not None:
            return follow
        single = {device for layout in inputs for device in layout.devices}
        return self._single(node, single.pop() if len(single) == 1 and single <= set(self.group) else self.group[0])

    def _single(self, node: Node, device_id: str) -> _Option:
        """``node`` whole on one device, every input gathered there."""
        if node.op in _MAC_OPS:
            return self._mac_options(node, devices=(device_id,))[0]
        if node.op in HEAD_MATMULS:  # both operands whole: the second is the MAC array's weights
            option = self._mac_options(node, devices=(device_id,))[0]  # (its conv: one window's)
            return replace(option, layout=Layout((device_id,), (_whole(node.out_shape, self.batch),)),
                           needs=tuple(((device_id, _whole(shape, self.batch)),) for shape in node.in_shapes))
        device = self.platform.device(device_id)
        engine = node_engine(node, device, self.design if device_id in self.group else None)
        region = _whole(node.out_shape, self.batch)
        needs = tuple(((device_id, _whole(shape, self.batch)),) for shape in node.in_shapes)
        tiling = None
        if engine is Engine.VECTOR and node.op is Op.POOL:
            tiling = pool_tiling(self.design, node.layer)
        plan = NodePlan(node=node, device=device_id, engine=engine, tiling=tiling)
        cycles = self._cycles(plan)
        if engine is not Engine.RELABEL:
            plan = replace(plan, analytical_cycles=cycles)
        return _Option(plan, Layout((device_id,), (region,)), needs, cycles)

    def _follow(self, node: Node, inputs: tuple[Layout, ...]) -> _Option | None:
        """The node run where its input already is, split the same way; None when it must gather."""
        if not inputs or any(device not in self.group for layout in inputs for device in layout.devices):
            return None
        if node.op is Op.POOL:
            return self._follow_pool(node, inputs[0])
        if node.op in _ELEMENTWISE:
            return self._follow_elementwise(node, inputs)
        if node.op in (Op.LAYERNORM, Op.L2NORM, Op.SOFTMAX):  # per pixel over the channels: a split keeping them whole
            channels = (0, node.in_shapes[0][0])
            return (self._follow_elementwise(node, inputs)
                    if all(region.channels == channels for region in inputs[0].regions) else None)
        if node.op is Op.CONCAT and node.attrs["axis"] == 0:
            return self._follow_concat(node, inputs)
        if node.op in (Op.GLOBAL_POOL, Op.FLATTEN):
            return self._follow_maps(node, inputs[0])
        return None

    def _follow_pool(self, node: Node, source: Layout) -> _Option | None:
        pool = node.layer
        whole = whole_pool_part(pool, self.batch)
        if source.split is not None and source.devices == self.group:
            parts = split_part(whole, source.split)
        elif len(source.devices) == 1:
            parts = [whole]
        else:
            return None
        devices = source.devices
        needs = tuple((device, through_pools(held_output(part), [pool]))
                      for device, part in zip(devices, parts, strict=True) if not part.is_empty)
        split = len(devices) > 1
        plan = NodePlan(node=node, device=devices[0], engine=Engine.VECTOR, tiling=pool_tiling(self.design, pool),
                        devices=devices if split else (), parts=tuple(parts) if split else (),
                        partition=source.split if split else None)
        cycles = self._cycles(plan)
        return _Option(replace(plan, analytical_cycles=cycles),
                       Layout(devices, tuple(held_output(part) for part in parts), source.split), (needs,), cycles)

    def _follow_elementwise(self, node: Node, inputs: tuple[Layout, ...]) -> _Option:
        full = next(index for index, shape in enumerate(node.in_shapes) if tuple(shape) == tuple(node.out_shape))
        source = inputs[full]
        needs = []
        for shape in node.in_shapes:
            limits = (self.batch, *shape)
            needs.append(tuple((device, Region(*((0, 1) if limit == 1 else span
                                                 for span, limit in zip((r.batch, r.channels, r.rows, r.cols),
                                                                        limits, strict=True))))
                               for device, r in zip(source.devices, source.regions, strict=True) if r.elems))
        return self._vector_option(node, source, tuple(needs))

    def _follow_concat(self, node: Node, inputs: tuple[Layout, ...]) -> _Option | None:
        first = inputs[0]
        for layout, shape in zip(inputs, node.in_shapes, strict=True):
            if layout.devices != first.devices:
                return None
            for region, base in zip(layout.regions, first.regions, strict=True):
                if region.channels != (0, shape[0]) or (region.batch, region.rows, region.cols) != \
                        (base.batch, base.rows, base.cols):
                    return None
        channels = (0, node.out_shape[0])
        split = first.split if all(layout.split == first.split for layout in inputs) else None
        layout = Layout(first.devices, tuple(Region(r.batch, channels, r.rows, r.cols) for r in first.regions), split)
        needs = tuple(tuple((device, region) for device, region in zip(each.devices, each.regions, strict=True))
                      for each in inputs)
        return self._vector_option(node, layout, needs)

    def _follow_maps(self, node: Node, source: Layout) -> _Option | None:
        """Global pooling or flatten where every board holds whole maps (a channel or batch split)."""
        _, h, w = node.in_shapes[0]
        if any(region.rows != (0, h) or region.cols != (0, w) for region in source.regions):
            return None
        if node.op is Op.FLATTEN:
            regions = tuple(Region(r.batch, (r.channels[0] * h * w, r.channels[1] * h * w), (0, 1), (0, 1))
                            for r in source.regions)
            layout = Layout(source.devices, regions, None)
            plan = NodePlan(node=node, device=source.devices[0], engine=Engine.RELABEL)
            return _Option(plan, layout, (tuple(zip(source.devices, source.regions, strict=True)),), 0.0)
        regions = tuple(Region(r.batch, r.channels, (0, 1), (0, 1)) for r in source.regions)
        return self._vector_option(node, Layout(source.devices, regions, source.split),
                                   (tuple(zip(source.devices, source.regions, strict=True)),))

    def _vector_option(self, node: Node, layout: Layout, needs: tuple) -> _Option:
        """``node`` on the vector units of ``layout``'s devices, each streaming its box (refused, as
        :func:`~fpgasim.mapping.graph_plan.node_engine` refuses, when the design has no engine for it)."""
        node_engine(node, self.platform.device(layout.devices[0]), self.design)
        parts = tuple(_part(region) for region in layout.regions)
        split = len(layout.devices) > 1
        plan = NodePlan(node=node, device=layout.devices[0], engine=Engine.VECTOR,
                        devices=layout.devices if split else (), parts=parts if split else (),
                        partition=layout.split if split else None)
        cycles = self._cycles(plan)
        return _Option(replace(plan, analytical_cycles=cycles), layout, needs, cycles)

    # -- costs --------------------------------------------------------------------------------

    def _cycles(self, plan: NodePlan) -> float:
        """The node's engine time (:func:`~fpgasim.mapping.graph_model.engine_ps`) in group cycles."""
        spent = engine_ps(plan, fpgas=self.contexts, platform=self.platform, batch=self.batch, word_bits=self.word_bits)
        return spent * self.design.clock_mhz / 1e6

    def moves(self, option: _Option, inputs: tuple[Layout, ...]) -> tuple[float, tuple[tuple[str, str, int], ...]]:
        """(model cycles, (source, destination, bytes) flows) to bring every needed box to its board."""
        key = (id(option), *map(id, inputs))
        if key not in self._moves:
            flows: dict[tuple[str, str], int] = {}
            for layout, needs in zip(inputs, option.needs, strict=True):
                for destination, need in needs:
                    for source, held in zip(layout.devices, layout.regions, strict=True):
                        if source != destination:
                            elems = need.intersect(held).elems
                            if elems:
                                flows[(source, destination)] = flows.get((source, destination), 0) + elems
            moved = tuple((src, dst, elems * self.nbytes) for (src, dst), elems in sorted(flows.items()))
            if moved not in self._flows:
                self._flows[moved] = float(self.links.flows_cycles([(src, dst, size, 0.0) for src, dst, size in moved]))
            self._moves[key] = (self._flows[moved], moved)
        return self._moves[key]


@dataclass(frozen=True, slots=True)
class _State:
    cost: float
    live: tuple[tuple[str, Layout], ...]
    path: tuple | None  # (previous path, node name, option, moves) — a linked list of decisions


def _last_reads(graph: Graph) -> dict[str, int]:
    """The position of the last node that reads each tensor (its own position if none does)."""
    order = {node.name: index for index, node in enumerate(graph.nodes)}
    last = {node.name: order[node.name] for node in graph.nodes}
    for node in graph.nodes:
        for name in node.inputs:
            last[name] = max(last[name], order[node.name])
    return last


def _search(planner: _Planner, graph: Graph, beam: int) -> tuple[_State, int]:
    """The dynamic programme over the topological order; returns the best final state and the
    most states a step held (before pruning to ``beam``)."""
    last = _last_reads(graph)
    states = [_State(0.0, (), None)]
    most = 1
    for position, node in enumerate(graph.nodes):
        merged: dict[tuple, _State] = {}
        for state in states:
            live = dict(state.live)
            inputs = tuple(live[name] for name in node.inputs)
            for option in planner.options(node, inputs):
                cycles, moved = planner.moves(option, inputs)
                after = {name: layout for name, layout in live.items() if last[name] > position}
                if last[node.name] > position:
                    after[node.name] = option.layout
                live_after = tuple(sorted(after.items(), key=lambda item: item[0]))
                key = tuple((name, id(layout)) for name, layout in live_after)
                cost = state.cost + cycles + option.cycles
                if key not in merged or cost < merged[key].cost:
                    merged[key] = _State(cost, live_after, (state.path, node.name, option, (cycles, moved)))
        most = max(most, len(merged))
        states = sorted(merged.values(), key=lambda state: state.cost)[:beam]
    return states[0], most


def plan_partitioned_graph(graph: Graph, platform: Platform, designs: Mapping[str, TiledConvDesign],
                           group: Sequence[str], *, pinned: Mapping[str, str] | None = None,
                           beam: int = DEFAULT_BEAM) -> GraphPlan:
    """Partition every node of ``graph`` (composite blocks expanded) over the boards ``group``.

    Args:
        graph: the network graph.
        platform: devices and cables.
        designs: the kernel design of every FPGA device, by id.
        group: the FPGA devices to partition over: one board model and one design.
        pinned: node name → device that runs it whole (e.g. a softmax on a compute device).
        beam: states the search keeps per step (see the module docstring).

    Raises:
        PlacementError: a group that is empty, repeats a device, names a device the platform
            lacks or a compute device, or mixes boards or designs; a pinned node on an unknown
            device or one without an engine for it.
        DoesNotFit: a design does not fit its board.
    """
    graph = graph.expand()
    group = tuple(group)
    pinned = dict(pinned or {})
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise BadArgument(f"beam={beam!r}: expected an integer >= 1")
    _check_group(platform, designs, group)
    check_placement(graph, platform, pinned)
    for name, device in pinned.items():
        if device not in group and not isinstance(platform.device(device), ComputeDevice):
            raise PlacementError(f"node {name!r} is placed on FPGA device {device!r}, outside the partition group "
                                 f"({', '.join(group)}); pin nodes to a board of the group or to a compute device",
                                 node=name)
    bits = run_word_bits(platform, designs, None)
    contexts = fpga_contexts(platform, designs)
    planner = _Planner(graph, platform, group, contexts, pinned, bits)
    best, most = _search(planner, graph, beam)
    decisions, path = [], best.path
    while path is not None:
        path, name, option, (cycles, moved) = path
        decisions.append(replace(option.plan, redistribution=moved, after=tuple(graph.node(name).inputs),
                                 model_redistribution_cycles=cycles))
    decisions.reverse()
    model = PartitionModel(group=group, clock_mhz=planner.design.clock_mhz, serial_cycles=best.cost, states=most,
                           beam=beam)
    return GraphPlan(graph=graph, platform=platform, fpgas=contexts, nodes=tuple(decisions), word_bits=bits,
                     model=model)


def _check_group(platform: Platform, designs: Mapping[str, TiledConvDesign], group: tuple[str, ...]) -> None:
    if not group:
        raise PlacementError("partition: expected at least one FPGA device")
    if len(set(group)) != len(group):
        raise PlacementError(f"partition: devices {', '.join(group)} repeat a device")
    ids = {device.id for device in platform.devices}
    for device_id in group:
        if device_id not in ids:
            raise PlacementError(f"partition: device {device_id!r} is not on the platform; devices: "
                                 f"{', '.join(sorted(ids))}")
        if not isinstance(platform.device(device_id), FpgaDevice) or device_id not in designs:
            raise PlacementError(f"partition: device {device_id!r} is not an FPGA device with a tiled-conv design")
    first = platform.device(group[0])
    for device_id in group[1:]:
        device = platform.device(device_id)
        if device.board.id != first.board.id or designs[device_id] != designs[group[0]]:
            raise PlacementError(f"partition: device {device_id!r} ({device.board.id}, {designs[device_id].name}) "
                                 f"differs from {group[0]!r} ({first.board.id}, {designs[group[0]].name}); a "
                                 "partitioned node needs one board model and one design on every board")
