"""The pooling unit on the PL, beside the tiled-conv engine, as SimPy processes.

Owns :func:`pool_layer` (its tile schedule is :mod:`fpgasim.kernels.pool_schedule`), three concurrent
processes per layer and board like the conv engine's — *load* (the input window of one output
tile through the IFM stream into a ping-pong input buffer), *compute* (``lanes`` window
operations per cycle: ⌈output elements × KH·KW / lanes⌉ cycles per tile) and *store* (the output
tile through the OFM stream from a ping-pong output buffer).

A tile is ``channels`` × ``rows`` × ``cols`` output elements of one sample; its input window is
the ((rows−1)·SH+KH) × ((cols−1)·SW+KW) box those outputs read, clipped to the map (padding, and a
ceil-mode window's overhang past it, is never read from DDR). In functional mode the loader slices
the window out of the DDR image, filling the padding and overhang with ``math.pad_value``;
``math.pool`` reduces it (an unpadded pooling op, given the tile's share of the layer's divisors so
that an average divides each window by its own) and the store process writes the tile into the output
image.
Timing mode moves no data.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import ConvPart
from fpgasim.kernels.pool_schedule import PoolTile, PoolTiling, pool_compute_cycles, pool_tiles
from fpgasim.nn.layers import Pool
from fpgasim.sim.buffers import PingPong
from fpgasim.sim.conv_engine import IFM, OFM, BoardFabric, EngineParams, LayerRun
from fpgasim.sim.port import dma_read, dma_write

__all__ = ["PoolMath", "pool_layer"]


@dataclass(slots=True, kw_only=True)
class PoolMath:
    """Functional-mode data of one pooling layer (shared by every board).

    Attributes:
        ifm: input image (B, C, H, W) as stored in DDR.
        ofm: output image (B, C, OH, OW); each board writes its region.
        pool: ``(window (1, c, halo_h, halo_w), divisors (rows, cols)) -> (1, c, rows, cols)``, an
            unpadded pooling op (an average divides each window by its divisor; max ignores them).
        pad_value: value of the padding inside a window (max: the format's minimum, avg: 0).
        divisors: the layer's (OH, OW) window divisors (:func:`fpgasim.ops.pool.pool_divisors`).
    """

    ifm: np.ndarray
    ofm: np.ndarray
    pool: Callable[[np.ndarray, np.ndarray], np.ndarray]
    pad_value: float | int
    divisors: np.ndarray


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
            cycles = pool_compute_cycles(tile.ofm_elems, layer.kernel_h * layer.kernel_w, lanes)
            start = env.now
            yield env.timeout(params.clock.delay_ps(env.now, cycles))
            run.compute_busy_ps += env.now - start
            if fabric.trace is not None:
                fabric.trace.span(f"{fabric.name}.pool", f"tile {run.steps}", start, env.now,
                                  process=fabric.name, args={"cycles": cycles})
            run.steps += 1
            run.macs += tile.ofm_elems * layer.kernel_h * layer.kernel_w
            in_buf.release()
            out_buf.fill(None if math is None else
                         math.pool(window, math.divisors[slice(*tile.out_rows), slice(*tile.out_cols)]))

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
