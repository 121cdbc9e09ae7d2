"""The Zhang FPGA'15 / Super-LIP tiled convolution engine: design parameters and resources.

Owns: :class:`TiledConvDesign` (``type: tiled_conv`` kernel YAML), its on-chip buffers as the
released HLS declares them (``IFM[Tn][Tr][Tc]``, ``WEIGHT[Tm][Tn][K][K]``, ``OFM[Tm][Tr][Tc]``
with the Tm/Tn dimensions fully partitioned, each ping-ponged; ``BIAS[Tm]``), and the vectorised
DSP/BRAM18 count of a candidate tiling for the analytical search (:func:`tiled_conv_resources`).
The tile schedule lives in :mod:`fpgasim.kernels.conv_schedule`.
"""

from __future__ import annotations

import numpy as np

from fpgasim.config import PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.kernels.design import (
    BufferOptions, KernelType, LogicEstimate, PrecisionSpec, precision_problems, stream_problems,
)
from fpgasim.kernels.resources import BufferSpec, MemoryPreference, buffer_bram18, dsp_count
from fpgasim.ops.lookup import ExpTable, LookupTable, NormalCdfTable, SigmoidTable

__all__ = [
    "TiledConvParallelism", "TiledConvTile", "TiledConvStreams", "TiledConvBuffers", "LookupTableOptions", "TABLE_KINDS",
    "TiledConvDesign",
    "tiled_conv_checks", "tiled_conv_bram18", "tiled_conv_resources",
]


@config_class
class TiledConvParallelism:
    """Unroll factors fixed in hardware: Tm output maps × Tn input maps → Tm·Tn MACs."""

    #: output-channel parallelism Tm (≥ 1).
    tm: PosInt
    #: input-channel parallelism Tn (≥ 1).
    tn: PosInt


@config_class
class TiledConvTile:
    """The largest tile the buffers hold (layers choose Tr/Tc up to these at run time)."""

    #: output-tile rows Tr.
    tr: PosInt
    #: output-tile columns Tc.
    tc: PosInt
    #: largest kernel size K the weight buffer holds (K×K words per bank).
    max_kernel: PosInt
    #: IFM buffer rows; default Tr, as in the released HLS (no halo; superlip-model.md §2.1).
    ifm_rows: PosInt | None = None
    #: IFM buffer columns; default Tc.
    ifm_cols: PosInt | None = None

    @property
    def ifm_buffer_rows(self) -> int:
        """Rows one IFM bank holds: ``ifm_rows``, default Tr."""
        return self.ifm_rows if self.ifm_rows is not None else self.tr

    @property
    def ifm_buffer_cols(self) -> int:
        """Columns one IFM bank holds: ``ifm_cols``, default Tc."""
        return self.ifm_cols if self.ifm_cols is not None else self.tc


@config_class
class TiledConvStreams:
    """AXI-stream (DMA) widths in bits; each beat carries ``width // word_bits`` values."""

    #: weight stream.
    weights: PosInt
    #: input feature map stream.
    ifm: PosInt
    #: output feature map stream.
    ofm: PosInt


@config_class
class TiledConvBuffers:
    """Options of each on-chip buffer."""

    #: IFM[Tn][ifm_rows][ifm_cols], Tn banks.
    ifm: BufferOptions
    #: WEIGHT[Tm][Tn][K][K], Tm·Tn banks.
    weights: BufferOptions
    #: OFM[Tm][Tr][Tc], Tm banks.
    ofm: BufferOptions
    #: BIAS[Tm], one bank.
    bias: BufferOptions


@config_class
class LookupTableOptions:
    """A lookup table in the vector unit, as hls4ml builds its activations (:mod:`fpgasim.ops.lookup`):
    σ for sigmoid, SiLU and tanh nodes (tanh(x) = 2·σ(2x) − 1), Φ for GELU nodes, eˣ for softmax nodes.
    One copy serves two lanes (a dual-port block RAM)."""

    #: samples over the input range (at least 2).
    entries: PosInt = 1024
    #: the table covers [−input_bound, input_bound) ([−input_bound, 0) for eˣ); inputs outside it read
    #: the end entries.
    input_bound: PosFloat = 8.0



#: The vector unit's table keys of a design and the function each holds.
TABLE_KINDS: dict[str, type[LookupTable]] = {"sigmoid_table": SigmoidTable, "gelu_table": NormalCdfTable,
                                              "softmax_table": ExpTable}


@config_class
class TiledConvDesign:
    """A tiled convolution engine: ``kernel:`` section of a ``type: tiled_conv`` YAML."""

    #: always tiled_conv.
    type: KernelType
    #: design name (used in reports).
    name: Str
    #: datapath number format.
    precision: PrecisionSpec
    #: fabric clock of the engine in MHz.
    clock_mhz: PosFloat
    #: Tm, Tn.
    parallelism: TiledConvParallelism
    #: Tr, Tc, max_kernel (+ IFM buffer size).
    tile: TiledConvTile
    #: DMA stream widths per stream.
    stream_width_bits: TiledConvStreams
    #: per-buffer options.
    buffers: TiledConvBuffers
    #: labelled LUT/FF estimate.
    logic_estimate: LogicEstimate
    #: source id → citation.
    sources: dict[str, Str]
    #: pipeline latency of one multiplier in cycles (e.g. 4 for HLS ``fmul_32ns_32ns_32_4_max_dsp``).
    mul_latency_cycles: PosInt
    #: pipeline latency of one adder in cycles (e.g. 5 for HLS ``fadd_32ns_32ns_32_5_full_dsp``).
    add_latency_cycles: PosInt
    #: DSP slices per MAC; overrides boards/dsp_types.yaml for this design when given.
    dsp_per_mac: PosFloat | None = None
    #: window operations (compares or adds) per cycle of the pooling unit beside the MAC
    #: array; default Tm (one lane per output-channel bank). Not counted in the fit.
    pool_lanes: PosInt | None = None
    #: a sigmoid lookup table in the vector unit (sigmoid, SiLU and tanh on the FPGA); None: those ops
    #: need a compute device. Counted in the fit.
    sigmoid_table: LookupTableOptions | None = None
    #: a normal-CDF lookup table in the vector unit (GELU on the FPGA, ``x·Φ(x)``); None: GELU
    #: needs a compute device. Counted in the fit.
    gelu_table: LookupTableOptions | None = None
    #: an exponential lookup table in the vector unit (softmax on the FPGA: eˣ of each score less its
    #: maximum, then a sum and a division); None: softmax needs a compute device. Counted in the fit.
    softmax_table: LookupTableOptions | None = None
    #: free text.
    notes: Str | None = None

    @property
    def macs(self) -> int:
        """MAC units working in parallel (Tm·Tn)."""
        return self.parallelism.tm * self.parallelism.tn

    @property
    def pipeline_depth_cycles(self) -> int:
        """Cycles to fill the MAC pipeline once: a multiplier, then an adder tree over the Tn
        products plus the running output sum (⌈log2(Tn+1)⌉ adder levels)."""
        levels = (self.parallelism.tn).bit_length()  # == ceil(log2(tn + 1))
        return self.mul_latency_cycles + self.add_latency_cycles * levels

    @property
    def pooling_lanes(self) -> int:
        """Window operations per cycle of the pooling unit: ``pool_lanes``, default Tm."""
        return self.pool_lanes if self.pool_lanes is not None else self.parallelism.tm

    @property
    def engine_label(self) -> str:
        """``MAC array Tm=64 x Tn=7`` — names the engine in reports."""
        return f"MAC array Tm={self.parallelism.tm} x Tn={self.parallelism.tn}"

    def elements_per_beat(self) -> dict[str, int]:
        """Values per AXI-stream beat for each stream (e.g. 64 bits / fp32 = 2)."""
        bits = self.precision.word_bits
        widths = self.stream_width_bits
        return {"weights": widths.weights // bits, "ifm": widths.ifm // bits, "ofm": widths.ofm // bits}

    def buffer_specs(self) -> tuple[BufferSpec, ...]:
        """The engine's on-chip buffers at their largest size (module docstring)."""
        bits = self.precision.word_bits
        tm, tn = self.parallelism.tm, self.parallelism.tn
        tile = self.tile
        opts = self.buffers

        def spec(name: str, depth: int, banks: int, options: BufferOptions) -> BufferSpec:
            return BufferSpec(name=name, width_bits=bits, depth_words=depth, banks=banks,
                              double_buffered=options.double_buffered, memory=options.memory)

        specs = (
            spec("ifm", tile.ifm_buffer_rows * tile.ifm_buffer_cols, tn, opts.ifm),
            spec("weights", tile.max_kernel ** 2, tm * tn, opts.weights),
            spec("ofm", tile.tr * tile.tc, tm, opts.ofm),
            spec("bias", tm, 1, opts.bias),
        )
        for name, table in self.lookup_tables().items():  # read-only: one copy per two lanes
            specs += (BufferSpec(name=name, width_bits=bits, depth_words=table.entries,
                                 banks=-(-self.pooling_lanes // 2), double_buffered=False,
                                 memory=MemoryPreference.BRAM),)
        return specs

    def lookup_tables(self) -> dict[str, LookupTable]:
        """The vector unit's tables by design key (:data:`TABLE_KINDS`), those the design gives."""
        return {key: kind(entries=options.entries, input_bound=float(options.input_bound))
                for key, kind in TABLE_KINDS.items() if (options := getattr(self, key)) is not None}


def tiled_conv_checks(document: object, doc: YamlDocument) -> list[Problem]:
    """Cross-field checks with places (used by the loader on the ``{kernel: ...}`` document)."""
    design: TiledConvDesign = getattr(document, "kernel")
    root = ("kernel",)
    problems = precision_problems(design.precision, doc, root + ("precision",))
    if not problems:
        widths = {"weights": design.stream_width_bits.weights, "ifm": design.stream_width_bits.ifm,
                  "ofm": design.stream_width_bits.ofm}
        problems += stream_problems(widths, design.precision.word_bits, doc, root + ("stream_width_bits",))
    if (design.tile.ifm_rows is None) != (design.tile.ifm_cols is None):
        problems.append(doc.problem(root + ("tile",), "give both ifm_rows and ifm_cols, or neither"))
    for name in TABLE_KINDS:
        table = getattr(design, name)
        if table is not None and table.entries < 2:
            problems.append(doc.problem(root + (name, "entries"), f"{table.entries} entries: expected at least 2"))
    return problems


def tiled_conv_bram18(tm: object, tn: object, tr: object, tc: object, k: object, bits: int,
                      *, double_buffered: bool = True) -> int | np.ndarray:
    """General-model BRAM18 blocks of the IFM + OFM + weight buffers of a tiling (vectorised).

    Uses the released buffer shapes (IFM Tr×Tc per bank, no halo; bias not counted, as in
    the released formula) so that it is directly comparable with
    :func:`~fpgasim.kernels.resources.released_bram18`.

    Args:
        tm, tn, tr, tc, k: tile sizes and kernel size (ints or integer arrays, broadcast).
        bits: word width in bits.
        double_buffered: ping-pong every buffer (the released design does).

    Returns:
        BRAM18 blocks (int for scalars, else an int64 array).

    Raises:
        BadArgument: negative or non-integer inputs.
    """
    tm_a, tn_a = np.asarray(tm), np.asarray(tn)
    tr_a, tc_a, k_a = np.asarray(tr), np.asarray(tc), np.asarray(k)
    ifm = buffer_bram18(bits, tr_a * tc_a, tn_a, double_buffered)
    ofm = buffer_bram18(bits, tr_a * tc_a, tm_a, double_buffered)
    weights = buffer_bram18(bits, k_a * k_a, tm_a * tn_a, double_buffered)
    total = np.asarray(ifm) + np.asarray(ofm) + np.asarray(weights)
    if all(np.ndim(v) == 0 for v in (tm, tn, tr, tc, k)):
        return int(total)
    return total


def tiled_conv_resources(tm: object, tn: object, tr: object, tc: object, k: object, bits: int,
                         dsp_per_mac: float) -> tuple[int | np.ndarray, int | np.ndarray]:
    """``(dsp, bram18)`` of candidate tilings under the general model (vectorised).

    Args:
        tm, tn, tr, tc, k: tile sizes and kernel size (ints or integer arrays, broadcast).
        bits: word width in bits.
        dsp_per_mac: DSP slices per MAC (5 for fp32, 1 for 16-bit fixed on DSP48E2).

    Returns:
        ``(⌈Tm·Tn·dsp_per_mac⌉, tiled_conv_bram18(...))``.

    Raises:
        BadArgument: negative or non-integer inputs, or a bad DSP cost.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1:
        raise BadArgument(f"bits={bits!r}: expected a positive integer")
    macs = np.asarray(tm) * np.asarray(tn)
    dsp = dsp_count(macs if np.ndim(macs) else int(macs), dsp_per_mac)
    return dsp, tiled_conv_bram18(tm, tn, tr, tc, k, bits)
