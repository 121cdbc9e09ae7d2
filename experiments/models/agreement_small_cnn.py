"""Agreement of fpgasim's fixed-point small-cnn with onnxruntime's float output, per word width.

Imports ``small-cnn.onnx`` (the model ``experiments/onnx-small-cnn-zcu102.yaml`` runs) for a batch of
``--samples`` seeded uniform(−1, 1) inputs, evaluates it node by node in fixed point
(``fpgasim.nn.evaluate.evaluate_fixed``: what the emulator's functional mode reproduces bit for bit)
at ⟨W, 6⟩ for each width, with the 16-bit design's rounding, overflow and accumulator, and compares
the logits with onnxruntime's (CPU, float32) and with fpgasim's float64 reference. Prints one row
per width: logit SNR (dB) and top-1 agreement against each.

Run: ``.venv/bin/python experiments/models/agreement_small_cnn.py [--samples 256]`` (needs
``onnxruntime``, a test extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fpgasim.fixedpoint import FixedFormat, quantize
from fpgasim.kernels import load_kernel_file
from fpgasim.nn.evaluate import agreement, evaluate_fixed, evaluate_ref
from fpgasim.nn.onnx import import_onnx

HERE = Path(__file__).resolve().parent
MODEL = HERE / "small-cnn.onnx"
KERNEL = HERE.parents[1] / "kernels" / "superlip-conv-16bit.yaml"
WIDTHS = (8, 12, 16, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    args = parser.parse_args()
    imported = import_onnx(MODEL, input_shape=[args.samples, 3, 32, 32])
    x = np.random.default_rng(0).uniform(-1, 1, (args.samples, 3, 32, 32))
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"input": x.astype(np.float32)})[0]
    node = imported.outputs["logits"]
    ours_float = evaluate_ref(imported.graph, {"input": x}, imported.weights)[node].reshape(theirs.shape)
    design = load_kernel_file(KERNEL).precision.fixed.requantizer()
    print(f"float64 reference vs onnxruntime: max |diff| {np.abs(ours_float - theirs).max():.2e}")
    print("| bits | SNR vs onnxruntime dB | top-1 vs onnxruntime | SNR vs float64 ref dB | top-1 vs float64 ref |")
    print("|---|---|---|---|---|")
    for bits in WIDTHS:
        fmt = FixedFormat(total_bits=bits, int_bits=design.out.int_bits, signed=True)
        requant = dataclasses.replace(design, out=fmt)
        q = quantize(x, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]
        fixed = evaluate_fixed(imported.graph, {"input": q}, imported.weights, fmt=fmt, requant=requant)
        logits = fixed[node].to_float().reshape(theirs.shape)
        onnxrt, ref = agreement(theirs, logits), agreement(ours_float, logits)
        print(f"| {bits} | {onnxrt.snr_db:.1f} | {onnxrt.top1:.3f} | {ref.snr_db:.1f} | {ref.top1:.3f} |")


if __name__ == "__main__":
    main()
