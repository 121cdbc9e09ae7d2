"""Sigmoid and SiLU through a lookup table, as an FPGA's vector unit computes them.

A streaming unit has no exponential; hls4ml's activations (``nnet_activation.h``) read the value
from a table instead, sampled at ``entries`` equal steps over ``[−input_bound, input_bound)``, the
input clipped to that range. :class:`SigmoidTable` is that table: entry ``i`` holds σ at the middle
of step ``i``, quantised to the output format; SiLU is ``x`` times the table's σ(x), one exact
fixed-point multiplication (:func:`~fpgasim.ops.elementwise.mul_fixed`'s rule).

Error against the float64 σ, before the output rounding (:meth:`SigmoidTable.max_error`): inside
the range a step of ``h = 2·bound/entries`` sampled at its middle is off by at most
``max|σ'|·h/2 = h/8``; outside it the table's end entry is off by at most ``σ(−bound + h/2)``.
SiLU's error is ``|x|`` times that, plus its own rounding. Deterministic numpy, so a replay is
bit exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, quantize
from fpgasim.ops.elementwise import mul_fixed, sigmoid_ref

__all__ = ["SigmoidTable", "sigmoid_table_fixed", "silu_table_fixed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SigmoidTable:
    """A sigmoid lookup table: ``entries`` samples over ``[−input_bound, input_bound)``.

    Raises:
        BadArgument: fewer than 2 entries, or a bound that is not a positive finite number.
    """

    entries: int = 1024
    input_bound: float = 8.0

    def __post_init__(self) -> None:
        if isinstance(self.entries, bool) or not isinstance(self.entries, int) or self.entries < 2:
            raise BadArgument(f"SigmoidTable: entries={self.entries!r}: expected an integer >= 2")
        bound = self.input_bound
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound) or bound <= 0:
            raise BadArgument(f"SigmoidTable: input_bound={bound!r}: expected a positive number")

    @property
    def step(self) -> float:
        """Input width of one entry, ``2·input_bound / entries``."""
        return 2.0 * self.input_bound / self.entries

    def max_error(self) -> float:
        """The largest |table − σ| before the output rounding (module docstring)."""
        return max(self.step / 8.0, float(sigmoid_ref(np.array(-self.input_bound + self.step / 2.0))))

    def sampled(self, x: np.ndarray) -> np.ndarray:
        """σ at the middle of the step that holds each ``x`` (clipped to the range), float64."""
        index = np.clip(np.floor((x + self.input_bound) / self.step), 0, self.entries - 1)
        return sigmoid_ref(-self.input_bound + (index + 0.5) * self.step)


def _checked(x: object, requant: object, table: object) -> tuple[FixedTensor, Requantizer, SigmoidTable]:
    if not isinstance(x, FixedTensor):
        raise BadArgument(f"x={type(x).__name__}: expected a FixedTensor")
    if not isinstance(requant, Requantizer):
        raise BadArgument(f"requant={requant!r}: expected a Requantizer")
    if not isinstance(table, SigmoidTable):
        raise BadArgument(f"table={table!r}: expected a SigmoidTable")
    return x, requant, table


def sigmoid_table_fixed(x: FixedTensor, *, requant: Requantizer,
                        table: SigmoidTable) -> tuple[FixedTensor, OverflowCounts]:
    """The table's σ of every element of ``x`` (any shape), quantised to ``requant.out``.

    Raises:
        BadArgument: an argument of the wrong type.
    """
    x, requant, table = _checked(x, requant, table)
    return quantize(table.sampled(x.to_float()), requant.out, rounding=requant.rounding, overflow=requant.overflow)


def silu_table_fixed(x: FixedTensor, *, requant: Requantizer,
                     table: SigmoidTable) -> tuple[FixedTensor, OverflowCounts]:
    """``x`` times the table's σ(x) (in ``requant.out``): one exact product, then one requantisation.

    Returns:
        The result in ``requant.out`` and the overflow counts of both quantisations.

    Raises:
        BadArgument: as :func:`sigmoid_table_fixed` and :func:`~fpgasim.ops.elementwise.mul_fixed`.
    """
    x, requant, table = _checked(x, requant, table)
    gate, gate_counts = sigmoid_table_fixed(x, requant=requant, table=table)
    as_nchw = (1, 1, 1, max(x.values.size, 1))  # mul_fixed takes (N, C, H, W) operands
    product, counts = mul_fixed(FixedTensor(x.values.reshape(as_nchw), x.fmt),
                                FixedTensor(gate.values.reshape(as_nchw), gate.fmt), requant=requant)
    return FixedTensor(product.values.reshape(x.values.shape), product.fmt), gate_counts + counts
