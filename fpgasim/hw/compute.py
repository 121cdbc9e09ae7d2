"""Compute devices (CPU, GPU) that run graph nodes from a throughput model.

Owns: the operation classes a throughput model distinguishes (:class:`OpClass`), one compute
device's numbers (:class:`ComputeSpec`, an entry of ``boards/compute.yaml``: ``schema: 1``,
``compute_devices:``, ``sources:``; every number cited as in the board files) and its roofline
node time. Efficiencies ship uncalibrated at 1.0 (the peak bound), marked ``calibrated: false``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import Field

from fpgasim.config import Bool, Fraction, NonNegFloat, PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.hw._cited import load_cited
from fpgasim.hw.library import boards_dir

__all__ = ["OpClass", "ComputeKind", "Efficiency", "ComputeSpec", "ComputeDocument", "COMPUTE_FILE",
           "load_compute_devices"]

#: The compute-device library's file name in the boards directory.
COMPUTE_FILE = "compute.yaml"


class OpClass(StrEnum):
    """What kind of work a node is, as far as a throughput model can tell them apart."""

    DENSE_CONV = "dense_conv"
    DEPTHWISE = "depthwise"
    POINTWISE = "pointwise"
    FC = "fc"
    ELEMENTWISE = "elementwise"
    POOL = "pool"


_OP_CLASSES = tuple(op.value for op in OpClass)


class ComputeKind(StrEnum):
    """How peak throughput is given: CPU cores × SIMD lanes, or GPU peak MAC/s per precision."""

    CPU = "cpu"
    GPU = "gpu"


@config_class
class Efficiency:
    """Fraction of the peak MAC rate reached per operation class (1.0 = the peak bound)."""

    dense_conv: Fraction = 1.0
    depthwise: Fraction = 1.0
    pointwise: Fraction = 1.0
    fc: Fraction = 1.0
    elementwise: Fraction = 1.0
    pool: Fraction = 1.0
    #: false until fitted to measurements (the shipped values are the uncalibrated peak bound).
    calibrated: Bool = False

    def of(self, op_class: OpClass) -> float:
        """The fraction for ``op_class``.

        Raises:
            BadArgument: not an operation class.
        """
        if op_class not in _OP_CLASSES:
            raise BadArgument(f"op_class={op_class!r}: expected one of {', '.join(_OP_CLASSES)}")
        return getattr(self, str(op_class))


#: Element width in bits, the key of a GPU's ``peak_gmacs`` (YAML keys are text: ``"16"`` → 16).
ElementBits = Annotated[int, Field(gt=0)]

_CPU_FIELDS = ("cores", "simd_bits", "simd_issue_fraction")
_GPU_FIELDS = ("peak_gmacs",)


@config_class
class ComputeSpec:
    """One CPU or GPU (see the module docstring); a CPU gives the ``_CPU_FIELDS``, a GPU ``peak_gmacs``."""

    kind: ComputeKind
    name: Str
    #: core clock, MHz (a CPU's peak scales with it; the device's time base in a simulation).
    clock_mhz: PosFloat
    #: CPU: cores used for one node.
    cores: PosInt | None = None
    #: CPU: SIMD register width, bits (lanes = simd_bits // element_bits).
    simd_bits: PosInt | None = None
    #: CPU: fraction of the SIMD width issued per cycle (0.5: 128-bit NEON issued as two 64-bit halves).
    simd_issue_fraction: Fraction | None = None
    #: GPU: peak multiply-accumulates per second, 10^9/s, by element width in bits.
    peak_gmacs: dict[ElementBits, PosFloat] | None = None
    #: DRAM bandwidth the device reaches, 10^9 B/s.
    memory_gb_per_s: PosFloat
    #: per-node cost of launching work (framework dispatch, kernel launch), µs.
    dispatch_overhead_us: NonNegFloat
    efficiency: Efficiency = field(default_factory=Efficiency)

    def __post_init__(self) -> None:
        own, other = (_CPU_FIELDS, _GPU_FIELDS) if self.kind is ComputeKind.CPU else (_GPU_FIELDS, _CPU_FIELDS)
        missing = [name for name in own if getattr(self, name) is None]
        stray = [name for name in other if getattr(self, name) is not None]
        if missing or stray or self.peak_gmacs == {}:
            found = []
            if missing:
                found.append(f"missing {', '.join(missing)}")
            if stray:
                found.append(f"has {', '.join(stray)} (not for a {self.kind})")
            if self.peak_gmacs == {}:
                found.append("peak_gmacs is empty")
            raise BadArgument(f"a {self.kind} device needs {', '.join(own)}; {'; '.join(found)}")

    def peak_macs_per_s(self, element_bits: int) -> float:
        """Peak multiply-accumulates per second at ``element_bits``.

        CPU: ``cores × clock_hz × (simd_bits // element_bits) × simd_issue_fraction``; GPU:
        ``peak_gmacs[element_bits] × 10^9``.

        Raises:
            BadArgument: an element wider than the SIMD width, or a width the GPU has no peak for.
        """
        if isinstance(element_bits, bool) or not isinstance(element_bits, int) or element_bits <= 0:
            raise BadArgument(f"element_bits={element_bits!r}: expected an integer > 0")
        if self.kind is ComputeKind.GPU:
            if element_bits not in self.peak_gmacs:
                known = ", ".join(str(bits) for bits in sorted(self.peak_gmacs))
                raise BadArgument(f"{self.name}: no peak_gmacs for element_bits={element_bits}; known: {known}")
            return self.peak_gmacs[element_bits] * 1e9
        if element_bits > self.simd_bits:
            raise BadArgument(f"{self.name}: element_bits={element_bits} exceeds simd_bits={self.simd_bits}")
        lanes = self.simd_bits // element_bits
        return self.cores * self.clock_mhz * 1e6 * lanes * self.simd_issue_fraction

    def node_time_s(self, *, op_class: OpClass, macs: int, elementwise_ops: int, bytes_moved: int,
                    element_bits: int) -> float:
        """Roofline time of one node on this device, seconds::

            t = max((macs + elementwise_ops) / (peak_macs_per_s(element_bits) × efficiency[op_class]),
                    bytes_moved / (memory_gb_per_s × 10^9))
                + dispatch_overhead_us × 10^-6

        An element-wise operation (add, activation, a pooling comparison) counts as one MAC.

        Args:
            op_class: the node's operation class (picks the efficiency).
            macs: multiply-accumulates (>= 0).
            elementwise_ops: element-wise operations (>= 0).
            bytes_moved: DRAM bytes read and written (>= 0).
            element_bits: bits per value.

        Raises:
            BadArgument: a negative or non-integer count, or an ``element_bits`` the device cannot run.
        """
        for name, value in (("macs", macs), ("elementwise_ops", elementwise_ops), ("bytes_moved", bytes_moved)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise BadArgument(f"{name}={value!r}: expected an integer >= 0")
        compute_s = (macs + elementwise_ops) / (self.peak_macs_per_s(element_bits) * self.efficiency.of(op_class))
        memory_s = bytes_moved / (self.memory_gb_per_s * 1e9)
        return max(compute_s, memory_s) + self.dispatch_overhead_us * 1e-6


@config_class
class ComputeDocument:
    compute_devices: dict[Str, ComputeSpec]
    sources: dict[Str, Str]


def _nonempty(document: ComputeDocument, doc: YamlDocument) -> Iterable[Problem]:
    if not document.compute_devices:
        yield doc.problem(("compute_devices",), "no compute devices defined; expected at least one")


def load_compute_devices(path: str | Path | None = None) -> dict[str, ComputeSpec]:
    """Load the compute-device library.

    Args:
        path: a compute-devices YAML file; default :data:`COMPUTE_FILE` in the boards directory.

    Returns:
        Compute device id → :class:`ComputeSpec`.

    Raises:
        ConfigError: every problem in the file (types, uncited numbers, cpu/gpu fields), with places.
    """
    document, _ = load_cited(boards_dir() / COMPUTE_FILE if path is None else path, ComputeDocument,
                             sources_at=("sources",), checks=(_nonempty,))
    return dict(document.compute_devices)

