"""Writing result files so that an interrupted run leaves nothing half-written or stale.

Owns: :func:`check_output_dir` — the checks a command runs on its output folder before it plans
or simulates (a path fpgasim can create and write, no files it did not write); :class:`OutputSet`
— files are rendered to temporary names in the output directory and renamed into place only after
every file rendered successfully (``os.replace`` is atomic on POSIX), replacing the whole set of
files the previous fpgasim run wrote there (listed in :data:`MANIFEST_NAME`); and
:func:`canonical_json` — the one JSON encoding fpgasim writes (``sort_keys=True``, a
``schema_version``, no wall-clock or host data).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.study.common.interrupts import deferred_interrupts

__all__ = ["OutputSet", "canonical_json", "check_output_dir", "RESULTS_SCHEMA_VERSION", "MANIFEST_NAME", "LEGACY_OUTPUTS"]

#: Version of the ``results.json`` layout documented in the README.
RESULTS_SCHEMA_VERSION = 1

#: The hidden file listing what the last fpgasim run wrote into a folder (the files the next run replaces).
MANIFEST_NAME = ".fpgasim-outputs.json"

#: Temporary files are ``.<name>.<random>.tmp``; any left in the folder are from a killed run.
_TEMP_PREFIX, _TEMP_SUFFIX = ".", ".tmp"

#: Foreign files named in a refusal before "and N more".
_NAMED_MAX = 10


def canonical_json(document: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2, allow_nan=False) + "\n"


def _is_temp(name: str) -> bool:
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)


#: What fpgasim wrote before folders carried a manifest: a folder with these names and no
#: manifest is an earlier fpgasim run's, replaced like any other (not refused as foreign).
LEGACY_OUTPUTS = frozenset({"results.json", "report.md", "layers.csv", "nodes.csv", "trace.json", "timeline.png",
                            "speedup.png", "accuracy.png", "points.csv", "points.json", "pareto.csv", "pareto.png"})


def _previous(directory: Path) -> set[str]:
    """Names the last fpgasim run in ``directory`` wrote: its manifest's list; without a manifest,
    the :data:`LEGACY_OUTPUTS` present (an unreadable manifest: nothing)."""
    manifest = directory / MANIFEST_NAME
    if not manifest.exists():
        try:
            return {entry.name for entry in os.scandir(directory) if entry.name in LEGACY_OUTPUTS}
        except OSError:
            return set()
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {name for name in files
            if isinstance(name, str) and name == Path(name).name and name not in {"", ".", ".."}}


def _existing_ancestor(directory: Path) -> Path:
    """``directory`` or its nearest ancestor that exists (as anything)."""
    path = directory.absolute()
    while not os.path.lexists(path):
        path = path.parent
    return path


def _refuse(directory: Path, problem: str) -> BadArgument:
    return BadArgument(f"output folder {directory}: {problem}")


def check_output_dir(directory: Path, *, force: bool = False, keep: Collection[str] = ()) -> None:
    """Refuse, before anything is planned or simulated, a folder this run could not write or
    would mix with files fpgasim did not write there. Creates nothing.

    Args:
        directory: the output folder (need not exist).
        force: accept files fpgasim did not write (they are left as they are).
        keep: names in the folder that belong to the caller besides the output set (a sweep's store).

    Raises:
        BadArgument: the path (or a parent) is a file, a name is longer than the file system allows,
            the folder cannot be written, or it holds files no fpgasim run wrote (each named).
    """
    directory = Path(directory)
    ancestor = _existing_ancestor(directory)
    if not ancestor.is_dir():
        what = "exists and is not a directory" if ancestor == directory.absolute() else f"{ancestor} is a file"
        raise _refuse(directory, f"{what}; expected a directory (pass another --out)")
    name_max = os.pathconf(ancestor, "PC_NAME_MAX")
    for part in directory.absolute().relative_to(ancestor).parts:
        if len(os.fsencode(part)) > name_max:
            raise _refuse(directory, f"the name {part[:40]!r}... has {len(os.fsencode(part))} bytes; this file system "
                                     f"allows at most {name_max}")
    try:
        handle, probe = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}fpgasim-probe.", suffix=_TEMP_SUFFIX, dir=ancestor)
    except OSError as exc:
        raise _refuse(directory, f"cannot write into {ancestor} ({exc.strerror})") from None
    os.close(handle)
    os.unlink(probe)
    if force or ancestor != directory.absolute():
        return
    ours = _previous(directory) | set(keep) | {MANIFEST_NAME}
    try:
        entries = [entry.name for entry in os.scandir(directory)]
    except OSError as exc:
        raise _refuse(directory, f"cannot list it ({exc.strerror})") from None
    foreign = sorted(name for name in entries if name not in ours and not _is_temp(name))
    if foreign:
        named = ", ".join(foreign[:_NAMED_MAX]) + (f" and {len(foreign) - _NAMED_MAX} more"
                                                    if len(foreign) > _NAMED_MAX else "")
        raise _refuse(directory, f"holds files no fpgasim run wrote there: {named}. A run replaces the folder's "
                                 "output set; move them away, pass another --out, or pass --force to write beside them")


class OutputSet:
    """Collects files to write into one directory and writes them all or none.

    The committed set replaces the previous fpgasim run's set: files that run wrote and this one
    does not are removed, and temporary files a killed run left behind are deleted. Files fpgasim
    did not write are left alone (:func:`check_output_dir` refuses them before a command runs).

    Usage::

        out = OutputSet(Path("results/alexnet"))
        out.add_text("report.md", markdown)
        out.add_writer("timeline.png", lambda path: figure.savefig(path))
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

    def add_npz(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Queue an uncompressed ``.npz`` of ``arrays`` (``numpy.load`` reads it), deterministic: members
        in name order, a fixed timestamp, no pickled objects."""
        self._writers.append((name, lambda path: _write_npz(path, arrays)))

    def add_writer(self, name: str, write: Callable[[Path], None]) -> None:
        """Queue a file produced by ``write(path)`` (e.g. matplotlib's ``savefig``)."""
        self._writers.append((name, write))

    def names(self) -> list[str]:
        """File names queued so far, in order."""
        return [name for name, _ in self._writers]

    def commit(self) -> list[Path]:
        """Render every file to a temporary name, then rename all into place and remove the
        previous run's files that this set does not replace.

        Every byte is written before the first rename; the manifest is first widened to the old
        and new names, so that a run killed at any moment leaves only files a manifest lists
        (and temporary files, which the next commit deletes).

        Returns:
            The final paths.

        Raises:
            BadArgument: a file could not be written (disk full, permissions); the folder is as it was.
            Whatever a writer raises; then no temporary file is left and no final file changes.
        """
        directory = self.directory
        staged: list[tuple[Path, Path]] = []
        state, current = "the folder is as it was", MANIFEST_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for entry in os.scandir(directory):
                if _is_temp(entry.name) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
            previous = _previous(directory)
            names = self.names()
            manifests = [(MANIFEST_NAME, _manifest_writer(previous | set(names))),
                         (MANIFEST_NAME, _manifest_writer(set(names)))]
            umask = os.umask(0)
            os.umask(umask)
            for current, write in [*self._writers, *manifests]:
                handle, temp_name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{current}.", suffix=_TEMP_SUFFIX,
                                                     dir=directory)
                os.close(handle)
                temp = Path(temp_name)
                staged.append((temp, directory / current))
                write(temp)
                temp.chmod(0o666 & ~umask)  # mkstemp creates 0600; results are ordinary files
            *files, widened, final = staged
            state = "the folder holds part of the new files; run again"
            with deferred_interrupts(kept=f"the files in {directory} are complete"):
                # a signal must not leave a mix of old and new files
                os.replace(*widened)
                for temp, path in files:
                    current = path.name
                    os.replace(temp, path)
                for current in sorted(previous - set(names)):
                    (directory / current).unlink(missing_ok=True)
                current = MANIFEST_NAME
                os.replace(*final)
        except OSError as exc:
            raise _refuse(directory, f"cannot write {current} ({exc.strerror}); {state}") from None
        finally:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
        return [path for _, path in files]


#: The zip timestamp of every ``.npz`` member (zip's earliest date): no wall clock in outputs.
_NPZ_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_NPZ_DATE_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def _manifest_writer(names: set[str]) -> Callable[[Path], None]:
    document = {"schema_version": RESULTS_SCHEMA_VERSION, "written_by": "fpgasim", "files": sorted(names)}
    return lambda path: path.write_text(canonical_json(document), encoding="utf-8")
