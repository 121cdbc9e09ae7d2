"""Typed, validated, immutable configuration objects from YAML documents.

Owns: the field types every config class uses (``Int``, ``PosInt``, ``Float``, ``Fraction`` …),
the :func:`config_class` decorator (frozen, slotted, keyword-only dataclass that rejects
unknown keys), and :func:`load` — read YAML → check the schema version → validate every field
(collecting *all* problems, with file, line, column, key path, value and expectation) → run
cross-field checks → return the frozen object. Validation uses pydantic (a well-kept library
that already collects every error at once); this module only translates its errors into
fpgasim's :class:`~fpgasim.errors.Problem` with places from the YAML source.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, TypeAdapter, ValidationError, with_config

from fpgasim.config.yaml_source import KeyPath, YamlDocument, read_yaml
from fpgasim.errors import ConfigError, Problem

__all__ = [
    "Int", "PosInt", "NonNegInt", "Float", "PosFloat", "NonNegFloat", "Fraction", "Str", "DirName", "Bool",
    "config_class", "validate", "load", "read_versioned", "Check", "SCHEMA_KEY",
]

T = TypeVar("T")

#: The top-level key every fpgasim YAML document carries: its schema version.
SCHEMA_KEY = "schema"


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {type(value).__name__} {value!r}")
    return value


Int = StrictInt
PosInt = Annotated[StrictInt, Field(gt=0)]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
Float = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
PosFloat = Annotated[float, BeforeValidator(_number), Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, BeforeValidator(_number), Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, BeforeValidator(_number), Field(gt=0, le=1)]
Str = Annotated[StrictStr, Field(min_length=1)]
Bool = StrictBool

#: Longest folder name, in UTF-8 bytes (NAME_MAX of Linux and macOS file systems).
DIR_NAME_MAX_BYTES = 255


def _dir_name(value: str) -> str:
    """A name that becomes an output folder ``results/<name>``: exactly one path component."""
    bad = sorted({c for c in value if ord(c) < 32 or ord(c) == 127 or c in "/\\"}, key=ord)
    if bad or value in {".", ".."}:
        shown = ", ".join(repr(c) for c in bad) or repr(value)
        raise ValueError(f"{value!r} names the output folder results/<name>: {shown} not allowed; expected one "
                         "folder name without '/', '\\', control characters, '.' or '..'")
    if len(value.encode("utf-8")) > DIR_NAME_MAX_BYTES:
        raise ValueError(f"the name has {len(value.encode('utf-8'))} bytes; it names the output folder "
                         f"results/<name>, so at most {DIR_NAME_MAX_BYTES} bytes")
    return value


#: A study's name, which is also its output folder's name.
DirName = Annotated[Str, AfterValidator(_dir_name)]

#: A cross-field rule: receives the validated object and its document, returns problems.
Check = Callable[[Any, YamlDocument], Iterable[Problem]]


def config_class(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, slotted, keyword-only dataclass that rejects unknown keys."""
    data_cls = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
    return with_config(ConfigDict(extra="forbid"))(data_cls)


@functools.cache
def _adapter(model: type) -> TypeAdapter:
    """One pydantic validator per config class (building one costs more than validating)."""
    return TypeAdapter(model)


def validate(doc: YamlDocument, model: type[T], *, root: KeyPath = ()) -> T:
    """Validate ``doc.data`` (or the part at ``root``) against ``model``.

    Raises:
        ConfigError: with one :class:`Problem` per invalid field, all at once.
    """
    data: Any = doc.data
    for part in root:
        data = data[part]
    try:
        return _adapter(model).validate_python(data)
    except ValidationError as exc:
        problems = [_translate(doc, model, root, error) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(problems) from None


def load(
    path: str | Path,
    model: type[T],
    *,
    versions: tuple[int, ...] = (1,),
    checks: Iterable[Check] = (),
) -> T:
    """Read ``path``, check ``schema:``, validate against ``model``, run ``checks``.

    The document is a mapping whose ``schema`` key names its version; the remaining keys
    are the fields of ``model``.

    Raises:
        ConfigError: every problem found, each with its place in the file.
    """
    doc = read_versioned(path, versions=versions)
    body = {key: value for key, value in doc.data.items() if key != SCHEMA_KEY}
    obj = validate(YamlDocument(file=doc.file, data=body, places=doc.places), model)
    problems = [problem for check in checks for problem in check(obj, doc)]
    if problems:
        raise ConfigError(problems)
    return obj


def read_versioned(path: str | Path, *, versions: tuple[int, ...]) -> YamlDocument:
    """Read ``path`` and check it is a mapping whose ``schema:`` is one of ``versions``.

    Raises:
        ConfigError: unreadable, not a mapping, or a missing/unknown schema version.
    """
    doc = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), f"expected a mapping at the top level, got {_kind(doc.data)}")])
    version = doc.data.get(SCHEMA_KEY)
    if version not in versions or isinstance(version, bool):
        allowed = ", ".join(str(v) for v in versions)
        found = "missing" if SCHEMA_KEY not in doc.data else f"got {version!r}"
        raise ConfigError([doc.problem((SCHEMA_KEY,) if SCHEMA_KEY in doc.data else (),
                                       f"schema version {found}; expected `{SCHEMA_KEY}: {allowed}`")])
    return doc


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _translate(doc: YamlDocument, model: type, root: KeyPath, error: dict[str, Any]) -> Problem:
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    path = root + loc
    kind = error["type"]
    if kind in {"unexpected_keyword_argument", "extra_forbidden"}:
        key = str(loc[-1])
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return doc.problem(path, f"unknown key {key!r}{hint} known keys: {', '.join(known)}")
    if kind == "missing":
        parent = path[:-1]
        found = doc.data
        for part in loc[:-1]:
            found = found[part] if isinstance(found, (dict, list)) else None
        present = ", ".join(sorted(found)) if isinstance(found, dict) and found else "nothing"
        return doc.problem(parent, f"missing key {str(loc[-1])!r} (found: {present})")
    got = error.get("input")
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in {"dataclass_type", "model_type"}:
        message = "expected a mapping"
    if kind == "value_error":
        return doc.problem(path, message)
    return doc.problem(path, f"{message}; got {_kind(got)}")


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional layers down to the class that owns fields or items."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
            tp = next((m for m in members if dataclasses.is_dataclass(_unwrap(m)) or typing.get_origin(m)), members[0])
        else:
            return tp


def _known_keys(model: type, loc: tuple) -> list[str]:
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if dataclasses.is_dataclass(tp) and isinstance(part, str):
            hints = typing.get_type_hints(tp, include_extras=True)
            tp = hints.get(part, Any)
        else:
            args = typing.get_args(tp)
            tp = args[-1] if args else Any
            if tp is Ellipsis:
                tp = args[0]
    tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        return [f.name for f in dataclasses.fields(tp)]
    return []
