"""The dsODENet PL engine as SimPy processes (timing mode), for the graph executor's ``Engine.ODE``.

Owns: the engine's work — :class:`PlLayer`, :class:`PlBlock`, and :class:`OdeWork` (what one
executor node does on it) —, the per-layer cycle counts of the engine (:func:`layer_cycles`,
:func:`eval_cycles`), the tiling check (:func:`check_tiling`) and the process :func:`ode_node`
that runs one node's work on the device's DDR channel and host port (:class:`OdeFabric`).

Engine (after dsODENet, Kawakami et al. 2022/2023; the design type of
``fpgasim.kernels.dsc_ode``): a depthwise unit processing ``dw_channels`` channels × a full K×K
window per cycle and a pointwise unit of ``pw_in × pw_out`` MACs; a dense K×K convolution runs
on the pointwise unit as K² passes. Cycles of one layer pass (``P`` = pipeline depth)::

    depthwise: ⌈C/dw⌉ · OH · OW + P
    pointwise: ⌈Cin/pw_in⌉ · ⌈Cout/pw_out⌉ · OH · OW + P
    dense K×K: K² · ⌈Cin/pw_in⌉ · ⌈Cout/pw_out⌉ · OH · OW + P
    Euler update z += h·f: ⌈C·H·W / max(dw, pw_in, pw_out)⌉ + P  (one lane per feature-map bank)

Units run one after the other (no dataflow overlap between layers). Every transfer between the
PS and the engine is a DMA over the host port (DDR → port, or back): the one-time weight load
(a node of its own, before the first image: weights then stay on chip), the feature map
entering the engine (``in_elems``, on the first block of a run of on-chip blocks) and the one
leaving it (``out_elems``, on the last). Which nodes run, in which order and how often (images
back to back) is the caller's plan; the executor runs them.

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

__all__ = ["PlLayerKind", "PlLayer", "PlBlock", "OdeEngineParams", "OdeWork", "OdeFabric", "OdeNodeRun",
           "layer_cycles", "update_cycles", "eval_cycles", "check_tiling", "ode_node"]

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
class OdeEngineParams:
    """Timing parameters of the engine.

    Attributes:
        clock: engine clock domain. dw_channels, pw_in, pw_out: unit parallelism.
        pipeline_depth_cycles: fill latency of each pass. element_bytes: bytes per value on the
        PS–PL transfers. dma_chunk_bytes: DMA pipelining granularity.
        stream_width_bits: the engine's AXI stream (the DMA port is the narrower of it and the
        host port, at the slower of the engine clock and the port's maximum).
    """

    clock: Clock
    dw_channels: int
    pw_in: int
    pw_out: int
    pipeline_depth_cycles: int
    element_bytes: int
    dma_chunk_bytes: int
    stream_width_bits: int

    def __post_init__(self) -> None:
        for name in ("dw_channels", "pw_in", "pw_out", "element_bytes", "dma_chunk_bytes", "stream_width_bits"):
            _pos("OdeEngineParams", name, getattr(self, name))
        _pos("OdeEngineParams", "pipeline_depth_cycles", self.pipeline_depth_cycles, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class OdeWork:
    """What one executor node does on the engine, in this order: load ``weight_elems`` of weights,
    DMA ``in_elems`` in, run ``block`` (every evaluation), DMA ``out_elems`` out (0 / None: skip).

    Attributes:
        params: the engine's timing parameters (the same for every node on one device).
        host_port: id of the board host port the DMA uses (the same for every node on one device).
    """

    params: OdeEngineParams
    host_port: str
    weight_elems: int = 0
    in_elems: int = 0
    block: PlBlock | None = None
    out_elems: int = 0

    def __post_init__(self) -> None:
        for name in ("weight_elems", "in_elems", "out_elems"):
            _pos("OdeWork", name, getattr(self, name), 0)


@dataclass(slots=True, kw_only=True)
class OdeFabric:
    """The DDR channel and the host port the engine's DMA uses, plus an optional trace.

    ``name`` is the device (the trace's process; tracks ``<name>.dma`` and ``<name>.engine``)."""

    ddr: DdrChannel
    port: StreamPort
    name: str = "pl"
    trace: TraceRecorder | None = None


@dataclass(slots=True)
class OdeNodeRun:
    """What one node did: its engine's busy time and the time of each named phase (ps)."""

    compute_busy_ps: int = 0
    phases_ps: dict[str, int] = field(default_factory=dict)


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


def eval_cycles(block: PlBlock, params: OdeEngineParams) -> int:
    """Cycles of one evaluation of ``block``: every layer pass, then the state update."""
    return sum(layer_cycles(layer, params) for layer in block.layers) + update_cycles(block.update_elems, params)


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


def ode_node(env: simpy.Environment, fabric: OdeFabric, work: OdeWork) -> Generator[Event, object, OdeNodeRun]:
    """Process: run ``work`` on the engine (the caller holds the engine: one node at a time).

    Phases: ``load weights``, ``dma PS->PL``, ``pl <block>`` (compute), ``spill <block>`` (a
    spilled block's state DMA), ``dma PL->PS``.

    Raises:
        BadArgument: a block the engine cannot tile.
    """
    params, run = work.params, OdeNodeRun()
    eb, chunk = params.element_bytes, params.dma_chunk_bytes

    def span(unit: str, name: str, start: int) -> None:
        run.phases_ps[name] = run.phases_ps.get(name, 0) + env.now - start
        if unit == "engine":
            run.compute_busy_ps += env.now - start
        if fabric.trace is not None:
            fabric.trace.span(f"{fabric.name}.{unit}", name, start, env.now, process=fabric.name)

    if work.block is not None:
        check_tiling(work.block.layers, params)
    for name, stream, elems in (("load weights", WEIGHTS, work.weight_elems), ("dma PS->PL", IFM, work.in_elems)):
        if elems:
            start = env.now
            yield env.process(dma_read(env, fabric.ddr, fabric.port, stream, elems * eb, chunk_bytes=chunk))
            span("dma", name, start)
    block = work.block
    if block is not None:
        per_eval = eval_cycles(block, params)
        for _ in range(block.evals):
            if block.spill_in_elems:
                start = env.now
                yield env.process(dma_read(env, fabric.ddr, fabric.port, IFM, block.spill_in_elems * eb,
                                           chunk_bytes=chunk))
                span("dma", f"spill {block.name}", start)
            start = env.now
            yield env.timeout(params.clock.delay_ps(env.now, per_eval))
            span("engine", f"pl {block.name}", start)
            if block.spill_out_elems:
                start = env.now
                yield env.process(dma_write(env, fabric.ddr, fabric.port, OFM, block.spill_out_elems * eb,
                                            chunk_bytes=chunk))
                span("dma", f"spill {block.name}", start)
    if work.out_elems:
        start = env.now
        yield env.process(dma_write(env, fabric.ddr, fabric.port, OFM, work.out_elems * eb, chunk_bytes=chunk))
        span("dma", "dma PL->PS", start)
    return run
