"""The graph executor: any placed network graph on any platform of devices, in one environment.

Owns :func:`execute`. From a :class:`~fpgasim.mapping.graph_plan.GraphPlan` it builds one SimPy
environment — every FPGA device's DDR channel and stream ports (its own board and design
numbers), every compute device's cores, every cable with its own link type — and one process per
node. A node starts when all its inputs are on its device and its engine is free; it runs on the
MAC array (the tiled conv engine, tile by tile), the vector unit, or the compute device's
software model; relabelling nodes (flatten, reshape, transpose, channel slice) take no time.
When a producer and a consumer sit on different devices, the tensor crosses the platform's links
along the shortest route (cut-through per hop), once per destination device, as soon as it is
produced.

Tensors stay in a device's memory until the last node (or outgoing transfer) that reads them
there has finished; each device's peak footprint is reported. Relabelling nodes run where their
input is and alias its buffer.

Functional mode computes real values: MAC-array nodes accumulate exact tile partial sums
through the engine's buffers; every other node applies the same single-node step as the
reference (:func:`fpgasim.nn.evaluate.compute_node_fixed`) to the tensors it received. The
result of every node is compared with the reference evaluation node by node.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedFormat, FixedTensor, Requantizer, finish_accumulation, quantize
from fpgasim.hw.compute import OpClass
from fpgasim.hw.platform import ComputeDevice
from fpgasim.mapping.graph_plan import Engine, GraphPlan, NodePlan
from fpgasim.nn.evaluate import NodeWeights, compute_node_fixed, evaluate_fixed
from fpgasim.nn.graph_ops import Op
from fpgasim.nn import PoolKind
from fpgasim.ops import align_bias, avg_pool2d_fixed, conv2d_int_sums, max_pool2d_fixed
from fpgasim.sim._events import processed_events
from fpgasim.sim.clock import Clock
from fpgasim.sim.cluster import BoardSpec, Cluster, LinkSpec, build_fabric
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.sim.conv_engine import EngineParams, LayerRun, TileMath, conv_layer
from fpgasim.sim.pool_engine import PoolMath, PoolTiling, pool_layer
from fpgasim.sim.trace import TraceRecorder
from fpgasim.sim.vector_engine import software_node, vector_layer

__all__ = ["Numerics", "NodeRun", "TransferRun", "GraphEmulation", "execute", "op_class"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Numerics:
    """The run's fixed-point format and requantiser (functional mode)."""

    fmt: FixedFormat
    requant: Requantizer


@dataclass(slots=True, kw_only=True)
class NodeRun:
    """What one node did.

    Attributes:
        name, op, device, engine: the node and where it ran.
        ready_ps: when its last input was on its device.
        start_ps, end_ps: when its engine took it / finished it.
        cycles: end − start in the device's clock (compute devices: their core clock).
        analytical_cycles: MAC array: the analytical model's cycles.
        ddr_read_bytes, ddr_write_bytes: DDR traffic of the node on its device.
        bit_exact: functional mode: the node's output equals the reference; else None.
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
    bit_exact: bool | None = None


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
    events: int = 0


#: The throughput model's op class of each op a compute device runs.
_OP_CLASS = {Op.CONV: OpClass.DENSE_CONV, Op.DEPTHWISE: OpClass.DEPTHWISE, Op.POINTWISE: OpClass.POINTWISE,
             Op.LINEAR: OpClass.FC, Op.POOL: OpClass.POOL, Op.GLOBAL_POOL: OpClass.POOL}


def op_class(op: Op) -> OpClass:
    """The compute-device op class of ``op`` (everything not listed is element-wise work)."""
    return _OP_CLASS.get(op, OpClass.ELEMENTWISE)


def _elements(shape: tuple[int, ...], batch: int) -> int:
    return batch * int(np.prod(shape))


class _Device:
    """One device inside the environment: its fabric or cores, engines and memory account."""

    def __init__(self, env: simpy.Environment, index: int, plan: GraphPlan, device_id: str,
                 trace: TraceRecorder | None):
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
        else:
            device: ComputeDevice = plan.platform.device(device_id)
            self.spec = device.spec
            self.clock = Clock.from_mhz(device.spec.clock_mhz, name=device_id)
            self.engines = {Engine.SOFTWARE: simpy.Resource(env)}

    def hold(self, nbytes: int) -> None:
        """Count a tensor of ``nbytes`` arriving in this device's memory."""
        self.resident += nbytes
        self.peak = max(self.peak, self.resident)

    def link_cap_bits_per_s(self) -> int | None:
        """The most one stream of this device can feed a link (FPGA: one weight-stream width per
        cycle, as XFER forwards it; compute devices: no cap)."""
        if self.context is None:
            return None
        design = self.context.design
        return design.stream_width_bits.weights * int(round(design.clock_mhz * 1e6))


def _cluster(env: simpy.Environment, plan: GraphPlan, devices: list[_Device], trace: TraceRecorder | None) -> Cluster:
    index = {device.id: device.index for device in devices}
    cables = []
    for cable in plan.platform.cables:
        a, b = devices[index[cable.a]], devices[index[cable.b]]
        rate = int(cable.link.effective_gbps * 1e9)
        caps = [cap for cap in (a.link_cap_bits_per_s(), b.link_cap_bits_per_s()) if cap is not None]
        spec = LinkSpec(effective_bits_per_s=min([rate, *caps]),
                        fixed_latency_ps=int(round(cable.link.fixed_latency_ns(cable.length_m) * 1000)),
                        packet_bytes=cable.packet_bytes, fifo_bytes=cable.fifo_bytes)
        cables.append((a.index, b.index, f"link:{cable.a}-{cable.b}", spec))
    return Cluster.assemble(env, [device.fabric for device in devices], cables, trace=trace)


class _Values:
    """Functional-mode tensors: inputs, quantised weights, every node's output and the reference."""

    def __init__(self, plan: GraphPlan, numerics: Numerics, inputs: dict[str, np.ndarray],
                 weights: dict[str, NodeWeights]):
        self.numerics = numerics
        fmt, requant = numerics.fmt, numerics.requant
        self.inputs = {name: quantize(values, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]
                       for name, values in inputs.items()}
        self.weights = weights
        self.reference = evaluate_fixed(plan.graph, self.inputs, weights, fmt=fmt, requant=requant)
        self.out: dict[str, FixedTensor] = {}

    def quantised(self, values: np.ndarray | None) -> FixedTensor | None:
        if values is None:
            return None
        requant = self.numerics.requant
        return quantize(values, self.numerics.fmt, rounding=requant.rounding, overflow=requant.overflow)[0]

    def tile_math(self, item: NodePlan) -> TileMath:
        """The MAC array's DDR images and tile functions for ``item`` (bias added at the finish)."""
        node, conv = item.node, item.conv
        source = self.out[node.inputs[0]]
        ifm = source.values.astype(np.int64).reshape(-1, conv.in_channels, conv.in_h, conv.in_w)
        nodew = self.weights[node.name]
        weight = self.quantised(nodew.weight)
        w = weight.values.astype(np.int64).reshape(conv.out_channels, conv.in_channels // conv.groups,
                                                   conv.kernel, conv.kernel)
        frac_bits = self.numerics.fmt.frac_bits + weight.fmt.frac_bits
        bias = self.quantised(nodew.bias)
        aligned = None if bias is None else align_bias(bias, frac_bits, self.numerics.requant.rounding)
        requant = self.numerics.requant

        def finish(acc: np.ndarray, out_ch: tuple[int, int]) -> np.ndarray:
            if aligned is not None:
                acc = acc + aligned[out_ch[0]:out_ch[1], None, None]
            return finish_accumulation(acc, frac_bits, requant)[0].values

        ofm = np.zeros((ifm.shape[0], conv.out_channels, conv.out_h, conv.out_w), dtype=np.int64)
        return TileMath(ifm=ifm, weights=w, ofm=ofm,
                        partial=lambda t, k, s: conv2d_int_sums(t, k, stride=s, padding=0, groups=1),
                        finish=finish)

    def store(self, node_name: str, values: np.ndarray) -> None:
        fmt = self.numerics.fmt
        shape = self.reference[node_name].values.shape
        self.out[node_name] = FixedTensor(values.reshape(shape).astype(fmt.storage_dtype), fmt)

    def compute(self, item: NodePlan) -> None:
        node = item.node
        if node.op is Op.INPUT:
            self.out[node.name] = self.inputs[node.name]
            return
        args = [self.out[name] for name in node.inputs]
        self.out[node.name] = compute_node_fixed(node, args, self.weights.get(node.name), fmt=self.numerics.fmt,
                                                 requant=self.numerics.requant)

    def exact(self, node_name: str) -> bool:
        return bool(np.array_equal(self.out[node_name].values, self.reference[node_name].values))


def execute(plan: GraphPlan, *, functional: bool, trace: bool, numerics: Numerics | None = None,
            inputs: dict[str, np.ndarray] | None = None, weights: dict[str, NodeWeights] | None = None,
            progress: Callable[[str], None] | None = None) -> GraphEmulation:
    """Run every node of ``plan`` on its device.

    Args:
        plan: the placed graph.
        functional: compute real values and compare each node with the reference.
        trace: record a timeline.
        numerics: functional mode: the number format.
        inputs: functional mode: float input of every graph input node, (N, C, H, W).
        weights: functional mode: every weighted node's float weights.
        progress: called with a node's name when it starts.

    Raises:
        BadArgument: functional mode without numerics, inputs or weights.
    """
    graph = plan.graph
    env = simpy.Environment()
    recorder = TraceRecorder() if trace else None
    devices = [_Device(env, index, plan, device.id, recorder) for index, device in enumerate(plan.platform.devices)]
    by_id = {device.id: device for device in devices}
    cluster = _cluster(env, plan, devices, recorder)
    values = None
    if functional:
        if numerics is None or inputs is None or weights is None:
            raise BadArgument("functional mode needs numerics, inputs and weights")
        values = _Values(plan, numerics, inputs, weights)
    result = GraphEmulation(trace=recorder)
    runs = {item.node.name: NodeRun(name=item.node.name, op=str(item.node.op), device=item.device,
                                    engine=str(item.engine), analytical_cycles=item.analytical_cycles)
            for item in plan.nodes}
    plans = {item.node.name: item for item in plan.nodes}
    done = {name: Event(env) for name in plans}
    arrivals: dict[tuple[str, str], Event] = {}
    nbytes_of = {name: _elements(item.node.out_shape, graph.batch) * _element_bytes(plan) for name, item in plans.items()}
    users = _memory_users(plan)

    def release(tensor: str, device: str) -> None:
        key = (_root(plans, tensor, device), device)
        users[key] -= 1
        if users[key] == 0:
            by_id[device].resident -= nbytes_of[key[0]]

    def send(tensor: str, source: str, destination: str) -> Generator[Event, object, None]:
        yield done[tensor]
        start = env.now
        nbytes = nbytes_of[tensor]
        yield cluster.transfer(by_id[source].index, by_id[destination].index, f"{tensor}->{destination}", nbytes)
        by_id[destination].hold(nbytes)
        release(tensor, source)
        result.transfers.append(TransferRun(tensor=tensor, source=source, destination=destination, nbytes=nbytes,
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

    def run_node(item: NodePlan) -> Generator[Event, object, None]:
        node, run = item.node, runs[item.node.name]
        device = by_id[item.device]
        yield simpy.AllOf(env, [available(name, item.device) for name in node.inputs])
        run.ready_ps = env.now
        if progress is not None:
            progress(node.name)
        if item.engine is Engine.RELABEL:
            run.start_ps = run.end_ps = env.now
            if node.op is Op.INPUT:
                device.hold(nbytes_of[node.name])
        else:
            with device.engines[item.engine].request() as turn:
                yield turn
                run.start_ps = env.now
                before = _ddr_totals(device)
                yield env.process(_engine_process(env, item, device, values, graph.batch, _element_bytes(plan), recorder))
                after = _ddr_totals(device)
                run.ddr_read_bytes, run.ddr_write_bytes = after[0] - before[0], after[1] - before[1]
                run.end_ps = env.now
            device.hold(nbytes_of[node.name])
        run.cycles = device.clock.cycles_between(run.start_ps, run.end_ps)
        if values is not None and item.engine is not Engine.MAC_ARRAY:
            values.compute(item)
        if values is not None:
            run.bit_exact = values.exact(node.name)
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
    result.total_ps = env.now
    result.peak_memory_bytes = {device.id: device.peak for device in devices}
    result.events = processed_events(env)
    if values is not None:
        result.outputs = {name: values.out[name].to_float() for name in graph.outputs}
        result.bit_exact = all(run.bit_exact for run in result.nodes)
    return result


def _element_bytes(plan: GraphPlan) -> int:
    bits = plan.word_bits
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


def _root(plans: dict[str, NodePlan], tensor: str, device: str) -> str:
    """The buffer ``tensor`` lives in on ``device``: relabelling nodes alias their input there."""
    item = plans[tensor]
    while item.engine is Engine.RELABEL and item.node.inputs and plans[item.node.inputs[0]].device == device \
            and item.device == device:
        item = plans[item.node.inputs[0]]
    return item.node.name


def _memory_users(plan: GraphPlan) -> dict[tuple[str, str], int]:
    """How many reads keep each (buffer, device) alive: working nodes on the device reading it and
    transfers out of it; graph outputs are never released."""
    plans = {item.node.name: item for item in plan.nodes}
    users: dict[tuple[str, str], int] = {}
    for item in plan.nodes:
        users.setdefault((_root(plans, item.node.name, item.device), item.device), 0)
    for name in plan.graph.outputs:
        key = (_root(plans, name, plans[name].device), plans[name].device)
        users[key] = users.get(key, 0) + 1
    sent = set()
    for item in plan.nodes:
        if item.engine is Engine.RELABEL:
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


def _ddr_totals(device: _Device) -> tuple[int, int]:
    if device.fabric is None:
        return 0, 0
    read = written = 0
    for stats in device.fabric.ddr.stats().values():
        read += stats.bytes_read
        written += stats.bytes_written
    return read, written


def _engine_process(env: simpy.Environment, item: NodePlan, device: _Device, values: _Values | None, batch: int,
                    element_bytes: int, trace: TraceRecorder | None) -> Generator[Event, object, LayerRun]:
    """The process that runs ``item`` on its engine (functional mode: and stores its values)."""
    node = item.node
    if item.engine is Engine.SOFTWARE:
        in_elems = sum(_elements(shape, batch) for shape in node.in_shapes)
        seconds = device.spec.node_time_s(op_class=op_class(node.op), macs=node.macs * batch,
                                          elementwise_ops=node.elementwise_ops * batch,
                                          bytes_moved=(in_elems + _elements(node.out_shape, batch)) * element_bytes,
                                          element_bits=8 * element_bytes)
        cycles = int(np.ceil(seconds * float(device.clock.freq_hz)))
        return (yield env.process(software_node(env, device.engines[Engine.SOFTWARE], device.clock, device=device.id,
                                                name=node.name, cycles=cycles, trace=trace)))
    fabric, params = device.fabric, device.params
    if item.engine is Engine.MAC_ARRAY:
        conv = item.conv
        math = values.tile_math(item) if values is not None else None
        run = yield env.process(conv_layer(env, fabric, conv, ConvPart.whole(conv, batch=batch), item.tiling, params,
                                           math=math))
        if values is not None:
            values.store(node.name, math.ofm)
        return run
    design = device.context.design
    if node.op is Op.POOL:
        pool = node.layer
        tiling = PoolTiling(channels=item.tiling.tm, rows=item.tiling.tr, cols=item.tiling.tc)
        whole = ConvPart(batch=(0, batch), out_ch=(0, pool.channels), out_rows=(0, pool.out_h),
                         out_cols=(0, pool.out_w))
        math = None
        if values is not None:
            math = _pool_math(item, values, batch)
        run = yield env.process(pool_layer(env, fabric, pool, whole, tiling, params, lanes=design.pooling_lanes,
                                           math=math))
        if values is not None:
            values.store(node.name, math.ofm)
        return run
    tile = design.tile
    return (yield env.process(vector_layer(
        env, fabric, name=node.name, input_elems=[_elements(shape, batch) for shape in node.in_shapes],
        output_elems=_elements(node.out_shape, batch), operations=max(node.elementwise_ops, 1) * batch,
        lanes=design.pooling_lanes, tile_elems=design.parallelism.tm * tile.tr * tile.tc, params=params)))


def _pool_math(item: NodePlan, values: _Values, batch: int) -> PoolMath:
    """The pool unit's DDR images and window op (an unpadded pool of each window, whose padding
    the unit fills with the format's minimum for max, zero for average)."""
    node, pool = item.node, item.node.layer
    source = values.out[node.inputs[0]]
    fmt, requant = values.numerics.fmt, values.numerics.requant
    is_max = pool.kind is PoolKind.MAX

    def window_op(window: np.ndarray) -> np.ndarray:
        tensor = FixedTensor(window.astype(fmt.storage_dtype), fmt)
        if is_max:
            return max_pool2d_fixed(tensor, kernel=pool.kernel, stride=pool.stride, padding=0)[0].values
        return avg_pool2d_fixed(tensor, kernel=pool.kernel, stride=pool.stride, padding=0, requant=requant)[0].values

    ofm = np.zeros((batch, pool.channels, pool.out_h, pool.out_w), dtype=np.int64)
    return PoolMath(ifm=source.values.astype(np.int64), ofm=ofm, pool=window_op,
                    pad_value=int(fmt.min_int) if is_max else 0)
