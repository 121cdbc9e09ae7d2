"""What a planned run will cost, refused before simulating when it is beyond the user's limits.

Owns: :class:`RunEstimate` (events, peak memory, trace spans and trace.json size of a plan,
a closed form over the planned tiles and DMA bursts — nothing is simulated) and the checks that
need the resolved board and kernel: the kernel's clock within the board's fabric clock range.
A plan beyond a :class:`~fpgasim.study.protocol.Limits` raises :class:`~fpgasim.errors.BadArgument` (exit 2) naming the estimate,
the limit and the option that raises it; a trace beyond ``max_trace_spans`` is not refused but
written as a summary (:meth:`fpgasim.sim.TraceRecorder.summary`).

The constants below are calibrated on AlexNet conv1-5 (fp32 <64,7> on ZCU102, batch 1 and 4;
Super-LIP on 2 boards): about 3 SimPy events per DDR burst or link packet, one trace span per
transaction, about 400 bytes of memory per recorded span and 1.2 kB more per span exported.
The estimate is good to about a factor of two, enough to refuse a run that would take hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from fpgasim.config import read_yaml
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.kernels.conv_schedule import ConvPart, Tiling, count_tiles, window_extent
from fpgasim.mapping.device import element_bytes
from fpgasim.mapping.graph_plan import Engine, GraphPlan, conv_batch
from fpgasim.nn import Conv2d
from fpgasim.study.experiment.experiment import LoadedExperiment
from fpgasim.mapping.layer_plan import LayerKind, LayerSetup
from fpgasim.mapping.parts import board_parts
from fpgasim.study.experiment.setup import RunSetup
from fpgasim.study.protocol import Limits

__all__ = ["RunEstimate", "estimate_run", "check_limits", "check_clock", "guard_setups", "conv_transactions",
           "memory_estimate", "estimate_graph", "check_device_clocks"]

#: SimPy events per DDR burst or link packet (request, grant, timeout; measured 3.1).
EVENTS_PER_TRANSACTION = 3.2
#: Memory of the interpreter, NumPy, Numba and the plan before the first event (MB).
BASE_MEMORY_MB = 150
#: Memory per trace span while recording (a tuple in :class:`~fpgasim.sim.TraceRecorder`).
RECORDED_SPAN_BYTES = 400
#: Memory per span exported (the Chrome trace-event dict and its JSON text).
EXPORTED_SPAN_BYTES = 1200
#: Bytes per span in trace.json.
TRACE_JSON_SPAN_BYTES = 200
#: Bytes per element of the float64 tensors a functional run holds per layer (input, weights,
#: output and the reference output).
FUNCTIONAL_ELEMENT_BYTES = 8 * 2


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEstimate:
    """What a planned run is expected to cost."""

    transactions: int
    events: int
    spans: int
    memory_mb: int
    trace_bytes: int

    def summary_trace(self, limits: Limits) -> bool:
        """True when the trace will be written as a summary."""
        return self.spans > limits.max_trace_spans


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _window_elems(layer: Conv2d, tr: int, tc: int) -> int:
    """Input elements per channel of a Tr×Tc output tile, halo included."""
    return window_extent(tr, layer.stride_h, layer.kernel_h) * window_extent(tc, layer.stride_w, layer.kernel_w)


def conv_transactions(layer: Conv2d, t: Tiling, parts: list[ConvPart], *, element_bytes: int, burst_bytes: int,
                      shared_bytes: int = 0, packet_bytes: int = 1) -> int:
    """DDR bursts of every part's tile steps, plus the link packets of ``shared_bytes`` (the
    operand bytes XFER forwards per step, 0 without XFER)."""
    eb, burst = element_bytes, burst_bytes
    tn, tm = min(t.tn, layer.in_channels // layer.groups), min(t.tm, layer.out_channels)
    tr, tc = min(t.tr, layer.out_h), min(t.tc, layer.out_w)
    ifm = tn * _window_elems(layer, tr, tc) * eb
    weights = tm * tn * layer.kernel_h * layer.kernel_w * eb
    ofm = tm * tr * tc * eb
    per_step = _ceil(ifm, burst) + _ceil(weights, burst) + _ceil(ofm, burst) + _ceil(shared_bytes, packet_bytes)
    return per_step * sum(count_tiles(layer, part, t) for part in parts)


def _conv_transactions(item: LayerSetup, setup: RunSetup) -> int:
    """DDR bursts of every board's tile steps plus the link packets XFER forwards."""
    layer, t = item.layer, item.tiling
    eb = setup.element_bytes
    tn, tm = min(t.tn, layer.in_channels // layer.groups), min(t.tm, layer.out_channels)
    tr, tc = min(t.tr, layer.out_h), min(t.tc, layer.out_w)
    shared = 0
    if setup.boards > 1:
        ifm = tn * _window_elems(layer, tr, tc) * eb
        shared = (ifm if item.partition.pm > 1 else 0) + (tm * tn * layer.kernel_h * layer.kernel_w * eb
                                                          if item.partition.spatial > 1 else 0)
    return conv_transactions(layer, t, board_parts(layer, setup.network.batch, item.partition), element_bytes=eb,
                             burst_bytes=setup.experiment.spec.memory.burst_bytes, shared_bytes=shared,
                             packet_bytes=setup.experiment.spec.cluster.packet_bytes)


def _pool_transactions(item: LayerSetup, setup: RunSetup) -> int:
    """Two DMA transfers per pooling tile plus the bursts of the regions' input and output."""
    eb, burst = setup.element_bytes, setup.experiment.spec.memory.burst_bytes
    pool = item.layer
    total = 0
    for part in item.regions:
        if part.is_empty:
            continue
        channels, batch = part.out_ch[1] - part.out_ch[0], part.batch[1] - part.batch[0]
        out_elems = batch * channels * (part.out_rows[1] - part.out_rows[0]) * (part.out_cols[1] - part.out_cols[0])
        total += 2 * item.analytical.tiles \
            + _ceil(out_elems * (pool.kernel_h // pool.stride_h) * (pool.kernel_w // pool.stride_w) * eb, burst) \
            + _ceil(out_elems * eb, burst)
    return total


def _tensor_elems(item: LayerSetup, batch: int) -> int:
    """Elements of the layer's input, output and weights (a functional run holds them at once)."""
    layer = item.layer
    if item.kind is LayerKind.POOL:
        return batch * layer.channels * (layer.in_h * layer.in_w + layer.out_h * layer.out_w)
    weights = layer.out_channels * (layer.in_channels // layer.groups) * layer.kernel_h * layer.kernel_w
    return batch * (layer.in_channels * layer.in_h * layer.in_w + layer.out_channels * layer.out_h * layer.out_w) \
        + weights


def estimate_run(setup: RunSetup, limits: Limits) -> RunEstimate:
    """The plan's cost in closed form (see the module docstring for the calibration).

    Args:
        setup: the plan (:func:`~fpgasim.study.experiment.setup.build_setup`).
        limits: whether a trace is recorded and how many spans it keeps in full.
    """
    transactions = sum(_pool_transactions(item, setup) if item.kind is LayerKind.POOL
                       else _conv_transactions(item, setup) for item in setup.layers)
    tensors = max(_tensor_elems(item, setup.network.batch) for item in setup.layers) * FUNCTIONAL_ELEMENT_BYTES
    return memory_estimate(transactions, tensors, limits)


def memory_estimate(transactions: int, tensor_bytes: int, limits: Limits) -> RunEstimate:
    """Events, memory and trace of a run of ``transactions`` that holds ``tensor_bytes`` of data."""
    spans = transactions if limits.trace else 0
    exported = min(spans, limits.max_trace_spans)
    memory = BASE_MEMORY_MB * 2 ** 20 + spans * RECORDED_SPAN_BYTES + exported * EXPORTED_SPAN_BYTES + tensor_bytes
    return RunEstimate(transactions=transactions, events=round(transactions * EVENTS_PER_TRANSACTION),
                       spans=spans, memory_mb=_ceil(memory, 2 ** 20), trace_bytes=exported * TRACE_JSON_SPAN_BYTES)


def check_limits(estimate: RunEstimate, limits: Limits, *, name: str) -> None:
    """Refuse a run whose estimate is beyond a limit, naming the option that raises it.

    Raises:
        BadArgument: events or memory beyond ``limits`` (every exceeded limit in one message).
    """
    over = []
    if estimate.events > limits.max_events:
        over.append(f"about {estimate.events:,} simulation events (limit {limits.max_events:,}; "
                    "raise it with --max-events N)")
    if estimate.memory_mb > limits.max_memory_mb:
        hint = "; --no-trace saves most of it" if estimate.spans else ""
        over.append(f"about {estimate.memory_mb:,} MB of memory (limit {limits.max_memory_mb:,} MB; raise it with "
                    f"--max-memory-mb N{hint})")
    if over:
        raise BadArgument(f"{name}: refused before simulating: the run would need " + " and ".join(over)
                          + "; a smaller batch or fewer layers shrink it")


def check_clock(loaded: LoadedExperiment, setup: RunSetup) -> None:
    """The kernel's clock must lie in the board's fabric clock range (``board.clock_mhz``).

    Raises:
        ConfigError: at the kernel file's ``kernel.clock_mhz``, with the board's range.
    """
    clock, allowed = setup.design.clock_mhz, setup.board.clock_mhz
    if allowed.min <= clock <= allowed.max:
        return
    document = read_yaml(loaded.resolve(loaded.spec.kernel))
    raise ConfigError([document.problem(
        ("kernel", "clock_mhz"),
        f"{clock:g} MHz is outside the fabric clock range of {setup.board.id} ({allowed.min:g}-{allowed.max:g} MHz, "
        f"board.clock_mhz in its board file)")])


def guard_setups(loaded: LoadedExperiment, setups: list[RunSetup], limits: Limits) -> RunEstimate:
    """Check the clock and the cost of every configuration a command runs, one after another.

    Returns:
        The combined estimate: events summed, memory and trace of the largest configuration.

    Raises:
        ConfigError: as :func:`check_clock`. BadArgument: as :func:`check_limits`.
    """
    for setup in setups:
        check_clock(loaded, setup)
    estimates = [estimate_run(setup, limits) for setup in setups]
    largest = max(estimates, key=lambda item: item.memory_mb)
    total = RunEstimate(transactions=sum(item.transactions for item in estimates),
                        events=sum(item.events for item in estimates), spans=largest.spans,
                        memory_mb=largest.memory_mb, trace_bytes=largest.trace_bytes)
    check_limits(total, limits, name=loaded.spec.name)
    return total


def estimate_graph(plan: GraphPlan, limits: Limits) -> RunEstimate:
    """The cost of a graph run in the same closed form: the MAC array's tile bursts, the vector
    unit's input and output bursts, one transaction per software node, and the link packets of
    every tensor (or redistributed box) that crosses devices, on every hop; a functional run holds
    every node's output."""
    batch, eb = plan.graph.batch, element_bytes(plan.word_bits)
    plans = {item.node.name: item for item in plan.nodes}
    transactions = tensors = 0
    for item in plan.nodes:
        node, context = item.node, plan.fpgas.get(item.device)
        out_elems = batch * prod(node.out_shape)
        tensors += out_elems
        if item.engine is Engine.MAC_ARRAY:
            parts = list(item.parts) or [ConvPart.whole(item.conv, batch=conv_batch(node, batch))]
            transactions += conv_transactions(item.conv, item.tiling, parts, element_bytes=eb,
                                              burst_bytes=context.burst_bytes)
        elif item.engine is Engine.VECTOR:
            elems = out_elems + batch * sum(prod(shape) for shape in node.in_shapes)
            transactions += 2 + _ceil(elems * eb, context.burst_bytes)
        elif item.engine is Engine.SOFTWARE:
            transactions += 1
        moved = [(source, destination, nbytes) for source, destination, nbytes in item.redistribution]
        if item.after is None:
            moved += [(plans[name].device, item.device, batch * prod(plans[name].node.out_shape) * eb)
                      for name in set(node.inputs) if plans[name].device != item.device]
        for source, destination, nbytes in moved:
            transactions += sum(_ceil(nbytes, cable.packet_bytes) for cable, *_ in plan.platform.route(source, destination))
    return memory_estimate(transactions, tensors * FUNCTIONAL_ELEMENT_BYTES, limits)


def check_device_clocks(plan: GraphPlan) -> None:
    """Every FPGA device's kernel clock must lie in its board's fabric clock range.

    Raises:
        ConfigError: at that kernel file's ``kernel.clock_mhz``, with the board's range.
    """
    problems = []
    for device in plan.platform.devices:
        context = plan.fpgas.get(device.id)
        if context is None or device.kernel_path is None:
            continue
        clock, allowed = context.design.clock_mhz, context.board.clock_mhz
        if not allowed.min <= clock <= allowed.max:
            problems.append(read_yaml(device.kernel_path).problem(
                ("kernel", "clock_mhz"),
                f"{clock:g} MHz is outside the fabric clock range of {context.board.id} (device {device.id}: "
                f"{allowed.min:g}-{allowed.max:g} MHz, board.clock_mhz in its board file)"))
    if problems:
        raise ConfigError(problems)
