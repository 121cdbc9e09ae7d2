"""One FPGA board: device resources, clocks, memory channels, host ports, CPU and I/O ports.

Owns: the typed board document (``schema: 1``, top-level ``board:``; see ``docs/boards.md``),
its cross-field checks, and the derived quantities the mapper uses (available resources,
peak and sustained memory bandwidth). Every number in a board file carries a source id
(checked by :mod:`fpgasim.hw._cited`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.config import (
    Fraction, NonNegInt, PosFloat, PosInt, Str, YamlDocument, config_class,
)
from fpgasim.errors import BadArgument, Problem
from fpgasim.hw._cited import Citations, load_cited

__all__ = [
    "BoardKind", "Family", "DspTypeName", "MemoryAttach", "MemoryType", "IoPortKind",
    "Device", "DspBlock", "BramBlock", "UramBlock", "UsableFraction", "Reserved", "Fabric",
    "ClockRange", "MemoryChannel", "HostPort", "Processor", "IoPort", "Board", "BoardDocument",
    "load_board_file",
]


class BoardKind(StrEnum):
    """What sort of board: an SoC with CPU and FPGA, a PCIe card, or a plain FPGA board."""

    MPSOC = "mpsoc"
    SOC = "soc"
    FPGA_CARD = "fpga_card"
    FPGA_BOARD = "fpga_board"


class Family(StrEnum):
    """Device family."""

    ZYNQ7000 = "zynq7000"
    ZYNQ_ULTRASCALE_PLUS = "zynq_ultrascale_plus"
    VIRTEX_ULTRASCALE_PLUS = "virtex_ultrascale_plus"


class DspTypeName(StrEnum):
    """DSP slice primitive (see ``boards/dsp_types.yaml``)."""

    DSP48E1 = "DSP48E1"
    DSP48E2 = "DSP48E2"


class MemoryAttach(StrEnum):
    """Which side a memory channel hangs on."""

    PS = "ps"
    PL = "pl"
    HBM = "hbm"
    HOST = "host"


class MemoryType(StrEnum):
    """DRAM technology."""

    DDR3 = "DDR3"
    DDR4 = "DDR4"
    LPDDR4 = "LPDDR4"
    HBM2 = "HBM2"


class IoPortKind(StrEnum):
    """Physical connector usable by an inter-board link."""

    SFP_PLUS = "sfp_plus"
    QSFP28 = "qsfp28"
    FMC_HPC = "fmc_hpc"
    FMC_LPC = "fmc_lpc"
    RJ45 = "rj45"
    WIFI = "wifi"
    USB = "usb"


@config_class
class Device:
    #: Vivado part string, e.g. ``xczu9eg-ffvb1156-2-e``.
    part: Str
    family: Family
    #: e.g. ``"-2"`` or ``"-2L"``.
    speed_grade: Str
    #: number of super logic regions (dies).
    slrs: PosInt = 1


@config_class
class DspBlock:
    count: NonNegInt
    type: DspTypeName


@config_class
class BramBlock:
    #: 36 Kb block RAMs; each is usable as two independent 18 Kb halves.
    count_36k: NonNegInt


@config_class
class UramBlock:
    #: 288 Kb UltraRAM blocks (0 on devices without URAM).
    count: NonNegInt


@config_class
class UsableFraction:
    """Fraction of the (total − reserved) resources a design may use; 1.0 in the board files."""

    luts: Fraction = 1.0
    ffs: Fraction = 1.0
    dsp: Fraction = 1.0
    bram: Fraction = 1.0
    uram: Fraction = 1.0


@config_class
class Reserved:
    """Resources taken by a shell, DMA or NIC before the design gets any."""

    luts: NonNegInt = 0
    ffs: NonNegInt = 0
    dsp: NonNegInt = 0
    bram_36k: NonNegInt = 0
    uram: NonNegInt = 0


@config_class
class Fabric:
    """Device totals plus what a design may use: floor((total − reserved) × usable_fraction)."""

    luts: PosInt
    ffs: PosInt
    dsp: DspBlock
    bram: BramBlock
    uram: UramBlock
    usable_fraction: UsableFraction = field(default_factory=UsableFraction)
    reserved: Reserved = field(default_factory=Reserved)

    @property
    def available_dsp(self) -> int:
        """DSP slices a design may use."""
        return _avail(self.dsp.count, self.reserved.dsp, self.usable_fraction.dsp)

    @property
    def available_bram36(self) -> int:
        """36 Kb block RAMs a design may use."""
        return _avail(self.bram.count_36k, self.reserved.bram_36k, self.usable_fraction.bram)

    @property
    def available_bram18(self) -> int:
        """18 Kb block-RAM halves a design may use (two per 36 Kb block)."""
        return _avail(2 * self.bram.count_36k, 2 * self.reserved.bram_36k, self.usable_fraction.bram)

    @property
    def available_uram(self) -> int:
        """UltraRAM blocks a design may use."""
        return _avail(self.uram.count, self.reserved.uram, self.usable_fraction.uram)

    @property
    def available_luts(self) -> int:
        """LUTs a design may use."""
        return _avail(self.luts, self.reserved.luts, self.usable_fraction.luts)

    @property
    def available_ffs(self) -> int:
        """Flip-flops a design may use."""
        return _avail(self.ffs, self.reserved.ffs, self.usable_fraction.ffs)


def _avail(total: int, reserved: int, fraction: float) -> int:
    # the small epsilon keeps e.g. 0.7 × 1000 = 699.999… from flooring to 699
    return max(0, math.floor((total - reserved) * fraction + 1e-9))


@config_class
class ClockRange:
    """Fabric clock of designs on this board, MHz."""

    default: PosFloat
    min: PosFloat
    max: PosFloat


@config_class
class MemoryChannel:
    """One off-chip memory channel (or ``count`` identical independent ones)."""

    id: Str
    attach: MemoryAttach
    type: MemoryType
    #: data bits per transfer (ECC bits excluded).
    width_bits: PosInt
    #: mega-transfers per second per data pin.
    data_rate_mts: PosFloat
    #: capacity of one channel in GiB.
    capacity_gib: PosFloat
    #: sustained / peak bandwidth, in (0, 1].
    efficiency: Fraction
    #: identical independent channels described by this entry (e.g. 32 HBM pseudo-channels).
    count: PosInt = 1

    @property
    def peak_bytes_per_s(self) -> float:
        """Peak bandwidth of one channel: width/8 × data rate, bytes per second."""
        return self.width_bits / 8 * self.data_rate_mts * 1e6

    @property
    def sustained_bytes_per_s(self) -> float:
        """Sustained bandwidth of one channel: peak × efficiency, bytes per second."""
        return self.peak_bytes_per_s * self.efficiency

    @property
    def total_peak_bytes_per_s(self) -> float:
        """Peak bandwidth of all ``count`` channels, bytes per second."""
        return self.peak_bytes_per_s * self.count

    @property
    def total_sustained_bytes_per_s(self) -> float:
        """Sustained bandwidth of all ``count`` channels, bytes per second."""
        return self.sustained_bytes_per_s * self.count


@config_class
class HostPort:
    """PL ↔ PS/host AXI ports of one kind (e.g. 4 × S_AXI_HP, or one PCIe XDMA)."""

    id: Str
    count: PosInt
    width_bits: PosInt
    max_clock_mhz: PosFloat

    @property
    def peak_bytes_per_s(self) -> float:
        """Theoretical rate of one port at its maximum clock, bytes per second."""
        return self.width_bits / 8 * self.max_clock_mhz * 1e6


@config_class
class Processor:
    """The CPU on the board (the software baseline)."""

    isa: Str
    core: Str
    cores: PosInt
    clock_mhz: PosFloat
    simd_bits: PosInt
    fp32_flops_per_cycle_per_core: PosFloat | None = None


@config_class
class IoPort:
    """A physical connector usable for inter-board links."""

    id: Str
    kind: IoPortKind
    lanes: PosInt
    max_lane_gbps: PosFloat


@config_class
class Board:
    """A board description (see module docstring); ``citations``/``unverified`` are filled by the loader."""

    id: Str
    name: Str
    kind: BoardKind
    device: Device
    fabric: Fabric
    clock_mhz: ClockRange
    memory: tuple[MemoryChannel, ...] = ()
    host_ports: tuple[HostPort, ...] = ()
    processor: Processor | None = None
    io_ports: tuple[IoPort, ...] = ()
    sources: dict[Str, Str] = field(default_factory=dict)
    #: key path (below ``board``) → source ids of every number; filled by the loader.
    citations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: key paths of numbers marked ``verified: false``; filled by the loader.
    unverified: tuple[str, ...] = ()

    def memory_channel(self, channel_id: str) -> MemoryChannel:
        """The memory channel called ``channel_id``.

        Raises:
            BadArgument: no such channel (names the known ones).
        """
        for channel in self.memory:
            if channel.id == channel_id:
                return channel
        known = ", ".join(c.id for c in self.memory) or "none"
        raise BadArgument(f"board {self.id!r} has no memory channel {channel_id!r}; known: {known}")


@config_class
class BoardDocument:
    board: Board


_INJECTED = ("citations", "unverified")


def _inject(body: Any, citations: Citations) -> None:
    board = body.get("board") if isinstance(body, dict) else None
    if isinstance(board, dict):
        for key in _INJECTED:
            board.pop(key, None)  # user-written values are reported by _reserved_keys
        prefix = "board."
        board["citations"] = {k.removeprefix(prefix): v for k, v in citations.by_path.items()}
        board["unverified"] = tuple(k.removeprefix(prefix) for k in citations.unverified)


def _reserved_keys(board: Board, doc: YamlDocument) -> Iterable[Problem]:
    raw = doc.data.get("board", {})
    for key in _INJECTED:
        if isinstance(raw, dict) and key in raw:
            yield doc.problem(("board", key), f"{key!r} is filled in by the loader; remove it")


def _clock(board: Board, doc: YamlDocument) -> Iterable[Problem]:
    c = board.clock_mhz
    if not c.min <= c.default <= c.max:
        yield doc.problem(("board", "clock_mhz"), f"need min <= default <= max; got min {c.min:g}, "
                          f"default {c.default:g}, max {c.max:g} MHz")


def _reserved(board: Board, doc: YamlDocument) -> Iterable[Problem]:
    f = board.fabric
    totals = {"luts": f.luts, "ffs": f.ffs, "dsp": f.dsp.count, "bram_36k": f.bram.count_36k, "uram": f.uram.count}
    for item in fields(Reserved):
        used = getattr(f.reserved, item.name)
        if used > totals[item.name]:
            yield doc.problem(("board", "fabric", "reserved", item.name),
                              f"reserved {used} exceeds the device total {totals[item.name]}")


def _unique_ids(board: Board, doc: YamlDocument) -> Iterable[Problem]:
    for section in ("memory", "host_ports", "io_ports"):
        seen: dict[str, int] = {}
        for index, item in enumerate(getattr(board, section)):
            if item.id in seen:
                yield doc.problem(("board", section, index, "id"),
                                  f"duplicate id {item.id!r} (first used at {section}[{seen[item.id]}])")
            seen.setdefault(item.id, index)


def _uram_family(board: Board, doc: YamlDocument) -> Iterable[Problem]:
    if board.fabric.uram.count and board.device.family is Family.ZYNQ7000:
        yield doc.problem(("board", "fabric", "uram", "count"), "zynq7000 devices have no UltraRAM; expected 0")
    if board.device.family is Family.ZYNQ7000 and board.fabric.dsp.type is not DspTypeName.DSP48E1:
        yield doc.problem(("board", "fabric", "dsp", "type"), "zynq7000 devices have DSP48E1 slices")


def _on_board(check):  # type: ignore[no-untyped-def]
    return lambda document, doc: check(document.board, doc)


CHECKS = (_reserved_keys, _clock, _reserved, _unique_ids, _uram_family)


def load_board_file(path: str | Path) -> Board:
    """Load and check one board file.

    Args:
        path: a ``*.yaml`` board document.

    Returns:
        The frozen :class:`Board`.

    Raises:
        ConfigError: every problem in the file (types, missing/unknown keys, uncited numbers,
            cross-field rules), each with file, line and key path.
    """
    document, _ = load_cited(path, BoardDocument, sources_at=("board", "sources"), inject=_inject,
                              checks=[_on_board(check) for check in CHECKS])
    return document.board
