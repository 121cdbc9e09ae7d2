"""Run a planned network on the emulator: one SimPy environment, every board, layer by layer.

Owns: turning a :class:`~fpgasim.study.experiment.setup.RunSetup` into a cluster of boards, cutting each
layer into the boards' parts (Pb, Pr, Pc, Pm), wiring XFER where boards share an operand,
running the layers one after another (a layer starts when every board finished the previous
one and, if the partition changed, the outputs it needs have crossed the links — before the
pooling layers in between, which run where their input is), the functional data of each layer
and its bit-exact check (conv: the direct conv kernel; FC: ``ops.linear``; pooling:
``ops.pool``), and measuring per layer: cycles, bytes, busy time of every resource and the
emulator's bottleneck label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import simpy

from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Requantizer, finish_accumulation, quantize
from fpgasim.kernels import NumberKind
from fpgasim.kernels.conv_schedule import count_tiles
from fpgasim.nn import Pool, PoolKind
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_int_sums
from fpgasim.ops.linear import linear_f32, linear_fixed
from fpgasim.ops.pool import avg_pool2d_f32, avg_pool2d_fixed, max_pool2d_f32, max_pool2d_fixed
from fpgasim.sim import Clock, TraceRecorder, processed_events
from fpgasim.sim.cluster import BoardSpec, Cluster, LinkSpec
from fpgasim.sim.conv_engine import EngineParams, LayerRun, TileMath, conv_layer
from fpgasim.sim.pool_engine import PoolMath, pool_layer
from fpgasim.mapping.redistribute import transfers
from fpgasim.mapping.parts import board_parts, xfer_groups
from fpgasim.study.experiment.setup import LayerKind, LayerSetup, RunSetup

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
        fan_in = (layer.in_channels // layer.groups) * layer.kernel ** 2
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(layer.out_channels, layer.in_channels // layer.groups,
                                                         layer.kernel, layer.kernel))
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
        is_max = pool.kind is PoolKind.MAX
        self.overflows = 0
        if setup.design.precision.kind is NumberKind.FIXED:
            spec = setup.design.precision.fixed
            fmt, requant = _fixed(setup)
            qx, _ = quantize(x, fmt, rounding=spec.rounding, overflow=spec.overflow)
            ifm = qx.values.astype(np.int64)

            def direct(values: np.ndarray, padding: int) -> np.ndarray:
                tensor = FixedTensor(values.astype(fmt.storage_dtype), fmt)
                if is_max:
                    out, counts = max_pool2d_fixed(tensor, padding=padding, **geometry)
                else:
                    out, counts = avg_pool2d_fixed(tensor, padding=padding, requant=requant, **geometry)
                self.overflows += counts.output
                return out.values

            pad_value = int(fmt.min_int) if is_max else 0
        else:
            ifm = x.astype(np.float32)
            op = max_pool2d_f32 if is_max else avg_pool2d_f32

            def direct(values: np.ndarray, padding: int) -> np.ndarray:
                return op(values, padding=padding, **geometry)

            pad_value = -np.inf if is_max else 0.0
        self.reference = direct(ifm, pool.padding)
        self.overflows = 0  # count the emulated tiles only
        self.ofm = np.zeros_like(self.reference)
        self.pool_math = PoolMath(ifm=ifm, ofm=self.ofm, pool=lambda window: direct(window, 0), pad_value=pad_value)

    def math(self) -> PoolMath:
        """The pooling unit's view: DDR images and the tile op."""
        return self.pool_math

    check = _LayerData.check


def _cluster(env: simpy.Environment, setup: RunSetup, clock: Clock, trace: TraceRecorder | None) -> Cluster:
    spec = setup.experiment.spec
    design = setup.design
    widths = {"ifm": design.stream_width_bits.ifm, "weights": design.stream_width_bits.weights,
              "ofm": design.stream_width_bits.ofm}
    board = BoardSpec(ddr_bytes_per_s=int(setup.ddr_bytes_per_s), burst_bytes=spec.memory.burst_bytes,
                      stream_width_bits=widths)
    link = None
    if setup.link is not None:
        # XFER forwards the weight stream's beats: the link carries at most one stream width per cycle.
        stream_bits_per_s = design.stream_width_bits.weights * int(round(design.clock_mhz * 1e6))
        rate = min(int(setup.link.effective_gbps * 1e9), stream_bits_per_s)
        latency_ps = int(round(setup.link.fixed_latency_ns(spec.cluster.cable_length_m) * 1000))
        link = LinkSpec(effective_bits_per_s=rate, fixed_latency_ps=latency_ps,
                        packet_bytes=spec.cluster.packet_bytes, fifo_bytes=spec.cluster.fifo_bytes)
    return Cluster.build(env, boards=setup.boards, board=board, clock=clock, link=link,
                         topology=str(spec.cluster.topology), trace=trace)


def _redistribution_points(setup: RunSetup) -> list[tuple[LayerSetup, list[Pool]] | None]:
    """Where the boards exchange the previous conv's outputs: for each planned layer, None or
    ``(next conv, pools between)``. The exchange happens before the first pool of a conv → pools →
    conv run (each board then pools what its next conv part needs), or before the conv when no
    pool is between. Never in an unchained layer table, after an FC layer or across another
    layer kind."""
    points: list[tuple[LayerSetup, list[Pool]] | None] = [None] * len(setup.layers)
    if not setup.network.chained:
        return points
    index_of = {item.layer.name: index for index, item in enumerate(setup.layers)}
    after_conv, first_pool, pools = False, None, []
    for layer in setup.network.flat_layers():
        index = index_of.get(layer.name)
        item = setup.layers[index] if index is not None else None
        if item is not None and item.kind is LayerKind.POOL:
            first_pool = index if first_pool is None else first_pool
            pools.append(layer)
            continue
        if item is None and isinstance(layer, Pool):  # not emulated: mapped through where it runs
            pools.append(layer)
            continue
        is_conv = item is not None and item.kind is LayerKind.CONV
        if is_conv and after_conv:
            points[index if first_pool is None else first_pool] = (item, pools)
        after_conv, first_pool, pools = is_conv, None, []
    return points


def _redistribute(env: simpy.Environment, cluster: Cluster, flows: dict[tuple[int, int], int],
                  element_bytes: int, layer: str) -> simpy.events.ProcessGenerator:
    events = [cluster.transfer(src, dst, f"redistribute:{layer}", elems * element_bytes)
              for (src, dst), elems in flows.items()]
    yield simpy.AllOf(env, events)


def _busy(cluster: Cluster, before: dict[str, int], runs: dict[int, LayerRun], span_ps: int,
          unit: str = "compute") -> dict[str, float]:
    now = _busy_totals(cluster)
    busy = {name: (now[name] - before.get(name, 0)) / span_ps for name in now}
    for index, run in sorted(runs.items()):
        busy[f"board{index}.{unit}"] = run.compute_busy_ps / span_ps
    return busy


def _busy_totals(cluster: Cluster) -> dict[str, int]:
    totals = {}
    for fabric in cluster.fabrics:
        totals[fabric.ddr.name] = fabric.ddr.busy_ps()
        for port in fabric.ports.values():
            totals[port.name] = port.busy_ps()
    totals.update(cluster.link_busy_ps())
    return totals


def _ddr_bytes(cluster: Cluster) -> tuple[int, int]:
    read = written = 0
    for fabric in cluster.fabrics:
        for stats in fabric.ddr.stats().values():
            read += stats.bytes_read
            written += stats.bytes_written
    return read, written


def emulate(setup: RunSetup, *, functional: bool, trace: bool,
            progress: Callable[[str], None] | None = None) -> Emulation:
    """Run every planned layer (conv, FC, pooling) on the emulated cluster.

    Args:
        setup: the resolved plan.
        functional: move and compute real tile data, and check it against the direct kernel.
        trace: record a timeline (Chrome trace, Gantt chart).
        progress: called with each layer's name when it starts.
    """
    env = simpy.Environment()
    clock = Clock(Fraction(setup.design.clock_mhz).limit_denominator(10**6) * 10**6)
    recorder = TraceRecorder() if trace else None
    cluster = _cluster(env, setup, clock, recorder)
    params = EngineParams(clock=clock, pipeline_depth_cycles=setup.design.pipeline_depth_cycles,
                          element_bytes=setup.element_bytes, dma_chunk_bytes=setup.experiment.spec.memory.burst_bytes)
    rng = np.random.default_rng(setup.experiment.spec.seed)
    result = Emulation(trace=recorder)

    points = _redistribution_points(setup)
    batch = setup.network.batch

    def start_procs(item: LayerSetup, data) -> dict[int, simpy.events.Process]:
        """Each board's process for ``item`` (key: board index; boards with nothing to do idle)."""
        if item.kind is LayerKind.POOL:
            lanes = setup.design.pooling_lanes
            return {i: env.process(pool_layer(env, cluster.fabrics[i], item.layer, region, item.pool_tiling(), params,
                                              lanes=lanes, math=data.math() if data else None))
                    for i, region in enumerate(item.regions) if not region.is_empty}
        parts = board_parts(item.layer, batch, item.partition)
        loaders: list[dict] = [{} for _ in parts]
        tiling = item.schedule_tiling()
        for group in xfer_groups(item.partition):
            # XFER exchanges tile k for tile k: only boards that walk the same number of
            # steps can share (uneven parts read the whole operand themselves).
            if len({count_tiles(item.layer, parts[board], tiling) for board in group.members}) == 1:
                for board in group.members:
                    loaders[board][group.operand] = cluster.xfer_loader(board, group, params, item.layer.name)
        return {i: env.process(conv_layer(env, cluster.fabrics[i], item.layer, part, tiling, params,
                                          math=data.math() if data else None, loaders=loaders[i]))
                for i, part in enumerate(parts) if not part.is_empty}

    def run_layers() -> simpy.events.ProcessGenerator:
        previous_parts = None
        for index, item in enumerate(setup.layers):
            if progress is not None:
                progress(item.layer.name)
            pool = item.kind is LayerKind.POOL
            if functional:
                data = _PoolData(setup, item, rng) if pool else _LayerData(setup, item, rng)
            else:
                data = None
            moved_start, moved_bytes = env.now, cluster.link_bytes()
            if previous_parts is not None and points[index] is not None:
                target, pools = points[index]
                flows = transfers(previous_parts, target.layer, board_parts(target.layer, batch, target.partition),
                                  pools)
                if flows:
                    yield env.process(_redistribute(env, cluster, flows, params.element_bytes, target.layer.name))
            if not pool:
                previous_parts = board_parts(item.layer, batch, item.partition)
            redistribution = (clock.cycles_between(moved_start, env.now), cluster.link_bytes() - moved_bytes)
            before_busy, before_bytes, before_link = _busy_totals(cluster), _ddr_bytes(cluster), cluster.link_bytes()
            start = env.now
            procs = start_procs(item, data)
            done = yield simpy.AllOf(env, list(procs.values()))
            span = max(env.now - start, 1)
            busy = _busy(cluster, before_busy, {i: done[p] for i, p in procs.items()}, span,
                         unit="pool" if pool else "compute")
            read, written = _ddr_bytes(cluster)
            exact, error = data.check() if data else (None, None)
            result.layers.append(LayerEmulation(
                name=item.layer.name, cycles=clock.cycles_between(start, env.now),
                macs=item.layer.macs * batch,
                ddr_read_bytes=read - before_bytes[0], ddr_write_bytes=written - before_bytes[1],
                link_bytes=cluster.link_bytes() - before_link, busy=busy,
                bottleneck=max(sorted(busy), key=lambda name: busy[name]),
                redistribution_cycles=redistribution[0], redistribution_bytes=redistribution[1],
                bit_exact=exact, max_abs_error=error, overflows=data.overflows if data else None))
        result.total_ps = env.now

    env.process(run_layers())
    env.run()
    result.events_scheduled = next(env._eid)  # noqa: SLF001 - SimPy's event id counter
    result.events = processed_events(env)
    if len(result.layers) != len(setup.layers):
        stuck = setup.layers[len(result.layers)].layer.name
        raise RuntimeError(f"emulation stopped in layer {stuck}: its processes wait on each other (a bug)")
    return result
