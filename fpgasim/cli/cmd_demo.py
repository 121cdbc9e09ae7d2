"""``fpgasim demo``: a small conv, a DSC block and a 4-step Euler ODE block in float32 and fixed point.

Runs on seeded random data and prints one table: a few output values, the largest absolute
error against the float64 reference (computed from the unquantised data, so fixed-point rows
include the input/weight quantisation error) and the overflow counts. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from rich.console import Console
from rich.table import Table

from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, OverflowCounts, Requantizer, quantize
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_ref
from fpgasim.ops.dsc import DscLayer, FixedDscLayer, dsc_block_f32, dsc_block_fixed, dsc_block_ref
from fpgasim.ops.ode import ConvLayer, FixedConvLayer, ode_block_f32, ode_block_fixed, ode_block_ref

__all__ = ["register", "run_demo"]

#: (name, data format, weight format, accumulator bits) of the fixed-point precisions shown.
_PRECISIONS = (
    ("fixed 8", FixedFormat(total_bits=8, int_bits=4, signed=True), FixedFormat(total_bits=8, int_bits=2, signed=True), 24),
    ("fixed 16", FixedFormat(total_bits=16, int_bits=5, signed=True), FixedFormat(total_bits=16, int_bits=2, signed=True), 48),
)
_ODE_STEPS = 4
_ODE_H = 0.25
_SHOWN = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser("demo", help="run a small conv, DSC and ODE block in float32 and fixed point")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data (default 0)")
    parser.set_defaults(func=_main)


class _Quantizer:
    """Quantises inputs and weights (half_even, saturate) and counts the saturated values."""

    def __init__(self) -> None:
        self.saturated = 0

    def __call__(self, values: np.ndarray, fmt: FixedFormat) -> FixedTensor:
        tensor, counts = quantize(values, fmt, rounding="half_even", overflow="saturate")
        self.saturated += counts.output
        return tensor


def _rq(data: FixedFormat, acc_bits: int) -> Requantizer:
    return Requantizer(out=data, rounding="half_even", overflow="saturate",
                       accumulator=Accumulator(bits=acc_bits, overflow="saturate"))


def run_demo(seed: int) -> list[tuple[str, str, np.ndarray, float, OverflowCounts | None, int | None]]:
    """Compute the demo's rows.

    Each row is (block, precision, output values, max |error| vs float64, overflow counts or None,
    number of inputs/weights saturated by quantisation or None).

    Args:
        seed: seed of the numpy random generator that draws all inputs and weights.

    Returns:
        One row per block and precision (float64, float32, then each fixed-point precision).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 4, 8, 8))
    conv_w, conv_b = rng.standard_normal((8, 4, 3, 3)) * 0.3, rng.standard_normal(8) * 0.1
    dsc = DscLayer(w_dw=rng.standard_normal((4, 1, 3, 3)) * 0.4, b_dw=rng.standard_normal(4) * 0.1,
                   w_pw=rng.standard_normal((8, 4, 1, 1)) * 0.5, b_pw=rng.standard_normal(8) * 0.1,
                   stride=1, padding=1, activation="relu")
    ode_w = [rng.standard_normal((4, 4, 3, 3)) * 0.15 for _ in range(2)]
    ode_layers = [ConvLayer(w=ode_w[0], bias=None, stride=1, padding=1, groups=1, activation="relu"),
                  ConvLayer(w=ode_w[1], bias=None, stride=1, padding=1, groups=1, activation="none")]
    geo = dict(stride=1, padding=1, groups=1)
    ode = dict(solver="euler", steps=_ODE_STEPS, h=_ODE_H)
    refs = {"conv 3x3": conv2d_ref(x, conv_w, conv_b, **geo), "DSC block": dsc_block_ref(x, dsc),
            "ODE euler x4": ode_block_ref(x, ode_layers, **ode)}
    f32 = {"conv 3x3": conv2d_f32(x, conv_w, conv_b, **geo), "DSC block": dsc_block_f32(x, dsc),
           "ODE euler x4": ode_block_f32(x, ode_layers, **ode)}
    rows = []
    for block, ref in refs.items():
        rows.append((block, "float64", ref, 0.0, None, None))
        rows.append((block, "float32", f32[block], float(np.max(np.abs(f32[block] - ref))), None, None))
        for name, data, wfmt, acc_bits in _PRECISIONS:
            _q = _Quantizer()
            rq, xq = _rq(data, acc_bits), _q(x, data)
            if block == "conv 3x3":
                out, counts = conv2d_fixed(xq, _q(conv_w, wfmt), _q(conv_b, data), requant=rq, **geo)
            elif block == "DSC block":
                layer = FixedDscLayer(w_dw=_q(dsc.w_dw, wfmt), b_dw=_q(dsc.b_dw, data), w_pw=_q(dsc.w_pw, wfmt),
                                      b_pw=_q(dsc.b_pw, data), stride=1, padding=1, activation="relu",
                                      requant_dw=rq, requant_pw=rq)
                out, counts = dsc_block_fixed(xq, layer)
            else:
                layers = [FixedConvLayer(w=_q(lw.w, wfmt), bias=None, stride=1, padding=1, groups=1,
                                         activation=lw.activation, requant=rq) for lw in ode_layers]
                out, counts = ode_block_fixed(xq, layers, update=rq, **ode)
            values = out.to_float()
            rows.append((block, name, values, float(np.max(np.abs(values - ref))), counts, _q.saturated))
    return rows


def _main(args: argparse.Namespace) -> int:
    rows = run_demo(args.seed)
    table = Table(title=f"fpgasim demo (seed {args.seed}): outputs, error vs float64, overflows")
    columns = ("block", "precision", f"top-{_SHOWN} |f64| outputs", "max |err|",
               "overflow out/acc", "quant. saturated")
    for column in columns:
        table.add_column(column, justify="left" if column in ("block", "precision") else "right")
    picks: dict[str, np.ndarray] = {}
    for block, precision, values, err, counts, saturated in rows:
        if precision == "float64":
            picks[block] = np.argsort(-np.abs(values.ravel()), kind="stable")[:_SHOWN]
        shown = " ".join(f"{v:+.4f}" for v in values.ravel()[picks[block]])
        table.add_row(block, precision, shown, f"{err:.2e}",
                      "-" if counts is None else f"{counts.output}/{counts.accumulator}",
                      "-" if saturated is None else str(saturated))
    formats = "; ".join(f"{n}: data {d}, weights {w}, acc {a} bits" for n, d, w, a in _PRECISIONS)
    console = Console(file=sys.stdout, width=110, color_system=None, highlight=False)
    console.print(table)
    console.print(f"{formats}; rounding half_even, overflow saturate; ODE: Euler, {_ODE_STEPS} steps, h={_ODE_H}")
    return 0
