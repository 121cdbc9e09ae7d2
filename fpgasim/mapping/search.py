"""Tiling and partition search under a board's DSP and BRAM18 limits (minimum latency).

Owns :func:`search_tiling` (per layer; free ⟨Tm,Tn,Tr,Tc⟩ or a fixed ⟨Tm,Tn⟩ with Tr/Tc per
layer) and :func:`search_partition` (over (Pb,Pr,Pc,Pm) with product = boards).

The search space is the released DSE's (superlip-model.md §6.1): Tr ∈ [1,R], Tc ∈ [1,C],
Tm ∈ [1,M], Tn ∈ [1,N] (per-board extents ⌈R/Pr⌉… in ``complete``), visited in lexicographic
(Tr, Tc, Tm, Tn) order, keeping the FIRST minimum. By default only *dominant* tile sizes are
visited: for a loop count q the smallest tile with that count, ⌈D/q⌉. Every term of the model
and every resource count is non-decreasing in each tile size at a fixed loop count, so this
finds the same minimum latency and the same tiling as the brute force (``exhaustive=True``,
chunked to bound memory; tested equal). Feasibility: released DSP/BRAM formulas
(:mod:`fpgasim.kernels.resources`), strict ``<`` bounds in ``released`` (as the authors' code),
``<=`` in ``complete`` (whose IFM buffer also holds the halo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument, DoesNotFit, FitReport
from fpgasim.kernels.resources import released_bram18, released_dsp
from fpgasim.mapping.latency import LayerLatency, latency_arrays, layer_latency, parse_variant
from fpgasim.mapping.link_model import LinkModel, XferCost
from fpgasim.mapping.spec import ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, Tiling

__all__ = ["TilingChoice", "search_tiling", "tile_candidates", "partition_candidates", "search_partition",
           "partition_preference"]

#: Default number of candidate tilings evaluated per numpy chunk (bounds memory to ~0.5 GB).
DEFAULT_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class TilingChoice:
    """The best tiling found for one layer and partition.

    Attributes:
        tiling: the chosen ⟨Tm,Tn,Tr,Tc⟩. partition: the partition it was searched for.
        latency: every term at that tiling. dsp, bram18: its resource use (per board).
        candidates_evaluated: tilings evaluated. candidates_feasible: those within the bounds.
    """

    tiling: Tiling
    partition: Partition
    latency: LayerLatency
    dsp: int
    bram18: int
    candidates_evaluated: int
    candidates_feasible: int


def tile_candidates(extent: int, *, exhaustive: bool) -> np.ndarray:
    """Tile sizes to visit for a dimension of ``extent``: all of 1..extent, or the dominant ones.

    Returns:
        Ascending int64 array (dominant: {⌈extent/q⌉ : q = 1..extent}).
    """
    if exhaustive:
        return np.arange(1, extent + 1, dtype=np.int64)
    q = np.arange(1, extent + 1, dtype=np.int64)
    return np.unique(-(-extent // q))


def _resources(shape: ConvShape, tm, tn, tr, tc, bits: int, variant: ModelVariant):
    dsp = released_dsp(tm, tn, bits)
    halo_stride = shape.stride if variant is ModelVariant.COMPLETE else None  # IFM buffer holds the halo
    return dsp, released_bram18(tm, tn, tr, tc, shape.kernel, bits, stride=halo_stride)


def _fits(dsp, bram, bounds: ResourceBounds, variant: ModelVariant):
    if variant is ModelVariant.RELEASED:
        return (dsp < bounds.dsp) & (bram < bounds.bram18)
    return (dsp <= bounds.dsp) & (bram <= bounds.bram18)


def _check_fixed(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise BadArgument(f"search_tiling: {name}={value!r}: expected None or an integer >= 1")


#: Candidates the link-aware search prices exactly at first (in order of their lower bound); each
#: further block is twice as large.
_PRICE_BLOCK = 16


def _bound_and_price(shape: ConvShape, tiles: tuple, where: np.ndarray, partition: Partition, rates: StreamRates,
                     variant: ModelVariant, xfer: XferCost, best_cycles: float, best_index: int) -> tuple[float, int]:
    """Branch and bound over one chunk of fitting candidates: the latency with the exchange at its
    lower bound is a lower bound (the latency grows with the link term), so candidates are
    priced exactly in order of that bound until it exceeds the best found. Ties go to the lower
    candidate index, as the exhaustive scan would choose."""
    bound = latency_arrays(shape, *tiles, partition, rates, variant, xfer, link_bound=True)["cycles"]
    order = np.argsort(bound, kind="stable")
    first, size = 0, _PRICE_BLOCK
    while first < len(order):
        block = order[first:first + size]
        first, size = first + size, 2 * size
        if bound[block[0]] > best_cycles:
            break
        cycles = latency_arrays(shape, *(tile[block] for tile in tiles), partition, rates, variant, xfer)["cycles"]
        low = cycles.min()
        if low < best_cycles or (low == best_cycles and where[block][cycles == low].min() < best_index):
            best_cycles, best_index = float(low), int(where[block][cycles == low].min())
    return best_cycles, best_index


def search_tiling(shape: ConvShape, *, bounds: ResourceBounds, rates: StreamRates,
                  variant: ModelVariant | str = ModelVariant.COMPLETE, partition: Partition | None = None,
                  fixed_tm: int | None = None, fixed_tn: int | None = None, exhaustive: bool = False,
                  chunk_candidates: int = DEFAULT_CHUNK, xfer: XferCost | None = None) -> TilingChoice:
    """Minimum-latency tiling of one layer on one board of ``partition`` within ``bounds``.

    Args:
        shape: the layer. bounds: DSP/BRAM18 budget and data width. rates: elements per cycle.
        variant: ``released`` or ``complete``. partition: default all 1.
        fixed_tm, fixed_tn: fix the unroll factors (e.g. the uniform ⟨64,7⟩ design); Tr/Tc and
            any unfixed factor are searched. A fixed factor may exceed its dimension.
        exhaustive: visit every tiling instead of the dominant ones (same result, slower).
        chunk_candidates: candidates per numpy chunk.
        xfer: the XFER exchange over the platform's links (complete variant; see
            :func:`~fpgasim.mapping.latency.latency_arrays`).

    Returns:
        :class:`TilingChoice`.

    Raises:
        BadArgument: bad arguments or partition (see :meth:`Partition.check`).
        DoesNotFit: no tiling fits; the report names DSP or BRAM18 and the smallest demand.
    """
    variant = parse_variant(variant)
    partition = Partition() if partition is None else partition
    if not isinstance(bounds, ResourceBounds):
        raise BadArgument(f"search_tiling: bounds={bounds!r}: expected a ResourceBounds")
    _check_fixed("fixed_tm", fixed_tm)
    _check_fixed("fixed_tn", fixed_tn)
    if isinstance(chunk_candidates, bool) or not isinstance(chunk_candidates, int) or chunk_candidates < 1:
        raise BadArgument(f"search_tiling: chunk_candidates={chunk_candidates!r}: expected an integer >= 1")
    partition.check(shape)
    r_local, c_local = -(-shape.out_h // partition.pr), -(-shape.out_w // partition.pc)
    m_local = -(-shape.out_channels // partition.pm)
    if variant is ModelVariant.RELEASED and exhaustive:  # the authors loop over the whole layer
        r_ext, c_ext, m_ext = shape.out_h, shape.out_w, shape.out_channels
    else:
        r_ext, c_ext, m_ext = r_local, c_local, m_local
    axes = (tile_candidates(r_ext, exhaustive=exhaustive), tile_candidates(c_ext, exhaustive=exhaustive),
            np.array([fixed_tm]) if fixed_tm else tile_candidates(m_ext, exhaustive=exhaustive),
            np.array([fixed_tn]) if fixed_tn else tile_candidates(shape.in_channels, exhaustive=exhaustive))
    dims = tuple(len(axis) for axis in axes)
    total = int(np.prod(dims))
    best_cycles, best_index, feasible = np.inf, -1, 0
    min_dsp, min_bram = np.inf, np.inf
    for start in range(0, total, chunk_candidates):
        idx = np.unravel_index(np.arange(start, min(start + chunk_candidates, total)), dims)
        tr, tc, tm, tn = (axis[i] for axis, i in zip(axes, idx))
        dsp, bram = _resources(shape, tm, tn, tr, tc, bounds.data_bits, variant)
        ok = _fits(dsp, bram, bounds, variant)
        n_ok = int(np.count_nonzero(ok))
        feasible += n_ok
        if n_ok == 0:
            min_dsp, min_bram = min(min_dsp, int(dsp.min())), min(min_bram, int(bram.min()))
            continue
        where = start + np.flatnonzero(ok)
        if xfer is None:
            cycles = latency_arrays(shape, tm[ok], tn[ok], tr[ok], tc[ok], partition, rates, variant)["cycles"]
            j = int(np.argmin(cycles))
            if cycles[j] < best_cycles:
                best_cycles, best_index = float(cycles[j]), int(where[j])
            continue
        best_cycles, best_index = _bound_and_price(shape, (tm[ok], tn[ok], tr[ok], tc[ok]), where, partition, rates,
                                                   variant, xfer, best_cycles, best_index)
    if best_index < 0:
        dsp_fails = min_dsp >= bounds.dsp if variant is ModelVariant.RELEASED else min_dsp > bounds.dsp
        resource, demand, bound = (("DSP", min_dsp, bounds.dsp) if dsp_fails else ("BRAM18", min_bram, bounds.bram18))
        levers = ("smaller fixed_tm/fixed_tn",) if fixed_tm or fixed_tn else ("a larger board",)
        raise DoesNotFit(FitReport(resource=resource, demand=float(demand), bound=float(bound), unit="blocks"
                                   if resource == "BRAM18" else "slices",
                                   culprit=f"tiled conv engine for {shape}", levers=levers))
    tr, tc, tm, tn = (int(axis[i]) for axis, i in zip(axes, np.unravel_index(best_index, dims)))
    tiling = Tiling(tm=tm, tn=tn, tr=tr, tc=tc)
    dsp, bram = _resources(shape, tm, tn, tr, tc, bounds.data_bits, variant)
    latency = layer_latency(shape, tiling, rates=rates, partition=partition, variant=variant, xfer=xfer)
    return TilingChoice(tiling=tiling, partition=partition, latency=latency, dsp=int(dsp), bram18=int(bram),
                        candidates_evaluated=total, candidates_feasible=feasible)


def partition_preference(partition: Partition) -> tuple[int, int, int, int]:
    """Sort key of the tie-break among equal-latency partitions (smaller = preferred).

    Prefer splitting output channels (no halo duplication, whole rows per board), then rows,
    then columns (DDR layouts are row-major), then batch.
    """
    return (-partition.pm, -partition.pr, -partition.pc, -partition.pb)


def partition_candidates(shape: ConvShape, boards: int) -> tuple[Partition, ...]:
    """Every (Pb,Pr,Pc,Pm) with product ``boards`` and each factor <= its dimension, preferred first.

    Raises:
        BadArgument: boards < 1.
    """
    if isinstance(boards, bool) or not isinstance(boards, int) or boards < 1:
        raise BadArgument(f"partition_candidates: boards={boards!r}: expected an integer >= 1")
    divisors = [d for d in range(1, boards + 1) if boards % d == 0]
    found = []
    for pb in divisors:
        for pr in divisors:
            for pc in divisors:
                pm, rest = divmod(boards, pb * pr * pc)
                if rest or pm < 1:
                    continue
                if pb <= shape.batch and pr <= shape.out_h and pc <= shape.out_w and pm <= shape.out_channels:
                    found.append(Partition(pb=pb, pr=pr, pc=pc, pm=pm))
    return tuple(sorted(found, key=partition_preference))


def search_partition(shape: ConvShape, *, boards: int, bounds: ResourceBounds, rates: StreamRates,
                     variant: ModelVariant | str = ModelVariant.COMPLETE,
                     candidates: tuple[Partition, ...] | None = None, links: LinkModel | None = None,
                     **tiling_options) -> TilingChoice:
    """Best partition (and its best tiling) of one layer over ``boards`` boards.

    Args:
        shape, bounds, rates, variant: as for :func:`search_tiling`.
        boards: number of boards; every candidate's product must equal it.
        candidates: partitions to try (default: :func:`partition_candidates`). Ties in latency
            go to the preferred one (:func:`partition_preference`), whatever the given order.
        links: price each candidate's XFER exchange on these links (None: link-blind).
        tiling_options: passed to :func:`search_tiling` (fixed_tm, fixed_tn, exhaustive …).

    Returns:
        The :class:`TilingChoice` of the winning partition.

    Raises:
        BadArgument: a candidate whose product differs from ``boards`` or exceeds a dimension.
        DoesNotFit: no candidate has a fitting tiling.
    """
    candidates = partition_candidates(shape, boards) if candidates is None else tuple(candidates)
    if not candidates:
        raise BadArgument(f"search_partition: boards={boards}: no partition fits {shape}")
    for candidate in candidates:
        if not isinstance(candidate, Partition):
            raise BadArgument(f"search_partition: candidate {candidate!r}: expected a Partition")
        candidate.check(shape, boards=boards)
    best: TilingChoice | None = None
    last_error: DoesNotFit | None = None
    for candidate in sorted(candidates, key=partition_preference):
        try:
            choice = search_tiling(shape, bounds=bounds, rates=rates, variant=variant, partition=candidate,
                                   xfer=None if links is None else links.xfer(candidate), **tiling_options)
        except DoesNotFit as error:
            last_error = error
            continue
        if best is None or choice.latency.cycles < best.latency.cycles:
            best = choice
    if best is None:
        raise last_error  # type: ignore[misc]
    return best
