"""Links: serialisation + latency, credit back-pressure, fair sharing, full duplex."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
import simpy

from fpgasim.errors import BadArgument
from fpgasim.sim import Clock, Link, LinkDirection

RATE = 8 * 10**9  # 1 GB/s payload: 1000 ps per byte, 64 000 ps per 64-byte packet
LAT = 100_000  # ps


def _dir(env, fifo_bytes=1 << 20, **kw):
    params = dict(effective_bits_per_s=RATE, fixed_latency_ps=LAT, packet_bytes=64, fifo_bytes=fifo_bytes)
    params.update(kw)
    return LinkDirection(env, "l", **params)


def _send(env, link, log, stream, nbytes, delay_ps=0):
    yield env.timeout(delay_ps)
    yield link.send(stream, nbytes)
    log.append((stream, env.now))


def _eager_receiver(env, link, log, nbytes):
    yield link.consume(nbytes)
    log.append(("rx", env.now))


@pytest.mark.parametrize("nbytes", [6400, 6410, 1])
def test_long_transfer_takes_latency_plus_bytes_over_rate(env, log, nbytes) -> None:
    link = _dir(env)
    env.process(_send(env, link, log, "a", nbytes))
    env.process(_eager_receiver(env, link, log, nbytes))
    env.run()
    assert log == [("a", LAT + nbytes * 1000), ("rx", LAT + nbytes * 1000)]
    assert link.bytes_delivered == link.bytes_consumed == nbytes
    assert link.credits == link.credits_total


def test_one_credit_fifo_throttles_to_fifo_over_round_trip(env, log) -> None:
    link = _dir(env, fifo_bytes=64)  # one packet of credit
    env.process(_send(env, link, log, "a", 640))
    env.process(_eager_receiver(env, link, log, 640))
    env.run()
    round_trip = 64_000 + 2 * LAT  # serialise, fly, consume, credit flies back
    assert log[0] == ("a", 9 * round_trip + 64_000 + LAT)
    assert link.busy_ps() == 10 * 64_000


def test_two_credit_fifo_doubles_the_throttled_rate(env, log) -> None:
    link = _dir(env, fifo_bytes=128)
    nbytes = 64 * 200
    env.process(_send(env, link, log, "a", nbytes))
    env.process(_eager_receiver(env, link, log, nbytes))
    env.run()
    round_trip = 64_000 + 2 * LAT
    # packets leave in pairs every round trip: pair 99 starts at 99 * rt
    assert log[0] == ("a", 99 * round_trip + 2 * 64_000 + LAT)
    rate = Fraction(nbytes, log[0][1])
    assert abs(rate - Fraction(128, round_trip)) / Fraction(128, round_trip) < Fraction(1, 50)


def test_without_a_receiver_the_sender_blocks_on_credits(env, log) -> None:
    link = _dir(env, fifo_bytes=128)
    env.process(_send(env, link, log, "a", 256))
    env.run()
    assert log == []
    assert (link.fifo_level_bytes, link.credits) == (128, 0)

    def late_receiver():
        yield link.consume(256)
        log.append(("rx", env.now))

    env.process(late_receiver())
    start = env.now
    env.run()
    # credits return LAT after consumption; two more packets then fly
    assert log == [("a", start + LAT + 2 * 64_000 + LAT), ("rx", start + LAT + 2 * 64_000 + LAT)]


def test_two_transfers_share_a_direction_packet_by_packet(env, log) -> None:
    link = _dir(env)
    env.process(_send(env, link, log, "a", 640))
    env.process(_send(env, link, log, "b", 640))
    env.process(_eager_receiver(env, link, log, 1280))
    env.run()
    # a, b, a, b, ...: a's 10th packet is the 19th on the wire, b's the 20th
    assert log == [("a", 19 * 64_000 + LAT), ("b", 20 * 64_000 + LAT), ("rx", 20 * 64_000 + LAT)]
    stats = link.stats()
    assert stats["a"].busy_ps == stats["b"].busy_ps == 10 * 64_000


def test_full_duplex_directions_are_independent(env, log) -> None:
    link = Link(env, "b0-b1", effective_bits_per_s=RATE, fixed_latency_ps=LAT, packet_bytes=64,
                fifo_bytes=1024)
    env.process(_send(env, link.forward, log, "x", 640))
    env.process(_send(env, link.reverse, log, "y", 640))
    env.process(_eager_receiver(env, link.forward, log, 640))
    env.process(_eager_receiver(env, link.reverse, log, 640))
    env.run()
    assert sorted(log) == [("rx", 740_000), ("rx", 740_000), ("x", 740_000), ("y", 740_000)]
    assert (link.forward.name, link.reverse.name) == ("b0-b1.fwd", "b0-b1.rev")


def test_clock_rounds_packet_ends_at_absolute_edges(env, log) -> None:
    # 10 Gb/s: 800 ps per byte, 100-byte packet = 80 000 ps = 12.5 cycles of 156.25 MHz
    link = _dir(env, effective_bits_per_s=10**10, fixed_latency_ps=0, packet_bytes=100,
                clock=Clock.from_mhz("156.25"))

    def rx():
        for _ in range(2):
            yield link.consume(100)
            log.append(("rx", env.now))

    env.process(rx())
    env.process(_send(env, link, log, "a", 200))
    env.run()
    assert sorted(log) == [("a", 160_000), ("rx", 83_200), ("rx", 160_000)]  # 13 edges, then 25 (not 26)


def test_partial_consumption_keeps_the_credit(env, log) -> None:
    link = _dir(env, fifo_bytes=64, fixed_latency_ps=0)
    env.process(_send(env, link, log, "a", 64))
    env.run()
    env.process(_eager_receiver(env, link, log, 60))
    env.run()
    assert (link.fifo_level_bytes, link.credits) == (4, 0)
    env.process(_eager_receiver(env, link, log, 4))
    env.run()
    assert (link.fifo_level_bytes, link.credits) == (0, 1)


@given(st.integers(1, 3000), st.integers(1, 8), st.integers(0, 50_000))
def test_throughput_never_exceeds_line_rate_or_credit_bound(nbytes, credits, lat) -> None:
    env = simpy.Environment()
    link = _dir(env, fifo_bytes=64 * credits, fixed_latency_ps=lat)
    env.process(_eager_receiver(env, link, [], nbytes))
    env.process(_send(env, link, [], "a", nbytes))
    env.run()
    packets = -(-nbytes // 64)
    assert env.now >= nbytes * 1000 + lat  # line rate + one latency
    # credit bound: each group of `credits` packets needs one round trip
    assert env.now >= ((packets - 1) // credits) * (64_000 + 2 * lat)
    assert link.bytes_consumed == nbytes and link.credits == credits


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"effective_bits_per_s": 1e10}, r"effective_bits_per_s=10000000000.0 must be a positive int"),
        ({"fixed_latency_ps": -1}, r"fixed_latency_ps=-1 must be an int >= 0"),
        ({"fixed_latency_ps": 1.5}, r"fixed_latency_ps=1.5 must be an int >= 0"),
        ({"packet_bytes": 0}, r"packet_bytes=0 must be an int >= 1"),
        ({"fifo_bytes": 32}, r"fifo_bytes=32 must be >= packet_bytes=64"),
        ({"credit_latency_ps": -2}, r"credit_latency_ps=-2 must be an int >= 0"),
        ({"clock": 156.25}, r"clock=156.25 must be a fpgasim.sim.Clock or None"),
    ],
)
def test_bad_link_arguments(env, kwargs, pattern) -> None:
    with pytest.raises(BadArgument, match=pattern):
        _dir(env, **kwargs)


def test_bad_send_and_consume(env) -> None:
    link = _dir(env)
    with pytest.raises(BadArgument, match=r"l: nbytes=-1 must be an int >= 0"):
        link.send("a", -1)
    with pytest.raises(BadArgument, match=r"l: nbytes=2.0 must"):
        link.consume(2.0)  # type: ignore[arg-type]
