"""The crash-safe, resumable result store of a sweep (one SQLite file).

Owns: :class:`SweepStore` and the manifest. Layout (``<out>/store.sqlite``):

- ``manifest(name TEXT PRIMARY KEY, value TEXT)``: JSON values — ``fpgasim_version``,
  ``git_commit`` (or null), ``python``, ``packages`` (name → version), ``inputs`` (file →
  SHA-256 of the parsed content of every YAML the sweep reads, so comments and formatting do
  not count; ``inputs_digest: content`` says so — a store without it hashed the files' bytes and
  is compared by bytes), ``sweep`` (the sweep's name), and once a run has written its reports ``finished``
  (what that run reported, so that re-running a finished sweep reads nothing else).
- ``results(point_key, fidelity, idx, overrides, status, objectives, layers, message, seconds)``,
  primary key ``(point_key, fidelity)``; JSON text columns.

Durability: the database runs in WAL mode with ``synchronous=FULL`` and every result is its own
committed transaction, so a result is on disk when :meth:`SweepStore.put` returns. A process
killed at any instant (``kill -9``) loses at most the results not yet put; SQLite rolls back
a half-written transaction on the next open, so the file is never corrupt. Re-running the same
sweep skips every ``(point, fidelity)`` already stored. A store made from different inputs (any
YAML hash or the fpgasim version differs) is refused, naming what changed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import fpgasim
from fpgasim.config import read_yaml
from fpgasim.errors import BadArgument
from fpgasim.study.sweep.evaluate import Fidelity, PointResult, Status

__all__ = ["SweepStore", "build_manifest", "content_sha256", "file_sha256", "STORE_NAME", "MANIFEST_PACKAGES"]

#: File name of the store inside the sweep's output directory.
STORE_NAME = "store.sqlite"
#: Packages whose versions the manifest records.
MANIFEST_PACKAGES = ("numpy", "numba", "simpy", "pyyaml", "pydantic", "matplotlib", "rich", "distributed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
  point_key TEXT NOT NULL, fidelity TEXT NOT NULL, idx INTEGER NOT NULL, overrides TEXT NOT NULL,
  status TEXT NOT NULL, objectives TEXT NOT NULL, layers TEXT NOT NULL, message TEXT NOT NULL,
  seconds REAL NOT NULL, PRIMARY KEY (point_key, fidelity));
"""


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes (how stores written before ``inputs_digest`` hashed
    their inputs)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def content_sha256(path: Path) -> str:
    """SHA-256 hex digest of a YAML file's parsed content (canonical JSON: comments, key order,
    quoting and layout do not change it).

    Raises:
        ConfigError: the file does not read or parse (as :func:`~fpgasim.config.read_yaml`).
    """
    text = json.dumps(read_yaml(path).data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _git_commit() -> str | None:
    root = Path(fpgasim.__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def build_manifest(*, sweep_name: str, inputs: dict[str, str]) -> dict[str, Any]:
    """The manifest of a sweep run: versions and the content hash of every input file."""
    packages = {}
    for name in MANIFEST_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"fpgasim_version": fpgasim.__version__, "git_commit": _git_commit(),
            "python": platform.python_version(), "packages": packages, "inputs": dict(sorted(inputs.items())),
            "inputs_digest": "content", "sweep": sweep_name}


class SweepStore:
    """One sweep's results on disk; open with :meth:`open`, close with :meth:`close`."""

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path = path
        self._db = connection

    @staticmethod
    def check(path: Path, manifest: dict[str, Any], *, byte_inputs: dict[str, str] | None = None
              ) -> dict[str, Any] | None:
        """Refuse a store at ``path`` made from other inputs, without creating or changing it.

        Returns:
            The ``finished`` record of the store's last complete run (None: no store yet, or no
            run of these inputs has finished).

        Raises:
            BadArgument: as :meth:`open`.
        """
        path = Path(path)
        if not path.is_file():
            return None
        db = _connect(path, read_only=True)
        try:
            stored = _manifest(path, db)
        finally:
            db.close()
        _refuse_changes(path, stored, manifest, byte_inputs)
        return stored.get("finished")

    @classmethod
    def open(cls, path: Path, manifest: dict[str, Any], *, byte_inputs: dict[str, str] | None = None) -> SweepStore:
        """Open (or create) the store at ``path`` for a run with ``manifest`` (``byte_inputs``:
        :func:`file_sha256` of the same inputs, to compare a store that hashed bytes).

        Raises:
            BadArgument: the store cannot be opened, was made from different inputs or another
                fpgasim version (names each difference and how to start a new store), or is not a
                sweep store.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = _connect(path, read_only=False)
        except (OSError, sqlite3.Error) as exc:
            raise BadArgument(f"{path}: cannot open the sweep store ({exc}); pass another --out directory") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _not_a_store(path, exc) from None
        stored = _manifest(path, db)
        if stored:
            try:
                _refuse_changes(path, stored, manifest, byte_inputs)
            except BadArgument:
                db.close()
                raise
            db.execute("BEGIN IMMEDIATE")
            for name in ("git_commit", "packages", "python"):
                db.execute("INSERT OR REPLACE INTO manifest VALUES (?, ?)", (f"last_{name}", json.dumps(manifest[name])))
            db.execute("DELETE FROM manifest WHERE name = 'finished'")
            db.execute("COMMIT")
        else:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)",
                           [(name, json.dumps(value, sort_keys=True)) for name, value in manifest.items()])
            db.execute("COMMIT")
        return cls(path, db)

    def mark_finished(self, record: dict[str, Any]) -> None:
        """Record that a run finished and wrote its reports (what :meth:`check` returns)."""
        self._db.execute("INSERT OR REPLACE INTO manifest VALUES ('finished', ?)", (json.dumps(record, sort_keys=True),))

    def manifest(self) -> dict[str, Any]:
        """The stored manifest."""
        return {name: json.loads(value) for name, value in self._db.execute("SELECT name, value FROM manifest")}

    def done(self, fidelity: Fidelity) -> set[str]:
        """Keys of the points already stored for ``fidelity``."""
        rows = self._db.execute("SELECT point_key FROM results WHERE fidelity = ?", (fidelity.value,))
        return {key for (key,) in rows}

    def put(self, result: PointResult, overrides: dict[str, Any]) -> None:
        """Store one result durably (its own committed transaction)."""
        self._db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.key, result.fidelity.value, result.index, json.dumps(overrides, sort_keys=True),
             result.status.value, json.dumps(result.objectives, sort_keys=True),
             json.dumps(result.layers, sort_keys=True), result.message, float(result.seconds)))

    def results(self, fidelity: Fidelity, keys: set[str] | None = None) -> list[PointResult]:
        """Stored results of ``fidelity`` (only ``keys`` if given), sorted by point index."""
        rows = self._db.execute("SELECT point_key, idx, status, objectives, layers, message, seconds FROM results "
                                "WHERE fidelity = ? ORDER BY idx, point_key", (fidelity.value,))
        return [PointResult(index=idx, key=key, fidelity=fidelity, status=Status(status),
                            objectives=json.loads(objectives), layers=json.loads(layers), message=message,
                            seconds=seconds)
                for key, idx, status, objectives, layers, message, seconds in rows if keys is None or key in keys]

    def count(self) -> int:
        """Number of stored results (all fidelities)."""
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection; read-only ones open the file as immutable, creating no ``-shm``/``-wal`` file
    (results still in a killed run's WAL are not seen: :meth:`SweepStore.open` checks again)."""
    if read_only:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return sqlite3.connect(str(path), timeout=30, isolation_level=None)


def _not_a_store(path: Path, exc: Exception) -> BadArgument:
    return BadArgument(f"{path}: not a readable sweep store ({exc}); expected an SQLite file written by "
                       "fpgasim sweep (move it away to start a new store)")


def _manifest(path: Path, db: sqlite3.Connection) -> dict[str, Any]:
    """The stored manifest ({} for a new store)."""
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "manifest" not in tables:
            return {}
        return {name: json.loads(value) for name, value in db.execute("SELECT name, value FROM manifest")}
    except sqlite3.DatabaseError as exc:
        db.close()
        raise _not_a_store(path, exc) from None


def _refuse_changes(path: Path, stored: dict[str, Any], manifest: dict[str, Any],
                    byte_inputs: dict[str, str] | None) -> None:
    if stored and stored.get("inputs_digest") != manifest["inputs_digest"] and byte_inputs is not None:
        manifest = {**manifest, "inputs": byte_inputs}
    changes = _differences(stored, manifest) if stored else []
    if changes:
        raise BadArgument(f"{path} holds results of different inputs: " + "; ".join(changes)
                          + ". Refusing to mix them: pass another --out directory or delete the store "
                            "to start a new one")


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    changes = []
    if stored.get("fpgasim_version") != current["fpgasim_version"]:
        changes.append(f"fpgasim version {stored.get('fpgasim_version')} -> {current['fpgasim_version']}")
    if stored.get("sweep") != current["sweep"]:
        changes.append(f"sweep name {stored.get('sweep')!r} -> {current['sweep']!r}")
    old, new = stored.get("inputs", {}), current["inputs"]
    for name in sorted(set(old) | set(new)):
        if name not in new:
            changes.append(f"{name} is no longer used")
        elif name not in old:
            changes.append(f"{name} is a new input")
        elif old[name] != new[name]:
            changes.append(f"{name} changed (sha256 of its content {old[name][:12]} -> {new[name][:12]})")
    return changes
