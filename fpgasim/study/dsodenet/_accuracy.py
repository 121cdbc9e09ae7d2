"""Fixed-point accuracy of a whole ODENet-family network against its float64 reference.

Owns: deterministic weights (:func:`make_stages`: He-initialised convolutions with a random
BatchNorm folded into weight and bias, from a seeded numpy Generator), the lock-step run of the
float64 reference and the fixed-point network (:func:`run_accuracy`), and the derived error
bound.

Fixed-point semantics (one datapath width W): activations and the ODE state in
``ap_fixed<W, Ia>`` (``Ia`` calibrated once from the float64 run: ⌈log2 max|x|⌉ + 1 sign bit +
``headroom_bits``, the same for every W); weights in ``min(W, max_weight_bits)`` bits with
their own integer bits per tensor; biases in the activation format; each convolution sums
exactly in an accumulator wide enough for its fan-in (W + Ww + ⌈log2 fan-in⌉ + 2 bits, capped
at 63), then rounds once to the activation format; the Euler update ``z + h·f(z)`` uses
:func:`fpgasim.ops.ode_update_fixed` (rounded once); average pooling and the classifier run in
the same formats. The step size ``h = round(T/steps · 2^hf) / 2^hf`` is dyadic and the SAME in
both paths. The classifier bias is centred on the inputs (:func:`center_classifier`) so that the
float64 top-1 classes spread over the classes (``classes_seen``).

Derived bound (∞-norm, valid while no value saturates — the overflow counts say so): with input
error ``e``, float input magnitude ``M = max|x|``, quantised weights ``w_q``::

    conv:  e' = max_m Σ|w_q,m|·e + max_m Σ|w_m − w_q,m|·M + max|b − b_q| + r     (ReLU: 1-Lipschitz)
    Euler: e_z' = e_z + h·e_f + r ;  average pool: e' = e + r ;  r = ulp (truncate) or ulp/2

It is a guaranteed worst case, hence loose after many layers; the measured error is reported
beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import (
    MAX_ACCUMULATOR_BITS, Accumulator, FixedFormat, FixedTensor, Overflow, OverflowCounts, Requantizer, Rounding,
    dequantize, quantize,
)
from fpgasim.nn.composite import DscBlock, OdeBlock, OdeSolver
from fpgasim.nn.layers import Conv2d, GlobalAvgPool, Linear
from fpgasim.nn.network import Network
from fpgasim.ops.activations import Activation, activate_fixed, activate_ref
from fpgasim.ops.batchnorm import fold_batchnorm
from fpgasim.ops.conv import conv2d_fixed, conv2d_ref
from fpgasim.ops.linear import linear_fixed, linear_ref
from fpgasim.ops.ode import ode_update_fixed
from fpgasim.ops.pool import global_avg_pool2d_fixed, global_avg_pool2d_ref

__all__ = ["ConvOp", "Stage", "AccuracyConfig", "StageMetrics", "WidthResult", "make_stages", "dyadic_step",
           "calibrate_int_bits", "run_accuracy", "new_ref_cache", "center_classifier"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ConvOp:
    """One convolution (dense, depthwise or pointwise) with folded BN and its activation."""

    name: str
    w: np.ndarray
    b: np.ndarray
    stride: int
    padding: int
    groups: int
    activation: Activation


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Stage:
    """A top-level layer: ``ops`` in order (plain), or f of an Euler ODE block (``steps``, ``h``),
    or ``gap`` / ``fc`` (``fc`` holds (w, b))."""

    name: str
    kind: str
    ops: tuple[ConvOp, ...] = ()
    steps: int = 0
    h: float = 0.0
    fc: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccuracyConfig:
    """Number formats of one run (see the module docstring)."""

    bits: int
    act_int_bits: int
    max_weight_bits: int
    rounding: Rounding
    overflow: Overflow


@dataclass(slots=True)
class StageMetrics:
    """Fixed vs float64 at the output of one stage (over all inputs)."""

    stage: str
    max_abs_error: float = 0.0
    snr_db: float | None = None
    bound: float | None = None
    overflow_output: int = 0
    overflow_accumulator: int = 0


@dataclass(slots=True)
class WidthResult:
    """One datapath width: per-stage metrics, the top-1 agreement and how many float64 classes occur."""

    bits: int
    act_format: str
    stages: list[StageMetrics] = field(default_factory=list)
    top1_agreement: float = 0.0
    classes_seen: int = 0


def dyadic_step(end_time: float, steps: int, frac_bits: int) -> float:
    """``round(end_time/steps · 2^frac_bits) / 2^frac_bits``.

    Raises:
        BadArgument: end_time ≤ 0, steps < 1, or a step that rounds to 0.
    """
    if not end_time > 0:
        raise BadArgument(f"end_time={end_time!r}: the ODE step size must be > 0")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise BadArgument(f"steps={steps!r}: expected an integer >= 1")
    h = round(end_time / steps * 2**frac_bits) / 2**frac_bits
    if h <= 0:
        raise BadArgument(f"step size {end_time}/{steps} rounds to 0 with h_frac_bits={frac_bits}; "
                          "expected a step size > 0 (use more h_frac_bits)")
    return h


def _conv_op(rng: np.random.Generator, layer: Conv2d, activation: Activation) -> ConvOp:
    cin_g = layer.in_channels // layer.groups
    fan_in = cin_g * layer.kernel**2
    w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(layer.out_channels, cin_g, layer.kernel, layer.kernel))
    m = layer.out_channels
    gamma, beta = rng.uniform(0.8, 1.2, m), rng.normal(0.0, 0.1, m)
    mean, var = rng.normal(0.0, 0.1, m), rng.uniform(0.8, 1.2, m)
    wf, bf = fold_batchnorm(w, None, gamma, beta, mean, var, 1e-5)
    return ConvOp(name=layer.name, w=wf, b=bf, stride=layer.stride, padding=layer.padding, groups=layer.groups,
                  activation=activation)


def _ops(rng: np.random.Generator, layer: object, activation: Activation) -> list[ConvOp]:
    if isinstance(layer, DscBlock):
        return [_conv_op(rng, layer.depthwise.as_conv(), activation),
                _conv_op(rng, layer.pointwise.as_conv(), activation)]
    return [_conv_op(rng, layer.as_conv(), activation)]


def make_stages(network: Network, rng: np.random.Generator, *, end_time: float, h_frac_bits: int) -> list[Stage]:
    """Deterministic weights for ``network`` (module docstring), one :class:`Stage` per layer.

    Raises:
        BadArgument: a solver other than Euler, a layer type this study does not run, a bad h.
    """
    stages: list[Stage] = []
    for layer in network.layers:
        if isinstance(layer, OdeBlock):
            if layer.solver is not OdeSolver.EULER:
                raise BadArgument(f"ODE block {layer.name!r}: solver={layer.solver.value!r}; the accuracy study "
                                  "runs the papers' Euler solver only (expected euler)")
            ops: list[ConvOp] = []
            for index, sub in enumerate(layer.layers):
                last = index == len(layer.layers) - 1
                ops += _ops(rng, sub, Activation.NONE if last else Activation.RELU)
            stages.append(Stage(name=layer.name, kind="ode", ops=tuple(ops), steps=layer.steps,
                                h=dyadic_step(end_time, layer.steps, h_frac_bits)))
        elif isinstance(layer, (Conv2d, DscBlock)):
            stages.append(Stage(name=layer.name, kind="plain", ops=tuple(_ops(rng, layer, Activation.RELU))))
        elif isinstance(layer, GlobalAvgPool):
            stages.append(Stage(name=layer.name, kind="gap"))
        elif isinstance(layer, Linear):
            w = rng.normal(0.0, math.sqrt(1.0 / layer.in_features), size=(layer.out_features, layer.in_features))
            stages.append(Stage(name=layer.name, kind="fc", fc=(w, rng.normal(0.0, 0.1, layer.out_features))))
        else:
            raise BadArgument(f"layer {layer.name!r} ({type(layer).__name__}) is not run by the accuracy study")
    return stages


def _float_forward(stages: list[Stage], x: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Largest |value| of any stage output or ODE slope (for calibration), and the classifier's input."""
    peak, features = float(np.abs(x).max()), None
    for stage in stages:
        if stage.kind == "plain":
            for op in stage.ops:
                x = activate_ref(_conv_f64(x, op), op.activation)
                peak = max(peak, float(np.abs(x).max()))
        elif stage.kind == "ode":
            for _ in range(stage.steps):
                k = x
                for op in stage.ops:
                    k = activate_ref(_conv_f64(k, op), op.activation)
                    peak = max(peak, float(np.abs(k).max()))
                x = x + stage.h * k
                peak = max(peak, float(np.abs(x).max()))
        elif stage.kind == "gap":
            x = global_avg_pool2d_ref(x)[:, :, 0, 0]
        else:
            features = x
            x = linear_ref(x, *stage.fc)
            peak = max(peak, float(np.abs(x).max()))
    return peak, features


def center_classifier(stages: list[Stage], x: np.ndarray) -> list[Stage]:
    """Set the classifier bias to ``−W·mean(features)`` over the inputs ``x`` (float64).

    With random weights every input otherwise lands in the same class and top-1 agreement says
    nothing; centred, each class's mean logit is 0 and the classes are spread over the inputs.
    """
    _, features = _float_forward(stages, x)
    out = []
    for stage in stages:
        if stage.kind == "fc" and features is not None:
            w, _ = stage.fc
            stage = Stage(name=stage.name, kind="fc", fc=(w, -(w @ features.mean(axis=0))))
        out.append(stage)
    return out


def calibrate_int_bits(stages: list[Stage], x: np.ndarray, headroom_bits: int) -> int:
    """Integer bits (with sign) of the activation format: ⌈log2 peak⌉ + 1 + headroom (≥ 1)."""
    peak, _ = _float_forward(stages, x)
    return max(1, math.ceil(math.log2(peak)) + 1 + headroom_bits) if peak > 0 else 1 + headroom_bits


@dataclass(slots=True)
class _RefCache:
    """Float64 conv outputs in call order (filled by the first run, replayed by the next)."""

    values: list = field(default_factory=list)
    pos: int = 0


class _Pair:
    """The float64 and fixed tensors of one point of the network, plus the error bound there."""

    def __init__(self, real: np.ndarray, fixed: FixedTensor, bound: float):
        self.real, self.fixed, self.bound = real, fixed, bound


def _r(cfg: AccuracyConfig, fmt: FixedFormat) -> float:
    ulp = 2.0 ** -fmt.frac_bits
    return ulp if cfg.rounding is Rounding.TRUNCATE else ulp / 2


def _weight_fmt(cfg: AccuracyConfig, w: np.ndarray) -> FixedFormat:
    bits = min(cfg.bits, cfg.max_weight_bits)
    peak = float(np.abs(w).max())
    int_bits = (math.ceil(math.log2(peak)) + 1) if peak > 0 else 1
    return FixedFormat(total_bits=bits, int_bits=min(int_bits, bits), signed=True)


def _conv_f64(x: np.ndarray, op: ConvOp) -> np.ndarray:
    """Float64 convolution: :func:`fpgasim.ops.conv2d_ref`, except depthwise, done here in one einsum
    (the ops reference loops over the channels; tests compare the two)."""
    c = x.shape[1]
    if op.groups == 1 or op.groups != c or op.w.shape[0] != c:
        return conv2d_ref(x, op.w, op.b, stride=op.stride, padding=op.padding, groups=op.groups)
    k = op.w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (op.padding, op.padding), (op.padding, op.padding)))
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::op.stride, ::op.stride]
    return np.einsum("nchwij,cij->nchw", win, op.w[:, 0]) + op.b[None, :, None, None]


def _cached(cache: _RefCache, compute) -> np.ndarray:
    """The float64 trace is the same for every width: compute it on the first run, replay it after."""
    index = cache.pos
    cache.pos += 1
    if index == len(cache.values):
        cache.values.append(compute())
    return cache.values[index]


def _conv_pair(cfg: AccuracyConfig, act: FixedFormat, op: ConvOp, x: _Pair, counts: list[OverflowCounts],
               cache: _RefCache) -> _Pair:
    wfmt = _weight_fmt(cfg, op.w)
    wq, _ = quantize(op.w, wfmt, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE)
    bq, _ = quantize(op.b, act, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE)
    fan_in = op.w.shape[1] * op.w.shape[2] * op.w.shape[3]
    acc_bits = min(MAX_ACCUMULATOR_BITS, cfg.bits + wfmt.total_bits + math.ceil(math.log2(fan_in)) + 2)
    requant = Requantizer(out=act, rounding=cfg.rounding, overflow=cfg.overflow,
                          accumulator=Accumulator(bits=acc_bits, overflow=Overflow.SATURATE))
    yq, c = conv2d_fixed(x.fixed, wq, bq, stride=op.stride, padding=op.padding, groups=op.groups, requant=requant)
    yq, _ = activate_fixed(yq, op.activation)
    counts.append(c)
    yr = _cached(cache, lambda: activate_ref(_conv_f64(x.real, op), op.activation))
    w_real = dequantize(wq)
    gain = float(np.abs(w_real).reshape(w_real.shape[0], -1).sum(axis=1).max())
    dw = float(np.abs(w_real - op.w).reshape(w_real.shape[0], -1).sum(axis=1).max())
    db = float(np.abs(dequantize(bq) - op.b).max())
    bound = gain * x.bound + dw * float(np.abs(x.real).max()) + db + _r(cfg, act)
    return _Pair(yr, yq, bound)


def _stage_pair(cfg: AccuracyConfig, act: FixedFormat, stage: Stage, x: _Pair,
                counts: list[OverflowCounts], cache: _RefCache) -> _Pair:
    if stage.kind == "plain":
        for op in stage.ops:
            x = _conv_pair(cfg, act, op, x, counts, cache)
        return x
    if stage.kind == "ode":
        update = Requantizer(out=act, rounding=cfg.rounding, overflow=cfg.overflow,
                             accumulator=Accumulator(bits=MAX_ACCUMULATOR_BITS, overflow=Overflow.SATURATE))
        for _ in range(stage.steps):
            k = x
            for op in stage.ops:
                k = _conv_pair(cfg, act, op, k, counts, cache)
            zq, c = ode_update_fixed(x.fixed, k.fixed.values, k.fixed.fmt.frac_bits, stage.h, 1, update)
            counts.append(c)
            x = _Pair(x.real + stage.h * k.real, zq, x.bound + stage.h * k.bound + _r(cfg, act))
        return x
    if stage.kind == "gap":
        window = x.real.shape[2] * x.real.shape[3]
        acc_bits = min(MAX_ACCUMULATOR_BITS - 1, cfg.bits + math.ceil(math.log2(window)) + 1)
        requant = Requantizer(out=act, rounding=cfg.rounding, overflow=cfg.overflow,
                              accumulator=Accumulator(bits=acc_bits, overflow=Overflow.SATURATE))
        yq, c = global_avg_pool2d_fixed(x.fixed, requant=requant)
        counts.append(c)
        n, ch = yq.values.shape[:2]
        flat = FixedTensor(yq.values.reshape(n, ch), yq.fmt)
        return _Pair(global_avg_pool2d_ref(x.real)[:, :, 0, 0], flat, x.bound + _r(cfg, act))
    w, b = stage.fc
    wfmt = _weight_fmt(cfg, w)
    wq, _ = quantize(w, wfmt, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE)
    bq, _ = quantize(b, act, rounding=Rounding.HALF_EVEN, overflow=Overflow.SATURATE)
    acc_bits = min(MAX_ACCUMULATOR_BITS, cfg.bits + wfmt.total_bits + math.ceil(math.log2(w.shape[1])) + 2)
    requant = Requantizer(out=act, rounding=cfg.rounding, overflow=cfg.overflow,
                          accumulator=Accumulator(bits=acc_bits, overflow=Overflow.SATURATE))
    yq, c = linear_fixed(x.fixed, wq, bq, requant=requant)
    counts.append(c)
    w_real = dequantize(wq)
    bound = (float(np.abs(w_real).sum(axis=1).max()) * x.bound
             + float(np.abs(w_real - w).sum(axis=1).max()) * float(np.abs(x.real).max())
             + float(np.abs(dequantize(bq) - b).max()) + _r(cfg, act))
    return _Pair(linear_ref(x.real, w, b), yq, bound)


def new_ref_cache() -> _RefCache:
    """An empty float64 trace cache for :func:`run_accuracy`."""
    return _RefCache()


def run_accuracy(stages: list[Stage], x: np.ndarray, cfg: AccuracyConfig, *,
                 cache: _RefCache | None = None) -> WidthResult:
    """Run the float64 reference and the fixed-point network on inputs ``x`` (N, C, H, W).

    Pass the same ``cache`` (``new_ref_cache()``) to runs on the same stages and inputs to
    compute the float64 reference once.

    Returns:
        Per-stage max |error|, SNR (dB; None when the error is exactly 0), the derived bound and
        the overflow counts, and the fraction of inputs whose top-1 class agrees.

    Raises:
        BadArgument: formats out of range (e.g. ``act_int_bits`` > ``bits``).
    """
    cache = _RefCache() if cache is None else cache
    cache.pos = 0
    act = FixedFormat(total_bits=cfg.bits, int_bits=min(cfg.act_int_bits, cfg.bits), signed=True)
    xq, _ = quantize(x, act, rounding=cfg.rounding, overflow=cfg.overflow)
    pair = _Pair(np.asarray(x, dtype=np.float64), xq, float(np.abs(dequantize(xq) - x).max()))
    result = WidthResult(bits=cfg.bits, act_format=f"ap_fixed<{act.total_bits},{act.int_bits}>")
    for stage in stages:
        counts: list[OverflowCounts] = []
        pair = _stage_pair(cfg, act, stage, pair, counts, cache)
        err = dequantize(pair.fixed) - pair.real
        noise = float(np.sum(err**2))
        snr = None if noise == 0 else 10 * math.log10(max(float(np.sum(pair.real**2)), 1e-300) / noise)
        total = sum(counts, OverflowCounts())
        result.stages.append(StageMetrics(stage=stage.name, max_abs_error=float(np.abs(err).max()), snr_db=snr,
                                          bound=pair.bound, overflow_output=int(total.output),
                                          overflow_accumulator=int(total.accumulator)))
    logits_fixed = dequantize(pair.fixed)
    result.top1_agreement = float(np.mean(np.argmax(logits_fixed, axis=1) == np.argmax(pair.real, axis=1)))
    result.classes_seen = int(np.unique(np.argmax(pair.real, axis=1)).size)
    return result
