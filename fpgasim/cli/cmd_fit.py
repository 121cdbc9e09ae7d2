"""``fpgasim fit BOARD KERNEL``: does a kernel design fit a board? Table, buffers, verdict.

Exit 0 when it fits, 3 when it does not (after printing the table), 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from fpgasim.errors import BadArgument
from fpgasim.hw import load_board, load_dsp_types
from fpgasim.kernels.fit import FitLimits, FitResult, evaluate_fit
from fpgasim.kernels.loader import load_kernel
from fpgasim.kernels.network import layers_for
from fpgasim.nn import GRAPH_NAMES, ZOO, Graph, Network, zoo_network
from fpgasim.nn.sources import load_network

__all__ = ["register", "run", "format_result"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit`` sub-command."""
    parser = subparsers.add_parser(
        "fit", help="check whether a kernel design fits a board (DSP, BRAM18, URAM, LUT/FF estimate)",
        description="Utilisation table, per-buffer breakdown and verdict of KERNEL on BOARD. "
                    "Exit 0 fits, 3 does not fit, 2 bad input.")
    parser.add_argument("board", metavar="BOARD", help="board id (e.g. zcu102) or path to a board YAML")
    parser.add_argument("kernel", metavar="KERNEL", help="kernel design YAML path (or a name in kernels/)")
    parser.add_argument("--network", metavar="NET", default=None,
                        help="the network the engine runs: a zoo name (" + ", ".join(sorted(ZOO)) + "), a network "
                             ".yaml or an .onnx model; a dsc_ode engine's buffers are sized for its layers")
    parser.add_argument("--input-shape", type=int, nargs="+", metavar="DIM",
                        help="N C H W of an ONNX --network with dynamic dimensions")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON document")
    parser.add_argument("--limits", choices=[v.value for v in FitLimits], default=FitLimits.DEVICE.value,
                        help="device: all available resources; finn: FINN timing-closure fractions "
                             "(LUT 0.7, FF 0.5, BRAM 0.8, URAM 0.8, DSP 0.8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print, and raise DoesNotFit (exit 3) when the design does not fit."""
    board = load_board(args.board)
    design = load_kernel(args.kernel)
    layers = () if args.network is None else layers_for(design, _network(args.network, args.input_shape))
    result = evaluate_fit(board, design, dsp_types=load_dsp_types(), layers=layers, limits=args.limits)
    if args.json:
        document = result.to_dict()
        document["network"] = args.network
        sys.stdout.write(json.dumps(document, sort_keys=True, indent=2) + "\n")
    else:
        sys.stdout.write(format_result(result))
    result.raise_if_not_fit()
    return 0


def _network(source: str, input_shape: list[int] | None) -> Network | Graph:
    """A zoo layer chain as the chain (its layer names name the buffers); any other zoo name, network
    YAML or ONNX model as its graph (:func:`~fpgasim.nn.sources.load_network`)."""
    if source in ZOO and source not in GRAPH_NAMES:
        return zoo_network(source)
    return load_network(source, input_shape=input_shape).graph


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def format_result(result: FitResult) -> str:
    """The human-readable table, buffer breakdown, notes and verdict."""
    if not isinstance(result, FitResult):
        raise BadArgument(f"result={result!r}: expected a FitResult")
    lines = [f"{result.kernel} on {result.board} (limits: {result.limits.value})",
             f"precision {result.precision}, {result.dsp_per_mac:g} DSP per MAC ({result.dsp_per_mac_source})",
             "",
             f"{'resource':<12} {'used':>10} {'available':>10} {'%':>9}"]
    for row in result.rows:
        name = row.resource.value + (" (est.)" if row.estimate else "")
        flag = "" if row.fits else "  OVER"
        lines.append(f"{name:<12} {row.used:>10} {row.available:>10} {_percent(row.percent):>9}{flag}")
    if result.buffers:
        lines += ["", f"{'buffer':<18} {'words x bits':>14} {'banks':>6} {'copies':>6} {'mapped':>7} "
                      f"{'per bank':>8} {'BRAM18':>7} {'URAM':>5} {'LUTs':>6} {'eff.':>6}"]
        for use in result.buffers:
            spec = use.spec
            shape = f"{spec.depth_words} x {spec.width_bits}"
            lines.append(f"{spec.name:<18} {shape:>14} {spec.banks:>6} {spec.copies:>6} {use.kind.value:>7} "
                         f"{use.blocks_per_bank:>8} {use.bram18:>7} {use.uram:>5} {use.lutram_luts:>6} "
                         f"{use.efficiency:>6.0%}")
    lines.append("")
    lines += [f"note: {note}" for note in result.notes]
    lines.append(f"verdict: {result.verdict}")
    return "\n".join(lines) + "\n"
