"""What a sigmoid lookup table costs in accuracy: EfficientNet-B0's logits against float64.

The zoo's EfficientNet-B0 (synthetic weights, seed 0; one uniform [−1, 1) input) is evaluated in
fixed point ⟨W, 6⟩ node by node (:func:`fpgasim.nn.evaluate.evaluate_fixed`) with every sigmoid and
SiLU computed exactly (a compute device) or read from a table (an FPGA vector unit,
:mod:`fpgasim.ops.lookup`) of 1024 or 4096 entries over [−8, 8), and compared with
:func:`fpgasim.nn.evaluate.evaluate_ref`. Prints one line per width and table:
``agreement.<bits>.<table>: SNR dB, top-1``.

Usage: ``.venv/bin/python benchmarks/sigmoid_table_agreement.py [--bits 12 16 20]`` (~20 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from fpgasim.fixedpoint import FixedFormat, quantize
from fpgasim.kernels import load_kernel
from fpgasim.nn import Op, zoo_graph
from fpgasim.nn.evaluate import agreement, evaluate_fixed, evaluate_ref, synthetic_weights
from fpgasim.ops.lookup import SigmoidTable

TABLES = {"exact": None, "table1024": SigmoidTable(entries=1024), "table4096": SigmoidTable(entries=4096)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, nargs="+", default=[12, 16, 20], help="word widths (6 integer bits)")
    args = parser.parse_args()
    graph = zoo_graph("efficientnet_b0")
    weights = synthetic_weights(graph, seed=0)
    inputs = {"input": np.random.default_rng(0).uniform(-1, 1, (1, *graph.inputs[0].out_shape))}
    reference = evaluate_ref(graph, inputs, weights)["fc"]
    gates = [node.name for node in graph.nodes if node.op in (Op.SIGMOID, Op.SILU)]
    design = load_kernel("superlip-conv-16bit-sigmoid").precision.fixed.requantizer()
    for bits in args.bits:
        fmt = FixedFormat(total_bits=bits, int_bits=6, signed=True)
        requant = dataclasses.replace(design, out=fmt)
        quantised = {name: quantize(x, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]
                     for name, x in inputs.items()}
        for label, table in TABLES.items():
            tables = None if table is None else dict.fromkeys(gates, table)
            out = evaluate_fixed(graph, quantised, weights, fmt=fmt, requant=requant, tables=tables)["fc"]
            match = agreement(reference, out.to_float())
            print(f"agreement.{bits}.{label}: SNR {match.snr_db:.1f} dB, top-1 {match.top1:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
