"""Loading kernel design YAML files (``kernels/*.yaml``): dispatch on ``kernel.type``.

Owns: :func:`load_kernel` (path → a validated, frozen design object of the right type),
:data:`KERNELS_DIR` and :func:`kernel_path` (a bare name resolves to ``kernels/<name>.yaml``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fpgasim.config import config_class, load, read_yaml
from fpgasim.errors import ConfigError
from fpgasim.kernels.design import KernelType
from fpgasim.kernels.dsc_ode import DscOdeDesign, dsc_ode_checks
from fpgasim.kernels.tiled_conv import TiledConvDesign, tiled_conv_checks

__all__ = ["KernelDesign", "KERNELS_DIR", "kernel_path", "load_kernel", "load_kernel_file"]

#: Any kernel design object.
KernelDesign = TiledConvDesign | DscOdeDesign

#: The repository's kernel library; override with the FPGASIM_KERNELS_DIR environment variable.
KERNELS_DIR = Path(os.environ.get("FPGASIM_KERNELS_DIR", Path(__file__).resolve().parents[2] / "kernels"))


@config_class
class _TiledConvDocument:
    kernel: TiledConvDesign


@config_class
class _DscOdeDocument:
    kernel: DscOdeDesign


_MODELS: dict[KernelType, tuple[type, Any]] = {
    KernelType.TILED_CONV: (_TiledConvDocument, tiled_conv_checks),
    KernelType.DSC_ODE: (_DscOdeDocument, dsc_ode_checks),
}


def kernel_path(name_or_path: str | Path) -> Path:
    """``superlip-conv-64x7-fp32`` → ``KERNELS_DIR/superlip-conv-64x7-fp32.yaml``; a path stays."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    return KERNELS_DIR / f"{text}.yaml"


def load_kernel(name_or_path: str | Path) -> KernelDesign:
    """Read a kernel design YAML and return its typed, frozen design object.

    Args:
        name_or_path: a file path, or the name of a file in :data:`KERNELS_DIR`.

    Returns:
        A :class:`TiledConvDesign` or :class:`DscOdeDesign`.

    Raises:
        ConfigError: file missing or unreadable, wrong ``schema:``, missing or unknown
            ``kernel.type``, bad fields, or failed cross-field checks — every problem with its
            file, line and key path.
    """
    return load_kernel_file(kernel_path(name_or_path))


def load_kernel_file(path: str | Path) -> KernelDesign:
    """Load the kernel design YAML at ``path`` (no name lookup; see :func:`load_kernel`).

    Raises:
        ConfigError: as :func:`load_kernel`.
    """
    doc = read_yaml(path)
    data = doc.data
    kernel = data.get("kernel") if isinstance(data, dict) else None
    if isinstance(kernel, dict) and data.get("schema") == 1:
        allowed = ", ".join(kind.value for kind in KernelType)
        if "type" not in kernel:
            raise ConfigError([doc.problem(("kernel",), f"missing key 'type' (expected one of: {allowed})")])
        try:
            kind = KernelType(kernel["type"])
        except ValueError:
            raise ConfigError([doc.problem(("kernel", "type"), f"unknown kernel type {kernel['type']!r}; "
                                           f"expected one of: {allowed}")]) from None
        model, check = _MODELS[kind]
        return load(path, model, checks=[check]).kernel
    # No kernel section or a bad schema: let the generic loader name the problem.
    return load(path, _TiledConvDocument, checks=[tiled_conv_checks]).kernel

