"""The sweep's fast path for tilings: one layer's latency and resources over arrays of tilings.

Owns: :func:`layer_tiling_grid` (numpy, vectorised over any number of ⟨Tm,Tn,Tr,Tc⟩ points:
the complete analytical latency of :func:`fpgasim.mapping.latency_arrays` plus the released
DSP/BRAM18 formulas with the halo-sized IFM buffer, as :func:`fpgasim.mapping.search_tiling`
uses them), its plain-Python twin :func:`layer_tiling_point_ref` (one point, floats only; the
reference of the tests and the baseline of ``benchmarks/sweep.py``), and
:func:`best_layer_tilings` (the per-layer optimum over all dominant tilings, for reports).
"""

from __future__ import annotations

import math

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import window_extent
from fpgasim.kernels.resources import released_bram18, released_dsp
from fpgasim.mapping import ConvShape, ModelVariant, Partition, ResourceBounds, StreamRates, latency_arrays
from fpgasim.mapping.latency import CYCLE_DECIMALS

__all__ = ["layer_tiling_grid", "layer_tiling_point_ref", "BITS_PER_BRAM18"]

#: Points evaluated per numpy pass (bounds the temporaries' memory to ~100 MB).
CHUNK_POINTS = 1 << 20
#: Bits per BRAM18 in the released resource formulas (kernels.resources).
BITS_PER_BRAM18 = 18000


def _check(shape, rates, bounds, partition) -> Partition:
    partition = Partition() if partition is None else partition
    for name, value, cls in (("shape", shape, ConvShape), ("rates", rates, StreamRates),
                             ("bounds", bounds, ResourceBounds), ("partition", partition, Partition)):
        if not isinstance(value, cls):
            raise BadArgument(f"layer_tiling_grid: {name}={value!r}: expected a {cls.__name__}")
    partition.check(shape)
    return partition


def layer_tiling_grid(shape: ConvShape, tm, tn, tr, tc, *, rates: StreamRates, bounds: ResourceBounds,
                      partition: Partition | None = None) -> dict[str, np.ndarray]:
    """Latency (cycles, complete model), DSP, BRAM18 and fit of every tiling point.

    Args:
        shape: the layer. tm, tn, tr, tc: broadcastable integer arrays of tile sizes >= 1.
        rates: stream rates (elements per cycle). bounds: one board's DSP/BRAM18 and data width.
        partition: the split over boards (default: all 1).

    Returns:
        ``cycles`` (float64), ``dsp`` and ``bram18`` (int64, per board) and ``fits`` (bool,
        ``<=`` bounds), all of the broadcast shape.

    Raises:
        BadArgument: wrong argument types, non-integer or < 1 tile sizes, a bad partition.
    """
    partition = _check(shape, rates, bounds, partition)
    arrays = []
    for name, value in (("tm", tm), ("tn", tn), ("tr", tr), ("tc", tc)):
        array = np.asarray(value)
        if array.dtype.kind not in "iu" or (array.size and int(array.min()) < 1):
            raise BadArgument(f"layer_tiling_grid: {name}: expected integers >= 1; got dtype {array.dtype}"
                              + (f", min {array.min()}" if array.size and array.dtype.kind in "iuf" else ""))
        arrays.append(array.astype(np.int64, copy=False))
    shape_out = np.broadcast_shapes(*(a.shape for a in arrays))
    out = {"cycles": np.empty(shape_out, np.float64), "dsp": np.empty(shape_out, np.int64),
           "bram18": np.empty(shape_out, np.int64), "fits": np.empty(shape_out, np.bool_)}
    size = int(np.prod(shape_out))
    if not shape_out or size <= CHUNK_POINTS:
        _grid_chunk(shape, *arrays, rates, bounds, partition, out, ...)
        return out
    arrays = [np.broadcast_to(a, (1,) * (len(shape_out) - a.ndim) + a.shape) for a in arrays]
    step = max(1, CHUNK_POINTS * shape_out[0] // size)
    for start in range(0, shape_out[0], step):  # chunks along the leading axis keep memory bounded
        rows = slice(start, start + step)
        parts = [a[rows] if a.shape[0] > 1 else a for a in arrays]
        _grid_chunk(shape, *parts, rates, bounds, partition, out, rows)
    return out


def _grid_chunk(shape, tm, tn, tr, tc, rates, bounds, partition, out, rows) -> None:
    """Evaluate with broadcasting (terms that depend on fewer axes stay small) into ``out[rows]``."""
    cycles = latency_arrays(shape, tm, tn, tr, tc, partition, rates, ModelVariant.COMPLETE)["cycles"]
    bits = bounds.data_bits
    dsp = released_dsp(tm, tn, bits)
    bram = released_bram18(tm, tn, tr, tc, shape.kernel, bits, stride=shape.stride)
    out["cycles"][rows] = cycles
    out["dsp"][rows] = dsp
    out["bram18"][rows] = bram
    out["fits"][rows] = (dsp <= bounds.dsp) & (bram <= bounds.bram18)


def layer_tiling_point_ref(shape: ConvShape, tm: int, tn: int, tr: int, tc: int, *, rates: StreamRates,
                           bounds: ResourceBounds, partition: Partition) -> tuple[float, int, int, bool]:
    """One tiling point in plain Python (the reference and benchmark baseline; no checks).

    Returns:
        ``(cycles, dsp, bram18, fits)`` — the same values as :func:`layer_tiling_grid`.
    """
    m, n, taps = shape.out_channels, shape.in_channels, shape.kernel_h * shape.kernel_w
    (kh, sh), (kw, sw) = (shape.kernel_h, shape.stride_h), (shape.kernel_w, shape.stride_w)
    b_local = -(-shape.batch // partition.pb)
    r_local = -(-shape.out_h // partition.pr)
    c_local = -(-shape.out_w // partition.pc)
    m_local = -(-m // partition.pm)
    ftm, ftn, ftr, ftc = float(min(tm, m_local)), float(min(tn, n)), float(min(tr, r_local)), float(min(tc, c_local))
    window = window_extent(ftr, sh, kh) * window_extent(ftc, sw, kw)
    t_c = taps * ftr * ftc + rates.step_fill_cycles
    t_o = ftm * ftr * ftc / rates.ofm
    ps, pm, a = partition.spatial, partition.pm, rates.link

    def loads(channels: float) -> tuple[float, float, float]:
        """(t_I, t_W, t_link) of one inner step over ``channels`` input channels."""
        ifm_tile, w_tile = channels * window, ftm * channels * taps
        t_i, t_w, t_link = ifm_tile / rates.ifm, w_tile / rates.weights, 0.0
        if a is not None:
            if ps > 1:
                t_w, t_link = t_w / ps, t_link + w_tile * ((ps - 1) / ps) / a
            if pm > 1:
                t_i, t_link = t_i / pm, t_link + ifm_tile * ((pm - 1) / pm) / a
        return t_i, t_w, t_link

    steps = math.ceil(n / ftn)
    first = loads(ftn)
    inner = (steps - 1) * max(*first, t_c) + max(*loads(n - (steps - 1) * ftn), t_c)
    l_out = max(inner, t_o)
    tiles = (shape.groups * b_local) * math.ceil(r_local / ftr) * math.ceil(c_local / ftc) * math.ceil(m_local / ftm)
    fill = inner + min(max(first), t_c)  # first tile's load+compute, one load exposed
    cycles = round((tiles - 1) * l_out + fill + t_o, CYCLE_DECIMALS)  # as the vectorised model rounds it
    bits = bounds.data_bits
    dsp = (5 if bits == 32 else 1) * tm * tn
    per_map = -(-(tr * tc * bits) // BITS_PER_BRAM18)
    per_map_halo = -(-(window_extent(tr, sh, kh) * window_extent(tc, sw, kw) * bits) // BITS_PER_BRAM18)
    if bits == 32:
        b_w = 2 * tm * tn * (-(-(taps * bits) // BITS_PER_BRAM18))
    else:
        b_w = tm * tn * (-(-(4 * taps * 16) // BITS_PER_BRAM18))
    bram = 2 * tn * per_map_halo + 2 * tm * per_map + b_w
    return cycles, dsp, bram, dsp <= bounds.dsp and bram <= bounds.bram18
