"""Emulated PS+PL latency of an ODE network and the software-only baseline on the same board.

Owns: the PS/PL split as a placement on the graph executor (:func:`placed_plan`) — the board's
Arm cores (``ps``, a compute device whose layers take the CPU model's time) and its PL (``pl``,
an FPGA device running the dsODENet engine on the study's memory channel and host port) —, the
software op count (:func:`software_ops`: MACs plus one op per updated state element per
evaluation), and :func:`time_variant`, which runs the plan with
:func:`fpgasim.sim.executor.execute` and returns latency, breakdown and speedup.

The plan: the PL blocks' weights load once (node ``weights``) and stay on chip; then ``images``
inferences run back to back, each the network's graph (``image<i>.input``, ``image<i>.<layer>``),
every node after the one before it. A PL block DMAs the feature map in when the layer before it
ran on the PS, and out when the layer after it runs there (as a PYNQ-style driver does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fpgasim.errors import BadArgument
from fpgasim.hw.compute import ComputeKind, ComputeSpec, Efficiency, OpClass
from fpgasim.hw.links import LinkLatency, LinkType
from fpgasim.hw.platform import Cable, ComputeDevice, FpgaDevice, Platform
from fpgasim.kernels.dsc_ode import DscOdeDesign
from fpgasim.mapping.graph_plan import Engine, GraphPlan, NodePlan
from fpgasim.nn.composite import DscBlock, OdeBlock
from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.layers import Conv2d, Depthwise, Pointwise
from fpgasim.nn.network import Network
from fpgasim.nn.odenet import LayerRole, layer_role
from fpgasim.sim.clock import Clock
from fpgasim.sim.executor import execute
from fpgasim.sim.ode_engine import (
    OdeEngineParams, OdeWork, PlBlock, PlLayer, PlLayerKind, check_tiling, eval_cycles,
)
from fpgasim.study.dsodenet.config import ALL_ON_CHIP, TimingSpec
from fpgasim.study.dsodenet._cpu import calibrated_layer_ps, cpu_time_ps

__all__ = ["on_chip_names", "pl_blocks", "placed_plan", "software_ops", "layer_ops", "engine_params", "TimingResult",
           "time_variant", "PS", "PL", "WEIGHTS"]

#: The device ids of the board's two sides, and the node that loads the PL weights.
PS, PL, WEIGHTS = "ps", "pl", "weights"


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


def pl_blocks(network: Network, on_chip: frozenset[str], spilled: frozenset[str] = frozenset()) -> dict[str, PlBlock]:
    """Each layer in ``on_chip`` as the engine runs it (by name, in network order); those in
    ``spilled`` keep their state in DDR (read and written back every evaluation)."""
    blocks = {}
    for layer in network.layers:
        if layer.name in on_chip:
            is_ode, spill = isinstance(layer, OdeBlock), layer.name in spilled
            c, h, w = layer.in_shape
            blocks[layer.name] = PlBlock(name=layer.name, layers=_pl_layers(layer), evals=layer.evals if is_ode else 1,
                                         update_elems=c * h * w if is_ode else 0,
                                         weight_elems=layer.params_weights + layer.params_biases,
                                         spill_in_elems=_elems(layer.in_shape) if spill else 0,
                                         spill_out_elems=_elems(layer.out_shape) if spill else 0)
    return blocks


def _platform(board: Any, design: DscOdeDesign, spec: TimingSpec, with_pl: bool) -> Platform:
    """The PS (the board's processor as the CPU model sees it; its nodes take that model's
    ``duration_ps``) and, when a block runs there, the PL on the study's memory channel, joined by
    the host port (no tensor crosses it: the engine's DMA carries the feature maps)."""
    cpu, model = board.processor, spec.cpu
    channel = board.memory_channel(spec.memory)
    ps = ComputeDevice(id=PS, spec_id=f"{board.id}.processor", spec=ComputeSpec(
        kind=ComputeKind.CPU, name=cpu.core, clock_mhz=cpu.clock_mhz, cores=model.threads or cpu.cores,
        simd_bits=cpu.simd_bits, simd_issue_fraction=model.simd_issue_fraction,
        memory_gb_per_s=channel.sustained_bytes_per_s / 1e9, dispatch_overhead_us=0.0,
        efficiency=Efficiency(**{str(op_class): model.efficiency for op_class in OpClass})))
    if not with_pl:
        return Platform(devices=(ps,))
    port = next(port for port in board.host_ports if port.id == spec.host_port)
    rate_gbps = min(port.width_bits, design.stream_width_bits.ifm) * min(port.max_clock_mhz, design.clock_mhz) / 1e3
    host = LinkType(protocol=port.id, line_rate_gbps=rate_gbps, encoding_efficiency=1, protocol_efficiency=1,
                    latency_ns=LinkLatency(endpoint_fixed=0.0, per_meter=0.0), port_kinds=())
    pl = FpgaDevice(id=PL, board=board, memory_channel=channel.id, burst_bytes=spec.burst_bytes)
    return Platform(devices=(ps, pl), cables=(Cable(index=0, a=PS, b=PL, link_id=port.id, link=host, length_m=0.0),))


def placed_plan(network: Network, blocks: dict[str, PlBlock], design: DscOdeDesign, board: Any,
                spec: TimingSpec, layer_ps: Callable[[Any], int] | None = None) -> GraphPlan:
    """The executor's plan of ``spec.images`` inferences (module docstring): the layers named in
    ``blocks`` on the PL engine, every other layer on the PS for the CPU model's time
    (``layer_ps(layer)``; None: the peak-bound model ``spec.cpu``).

    Raises:
        BadArgument: a board without a processor, an unknown memory channel.
    """
    work = {"params": engine_params(design, spec), "host_port": spec.host_port}
    weight_elems = sum(block.weight_elems for block in blocks.values())
    single = Graph.from_network(network)
    specs = [NodeSpec(name=WEIGHTS, op=Op.INPUT, attrs={"shape": (weight_elems, 1, 1)})] if weight_elems else []
    for image in range(spec.images):
        specs += [NodeSpec(name=f"image{image}.{node.name}", op=node.op, attrs=node.attrs,
                           inputs=tuple(f"image{image}.{name}" for name in node.inputs)) for node in single.nodes]
    graph = Graph.build(name=network.name, batch=network.batch, specs=specs)
    plans = []
    if weight_elems:
        plans.append(NodePlan(node=graph.node(WEIGHTS), device=PL, engine=Engine.ODE, after=(),
                              work=OdeWork(weight_elems=weight_elems, **work)))
    names = [node.name for node in single.nodes] + [None]  # [position ± 1] past either end: None
    for image in range(spec.images):
        for position, node in enumerate(single.nodes):
            at = {"node": graph.node(f"image{image}.{node.name}"), "after": (plans[-1].node.name,) if plans else ()}
            if node.op is Op.INPUT:
                plans.append(NodePlan(device=PS, engine=Engine.RELABEL, **at))
            elif node.name in blocks:
                plans.append(NodePlan(device=PL, engine=Engine.ODE, **at, work=OdeWork(
                    block=blocks[node.name], **work,
                    in_elems=0 if names[position - 1] in blocks else _elems(node.in_shapes[0]),
                    out_elems=0 if names[position + 1] in blocks else _elems(node.out_shape))))
            else:
                layer = network.layer(node.name)
                plans.append(NodePlan(device=PS, engine=Engine.SOFTWARE, **at, duration_ps=(
                    cpu_time_ps(layer_ops(layer), spec.cpu, board.processor) if layer_ps is None
                    else layer_ps(layer))))
    return GraphPlan(graph=graph, platform=_platform(board, design, spec, bool(blocks)), fpgas={},
                     nodes=tuple(plans), word_bits=design.precision.word_bits)


def _elems(shape: tuple) -> int:
    return int(shape[0]) * int(shape[1]) * int(shape[2])


def engine_params(design: DscOdeDesign, spec: TimingSpec) -> OdeEngineParams:
    """Engine timing parameters from the kernel design and the study's timing section."""
    par = design.parallelism
    return OdeEngineParams(clock=Clock.from_mhz(design.clock_mhz, name="engine"),
                           dw_channels=par.dw_channels, pw_in=par.pw_in, pw_out=par.pw_out,
                           pipeline_depth_cycles=spec.pipeline_depth_cycles,
                           element_bytes=-(-design.precision.word_bits // 8), dma_chunk_bytes=spec.dma_chunk_bytes,
                           stream_width_bits=design.stream_width_bits.ifm)


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
    #: with the calibrated software model: software-only latency and the PS+PL latency per image.
    software_calibrated_ps: int | None = None
    image_calibrated_ps: int | None = None
    #: of the calibrated software-only latency, the per-node dispatch overhead.
    software_dispatch_ps: int | None = None

    @property
    def speedup_calibrated(self) -> float | None:
        """calibrated software ÷ emulated latency with the PS layers on the calibrated model."""
        if self.software_calibrated_ps is None:
            return None
        return self.software_calibrated_ps / self.image_calibrated_ps

    @property
    def speedup(self) -> float:
        """software ÷ emulated steady-state latency per image."""
        return self.software_ps / self.image_ps

    @property
    def speedup_first(self) -> float:
        """software ÷ (weight load + first image)."""
        return self.software_ps / self.first_image_ps


def time_variant(network: Network, on_chip: tuple[str, ...], design: DscOdeDesign, board: Any,
                 spec: TimingSpec, spilled: frozenset[str] = frozenset(),
                 calibrated: ComputeSpec | None = None) -> TimingResult:
    """Emulate ``spec.images`` inferences on the executor and compare with the software model.

    Args:
        spilled: on-chip blocks whose state does not fit on chip and lives in DDR.
        calibrated: the calibrated software model's device (None: only the peak-bound model);
            given, the PS+PL plan runs again with the PS layers on it.

    Raises:
        BadArgument: a bad ``on_chip`` entry, an unknown memory channel or host port, a PL layer the
            engine cannot tile, or a board without a processor.
    """
    names = on_chip_names(network, on_chip)
    software_ps = cpu_time_ps(software_ops(network), spec.cpu, board.processor)
    params = engine_params(design, spec)
    blocks = pl_blocks(network, names, frozenset(spilled))
    for block in blocks.values():
        check_tiling(block.layers, params)
    board.memory_channel(spec.memory)
    if not any(port.id == spec.host_port for port in board.host_ports):
        known = ", ".join(p.id for p in board.host_ports) or "none"
        raise BadArgument(f"timing.host_port={spec.host_port!r}: board {board.id!r} has none; known: {known}")
    plan = placed_plan(network, blocks, design, board, spec)
    run = {node.name: node for node in execute(plan, trace=False).nodes}
    last, images = network.layers[-1].name, spec.images
    image_ps = [run[f"image{i}.{last}"].end_ps - run[f"image{i}.input"].start_ps for i in range(images)]
    software_calibrated_ps = image_calibrated_ps = software_dispatch_ps = None
    if calibrated is not None:
        def layer_ps(layer: Any) -> int:
            return calibrated_layer_ps(layer, calibrated, element_bits=spec.cpu.element_bits, batch=network.batch)

        software_calibrated_ps = sum(layer_ps(layer) for layer in network.layers)
        no_dispatch = replace(calibrated, dispatch_overhead_us=0.0)
        software_dispatch_ps = software_calibrated_ps - sum(
            calibrated_layer_ps(layer, no_dispatch, element_bits=spec.cpu.element_bits, batch=network.batch)
            for layer in network.layers)
        again = {node.name: node for node in execute(placed_plan(network, blocks, design, board, spec, layer_ps),
                                                     trace=False).nodes}
        image_calibrated_ps = again[f"image{images - 1}.{last}"].end_ps - again[f"image{images - 1}.input"].start_ps
    weights_ps = run[WEIGHTS].end_ps - run[WEIGHTS].start_ps if WEIGHTS in run else 0
    breakdown: dict[str, int] = {}
    for item in plan.nodes:
        node = run[item.node.name]
        if item.engine is Engine.SOFTWARE:
            phases = {f"cpu {item.node.name.split('.', 1)[1]}": node.end_ps - node.start_ps}
        else:
            phases = node.phases_ps if item.node.name != WEIGHTS else {}
        for phase, ps in phases.items():
            breakdown[phase] = breakdown.get(phase, 0) + ps
    return TimingResult(variant=network.name, on_chip=tuple(sorted(names)), image_ps=image_ps[-1],
                        first_image_ps=weights_ps + image_ps[0], weights_ps=weights_ps, software_ps=software_ps,
                        breakdown_ps={k: v // images for k, v in sorted(breakdown.items())},
                        pl_cycles_per_image=sum(eval_cycles(block, params) * block.evals for block in blocks.values()),
                        spill_bytes_per_step={name: (block.spill_in_elems + block.spill_out_elems)
                                              * params.element_bytes for name, block in blocks.items()},
                        software_calibrated_ps=software_calibrated_ps, image_calibrated_ps=image_calibrated_ps,
                        software_dispatch_ps=software_dispatch_ps)
