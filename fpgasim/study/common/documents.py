"""Study documents given as data (a sweep point built in memory) and the dotted keys into them.

Owns: :func:`check_data` (the ``schema: 1`` check and schema validation of an in-memory
document, with the line/column of every value that came from a file), and the two ways a
sweep key ``a.b.c`` is checked: against a config schema (:func:`schema_key_problem`) or against
a document's data (:func:`data_key_problem`, :func:`data_lookup`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fpgasim.config import YamlDocument, validate
from fpgasim.config.yaml_source import KeyPath
from fpgasim.errors import ConfigError, Problem

__all__ = ["check_data", "schema_key_problem", "data_key_problem", "data_lookup"]

T = TypeVar("T")


def _data_places(data: object, path: KeyPath, places: dict[KeyPath, tuple[int, int]],
                 known: dict[KeyPath, tuple[int, int]]) -> None:
    if path in known:
        places[path] = known[path]
    if isinstance(data, dict):
        for key, value in data.items():
            _data_places(value, path + (key,), places, known)


def check_data(data: Any, model: type[T], *, file: str, places: dict[KeyPath, tuple[int, int]] | None = None,
               checks: Iterable[Callable[[T, YamlDocument], list[Problem]]] = ()) -> tuple[T, YamlDocument]:
    """Validate a whole document given as data (``{"schema": 1, <kind>: {...}}``) against ``model``.

    Args:
        data: the document. file: its name in messages (e.g. ``sweep.yaml (point 17: ...)``).
        places: optional key path → (line, column) of the values, for messages.
        checks: cross-field checks run on the validated object, as :func:`fpgasim.config.load` runs them.

    Returns:
        ``(validated object, the document)``.

    Raises:
        ConfigError: every problem, each with its key path.
    """
    located: dict[KeyPath, tuple[int, int]] = {}
    _data_places(data, (), located, dict(places or {}))
    doc = YamlDocument(file=file, data=data, places=located)
    if not isinstance(data, dict) or data.get("schema") != 1:
        raise ConfigError([doc.problem(("schema",), "expected `schema: 1`")])
    body = {key: value for key, value in data.items() if key != "schema"}
    obj = validate(YamlDocument(file=file, data=body, places=located), model)
    problems = [problem for check in checks for problem in check(obj, doc)]
    if problems:
        raise ConfigError(problems)
    return obj, doc


def _hint_keys(tp: Any) -> dict[str, Any] | None:
    """Field name → type of a config dataclass (None when ``tp`` is not one)."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            tp = members[0]
        else:
            break
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return {f.name: hints[f.name] for f in dataclasses.fields(tp)}
    return None


def schema_key_problem(key: str, model: type, *, mappings: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """Why ``key`` names no leaf of the config class ``model`` (None when it does).

    Args:
        key: ``<root>.a.b``; its first part is the field of ``model`` that holds the document.
        model: the document's config class (e.g. ``ExperimentFile``).
        mappings: free mappings in the schema (dotted key → the keys allowed under it).
    """
    parts = key.split(".")
    fields: dict[str, Any] | None = _hint_keys(model)
    for depth, part in enumerate(parts):
        if fields is None:
            return f"unknown key {key!r}: {'.'.join(parts[:depth])} has no sub-keys"
        if part not in fields:
            return f"unknown key {key!r}: {'.'.join(parts[:depth])} has keys: {', '.join(fields)}"
        allowed = (mappings or {}).get(".".join(parts[:depth + 1]))
        fields = {name: int for name in allowed} if allowed is not None else _hint_keys(fields[part])
    if fields is not None:
        return f"key {key!r} is a mapping; sweep one of its keys: {', '.join(fields)}"
    return None


def data_key_problem(key: str, data: Any, what: str) -> str | None:
    """Why ``key`` names no value of ``data`` (None when it does); ``what`` names ``data`` in messages."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            return f"unknown key {key!r}: {'.'.join(parts[:depth])} has no sub-keys"
        if part not in node:
            known = ", ".join(k for k in node if k != "schema")
            return f"unknown key {key!r}: {'.'.join(parts[:depth]) or what} has keys: {known}"
        node = node[part]
    return None


def data_lookup(data: Any, key: str) -> Any:
    """The value at the dotted ``key`` of ``data``."""
    node = data
    for part in key.split("."):
        node = node[part]
    return node
