"""The pooling unit on the PL, beside the tiled-conv engine, as SimPy processes.

Owns: the pooling tile schedule (:func:`pool_tiles`) and :func:`pool_layer`, three concurrent
processes per layer and board like the conv engine's — *load* (the input window of one output
tile through the IFM stream into a ping-pong input buffer), *compute* (``lanes`` window
operations per cycle: ⌈output elements × K² / lanes⌉ cycles per tile) and *store* (the output
tile through the OFM stream from a ping-pong output buffer).

A tile is ``channels`` × ``rows`` × ``cols`` output elements of one sample; its input window is
the ((rows−1)·S+K) × ((cols−1)·S+K) box those outputs read, clipped to the map (padding is
never read from DDR). In functional mode the loader slices the window out of the DDR image,
filling the padding with ``math.pad_value``; ``math.pool`` reduces it (an unpadded pooling op)
and the store process writes the tile into the output image. Timing mode moves no data.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import ConvPart, input_window, tile_spans
from fpgasim.nn.layers import Pool
from fpgasim.sim.buffers import PingPong
from fpgasim.sim.conv_engine import IFM, OFM, BoardFabric, EngineParams, LayerRun
from fpgasim.sim.port import dma_read, dma_write

__all__ = ["PoolTiling", "PoolTile", "PoolMath", "PoolRates", "PoolEstimate", "pool_tiles", "pool_compute_cycles",
           "dma_cycles", "pool_estimate", "pool_layer"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolTiling:
    """Output tile of the pooling unit: channels × rows × columns (each ≥ 1)."""

    channels: int
    rows: int
    cols: int

    def __post_init__(self) -> None:
        for name in ("channels", "rows", "cols"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadArgument(f"PoolTiling {name}={value!r}: expected an int >= 1")


@dataclass(frozen=True, slots=True)
class PoolTile:
    """One output tile and the input window it reads (half-open ranges, full-layer coordinates).

    Attributes:
        batch: the sample.
        channels: channel range (same for input and output).
        out_rows, out_cols: output ranges.
        in_rows, in_cols: input ranges read from DDR (clipped to the map).
        pad_top, pad_left: padding rows/columns before the first read row/column.
        halo_h, halo_w: window size including padding, (rows−1)·S+K × (cols−1)·S+K.
    """

    batch: int
    channels: tuple[int, int]
    out_rows: tuple[int, int]
    out_cols: tuple[int, int]
    in_rows: tuple[int, int]
    in_cols: tuple[int, int]
    pad_top: int
    pad_left: int
    halo_h: int
    halo_w: int

    @property
    def ifm_elems(self) -> int:
        """Elements read from DDR."""
        return ((self.channels[1] - self.channels[0]) * (self.in_rows[1] - self.in_rows[0])
                * (self.in_cols[1] - self.in_cols[0]))

    @property
    def ofm_elems(self) -> int:
        """Elements written to DDR."""
        return ((self.channels[1] - self.channels[0]) * (self.out_rows[1] - self.out_rows[0])
                * (self.out_cols[1] - self.out_cols[0]))


@dataclass(slots=True, kw_only=True)
class PoolMath:
    """Functional-mode data of one pooling layer (shared by every board).

    Attributes:
        ifm: input image (B, C, H, W) as stored in DDR.
        ofm: output image (B, C, OH, OW); each board writes its region.
        pool: ``window (1, c, halo_h, halo_w) -> (1, c, rows, cols)``, an unpadded pooling op.
        pad_value: value of the padding inside a window (max: the format's minimum, avg: 0).
    """

    ifm: np.ndarray
    ofm: np.ndarray
    pool: Callable[[np.ndarray], np.ndarray]
    pad_value: float | int


def pool_tiles(layer: Pool, part: ConvPart, tiling: PoolTiling) -> Iterator[PoolTile]:
    """The tiles of ``part`` (an output region of ``layer``) in schedule order: batch, channel
    tile, row tile, column tile.

    Raises:
        BadArgument: ``part`` outside the layer's output.
    """
    bounds = {"batch": None, "out_ch": layer.channels, "out_rows": layer.out_h, "out_cols": layer.out_w}
    for name, limit in bounds.items():
        lo, hi = getattr(part, name)
        if lo < 0 or (limit is not None and hi > limit):
            raise BadArgument(f"pool_tiles: part {name}=({lo}, {hi}) outside the output of {layer.name}")
    k, s, p = layer.kernel, layer.stride, layer.padding
    for b in range(*part.batch):
        for ch in tile_spans(*part.out_ch, tiling.channels):
            for rows in tile_spans(*part.out_rows, tiling.rows):
                in_rows, pad_top, halo_h = input_window(rows, s, k, p, layer.in_h)
                for cols in tile_spans(*part.out_cols, tiling.cols):
                    in_cols, pad_left, halo_w = input_window(cols, s, k, p, layer.in_w)
                    yield PoolTile(b, ch, rows, cols, in_rows, in_cols, pad_top, pad_left, halo_h, halo_w)


def pool_compute_cycles(out_elems: int, kernel: int, lanes: int) -> int:
    """⌈out_elems · K² / lanes⌉: one window operation (compare or add) per lane per cycle."""
    return -(-out_elems * kernel * kernel // lanes)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolRates:
    """Elements per engine cycle of the DDR channel alone and of the IFM / OFM ports, and the DMA
    chunk in elements (for :func:`pool_estimate`)."""

    ddr: float
    ifm: float
    ofm: float
    chunk_elems: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolEstimate:
    """:func:`pool_estimate`'s result (engine cycles): the total, the tile count, each stage's
    summed time, the first tile's load + compute and the last tile's store."""

    cycles: float
    tiles: int
    load_cycles: float
    compute_cycles: float
    store_cycles: float
    fill_cycles: float
    drain_cycles: float


def dma_cycles(elems: int, chunk_elems: int, first: float, second: float) -> float:
    """Cycles of a chunk-pipelined DMA through two stages of ``first`` then ``second`` elements
    per cycle (DDR then port for a read): chunk i+1 on the first stage overlaps chunk i on the
    second, as :func:`fpgasim.sim.port.dma_read` / ``dma_write`` do."""
    sizes = [chunk_elems] * (elems // chunk_elems) + ([elems % chunk_elems] if elems % chunk_elems else [])
    total, previous = 0.0, 0.0
    for size in sizes:
        total += max(size / first, previous)
        previous = size / second
    return total + previous


def pool_estimate(layer: Pool, part: ConvPart, tiling: PoolTiling, *, lanes: int, rates: PoolRates) -> PoolEstimate:
    """The no-contention latency of :func:`pool_layer` on ``part``: the max-plus recurrence of
    its three stages over tiles k = 0..n−1 with two-bank input and output buffers (a load needs
    the input bank compute freed two tiles earlier; compute needs the output bank the store freed
    two tiles earlier)::

        L(k) = max(L(k−1), C(k−2)) + t_I(k)
        C(k) = max(L(k), C(k−1), S(k−2)) + t_C(k)
        S(k) = max(C(k), S(k−1)) + t_O(k)          cycles = S(n−1)

    t_I / t_O: :func:`dma_cycles` of the window read / the outputs written; t_C:
    :func:`pool_compute_cycles`. Read and write never contend for DDR here (the emulator's gap).

    Raises:
        BadArgument: an empty or out-of-range ``part``.
    """
    tiles = list(pool_tiles(layer, part, tiling))
    if not tiles:
        raise BadArgument(f"pool_estimate: part {part} of {layer.name} is empty")
    t_i = [dma_cycles(t.ifm_elems, rates.chunk_elems, rates.ddr, rates.ifm) for t in tiles]
    t_c = [float(pool_compute_cycles(t.ofm_elems, layer.kernel, lanes)) for t in tiles]
    t_o = [dma_cycles(t.ofm_elems, rates.chunk_elems, rates.ofm, rates.ddr) for t in tiles]
    n = len(tiles)
    load, comp, store = [0.0] * (n + 2), [0.0] * (n + 2), [0.0] * (n + 2)  # tile k at index k + 2
    for k in range(n):
        j = k + 2
        load[j] = max(load[j - 1], comp[j - 2]) + t_i[k]
        comp[j] = max(load[j], comp[j - 1], store[j - 2]) + t_c[k]
        store[j] = max(comp[j], store[j - 1]) + t_o[k]
    return PoolEstimate(cycles=store[n + 1], tiles=n, load_cycles=sum(t_i), compute_cycles=sum(t_c),
                        store_cycles=sum(t_o), fill_cycles=t_i[0] + t_c[0], drain_cycles=t_o[-1])


def _window(math: PoolMath, tile: PoolTile) -> np.ndarray:
    window = np.full((1, tile.channels[1] - tile.channels[0], tile.halo_h, tile.halo_w), math.pad_value,
                     dtype=math.ifm.dtype)
    rows = tile.in_rows[1] - tile.in_rows[0]
    cols = tile.in_cols[1] - tile.in_cols[0]
    window[0, :, tile.pad_top:tile.pad_top + rows, tile.pad_left:tile.pad_left + cols] = math.ifm[
        tile.batch, tile.channels[0]:tile.channels[1], tile.in_rows[0]:tile.in_rows[1], tile.in_cols[0]:tile.in_cols[1]]
    return window


def pool_layer(
    env: simpy.Environment,
    fabric: BoardFabric,
    layer: Pool,
    part: ConvPart,
    tiling: PoolTiling,
    params: EngineParams,
    *,
    lanes: int,
    math: PoolMath | None = None,
) -> Generator[Event, object, LayerRun]:
    """Process: pool the output region ``part`` of ``layer`` on one board; returns its :class:`LayerRun`.

    Args:
        env: SimPy environment.
        fabric: the board's DDR channel, ports (``ifm`` in, ``ofm`` out) and trace.
        layer: the whole pooling layer.
        part: the output region this board computes (``out_ch`` = channels).
        tiling: output tile sizes.
        params: the engine's clock, element bytes and DMA chunk (pipeline depth unused).
        lanes: window operations per cycle (the design's ``pool_lanes``).
        math: functional-mode data, or None for timing mode.

    Raises:
        BadArgument: ``lanes`` < 1 or ``part`` outside the layer.
    """
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise BadArgument(f"pool_layer: lanes={lanes!r}: expected an int >= 1")
    run = LayerRun(start_ps=env.now)
    tiles = list(pool_tiles(layer, part, tiling))
    in_buf = PingPong(env, f"{fabric.name}.pool_in_buf", depth=2, trace=fabric.trace, process=fabric.name)
    out_buf = PingPong(env, f"{fabric.name}.pool_out_buf", depth=2, trace=fabric.trace, process=fabric.name)
    nbytes = params.element_bytes

    def loader() -> Generator[Event, object, None]:
        for tile in tiles:
            yield in_buf.reserve()
            size = tile.ifm_elems * nbytes
            yield env.process(dma_read(env, fabric.ddr, fabric.ports[IFM], IFM, size,
                                       chunk_bytes=params.dma_chunk_bytes))
            run.add_bytes(IFM, size)
            in_buf.fill(_window(math, tile) if math is not None else None)

    def compute() -> Generator[Event, object, None]:
        for tile in tiles:
            window = yield in_buf.get()
            yield out_buf.reserve()
            cycles = pool_compute_cycles(tile.ofm_elems, layer.kernel, lanes)
            start = env.now
            yield env.timeout(params.clock.delay_ps(env.now, cycles))
            run.compute_busy_ps += env.now - start
            if fabric.trace is not None:
                fabric.trace.span(f"{fabric.name}.pool", f"tile {run.steps}", start, env.now,
                                  process=fabric.name, args={"cycles": cycles})
            run.steps += 1
            run.macs += tile.ofm_elems * layer.kernel ** 2
            in_buf.release()
            out_buf.fill(math.pool(window) if math is not None else None)

    def store() -> Generator[Event, object, None]:
        for tile in tiles:
            values = yield out_buf.get()
            size = tile.ofm_elems * nbytes
            yield env.process(dma_write(env, fabric.ddr, fabric.ports[OFM], OFM, size,
                                        chunk_bytes=params.dma_chunk_bytes))
            run.add_bytes(OFM, size)
            if math is not None:
                math.ofm[tile.batch:tile.batch + 1, tile.channels[0]:tile.channels[1],
                         tile.out_rows[0]:tile.out_rows[1], tile.out_cols[0]:tile.out_cols[1]] = values
            out_buf.release()

    processes = [env.process(loader()), env.process(compute()), env.process(store())]
    yield simpy.AllOf(env, processes)
    run.end_ps = env.now
    return run
