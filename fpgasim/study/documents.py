"""Which loader reads which YAML document: the registry behind ``fpgasim validate``.

Owns: :data:`DOCUMENT_KINDS` (top-level key → loader) and :func:`document_kind`, which picks
the kind of a file from its top-level keys. Other layers register a kind by adding one line
to :data:`DOCUMENT_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpgasim.config import SCHEMA_KEY, read_yaml
from fpgasim.errors import ConfigError
from fpgasim.study.dsodenet.config import load_ode_study
from fpgasim.study.experiment.experiment import load_experiment
from fpgasim.study.sweep.spec import load_sweep
from fpgasim.hw import load_board_file, load_compute_devices, load_dsp_types, load_link_types
from fpgasim.kernels.loader import load_kernel_file

__all__ = ["DOCUMENT_KINDS", "document_kind", "load_document"]

#: Top-level key of a document → function that loads (and fully checks) such a file.
DOCUMENT_KINDS: dict[str, Callable[[Path], Any]] = {
    "board": load_board_file,
    "link_types": load_link_types,
    "dsp_types": load_dsp_types,
    "compute_devices": load_compute_devices,
    "kernel": load_kernel_file,
    "experiment": load_experiment,
    "ode_study": load_ode_study,
    "sweep": load_sweep,
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
