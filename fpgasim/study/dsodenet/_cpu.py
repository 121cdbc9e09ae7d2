"""Software model of a network on the board's Arm cores (the speedup baseline, and the PS layers).

Owns: :class:`CpuModel` (the ``timing.cpu`` section of an ODE-study YAML) and
:func:`cpu_time_ps`. Time of ``ops`` multiply-accumulates (element-wise work counted as one
op per element)::

    t = ops / (threads · clock_hz · lanes · simd_issue_fraction · efficiency),
    lanes = simd_bits / element_bits

``threads``, ``clock_hz`` and ``simd_bits`` come from the board file's ``processor`` (cited
there); ``simd_issue_fraction`` (0.5: the Cortex-A53 and Cortex-A9 NEON units execute a 128-bit
operation as two 64-bit halves — Arm Cortex-A53 / Cortex-A9 NEON TRMs, unverified here) and
``efficiency`` (the fraction of that SIMD peak a software framework reaches on these layers:
an UNVERIFIED, uncalibrated knob, never fitted to a paper's speedup) come from the YAML, each with
its ``source`` text.

The *calibrated* model (:func:`calibrated_layer_ps`) times the same layers on a compute device of
``boards/compute.yaml`` with efficiencies fitted to measured software (``fpgasim fit-devices``):
each leaf layer (a convolution, a depthwise or pointwise half of a DSC block, the classifier) is a
node of the device's roofline with its op class and dispatch overhead, an ODE block runs its
leaves and one element-wise state update (read h and f, write h) per evaluation.
"""

from __future__ import annotations

from typing import Any

import math
from dataclasses import replace

from fpgasim.config import Fraction, PosInt, Str, config_class
from fpgasim.errors import BadArgument
from fpgasim.hw.compute import ComputeSpec, OpClass
from fpgasim.mapping.software import graph_software_s
from fpgasim.nn.composite import DscBlock, OdeBlock
from fpgasim.nn.graph import Graph
from fpgasim.nn.network import Network
from fpgasim.sim.clock import duration_ps_ceil

__all__ = ["CpuModel", "cpu_ops_per_s", "cpu_time_ps", "calibrated_spec", "calibrated_layer_ps"]


@config_class
class CpuModel:
    """Throughput model of the software baseline on the board's processor."""

    #: threads used (None: every core of the board's processor).
    threads: PosInt | None = None
    #: bits per value in software (32: fp32).
    element_bits: PosInt = 32
    #: fraction of the SIMD width issued per cycle (A53/A9: 64-bit NEON datapath → 0.5).
    simd_issue_fraction: Fraction
    #: fraction of that peak reached by the software (unverified knob).
    efficiency: Fraction
    #: where simd_issue_fraction and efficiency come from (or "unverified").
    source: Str


def cpu_ops_per_s(model: CpuModel, processor: Any) -> float:
    """Sustained ops (MACs) per second of ``model`` on ``processor`` (module docstring formula).

    Raises:
        BadArgument: no processor on the board, more threads than cores, or an element width
            larger than the SIMD width.
    """
    if processor is None:
        raise BadArgument("the board has no 'processor' section: the software model needs cores, clock_mhz "
                          "and simd_bits")
    threads = processor.cores if model.threads is None else model.threads
    if threads > processor.cores:
        raise BadArgument(f"timing.cpu.threads={threads}: the board's processor has {processor.cores} cores")
    if model.element_bits > processor.simd_bits:
        raise BadArgument(f"timing.cpu.element_bits={model.element_bits} exceeds simd_bits={processor.simd_bits}")
    lanes = processor.simd_bits // model.element_bits
    return threads * processor.clock_mhz * 1e6 * lanes * model.simd_issue_fraction * model.efficiency


def cpu_time_ps(ops: int, model: CpuModel, processor: Any) -> int:
    """Picoseconds for ``ops`` operations, rounded up (0 ops → 0 ps)."""
    if isinstance(ops, bool) or not isinstance(ops, int) or ops < 0:
        raise BadArgument(f"ops={ops!r}: expected an integer >= 0")
    return duration_ps_ceil(ops, cpu_ops_per_s(model, processor))


def calibrated_spec(device: ComputeSpec, efficiency_from: ComputeSpec | None) -> ComputeSpec:
    """``device`` with the efficiencies and dispatch overhead of ``efficiency_from`` (None: its own)."""
    if efficiency_from is None:
        return device
    return replace(device, efficiency=efficiency_from.efficiency,
                   dispatch_overhead_us=efficiency_from.dispatch_overhead_us)


def _leaves(layer: Any) -> tuple:
    if isinstance(layer, OdeBlock):
        return tuple(leaf for sub in layer.layers for leaf in _leaves(sub))
    if isinstance(layer, DscBlock):
        return tuple(layer.layers)
    return (layer,)


def calibrated_layer_ps(layer: Any, spec: ComputeSpec, *, element_bits: int, batch: int) -> int:
    """Picoseconds for ``spec`` to run one top-level layer (module docstring), rounded up."""
    leaves = _leaves(layer)
    table = Network(name=f"{layer.name}.leaves", input_shape=tuple(leaves[0].in_shape), layers=leaves, batch=batch,
                    chained=False)
    seconds = graph_software_s(Graph.from_network(table), spec, element_bits)
    if isinstance(layer, OdeBlock):
        c, h, w = layer.in_shape
        state = batch * c * h * w
        update = spec.node_time_s(op_class=OpClass.ELEMENTWISE, macs=0, elementwise_ops=state,
                                  bytes_moved=3 * state * -(-element_bits // 8), element_bits=element_bits)
        seconds = layer.evals * (seconds + update)
    return math.ceil(seconds * 1e12)
