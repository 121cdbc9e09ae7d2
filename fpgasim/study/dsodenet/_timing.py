"""Emulated PS+PL latency of an ODE network and the software-only baseline on the same board.

Owns: the split of a network into CPU and PL segments (:func:`build_plan`), the software op
count (:func:`software_ops`: MACs plus one op per updated state element per evaluation), and
:func:`time_variant`, which runs :func:`fpgasim.sim.ode_engine.ode_inference` in SimPy and
returns latency, breakdown and speedup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import simpy

from fpgasim.errors import BadArgument
from fpgasim.kernels.dsc_ode import DscOdeDesign
from fpgasim.nn.composite import DscBlock, OdeBlock
from fpgasim.nn.layers import Conv2d, Depthwise, Pointwise
from fpgasim.nn.network import Network
from fpgasim.nn.odenet import LayerRole, layer_role
from fpgasim.sim.clock import Clock
from fpgasim.sim.ddr import DdrChannel
from fpgasim.sim.ode_engine import (
    CpuSegment, OdeEngineParams, OdeFabric, OdePlan, PlBlock, PlLayer, PlLayerKind, PlSegment, check_tiling,
    ode_inference,
)
from fpgasim.sim.port import StreamPort
from fpgasim.study.dsodenet.config import ALL_ON_CHIP, TimingSpec
from fpgasim.study.dsodenet._cpu import cpu_time_ps

__all__ = ["on_chip_names", "build_plan", "software_ops", "layer_ops", "engine_params", "TimingResult",
           "time_variant"]


def on_chip_names(network: Network, on_chip: tuple[str, ...]) -> frozenset[str]:
    """Top-level layer names placed on the PL (``["all"]``: every ODE and downsampling block).

    Raises:
        BadArgument: a name that is not an ODE or downsampling block of ``network``.
    """
    core = [layer.name for layer in network.layers if layer_role(network, layer) in (LayerRole.ODE, LayerRole.DOWN)]
    if tuple(on_chip) == (ALL_ON_CHIP,):
        return frozenset(core)
    for name in on_chip:
        if name not in core:
            raise BadArgument(f"{network.name}: on_chip entry {name!r} is not an ODE or downsampling block; "
                              f"expected 'all' or some of: {', '.join(core)}")
    return frozenset(on_chip)


def layer_ops(layer: Any) -> int:
    """Software ops of one top-level layer: MACs, plus C·H·W per evaluation for an ODE update."""
    ops = layer.macs
    if isinstance(layer, OdeBlock):
        c, h, w = layer.in_shape
        ops += layer.evals * c * h * w
    return ops


def software_ops(network: Network) -> int:
    """Ops of the whole network on the CPU."""
    return sum(layer_ops(layer) for layer in network.layers)


def _pl_layers(layer: Any) -> tuple[PlLayer, ...]:
    leaves = []
    for sub in (layer.layers if isinstance(layer, (OdeBlock, DscBlock)) else (layer,)):
        leaves.extend(sub.layers if isinstance(sub, DscBlock) else (sub,))
    out = []
    for leaf in leaves:
        if isinstance(leaf, Depthwise):
            kind, cin, cout, k = PlLayerKind.DEPTHWISE, leaf.channels, leaf.channels, leaf.kernel
        elif isinstance(leaf, Pointwise):
            kind, cin, cout, k = PlLayerKind.POINTWISE, leaf.in_channels, leaf.out_channels, 1
        elif isinstance(leaf, Conv2d):
            kind, cin, cout, k = PlLayerKind.DENSE, leaf.in_channels, leaf.out_channels, leaf.kernel
        else:
            raise BadArgument(f"layer {leaf.name!r} ({type(leaf).__name__}) cannot run on the PL engine")
        out.append(PlLayer(name=leaf.name, kind=kind, in_channels=cin, out_channels=cout, kernel=k,
                           out_h=leaf.out_shape[1], out_w=leaf.out_shape[2]))
    return tuple(out)


def build_plan(network: Network, on_chip: frozenset[str], ps_time, spilled: frozenset[str] = frozenset()) -> OdePlan:
    """CPU segments (``ps_time(ops) -> ps``) and PL segments, in network order; the blocks named
    in ``spilled`` keep their state in DDR (read and written back every evaluation)."""
    segments: list = []
    run: list = []

    def flush() -> None:
        if run:
            first, last = run[0], run[-1]
            segments.append(PlSegment(blocks=tuple(b for _, b in run), in_elems=_elems(first[0].in_shape),
                                      out_elems=_elems(last[0].out_shape)))
            run.clear()

    for layer in network.layers:
        if layer.name in on_chip:
            is_ode = isinstance(layer, OdeBlock)
            c, h, w = layer.in_shape
            spill = layer.name in spilled
            run.append((layer, PlBlock(name=layer.name, layers=_pl_layers(layer), evals=layer.evals if is_ode else 1,
                                       update_elems=c * h * w if is_ode else 0,
                                       weight_elems=layer.params_weights + layer.params_biases,
                                       spill_in_elems=_elems(layer.in_shape) if spill else 0,
                                       spill_out_elems=_elems(layer.out_shape) if spill else 0)))
        else:
            flush()
            segments.append(CpuSegment(name=layer.name, duration_ps=ps_time(layer_ops(layer))))
    flush()
    return OdePlan(segments=tuple(segments))


def _elems(shape: tuple) -> int:
    return int(shape[0]) * int(shape[1]) * int(shape[2])


def engine_params(design: DscOdeDesign, spec: TimingSpec) -> OdeEngineParams:
    """Engine timing parameters from the kernel design and the study's timing section."""
    par = design.parallelism
    return OdeEngineParams(clock=Clock(Fraction(str(design.clock_mhz)) * 10**6, name="engine"),
                           dw_channels=par.dw_channels, pw_in=par.pw_in, pw_out=par.pw_out,
                           pipeline_depth_cycles=spec.pipeline_depth_cycles,
                           element_bytes=-(-design.precision.word_bits // 8), dma_chunk_bytes=spec.dma_chunk_bytes)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingResult:
    """Latency of one variant (ps) and its speedup over the software-only model."""

    variant: str
    on_chip: tuple[str, ...]
    image_ps: int
    first_image_ps: int
    weights_ps: int
    software_ps: int
    breakdown_ps: dict[str, int]
    pl_cycles_per_image: int
    #: per PL block: 0 when its state stays on chip, else DDR bytes (read + write) per evaluation.
    spill_bytes_per_step: dict[str, int] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """software ÷ emulated steady-state latency per image."""
        return self.software_ps / self.image_ps

    @property
    def speedup_first(self) -> float:
        """software ÷ (weight load + first image)."""
        return self.software_ps / self.first_image_ps


def time_variant(network: Network, on_chip: tuple[str, ...], design: DscOdeDesign, board: Any,
                 spec: TimingSpec, spilled: frozenset[str] = frozenset()) -> TimingResult:
    """Emulate ``spec.images`` inferences and compare with the software model.

    Args:
        spilled: on-chip blocks whose state does not fit on chip and lives in DDR.

    Raises:
        BadArgument: a bad ``on_chip`` entry, an unknown memory channel or host port, a PL layer the
            engine cannot tile, or a board without a processor.
    """
    names = on_chip_names(network, on_chip)
    model, cpu = spec.cpu, board.processor
    plan = build_plan(network, names, lambda ops: cpu_time_ps(ops, model, cpu), spilled=frozenset(spilled))
    params = engine_params(design, spec)
    for segment in plan.segments:
        if isinstance(segment, PlSegment):
            for block in segment.blocks:
                check_tiling(block.layers, params)
    channel = board.memory_channel(spec.memory)
    ports = [p for p in board.host_ports if p.id == spec.host_port]
    if not ports:
        known = ", ".join(p.id for p in board.host_ports) or "none"
        raise BadArgument(f"timing.host_port={spec.host_port!r}: board {board.id!r} has none; known: {known}")
    port_mhz = min(Fraction(str(design.clock_mhz)), Fraction(str(ports[0].max_clock_mhz)))
    env = simpy.Environment()
    ddr = DdrChannel(env, channel.id, bytes_per_s=Fraction(str(channel.sustained_bytes_per_s)),
                     burst_bytes=spec.burst_bytes)
    port = StreamPort(env, ports[0].id, width_bits=min(ports[0].width_bits, design.stream_width_bits.ifm),
                      clock=Clock(port_mhz * 10**6, name="port"))
    proc = env.process(ode_inference(env, OdeFabric(ddr=ddr, port=port), plan, params, images=spec.images))
    env.run()
    run = proc.value
    images = spec.images
    return TimingResult(variant=network.name, on_chip=tuple(sorted(names)), image_ps=run.image_ps[-1],
                        first_image_ps=run.weights_ps + run.image_ps[0], weights_ps=run.weights_ps,
                        software_ps=cpu_time_ps(software_ops(network), model, cpu),
                        breakdown_ps={k: v // images for k, v in sorted(run.breakdown_ps.items())},
                        pl_cycles_per_image=run.pl_cycles // images,
                        spill_bytes_per_step={block.name: (block.spill_in_elems + block.spill_out_elems)
                                              * params.element_bytes
                                              for segment in plan.segments if isinstance(segment, PlSegment)
                                              for block in segment.blocks})
