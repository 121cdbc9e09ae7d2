"""DSP slice types: multiplier widths and the DSP cost of one MAC per precision.

Owns: the typed ``boards/dsp_types.yaml`` document (``schema: 1``, top-level ``dsp_types:``
and ``sources:``) and :meth:`DspType.dsp_per_mac`, which the kernel resource models use.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from fpgasim.config import PosFloat, PosInt, Str, YamlDocument, config_class
from fpgasim.errors import BadArgument, Problem
from fpgasim.hw._cited import load_cited
from fpgasim.hw.board import DspTypeName

__all__ = ["Precision", "DspCosts", "DspType", "DspTypesDocument", "load_dsp_types"]


class Precision(StrEnum):
    """Arithmetic precision of a MAC."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    FP16 = "fp16"
    FP32 = "fp32"


@config_class
class DspCosts:
    """DSP slices per MAC/cycle by precision (0.5 = two MACs packed in one slice)."""

    int8: PosFloat
    int16: PosFloat
    int32: PosFloat
    fp16: PosFloat
    fp32: PosFloat


@config_class
class DspType:
    """One DSP primitive."""

    #: multiplier input widths (two's complement), bits.
    mult_a_bits: PosInt
    mult_b_bits: PosInt
    #: post-adder / accumulator width, bits.
    acc_bits: PosInt
    #: pre-adder width, bits.
    preadder_bits: PosInt
    dsp_per_mac_by_precision: DspCosts

    def dsp_per_mac(self, precision: str) -> float:
        """DSP slices needed for one MAC per cycle at ``precision``.

        Args:
            precision: one of ``int8, int16, int32, fp16, fp32``.

        Returns:
            Slices per MAC (may be fractional, e.g. 0.5 for packed int8 on DSP48E2).

        Raises:
            BadArgument: an unknown precision.
        """
        allowed = [p.value for p in Precision]
        if not isinstance(precision, str) or precision not in allowed:
            raise BadArgument(f"precision must be one of {', '.join(allowed)}; got {precision!r}")
        return float(getattr(self.dsp_per_mac_by_precision, precision))


@config_class
class DspTypesDocument:
    dsp_types: dict[DspTypeName, DspType]
    sources: dict[Str, Str]


def _all_types(obj: DspTypesDocument, doc: YamlDocument) -> Iterable[Problem]:
    missing = [name.value for name in DspTypeName if name not in obj.dsp_types]
    if missing:
        yield doc.problem(("dsp_types",), f"missing DSP types: {', '.join(missing)}")


def load_dsp_types(path: str | Path | None = None) -> dict[str, DspType]:
    """Load the DSP-type library.

    Args:
        path: a DSP-types YAML file; default ``dsp_types.yaml`` in the boards directory.

    Returns:
        DSP type name (``"DSP48E1"``, ``"DSP48E2"``) → :class:`DspType`.

    Raises:
        ConfigError: every problem in the file, with places.
    """
    if path is None:
        from fpgasim.hw.library import boards_dir

        path = boards_dir() / "dsp_types.yaml"
    document, _ = load_cited(path, DspTypesDocument, sources_at=("sources",), checks=(_all_types,))
    return {str(name): value for name, value in document.dsp_types.items()}
