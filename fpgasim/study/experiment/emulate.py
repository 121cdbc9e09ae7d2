"""Run a planned layer list on the graph executor: every board, layer by layer.

Owns: turning a :class:`~fpgasim.study.experiment.setup.RunSetup` into the executor's plan — the
boards as a homogeneous platform, each layer a node on every board of its partition (Pb, Pr,
Pc, Pm) with XFER where boards share an operand, run after the layer before it, with the
redistribution its partition change causes (before the pooling layers in between, which run
where their input is) — the functional data of each layer and its bit-exact check (conv: the
direct conv kernel; FC: ``ops.linear``; pooling: ``ops.pool``), and the per-layer record the
reports read (cycles, bytes, busy time of every resource, the emulator's bottleneck label).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Requantizer, finish_accumulation, quantize
from fpgasim.kernels import NumberKind
from fpgasim.mapping.device import FpgaContext
from fpgasim.mapping.graph_plan import Engine, GraphPlan, NodePlan
from fpgasim.mapping.parts import board_parts, xfer_groups
from fpgasim.mapping.redistribute import exchange_pairs, transfers
from fpgasim.nn import Graph, Pool, PoolKind
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_int_sums
from fpgasim.ops.linear import linear_f32, linear_fixed
from fpgasim.ops.pool import avg_pool2d_f32, avg_pool2d_fixed, max_pool2d_f32, max_pool2d_fixed, pool_divisors
from fpgasim.sim import TraceRecorder
from fpgasim.sim.conv_engine import TileMath
from fpgasim.sim.executor import execute
from fpgasim.sim.pool_engine import PoolMath
from fpgasim.mapping.layer_plan import LayerKind, LayerSetup
from fpgasim.study.experiment.setup import RunSetup

__all__ = ["LayerEmulation", "Emulation", "emulate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerEmulation:
    """What the emulator measured for one layer (all boards).

    Attributes:
        name: layer name.
        cycles: engine-clock cycles from the layer's start to its last store (all boards).
        macs: multiply-accumulates of the whole layer.
        ddr_read_bytes, ddr_write_bytes: summed over boards.
        link_bytes: bytes delivered over links (XFER shares, every hop).
        busy: busy fraction of every resource during the layer (key: resource name).
        bottleneck: the resource with the highest busy fraction.
        redistribution_cycles: before the layer, moving the previous layer's outputs between
            boards because the partition changed (0 on one board or when nothing moves).
        redistribution_bytes: bytes moved over links for that.
        bit_exact: functional mode: assembled output == direct kernel, bit for bit (None in
            timing mode).
        max_abs_error: functional mode: largest |emulated − direct kernel| (0 when bit exact).
        overflows: functional fixed point: output elements that saturated/wrapped.
    """

    name: str
    cycles: int
    macs: int
    ddr_read_bytes: int
    ddr_write_bytes: int
    link_bytes: int
    busy: dict[str, float]
    bottleneck: str
    redistribution_cycles: int = 0
    redistribution_bytes: int = 0
    bit_exact: bool | None = None
    max_abs_error: float | None = None
    overflows: int | None = None


@dataclass(slots=True)
class Emulation:
    """All layers of one run plus the trace."""

    layers: list[LayerEmulation] = field(default_factory=list)
    trace: TraceRecorder | None = None
    total_ps: int = 0
    #: SimPy events processed during the run: through SimPy's queue, merged into a same-instant
    #: decision, or fired in place (``fpgasim.sim._events.processed_events``; the emulator
    #: benchmark's numerator).
    events: int = 0
    #: The part of ``events`` that took a SimPy event id (all but those fired in place).
    events_scheduled: int = 0


class _LayerData:
    """Synthetic tensors of one layer and the functions the engine applies to its tiles."""

    def __init__(self, setup: RunSetup, item: LayerSetup, rng: np.random.Generator):
        layer, precision = item.layer, setup.design.precision
        batch = setup.network.batch
        x = rng.uniform(-1.0, 1.0, size=(batch, layer.in_channels, layer.in_h, layer.in_w))
        fan_in = (layer.in_channels // layer.groups) * layer.kernel_h * layer.kernel_w
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(layer.out_channels, layer.in_channels // layer.groups,
                                                         layer.kernel_h, layer.kernel_w))
        conv = {"stride": layer.stride, "padding": layer.padding, "groups": layer.groups}
        self.overflows = 0
        linear = item.kind is LayerKind.LINEAR
        if precision.kind is NumberKind.FIXED:
            spec = precision.fixed
            fmt, self.requant = _fixed(setup)
            qx, _ = quantize(x, fmt, rounding=spec.rounding, overflow=spec.overflow)
            qw, _ = quantize(w, fmt, rounding=spec.rounding, overflow=spec.overflow)
            if linear:  # the FC op itself, on the flattened vectors
                flat_x, flat_w = FixedTensor(qx.values.reshape(batch, -1), fmt), FixedTensor(qw.values.reshape(len(w), -1), fmt)
                reference = linear_fixed(flat_x, flat_w, None, requant=self.requant)[0].values.reshape(batch, -1, 1, 1)
            else:
                reference = conv2d_fixed(qx, qw, None, requant=self.requant, **conv)[0].values
            self.reference = reference
            self.ifm, self.weights = qx.values.astype(np.int64), qw.values.astype(np.int64)
            self.frac_bits = 2 * fmt.frac_bits
            self.partial: Callable = lambda t, k, s: conv2d_int_sums(t, k, stride=s, padding=0, groups=1)
            self.finish: Callable = self._finish_fixed
        else:
            self.ifm, self.weights = x.astype(np.float32), w.astype(np.float32)
            if linear:
                self.reference = linear_f32(self.ifm.reshape(batch, -1), self.weights.reshape(len(w), -1)
                                            ).reshape(batch, -1, 1, 1)
            else:
                self.reference = conv2d_f32(self.ifm, self.weights, None, **conv)
            self.partial = lambda t, k, s: conv2d_f32(t, k, None, stride=s, padding=0, groups=1)
            self.finish = lambda acc, _och: acc
        self.ofm = np.zeros_like(self.reference)

    def _finish_fixed(self, acc: np.ndarray, _out_ch: tuple[int, int]) -> np.ndarray:
        tensor, counts = finish_accumulation(acc, self.frac_bits, self.requant)
        self.overflows += counts.output
        return tensor.values

    def math(self) -> TileMath:
        """The engine's view: DDR images and tile functions."""
        return TileMath(ifm=self.ifm, weights=self.weights, ofm=self.ofm, partial=self.partial, finish=self.finish)

    def check(self) -> tuple[bool, float]:
        """(bit exact, max |error|) of the assembled output against the direct kernel."""
        diff = np.abs(self.ofm.astype(np.float64) - self.reference.astype(np.float64))
        return bool(np.array_equal(self.ofm, self.reference)), float(diff.max(initial=0.0))


def _fixed(setup: RunSetup) -> tuple[FixedFormat, Requantizer]:
    """The design's fixed-point format and requantiser (accumulator, rounding, overflow)."""
    spec = setup.design.precision.fixed
    fmt = FixedFormat(total_bits=spec.total_bits, int_bits=spec.int_bits, signed=spec.signed)
    return fmt, Requantizer(out=fmt, rounding=spec.rounding, overflow=spec.overflow,
                            accumulator=Accumulator(bits=spec.accumulator.bits, overflow=spec.accumulator.overflow))


class _PoolData:
    """Synthetic input of one pooling layer, the direct ``ops.pool`` result and the tile op."""

    def __init__(self, setup: RunSetup, item: LayerSetup, rng: np.random.Generator):
        pool: Pool = item.layer
        batch = setup.network.batch
        x = rng.uniform(-1.0, 1.0, size=(batch, pool.channels, pool.in_h, pool.in_w))
        geometry = {"kernel": pool.kernel, "stride": pool.stride}
        whole = {**geometry, "padding": pool.padding, "ceil_mode": pool.ceil_mode}
        is_max = pool.kind is PoolKind.MAX
        self.overflows = 0
        if setup.design.precision.kind is NumberKind.FIXED:
            spec = setup.design.precision.fixed
            fmt, requant = _fixed(setup)
            qx, _ = quantize(x, fmt, rounding=spec.rounding, overflow=spec.overflow)
            ifm = qx.values.astype(np.int64)

            def direct(values: np.ndarray, window: dict) -> np.ndarray:
                tensor = FixedTensor(values.astype(fmt.storage_dtype), fmt)
                if is_max:
                    out, counts = max_pool2d_fixed(tensor, **window)
                else:
                    out, counts = avg_pool2d_fixed(tensor, requant=requant, **window)
                self.overflows += counts.output
                return out.values

            pad_value = int(fmt.min_int) if is_max else 0
        else:
            ifm = x.astype(np.float32)
            op = max_pool2d_f32 if is_max else avg_pool2d_f32

            def direct(values: np.ndarray, window: dict) -> np.ndarray:
                return op(values, **window)

            pad_value = -np.inf if is_max else 0.0

        def tile_op(window: np.ndarray, divisors: np.ndarray) -> np.ndarray:
            return direct(window, {**geometry, "padding": 0, **({} if is_max else {"divisors": divisors})})

        self.reference = direct(ifm, whole)
        self.overflows = 0  # count the emulated tiles only
        self.ofm = np.zeros_like(self.reference)
        self.pool_math = PoolMath(ifm=ifm, ofm=self.ofm, pool=tile_op, pad_value=pad_value,
                                  divisors=pool_divisors(pool.in_h, pool.in_w, **whole))

    def math(self) -> PoolMath:
        """The pooling unit's view: DDR images and the tile op."""
        return self.pool_math

    check = _LayerData.check


def _redistribution_points(setup: RunSetup) -> list[tuple[LayerSetup, list[Pool]] | None]:
    """Where the boards exchange the previous conv's outputs (:func:`exchange_pairs`): for each
    planned layer, None or ``(next conv, pools between)``. The exchange happens before the first
    emulated pool of a conv → pools → conv run (each board then pools what its next conv part
    needs), or before the conv when no pool between is emulated."""
    points: list[tuple[LayerSetup, list[Pool]] | None] = [None] * len(setup.layers)
    index_of = {item.layer.name: index for index, item in enumerate(setup.layers)}
    flat = setup.network.flat_layers()
    for position, (previous, pools) in exchange_pairs(setup.network).items():
        index = index_of[flat[position].name]
        emulated = [index_of[flat[k].name] for k in range(previous + 1, position) if flat[k].name in index_of]
        points[emulated[0] if emulated else index] = (setup.layers[index], list(pools))
    return points


def _node_plans(setup: RunSetup, graph: Graph) -> tuple[NodePlan, ...]:
    """Each planned layer as a node of the executor: on every board of its partition, after the
    layer before it, with the redistribution its partition change causes."""
    points = _redistribution_points(setup)
    batch, nbytes = setup.network.batch, setup.element_bytes
    plans, previous_parts, previous = [], None, None
    for index, item in enumerate(setup.layers):
        pool = item.kind is LayerKind.POOL
        flows: tuple[tuple[str, str, int], ...] = ()
        if previous_parts is not None and points[index] is not None:
            target, pools = points[index]
            moved = transfers(previous_parts, target.layer, board_parts(target.layer, batch, target.partition), pools)
            flows = tuple((f"board{src}", f"board{dst}", elems * nbytes) for (src, dst), elems in moved.items())
        parts = tuple(item.regions) if pool else tuple(board_parts(item.layer, batch, item.partition))
        if not pool:
            previous_parts = list(parts)
        plans.append(NodePlan(
            node=graph.node(item.layer.name), device="board0", engine=Engine.VECTOR if pool else Engine.MAC_ARRAY,
            conv=None if pool else item.layer, tiling=item.tiling, analytical_cycles=item.analytical.cycles,
            devices=tuple(f"board{i}" for i in range(len(parts))), parts=parts,
            xfer=() if pool else tuple(xfer_groups(item.partition)),
            after=() if previous is None else (previous,), redistribution=flows))
        previous = item.layer.name
    return tuple(plans)


class _LayerTable:
    """Functional mode of a layer list: each layer checked on its own seeded data (drawn in layer
    order from one generator), the data between layers timed, not carried."""

    def __init__(self, setup: RunSetup, rng: np.random.Generator):
        self.setup, self.rng = setup, rng
        self.layers = {item.layer.name: item for item in setup.layers}
        self.data: dict[str, _LayerData | _PoolData] = {}

    def begin(self, item: NodePlan) -> TileMath | PoolMath:
        layer = self.layers[item.node.name]
        maker = _PoolData if layer.kind is LayerKind.POOL else _LayerData
        data = self.data[item.node.name] = maker(self.setup, layer, self.rng)
        return data.math()

    def end(self, item: NodePlan, math: TileMath | PoolMath) -> tuple[bool, float, int]:
        data = self.data.pop(item.node.name)
        exact, error = data.check()
        return exact, error, data.overflows


def emulate(setup: RunSetup, *, functional: bool, trace: bool,
            progress: Callable[[str], None] | None = None) -> Emulation:
    """Run every planned layer (conv, FC, pooling) on the emulated boards, one after another,
    with the graph executor.

    Args:
        setup: the resolved plan.
        functional: move and compute real tile data, and check it against the direct kernel.
        trace: record a timeline (Chrome trace, Gantt chart).
        progress: called with each layer's name when it starts.
    """
    graph = Graph.from_network(setup.network)
    platform = setup.platform
    context = FpgaContext(device_id="board0", board=setup.board, design=setup.design,
                          ddr_bytes_per_s=setup.ddr_bytes_per_s, burst_bytes=setup.experiment.spec.memory.burst_bytes,
                          rates=setup.rates, bounds=setup.bounds)
    plan = GraphPlan(graph=graph, platform=platform,
                     fpgas={device.id: replace(context, device_id=device.id) for device in platform.devices},
                     nodes=_node_plans(setup, graph), word_bits=setup.design.precision.word_bits)
    values = _LayerTable(setup, np.random.default_rng(setup.experiment.spec.seed)) if functional else None
    run = execute(plan, trace=trace, values=values, progress=progress)
    batch = setup.network.batch
    result = Emulation(trace=run.trace, total_ps=run.total_ps, events=run.events, events_scheduled=run.events_scheduled)
    for item, node in zip(setup.layers, run.nodes, strict=True):
        result.layers.append(LayerEmulation(
            name=node.name, cycles=node.cycles, macs=item.layer.macs * batch, ddr_read_bytes=node.ddr_read_bytes,
            ddr_write_bytes=node.ddr_write_bytes, link_bytes=node.link_bytes, busy=node.busy,
            bottleneck=node.bottleneck, redistribution_cycles=node.redistribution_cycles,
            redistribution_bytes=node.redistribution_bytes, bit_exact=node.bit_exact,
            max_abs_error=node.max_abs_error, overflows=node.overflows))
    return result
