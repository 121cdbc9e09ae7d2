"""A depthwise-separable / Neural-ODE engine that keeps weights and feature maps on chip.

Owns: :class:`DscOdeDesign` (``type: dsc_ode`` kernel YAML) and the buffers it needs for a
given set of on-chip layers. The engine (after dsODENet, Kawakami et al., PDP 2022 / IEICE 2023;
seed-papers.md §a) has a depthwise unit (``dw_channels`` channels in parallel, a full K×K window
per channel per cycle → ``dw_channels·K²`` MACs) and a pointwise unit (``pw_in × pw_out`` MACs).
Dense K×K convolutions (e.g. downsampling) run on the pointwise unit as K² passes.

Buffers (all derived from the layers, so the same design needs more memory for a wider network):

* ``weights_<layer>`` — one buffer per layer, resident for the whole run. Depthwise:
  ``dw_channels`` banks of ``⌈C/dw_channels⌉·K²`` words; pointwise / dense:
  ``pw_in·pw_out`` banks of ``⌈Cin/pw_in⌉·⌈Cout/pw_out⌉·K²`` words.
* ``biases`` — one bank holding every layer's biases.
* ``feature_maps`` — ``feature_map_buffers`` buffers (the Euler loop needs the state z_k, the
  depthwise output and f(z_k), i.e. 3) of ``max(dw_channels, pw_in, pw_out)`` banks, each deep
  enough for the largest feature map of any layer: ``⌈C/banks⌉·H·W`` words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.config import PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.kernels.design import (
    BufferOptions, KernelType, LogicEstimate, PrecisionSpec, precision_problems, stream_problems,
)
from fpgasim.kernels.resources import BufferSpec
from fpgasim.ops.window import Pair, WindowAxes, as_pair, per_axis

__all__ = [
    "DscOdeParallelism", "DscOdeStreams", "DscOdeBuffers", "DscOdeDesign", "OnChipLayerKind",
    "OnChipLayer", "dsc_ode_checks",
]


@config_class
class DscOdeParallelism:
    """Channel parallelism of the two units."""

    #: depthwise unit: channels processed in parallel (each a full K×K window per cycle).
    dw_channels: PosInt
    #: pointwise unit: input channels in parallel.
    pw_in: PosInt
    #: pointwise unit: output channels in parallel.
    pw_out: PosInt


@config_class
class DscOdeStreams:
    """AXI-stream widths in bits of the engine's input and output."""

    #: feature map into the engine (from the pre-processing layer on the CPU).
    ifm: PosInt
    #: feature map out of the engine (to post-processing).
    ofm: PosInt


@config_class
class DscOdeBuffers:
    """Options of the weight and feature-map buffers."""

    #: every layer's weights (resident).
    weights: BufferOptions
    #: the Euler-loop feature maps.
    feature_maps: BufferOptions


@config_class
class DscOdeDesign:
    """A DSC / Neural-ODE engine: ``kernel:`` section of a ``type: dsc_ode`` YAML."""

    #: always dsc_ode.
    type: KernelType
    #: design name.
    name: Str
    #: datapath number format.
    precision: PrecisionSpec
    #: fabric clock of the engine in MHz.
    clock_mhz: PosFloat
    #: dw_channels, pw_in, pw_out.
    parallelism: DscOdeParallelism
    #: largest depthwise kernel K (the dw unit computes K×K per channel per cycle).
    max_kernel: PosInt
    #: feature-map buffers the solver keeps (3 for Euler: z_k, dw output, f(z_k)).
    feature_map_buffers: PosInt
    #: stream widths.
    stream_width_bits: DscOdeStreams
    #: per-buffer options.
    buffers: DscOdeBuffers
    #: labelled LUT/FF estimate.
    logic_estimate: LogicEstimate
    #: source id → citation.
    sources: dict[str, Str]
    #: DSP slices per MAC; overrides boards/dsp_types.yaml when given.
    dsp_per_mac: PosFloat | None = None
    #: free text.
    notes: Str | None = None

    @property
    def macs(self) -> int:
        """MAC units: ``dw_channels·max_kernel² + pw_in·pw_out``."""
        par = self.parallelism
        return par.dw_channels * self.max_kernel ** 2 + par.pw_in * par.pw_out

    @property
    def engine_label(self) -> str:
        """Names the engine in reports."""
        par = self.parallelism
        return (f"dw unit {par.dw_channels}x{self.max_kernel}x{self.max_kernel} + "
                f"pw unit {par.pw_in}x{par.pw_out}")

    def buffer_specs(self, layers: tuple[OnChipLayer, ...] = ()) -> tuple[BufferSpec, ...]:
        """The buffers needed to keep ``layers`` on chip (module docstring); none without layers.

        Raises:
            BadArgument: a depthwise layer with a kernel larger than ``max_kernel``.
        """
        if not layers:
            return ()
        par, bits = self.parallelism, self.precision.word_bits
        w_opt, f_opt = self.buffers.weights, self.buffers.feature_maps
        specs = []
        for layer in layers:
            if layer.kind is OnChipLayerKind.DEPTHWISE:
                if max(layer.kernel_h, layer.kernel_w) > self.max_kernel:
                    raise BadArgument(f"layer {layer.name!r}: depthwise kernel {layer.kernel} exceeds the "
                                      f"design's max_kernel={self.max_kernel}")
                banks = par.dw_channels
                depth = -(-layer.in_channels // banks) * layer.kernel_h * layer.kernel_w
            else:
                banks = par.pw_in * par.pw_out
                depth = (-(-layer.in_channels // par.pw_in) * -(-layer.out_channels // par.pw_out)
                         * layer.kernel_h * layer.kernel_w)
            specs.append(BufferSpec(name=f"weights_{layer.name}", width_bits=bits, depth_words=depth,
                                    banks=banks, double_buffered=w_opt.double_buffered, memory=w_opt.memory))
        n_bias = sum(layer.out_channels for layer in layers if layer.bias)
        if n_bias:
            specs.append(BufferSpec(name="biases", width_bits=bits, depth_words=n_bias, banks=1,
                                    double_buffered=w_opt.double_buffered, memory=w_opt.memory))
        banks = max(par.dw_channels, par.pw_in, par.pw_out)
        depth = max(max(-(-layer.in_channels // banks) * layer.in_h * layer.in_w,
                        -(-layer.out_channels // banks) * layer.out_h * layer.out_w) for layer in layers)
        for index in range(self.feature_map_buffers):
            specs.append(BufferSpec(name=f"feature_maps[{index}]", width_bits=bits, depth_words=depth,
                                    banks=banks, double_buffered=f_opt.double_buffered, memory=f_opt.memory))
        return tuple(specs)


class OnChipLayerKind(StrEnum):
    """What a layer on the engine is."""

    DEPTHWISE = "depthwise"
    POINTWISE = "pointwise"
    DENSE = "dense"


@dataclass(frozen=True, slots=True, kw_only=True)
class OnChipLayer(WindowAxes):
    """The shape facts of one layer the engine keeps on chip.

    Attributes:
        name: layer name (names its weight buffer).
        kind: depthwise | pointwise | dense (K×K dense conv on the pointwise unit).
        in_channels, out_channels: channel counts.
        kernel: kernel size K (1 for pointwise), or (KH, KW) for a rectangular one.
        in_h, in_w, out_h, out_w: feature-map sizes in pixels.
        bias: whether the layer has a bias vector.
    """

    name: str
    kind: OnChipLayerKind
    in_channels: int
    out_channels: int
    kernel: Pair
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    bias: bool

    def __post_init__(self) -> None:
        for field in ("in_channels", "out_channels", "in_h", "in_w", "out_h", "out_w"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadArgument(f"layer {self.name!r}: {field}={value!r}; expected an integer >= 1")
        try:
            object.__setattr__(self, "kernel", as_pair(*per_axis("kernel", self.kernel, 1)))
        except BadArgument as exc:
            raise BadArgument(f"layer {self.name!r}: {exc}") from None
        if self.kind is OnChipLayerKind.DEPTHWISE and self.in_channels != self.out_channels:
            raise BadArgument(f"layer {self.name!r}: depthwise needs in_channels == out_channels; got "
                              f"{self.in_channels} and {self.out_channels}")


def dsc_ode_checks(document: object, doc: YamlDocument) -> list[Problem]:
    """Cross-field checks with places (used by the loader on the ``{kernel: ...}`` document)."""
    design: DscOdeDesign = getattr(document, "kernel")
    root = ("kernel",)
    problems = precision_problems(design.precision, doc, root + ("precision",))
    if not problems:
        widths = {"ifm": design.stream_width_bits.ifm, "ofm": design.stream_width_bits.ofm}
        problems += stream_problems(widths, design.precision.word_bits, doc, root + ("stream_width_bits",))
    return problems
