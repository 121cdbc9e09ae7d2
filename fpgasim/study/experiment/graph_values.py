"""The values a functional graph run takes in and gives out.

Owns: :func:`read_inputs` (``fpgasim run --input``: a user's float tensors from ``.npy``/``.npz``,
checked against the network's inputs before anything is simulated), :func:`float_agreement` (the
run's dequantised outputs, and the same network evaluated at :data:`AGREEMENT_BITS`, against
fpgasim's float64 reference: logit SNR and top-1 agreement per word width) and
:func:`output_arrays` (``outputs.npz`` of ``--save-outputs``). Quantising the inputs to the
design's format is the executor's (:class:`~fpgasim.sim.executor.CarriedValues`).
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.fixedpoint import FixedFormat, quantize
from fpgasim.nn.evaluate import NodeWeights, agreement, evaluate_fixed, evaluate_ref
from fpgasim.nn.graph import Graph
from fpgasim.ops.lookup import LookupTable
from fpgasim.sim.executor import Numerics

__all__ = ["AGREEMENT_BITS", "WidthAgreement", "read_inputs", "float_agreement", "output_arrays"]

#: Word widths (bits) at which a functional graph run also evaluates the network (node by node,
#: fpgasim.nn.evaluate.evaluate_fixed) to report its agreement with the float64 reference, besides
#: the design's own width: a common 8-bit deployment, 12, and the 16 of the shipped designs. Each
#: keeps the design's integer bits, rounding, overflow and accumulator; only fraction bits change.
AGREEMENT_BITS = (8, 12, 16)


@dataclass(frozen=True, slots=True, kw_only=True)
class WidthAgreement:
    """One network output at one word width against the float64 reference.

    Attributes:
        output: the output node. word_bits, int_bits: the format. emulated: this width is the
        run's own (the emulator's outputs), else the network evaluated node by node.
        snr_db: 10·log10(Σref²/Σ(out−ref)²); None when the two are identical.
        top1: fraction of samples whose arg-max agrees.
    """

    output: str
    word_bits: int
    int_bits: int
    emulated: bool
    snr_db: float | None
    top1: float

    def row(self) -> dict[str, object]:
        """Its results.json entry."""
        return dataclasses.asdict(self)


def _refuse(path: Path, problem: str) -> BadArgument:
    return BadArgument(f"--input {path}: {problem}")


def _expected(graph: Graph) -> dict[str, tuple[int, ...]]:
    return {node.name: (graph.batch, *node.out_shape) for node in graph.inputs}


def _check_array(path: Path, label: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if array.dtype.kind not in "fiu":
        raise _refuse(path, f"{label} has dtype {array.dtype}; expected real numbers (float or integer)")
    if tuple(array.shape) != shape:
        raise _refuse(path, f"{label} has shape {list(array.shape)}; expected {list(shape)} (N, C, H, W: the batch, "
                            "then the network input's per-sample shape)")
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise _refuse(path, f"{label} holds {int(np.sum(~np.isfinite(values)))} values that are NaN or infinite")
    return values


def read_inputs(path: Path, graph: Graph) -> dict[str, np.ndarray]:
    """The user's float input of every graph input node, as float64 arrays (N, C, H, W).

    A ``.npy`` file holds the one input of a single-input network; a ``.npz`` file holds one array
    per input node, named after it. Nothing is unpickled.

    Raises:
        BadArgument: the file is missing, not a numpy file, or an array has the wrong names, shape
            or dtype, or non-finite values (the message names the file and the expected shapes).
    """
    path = Path(path)
    expected = _expected(graph)
    listed = ", ".join(f"{name!r} {list(shape)}" for name, shape in expected.items())
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise _refuse(path, "no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise _refuse(path, f"not a readable .npy/.npz file ({exc}); expected {listed}") from None
    if isinstance(loaded, np.ndarray):
        if len(expected) != 1:
            raise _refuse(path, f"one array, but the network has {len(expected)} inputs ({listed}); give an .npz "
                                "file with one array per input name")
        (name, shape), = expected.items()
        return {name: _check_array(path, "the array", loaded, shape)}
    with loaded:
        names = sorted(loaded.files)
        if names != sorted(expected):
            raise _refuse(path, f"arrays {names}; expected one per network input: {listed}")
        try:
            return {name: _check_array(path, f"array {name!r}", loaded[name], shape)
                    for name, shape in expected.items()}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise _refuse(path, f"an array cannot be read ({exc})") from None


def _snr(value: float) -> float | None:
    return None if value == float("inf") else round(value, 6)


def float_agreement(graph: Graph, inputs: Mapping[str, np.ndarray], weights: Mapping[str, NodeWeights],
                    numerics: Numerics, outputs: Mapping[str, np.ndarray],
                    tables: Mapping[str, LookupTable] | None = None) -> tuple[WidthAgreement, ...]:
    """Agreement of every network output with :func:`~fpgasim.nn.evaluate.evaluate_ref` on the
    same float inputs and weights: the run's dequantised ``outputs`` at the design's width, and
    the network evaluated at each other width of :data:`AGREEMENT_BITS` (fraction bits that the
    design's integer bits leave; widths not above them are skipped), with the run's sigmoid
    lookup ``tables`` (node name → table)."""
    reference = evaluate_ref(graph, inputs, weights)
    design = numerics.fmt
    rows = []
    for bits in sorted({*AGREEMENT_BITS, design.total_bits}):
        if bits <= design.int_bits:
            continue
        if bits == design.total_bits:
            got = dict(outputs)
        else:
            fmt = FixedFormat(total_bits=bits, int_bits=design.int_bits, signed=design.signed)
            requant = dataclasses.replace(numerics.requant, out=fmt)
            quantised = {name: quantize(values, fmt, rounding=requant.rounding, overflow=requant.overflow)[0]
                         for name, values in inputs.items()}
            fixed = evaluate_fixed(graph, quantised, weights, fmt=fmt, requant=requant, tables=tables)
            got = {name: fixed[name].to_float() for name in outputs}
        for name in outputs:
            match = agreement(reference[name], got[name])
            rows.append(WidthAgreement(output=name, word_bits=bits, int_bits=design.int_bits,
                                       emulated=bits == design.total_bits, snr_db=_snr(match.snr_db),
                                       top1=match.top1))
    return tuple(rows)


def output_arrays(outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``outputs.npz``'s arrays: each network output node's dequantised values, float64 (N, C, H, W)."""
    return {name: np.asarray(values, dtype=np.float64) for name, values in sorted(outputs.items())}
