"""The streaming vector unit of an FPGA device, and the software engine of a compute device.

*Vector unit* (element-wise add/mul, concat, activations, global pooling): the pooling unit's
lanes and buffers run any streaming op. The work is cut into tiles of at most ``tile_elems``
output elements; per tile the unit reads its share of every input through the IFM stream, spends
⌈operations / lanes⌉ cycles, and writes its share of the output through the OFM stream — load,
compute and store overlap through ping-pong buffers, as in the conv and pool engines.

*Software engine* (a CPU or GPU running a node): one node at a time per device, for the time its
throughput model gives (:meth:`fpgasim.hw.compute.ComputeSpec.node_time_s`), counted in the
device's clock.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy
from simpy.events import Event

from fpgasim.errors import BadArgument
from fpgasim.kernels.pool_schedule import split_evenly
from fpgasim.sim.buffers import PingPong
from fpgasim.sim.clock import Clock
from fpgasim.sim.conv_engine import IFM, OFM, BoardFabric, EngineParams, LayerRun
from fpgasim.sim.port import dma_read, dma_write
from fpgasim.sim.trace import TraceRecorder

__all__ = ["vector_layer", "software_node"]


def vector_layer(env: simpy.Environment, fabric: BoardFabric, *, name: str, input_elems: list[int],
                 output_elems: int, operations: int, lanes: int, tile_elems: int,
                 params: EngineParams) -> Generator[Event, object, LayerRun]:
    """Process: stream one element-wise node through the vector unit; returns its :class:`LayerRun`.

    Args:
        env: SimPy environment.
        fabric: the board's DDR channel, ports and trace.
        name: the node (trace labels).
        input_elems: elements read from each input (whole batch).
        output_elems: elements written (whole batch).
        operations: element operations of the whole node (one per lane per cycle).
        lanes: operations per cycle.
        tile_elems: output elements per tile (the output buffer).
        params: clock, element bytes and DMA chunk.

    Raises:
        BadArgument: lanes or tile_elems < 1, or negative sizes.
    """
    for key, value, minimum in (("lanes", lanes, 1), ("tile_elems", tile_elems, 1), ("output_elems", output_elems, 0),
                                ("operations", operations, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise BadArgument(f"vector_layer {name}: {key}={value!r}: expected an int >= {minimum}")
    run = LayerRun(start_ps=env.now)
    tiles = max(1, -(-output_elems // tile_elems))
    reads = [split_evenly(elems, tiles) for elems in input_elems]
    writes = split_evenly(output_elems, tiles)
    work = split_evenly(operations, tiles)
    in_buf = PingPong(env, f"{fabric.name}.vec_in_buf", depth=2, trace=fabric.trace, process=fabric.name)
    out_buf = PingPong(env, f"{fabric.name}.vec_out_buf", depth=2, trace=fabric.trace, process=fabric.name)
    nbytes = params.element_bytes

    def loader() -> Generator[Event, object, None]:
        for tile in range(tiles):
            yield in_buf.reserve()
            for share in reads:
                size = share[tile] * nbytes
                if size:
                    yield env.process(dma_read(env, fabric.ddr, fabric.ports[IFM], IFM, size,
                                               chunk_bytes=params.dma_chunk_bytes))
                    run.add_bytes(IFM, size)
            in_buf.fill(None)

    def compute() -> Generator[Event, object, None]:
        for tile in range(tiles):
            yield in_buf.get()
            yield out_buf.reserve()
            cycles = -(-work[tile] // lanes)
            start = env.now
            yield env.timeout(params.clock.delay_ps(env.now, cycles))
            run.compute_busy_ps += env.now - start
            if fabric.trace is not None:
                fabric.trace.span(f"{fabric.name}.vector", f"{name} tile {tile}", start, env.now,
                                  process=fabric.name, args={"cycles": cycles})
            run.steps += 1
            in_buf.release()
            out_buf.fill(None)

    def store() -> Generator[Event, object, None]:
        for tile in range(tiles):
            yield out_buf.get()
            size = writes[tile] * nbytes
            if size:
                yield env.process(dma_write(env, fabric.ddr, fabric.ports[OFM], OFM, size,
                                            chunk_bytes=params.dma_chunk_bytes))
                run.add_bytes(OFM, size)
            out_buf.release()

    yield simpy.AllOf(env, [env.process(loader()), env.process(compute()), env.process(store())])
    run.end_ps = env.now
    return run


def software_node(env: simpy.Environment, clock: Clock, *, device: str, name: str, duration_ps: int,
                  trace: TraceRecorder | None) -> Generator[Event, object, LayerRun]:
    """Process: run one node on a compute device's cores for ``duration_ps`` (the caller holds
    the cores: one node at a time); the trace gives the cycles of ``clock`` it spans."""
    run = LayerRun(start_ps=env.now)
    yield env.timeout(duration_ps)
    run.end_ps = env.now
    run.compute_busy_ps = run.end_ps - run.start_ps
    run.steps = 1
    if trace is not None:
        trace.span(f"{device}.cores", name, run.start_ps, run.end_ps, process=device,
                   args={"cycles": clock.cycles_between(run.start_ps, run.end_ps)})
    return run
