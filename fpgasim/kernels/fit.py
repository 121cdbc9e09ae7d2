"""Does a kernel design fit a board? The utilisation table and the verdict.

Owns: :func:`evaluate_fit` (board × design [× on-chip layers] → :class:`FitResult` with one row
per resource and one entry per buffer), :func:`check_fit` (the same, raising
:class:`~fpgasim.errors.DoesNotFit`), and the utilisation limits (``device`` = the board's
available resources; ``finn`` = FINN's timing-closure fractions on top).

A resource fits when ``used ≤ available`` (the released Super-LIP DSE keeps a design only when
``used < bound``; this check accepts a design that uses every slice). DSP, BRAM18 and URAM are
exact block counts of the model in :mod:`.resources`; LUT and FF are labelled ESTIMATES from the
design's ``logic_estimate`` (plus the exact LUTs of LUTRAM buffers). When several resources
overflow, the verdict names the worst exact one (largest demand ÷ bound), an estimate only when
no exact resource overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fpgasim.errors import BadArgument, DoesNotFit, FitReport
from fpgasim.kernels.dsc_ode import DscOdeDesign, OnChipLayer
from fpgasim.kernels.resources import BufferUse, MemoryKind, map_buffer, uram_blocks
from fpgasim.kernels.tiled_conv import TiledConvDesign

__all__ = ["FitLimits", "FINN_FRACTIONS", "Resource", "ResourceRow", "FitResult", "evaluate_fit", "check_fit",
           "FIT_SCHEMA_VERSION"]

#: Version of the JSON document :meth:`FitResult.to_dict` produces.
FIT_SCHEMA_VERSION = 1


class FitLimits(StrEnum):
    """Which fraction of the board's available resources a design may use."""

    #: everything the board file makes available (after its reserved/usable_fraction).
    DEVICE = "device"
    #: FINN's timing-closure limits on top (Xilinx/finn src/finn/util/platforms.py; boards.md §0.4).
    FINN = "finn"


class Resource(StrEnum):
    """Rows of the utilisation table."""

    DSP = "DSP"
    BRAM18 = "BRAM18"
    URAM = "URAM"
    LUT = "LUT"
    FF = "FF"


#: FINN's utilisation limits per resource (Xilinx/finn src/finn/util/platforms.py; boards.md §0.4).
FINN_FRACTIONS = {Resource.LUT: 0.7, Resource.FF: 0.5, Resource.BRAM18: 0.8, Resource.URAM: 0.8,
                  Resource.DSP: 0.8}

_UNITS = {Resource.DSP: "slices", Resource.BRAM18: "blocks", Resource.URAM: "blocks",
          Resource.LUT: "LUTs (estimate)", Resource.FF: "FFs (estimate)"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRow:
    """One line of the utilisation table.

    Attributes:
        resource: which resource.
        used: units the design needs.
        available: units the board allows under the chosen limits.
        estimate: True for LUT/FF (labelled estimate), False for exact block/slice counts.
        culprit: the buffer or engine using the most of this resource.
    """

    resource: Resource
    used: int
    available: int
    estimate: bool
    culprit: str

    @property
    def fits(self) -> bool:
        """``used ≤ available``."""
        return self.used <= self.available

    @property
    def percent(self) -> float | None:
        """Utilisation in percent (None when nothing is available)."""
        return 100.0 * self.used / self.available if self.available else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FitResult:
    """Utilisation of one design on one board and the verdict.

    Attributes:
        board: board id.
        kernel: design name.
        limits: the limits applied.
        precision: the design's number format, e.g. ``fp32`` or ``ap_fixed<16,6>``.
        dsp_per_mac: DSP slices per MAC used for the DSP row.
        dsp_per_mac_source: ``design`` (the design's override) or the DSP type, e.g. ``DSP48E2``.
        rows: one per :class:`Resource`.
        buffers: every buffer and the memory it was mapped to.
        levers: suggestions that would make it fit (empty when it fits).
        notes: caveats, e.g. that buffers depend on a network that was not given.
    """

    board: str
    kernel: str
    limits: FitLimits
    precision: str
    dsp_per_mac: float
    dsp_per_mac_source: str
    rows: tuple[ResourceRow, ...]
    buffers: tuple[BufferUse, ...]
    levers: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def fits(self) -> bool:
        """True when every resource fits."""
        return all(row.fits for row in self.rows)

    def row(self, resource: Resource | str) -> ResourceRow:
        """The row of ``resource``."""
        return next(row for row in self.rows if row.resource == Resource(resource))

    @property
    def report(self) -> FitReport | None:
        """Why it does not fit (None when it fits); see the module docstring for the choice."""
        over = [row for row in self.rows if not row.fits]
        if not over:
            return None
        exact = [row for row in over if not row.estimate] or over
        worst = max(exact, key=lambda row: row.used / row.available if row.available else math.inf)
        return FitReport(resource=worst.resource.value, demand=worst.used, bound=worst.available,
                         unit=_UNITS[worst.resource], culprit=worst.culprit, levers=self.levers)

    @property
    def verdict(self) -> str:
        """``fits`` or the :class:`FitReport` text (``does not fit: ...``)."""
        report = self.report
        return "fits" if report is None else str(report)

    def raise_if_not_fit(self) -> None:
        """Raise :class:`DoesNotFit` carrying :attr:`report` unless the design fits."""
        report = self.report
        if report is not None:
            raise DoesNotFit(report)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready document (``schema_version``; dump with ``sort_keys=True``)."""
        return {
            "schema_version": FIT_SCHEMA_VERSION,
            "board": self.board,
            "kernel": self.kernel,
            "limits": self.limits.value,
            "precision": self.precision,
            "dsp_per_mac": self.dsp_per_mac,
            "dsp_per_mac_source": self.dsp_per_mac_source,
            "fits": self.fits,
            "verdict": self.verdict,
            "resources": [{"resource": row.resource.value, "used": row.used, "available": row.available,
                           "percent": row.percent, "estimate": row.estimate, "culprit": row.culprit}
                          for row in self.rows],
            "buffers": [{"name": use.spec.name, "width_bits": use.spec.width_bits,
                         "depth_words": use.spec.depth_words, "banks": use.spec.banks,
                         "double_buffered": use.spec.double_buffered, "memory": use.spec.memory.value,
                         "mapped_to": use.kind.value, "blocks_per_bank": use.blocks_per_bank,
                         "bram18": use.bram18, "uram": use.uram, "lutram_luts": use.lutram_luts,
                         "efficiency": round(use.efficiency, 6)} for use in self.buffers],
            "levers": list(self.levers),
            "notes": list(self.notes),
        }


def _available(board: Any, limits: FitLimits) -> dict[Resource, int]:
    fabric = board.fabric
    found = {Resource.DSP: fabric.available_dsp, Resource.BRAM18: fabric.available_bram18,
             Resource.URAM: fabric.available_uram, Resource.LUT: fabric.available_luts,
             Resource.FF: fabric.available_ffs}
    if limits is FitLimits.FINN:
        return {res: math.floor(value * FINN_FRACTIONS[res]) for res, value in found.items()}
    return {res: int(value) for res, value in found.items()}


def _dsp_per_mac(design: TiledConvDesign | DscOdeDesign, board: Any, dsp_types: Any) -> tuple[float, str]:
    if design.dsp_per_mac is not None:
        return float(design.dsp_per_mac), "design"
    dsp_type = str(board.fabric.dsp.type)
    if dsp_type not in dsp_types:
        raise BadArgument(f"DSP type {dsp_type!r} of board {_board_id(board)!r} is not in the DSP-type "
                          f"library; known: {', '.join(sorted(dsp_types))}")
    return float(dsp_types[dsp_type].dsp_per_mac(design.precision.mac_precision)), dsp_type


def _board_id(board: Any) -> str:
    return str(getattr(board, "id", "board"))


def _largest(uses: list[tuple[str, int]], default: str) -> str:
    uses = [item for item in uses if item[1] > 0]
    return max(uses, key=lambda item: item[1])[0] if uses else default


def _buffer_label(use: BufferUse) -> str:
    spec = use.spec
    unit = {MemoryKind.BRAM18: "BRAM18", MemoryKind.URAM: "URAM", MemoryKind.LUTRAM: "LUTs"}[use.kind]
    return (f"buffer {spec.name} ({spec.banks} banks x {spec.copies} copies x {use.blocks_per_bank} {unit} "
            f"for {spec.depth_words} words x {spec.width_bits} bits)")


def evaluate_fit(board: Any, design: TiledConvDesign | DscOdeDesign, *, dsp_types: Any,
                 layers: tuple[OnChipLayer, ...] = (), limits: FitLimits | str = FitLimits.DEVICE) -> FitResult:
    """Count the design's resources on ``board`` and compare with what the board offers.

    Args:
        board: an :class:`fpgasim.hw.Board` (uses ``id``, ``fabric.available_*`` and
            ``fabric.dsp.type``).
        design: a loaded kernel design.
        dsp_types: ``fpgasim.hw.load_dsp_types()`` (DSP type → ``dsp_per_mac(precision)``).
        layers: on-chip layers (a ``dsc_ode`` engine's buffers depend on them; ignored by
            ``tiled_conv``, whose buffers are fixed by its tile sizes).
        limits: ``device`` or ``finn``.

    Returns:
        The :class:`FitResult`; it does not raise when the design does not fit.

    Raises:
        BadArgument: unknown limits, or the board's DSP type is not in ``dsp_types``.
    """
    try:
        limits = FitLimits(limits)
    except ValueError:
        raise BadArgument(f"limits={limits!r}: expected one of {', '.join(v.value for v in FitLimits)}") from None
    available = _available(board, limits)
    dpm, dpm_source = _dsp_per_mac(design, board, dsp_types)
    notes: list[str] = []
    if isinstance(design, DscOdeDesign):
        specs = design.buffer_specs(layers)
        if not layers:
            notes.append("no network given: a dsc_ode engine's buffers depend on the network, so only its "
                         "MAC units and fixed logic are counted (use --network)")
    else:
        specs = design.buffer_specs()
        too_big = [layer.name for layer in layers if max(layer.kernel_h, layer.kernel_w) > design.tile.max_kernel]
        if too_big:
            notes.append(f"layers {', '.join(too_big)} have kernels larger than max_kernel="
                         f"{design.tile.max_kernel}: this engine cannot run them")
    uram_on_board = available[Resource.URAM] > 0
    buffers = tuple(map_buffer(spec, uram_available=uram_on_board) for spec in specs)
    dsp = math.ceil(round(design.macs * dpm, 9))
    est = design.logic_estimate
    banks = sum(use.spec.banks * use.spec.copies for use in buffers if use.kind is not MemoryKind.LUTRAM)
    lut_parts = [(design.engine_label, est.luts_per_mac * design.macs), ("fixed control logic", est.luts_fixed),
                 ("memory bank decode", est.luts_per_bank * banks)]
    lut_parts += [(_buffer_label(use), use.lutram_luts) for use in buffers]
    ff_parts = [(design.engine_label, est.ffs_per_mac * design.macs), ("fixed control logic", est.ffs_fixed),
                ("memory bank decode", est.ffs_per_bank * banks)]
    rows = (
        ResourceRow(resource=Resource.DSP, used=dsp, available=available[Resource.DSP], estimate=False,
                    culprit=f"{design.engine_label} ({design.macs} MACs x {dpm:g} DSP/MAC)"),
        ResourceRow(resource=Resource.BRAM18, used=sum(use.bram18 for use in buffers),
                    available=available[Resource.BRAM18], estimate=False,
                    culprit=_largest([(_buffer_label(use), use.bram18) for use in buffers], "none")),
        ResourceRow(resource=Resource.URAM, used=sum(use.uram for use in buffers),
                    available=available[Resource.URAM], estimate=False,
                    culprit=_largest([(_buffer_label(use), use.uram) for use in buffers], "none")),
        ResourceRow(resource=Resource.LUT, used=math.ceil(sum(v for _, v in lut_parts)),
                    available=available[Resource.LUT], estimate=True, culprit=_largest(lut_parts, "none")),
        ResourceRow(resource=Resource.FF, used=math.ceil(sum(v for _, v in ff_parts)),
                    available=available[Resource.FF], estimate=True, culprit=_largest(ff_parts, "none")),
    )
    notes.append(f"LUT/FF are estimates ({est.source}); DSP/BRAM18/URAM are exact counts of the block model")
    result = FitResult(board=_board_id(board), kernel=design.name, limits=limits,
                       precision=design.precision.describe(), dsp_per_mac=dpm, dsp_per_mac_source=dpm_source,
                       rows=rows, buffers=buffers, notes=tuple(notes))
    if result.fits:
        return result
    return FitResult(board=result.board, kernel=result.kernel, limits=limits, precision=result.precision,
                     dsp_per_mac=dpm, dsp_per_mac_source=dpm_source, rows=rows, buffers=buffers,
                     levers=_levers(design, rows, buffers, available, dpm), notes=tuple(notes))


def _levers(design: TiledConvDesign | DscOdeDesign, rows: tuple[ResourceRow, ...], buffers: tuple[BufferUse, ...],
            available: dict[Resource, int], dpm: float) -> tuple[str, ...]:
    levers: list[str] = []
    over = {row.resource for row in rows if not row.fits}
    if Resource.DSP in over and dpm > 0:
        max_macs = math.floor(available[Resource.DSP] / dpm + 1e-9)
        if isinstance(design, TiledConvDesign):
            tn = design.parallelism.tn
            tm = max_macs // tn
            levers.append(f"Tm {design.parallelism.tm}->{tm}" if tm >= 1 else f"at most {max_macs} MACs")
        else:
            levers.append(f"at most {max_macs} MACs (now {design.macs})")
    if Resource.BRAM18 in over:
        spare_uram = available[Resource.URAM] - sum(use.uram for use in buffers)
        movable = [use for use in buffers if use.kind is MemoryKind.BRAM18 and use.bram18 > 0
                   and use.spec.copies * use.spec.banks * int(uram_blocks(use.spec.width_bits,
                                                                          use.spec.depth_words)) <= spare_uram]
        if movable:
            levers.append(f"memory: uram for buffer {max(movable, key=lambda u: u.bram18).spec.name}")
        if isinstance(design, TiledConvDesign):
            levers.append("smaller Tr*Tc, max_kernel or Tm/Tn")
        else:
            levers.append("fewer or smaller on-chip layers, or fewer banks")
    if Resource.URAM in over:
        levers.append("memory: bram (or auto) for the URAM buffers")
    return tuple(levers)


def check_fit(board: Any, design: TiledConvDesign | DscOdeDesign, *, dsp_types: Any,
              layers: tuple[OnChipLayer, ...] = (), limits: FitLimits | str = FitLimits.DEVICE) -> FitResult:
    """:func:`evaluate_fit`, then raise when it does not fit.

    Raises:
        DoesNotFit: carrying the :class:`~fpgasim.errors.FitReport` (resource, demand, bound,
            culprit buffer or engine, levers).
        BadArgument: as :func:`evaluate_fit`.
    """
    result = evaluate_fit(board, design, dsp_types=dsp_types, layers=layers, limits=limits)
    result.raise_if_not_fit()
    return result
