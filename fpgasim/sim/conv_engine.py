"""The tiled convolution engine (Zhang FPGA'15 / Super-LIP) as SimPy processes.

Owns: three concurrent processes per layer and board — *load* (IFM and weight tiles through
their DMA streams into a ping-pong input buffer), *compute* (the Tm×Tn MAC array: one pipelined
pass of ``compute_cycles`` per inner step, accumulating the output tile held on chip across the
input-channel loop) and *store* (the finished output tile through the OFM stream, from a
ping-pong output buffer). The schedule comes from :mod:`fpgasim.kernels.conv_schedule`.

In functional mode the same events carry real tiles: the loader slices them out of the
layer's DDR image, the compute process accumulates exact partial sums, the store process
finishes them (bias, accumulator width, rounding, output format) and writes them into the
output DDR image. In timing mode the payloads are ``None`` and no arithmetic runs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import PENDING, Event

from fpgasim.kernels.conv_schedule import ConvPart, InnerStep, Tiling, conv_schedule
from fpgasim.nn.layers import Conv2d
from fpgasim.ops.window import Pair
from fpgasim.sim.buffers import PingPong
from fpgasim.sim.clock import Clock
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.port import StreamPort, dma_read, start_dma_read, start_dma_write
from fpgasim.sim.trace import TraceRecorder

__all__ = ["EngineParams", "BoardFabric", "TileMath", "LayerRun", "OperandLoader", "conv_layer", "IFM", "WEIGHTS", "OFM"]

#: Stream names used on the DDR channel and the ports.
IFM, WEIGHTS, OFM = "ifm", "weights", "ofm"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineParams:
    """Timing parameters of one tiled-conv engine instance.

    Attributes:
        clock: the engine's clock domain (compute and stream ports).
        pipeline_depth_cycles: cycles to fill the MAC pipeline once per inner step.
        element_bytes: bytes per element in DDR and on the streams (fp32: 4, 16-bit: 2).
        dma_chunk_bytes: DMA pipeline granularity (one DDR transaction per chunk).
    """

    clock: Clock
    pipeline_depth_cycles: int
    element_bytes: int
    dma_chunk_bytes: int


@dataclass(slots=True, kw_only=True)
class BoardFabric:
    """The hardware of one board inside a SimPy environment.

    Attributes:
        name: board name (the trace's process).
        ddr: the DDR channel the engine's three streams share.
        ports: stream ports keyed ``"ifm"``, ``"weights"``, ``"ofm"``.
        trace: recorder or None.
    """

    name: str
    ddr: DdrChannel
    ports: dict[str, StreamPort]
    trace: TraceRecorder | None = None


@dataclass(slots=True, kw_only=True)
class TileMath:
    """Functional-mode data of one layer on one board.

    Attributes:
        ifm: the input feature map as stored in this board's DDR, (B, C, H, W).
        weights: the weights, (M, C/groups, KH, KW); or one set per sample, (B, M, C/groups, KH, KW)
            (attention's products, whose weights are the second operand of each sample or window).
        ofm: the output image the store process writes, (B, M, R, C) — full-size; only this
            board's part is written.
        partial: ``(ifm_tile (1, tn, h, w), weight_tile (tm, tn, KH, KW), stride) -> (1, tm, tr, tc)``
            exact partial sums of one inner step (``stride`` an int or (height, width)).
        finish: ``(accumulated (1, tm, tr, tc), out_ch (lo, hi)) -> stored output values``.
    """

    ifm: np.ndarray
    weights: np.ndarray
    ofm: np.ndarray
    partial: Callable[[np.ndarray, np.ndarray, Pair], np.ndarray]
    finish: Callable[[np.ndarray, tuple[int, int]], np.ndarray]


@dataclass(slots=True)
class LayerRun:
    """What one layer did on one board (filled in while it runs).

    Attributes:
        start_ps, end_ps: first load issued / last store finished.
        compute_busy_ps: time the MAC array was computing.
        steps: inner steps executed.
        macs: multiply-accumulates of this board's part.
        bytes_by_stream: bytes moved per stream name (DDR read or write, link).
    """

    start_ps: int = 0
    end_ps: int = 0
    compute_busy_ps: int = 0
    steps: int = 0
    macs: int = 0
    bytes_by_stream: dict[str, int] = field(default_factory=dict)

    def add_bytes(self, stream: str, nbytes: int) -> None:
        """Count ``nbytes`` moved on ``stream``."""
        self.bytes_by_stream[stream] = self.bytes_by_stream.get(stream, 0) + nbytes


#: Process factory that brings one step's IFM or weight tile on chip:
#: ``(step_index, step, nbytes) -> process``. The default reads the whole tile through the
#: operand's DMA stream; Super-LIP's XFER reads a share and receives the rest over links.
OperandLoader = Callable[[int, InnerStep, int], Generator[Event, object, object]]


def _all_of(env: simpy.Environment, *events: Event) -> Event:
    """``simpy.AllOf(env, events)`` without its value bookkeeping (hot path, once per step).

    Triggers at the same point as the condition would: when the last event is processed
    (or fails, like the condition, with that event's exception).

    Returns:
        An event whose value is None.
    """
    join = Event(env)
    left = [len(events)]

    def check(event: Event) -> None:
        if join._value is not PENDING:  # noqa: SLF001 - as simpy.Condition._check
            return
        if not event._ok:  # noqa: SLF001
            event._defused = True  # noqa: SLF001
            join.fail(event._value)  # noqa: SLF001
            return
        left[0] -= 1
        if left[0] == 0:
            join.succeed()

    for event in events:
        if event.callbacks is None:
            check(event)
        else:
            event.callbacks.append(check)
    return join


def _ifm_tile(math: TileMath, step: InnerStep) -> np.ndarray:
    tile = np.zeros((1, step.in_ch[1] - step.in_ch[0], step.halo_h, step.halo_w), dtype=math.ifm.dtype)
    rows = step.in_rows[1] - step.in_rows[0]
    cols = step.in_cols[1] - step.in_cols[0]
    tile[0, :, step.pad_top:step.pad_top + rows, step.pad_left:step.pad_left + cols] = math.ifm[
        step.batch, step.in_ch[0]:step.in_ch[1], step.in_rows[0]:step.in_rows[1], step.in_cols[0]:step.in_cols[1]
    ]
    return tile


def _weight_tile(math: TileMath, step: InnerStep, in_per_group: int) -> np.ndarray:
    """The step's weight tile: of the step's sample when the weights are per sample (the engine
    loads a weight tile at every step anyway, so per-sample weights cost no extra traffic)."""
    n_lo = step.in_ch[0] % in_per_group
    n_hi = n_lo + step.in_ch[1] - step.in_ch[0]
    weights = math.weights[step.batch] if math.weights.ndim == 5 else math.weights
    return weights[step.out_ch[0]:step.out_ch[1], n_lo:n_hi]


def conv_layer(
    env: simpy.Environment,
    fabric: BoardFabric,
    layer: Conv2d,
    part: ConvPart,
    tiling: Tiling,
    params: EngineParams,
    *,
    math: TileMath | None = None,
    loaders: dict[str, OperandLoader] | None = None,
) -> Generator[Event, object, LayerRun]:
    """Process: run ``part`` of ``layer`` on one board's engine; returns its :class:`LayerRun`.

    Args:
        env: SimPy environment.
        fabric: the board's DDR channel, ports and trace.
        layer: the whole convolution layer.
        part: the output region this board computes.
        tiling: tile sizes.
        params: engine timing parameters.
        math: functional-mode data, or None for timing mode.
        loaders: how ``"ifm"`` / ``"weights"`` tiles reach the chip (default: DMA of the whole
            tile from this board's DDR).
    """
    run = LayerRun(start_ps=env.now)
    steps = list(conv_schedule(layer, part, tiling, pipeline_depth_cycles=params.pipeline_depth_cycles))
    in_buf = PingPong(env, f"{fabric.name}.in_buf", depth=2, trace=fabric.trace, process=fabric.name)
    out_buf = PingPong(env, f"{fabric.name}.out_buf", depth=2, trace=fabric.trace, process=fabric.name)
    nbytes = params.element_bytes
    in_per_group = layer.in_channels // layer.groups

    def dma(stream: str) -> OperandLoader:
        def load(_index: int, _step: InnerStep, size: int) -> Generator[Event, object, None]:
            yield env.process(dma_read(env, fabric.ddr, fabric.ports[stream], stream, size,
                                       chunk_bytes=params.dma_chunk_bytes))
        return load

    load = {IFM: dma(IFM), WEIGHTS: dma(WEIGHTS), **(loaders or {})}
    # Without custom loaders both DMAs start right here, without process wrappers (fewer
    # events). Only the moment of the first request inside the instant moves; the DDR decides
    # in the LATE phase, so the same requests compete, and ifm still registers before weights.
    # (Custom loaders keep their processes: their first requests come at process start.)
    direct = not loaders

    def loader() -> Generator[Event, object, None]:
        for index, step in enumerate(steps):
            yield in_buf.reserve()
            ifm_bytes = step.ifm_elems * nbytes
            w_bytes = step.weight_elems(layer.kernel_h, layer.kernel_w) * nbytes
            if direct:
                ifm = start_dma_read(fabric.ddr, fabric.ports[IFM], IFM, ifm_bytes, chunk_bytes=params.dma_chunk_bytes)
                weights = start_dma_read(fabric.ddr, fabric.ports[WEIGHTS], WEIGHTS, w_bytes,
                                         chunk_bytes=params.dma_chunk_bytes)
            else:
                ifm = env.process(load[IFM](index, step, ifm_bytes))
                weights = env.process(load[WEIGHTS](index, step, w_bytes))
            yield _all_of(env, ifm, weights)
            run.add_bytes(IFM, ifm_bytes)
            run.add_bytes(WEIGHTS, w_bytes)
            payload = None
            if math is not None:
                payload = (_ifm_tile(math, step), _weight_tile(math, step, in_per_group))
            in_buf.fill(payload)

    def compute() -> Generator[Event, object, None]:
        acc = None
        for step in steps:
            tiles = yield in_buf.get()
            if step.first:
                yield out_buf.reserve()
            start = env.now
            yield env.timeout(params.clock.delay_ps(env.now, step.compute_cycles))
            run.compute_busy_ps += env.now - start
            if fabric.trace is not None:
                fabric.trace.span(f"{fabric.name}.compute", f"step {run.steps}", start, env.now,
                                  process=fabric.name, args={"cycles": step.compute_cycles})
            run.steps += 1
            tm = step.out_ch[1] - step.out_ch[0]
            run.macs += tm * (step.in_ch[1] - step.in_ch[0]) * (step.compute_cycles - params.pipeline_depth_cycles)
            if math is not None:
                partial = math.partial(tiles[0], tiles[1], layer.stride)
                acc = partial if step.first else acc + partial
            in_buf.release()
            if step.last:
                out_buf.fill(acc)
                acc = None

    def store() -> Generator[Event, object, None]:
        for step in (s for s in steps if s.last):
            acc = yield out_buf.get()
            ofm_bytes = step.ofm_elems * nbytes
            yield start_dma_write(fabric.ddr, fabric.ports[OFM], OFM, ofm_bytes, chunk_bytes=params.dma_chunk_bytes)
            run.add_bytes(OFM, ofm_bytes)
            if math is not None:
                math.ofm[step.batch:step.batch + 1, step.out_ch[0]:step.out_ch[1],
                         step.out_rows[0]:step.out_rows[1], step.out_cols[0]:step.out_cols[1]] = math.finish(acc, step.out_ch)
            out_buf.release()

    processes = [env.process(loader()), env.process(compute()), env.process(store())]
    yield simpy.AllOf(env, processes)
    run.end_ps = env.now
    return run
