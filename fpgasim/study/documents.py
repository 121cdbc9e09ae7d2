"""Which loader reads which YAML document: the registry behind ``fpgasim validate``.

Owns: :data:`DOCUMENT_KINDS` (top-level key → loader) and :func:`document_kind`, which picks
the kind of a file from its top-level keys. Library files (boards, link and DSP types, kernels,
network files) are loaded; a study document is loaded and planned (what ``fpgasim run`` refuses, this refuses,
without simulating); a sweep is loaded, expanded and every point checked (what ``fpgasim
sweep`` refuses before it writes). Studies come from :data:`~fpgasim.study.registry.STUDIES`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpgasim.config import SCHEMA_KEY, read_yaml
from fpgasim.errors import ConfigError
from fpgasim.hw import load_board_file, load_compute_devices, load_dsp_types, load_link_types
from fpgasim.hw.platform import load_platform_file
from fpgasim.kernels.loader import load_kernel_file
from fpgasim.mapping.device_fit import load_device_fits
from fpgasim.nn.sources import load_network_file
from fpgasim.study.protocol import Study
from fpgasim.study.registry import STUDIES
from fpgasim.study.sweep.sweep import prepare_sweep

__all__ = ["DOCUMENT_KINDS", "document_kind", "load_document", "plan_file"]


def plan_file(study: Study, path: Path) -> Any:
    """Load and plan a study document: every refusal of ``run``, without simulating."""
    return study.plan(study.load(path))


#: Top-level key of a document → function that loads (and fully checks) such a file.
DOCUMENT_KINDS: dict[str, Callable[[Path], Any]] = {
    "board": load_board_file,
    "link_types": load_link_types,
    "dsp_types": load_dsp_types,
    "compute_devices": load_compute_devices,
    "device_fits": load_device_fits,
    "kernel": load_kernel_file,
    "platform": load_platform_file,
    "network": load_network_file,
    "sweep": prepare_sweep,
    **{kind: functools.partial(plan_file, study) for kind, study in STUDIES.items()},
}

_SHARED_KEYS = frozenset({SCHEMA_KEY, "sources"})


def document_kind(path: str | Path) -> str:
    """The kind of the document at ``path``: the first of its top-level keys that is registered.

    Raises:
        ConfigError: the file cannot be read, is not a mapping, or has no registered key.
    """
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "expected a mapping at the top level with one of the keys: "
                                           + ", ".join(sorted(DOCUMENT_KINDS)))])
    for key in doc.data:
        if key in DOCUMENT_KINDS:
            return key
    found = ", ".join(k for k in doc.data if k not in _SHARED_KEYS) or "nothing"
    raise ConfigError([doc.problem((), f"unknown document kind (top-level keys: {found}); expected one "
                                       f"of: {', '.join(sorted(DOCUMENT_KINDS))}")])


def load_document(path: str | Path) -> tuple[str, Any]:
    """Load ``path`` with the loader of its kind.

    Returns:
        ``(kind, loaded object)``.

    Raises:
        ConfigError: every problem in the file.
    """
    kind = document_kind(path)
    return kind, DOCUMENT_KINDS[kind](Path(path))
