"""What the planner needs to know about one FPGA device: its stream rates, resource bounds and
the tile sizes its units can take.

Owns the translation of a board + kernel design + memory channel into the analytical model's
units (elements per engine cycle), the element width in DDR, the fully-connected-as-1×1-conv
rule and the pooling unit's tile (it reuses the conv engine's buffers). Both the layer-list
planner of ``fpgasim run`` and the graph planner call these; nothing else re-derives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpgasim.errors import BadArgument
from fpgasim.hw import Board, LinkType
from fpgasim.kernels import TiledConvDesign, window_outputs
from fpgasim.mapping.spec import ResourceBounds, StreamRates, Tiling, rate_from_bandwidth
from fpgasim.nn import Conv2d, Linear, Pool

__all__ = ["element_bytes", "stream_rates", "resource_bounds", "linear_as_conv", "pool_tiling", "FpgaContext",
           "stream_cap_bits_per_s", "cable_bits_per_s"]


def element_bytes(word_bits: int) -> int:
    """Bytes one value occupies in DDR and on a stream (1, 2 or 4)."""
    return 1 if word_bits <= 8 else 2 if word_bits <= 16 else 4


def stream_cap_bits_per_s(width_bits: int, freq_hz: float) -> int:
    """The most one FPGA device's stream can feed a link: one weight-stream width per engine
    cycle (XFER forwards what the weight DMA reads), bits/s."""
    return width_bits * round(freq_hz)


def cable_bits_per_s(link: LinkType, caps_bits_per_s: list[int | None]) -> int:
    """Payload rate of one direction of a cable: the link type's effective rate, capped by the
    stream of each FPGA end (``None``: a compute device, no cap). The emulator's links and the
    planner's link model both take their rate from here."""
    return min([int(link.effective_gbps * 1e9), *(cap for cap in caps_bits_per_s if cap is not None)])


def stream_rates(design: TiledConvDesign, ddr_bytes_per_s: float, link: LinkType | None = None) -> StreamRates:
    """Elements per cycle of each stream: the slower of its port and the DDR channel alone; the
    link (XFER) carries at most one weight-stream width per cycle."""
    per_beat = design.elements_per_beat()
    nbytes = element_bytes(design.precision.word_bits)
    ddr_rate = rate_from_bandwidth(bandwidth_bytes_per_s=ddr_bytes_per_s, bytes_per_element=nbytes,
                                   clock_mhz=design.clock_mhz)
    link_rate = None
    if link is not None:
        link_rate = min(per_beat["weights"], rate_from_bandwidth(
            bandwidth_bytes_per_s=link.effective_gbps * 1e9 / 8, bytes_per_element=nbytes,
            clock_mhz=design.clock_mhz))
    return StreamRates(weights=min(per_beat["weights"], ddr_rate), ifm=min(per_beat["ifm"], ddr_rate),
                       ofm=min(per_beat["ofm"], ddr_rate), link=link_rate,
                       step_fill_cycles=design.pipeline_depth_cycles)


def resource_bounds(board: Board, design: TiledConvDesign) -> ResourceBounds:
    """The board's DSP and BRAM18 budget for the tiling search.

    Raises:
        BadArgument: data other than 16 or 32 bits (the search's resource model covers those).
    """
    bits = design.precision.word_bits
    if bits not in (16, 32):
        raise BadArgument(f"tiling search supports 16- or 32-bit data; design {design.name} has {bits}")
    return ResourceBounds(dsp=board.fabric.available_dsp, bram18=board.fabric.available_bram18, data_bits=bits)


def linear_as_conv(layer: Linear) -> Conv2d:
    """A fully connected layer as the 1×1 convolution the MAC array runs: ``in_features`` input
    channels and ``out_features`` output channels on a 1×1 map."""
    return Conv2d(name=layer.name, in_channels=layer.in_features, out_channels=layer.out_features,
                  in_h=1, in_w=1, kernel=1, bias=layer.bias)


def pool_tiling(design: TiledConvDesign, pool: Pool) -> Tiling:
    """The pooling unit's output tile on ``design``: it reuses the conv engine's buffers, so a
    tile's input window is Tn channels of at most ifm_rows × ifm_cols (the IFM buffer) and its
    output at most Tr × Tc (the OFM buffer). Tm = Tn = channels per tile."""
    tile = design.tile
    rows = max(1, min(tile.tr, window_outputs(tile.ifm_buffer_rows, pool.stride_h, pool.kernel_h)))
    cols = max(1, min(tile.tc, window_outputs(tile.ifm_buffer_cols, pool.stride_w, pool.kernel_w)))
    channels = min(design.parallelism.tn, pool.channels)
    return Tiling(tm=channels, tn=channels, tr=min(rows, pool.out_h), tc=min(cols, pool.out_w))


@dataclass(frozen=True, slots=True, kw_only=True)
class FpgaContext:
    """One FPGA device as the planner sees it.

    Attributes:
        device_id: the platform's device id.
        board, design: the hardware and the kernel design on it (already checked to fit).
        ddr_bytes_per_s: sustained bandwidth of the channel the engine's streams use.
        burst_bytes: DDR transaction granularity.
        rates: elements per cycle of each stream (no link).
        bounds: DSP/BRAM18 budget (None when the search does not support the data width).
    """

    device_id: str
    board: Board
    design: TiledConvDesign
    ddr_bytes_per_s: float
    burst_bytes: int
    rates: StreamRates
    bounds: ResourceBounds | None

    @property
    def element_bytes(self) -> int:
        """Bytes per value in DDR and on the streams."""
        return element_bytes(self.design.precision.word_bits)
