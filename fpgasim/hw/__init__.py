"""fpgasim.hw layer: boards, DSP types and link types loaded from the cited ``boards/`` library."""

from fpgasim.hw.board import (
    Board, BoardKind, ClockRange, Device, DspBlock, DspTypeName, Fabric, Family, HostPort, IoPort,
    IoPortKind, MemoryAttach, MemoryChannel, MemoryType, Processor, Reserved, UsableFraction,
    load_board_file,
)
from fpgasim.hw.dsp import DspCosts, DspType, Precision, load_dsp_types
from fpgasim.hw.library import BOARDS_DIR, BOARDS_DIR_ENV, board_ids, boards_dir, load_board
from fpgasim.hw.links import LinkLatency, LinkType, load_link_types

__all__ = [
    "Board", "BoardKind", "ClockRange", "Device", "DspBlock", "DspTypeName", "Fabric", "Family",
    "HostPort", "IoPort", "IoPortKind", "MemoryAttach", "MemoryChannel", "MemoryType", "Processor",
    "Reserved", "UsableFraction", "load_board_file",
    "DspCosts", "DspType", "Precision", "load_dsp_types",
    "BOARDS_DIR", "BOARDS_DIR_ENV", "board_ids", "boards_dir", "load_board",
    "LinkLatency", "LinkType", "load_link_types",
]
