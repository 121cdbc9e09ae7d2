"""The graph executor: any placed network graph on any platform of devices, in one environment.

Owns :func:`execute`. From a :class:`~fpgasim.mapping.graph_plan.GraphPlan` it builds one SimPy
environment — every FPGA device's DDR channel and stream ports (its own board and design
numbers), every compute device's cores, every cable with its own link type — and one process per
node. A node starts when all its inputs are on its device and its engine is free; it runs on the
MAC array (the tiled conv engine, tile by tile), the vector unit, the compute device's
software model (or, for a node with ``duration_ps``, the time a caller's own model gave it), or
the dsODENet engine (``Engine.ODE``: an FPGA device without a tiled-conv design, whose DDR
channel and host port the node's :class:`~fpgasim.sim.ode_engine.OdeWork` names; the work runs
through :func:`~fpgasim.sim.ode_engine.ode_node` and its phases are reported); relabelling nodes
(flatten, reshape, transpose, channel slice) take no time.
When a producer and a consumer sit on different devices, the tensor crosses the platform's links
along the shortest route (cut-through per hop), once per destination device, as soon as it is
produced.

Tensors stay in a device's memory until the last node (or outgoing transfer) that reads them
there has finished; each device's peak footprint is reported. A relabelling node aliases its
input's buffer when both sit on the same device.

Functional mode computes real values: MAC-array nodes accumulate exact tile partial sums
through the engine's buffers; every other node applies the same single-node step as the
reference (:func:`fpgasim.nn.evaluate.compute_node_fixed`) to the tensors it received. The
result of every node is compared with the reference evaluation node by node.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field, fields
from typing import Protocol

import numpy as np
import simpy
from simpy.events import Event

from fpgasim.fixedpoint import FixedFormat, FixedTensor, Requantizer, quantize
from fpgasim.errors import BadArgument
from fpgasim.hw.platform import ComputeDevice, FpgaDevice
from fpgasim.mapping.device import cable_bits_per_s, element_bytes, stream_cap_bits_per_s
from fpgasim.mapping.graph_plan import HEAD_MATMULS, Engine, GraphPlan, NodePlan, conv_batch
from fpgasim.mapping.pool_model import vector_work
from fpgasim.mapping.software import node_work
from fpgasim.nn.evaluate import NodeWeights, compute_node_fixed, evaluate_fixed
from fpgasim.nn.graph_ops import Op
from fpgasim.nn import PoolKind
from fpgasim.ops import (
    align_bias, avg_pool2d_fixed, conv2d_int_sums, head_weights, max_pool2d_fixed, pool_divisors, scaled_accumulation,
    window_merge, window_partition,
)
from fpgasim.sim._events import processed_events
from fpgasim.sim.clock import Clock, exact_decimal, hz_from_mhz, ps_from_ns
from fpgasim.sim.cluster import BoardSpec, Cluster, LinkSpec, build_fabric
from fpgasim.kernels.conv_schedule import ConvPart, count_tiles
from fpgasim.mapping.parts import XferGroup
from fpgasim.sim.conv_engine import BoardFabric, EngineParams, TileMath, conv_layer
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.ode_engine import OdeFabric, OdeWork, ode_node
from fpgasim.sim.port import StreamPort
from fpgasim.kernels.pool_schedule import PoolTiling, whole_pool_part
from fpgasim.sim.pool_engine import PoolMath, pool_layer
from fpgasim.sim.trace import TraceRecorder
from fpgasim.sim.vector_engine import software_node, vector_layer

__all__ = ["Numerics", "NodeRun", "NodeValues", "CarriedValues", "carried_values", "TransferRun", "GraphEmulation",
           "execute"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Numerics:
    """The run's fixed-point format and requantiser (functional mode)."""

    fmt: FixedFormat
    requant: Requantizer


@dataclass(slots=True, kw_only=True)
class NodeRun:
    """What one node did.

    Attributes:
        name, op, device, engine: the node and where it ran (``device``: the first of its group).
        ready_ps: when its last input was on its device (or its predecessors had finished).
        start_ps, end_ps: when its engines took it / finished it (after any redistribution).
        cycles: end − start in the device's clock (compute devices: their core clock).
        analytical_cycles: MAC array: the analytical model's cycles.
        ddr_read_bytes, ddr_write_bytes: DDR traffic of its devices while it ran.
        link_bytes: bytes delivered over every link while it ran (XFER shares, every hop).
        busy: busy fraction of every resource while it ran, and of its engine on each device.
        bottleneck: the resource with the highest busy fraction.
        redistribution_cycles, redistribution_bytes: moving its input between partitions first.
        bit_exact, max_abs_error, overflows: functional mode: its output against the reference.
        phases_ps: ``Engine.ODE``: the time of each named phase (DMA, compute, spill), ps.
    """

    name: str
    op: str
    device: str
    engine: str
    ready_ps: int = 0
    start_ps: int = 0
    end_ps: int = 0
    cycles: int = 0
    analytical_cycles: float | None = None
    ddr_read_bytes: int = 0
    ddr_write_bytes: int = 0
    link_bytes: int = 0
    busy: dict[str, float] = field(default_factory=dict)
    bottleneck: str | None = None
    redistribution_cycles: int = 0
    redistribution_bytes: int = 0
    bit_exact: bool | None = None
    max_abs_error: float | None = None
    overflows: int | None = None
    phases_ps: dict[str, int] = field(default_factory=dict)


class NodeValues(Protocol):
    """Functional mode: where a node's data comes from and how its output is checked.

    ``begin`` is called when the node starts (after its inputs arrived), ``end`` when its engines
    finished; :class:`CarriedValues` moves real tensors along the graph's edges, a study may
    give each node its own seeded data instead (a layer table)."""

    def begin(self, item: NodePlan) -> object | None:
        """The engines' functional data (TileMath, PoolMath) or None."""

    def end(self, item: NodePlan, math: object | None) -> tuple[bool, float | None, int | None]:
        """(bit exact, max |error|, output overflows) of the node's output."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRun:
    """One tensor sent from one device to another."""

    tensor: str
    source: str
    destination: str
    nbytes: int
    start_ps: int
    end_ps: int


@dataclass(slots=True, kw_only=True)
class GraphEmulation:
    """The result of :func:`execute`."""

    nodes: list[NodeRun] = field(default_factory=list)
    transfers: list[TransferRun] = field(default_factory=list)
    total_ps: int = 0
    peak_memory_bytes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] | None = None
    bit_exact: bool | None = None
    trace: TraceRecorder | None = None
    #: SimPy events processed (``fpgasim.sim._events.processed_events``) and those with an id.
    events: int = 0
    events_scheduled: int = 0


def _elements(shape: tuple[int, ...], batch: int) -> int:
    return batch * int(np.prod(shape))


class _Device:
    """One device inside the environment: its fabric or cores, engines and memory account."""

    def __init__(self, env: simpy.Environment, index: int, plan: GraphPlan, device_id: str,
                 trace: TraceRecorder | None, ode: OdeWork | None):
        self.id = device_id
        self.index = index
        self.fabric = None
        self.context = plan.fpgas.get(device_id)
        self.resident = 0
        self.peak = 0
        if self.context is not None:
            design = self.context.design
            self.clock = Clock.from_mhz(design.clock_mhz, name=device_id)
            widths = {"ifm": design.stream_width_bits.ifm, "weights": design.stream_width_bits.weights,
                      "ofm": design.stream_width_bits.ofm}
            spec = BoardSpec(ddr_bytes_per_s=int(self.context.ddr_bytes_per_s),
                             burst_bytes=self.context.burst_bytes, stream_width_bits=widths)
            self.fabric = build_fabric(env, device_id, spec, self.clock, trace)
            self.params = EngineParams(clock=self.clock, pipeline_depth_cycles=design.pipeline_depth_cycles,
                                       element_bytes=self.context.element_bytes,
                                       dma_chunk_bytes=self.context.burst_bytes)
            self.engines = {Engine.MAC_ARRAY: simpy.Resource(env), Engine.VECTOR: simpy.Resource(env)}
        elif isinstance(plan.platform.device(device_id), FpgaDevice):
            # no tiled-conv design: the dsODENet engine its nodes describe, or idle (no node runs here)
            self.engines = {}
            if ode is not None:
                self._ode_engine(env, plan.platform.device(device_id), ode, trace)
        else:
            device: ComputeDevice = plan.platform.device(device_id)
            self.spec = device.spec
            self.clock = Clock.from_mhz(device.spec.clock_mhz, name=device_id)
            self.engines = {Engine.SOFTWARE: simpy.Resource(env)}

    def _ode_engine(self, env: simpy.Environment, device: FpgaDevice, ode: OdeWork,
                    trace: TraceRecorder | None) -> None:
        """The dsODENet engine: the board's memory channel and the host port ``ode`` names (the
        narrower of it and the engine's stream, at the slower of their clocks)."""
        board, params = device.board, ode.params
        ports = [port for port in board.host_ports if port.id == ode.host_port]
        if not ports:
            known = ", ".join(port.id for port in board.host_ports) or "none"
            raise BadArgument(f"device {self.id!r}: host port {ode.host_port!r} not on board {board.id!r}; "
                              f"known: {known}")
        channel = board.memory_channel(device.memory_channel)
        clock = Clock(min(params.clock.freq_hz, hz_from_mhz(ports[0].max_clock_mhz)),
                      name=f"{self.id}.{ode.host_port}")
        ddr = DdrChannel(env, f"{self.id}.ddr",
                         bytes_per_s=exact_decimal(channel.sustained_bytes_per_s, name="sustained_bytes_per_s"),
                         burst_bytes=device.burst_bytes, trace=trace, process=self.id)
        port = StreamPort(env, f"{self.id}.{ode.host_port}", width_bits=min(ports[0].width_bits,
                                                                           params.stream_width_bits),
                          clock=clock, trace=trace, process=self.id)
        self.fabric = BoardFabric(name=self.id, ddr=ddr, ports={ode.host_port: port}, trace=trace)
        self.ode = OdeFabric(ddr=ddr, port=port, name=self.id, trace=trace)
        self.clock = params.clock
        self.engines = {Engine.ODE: simpy.Resource(env)}

    def hold(self, nbytes: int) -> None:
        """Count a tensor of ``nbytes`` arriving in this device's memory."""
        self.resident += nbytes
        self.peak = max(self.peak, self.resident)

    def link_cap_bits_per_s(self) -> int | None:
        """The most one stream of this device can feed a link (FPGA: one weight-stream width per
        cycle, as XFER forwards it; compute devices: no cap)."""
        if self.context is None:
            return None
        return stream_cap_bits_per_s(self.context.design.stream_width_bits.weights, self.clock.freq_hz)


def _cluster(env: simpy.Environment, plan: GraphPlan, devices: list[_Device], trace: TraceRecorder | None) -> Cluster:
    index = {device.id: device.index for device in devices}
    cables = []
    for cable in plan.platform.cables:
        a, b = devices[index[cable.a]], devices[index[cable.b]]
        spec = LinkSpec(effective_bits_per_s=cable_bits_per_s(cable.link, [a.link_cap_bits_per_s(),
                                                                          b.link_cap_bits_per_s()]),
                        fixed_latency_ps=ps_from_ns(cable.link.wire_latency_ns(cable.length_m)),
                        packet_bytes=cable.packet_bytes, fifo_bytes=cable.fifo_bytes,
                        message_latency_ps=ps_from_ns(cable.link.latency_ns.software),
                        medium=cable.link_id if cable.link.shared_medium else None)
        cables.append((a.index, b.index, f"link{a.index}-{b.index}", spec))
    return Cluster.assemble(env, [device.fabric for device in devices], cables, trace=trace)


class CarriedValues:
    """Real tensors along the graph: quantised inputs and weights, every node's output, and the
    reference evaluation (:func:`fpgasim.nn.evaluate.evaluate_fixed`) each node is checked against."""

    def __init__(self, plan: GraphPlan, numerics: Numerics, inputs: dict[str, np.ndarray],
                 weights: dict[str, NodeWeights]):
        self.numerics = numerics
        fmt, requant = numerics.fmt, numerics.requant
        self.inputs = {name: quantize(values, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]
                       for name, values in inputs.items()}
        self.weights = weights
        self.batch = plan.graph.batch
        self.tables = plan.lookup_tables()
        self.reference = evaluate_fixed(plan.graph, self.inputs, weights, fmt=fmt, requant=requant,
                                        tables=self.tables)
        self.out: dict[str, FixedTensor] = {}

    def _quantised(self, values: np.ndarray | None) -> FixedTensor | None:
        if values is None:
            return None
        requant = self.numerics.requant
        return quantize(values, self.numerics.fmt, rounding=requant.rounding, overflow=requant.overflow)[0]

    def begin(self, item: NodePlan) -> TileMath | PoolMath | None:
        """The MAC array's or pool unit's DDR images; None for nodes computed at their end."""
        if item.engine is Engine.MAC_ARRAY:
            return self._tile_math(item)
        if item.engine is Engine.VECTOR and item.node.op is Op.POOL:
            return self._pool_math(item)
        return None

    def end(self, item: NodePlan, math: TileMath | PoolMath | None) -> tuple[bool, float | None, int | None]:
        """Store (engine nodes) or compute (every other node) the output, and compare it."""
        node = item.node
        if math is not None:
            fmt = self.numerics.fmt
            shape = self.reference[node.name].values.shape
            ofm = math.ofm
            if node.op in HEAD_MATMULS and node.attrs["window"] is not None:
                ofm = window_merge(ofm, node.attrs["window"], shape[2:], dilated=node.attrs["dilated"])
            self.out[node.name] = FixedTensor(ofm.reshape(shape).astype(fmt.storage_dtype), fmt)
        elif node.op is Op.INPUT:
            self.out[node.name] = self.inputs[node.name]
        else:
            args = [self.out[name] for name in node.inputs]
            self.out[node.name] = compute_node_fixed(node, args, self.weights.get(node.name), fmt=self.numerics.fmt,
                                                     requant=self.numerics.requant, table=self.tables.get(node.name),
                                                     batch=self.batch)
        exact = bool(np.array_equal(self.out[node.name].values, self.reference[node.name].values))
        return exact, None, None

    def _tile_math(self, item: NodePlan) -> TileMath:
        """The MAC array's DDR images and tile functions (bias added at the finish). Attention's
        products take one set of weights per sample from the second operand; windowed, both operands
        are cut into windows (:func:`~fpgasim.ops.attention.window_partition`), each window a sample
        of the one-window conv, and :meth:`end` merges the output back."""
        node, conv = item.node, item.conv
        first = self.out[node.inputs[0]].values
        requant = self.numerics.requant
        if node.op in HEAD_MATMULS:
            window, dilated = node.attrs["window"], node.attrs["dilated"]
            operand = self.out[node.inputs[1]]
            second = operand.values
            if window is not None:
                first, second = (window_partition(x, window, dilated=dilated) for x in (first, second))
            keys = node.op is Op.SCORES
            weight = FixedTensor(np.stack([head_weights(sample, conv.groups, keys=keys) for sample in second]),
                                 operand.fmt)
            bias, scale = None, float(node.attrs.get("scale", 1.0))
        else:
            weights = self.weights[node.name]
            weight, bias, scale = self._quantised(weights.weight), self._quantised(weights.bias), 1.0
        ifm = first.astype(np.int64).reshape(-1, conv.in_channels, conv.in_h, conv.in_w)
        per_sample = (ifm.shape[0],) if node.op in HEAD_MATMULS else ()
        w = weight.values.astype(np.int64).reshape(*per_sample, conv.out_channels, conv.in_channels // conv.groups,
                                                   conv.kernel_h, conv.kernel_w)
        frac_bits = self.numerics.fmt.frac_bits + weight.fmt.frac_bits
        aligned = None if bias is None else align_bias(bias, frac_bits, requant.rounding)

        def finish(acc: np.ndarray, out_ch: tuple[int, int]) -> np.ndarray:
            if aligned is not None:
                acc = acc + aligned[out_ch[0]:out_ch[1], None, None]
            return scaled_accumulation(acc, frac_bits, scale, requant)[0].values

        ofm = np.zeros((ifm.shape[0], conv.out_channels, conv.out_h, conv.out_w), dtype=np.int64)
        return TileMath(ifm=ifm, weights=w, ofm=ofm,
                        partial=lambda t, k, s: conv2d_int_sums(t, k, stride=s, padding=0, groups=1), finish=finish)

    def _pool_math(self, item: NodePlan) -> PoolMath:
        """The pool unit's DDR images and window op (an unpadded pool of each window, whose
        padding and ceil-mode overhang the unit fills with the format's minimum for max, zero for
        average; an average divides each window by the layer's divisor of its position)."""
        node, pool = item.node, item.node.layer
        fmt, requant = self.numerics.fmt, self.numerics.requant
        is_max = pool.kind is PoolKind.MAX

        def window_op(window: np.ndarray, divisors: np.ndarray) -> np.ndarray:
            tensor = FixedTensor(window.astype(fmt.storage_dtype), fmt)
            if is_max:
                return max_pool2d_fixed(tensor, kernel=pool.kernel, stride=pool.stride, padding=0)[0].values
            return avg_pool2d_fixed(tensor, kernel=pool.kernel, stride=pool.stride, padding=0, requant=requant,
                                    divisors=divisors)[0].values

        ofm = np.zeros((self.batch, pool.channels, pool.out_h, pool.out_w), dtype=np.int64)
        return PoolMath(ifm=self.out[node.inputs[0]].values.astype(np.int64), ofm=ofm, pool=window_op,
                        pad_value=int(fmt.min_int) if is_max else 0, divisors=pool_divisors(
                            pool.in_h, pool.in_w, kernel=pool.kernel, stride=pool.stride, padding=pool.padding,
                            ceil_mode=pool.ceil_mode))


def carried_values(plan: GraphPlan, numerics: Numerics, inputs: dict[str, np.ndarray],
                   weights: dict[str, NodeWeights]) -> CarriedValues:
    """Functional data that moves real tensors along ``plan``'s edges (see :class:`CarriedValues`)."""
    return CarriedValues(plan, numerics, inputs, weights)


#: The busy-fraction label of each engine on its device (``board0.compute``, ``rpi.cores``).
_UNIT = {Engine.MAC_ARRAY: "compute", Engine.VECTOR: "vector", Engine.SOFTWARE: "cores", Engine.ODE: "engine"}


def _engine_key(work: OdeWork) -> tuple:
    """What a dsODENet device is built from, by value (clocks compare by frequency)."""
    params = work.params
    return (work.host_port, params.clock.freq_hz,
            *(getattr(params, item.name) for item in fields(params) if item.name != "clock"))


def _ode_works(plan: GraphPlan) -> dict[str, OdeWork]:
    """The engine description of each device that runs ``Engine.ODE`` nodes (from its nodes,
    which must agree on it).

    Raises:
        BadArgument: an ODE node on a compute device or on one with a tiled-conv design, without an
            :class:`OdeWork`, or disagreeing with another node of its device on params or host port;
            a node on an FPGA device that has neither a tiled-conv design nor an ODE node.
    """
    works: dict[str, OdeWork] = {}
    for item in plan.nodes:
        if item.engine is not Engine.ODE:
            continue
        name, work, device = item.node.name, item.work, item.device
        if not isinstance(work, OdeWork):
            raise BadArgument(f"node {name!r} runs on the dsODENet engine but its work is {work!r}; expected an "
                              "OdeWork")
        if device in plan.fpgas or not isinstance(plan.platform.device(device), FpgaDevice):
            raise BadArgument(f"node {name!r} runs on the dsODENet engine, but device {device!r} has none (only an "
                              "FPGA device without a tiled-conv design in the plan takes that engine)")
        first = works.setdefault(device, work)
        if _engine_key(first) != _engine_key(work):
            raise BadArgument(f"node {name!r}: its engine params or host port differ from those of the other "
                              f"dsODENet nodes on device {device!r}")
    for item in plan.nodes:
        for device in item.group:
            if device not in plan.fpgas and device not in works and \
                    isinstance(plan.platform.device(device), FpgaDevice):
                raise BadArgument(f"node {item.node.name!r} is placed on FPGA device {device!r}, which has no "
                                  "tiled-conv design in the plan and runs no dsODENet (Engine.ODE) node")
    return works


def execute(plan: GraphPlan, *, trace: bool, values: NodeValues | None = None,
            progress: Callable[[str], None] | None = None) -> GraphEmulation:
    """Run every node of ``plan`` on its device(s).

    Args:
        plan: the placed graph.
        trace: record a timeline.
        values: functional mode: the nodes' data and checks (e.g. :func:`carried_values`);
            None: timing mode.
        progress: called with a node's name when it starts.
    """
    graph = plan.graph
    env = simpy.Environment()
    recorder = TraceRecorder() if trace else None
    works = _ode_works(plan)
    devices = [_Device(env, index, plan, device.id, recorder, works.get(device.id))
               for index, device in enumerate(plan.platform.devices)]
    by_id = {device.id: device for device in devices}
    cluster = _cluster(env, plan, devices, recorder)
    nbytes = element_bytes(plan.word_bits)
    result = GraphEmulation(trace=recorder)
    runs = {item.node.name: NodeRun(name=item.node.name, op=str(item.node.op), device=item.device,
                                    engine=str(item.engine), analytical_cycles=item.analytical_cycles)
            for item in plan.nodes}
    plans = {item.node.name: item for item in plan.nodes}
    done = {name: Event(env) for name in plans}
    arrivals: dict[tuple[str, str], Event] = {}
    tensor_bytes = {name: _elements(item.node.out_shape, graph.batch) * nbytes for name, item in plans.items()}
    users = _memory_users(plan)

    def release(tensor: str, device: str) -> None:
        key = (_root(plans, tensor, device), device)
        users[key] -= 1
        if users[key] == 0:
            by_id[device].resident -= tensor_bytes[key[0]]

    def send(tensor: str, source: str, destination: str) -> Generator[Event, object, None]:
        yield done[tensor]
        start = env.now
        size = tensor_bytes[tensor]
        yield cluster.transfer(by_id[source].index, by_id[destination].index, f"{tensor}->{destination}", size)
        by_id[destination].hold(size)
        release(tensor, source)
        result.transfers.append(TransferRun(tensor=tensor, source=source, destination=destination, nbytes=size,
                                            start_ps=start, end_ps=env.now))

    def available(tensor: str, device: str) -> Event:
        """The event of ``tensor`` being on ``device`` (starts its transfer the first time)."""
        source = plans[tensor].device
        if source == device:
            return done[tensor]
        key = (tensor, device)
        if key not in arrivals:
            arrivals[key] = env.process(send(tensor, source, device))
        return arrivals[key]

    def redistribute(item: NodePlan) -> Generator[Event, object, None]:
        events = [cluster.transfer(by_id[src].index, by_id[dst].index, f"redistribute:{item.node.name}", size)
                  for src, dst, size in item.redistribution]
        yield simpy.AllOf(env, events)

    def run_node(item: NodePlan) -> Generator[Event, object, None]:
        node, run = item.node, runs[item.node.name]
        group = [by_id[device_id] for device_id in item.group]
        carried = item.after is None
        if carried:
            yield simpy.AllOf(env, [available(name, item.device) for name in node.inputs])
        else:
            yield simpy.AllOf(env, [done[name] for name in item.after])
        run.ready_ps = env.now
        if progress is not None:
            progress(node.name)
        math = values.begin(item) if values is not None else None
        moved_start, moved_bytes = env.now, cluster.link_bytes()
        if item.redistribution:
            yield env.process(redistribute(item))
        run.redistribution_cycles = group[0].clock.cycles_between(moved_start, env.now)
        run.redistribution_bytes = cluster.link_bytes() - moved_bytes
        if item.engine is Engine.RELABEL:
            run.start_ps = run.end_ps = env.now
        else:
            turns = [device.engines[item.engine].request() for device in group]
            yield simpy.AllOf(env, turns)
            before_busy, before_ddr, before_link = _busy_totals(cluster), _ddr_totals(group), cluster.link_bytes()
            run.start_ps = env.now
            procs = _start_engines(env, item, group, cluster, math, graph.batch, nbytes, recorder)
            finished = yield simpy.AllOf(env, list(procs.values()))
            for device, turn in zip(group, turns, strict=True):
                device.engines[item.engine].release(turn)
            run.end_ps = env.now
            span = max(run.end_ps - run.start_ps, 1)
            now_busy = _busy_totals(cluster)
            run.busy = {name: (now_busy[name] - before_busy.get(name, 0)) / span for name in now_busy}
            unit = "pool" if node.op is Op.POOL else _UNIT[item.engine]
            for position, proc in sorted(procs.items()):
                run.busy[f"{group[position].id}.{unit}"] = finished[proc].compute_busy_ps / span
            if item.engine is Engine.ODE:
                run.phases_ps = finished[procs[0]].phases_ps
            run.bottleneck = max(sorted(run.busy), key=lambda name: run.busy[name])
            read, written = _ddr_totals(group)
            run.ddr_read_bytes, run.ddr_write_bytes = read - before_ddr[0], written - before_ddr[1]
            run.link_bytes = cluster.link_bytes() - before_link
        run.cycles = group[0].clock.cycles_between(run.start_ps, run.end_ps)
        if values is not None:
            run.bit_exact, run.max_abs_error, run.overflows = values.end(item, math)
        if carried:
            if item.engine is not Engine.RELABEL or node.op in (Op.INPUT, Op.CONSTANT):
                by_id[item.device].hold(tensor_bytes[node.name])
            if item.engine is not Engine.RELABEL:
                for name in node.inputs:
                    release(name, item.device)
        done[node.name].succeed()

    for item in plan.nodes:
        env.process(run_node(item))
    env.run()
    unfinished = [name for name, event in done.items() if not event.triggered]
    if unfinished:
        raise RuntimeError(f"graph execution stopped before {', '.join(unfinished)}: its processes wait on each "
                           "other (a bug)")
    result.nodes = [runs[item.node.name] for item in plan.nodes]
    result.total_ps = max([run.end_ps for run in result.nodes] + [t.end_ps for t in result.transfers], default=0)
    result.peak_memory_bytes = {device.id: device.peak for device in devices}
    result.events = processed_events(env)
    result.events_scheduled = next(env._eid)  # noqa: SLF001 - SimPy's event id counter
    if isinstance(values, CarriedValues):
        result.outputs = {name: values.out[name].to_float() for name in graph.outputs}
    if values is not None:
        result.bit_exact = all(run.bit_exact for run in result.nodes)
    return result


def _root(plans: dict[str, NodePlan], tensor: str, device: str) -> str:
    """The buffer ``tensor`` lives in on ``device``: relabelling nodes alias their input there."""
    item = plans[tensor]
    while item.engine is Engine.RELABEL and item.node.inputs and plans[item.node.inputs[0]].device == device \
            and item.device == device:
        item = plans[item.node.inputs[0]]
    return item.node.name


def _memory_users(plan: GraphPlan) -> dict[tuple[str, str], int]:
    """How many reads keep each (buffer, device) alive: working nodes on the device reading it and
    transfers out of it; graph outputs are never released. Only nodes that carry their inputs
    (``after is None``) hold memory."""
    plans = {item.node.name: item for item in plan.nodes}
    users: dict[tuple[str, str], int] = {}
    for item in plan.nodes:
        users.setdefault((_root(plans, item.node.name, item.device), item.device), 0)
    for name in plan.graph.outputs:
        if name in plans:
            key = (_root(plans, name, plans[name].device), plans[name].device)
            users[key] = users.get(key, 0) + 1
    sent = set()
    for item in plan.nodes:
        if item.engine is Engine.RELABEL or item.after is not None:
            continue
        for name in item.node.inputs:
            source = plans[name].device
            if source != item.device and (name, item.device) not in sent:
                sent.add((name, item.device))
                key = (_root(plans, name, source), source)
                users[key] = users.get(key, 0) + 1
            key = (_root(plans, name, item.device), item.device)
            users[key] = users.get(key, 0) + 1
    return users


def _ddr_totals(devices: list[_Device]) -> tuple[int, int]:
    """Bytes read from and written to every device's DDR so far."""
    read = written = 0
    for device in devices:
        if device.fabric is None:
            continue
        for stats in device.fabric.ddr.stats().values():
            read += stats.bytes_read
            written += stats.bytes_written
    return read, written


def _busy_totals(cluster: Cluster) -> dict[str, int]:
    """Busy time so far of every DDR channel, stream port and link direction."""
    totals = {}
    for fabric in cluster.fabrics:
        if fabric is None:
            continue
        totals[fabric.ddr.name] = fabric.ddr.busy_ps()
        for port in fabric.ports.values():
            totals[port.name] = port.busy_ps()
    totals.update(cluster.link_busy_ps())
    return totals


def _start_engines(env: simpy.Environment, item: NodePlan, group: list[_Device], cluster: Cluster,
                   math: object | None, batch: int, element_bytes: int,
                   trace: TraceRecorder | None) -> dict[int, simpy.events.Process]:
    """The engine processes of ``item``, one per device of its group with work (key: position)."""
    node = item.node
    if item.engine is Engine.ODE:
        return {0: env.process(ode_node(env, group[0].ode, item.work))}
    if item.engine is Engine.SOFTWARE:
        device = group[0]
        duration = item.duration_ps
        if duration is None:
            work = node_work(node, batch, element_bytes)
            seconds = device.spec.node_time_s(op_class=work.op_class, macs=work.macs,
                                              elementwise_ops=work.elementwise_ops, bytes_moved=work.bytes_moved,
                                              element_bits=8 * element_bytes)
            duration = device.clock.delay_ps(env.now, device.clock.cycles_ceil(seconds))
        return {0: env.process(software_node(env, device.clock, device=device.id, name=node.name,
                                             duration_ps=duration, trace=trace))}
    design = group[0].context.design
    if item.engine is Engine.MAC_ARRAY:
        conv = item.conv
        parts = item.parts or (ConvPart.whole(conv, batch=conv_batch(node, batch)),)
        loaders: list[dict] = [{} for _ in parts]
        for share in item.xfer:
            # XFER exchanges tile k for tile k: only boards that walk the same number of steps
            # can share (uneven parts read the whole operand themselves).
            if len({count_tiles(conv, parts[m], item.tiling) for m in share.members}) == 1:
                members = XferGroup(share.operand, tuple(group[m].index for m in share.members))
                for m in share.members:
                    loaders[m][share.operand] = cluster.xfer_loader(group[m].index, members, group[m].params,
                                                                    node.name)
        return {i: env.process(conv_layer(env, group[i].fabric, conv, part, item.tiling, group[i].params, math=math,
                                          loaders=loaders[i]))
                for i, part in enumerate(parts) if not part.is_empty}
    if node.op is Op.POOL:
        pool = node.layer
        tiling = PoolTiling.from_tiling(item.tiling)
        regions = item.parts or (whole_pool_part(pool, batch),)
        return {i: env.process(pool_layer(env, group[i].fabric, pool, region, tiling, group[i].params,
                                          lanes=design.pooling_lanes, math=math))
                for i, region in enumerate(regions) if not region.is_empty}
    tile_elems = design.parallelism.tm * design.tile.tr * design.tile.tc
    processes = {}
    for i, part in enumerate(item.parts or (None,)):
        if part is not None and part.is_empty:
            continue
        reads, writes, operations = vector_work(node, batch, part)
        processes[i] = env.process(vector_layer(env, group[i].fabric, name=node.name, input_elems=reads,
                                                output_elems=writes, operations=operations,
                                                lanes=design.pooling_lanes, tile_elems=tile_elems,
                                                params=group[i].params))
    return processes
