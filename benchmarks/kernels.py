"""Kernel benchmark: fixed-point convolution MAC/s relative to numpy float32 in the same run.

Run: ``.venv/bin/python benchmarks/kernels.py [--repeats N]``

Prints one ``ratio.<kernel>: <value>`` line per kernel (fixed-point MAC/s ÷ reference MAC/s;
the reference is float32 im2col + BLAS, or for depthwise a numpy loop over the taps), then the
absolute GMAC/s of both, and the machine's measured sgemm ceiling. After one warm-up call of
each (which also compiles the Numba kernels), fixed and reference calls alternate ``--repeats``
times so both see the same machine load; the ratio is the median of the per-pair ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fpgasim.fixedpoint import Accumulator, FixedFormat, FixedTensor, Overflow, Requantizer, Rounding
from fpgasim.ops.conv import conv2d_fixed, depthwise_conv2d_fixed, pointwise_conv2d_fixed


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    return statistics.median(_seconds(fn) for _ in range(repeats))


def paired(fixed, reference, repeats: int) -> tuple[float, float, float]:
    """Interleaved timing (both see the same machine load): median times and median ratio.

    Returns:
        (median fixed seconds, median reference seconds, median of per-pair time ratios ref/fixed).
    """
    fixed()
    reference()
    t_fix, t_ref = [], []
    for _ in range(repeats):
        t_fix.append(_seconds(fixed))
        t_ref.append(_seconds(reference))
    ratios = [r / f for f, r in zip(t_fix, t_ref)]
    return statistics.median(t_fix), statistics.median(t_ref), statistics.median(ratios)


def im2col_conv_f32(x: np.ndarray, w: np.ndarray, padding: int) -> np.ndarray:
    """Float32 conv (stride 1, groups 1): explicit im2col copy + one sgemm."""
    m, c, kh, kw = w.shape
    xp = np.pad(x[0], ((0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))  # (C, OH, OW, KH, KW)
    oh, ow = win.shape[1], win.shape[2]
    cols = np.ascontiguousarray(win.transpose(0, 3, 4, 1, 2)).reshape(c * kh * kw, oh * ow)
    return (w.reshape(m, -1) @ cols).reshape(1, m, oh, ow)


def depthwise_numpy_f32(x: np.ndarray, w: np.ndarray, padding: int) -> np.ndarray:
    """Float32 depthwise conv (stride 1): a numpy loop over the KH·KW taps."""
    c, _, kh, kw = w.shape
    xp = np.pad(x[0], ((0, 0), (padding, padding), (padding, padding)))
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    out = np.zeros((c, oh, ow), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + oh, j:j + ow] * w[:, 0, i, j][:, None, None]
    return out[None]


def fixed_tensor(rng: np.random.Generator, shape: tuple[int, ...], bits: int) -> FixedTensor:
    """Random full-range signed tensor with ``bits`` total bits and bits−1 fraction bits."""
    fmt = FixedFormat(total_bits=bits, int_bits=1, signed=True)
    return FixedTensor(rng.integers(fmt.min_int, fmt.max_int + 1, shape).astype(fmt.storage_dtype), fmt)


def requantizer(bits: int) -> Requantizer:
    """Output in the data format, round half-even, saturate, 48-bit wrapping accumulator."""
    return Requantizer(out=FixedFormat(total_bits=bits, int_bits=4, signed=True), rounding=Rounding.HALF_EVEN,
                       overflow=Overflow.SATURATE, accumulator=Accumulator(bits=48, overflow=Overflow.WRAP))


def sgemm_peak_gflops(repeats: int) -> float:
    """Measured float32 GEMM throughput on 2048³ (the machine's practical ceiling)."""
    a = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
    return 2 * 2048**3 / median_seconds(lambda: a @ a, repeats) / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per kernel (median taken)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    hw, ch = 56, 128
    rows = []

    for bits in (16, 8):
        x, w = fixed_tensor(rng, (1, ch, hw, hw), bits), fixed_tensor(rng, (ch, ch, 3, 3), bits)
        xf, wf = x.to_float().astype(np.float32), w.to_float().astype(np.float32)
        macs = ch * ch * 9 * hw * hw
        timing = paired(lambda: conv2d_fixed(x, w, None, stride=1, padding=1, groups=1, requant=requantizer(bits)),
                        lambda: im2col_conv_f32(xf, wf, 1), args.repeats)
        rows.append((f"conv3x3_{bits}bit", macs, *timing, "f32 im2col+sgemm"))

    dch = 256
    for bits in (16, 8):
        x, w = fixed_tensor(rng, (1, dch, hw, hw), bits), fixed_tensor(rng, (dch, 1, 3, 3), bits)
        xf, wf = x.to_float().astype(np.float32), w.to_float().astype(np.float32)
        macs = dch * 9 * hw * hw
        timing = paired(lambda: depthwise_conv2d_fixed(x, w, None, stride=1, padding=1, requant=requantizer(bits)),
                        lambda: depthwise_numpy_f32(xf, wf, 1), args.repeats)
        rows.append((f"depthwise3x3_{bits}bit", macs, *timing, "f32 numpy 9-tap loop"))

    for bits in (16, 8):
        x, w = fixed_tensor(rng, (1, ch, hw, hw), bits), fixed_tensor(rng, (ch, ch, 1, 1), bits)
        xf, wf = x.to_float().astype(np.float32), w.to_float().astype(np.float32)
        macs = ch * ch * hw * hw
        timing = paired(lambda: pointwise_conv2d_fixed(x, w, None, requant=requantizer(bits)),
                        lambda: im2col_conv_f32(xf, wf, 0), args.repeats)
        rows.append((f"pointwise_{bits}bit", macs, *timing, "f32 im2col+sgemm"))

    for name, _, _, _, ratio, _ in rows:
        print(f"ratio.{name}: {ratio:.2f}")
    for name, macs, t_fix, t_ref, _, ref_name in rows:
        print(f"gmacs.{name}: fixed {macs / t_fix / 1e9:.2f} GMAC/s, {ref_name} {macs / t_ref / 1e9:.2f} GMAC/s")
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip())
    peak = sgemm_peak_gflops(max(3, args.repeats // 3))
    print(f"ceiling.sgemm_2048: {peak:.1f} GFLOP/s (= {peak / 2:.1f} GMAC/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
