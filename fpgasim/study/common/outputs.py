"""Writing result files so that an interrupted run leaves nothing half-written.

Owns: :class:`OutputSet` — files are rendered to temporary names in the output directory
and renamed into place only after every file rendered successfully (``os.replace`` is atomic
on POSIX), and :func:`canonical_json` — the one JSON encoding fpgasim writes
(``sort_keys=True``, a ``schema_version``, no wall-clock or host data).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpgasim.study.common.interrupts import deferred_interrupts

__all__ = ["OutputSet", "canonical_json", "RESULTS_SCHEMA_VERSION"]

#: Version of the ``results.json`` layout documented in the README.
RESULTS_SCHEMA_VERSION = 1


def canonical_json(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n"


class OutputSet:
    """Collects files to write into one directory and writes them all or none.

    Usage::

        out = OutputSet(Path("results/alexnet"))
        out.add_text("report.md", markdown)
        out.add_bytes_writer("timeline.png", lambda path: figure.savefig(path))
        out.commit()     # every file appears, or (on any error) none does
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._writers: list[tuple[str, Callable[[Path], None]]] = []

    def add_text(self, name: str, text: str) -> None:
        """Queue a UTF-8 text file."""
        self._writers.append((name, lambda path: path.write_text(text, encoding="utf-8")))

    def add_json(self, name: str, document: dict[str, Any]) -> None:
        """Queue a canonical JSON file."""
        self.add_text(name, canonical_json(document))

    def add_writer(self, name: str, write: Callable[[Path], None]) -> None:
        """Queue a file produced by ``write(path)`` (e.g. matplotlib's ``savefig``)."""
        self._writers.append((name, write))

    def names(self) -> list[str]:
        """File names queued so far, in order."""
        return [name for name, _ in self._writers]

    def commit(self) -> list[Path]:
        """Render every file to a temporary name, then rename all into place.

        Returns:
            The final paths.

        Raises:
            Whatever a writer raises; then no temporary file is left and no final file changes.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        staged: list[tuple[Path, Path]] = []
        try:
            for name, write in self._writers:
                handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
                os.close(handle)
                temp = Path(temp_name)
                staged.append((temp, self.directory / name))
                write(temp)
                temp.chmod(0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
        except BaseException:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            raise
        with deferred_interrupts(kept=f"the files in {self.directory} are complete"):
            for temp, final in staged:  # a signal must not leave a mix of old and new files
                os.replace(temp, final)
        return [final for _, final in staged]
