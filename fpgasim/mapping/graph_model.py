"""The closed-form twin of the graph executor: a predicted timeline for any planned graph.

Owns :func:`engine_ps` (how long a node keeps its engine, from its device's design or roofline) and
:func:`predict` (every node's predicted start and end, and the run's latency). The executor's rules,
in closed form:

- a node asks for its engine on every device of its group once its inputs are on its device
  (a tensor produced elsewhere is sent whole, once per destination device, as soon as it is
  produced) or, in a partitioned plan, once its inputs are done and the boxes it needs
  (``NodePlan.redistribution``) have arrived;
- requests are served first come, first served (ties in graph order); an engine runs one node at a
  time;
- a transfer is timed by :class:`~fpgasim.mapping.link_model.LinkModel` alone on its route; on a
  shared medium (Wi-Fi) it also waits for the medium, which carries the copies of one tensor
  together and tensors in turn.

Engine times are the analytical models the planners use: the MAC array's complete model
(``NodePlan.analytical_cycles``), the pool unit's (:func:`~fpgasim.mapping.layer_plan.pool_layer_latency`),
the vector unit's (:func:`~fpgasim.mapping.pool_model.vector_estimate`), a compute device's roofline
(or the caller's ``duration_ps``). What the prediction leaves out is named (:data:`GraphPrediction.unmodelled`):
nodes that run at the same time on one board share its DDR channel and ports, transfers at the
same time a link direction; a shared medium
interleaves concurrent transfers packet by packet; each DMA transfer's fixed waits (short steps:
depthwise and FC layers); edge tiles of rows and columns, which the tiled model computes at full
size; the dsODENet engine has no closed form here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fpgasim.hw.platform import ComputeDevice, Platform
from fpgasim.kernels.pool_schedule import whole_pool_part
from fpgasim.mapping.device import FpgaContext, element_bytes, stream_cap_bits_per_s
from fpgasim.mapping.graph_plan import Engine, GraphPlan, NodePlan
from fpgasim.mapping.layer_plan import pool_layer_latency
from fpgasim.mapping.link_model import LinkModel
from fpgasim.mapping.pool_model import PoolRates, vector_estimate, vector_work
from fpgasim.mapping.software import node_work
from fpgasim.nn.graph_ops import Op

__all__ = ["NodePrediction", "GraphPrediction", "engine_ps", "link_model", "predict"]

#: A LinkModel in this clock counts picoseconds.
_PS_CLOCK_MHZ = 1e6
#: An inner step of fewer MAC-array cycles than this many pipeline depths is "short": its DMA
#: transfers' fixed waits (DDR arbitration, clock edges) are no longer small beside it.
_SHORT_STEP = 20
#: A node whose edge tiles make the model charge more than this fraction of extra work is named.
_EDGE_EXCESS = 0.05


@dataclass(frozen=True, slots=True, kw_only=True)
class NodePrediction:
    """One node's predicted timeline, ps: when it asks for its engines, starts, ends."""

    name: str
    asks_ps: float
    start_ps: float
    end_ps: float
    engine_ps: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphPrediction:
    """:func:`predict`'s result.

    Attributes:
        nodes: per node, in plan order.
        total_ps: the last node's end.
        unmodelled: the effects of this run the prediction leaves out (empty: none applies).
    """

    nodes: tuple[NodePrediction, ...]
    total_ps: float
    unmodelled: tuple[str, ...]

    @property
    def time_ms(self) -> float:
        """The predicted latency in milliseconds."""
        return self.total_ps / 1e9


def link_model(platform: Platform, fpgas: Mapping[str, FpgaContext], word_bits: int,
               clock_mhz: float = _PS_CLOCK_MHZ) -> LinkModel:
    """The platform's links in cycles of ``clock_mhz`` (default: picoseconds), every FPGA's weight
    stream capping its cables."""
    caps = {device.id: (stream_cap_bits_per_s(fpgas[device.id].design.stream_width_bits.weights,
                                              fpgas[device.id].design.clock_mhz * 1e6)
                        if device.id in fpgas else None) for device in platform.devices}
    return LinkModel.from_platform(platform, clock_mhz=clock_mhz, caps_bits_per_s=caps,
                                   element_bytes=element_bytes(word_bits))


def engine_ps(item: NodePlan, *, fpgas: Mapping[str, FpgaContext], platform: Platform, batch: int,
              word_bits: int) -> float | None:
    """How long ``item`` keeps its engine on its slowest device, ps (None: no closed form)."""
    node, engine = item.node, item.engine
    if engine is Engine.RELABEL:
        return 0.0
    if engine is Engine.ODE:
        return None
    if engine is Engine.SOFTWARE:
        if item.duration_ps is not None:
            return float(item.duration_ps)
        device: ComputeDevice = platform.device(item.device)
        nbytes = element_bytes(word_bits)
        work = node_work(node, batch, nbytes)
        return 1e12 * device.spec.node_time_s(op_class=work.op_class, macs=work.macs,
                                              elementwise_ops=work.elementwise_ops,
                                              bytes_moved=work.bytes_moved, element_bits=8 * nbytes)
    context = fpgas[item.device]
    design = context.design
    per_cycle_ps = 1e6 / design.clock_mhz
    if engine is Engine.MAC_ARRAY:
        return None if item.analytical_cycles is None else item.analytical_cycles * per_cycle_ps
    rates = PoolRates.for_design(design, ddr_bytes_per_s=context.ddr_bytes_per_s, burst_bytes=context.burst_bytes)
    if node.op is Op.POOL:
        pool = node.layer
        regions = item.parts or (whole_pool_part(pool, batch),)
        return pool_layer_latency(pool, tuple(regions), item.tiling, rates, design.pooling_lanes).cycles * per_cycle_ps
    worst = 0.0
    for part in item.parts or (None,):
        if part is not None and part.is_empty:
            continue
        reads, writes, operations = vector_work(node, batch, part)
        estimate = vector_estimate(input_elems=reads, output_elems=writes, operations=operations,
                                   lanes=design.pooling_lanes,
                                   tile_elems=design.parallelism.tm * design.tile.tr * design.tile.tc, rates=rates)
        worst = max(worst, estimate.cycles)
    return worst * per_cycle_ps


def predict(plan: GraphPlan, links: LinkModel | None = None) -> GraphPrediction | None:
    """The predicted timeline of ``plan`` (see the module docstring); None when a node has no
    closed form (the dsODENet engine, a MAC-array node without its model cycles)."""
    batch, bits = plan.graph.batch, plan.word_bits
    links = links or link_model(plan.platform, plan.fpgas, bits)
    nbytes = element_bytes(bits)
    times = {}
    for item in plan.nodes:
        spent = engine_ps(item, fpgas=plan.fpgas, platform=plan.platform, batch=batch, word_bits=bits)
        if spent is None:
            return None
        times[item.node.name] = spent
    by_name = {item.node.name: item for item in plan.nodes}
    order = {name: index for index, name in enumerate(by_name)}
    end: dict[str, float] = {}
    sent: dict[tuple[str, str], float] = {}
    free: dict[tuple[str, Engine], float] = {}
    result: dict[str, NodePrediction] = {}

    media = {2 * cable.index + direction: cable.link_id for cable in plan.platform.cables
             if cable.link.shared_medium for direction in (0, 1)}
    medium_free: dict[str, float] = {}
    carried: list[tuple[float, float, tuple[int, ...]]] = []  # every transfer: (start, arrival, route)

    def send(tensor: str) -> None:
        """Every copy of ``tensor`` its readers on other devices need, sent when it is produced:
        each timed alone on its route, and the copies crossing a shared medium no earlier than
        the medium, taken in turn, has carried all of them (its busy time and theirs)."""
        source = by_name[tensor].device
        size = batch * nbytes
        for dim in by_name[tensor].node.out_shape:
            size *= dim
        destinations = sorted({by_name[reader].device for reader in plan.graph.consumers(tensor)
                               if by_name[reader].after is None and by_name[reader].device != source})
        crossing: dict[str, list[tuple[str, int]]] = {}
        for device in destinations:
            sent[(tensor, device)] = end[tensor] + float(links.flows_cycles([(source, device, size, 0.0)]))
            carried.append((end[tensor], sent[(tensor, device)], links.routes[(source, device)]))
            for link in links.routes[(source, device)]:
                if link in media:
                    crossing.setdefault(media[link], []).append((device, link))
        for medium, uses in crossing.items():
            first = uses[0][1]
            wire = sum(size / links.bytes_per_cycle[link] for _, link in uses)
            start = max(end[tensor] + links.message_cycles[first], medium_free.get(medium, 0.0))
            medium_free[medium] = start + wire
            for device, link in uses:
                sent[(tensor, device)] = max(sent[(tensor, device)], start + wire + links.latency_cycles[link])

    def arrival(tensor: str, device: str) -> float:
        return end[tensor] if by_name[tensor].device == device else sent[(tensor, device)]

    pending = dict.fromkeys(by_name)  # plan order: the same prediction in every process
    while pending:
        ready = []
        for name in pending:
            item = by_name[name]
            waits = item.node.inputs if item.after is None else item.after
            if all(source in end for source in waits):
                if item.after is None:
                    asks = max((arrival(source, item.device) for source in waits), default=0.0)
                else:
                    moved = [(src, dst, size, 0.0) for src, dst, size in item.redistribution]
                    asks = max((end[source] for source in waits), default=0.0) + float(links.flows_cycles(moved))
                ready.append((asks, order[name], name))
        asks, _, name = min(ready)
        item = by_name[name]
        start = asks
        if item.engine is not Engine.RELABEL:
            start = max([asks] + [free.get((device, item.engine), 0.0) for device in item.group])
            for device in item.group:
                free[(device, item.engine)] = start + times[name]
        end[name] = start + times[name]
        result[name] = NodePrediction(name=name, asks_ps=asks, start_ps=start, end_ps=end[name],
                                      engine_ps=times[name])
        send(name)  # as soon as it is produced, tensors in the order their nodes are scheduled
        del pending[name]
    return GraphPrediction(nodes=tuple(result[name] for name in by_name), total_ps=max(end.values(), default=0.0),
                           unmodelled=_unmodelled(plan, result, carried))


def _edge_excess(item: NodePlan) -> float:
    """How much more compute the tiled model charges a MAC-array node than its tiles hold: the
    product over the rows and columns of one board's part of ⌈L/T⌉·T ÷ L, minus 1 (0: every
    tile full, or not a tiled node). Channel tiles run in parallel lanes, so their edges shorten
    only a step's loads."""
    if item.engine is not Engine.MAC_ARRAY or item.tiling is None or item.conv is None:
        return 0.0
    conv, tiling, part = item.conv, item.tiling, item.partition
    pr, pc = (part.pr, part.pc) if part is not None else (1, 1)
    charged = 1.0
    for size, tile in ((-(-conv.out_h // pr), tiling.tr), (-(-conv.out_w // pc), tiling.tc)):
        tile = min(tile, size)
        charged *= -(-size // tile) * tile / size
    return charged - 1.0


def _first_three(names: list[str]) -> str:
    """``a, b, c and 4 more``: the first three names and how many others."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _overlap(spans: list[tuple[float, float]]) -> bool:
    """Whether any two of ``spans`` (start, end) overlap."""
    spans = sorted(spans)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


def _unmodelled(plan: GraphPlan, timeline: Mapping[str, NodePrediction],
                carried: list[tuple[float, float, tuple[int, ...]]]) -> tuple[str, ...]:
    """The named effects of this run the prediction leaves out."""
    found = []
    if any(cable.link.shared_medium for cable in plan.platform.cables):
        found.append("a shared medium interleaves concurrent transfers packet by packet (the model takes "
                     "tensors in turn, each one's copies together)")
    short = [item.node.name for item in plan.nodes if item.engine is Engine.MAC_ARRAY and item.tiling is not None
             and item.conv.kernel_h * item.conv.kernel_w * item.tiling.tr * item.tiling.tc
             < _SHORT_STEP * plan.fpgas[item.device].design.pipeline_depth_cycles]
    if short:
        found.append(f"every DMA transfer waits a few cycles for the DDR channel and the next clock edge, which "
                     f"the tiled model leaves out: short steps (K²·Tr·Tc under {_SHORT_STEP}× the pipeline depth) "
                     f"in {_first_three(short)}")
    edges = [item.node.name for item in plan.nodes if _edge_excess(item) > _EDGE_EXCESS]
    if edges:
        found.append(f"the tiled model computes every edge tile at full size (⌈R/Tr⌉·Tr rows, ⌈C/Tc⌉·Tc "
                     f"columns), over {_EDGE_EXCESS:.0%} more work than the emulated tiles in {_first_three(edges)}")
    busy: dict[str, list[tuple[float, float]]] = {}
    for item in plan.nodes:
        span = timeline[item.node.name]
        if item.engine is not Engine.RELABEL and span.end_ps > span.start_ps:
            for device in item.group:
                busy.setdefault(device, []).append((span.start_ps, span.end_ps))
    if any(_overlap(spans) for spans in busy.values()):
        found.append("nodes that run at the same time on one board share its DDR channel and ports")
    on_link: dict[int, list[tuple[float, float]]] = {}
    for start, arrival, route in carried:
        for link in route:
            on_link.setdefault(link, []).append((start, arrival))
    if any(_overlap(spans) for spans in on_link.values()):
        found.append("transfers at the same time share a link direction")
    return tuple(found)
