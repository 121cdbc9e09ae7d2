"""The dsODENet PL engine and its Arm host as SimPy processes (timing mode).

Owns: the inference plan of an ODE network split between the processing system (PS, the Arm
cores) and the on-chip engine (PL) — :class:`PlLayer`, :class:`PlBlock`, :class:`CpuSegment`,
:class:`PlSegment`, :class:`OdePlan` —, the per-layer cycle counts of the engine
(:func:`layer_cycles`), the tiling check (:func:`check_tiling`) and the process
:func:`ode_inference` that runs a plan.

Engine (after dsODENet, Kawakami et al. 2022/2023; the design type of
``fpgasim.kernels.dsc_ode``): a depthwise unit processing ``dw_channels`` channels × a full K×K
window per cycle and a pointwise unit of ``pw_in × pw_out`` MACs; a dense K×K convolution runs
on the pointwise unit as K² passes. Cycles of one layer pass (``P`` = pipeline depth)::

    depthwise: ⌈C/dw⌉ · OH · OW + P
    pointwise: ⌈Cin/pw_in⌉ · ⌈Cout/pw_out⌉ · OH · OW + P
    dense K×K: K² · ⌈Cin/pw_in⌉ · ⌈Cout/pw_out⌉ · OH · OW + P
    Euler update z += h·f: ⌈C·H·W / max(dw, pw_in, pw_out)⌉ + P  (one lane per feature-map bank)

Units run one after the other (no dataflow overlap between layers). Weights of every on-chip
block are read ONCE over the PS–PL port (DDR → HP port) before the first image and then stay on
chip for every Euler step and image; per image, the feature map entering the PL is DMA'd in and
the one leaving it DMA'd out; the PS layers are timeouts whose lengths the caller computed
(a CPU model). Everything runs sequentially per image, as a PYNQ-style driver does.

State spill: a block whose feature maps do not fit on chip (the caller decides, from the fit
model) keeps its weights on chip but its state in DDR: every evaluation (Euler step) first
reads the block's input state through the port (``spill_in_elems``) and, after computing,
writes its output state back (``spill_out_elems``), both through the same DMA port.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from enum import StrEnum

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.sim.clock import Clock
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.port import StreamPort, dma_read, dma_write
from fpgasim.sim.trace import TraceRecorder

__all__ = ["PlLayerKind", "PlLayer", "PlBlock", "CpuSegment", "PlSegment", "OdePlan", "OdeEngineParams",
           "OdeFabric", "OdeRun", "layer_cycles", "update_cycles", "check_tiling", "ode_inference"]

WEIGHTS, IFM, OFM = "weights", "ifm", "ofm"


class PlLayerKind(StrEnum):
    """Which unit runs a layer."""

    DEPTHWISE = "depthwise"
    POINTWISE = "pointwise"
    DENSE = "dense"


def _pos(owner: str, field_name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadArgument(f"{owner}: {field_name}={value!r}: expected an integer >= {minimum}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlLayer:
    """One convolution pass on the engine (shapes in channels and pixels)."""

    name: str
    kind: PlLayerKind
    in_channels: int
    out_channels: int
    kernel: int
    out_h: int
    out_w: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PlLayerKind(self.kind))
        for name in ("in_channels", "out_channels", "kernel", "out_h", "out_w"):
            _pos(f"PL layer {self.name!r}", name, getattr(self, name))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlBlock:
    """A top-level block on the PL: its layers, run ``evals`` times (ODE: steps × evals per step).

    Attributes:
        name: block name. layers: the passes of one evaluation. evals: evaluations (≥ 1).
        update_elems: elements of the state updated after each evaluation (0 for a plain block).
        weight_elems: weights + biases kept on chip.
        spill_in_elems, spill_out_elems: 0 (default) when the state stays on chip; otherwise the
            elements read from DDR before and written back after every evaluation.
    """

    name: str
    layers: tuple[PlLayer, ...]
    evals: int
    update_elems: int
    weight_elems: int
    spill_in_elems: int = 0
    spill_out_elems: int = 0

    def __post_init__(self) -> None:
        _pos(f"PL block {self.name!r}", "evals", self.evals)
        for name in ("update_elems", "spill_in_elems", "spill_out_elems"):
            _pos(f"PL block {self.name!r}", name, getattr(self, name), 0)

    @property
    def spilled(self) -> bool:
        """True when the block's state lives in DDR between evaluations."""
        return bool(self.spill_in_elems or self.spill_out_elems)


@dataclass(frozen=True, slots=True, kw_only=True)
class CpuSegment:
    """Work on the Arm cores: ``duration_ps`` from the CPU model."""

    name: str
    duration_ps: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlSegment:
    """Consecutive blocks on the PL: feature map in (``in_elems``), blocks, feature map out."""

    blocks: tuple[PlBlock, ...]
    in_elems: int
    out_elems: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OdePlan:
    """The per-image sequence of CPU and PL segments."""

    segments: tuple[CpuSegment | PlSegment, ...]

    @property
    def weight_elems(self) -> int:
        """Weights + biases of every PL block (loaded once)."""
        return sum(b.weight_elems for s in self.segments if isinstance(s, PlSegment) for b in s.blocks)


@dataclass(frozen=True, slots=True, kw_only=True)
class OdeEngineParams:
    """Timing parameters of the engine.

    Attributes:
        clock: engine clock domain. dw_channels, pw_in, pw_out: unit parallelism.
        pipeline_depth_cycles: fill latency of each pass. element_bytes: bytes per value on the
        PS–PL transfers. dma_chunk_bytes: DMA pipelining granularity.
    """

    clock: Clock
    dw_channels: int
    pw_in: int
    pw_out: int
    pipeline_depth_cycles: int
    element_bytes: int
    dma_chunk_bytes: int

    def __post_init__(self) -> None:
        for name in ("dw_channels", "pw_in", "pw_out", "element_bytes", "dma_chunk_bytes"):
            _pos("OdeEngineParams", name, getattr(self, name))
        _pos("OdeEngineParams", "pipeline_depth_cycles", self.pipeline_depth_cycles, 0)


@dataclass(slots=True, kw_only=True)
class OdeFabric:
    """The PS DDR channel and the PS–PL port the engine's DMA uses, plus an optional trace."""

    ddr: DdrChannel
    port: StreamPort
    trace: TraceRecorder | None = None


@dataclass(slots=True)
class OdeRun:
    """What a run did: weight-load time and, per image, latency and time per segment name (ps)."""

    weights_ps: int = 0
    image_ps: list[int] = field(default_factory=list)
    breakdown_ps: dict[str, int] = field(default_factory=dict)
    pl_cycles: int = 0

    def add(self, name: str, ps: int) -> None:
        """Add ``ps`` to the breakdown entry ``name``."""
        self.breakdown_ps[name] = self.breakdown_ps.get(name, 0) + ps


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def layer_cycles(layer: PlLayer, params: OdeEngineParams) -> int:
    """Cycles of one pass of ``layer`` (module docstring formulas)."""
    pixels = layer.out_h * layer.out_w
    if layer.kind is PlLayerKind.DEPTHWISE:
        work = _ceil(layer.in_channels, params.dw_channels) * pixels
    else:
        work = _ceil(layer.in_channels, params.pw_in) * _ceil(layer.out_channels, params.pw_out) * pixels
        if layer.kind is PlLayerKind.DENSE:
            work *= layer.kernel ** 2
    return work + params.pipeline_depth_cycles


def update_cycles(elems: int, params: OdeEngineParams) -> int:
    """Cycles of one state update over ``elems`` elements (0 when there is none)."""
    if elems == 0:
        return 0
    return _ceil(elems, max(params.dw_channels, params.pw_in, params.pw_out)) + params.pipeline_depth_cycles


def check_tiling(layers: tuple[PlLayer, ...], params: OdeEngineParams) -> None:
    """The engine's unrolled units need whole channel groups: every channel count a multiple.

    Raises:
        BadArgument: naming the layer, the channel count and the parallelism it must divide.
    """
    for layer in layers:
        if layer.kind is PlLayerKind.DEPTHWISE:
            pairs = (("channels", layer.in_channels, "dw_channels", params.dw_channels),)
        else:
            pairs = (("in_channels", layer.in_channels, "pw_in", params.pw_in),
                     ("out_channels", layer.out_channels, "pw_out", params.pw_out))
        for what, value, knob, par in pairs:
            if value % par:
                raise BadArgument(f"layer {layer.name!r}: {what}={value} is not a multiple of the engine's "
                                  f"{knob}={par}; the engine cannot tile it (choose channels divisible by {par})")


def _spilled_evals(env: simpy.Environment, fabric: OdeFabric, block: PlBlock, params: OdeEngineParams,
                   per_eval: int, span) -> Generator[Event, object, None]:
    """Every evaluation of a spilled block: state in from DDR, compute, state back to DDR."""
    eb, chunk = params.element_bytes, params.dma_chunk_bytes
    for _ in range(block.evals):
        start = env.now
        if block.spill_in_elems:
            yield env.process(dma_read(env, fabric.ddr, fabric.port, IFM, block.spill_in_elems * eb, chunk_bytes=chunk))
        span("pl.dma", f"spill {block.name}", start)
        start = env.now
        yield env.timeout(params.clock.delay_ps(env.now, per_eval))
        span("pl.engine", f"pl {block.name}", start)
        start = env.now
        if block.spill_out_elems:
            yield env.process(dma_write(env, fabric.ddr, fabric.port, OFM, block.spill_out_elems * eb,
                                        chunk_bytes=chunk))
        span("pl.dma", f"spill {block.name}", start)


def ode_inference(env: simpy.Environment, fabric: OdeFabric, plan: OdePlan, params: OdeEngineParams, *,
                  images: int) -> Generator[Event, object, OdeRun]:
    """Process: load the PL weights once, then run ``images`` inferences of ``plan`` back to back.

    Args:
        env: SimPy environment (``env.now`` in ps).
        fabric: PS DDR channel, PS–PL port, trace.
        plan: the segments of one inference.
        params: engine timing parameters.
        images: inferences to run (≥ 1).

    Returns:
        The :class:`OdeRun` (per-image latency excludes the one-time weight load).

    Raises:
        BadArgument: images < 1, or a PL layer the engine cannot tile.
    """
    _pos("ode_inference", "images", images)
    for segment in plan.segments:
        if isinstance(segment, PlSegment):
            for block in segment.blocks:
                check_tiling(block.layers, params)
    run = OdeRun()
    eb, chunk = params.element_bytes, params.dma_chunk_bytes
    trace = fabric.trace

    def span(track: str, name: str, start: int) -> None:
        run.add(name, env.now - start)
        if trace is not None:
            trace.span(track, name, start, env.now, process="zynq")

    start = env.now
    if plan.weight_elems:
        yield env.process(dma_read(env, fabric.ddr, fabric.port, WEIGHTS, plan.weight_elems * eb, chunk_bytes=chunk))
    run.weights_ps = env.now - start
    for _ in range(images):
        image_start = env.now
        for segment in plan.segments:
            if isinstance(segment, CpuSegment):
                start = env.now
                yield env.timeout(segment.duration_ps)
                span("ps.cpu", f"cpu {segment.name}", start)
                continue
            start = env.now
            yield env.process(dma_read(env, fabric.ddr, fabric.port, IFM, segment.in_elems * eb, chunk_bytes=chunk))
            span("pl.dma", "dma PS->PL", start)
            for block in segment.blocks:
                start = env.now
                per_eval = sum(layer_cycles(layer, params) for layer in block.layers) \
                    + update_cycles(block.update_elems, params)
                if block.spilled:
                    yield from _spilled_evals(env, fabric, block, params, per_eval, span)
                else:
                    for _ in range(block.evals):
                        yield env.timeout(params.clock.delay_ps(env.now, per_eval))
                    span("pl.engine", f"pl {block.name}", start)
                run.pl_cycles += per_eval * block.evals
            start = env.now
            yield env.process(dma_write(env, fabric.ddr, fabric.port, OFM, segment.out_elems * eb, chunk_bytes=chunk))
            span("pl.dma", "dma PL->PS", start)
        run.image_ps.append(env.now - image_start)
    return run
