"""``fpgasim fit-devices``: fit compute devices' software efficiencies to published latencies.

Prints, per fit of ``boards/device_fits.yaml`` (or ``--fits FILE``), the fitted efficiencies and
dispatch overhead exactly as ``boards/compute.yaml`` stores them, each network's residual, and
each network's error when it is held out of the fit (Markdown, or JSON with ``--json``).
Writes no file.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from fpgasim.mapping.device_fit import FitResult, fit_device, load_device_fits

__all__ = ["register", "run", "fit_summary", "format_fit"]

JSON_SCHEMA_VERSION = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-devices`` sub-command."""
    parser = subparsers.add_parser(
        "fit-devices", help="fit compute devices' software efficiencies to published latencies",
        description="Non-negative least squares of the per-op-class efficiencies and the per-node dispatch "
                    "overhead on the relative errors of measured whole-network latencies; each network is also "
                    "predicted by a fit to the others (leave one out).")
    parser.add_argument("--fits", metavar="FILE", help="a fit document (default: boards/device_fits.yaml)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON document")
    parser.set_defaults(func=run)


def fit_summary(result: FitResult, device: str, apply_to: tuple[str, ...]) -> dict[str, Any]:
    """A fit as plain data (the ``--json`` entry)."""
    networks = list(result.measured_ms)
    return {
        "device": device, "apply_to": list(apply_to),
        "efficiency": result.efficiency, "dispatch_overhead_us": result.dispatch_overhead_us,
        "unidentified": list(result.unidentified),
        "networks": {n: {"measured_ms": result.measured_ms[n], "fitted_ms": round(result.predicted_ms[n], 1),
                         "residual": round(result.residual(n), 4), "held_out_ms": round(result.held_out_ms[n], 1),
                         "held_out_error": round(result.held_out_error(n), 4),
                         "held_out_unidentified": list(result.held_out_unidentified[n])} for n in networks},
        "rms_residual": round(_rms([result.residual(n) for n in networks]), 4),
        "rms_held_out_error": round(_rms([result.held_out_error(n) for n in networks]), 4),
    }


def _rms(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values))


def format_fit(name: str, summary: dict[str, Any]) -> str:
    """One fit as Markdown: the stored numbers, then the table of residuals and held-out errors."""
    eff = ", ".join(f"{op} {value:g}" for op, value in summary["efficiency"].items())
    lines = [f"## {name}: {summary['device']} (stored for {', '.join(summary['apply_to'])})", "",
             f"efficiency: {eff}; dispatch_overhead_us: {summary['dispatch_overhead_us']:g}"
             + (f"; unidentified (left at the peak bound): {', '.join(summary['unidentified'])}"
                if summary["unidentified"] else ""), "",
             "| network | measured ms | fitted ms | residual | held-out ms | held-out error |",
             "|---|---:|---:|---:|---:|---:|"]
    for network, row in summary["networks"].items():
        note = f" ({', '.join(row['held_out_unidentified'])} unidentified)" if row["held_out_unidentified"] else ""
        lines.append(f"| {network} | {row['measured_ms']:g} | {row['fitted_ms']:.0f} | {row['residual']:+.1%} | "
                     f"{row['held_out_ms']:.0f} | {row['held_out_error']:+.1%}{note} |")
    lines.append(f"| RMS | | | {summary['rms_residual']:.1%} | | {summary['rms_held_out_error']:.1%} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Fit every fit of the document and print the results."""
    fits = load_device_fits(args.fits)
    summaries = {name: fit_summary(fit_device(name, fit), fit.device, fit.apply_to) for name, fit in fits.items()}
    if args.json:
        print(json.dumps({"schema_version": JSON_SCHEMA_VERSION, "fits": summaries}, sort_keys=True, indent=2))
    else:
        print("\n\n".join(format_fit(name, summary) for name, summary in summaries.items()))
    return 0
