"""StreamPort and pipelined DMA: port-bound, DDR-bound and shared-DDR timelines."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
import simpy

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, DdrChannel, StreamPort, dma_read, dma_write

CLK_250 = Clock.from_mhz(250)  # 4000 ps per cycle; 64-bit port = 8 bytes/cycle


def _port(env, name="axis", width_bits=64):
    return StreamPort(env, name, width_bits=width_bits, clock=CLK_250)


def _dma(env, log, fn, ddr, port, stream, nbytes, **kw):
    yield env.process(fn(env, ddr, port, stream, nbytes, **kw))
    log.append((stream, env.now))


def test_port_transaction_is_ceil_bits_over_width_cycles(env, log) -> None:
    port = _port(env)
    assert port.cycles_for(100) == 13  # ceil(800 / 64)

    def user():
        yield env.timeout(1)  # starts at the next edge, 4000
        yield port.transfer("x", 100)
        log.append(("x", env.now))

    env.process(user())
    env.run()
    assert log == [("x", 4000 + 13 * 4000)]


def test_port_back_to_back_users_share_it_in_turn(env, log) -> None:
    port = _port(env)

    def user(name):
        yield port.transfer(name, 64)
        log.append((name, env.now))

    env.process(user("a"))
    env.process(user("b"))
    env.run()
    assert log == [("a", 32_000), ("b", 64_000)]


def test_dma_read_port_bound(env, log) -> None:
    ddr = DdrChannel(env, "ddr", bytes_per_s=16 * 10**9, burst_bytes=64)  # 4000 ps / burst
    port = _port(env)  # 32000 ps / 64 B
    env.process(_dma(env, log, dma_read, ddr, port, "ifm", 256))
    env.run()
    # a + (n-1) * max(a, b) + b = 4000 + 3 * 32000 + 32000
    assert log == [("ifm", 132_000)]
    assert port.busy_ps() == 4 * 32_000


def test_dma_read_ddr_bound(env, log) -> None:
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)  # 64000 ps / burst
    port = _port(env)
    env.process(_dma(env, log, dma_read, ddr, port, "ifm", 256))
    env.run()
    assert log == [("ifm", 64_000 + 3 * 64_000 + 32_000)]


def test_dma_write_port_then_ddr(env, log) -> None:
    ddr = DdrChannel(env, "ddr", bytes_per_s=16 * 10**9, burst_bytes=64)
    port = _port(env)
    env.process(_dma(env, log, dma_write, ddr, port, "ofm", 256))
    env.run()
    assert log == [("ofm", 32_000 + 3 * 32_000 + 4000)]
    assert ddr.stats()["ofm"].bytes_written == 256


def test_one_big_chunk_loses_the_overlap(env, log) -> None:
    ddr = DdrChannel(env, "ddr", bytes_per_s=16 * 10**9, burst_bytes=64)
    port = _port(env)
    env.process(_dma(env, log, dma_read, ddr, port, "ifm", 256, chunk_bytes=256))
    env.run()
    assert log == [("ifm", 16_000 + 128_000)]  # DDR then port, no pipelining


def test_two_dmas_share_one_ddr(env, log) -> None:
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)
    pa, pb = _port(env, "pa"), _port(env, "pb")
    env.process(_dma(env, log, dma_read, ddr, pa, "A", 128))
    env.process(_dma(env, log, dma_read, ddr, pb, "B", 128))
    env.run()
    # DDR: A0 0-64k, B0 64-128k, A1 128-192k, B1 192-256k; each port adds 32k after its last burst
    assert log == [("A", 224_000), ("B", 288_000)]
    assert ddr.busy_ps() == 256_000


@given(st.integers(1, 2000), st.sampled_from([16, 64, 128]), st.sampled_from([8, 32, 64, 200]),
       st.sampled_from([10**9, 4 * 10**9, 16 * 10**9]))
def test_uncontended_dma_follows_the_overlap_formula(nbytes, chunk, width_bits, rate) -> None:
    env = simpy.Environment()
    ddr = DdrChannel(env, "ddr", bytes_per_s=rate, burst_bytes=chunk)
    port = StreamPort(env, "p", width_bits=width_bits, clock=CLK_250)
    env.process(dma_read(env, ddr, port, "s", nbytes))
    env.run()
    sizes = [chunk] * (nbytes // chunk) + ([nbytes % chunk] if nbytes % chunk else [])
    # exact stage-by-stage recurrence of the documented rule, in absolute edges
    a_end = b_end = 0
    a_slot = 0
    for size in sizes:
        a_slot = ddr.byte_clock.edge_at_or_after(a_end) if a_slot == 0 else a_slot
        a_slot += size
        a_end_i = ddr.byte_clock.time_of(a_slot)
        start_b = max(a_end_i, b_end)
        b_end = CLK_250.time_of(CLK_250.edge_at_or_after(start_b) + port.cycles_for(size))
        a_end = a_end_i
        # next DDR chunk may start only when this port chunk starts
        if start_b > a_end_i:
            a_slot = ddr.byte_clock.edge_at_or_after(start_b)
    assert env.now == b_end


def test_bad_port_arguments(env) -> None:
    with pytest.raises(BadArgument, match=r"axis: width_bits=0 must be an int > 0"):
        StreamPort(env, "axis", width_bits=0, clock=CLK_250)
    with pytest.raises(BadArgument, match=r"axis: clock=250 must be a fpgasim.sim.Clock"):
        StreamPort(env, "axis", width_bits=64, clock=250)  # type: ignore[arg-type]
    ddr = DdrChannel(env, "ddr", bytes_per_s=10**9, burst_bytes=64)
    with pytest.raises(BadArgument, match=r"dma_read s: chunk_bytes=0 must be an int > 0"):
        list(dma_read(env, ddr, _port(env), "s", 10, chunk_bytes=0))
    with pytest.raises(BadArgument, match=r"dma_write s: nbytes=-3 must be an int >= 0"):
        list(dma_write(env, ddr, _port(env), "s", -3))
