"""Cited hardware documents: every number in ``boards/*.yaml`` names its source.

Owns: the citation pass run before typed validation, and :func:`load_cited`, the loader
shared by board, link-type and DSP-type documents.

Citation rules (a document's ``sources`` map defines the source ids, e.g. ``S1: "UG1182"``):

* a leaf may be written ``{value: 2520, source: S3, verified: false, note: "..."}``;
* a mapping may carry ``source: S9`` (and ``verified: false``), which then covers every
  number below it that does not name its own source;
* ``source`` is one id, several ids separated by commas/spaces, or a list of ids.

Every number (int or float, not bool) outside ``sources`` must be covered, and every id must
exist in ``sources``; otherwise the pass reports a :class:`~fpgasim.errors.Problem` with the
file, line, column and key path. The pass returns plain data (wrappers replaced by their
values, ``source``/``verified`` keys removed) plus the citation of every number.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fpgasim.config import SCHEMA_KEY, KeyPath, YamlDocument, format_key_path, read_versioned, validate
from fpgasim.errors import ConfigError, Problem

__all__ = ["Citations", "cite_pass", "load_cited", "SOURCES_KEY"]

T = TypeVar("T")

#: The key of the source map: source id → citation text.
SOURCES_KEY = "sources"
_WRAPPER_KEYS = frozenset({"value", "source", "verified", "note"})
_ID_SPLIT = re.compile(r"[,\s]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Citations:
    """Where each number of a document comes from.

    Attributes:
        by_path: dotted key path → source ids, for every number in the document.
        unverified: key paths of numbers marked ``verified: false``.
    """

    by_path: dict[str, tuple[str, ...]]
    unverified: tuple[str, ...]


class _Pass:
    def __init__(self, doc: YamlDocument, source_ids: set[str], skip: set[KeyPath]):
        self.doc = doc
        self.skip = skip
        self.source_ids = source_ids
        self.problems: list[Problem] = []
        self.by_path: dict[str, tuple[str, ...]] = {}
        self.unverified: list[str] = []

    def ids(self, raw: Any, path: KeyPath) -> tuple[str, ...] | None:
        if isinstance(raw, str):
            parts = [p for p in _ID_SPLIT.split(raw) if p]
        elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
            parts = list(raw)
        else:
            self.problems.append(self.doc.problem(path, f"source must be a source id or a list of ids; got {raw!r}"))
            return None
        if not parts:
            self.problems.append(self.doc.problem(path, "source is empty; expected a source id"))
            return None
        for part in parts:
            if part not in self.source_ids:
                known = ", ".join(sorted(self.source_ids)) or "none"
                self.problems.append(self.doc.problem(
                    path, f"unknown source id {part!r}; ids defined in `{SOURCES_KEY}`: {known}"))
        return tuple(parts)

    def verified(self, raw: Any, path: KeyPath) -> bool:
        if not isinstance(raw, bool):
            self.problems.append(self.doc.problem(path, f"verified must be true or false; got {raw!r}"))
            return True
        return raw

    def walk(self, data: Any, path: KeyPath, inherited: tuple[str, ...] | None, verified: bool) -> Any:
        if path in self.skip:
            return data
        if isinstance(data, dict) and "value" in data:
            return self.leaf(data, path, inherited, verified)
        if isinstance(data, dict):
            own, own_verified = inherited, verified
            if "source" in data:
                own = self.ids(data["source"], path + ("source",)) or inherited
            if "verified" in data:
                own_verified = verified and self.verified(data["verified"], path + ("verified",))
            return {key: self.walk(value, path + (key,), own, own_verified)
                    for key, value in data.items() if key not in ("source", "verified")}
        if isinstance(data, list):
            return [self.walk(item, path + (index,), inherited, verified) for index, item in enumerate(data)]
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            self.number(data, path, inherited, verified)
        return data

    def leaf(self, data: dict, path: KeyPath, inherited: tuple[str, ...] | None, verified: bool) -> Any:
        extra = sorted(set(data) - _WRAPPER_KEYS)
        for key in extra:
            close = difflib.get_close_matches(key, sorted(_WRAPPER_KEYS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            self.problems.append(self.doc.problem(
                path + (key,), f"unknown key {key!r} in a cited value; {hint}"
                f"known keys: {', '.join(sorted(_WRAPPER_KEYS))}"))
        value = data["value"]
        if isinstance(value, (dict, list)):
            self.problems.append(self.doc.problem(path + ("value",), "a cited value must be a number or text, "
                                                  "not a mapping or list"))
            return value
        ids = self.ids(data["source"], path + ("source",)) if "source" in data else inherited
        if "verified" in data:
            verified = verified and self.verified(data["verified"], path + ("verified",))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.number(value, path, ids, verified)
        return value

    def number(self, value: float, path: KeyPath, ids: tuple[str, ...] | None, verified: bool) -> None:
        key = format_key_path(path)
        if ids is None:
            name = str(path[-1]) if path else "value"
            self.problems.append(self.doc.problem(
                path, f"hardware number {value!r} has no source; write `{name}: {{value: {value!r}, "
                f"source: S1}}` or give an enclosing mapping a `source:`"))
            return
        self.by_path[key] = ids
        if not verified:
            self.unverified.append(key)


def cite_pass(doc: YamlDocument, *, sources_at: KeyPath) -> tuple[Any, Citations, list[Problem]]:
    """Check and strip citations of a parsed document.

    Args:
        doc: the parsed document (top level is a mapping).
        sources_at: key path of the ``sources`` map, e.g. ``("board", "sources")``.

    Returns:
        ``(plain data, citations, problems)``; the ``sources`` map and ``schema`` are kept as is.
    """
    holder: Any = doc.data
    for part in sources_at:
        holder = holder.get(part) if isinstance(holder, dict) else None
    source_ids = {str(key) for key in holder} if isinstance(holder, dict) else set()
    run = _Pass(doc, source_ids, skip={tuple(sources_at), (SCHEMA_KEY,)})
    data = run.walk(doc.data, (), None, True)
    return data, Citations(by_path=run.by_path, unverified=tuple(run.unverified)), run.problems


def load_cited(
    path: str | Path,
    model: type[T],
    *,
    sources_at: KeyPath,
    inject: Callable[[Any, Citations], None] | None = None,
    checks: Iterable[Callable[[T, YamlDocument], Iterable[Problem]]] = (),
    versions: tuple[int, ...] = (1,),
) -> tuple[T, Citations]:
    """Read a cited hardware document: schema → citations → typed validation → checks.

    Args:
        path: the YAML file.
        model: the config class of the whole document (without ``schema``).
        sources_at: key path of the ``sources`` map.
        inject: optional hook that adds derived keys (e.g. the citations) to the plain data.
        checks: cross-field rules run on the validated object.
        versions: accepted ``schema:`` versions.

    Returns:
        The validated object and its citations.

    Raises:
        ConfigError: every problem found (citations and field types together), with places.
    """
    doc = read_versioned(path, versions=versions)
    data, citations, problems = cite_pass(doc, sources_at=sources_at)
    body = {key: value for key, value in data.items() if key != SCHEMA_KEY}
    if inject is not None:
        inject(body, citations)
    try:
        obj = validate(YamlDocument(file=doc.file, data=body, places=doc.places), model)
    except ConfigError as exc:
        merged = sorted([*problems, *exc.problems], key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(merged) from None
    problems += [problem for check in checks for problem in check(obj, doc)]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return obj, citations
