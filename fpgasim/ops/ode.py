"""Neural-ODE block: ``z ← z + h·f(z)`` with a fixed-step explicit solver, same weights every step.

``f`` is a sequence of sub-layers (:class:`ConvLayer` or :class:`~fpgasim.ops.dsc.DscLayer`, each
with its activation) that must map the state to a tensor of the same shape (stride 1, "same"
padding, as many output as input channels). The solver (:class:`Solver`), the number of steps
and the step size ``h`` are always explicit — there are no defaults. (A known trap:
torchdiffeq's fixed-grid solvers take one step per interval of the requested time points unless
``options=dict(step_size=...)`` is given, so ``odeint(f, z0, t=[0, 1], method="euler")`` is ONE
step of size 1; and its ``"rk4"`` is the 3/8-rule variant, equal to the classic RK4 used here only
for linear ``f``. State the step count and size of the model you compare with.)

Fixed point (:func:`ode_block_fixed`): the state ``z`` is kept in the format ``update.out``;
``f`` runs its fixed sub-layers (each with its own requantizer), giving ``k`` in the last
layer's output format. ``h`` must be dyadic (``h_int·2^-hf``, at most :data:`MAX_H_FRAC_BITS`
fraction bits — a constant stored in hardware; no hidden rounding of ``h``). Every state update
has the form ``z' = z + (h / den)·K`` and is computed exactly, then rounded ONCE:

* the exact numerator ``N = z·den·2^(G−zf) + h_int·K·2^(G−hf−kf)`` (``G = max(zf, hf + kf)``,
  so that ``z' = N / (den·2^G)``) is held in ``update.accumulator`` (width, overflow; counted
  as ``accumulator``);
* ``N / (den·2^(G−zf))`` is rounded to the state grid with ``update.rounding`` (exact rational
  division) and fitted into the state format with ``update.overflow`` (counted as ``output``).

Euler: one update per step with ``K = f(z)``, ``den = 1``. RK4 (classic): ``z2 = z + (h/2)·k1``,
``z3 = z + (h/2)·k2``, ``z4 = z + h·k3`` (``den`` 2, 2, 1), each rounded to the state format as
above before ``f`` is applied to it, then ``z' = z + (h/6)·(k1 + 2k2 + 2k3 + k4)`` with the
integer sum ``K`` exact and ``den = 6``. Overflow counts of every sub-layer and update are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

import numpy as np

from fpgasim.errors import BadArgument, ShapeError
from fpgasim.fixedpoint import FixedTensor, OverflowCounts, Requantizer, fit_range
from fpgasim.fixedpoint.formats import _parse_enum
from fpgasim.ops._conv_check import as_real_array, check_int_param
from fpgasim.ops.activations import Activation, _parse_activation, activate_f32, activate_fixed, activate_ref
from fpgasim.ops.conv import conv2d_f32, conv2d_fixed, conv2d_ref
from fpgasim.ops.dsc import DscLayer, FixedDscLayer, dsc_block_f32, dsc_block_fixed, dsc_block_ref
from fpgasim.ops.pool import divide_round

__all__ = [
    "Solver", "ConvLayer", "FixedConvLayer", "MAX_H_FRAC_BITS",
    "ode_f_ref", "ode_f_f32", "ode_f_fixed", "ode_update_fixed",
    "ode_block_ref", "ode_block_f32", "ode_block_fixed", "ode_step_fixed",
]

#: Most fraction bits the fixed-point step size h may have.
MAX_H_FRAC_BITS = 32
_LIMIT = 2**62


class Solver(StrEnum):
    """Explicit fixed-step ODE solvers."""

    #: Forward Euler, one f evaluation per step.
    EULER = "euler"
    #: Classic 4th-order Runge-Kutta, four f evaluations per step.
    RK4 = "rk4"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ConvLayer:
    """One convolution sub-layer of ``f`` in real numbers: conv2d(w, bias) then the activation.

    Attributes:
        w: (M, C/groups, KH, KW) weights (BN folded). bias: (M,) or None.
        stride, padding, groups: as :func:`fpgasim.ops.conv.conv2d_ref` (elements).
        activation: applied after the convolution.
    """

    w: np.ndarray
    bias: np.ndarray | None
    stride: int
    padding: int
    groups: int
    activation: Activation

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", _parse_activation(self.activation))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FixedConvLayer:
    """One convolution sub-layer of ``f`` in fixed point (weights, bias and requantizer).

    Attributes:
        w, bias: FixedTensors (bias may be None). stride, padding, groups, activation: as
            :class:`ConvLayer`. requant: the layer's accumulator, rounding, output format, overflow.
    """

    w: FixedTensor
    bias: FixedTensor | None
    stride: int
    padding: int
    groups: int
    activation: Activation
    requant: Requantizer

    def __post_init__(self) -> None:
        object.__setattr__(self, "activation", _parse_activation(self.activation))
        if not isinstance(self.requant, Requantizer):
            raise BadArgument(f"requant={self.requant!r}: expected a Requantizer")


# --- f ------------------------------------------------------------------------------------------

def _check_layers(layers: object, kinds: tuple[type, ...]) -> Sequence:
    names = " or ".join(k.__name__ for k in kinds)
    if not isinstance(layers, (list, tuple)) or not layers:
        raise BadArgument(f"layers={layers!r}: expected a non-empty list of {names}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, kinds):
            raise BadArgument(f"layers[{i}] is {type(layer).__name__}: expected {names}")
    return layers


def _same_shape(k_shape: tuple[int, ...], z_shape: tuple[int, ...]) -> None:
    if k_shape != z_shape:
        raise ShapeError(f"f(z) has shape {k_shape} but the state z has {z_shape}: an ODE block needs "
                         "stride 1, 'same' padding and as many output as input channels")


def ode_f_ref(z: np.ndarray, layers: Sequence[ConvLayer | DscLayer]) -> np.ndarray:
    """Float64 ``f(z)``: the sub-layers in order.

    Raises:
        BadArgument: an empty or wrongly typed layer list. ShapeError: f(z) not shaped like z.
    """
    z = as_real_array("z", z, np.float64)
    y = z
    for layer in _check_layers(layers, (ConvLayer, DscLayer)):
        if isinstance(layer, DscLayer):
            y = dsc_block_ref(y, layer)
        else:
            y = conv2d_ref(y, layer.w, layer.bias, stride=layer.stride, padding=layer.padding, groups=layer.groups)
            y = activate_ref(y, layer.activation)
    _same_shape(y.shape, z.shape)
    return y


def ode_f_f32(z: np.ndarray, layers: Sequence[ConvLayer | DscLayer]) -> np.ndarray:
    """Float32 ``f(z)``; errors as :func:`ode_f_ref`."""
    z = as_real_array("z", z, np.float32)
    y = z
    for layer in _check_layers(layers, (ConvLayer, DscLayer)):
        if isinstance(layer, DscLayer):
            y = dsc_block_f32(y, layer)
        else:
            y = conv2d_f32(y, layer.w, layer.bias, stride=layer.stride, padding=layer.padding, groups=layer.groups)
            y = activate_f32(y, layer.activation)
    _same_shape(y.shape, z.shape)
    return y


def ode_f_fixed(z: FixedTensor, layers: Sequence[FixedConvLayer | FixedDscLayer]) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point ``f(z)`` (each sub-layer requantised by its own requantizer); errors as the ref."""
    counts = OverflowCounts()
    y = z
    for layer in _check_layers(layers, (FixedConvLayer, FixedDscLayer)):
        if isinstance(layer, FixedDscLayer):
            y, c = dsc_block_fixed(y, layer)
        else:
            y, c = conv2d_fixed(y, layer.w, layer.bias, stride=layer.stride, padding=layer.padding,
                                groups=layer.groups, requant=layer.requant)
            y, a = activate_fixed(y, layer.activation, requant=layer.requant)
            c += a
        counts += c
    _same_shape(y.shape, z.shape)
    return y, counts


# --- arguments ------------------------------------------------------------------------------------

def _check_h(h: object) -> float:
    if isinstance(h, bool) or not isinstance(h, (int, float, np.integer, np.floating)) or not np.isfinite(h) or h <= 0:
        raise BadArgument(f"h={h!r}: expected a finite step size > 0")
    return float(h)


def _dyadic(h: float) -> tuple[int, int]:
    frac = Fraction(h)
    den = frac.denominator
    if den & (den - 1) or den.bit_length() - 1 > MAX_H_FRAC_BITS:
        raise BadArgument(f"h={h!r} is not a multiple of 2**-{MAX_H_FRAC_BITS}: in fixed point the step "
                          "size must be dyadic (e.g. 0.25 or 0.1015625); quantize it explicitly first")
    return frac.numerator, den.bit_length() - 1


def _common(solver: object, steps: object, h: object) -> tuple[Solver, int, float]:
    return _parse_enum(Solver, solver, "solver"), check_int_param("steps", steps, 1), _check_h(h)


# --- float paths ------------------------------------------------------------------------------------

def _run_float(z, f, solver: Solver, steps: int, h, dtype):
    half, sixth = dtype(h) / dtype(2), dtype(h) / dtype(6)
    h = dtype(h)
    for _ in range(steps):
        if solver is Solver.EULER:
            z = z + h * f(z)
        else:
            k1 = f(z)
            k2 = f(z + half * k1)
            k3 = f(z + half * k2)
            k4 = f(z + h * k3)
            z = z + sixth * (k1 + dtype(2) * k2 + dtype(2) * k3 + k4)
    return z


def ode_block_ref(z0: np.ndarray, layers: Sequence[ConvLayer | DscLayer], *, solver: Solver, steps: int,
                  h: float) -> np.ndarray:
    """Float64 reference: ``steps`` steps of size ``h`` with ``solver`` (classic RK4 or Euler).

    Args:
        z0: (N, C, H, W) initial state. layers: the sub-layers of f.
        solver: euler or rk4. steps: number of steps (≥ 1). h: step size (> 0), in time units.

    Returns:
        The state after ``steps`` steps (time ``steps·h``), float64.

    Raises:
        BadArgument: unknown solver, steps < 1, h ≤ 0, bad layers. ShapeError: f(z) not shaped like z.
    """
    solver, steps, h = _common(solver, steps, h)
    return _run_float(as_real_array("z0", z0, np.float64), lambda z: ode_f_ref(z, layers), solver, steps, h,
                      np.float64)


def ode_block_f32(z0: np.ndarray, layers: Sequence[ConvLayer | DscLayer], *, solver: Solver, steps: int,
                  h: float) -> np.ndarray:
    """Float32 block (state, h and all arithmetic in float32); arguments as :func:`ode_block_ref`."""
    solver, steps, h = _common(solver, steps, h)
    return _run_float(as_real_array("z0", z0, np.float32), lambda z: ode_f_f32(z, layers), solver, steps, h,
                      np.float32)


# --- fixed path ---------------------------------------------------------------------------------------

def ode_update_fixed(z: FixedTensor, k: np.ndarray, k_frac_bits: int, h: float, den: int,
                     update: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """One rounded state update ``z + (h/den)·k`` (semantics in the module docstring).

    Args:
        z: state in ``update.out``. k: int64 stored integers of the slope (or of the RK4 sum),
            shaped like z, with ``k_frac_bits`` fraction bits. h: dyadic step size (> 0).
        den: positive integer divisor of h (1, 2 or 6 in the solvers). update: the state requantizer.

    Returns:
        The new state in ``update.out`` and the counts of this update.

    Raises:
        BadArgument: z not in ``update.out``, h not dyadic, int64 overflow of the exact numerator.
    """
    if not isinstance(z, FixedTensor) or z.fmt != update.out:
        raise BadArgument(f"state z must be a FixedTensor in update.out={update.out}; got "
                          f"{getattr(z, 'fmt', type(z).__name__)}")
    h_int, h_frac = _dyadic(_check_h(h))
    den = check_int_param("den", den, 1)
    zf, of = z.fmt.frac_bits, update.out.frac_bits
    kf = h_frac + int(k_frac_bits)
    g = max(zf, kf)
    zi, ki = z.values.astype(np.int64), np.asarray(k, dtype=np.int64)
    z_scale, k_scale = den << (g - zf), h_int << (g - kf)
    reach = int(np.abs(zi).max(initial=0)) * z_scale + int(np.abs(ki).max(initial=0)) * k_scale
    if reach >= _LIMIT or (den << (g - of)) >= _LIMIT:
        raise BadArgument(f"ODE update numerator may reach {reach}: expected below 2**62 (fewer fraction bits "
                          "in h, the state or f's output)")
    num = zi * np.int64(z_scale) + ki * np.int64(k_scale)
    acc = update.accumulator
    num, acc_count = fit_range(num, acc.min_int, acc.max_int, acc.bits, acc.overflow)
    ints = divide_round(num, den << (g - of), update.rounding)
    out = update.out
    ints, out_count = fit_range(ints, out.min_int, out.max_int, out.total_bits, update.overflow)
    return FixedTensor(ints.astype(out.storage_dtype), out), OverflowCounts(output=out_count, accumulator=acc_count)


def ode_step_fixed(z: FixedTensor, layers: Sequence[FixedConvLayer | FixedDscLayer], *, solver: Solver, h: float,
                   update: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """One fixed-point solver step (Euler: 1 update; RK4: 4 f evaluations and 4 updates)."""
    solver = _parse_enum(Solver, solver, "solver")
    k1, counts = ode_f_fixed(z, layers)
    kf = k1.fmt.frac_bits
    if solver is Solver.EULER:
        z_new, c = ode_update_fixed(z, k1.values, kf, h, 1, update)
        return z_new, counts + c
    ks = [k1]
    for den in (2, 2, 1):
        zs, c = ode_update_fixed(z, ks[-1].values, kf, h, den, update)
        k, ck = ode_f_fixed(zs, layers)
        ks.append(k)
        counts += c + ck
    total = sum(w * k.values.astype(np.int64) for w, k in zip((1, 2, 2, 1), ks))
    z_new, c = ode_update_fixed(z, total, kf, h, 6, update)
    return z_new, counts + c


def ode_block_fixed(z0: FixedTensor, layers: Sequence[FixedConvLayer | FixedDscLayer], *, solver: Solver,
                    steps: int, h: float, update: Requantizer) -> tuple[FixedTensor, OverflowCounts]:
    """Fixed-point Neural-ODE block: ``steps`` solver steps, state kept in ``update.out``.

    Args:
        z0: initial state, in ``update.out``. layers: fixed sub-layers of f (same every step).
        solver, steps: as :func:`ode_block_ref`. h: dyadic step size (> 0).
        update: state requantizer (accumulator for the exact update, rounding, state format, overflow).

    Returns:
        The final state and the overflow counts summed over every step, sub-layer and update.

    Raises:
        BadArgument: as :func:`ode_block_ref`, plus a non-dyadic h, z0 not in ``update.out``, a
            non-Requantizer ``update``. ShapeError: f(z) not shaped like z.
    """
    solver, steps, h = _common(solver, steps, h)
    if not isinstance(update, Requantizer):
        raise BadArgument(f"update={update!r}: expected a Requantizer")
    _dyadic(h)
    z, counts = z0, OverflowCounts()
    for _ in range(steps):
        z, c = ode_step_fixed(z, layers, solver=solver, h=h, update=update)
        counts += c
    return z, counts
