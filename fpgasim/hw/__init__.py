"""fpgasim.hw layer: boards, DSP types, link types and compute devices from the cited ``boards/`` library,
and platforms (devices + cables) built from them."""

from fpgasim.hw.board import (
    Board, BoardKind, ClockRange, Device, DspBlock, DspTypeName, Fabric, Family, HostPort, IoPort,
    IoPortKind, MemoryAttach, MemoryChannel, MemoryType, Processor, Reserved, UsableFraction,
    load_board_file,
)
from fpgasim.hw.compute import ComputeKind, ComputeSpec, Efficiency, OpClass, load_compute_devices
from fpgasim.hw.dsp import DspCosts, DspType, Precision, load_dsp_types
from fpgasim.hw.library import BOARDS_DIR, BOARDS_DIR_ENV, board_ids, boards_dir, is_board_path, load_board
from fpgasim.hw.links import LinkLatency, LinkType, load_link_types
from fpgasim.hw.platform import (
    Cable, ComputeDevice, FpgaDevice, Hop, Platform, PlatformDevice, load_platform_file, load_platform_section,
    topology_edges,
)

__all__ = [
    "Board", "BoardKind", "ClockRange", "Device", "DspBlock", "DspTypeName", "Fabric", "Family",
    "HostPort", "IoPort", "IoPortKind", "MemoryAttach", "MemoryChannel", "MemoryType", "Processor",
    "Reserved", "UsableFraction", "load_board_file",
    "DspCosts", "DspType", "Precision", "load_dsp_types",
    "BOARDS_DIR", "BOARDS_DIR_ENV", "board_ids", "boards_dir", "is_board_path", "load_board",
    "LinkLatency", "LinkType", "load_link_types",
    "ComputeKind", "ComputeSpec", "Efficiency", "OpClass", "load_compute_devices",
    "Cable", "ComputeDevice", "FpgaDevice", "Hop", "Platform", "PlatformDevice", "topology_edges",
    "load_platform_file", "load_platform_section",
]
