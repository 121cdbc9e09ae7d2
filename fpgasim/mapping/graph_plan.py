"""Planning a network graph on a platform: which device and which engine runs each node, with
which tiles.

Owns :func:`plan_graph`. A node runs on the device the placement names (graph inputs and stored
constants follow their first consumer unless placed); on an FPGA device the op picks the engine — the tiled MAC
array for conv/depthwise/pointwise/linear (a fully connected node as a 1×1 convolution), the
pooling/vector unit for pooling and element-wise work, nothing for ops that only relabel — and
the MAC array's ⟨Tm,Tn,Tr,Tc⟩ comes from the analytical model under the design's fixed Tm, Tn.
A compute device (CPU/GPU) runs any op from its throughput model. Everything that ``run`` would
refuse about a placement is refused here, naming the node and the device, before any simulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument
from fpgasim.hw import load_dsp_types
from fpgasim.hw.platform import ComputeDevice, FpgaDevice, Platform
from fpgasim.kernels import TiledConvDesign, check_fit
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.mapping.parts import XferGroup
from fpgasim.mapping.device import FpgaContext, linear_as_conv, pool_tiling, resource_bounds, stream_rates
from fpgasim.mapping.latency import layer_latency
from fpgasim.mapping.search import search_tiling
from fpgasim.mapping.spec import ModelVariant, Partition, Tiling, conv_shape
from fpgasim.nn import Conv2d
from fpgasim.nn.graph import Graph, Node
from fpgasim.nn.graph_ops import Op
from fpgasim.ops.lookup import LookupTable

__all__ = ["Engine", "NodePlan", "GraphPlan", "PlacementError", "plan_graph", "FPGA_ENGINES", "TABLE_OPS", "HEAD_MATMULS",
           "conv_batch", "fpga_contexts", "run_word_bits", "node_engine", "check_placement"]


class Engine(StrEnum):
    """What executes a node."""

    #: the tiled convolution engine (Tm×Tn MAC array).
    MAC_ARRAY = "mac_array"
    #: the streaming pooling / vector unit beside it (pool_lanes operations per cycle).
    VECTOR = "vector"
    #: no work: the node only relabels its input (flatten, reshape, transpose, channel slice).
    RELABEL = "relabel"
    #: a compute device's software, timed by its throughput model (or the caller's ``duration_ps``).
    SOFTWARE = "software"
    #: the dsODENet engine of an FPGA device without a tiled-conv design (its DDR channel and host
    #: port); the caller describes the work (``work``: a ``fpgasim.sim.ode_engine.OdeWork``).
    ODE = "ode"


#: Attention's products of two computed tensors: the MAC array runs them as a grouped 1×1
#: convolution whose weights are the second operand (:class:`~fpgasim.nn.layers.HeadMatmul`), one
#: set per sample — per window of a sample for windowed attention (:func:`conv_batch`).
HEAD_MATMULS = frozenset({Op.SCORES, Op.ATTEND})


def conv_batch(node: Node, batch: int) -> int:
    """The samples the MAC array runs ``node``'s convolution (``NodePlan.conv``) for: ``batch``, or
    ``batch`` · windows for attention's products, whose conv is one window's
    (:meth:`~fpgasim.nn.layers.HeadMatmul.as_conv`) with each window's own weights."""
    return batch * node.layer.windows if node.op in HEAD_MATMULS else batch

#: Ops each engine of an FPGA device with a tiled-conv design runs (and :data:`TABLE_OPS` on the
#: vector unit when the design has their table).
FPGA_ENGINES: dict[Engine, frozenset[Op]] = {
    Engine.MAC_ARRAY: frozenset({Op.CONV, Op.DEPTHWISE, Op.POINTWISE, Op.LINEAR, *HEAD_MATMULS}),
    Engine.VECTOR: frozenset({Op.POOL, Op.GLOBAL_POOL, Op.ADD, Op.MUL, Op.AFFINE, Op.CONCAT, Op.PAD, Op.RELU,
                              Op.RELU6, Op.HARDSWISH, Op.LAYERNORM, Op.L2NORM}),
    Engine.RELABEL: frozenset({Op.INPUT, Op.CONSTANT, Op.FLATTEN, Op.RESHAPE, Op.TRANSPOSE, Op.SLICE}),
}
#: Ops the vector unit runs only from a lookup table: op → the design key that gives it
#: (:data:`~fpgasim.kernels.tiled_conv.TABLE_KINDS` says which function each key holds).
TABLE_OPS: dict[Op, str] = {Op.SIGMOID: "sigmoid_table", Op.TANH: "sigmoid_table", Op.SILU: "sigmoid_table",
                            Op.GELU: "gelu_table", Op.SOFTMAX: "softmax_table"}
_RELABEL = FPGA_ENGINES[Engine.RELABEL]


class PlacementError(BadArgument):
    """A placement the platform cannot run; ``node`` names the node (None: the placement as a
    whole) so that a YAML loader can point at the key that placed it."""

    def __init__(self, message: str, *, node: str | None = None):
        super().__init__(message)
        self.node = node


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePlan:
    """One node, placed.

    Attributes:
        node: the graph node.
        device: the id of the device that runs it.
        engine: what runs it there.
        conv: MAC array only: the layer as the array runs it (FC as a 1×1 convolution; attention's
            products: one window's grouped 1×1 convolution, run for :func:`conv_batch` samples).
        tiling: MAC array: ⟨Tm,Tn,Tr,Tc⟩; pooling on the vector unit: its output tile; else None.
        analytical_cycles: MAC array: the complete analytical model's cycles; else None.
        devices: a node partitioned over several devices: those devices, in partition order
            (empty: it runs on ``device`` alone).
        parts: each of ``devices``' output region (empty: the whole output).
        xfer: groups of positions in ``devices`` that share an operand's tiles (XFER).
        after: the nodes it waits for, without fetching their values (a layer table whose
            layers run one after another); None: it waits for its graph inputs and fetches
            each to its device.
        redistribution: (source device, destination device, bytes) that cross the links before
            it runs, because its partition differs from its producer's.
        duration_ps: software only: the time a caller's own model gives the node (None: the
            compute device's throughput model times it).
        work: the work of an engine the caller describes (``Engine.ODE``: an
            ``fpgasim.sim.ode_engine.OdeWork``; typed loosely because ``mapping`` sits below ``sim``).
        partition: a partitioned graph's plan: the ⟨Pb,Pr,Pc,Pm⟩ that cut the node's output over
            ``devices`` (None: whole, or a layout no partition describes).
        model_redistribution_cycles: a partitioned graph's plan: the link model's time for
            ``redistribution`` (None: not modelled).
    """

    node: Node
    device: str
    engine: Engine
    conv: Conv2d | None = None
    tiling: Tiling | None = None
    analytical_cycles: float | None = None
    devices: tuple[str, ...] = ()
    parts: tuple[ConvPart, ...] = ()
    xfer: tuple[XferGroup, ...] = ()
    after: tuple[str, ...] | None = None
    redistribution: tuple[tuple[str, str, int], ...] = ()
    duration_ps: int | None = None
    work: object | None = None
    partition: Partition | None = None
    model_redistribution_cycles: float | None = None

    @property
    def group(self) -> tuple[str, ...]:
        """The devices that run this node."""
        return self.devices or (self.device,)


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphPlan:
    """A graph placed on a platform, every node with its engine and tiles.

    Attributes:
        graph: the (expanded) graph.
        platform: the devices and cables.
        fpgas: the planner's view of each FPGA device, by id.
        nodes: one plan per graph node, in the graph's topological order.
        word_bits: bits per value on every device (one number format for the whole run).
        model: a partitioned graph's plan: the planner's prediction (a
            :class:`~fpgasim.mapping.graph_partition.PartitionModel`); None: nodes placed by hand.
    """

    graph: Graph
    platform: Platform
    fpgas: dict[str, FpgaContext]
    nodes: tuple[NodePlan, ...]
    word_bits: int
    model: object | None = None

    def plan_of(self, name: str) -> NodePlan:
        """The plan of node ``name``."""
        for plan in self.nodes:
            if plan.node.name == name:
                return plan
        raise BadArgument(f"no node named {name!r} in the plan")

    def lookup_tables(self) -> dict[str, LookupTable]:
        """The lookup table each sigmoid/tanh/SiLU/GELU/softmax node on an FPGA's vector unit reads, by node name."""
        return {item.node.name: self.fpgas[item.device].design.lookup_tables()[TABLE_OPS[item.node.op]]
                for item in self.nodes if item.engine is Engine.VECTOR and item.node.op in TABLE_OPS}


def _fpga_context(device: FpgaDevice, design: TiledConvDesign, enforce_fit: bool) -> FpgaContext:
    if enforce_fit:
        check_fit(device.board, design, dsp_types=load_dsp_types())
    channel = device.board.memory_channel(device.memory_channel)
    rates = stream_rates(design, channel.sustained_bytes_per_s)
    bits = design.precision.word_bits
    bounds = resource_bounds(device.board, design) if bits in (16, 32) else None
    return FpgaContext(device_id=device.id, board=device.board, design=design,
                       ddr_bytes_per_s=channel.sustained_bytes_per_s, burst_bytes=device.burst_bytes,
                       rates=rates, bounds=bounds)


def run_word_bits(platform: Platform, designs: Mapping[str, TiledConvDesign], word_bits: int | None) -> int:
    """The run's one number width: every FPGA design's, which must agree (values cross devices)."""
    widths = {design.precision.word_bits: device for device, design in designs.items()}
    if len(widths) > 1:
        listed = ", ".join(f"{device}: {bits} bit" for bits, device in sorted(widths.items()))
        raise PlacementError(f"the FPGA designs use different number widths ({listed}); a graph's values cross "
                             "devices, so every design must use the same format")
    if widths:
        return next(iter(widths))
    if word_bits is None:
        raise PlacementError("a platform without FPGA devices needs the number width (word_bits) of its values")
    return word_bits


def fpga_contexts(platform: Platform, designs: Mapping[str, TiledConvDesign],
                  enforce_fit: bool = True) -> dict[str, FpgaContext]:
    """The planner's view of every FPGA device, by id.

    Raises:
        PlacementError: an FPGA device without a kernel design.
        DoesNotFit: a design does not fit its board (unless ``enforce_fit`` is False).
    """
    missing = [device.id for device in platform.devices if isinstance(device, FpgaDevice) and device.id not in designs]
    if missing:
        raise PlacementError(f"no kernel design for FPGA device(s) {', '.join(missing)}")
    return {device.id: _fpga_context(device, designs[device.id], enforce_fit)
            for device in platform.devices if isinstance(device, FpgaDevice)}


def check_placement(graph: Graph, platform: Platform, placement: Mapping[str, str]) -> None:
    """Every node ``placement`` names is in ``graph`` and every device it names on ``platform``.

    Raises:
        PlacementError: naming the node.
    """
    ids = {device.id for device in platform.devices}
    names = {node.name for node in graph.nodes}
    for name, device in placement.items():
        if name not in names:
            raise PlacementError(f"placement names node {name!r}, which the graph does not have", node=name)
        if device not in ids:
            raise PlacementError(f"node {name!r} is placed on device {device!r}; the platform's devices are "
                                 f"{', '.join(sorted(ids))}", node=name)


def _placement(graph: Graph, platform: Platform, placement: Mapping[str, str], default: str | None) -> dict[str, str]:
    check_placement(graph, platform, placement)
    ids = {device.id for device in platform.devices}
    if default is not None and default not in ids:
        raise PlacementError(f"default device {default!r} is not a device of the platform; devices: "
                             f"{', '.join(sorted(ids))}")
    where: dict[str, str] = {}
    unplaced: list[str] = []
    for node in reversed(graph.nodes):  # consumers first, so that inputs can follow them
        consumers = [name for name in graph.consumers(node.name) if name in where]
        if node.name in placement:
            where[node.name] = placement[node.name]
        elif node.op in (Op.INPUT, Op.CONSTANT) and consumers:
            where[node.name] = where[consumers[0]]
        elif default is not None:
            where[node.name] = default
        else:
            unplaced.append(node.name)
    if unplaced:
        names = ", ".join(repr(name) for name in reversed(unplaced))
        raise PlacementError(f"{'node' if len(unplaced) == 1 else 'nodes'} {names} not placed on any device (and no "
                             "default device is given)", node=unplaced[-1])
    return where


def node_engine(node: Node, device: FpgaDevice | ComputeDevice, design: TiledConvDesign | None) -> Engine:
    """What runs ``node`` on ``device``; refuses an op the device has no engine for."""
    if node.op in _RELABEL:
        return Engine.RELABEL
    if isinstance(device, ComputeDevice):
        return Engine.SOFTWARE
    for engine, ops in FPGA_ENGINES.items():
        if node.op in ops:
            return engine
    key = TABLE_OPS.get(node.op)
    if key and key in design.lookup_tables():
        return Engine.VECTOR
    runs = "; ".join(f"{engine}: {', '.join(sorted(ops))}" for engine, ops in FPGA_ENGINES.items())
    hint = (f"; {node.op} needs a lookup table in the design (kernel.{key}) or a compute device" if key else "")
    raise PlacementError(f"node {node.name!r} ({node.op}) is placed on device {device.id!r} (design "
                         f"{design.name}), which has no engine for '{node.op}'; it runs {runs}{hint}", node=node.name)


def _mac_array_plan(node: Node, device: str, context: FpgaContext, batch: int, enforce_fit: bool) -> NodePlan:
    """The node on the MAC array: the search's best ⟨Tr,Tc⟩ under the board's resources and the design's
    Tm, Tn; for a design timed although it does not fit (``enforce_fit`` False), the design's own tile."""
    layer = node.layer
    conv = linear_as_conv(layer) if node.op is Op.LINEAR else layer.as_conv()
    design = context.design
    shape = conv_shape(conv, batch=conv_batch(node, batch))
    if not enforce_fit:
        tile = design.tile
        tiling = Tiling(tm=design.parallelism.tm, tn=design.parallelism.tn, tr=min(tile.tr, shape.out_h),
                        tc=min(tile.tc, shape.out_w))
        cycles = layer_latency(shape, tiling, rates=context.rates, variant=ModelVariant.COMPLETE).cycles
        return NodePlan(node=node, device=device, engine=Engine.MAC_ARRAY, conv=conv, tiling=tiling,
                        analytical_cycles=float(cycles))
    if context.bounds is None:
        raise PlacementError(f"node {node.name!r}: the tiling search supports 16- or 32-bit designs; "
                             f"{context.design.name} on {device} has {context.design.precision.word_bits}",
                             node=node.name)
    choice = search_tiling(shape, bounds=context.bounds, rates=context.rates,
                           variant=ModelVariant.COMPLETE, fixed_tm=design.parallelism.tm,
                           fixed_tn=design.parallelism.tn)
    return NodePlan(node=node, device=device, engine=Engine.MAC_ARRAY, conv=conv, tiling=choice.tiling,
                    analytical_cycles=float(choice.latency.cycles))


def plan_graph(graph: Graph, platform: Platform, designs: Mapping[str, TiledConvDesign],
               placement: Mapping[str, str], *, default: str | None = None,
               word_bits: int | None = None, enforce_fit: bool = True) -> GraphPlan:
    """Place every node of ``graph`` (composite blocks expanded) on ``platform`` and plan it.

    Args:
        graph: the network graph.
        platform: devices and cables.
        designs: the kernel design of every FPGA device, by device id.
        placement: node name → device id.
        default: device of every node the placement does not name (None: each must be named).
        word_bits: number width when the platform has no FPGA device.
        enforce_fit: refuse a design that does not fit its board (default). False times a
            published design as its paper describes it although the block model says it does
            not fit; the caller must report that verdict beside every number (the LCP study).

    Raises:
        PlacementError: a node placed nowhere, on an unknown device, or on a device with no
            engine for its op; FPGA designs with different number widths.
        DoesNotFit: a design does not fit its board (unless ``enforce_fit`` is False).
    """
    graph = graph.expand()
    bits = run_word_bits(platform, designs, word_bits)
    fpgas = fpga_contexts(platform, designs, enforce_fit)
    where = _placement(graph, platform, placement, default)
    plans = []
    for node in graph.nodes:
        device_id = where[node.name]
        device = platform.device(device_id)
        context = fpgas.get(device_id)
        engine = node_engine(node, device, context.design if context else None)
        if engine is Engine.MAC_ARRAY:
            plans.append(_mac_array_plan(node, device_id, context, graph.batch, enforce_fit))
        elif engine is Engine.VECTOR and node.op is Op.POOL:
            plans.append(NodePlan(node=node, device=device_id, engine=engine,
                                  tiling=pool_tiling(context.design, node.layer)))
        else:
            plans.append(NodePlan(node=node, device=device_id, engine=engine))
    return GraphPlan(graph=graph, platform=platform, fpgas=fpgas, nodes=tuple(plans), word_bits=bits)
