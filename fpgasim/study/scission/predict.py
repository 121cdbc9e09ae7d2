"""The split-latency model of ScissionLite: each split's latency with and without the transfer
layer, the best split under a user's constraints, and its breakdown and speedups.

Owns :class:`Candidate` (one split point, however it was timed: released measurements or the
emulator), :class:`Link`, :class:`Constraints`, :class:`Predictor`, :func:`latency`,
:func:`breakdown` and :func:`best`.

The paper's equation (seed-papers.md §c, ``scissionTL_predict.py``)::

    T(k) = Σ_{blocks ≤ k} t_dev + t_DeviceTL + t_convert + ping + TL_bytes(k) / BW + t_EdgeTL + Σ_{blocks > k} t_edge

is ``Predictor.CORRECTED``. The released Triton predictor (qub-blesson/ScissionTL@7cebb25,
``ScissionTL(Triton)/scissionTL_triton_predict.py``, read for this project in
/tmp/spec/scission_ref/NOTES.md) adds ``t_DeviceTL + t_convert`` a second time when it ranks the
splits (once in its processing time, once in its total): ``Predictor.RELEASED`` keeps that, as
the regression setting that reproduces its printed output. Without a TL the split sends the
block's own output: ``Σ t_dev + ping + bytes(k) / BW + Σ t_edge``. The last block is device-only
execution (no link). Bandwidth is in bytes/s as the predictor computes it: ``round(Mbps × 125000)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument

__all__ = ["Candidate", "Link", "Constraints", "Predictor", "Breakdown", "latency", "breakdown", "best",
           "allowed"]


class Predictor(StrEnum):
    """Which arithmetic turns a split's terms into its latency."""

    #: the paper's equation: every term once.
    CORRECTED = "corrected"
    #: the released predictor: the device TL and data-conversion times counted twice.
    RELEASED = "released"


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """The device → edge link as the predictor sees it.

    Attributes:
        bandwidth_mbps: megabits per second (> 0). ping_ms: added once per transfer (>= 0).
    """

    bandwidth_mbps: float
    ping_ms: float

    def __post_init__(self) -> None:
        if not self.bandwidth_mbps > 0:
            raise BadArgument(f"bandwidth_mbps={self.bandwidth_mbps!r}: expected a bandwidth > 0")
        if not self.ping_ms >= 0:
            raise BadArgument(f"ping_ms={self.ping_ms!r}: expected a ping >= 0")

    @property
    def bytes_per_s(self) -> int:
        """Bytes per second, rounded as the released predictor does."""
        return round(self.bandwidth_mbps * 125_000)

    def transfer_s(self, nbytes: int) -> float:
        """Ping plus serialisation of ``nbytes``, seconds."""
        return self.ping_ms / 1000 + nbytes / self.bytes_per_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One split point: the device runs blocks 0..index, the edge the rest.

    Attributes:
        index: block index. label: how the report names it (Keras layers ``0-1`` or a node).
        position: topological position of the split node in the fpgasim graph (None: unknown),
            for the keep-on-device constraint.
        device_s: the device's time for blocks 0..index. edge_s: the edge's time for the rest
            (0 for the last block). local: the last block (device only, nothing sent).
        nbytes: bytes of the split tensor on the link without a TL.
        tl_nbytes: with the TL (None: the TL does not apply here).
        tl_device_s: the device TL (max pool). convert_s: the device's data conversion (released data).
        tl_edge_s: the edge TL (upsample; the Triton data has none).
        transfer_s, tl_transfer_s: the link time without / with the TL when the emulator measured
            it (None: computed from :class:`Link`).
    """

    index: int
    label: str
    position: int | None
    device_s: float
    edge_s: float
    local: bool
    nbytes: int
    tl_nbytes: int | None
    tl_device_s: float = 0.0
    convert_s: float = 0.0
    tl_edge_s: float = 0.0
    transfer_s: float | None = None
    tl_transfer_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraints:
    """What a user requires of the split.

    Attributes:
        keep_position: the split must be at or after this topological position (nodes that must
            stay on the device; None: no such node).
        first_split_forbidden: block 0 may not be the split (the paper's privacy constraint).
        upload_cap_bytes: at most this many bytes on the link (None: no cap).
        device_time_cap_s, edge_time_cap_s: at most this long on the device (with its TL) / the edge.
    """

    keep_position: int | None = None
    first_split_forbidden: bool = False
    upload_cap_bytes: int | None = None
    device_time_cap_s: float | None = None
    edge_time_cap_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakdown:
    """One split's latency and its terms, seconds (``tl``: whether the TL is used)."""

    index: int
    label: str
    tl: bool
    latency_s: float
    device_s: float
    tl_s: float
    transfer_s: float
    edge_s: float
    nbytes: int

    def as_dict(self) -> dict[str, object]:
        """JSON form (seconds, bytes)."""
        return {"index": self.index, "label": self.label, "tl": self.tl, "latency_s": self.latency_s,
                "device_s": self.device_s, "tl_s": self.tl_s, "transfer_s": self.transfer_s, "edge_s": self.edge_s,
                "bytes": self.nbytes}


def breakdown(candidate: Candidate, link: Link, *, tl: bool, predictor: Predictor = Predictor.CORRECTED) -> Breakdown:
    """The latency of ``candidate`` with or without the TL, and its terms.

    ``tl_s`` is what the TL adds (device TL + data conversion + edge TL; twice the device part
    under ``Predictor.RELEASED``). A device-only candidate has no TL and no transfer.

    Raises:
        BadArgument: the TL is asked for where it does not apply.
    """
    c = candidate
    if c.local:
        return Breakdown(index=c.index, label=c.label, tl=False, latency_s=c.device_s, device_s=c.device_s, tl_s=0.0,
                         transfer_s=0.0, edge_s=0.0, nbytes=0)
    if tl and c.tl_nbytes is None:
        raise BadArgument(f"split {c.label}: the transfer layer does not apply to its tensor")
    nbytes = c.tl_nbytes if tl else c.nbytes
    measured = c.tl_transfer_s if tl else c.transfer_s
    transfer = link.transfer_s(nbytes) if measured is None else measured
    tl_s = 0.0
    if tl:
        device_tl = c.tl_device_s + c.convert_s
        tl_s = device_tl * (2 if predictor is Predictor.RELEASED else 1) + c.tl_edge_s
    total = c.device_s + tl_s + transfer + c.edge_s
    return Breakdown(index=c.index, label=c.label, tl=tl, latency_s=total, device_s=c.device_s, tl_s=tl_s,
                     transfer_s=transfer, edge_s=c.edge_s, nbytes=nbytes)


def latency(candidate: Candidate, link: Link, *, tl: bool, predictor: Predictor = Predictor.CORRECTED) -> float:
    """:func:`breakdown`'s latency, seconds."""
    return breakdown(candidate, link, tl=tl, predictor=predictor).latency_s


def allowed(candidate: Candidate, split: Breakdown, constraints: Constraints) -> bool:
    """Whether a split (its breakdown ``split``) meets the constraints."""
    c, k = candidate, constraints
    if k.first_split_forbidden and c.index == 0 and not c.local:
        return False
    if k.keep_position is not None and (c.position is None or c.position < k.keep_position):
        return False
    if k.upload_cap_bytes is not None and split.nbytes > k.upload_cap_bytes:
        return False
    device_part = split.device_s + (c.tl_device_s + c.convert_s if split.tl else 0.0)
    if k.device_time_cap_s is not None and device_part > k.device_time_cap_s:
        return False
    return k.edge_time_cap_s is None or split.edge_s + (c.tl_edge_s if split.tl else 0.0) <= k.edge_time_cap_s


def best(candidates: Sequence[Candidate], link: Link, *, tl: bool, constraints: Constraints = Constraints(),
         predictor: Predictor = Predictor.CORRECTED) -> Breakdown | None:
    """The fastest allowed split (ties: the earlier split). With ``tl`` only splits where the TL
    applies, and device-only execution, are candidates (as in the released tool); without, every
    split. None: no split meets the constraints."""
    usable = [c for c in candidates if c.local or not tl or c.tl_nbytes is not None]
    options = [(c, breakdown(c, link, tl=tl and not c.local, predictor=predictor)) for c in usable]
    return min((s for c, s in options if allowed(c, s, constraints)), key=lambda s: (s.latency_s, s.index),
               default=None)
