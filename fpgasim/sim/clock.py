"""Clock domains and time units: the only place where cycles, ns, s and picoseconds convert
(house rule 2).

Simulation time ``env.now`` is an ``int`` count of picoseconds. A :class:`Clock` of
frequency ``f`` has its edge ``n`` at ``round(n * 10**12 / f)`` ps, computed exactly with
integers (round half up), so a duration measured between absolute edges never
accumulates rounding, however long the run. Numbers that arrive as floats (YAML) enter
through named helpers, each with one rounding rule: :func:`exact_decimal` and
:func:`hz_from_mhz` (a float is the decimal it prints as), :func:`ps_from_ns` (nearest ps),
:func:`duration_ps_ceil` (whole ps, rounded up), :meth:`Clock.cycles_ceil` (s → whole cycles,
rounded up); reports leave through :func:`us_from_ps`, :func:`ms_from_ps` and
:func:`ms_from_cycles` (floats).
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Rational

from fpgasim.errors import BadArgument

__all__ = ["PS_PER_S", "PS_PER_NS", "PS_PER_US", "MAX_FREQ_HZ", "Clock", "exact_decimal", "hz_from_mhz", "ps_from_ns",
           "duration_ps_ceil", "us_from_ps", "ms_from_ps", "ms_from_cycles"]

#: Picoseconds per second.
PS_PER_S = 10**12
#: Picoseconds per nanosecond.
PS_PER_NS = 1000
#: Picoseconds per microsecond.
PS_PER_US = 10**6
#: Highest allowed frequency: one edge per picosecond (so edges are strictly increasing).
MAX_FREQ_HZ = PS_PER_S


def exact_decimal(value: int | float | str | Fraction, *, name: str = "value") -> Fraction:
    """The exact rational a configured number denotes.

    A float is read as the shortest decimal that prints it (``repr``), i.e. the number the
    YAML file wrote: ``156.25`` → 625/4, ``0.1`` → 1/10 (not the binary float's value).

    Args:
        value: an int, float, decimal string or Fraction.
        name: what the value is, for the error message.

    Returns:
        The Fraction.

    Raises:
        BadArgument: a bool, a non-finite float or something that is not a number.
    """
    if isinstance(value, bool):
        raise BadArgument(f"{name}={value!r} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadArgument(f"{name}={value!r}: expected a finite number")
        value = repr(value)
    try:
        return Fraction(value)
    except (ValueError, TypeError) as exc:
        raise BadArgument(f"{name}={value!r} is not a number") from exc


def hz_from_mhz(freq_mhz: int | float | str | Fraction, *, name: str = "freq_mhz") -> Fraction:
    """A configured frequency in MHz as exact Hz (:func:`exact_decimal` · 10⁶)."""
    return exact_decimal(freq_mhz, name=name) * 10**6


def ps_from_ns(ns: float) -> int:
    """A configured time in ns as whole ps: ``round(ns · 1000)`` of the float product, ties to even.

    Args:
        ns: nanoseconds (int or float).

    Returns:
        Picoseconds.
    """
    return int(round(ns * PS_PER_NS))


def duration_ps_ceil(count: int, per_s: float) -> int:
    """Whole ps to process ``count`` units at ``per_s`` units per second, rounded up:
    ``ceil(count · 10¹² / per_s)`` in floats (a throughput model's time; 0 units → 0 ps).

    Args:
        count: units (operations, bytes), an int >= 0.
        per_s: rate in units per second (> 0, float).

    Returns:
        Picoseconds.
    """
    return math.ceil(count * 1e12 / per_s)


def us_from_ps(t_ps: int) -> float:
    """Picoseconds as (float) microseconds, for reports and traces."""
    return t_ps / PS_PER_US


def ms_from_ps(t_ps: int) -> float:
    """Picoseconds as (float) milliseconds, for reports."""
    return t_ps / 10**9


def ms_from_cycles(cycles: float, clock_mhz: float) -> float:
    """A cycle count at ``clock_mhz`` as (float) milliseconds, for reports: ``cycles / (MHz · 1000)``."""
    return cycles / (clock_mhz * 1e3)


class Clock:
    """One clock domain with an exact rational period.

    Args:
        freq_hz: frequency in Hz, an ``int`` or an exact ``Fraction`` (e.g.
            ``Fraction(625, 4) * 10**6`` for 156.25 MHz); at most :data:`MAX_FREQ_HZ`.
        name: label used in error messages and traces.

    Raises:
        BadArgument: ``freq_hz`` is not a positive exact rational or exceeds 1 THz.
    """

    __slots__ = ("name", "freq_hz", "_num", "_den")

    def __init__(self, freq_hz: int | Fraction, *, name: str = "clock"):
        if isinstance(freq_hz, bool) or not isinstance(freq_hz, Rational):
            raise BadArgument(
                f"{name}: freq_hz={freq_hz!r} must be an int or Fraction in Hz (no float; "
                "use Clock.from_mhz('156.25') for decimal MHz)"
            )
        freq = Fraction(int(freq_hz.numerator), int(freq_hz.denominator))  # plain ints inside
        if freq <= 0 or freq > MAX_FREQ_HZ:
            raise BadArgument(f"{name}: freq_hz={freq_hz} must be > 0 and <= {MAX_FREQ_HZ} Hz")
        self.name = name
        self.freq_hz = freq
        period = Fraction(PS_PER_S) / freq  # exact period in ps, >= 1
        self._num = period.numerator
        self._den = period.denominator

    @classmethod
    def from_mhz(cls, freq_mhz: int | float | str | Fraction, *, name: str = "clock") -> "Clock":
        """Build a clock from a frequency in MHz (``"156.25"``, ``300``, a Fraction, a YAML float).

        Args:
            freq_mhz: frequency in MHz; a decimal string or float is converted exactly as the
                decimal it writes (:func:`exact_decimal`: ``156.25`` → 625/4 MHz).
            name: label for errors and traces.

        Returns:
            The clock.

        Raises:
            BadArgument: the value is not a number, or out of range.
        """
        return cls(hz_from_mhz(freq_mhz, name=f"{name}: freq_mhz"), name=name)

    @classmethod
    def from_rate(cls, units_per_s: int | Fraction, *, name: str) -> "Clock":
        """A "unit clock" whose edge n is the instant the n-th unit (byte, bit) has passed.

        Used by DDR channels and links to round durations at absolute unit boundaries.

        Args:
            units_per_s: exact rate in units per second (int or Fraction).
            name: label.

        Returns:
            The clock of frequency ``units_per_s``.
        """
        return cls(units_per_s, name=name)

    @property
    def period_ps(self) -> Fraction:
        """The exact period in picoseconds."""
        return Fraction(self._num, self._den)

    def exact_terms(self) -> tuple[int, int, int]:
        """``(2 * num, den, 2 * den)`` of the period ``num / den`` ps, for inlined hot loops.

        ``time_of(n) == (n * t[0] + t[1]) // t[2]``; the first edge at or after ``t_ps`` is
        ``0`` if ``t[2] * t_ps - t[1] <= 0``, else ``ceil((t[2] * t_ps - t[1]) / t[0])``.

        Returns:
            The three integers.
        """
        return (2 * self._num, self._den, 2 * self._den)

    def time_of(self, cycle: int) -> int:
        """Time of edge ``cycle`` in ps: ``round(cycle * period_ps)``, halves rounded up.

        Args:
            cycle: edge index (>= 0).

        Returns:
            The time in integer picoseconds.
        """
        return (2 * cycle * self._num + self._den) // (2 * self._den)

    def edge_at_or_after(self, t_ps: int) -> int:
        """Index of the first edge whose time is ``>= t_ps``.

        Args:
            t_ps: a time in integer picoseconds (>= 0).

        Returns:
            The smallest ``n >= 0`` with ``time_of(n) >= t_ps``.
        """
        # time_of(n) >= t  <=>  2*n*num + den >= 2*den*t  <=>  n >= (2*den*t - den) / (2*num)
        top = 2 * self._den * t_ps - self._den
        if top <= 0:
            return 0
        return -((-top) // (2 * self._num))

    def delay_ps(self, now_ps: int, cycles: int) -> int:
        """Wait of ``cycles`` whole cycles starting at the first edge at or after ``now_ps``.

        Args:
            now_ps: current time in ps.
            cycles: number of whole cycles (>= 0).

        Returns:
            ``time_of(edge_at_or_after(now_ps) + cycles) - now_ps`` (an int >= 0).
        """
        return self.time_of(self.edge_at_or_after(now_ps) + cycles) - now_ps

    def cycles_between(self, start_ps: int, end_ps: int) -> int:
        """Number of edges ``n`` with ``start_ps <= time_of(n) < end_ps``.

        Args:
            start_ps: interval start in ps.
            end_ps: interval end in ps (exclusive).

        Returns:
            The edge count (0 when ``end_ps <= start_ps``).
        """
        if end_ps <= start_ps:
            return 0
        return self.edge_at_or_after(end_ps) - self.edge_at_or_after(start_ps)

    def cycles_ceil(self, seconds: float) -> int:
        """Whole cycles that cover a modelled time of ``seconds`` (float), rounded up:
        ``ceil(seconds · f)`` in floats (a throughput model's time on this clock).

        Args:
            seconds: a time in s (>= 0).

        Returns:
            The cycle count.
        """
        return math.ceil(seconds * float(self.freq_hz))

    def __repr__(self) -> str:
        return f"Clock(name={self.name!r}, freq_hz={self.freq_hz})"
