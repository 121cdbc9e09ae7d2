"""Sigmoid, tanh, SiLU, GELU and softmax through a lookup table, as an FPGA's vector unit computes them.

A streaming unit has no exponential or erf; hls4ml's activations (``nnet_activation.h``) read the
value from a table instead, sampled at ``entries`` equal steps over ``[−input_bound, input_bound)``,
the input clipped to that range. :class:`SigmoidTable` is that table for σ and
:class:`NormalCdfTable` for the standard normal CDF Φ: entry ``i`` holds the function at the
middle of step ``i``, quantised to the output format. SiLU is ``x`` times the table's σ(x) and
GELU ``x`` times the table's Φ(x), one exact fixed-point multiplication each
(:func:`~fpgasim.ops.elementwise.mul_fixed`'s rule). Tanh reads the σ table too, at twice its input:
``tanh(x) = 2·σ(2x) − 1`` (:func:`tanh_table_fixed`; the doubling and ``2·entry − 1`` are exact
shifts and a subtraction, so no second table). :class:`ExpTable` holds eˣ over
``[−input_bound, 0)``, the range of a softmax's inputs less their maximum (hls4ml's softmax reads
such a table): :func:`softmax_table_fixed` sums the table's values and divides, in float64, and
rounds each probability once (the entries are held unrounded: the model prices the sampling, not
an entry width).

Error against the float64 function, before the output rounding (:meth:`LookupTable.max_error`):
inside the range a step of ``h`` (``2·bound/entries``; ``bound/entries`` for eˣ) sampled at its
middle is off by at most ``max|f'|·h/2`` (``h/8`` for σ, ``h/(2√(2π))`` for Φ, ``h/2`` for eˣ);
below it the table's first entry is off by at most ``f(−bound + h/2)`` (σ and Φ are CDFs:
``f(−x) = 1 − f(x)``, so the top end is off by as much). SiLU's and GELU's error is ``|x|`` times
that, plus their own rounding; tanh's is twice σ's (:func:`tanh_table_error`); a softmax's is
:func:`softmax_table_error`. Deterministic numpy, so
a replay is bit exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, quantize
from fpgasim.ops.elementwise import channel_groups, mul_fixed, normal_cdf_ref, sigmoid_ref

__all__ = ["LookupTable", "SigmoidTable", "NormalCdfTable", "ExpTable", "sigmoid_table_fixed", "silu_table_fixed",
           "tanh_table_fixed", "tanh_table_range", "tanh_table_error", "gelu_table_fixed", "softmax_table_fixed",
           "softmax_table_error"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupTable:
    """A lookup table: ``entries`` samples over :attr:`input_range` (``[−input_bound, input_bound)``).

    Raises:
        BadArgument: fewer than 2 entries, or a bound that is not a positive finite number.
    """

    #: the tabulated function (float64 in, float64 out).
    function: ClassVar[Callable[[np.ndarray], np.ndarray]]
    #: its largest slope, max|f'|.
    max_slope: ClassVar[float]

    entries: int = 1024
    input_bound: float = 8.0

    def __post_init__(self) -> None:
        if isinstance(self.entries, bool) or not isinstance(self.entries, int) or self.entries < 2:
            raise BadArgument(f"{type(self).__name__}: entries={self.entries!r}: expected an integer >= 2")
        bound = self.input_bound
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound <= 0:
            raise BadArgument(f"{type(self).__name__}: input_bound={bound!r}: expected a positive number")

    @property
    def input_range(self) -> tuple[float, float]:
        """The tabulated inputs ``[low, high)``."""
        return -self.input_bound, self.input_bound

    @property
    def step(self) -> float:
        """Input width of one entry, ``(high − low) / entries``."""
        low, high = self.input_range
        return (high - low) / self.entries

    def max_error(self) -> float:
        """The largest |table − f| before the output rounding (module docstring)."""
        edge = float(type(self).function(np.array(self.input_range[0] + self.step / 2.0)))
        return max(self.max_slope * self.step / 2.0, edge)

    def sampled(self, x: np.ndarray) -> np.ndarray:
        """f at the middle of the step that holds each ``x`` (clipped to the range), float64."""
        low = self.input_range[0]
        index = np.clip(np.floor((x - low) / self.step), 0, self.entries - 1)
        return type(self).function(low + (index + 0.5) * self.step)


class SigmoidTable(LookupTable):
    """σ(x) = 1 / (1 + e^−x) from a table (sigmoid, SiLU and tanh nodes); max|σ'| = 1/4."""

    function = staticmethod(sigmoid_ref)
    max_slope = 0.25


class NormalCdfTable(LookupTable):
    """Φ(x) = (1 + erf(x/√2)) / 2 from a table (GELU nodes); max|Φ'| = 1/√(2π)."""

    function = staticmethod(normal_cdf_ref)
    max_slope = 1.0 / math.sqrt(2.0 * math.pi)


class ExpTable(LookupTable):
    """eˣ over ``[−input_bound, 0)`` from a table (softmax nodes, on inputs less their maximum);
    max|(eˣ)'| = 1 there."""

    function = staticmethod(np.exp)
    max_slope = 1.0

    @property
    def input_range(self) -> tuple[float, float]:
        """``[−input_bound, 0)``: a softmax's inputs less their maximum are never positive."""
        return -self.input_bound, 0.0


def _checked(x: object, requant: object, table: object,
             kind: type[LookupTable]) -> tuple[FixedTensor, Requantizer, LookupTable]:
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    if not isinstance(table, kind):
        raise BadArgument(f"table={table!r}: expected a table of kind {kind.__name__}")
    return x, requant, table


def _table_fixed(x: FixedTensor, requant: Requantizer, table: LookupTable) -> tuple[FixedTensor, OverflowCounts]:
    return quantize(table.sampled(x.to_float()), requant.out, rounding=requant.rounding, overflow=requant.overflow)


def _gated_fixed(x: FixedTensor, requant: Requantizer, table: LookupTable) -> tuple[FixedTensor, OverflowCounts]:
    """``x`` times the table's gate f(x): one exact product, then one requantisation."""
    gate, gate_counts = _table_fixed(x, requant, table)
    as_nchw = (1, 1, 1, max(x.values.size, 1))  # mul_fixed takes (N, C, H, W) operands
    product, counts = mul_fixed(FixedTensor(x.values.reshape(as_nchw), x.fmt),
                                FixedTensor(gate.values.reshape(as_nchw), gate.fmt), requant=requant)
    return FixedTensor(product.values.reshape(x.values.shape), product.fmt), gate_counts + counts


def sigmoid_table_fixed(x: FixedTensor, *, requant: Requantizer,
                        table: SigmoidTable) -> tuple[FixedTensor, OverflowCounts]:
    """The table's σ of every element of ``x`` (any shape), quantised to ``requant.out``.

    Raises:
        BadArgument: an argument of the wrong type.
    """
    return _table_fixed(*_checked(x, requant, table, SigmoidTable))


def silu_table_fixed(x: FixedTensor, *, requant: Requantizer,
                     table: SigmoidTable) -> tuple[FixedTensor, OverflowCounts]:
    """``x`` times the table's σ(x) (in ``requant.out``): one exact product, then one requantisation.

    Returns:
        The result in ``requant.out`` and the overflow counts of both quantisations.

    Raises:
        BadArgument: as :func:`sigmoid_table_fixed` and :func:`~fpgasim.ops.elementwise.mul_fixed`.
    """
    return _gated_fixed(*_checked(x, requant, table, SigmoidTable))


def tanh_table_fixed(x: FixedTensor, *, requant: Requantizer,
                     table: SigmoidTable) -> tuple[FixedTensor, OverflowCounts]:
    """tanh of every element of ``x`` (any shape) from the σ table, ``2·σ̂(2x) − 1``, quantised once
    to ``requant.out``.

    The table is read at ``2x`` (an exact shift) and its entry, held unrounded as
    :func:`softmax_table_fixed` holds eˣ, becomes ``2·entry − 1`` before the one rounding, so the
    error before it is at most :func:`tanh_table_error`.

    Raises:
        BadArgument: as :func:`sigmoid_table_fixed` (``table`` must be a :class:`SigmoidTable`).
    """
    x, requant, table = _checked(x, requant, table, SigmoidTable)
    values = 2.0 * table.sampled(2.0 * x.to_float()) - 1.0
    return quantize(values, requant.out, rounding=requant.rounding, overflow=requant.overflow)


def tanh_table_range(table: SigmoidTable) -> tuple[float, float]:
    """The inputs ``[−b/2, b/2)`` whose doubles the σ table holds (``b`` its bound); beyond them tanh clips."""
    low, high = table.input_range
    return low / 2.0, high / 2.0


def tanh_table_error(table: SigmoidTable) -> float:
    """The largest |2·σ̂(2x) − 1 − tanh(x)| of :func:`tanh_table_fixed` before its rounding.

    ``tanh(x) = 2·σ(2x) − 1``, so the table error doubles and the doubled input halves the range:
    with ``h`` the σ table's step and ``b`` its bound, tanh is tabulated over ``[−b/2, b/2)``
    (:func:`tanh_table_range`) at steps of ``h/2``, where it is off by at most ``2·h/8 = h/4``
    (max|tanh'| = 1 over half a step of ``h/2``: the same); beyond, the end entries are off by at most
    ``2·σ(−b + h/2) = 1 − tanh(b/2 − h/4)``. The bound is ``2·table.max_error()``, the larger of the two.

    Raises:
        BadArgument: ``table`` not a :class:`SigmoidTable`.
    """
    if not isinstance(table, SigmoidTable):
        raise BadArgument(f"table={table!r}: expected a table of kind SigmoidTable")
    return 2.0 * table.max_error()


def gelu_table_fixed(x: FixedTensor, *, requant: Requantizer,
                     table: NormalCdfTable) -> tuple[FixedTensor, OverflowCounts]:
    """``x`` times the table's Φ(x) (in ``requant.out``), as :func:`silu_table_fixed` with σ → Φ.

    Raises:
        BadArgument: as :func:`silu_table_fixed` (``table`` must be a :class:`NormalCdfTable`).
    """
    return _gated_fixed(*_checked(x, requant, table, NormalCdfTable))


def softmax_table_fixed(x: FixedTensor, *, requant: Requantizer, table: ExpTable,
                        groups: int = 1) -> tuple[FixedTensor, OverflowCounts]:
    """Softmax over axis 1 of ``x`` (N, C, ...), per group of channels as
    :func:`~fpgasim.ops.elementwise.softmax_ref`, with eˣ read from ``table`` at each value less
    its group's maximum; sum and division in float64, each probability rounded once to
    ``requant.out``. Its error before that rounding is at most :func:`softmax_table_error`.

    Raises:
        BadArgument: an argument of the wrong type, ``groups`` not a divisor of C.
        ShapeError: fewer than 2 dimensions.
    """
    x, requant, table = _checked(x, requant, table, ExpTable)
    grouped = channel_groups(x.to_float(), groups)
    e = table.sampled(grouped - grouped.max(axis=2, keepdims=True))
    probabilities = (e / e.sum(axis=2, keepdims=True)).reshape(x.values.shape)
    return quantize(probabilities, requant.out, rounding=requant.rounding, overflow=requant.overflow)


def softmax_table_error(table: ExpTable, n: int) -> float:
    """The largest |p' − p| of :func:`softmax_table_fixed` before its rounding, over ``n`` inputs.

    With ``h`` the step and ``b`` the bound: an input in the range reads ``e^z·e^δ`` (|δ| ≤ h/2), one
    below it at most ``T = e^(−b+h/2)`` where the truth is below ``e^−b``; the maximum contributes 1,
    so the true sum S ≥ 1, and the table's sum lies in ``[(S − n·e^−b)·e^(−h/2), S·e^(h/2) + n·T]``.
    Hence an in-range probability p reads within ``p·[e^−h / (1 + n·T), e^h / (1 − n·e^−b)]`` and a
    clipped one (p < e^−b) at most ``T·e^(h/2) / (1 − n·e^−b)``.

    Raises:
        BadArgument: ``n`` not a positive integer, or ``n·e^−b ≥ 1`` (the bound says nothing: widen the table).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise BadArgument(f"n={n!r}: expected the number of inputs, an integer >= 1")
    h, b = table.step, table.input_bound
    lost = n * math.exp(-b)
    if lost >= 1:
        raise BadArgument(f"n={n}: n·e^-{b} = {lost:.3g} >= 1; a softmax over {n} inputs needs a wider table")
    top = math.exp(-b + h / 2)
    return max(math.exp(h) / (1 - lost) - 1, 1 - math.exp(-h) / (1 + n * top), top * math.exp(h / 2) / (1 - lost))
