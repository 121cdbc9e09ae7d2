"""Run a planned network on the emulator: one SimPy environment, every board, layer by layer.

Owns: turning a :class:`~fpgasim.study.setup.RunSetup` into a cluster of boards, cutting each
layer into the boards' parts (Pb, Pr, Pc, Pm), wiring XFER where boards share an operand,
running the layers one after another (a layer starts when every board finished the previous
one and, if the partition changed, the outputs it needs have crossed the links), the functional data of each layer and its bit-exact check, and measuring per layer:
cycles, bytes, busy time of every resource and the emulator's bottleneck label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import simpy

from fpgasim.fixedpoint import Accumulator, FixedFormat, Requantizer, finish_accumulation, quantize
from fpgasim.kernels import NumberKind
from fpgasim.kernels.conv_schedule import ConvPart, count_tiles
from fpgasim.mapping import Partition
from fpgasim.nn import Conv2d, Pool
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_int_sums
from fpgasim.sim import Clock, TraceRecorder
from fpgasim.sim.cluster import BoardSpec, Cluster, LinkSpec, XferGroup
from fpgasim.sim.conv_engine import IFM, OFM, WEIGHTS, EngineParams, LayerRun, TileMath, conv_layer
from fpgasim.study.redistribute import transfers
from fpgasim.study.setup import LayerSetup, RunSetup

__all__ = ["LayerEmulation", "Emulation", "emulate", "board_parts"]


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
    #: SimPy events scheduled during the run (the emulator benchmark's denominator).
    events: int = 0


def _split(lo: int, hi: int, parts: int, index: int) -> tuple[int, int]:
    """The ``index``-th of ``parts`` contiguous pieces of [lo, hi), ⌈n/parts⌉ each (last shorter)."""
    size = -(-(hi - lo) // parts)
    return (min(lo + index * size, hi), min(lo + (index + 1) * size, hi))


def board_parts(layer: Conv2d, batch: int, partition: Partition) -> list[ConvPart]:
    """Each board's output region; board index = ((b·Pr + r)·Pc + c)·Pm + m."""
    whole = ConvPart.whole(layer, batch=batch)
    parts = []
    for b in range(partition.pb):
        for r in range(partition.pr):
            for c in range(partition.pc):
                for m in range(partition.pm):
                    parts.append(ConvPart(batch=_split(*whole.batch, partition.pb, b),
                                          out_rows=_split(*whole.out_rows, partition.pr, r),
                                          out_cols=_split(*whole.out_cols, partition.pc, c),
                                          out_ch=_split(*whole.out_ch, partition.pm, m)))
    return parts


def _xfer_groups(partition: Partition) -> list[XferGroup]:
    """Boards that share weights (same channel part) and boards that share inputs (same spatial part)."""
    groups = []
    boards = partition.pb * partition.pr * partition.pc * partition.pm
    if partition.spatial > 1:
        for m in range(partition.pm):
            groups.append(XferGroup(WEIGHTS, tuple(i for i in range(boards) if i % partition.pm == m)))
    if partition.pm > 1:
        for s in range(partition.spatial):
            groups.append(XferGroup(IFM, tuple(range(s * partition.pm, (s + 1) * partition.pm))))
    return groups


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
        if precision.kind is NumberKind.FIXED:
            spec = precision.fixed
            fmt = FixedFormat(total_bits=spec.total_bits, int_bits=spec.int_bits, signed=spec.signed)
            self.requant = Requantizer(out=fmt, rounding=spec.rounding, overflow=spec.overflow,
                                       accumulator=Accumulator(bits=spec.accumulator.bits,
                                                               overflow=spec.accumulator.overflow))
            qx, _ = quantize(x, fmt, rounding=spec.rounding, overflow=spec.overflow)
            qw, _ = quantize(w, fmt, rounding=spec.rounding, overflow=spec.overflow)
            reference, _ = conv2d_fixed(qx, qw, None, requant=self.requant, **conv)
            self.reference = reference.values
            self.ifm, self.weights = qx.values.astype(np.int64), qw.values.astype(np.int64)
            self.frac_bits = 2 * fmt.frac_bits
            self.partial: Callable = lambda t, k, s: conv2d_int_sums(t, k, stride=s, padding=0, groups=1)
            self.finish: Callable = self._finish_fixed
        else:
            self.ifm, self.weights = x.astype(np.float32), w.astype(np.float32)
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
        latency = setup.link.latency_ns
        latency_ps = int(round((latency.endpoint_fixed + latency.software
                                + latency.per_meter * spec.cluster.cable_length_m) * 1000))
        link = LinkSpec(effective_bits_per_s=rate, fixed_latency_ps=latency_ps,
                        packet_bytes=spec.cluster.packet_bytes, fifo_bytes=spec.cluster.fifo_bytes)
    return Cluster.build(env, boards=setup.boards, board=board, clock=clock, link=link,
                         topology=str(spec.cluster.topology), trace=trace)


def _pools_between(setup: RunSetup) -> list[list[Pool] | None]:
    """For each planned conv layer, the pooling layers since the previous one (None: no
    redistribution — the first layer, an unchained layer table, or another layer kind between)."""
    if not setup.network.chained:
        return [None] * len(setup.layers)
    conv_names = [item.layer.name for item in setup.layers]
    result: list[list[Pool] | None] = []
    between: list[object] = []
    seen_conv = False
    for layer in setup.network.flat_layers():
        if getattr(layer, "name", None) in conv_names:
            ok = seen_conv and all(isinstance(x, Pool) for x in between)
            result.append(list(between) if ok else None)
            between, seen_conv = [], True
        else:
            between.append(layer)
    return result


def _redistribute(env: simpy.Environment, cluster: Cluster, flows: dict[tuple[int, int], int],
                  element_bytes: int, layer: str) -> simpy.events.ProcessGenerator:
    events = [cluster.transfer(src, dst, f"redistribute:{layer}", elems * element_bytes)
              for (src, dst), elems in flows.items()]
    yield simpy.AllOf(env, events)


def _busy(cluster: Cluster, before: dict[str, int], runs: list[LayerRun], span_ps: int) -> dict[str, float]:
    now = _busy_totals(cluster)
    busy = {name: (now[name] - before.get(name, 0)) / span_ps for name in now}
    for index, run in enumerate(runs):
        busy[f"board{index}.compute"] = run.compute_busy_ps / span_ps
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
    """Run every planned conv layer on the emulated cluster.

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

    pools = _pools_between(setup)

    def run_layers() -> simpy.events.ProcessGenerator:
        previous_parts = None
        for index, item in enumerate(setup.layers):
            if progress is not None:
                progress(item.layer.name)
            data = _LayerData(setup, item, rng) if functional else None
            parts = board_parts(item.layer, setup.network.batch, item.partition)
            moved_start, moved_bytes = env.now, cluster.link_bytes()
            if previous_parts is not None and pools[index] is not None:
                flows = transfers(previous_parts, item.layer, parts, pools[index])
                if flows:
                    yield env.process(_redistribute(env, cluster, flows, params.element_bytes, item.layer.name))
            previous_parts = parts
            redistribution = (clock.cycles_between(moved_start, env.now), cluster.link_bytes() - moved_bytes)
            before_busy, before_bytes, before_link = _busy_totals(cluster), _ddr_bytes(cluster), cluster.link_bytes()
            start = env.now
            loaders: list[dict] = [{} for _ in parts]
            tiling = item.schedule_tiling()
            for group in _xfer_groups(item.partition):
                # XFER exchanges tile k for tile k: only boards that walk the same number of
                # steps can share (uneven parts read the whole operand themselves).
                if len({count_tiles(item.layer, parts[board], tiling) for board in group.members}) == 1:
                    for board in group.members:
                        loaders[board][group.operand] = cluster.xfer_loader(board, group, params, item.layer.name)
            procs = [env.process(conv_layer(env, cluster.fabrics[i], item.layer, part, item.schedule_tiling(), params,
                                            math=data.math() if data else None, loaders=loaders[i]))
                     for i, part in enumerate(parts) if not part.is_empty]
            runs = yield simpy.AllOf(env, procs)
            span = max(env.now - start, 1)
            busy = _busy(cluster, before_busy, [runs[p] for p in procs], span)
            read, written = _ddr_bytes(cluster)
            exact, error = data.check() if data else (None, None)
            result.layers.append(LayerEmulation(
                name=item.layer.name, cycles=clock.cycles_between(start, env.now),
                macs=item.layer.macs * setup.network.batch,
                ddr_read_bytes=read - before_bytes[0], ddr_write_bytes=written - before_bytes[1],
                link_bytes=cluster.link_bytes() - before_link, busy=busy,
                bottleneck=max(sorted(busy), key=lambda name: busy[name]),
                redistribution_cycles=redistribution[0], redistribution_bytes=redistribution[1],
                bit_exact=exact, max_abs_error=error, overflows=data.overflows if data else None))
        result.total_ps = env.now

    env.process(run_layers())
    env.run()
    result.events = next(env._eid)  # SimPy's event sequence counter: events scheduled so far
    if len(result.layers) != len(setup.layers):
        stuck = setup.layers[len(result.layers)].layer.name
        raise RuntimeError(f"emulation stopped in layer {stuck}: its processes wait on each other (a bug)")
    return result
