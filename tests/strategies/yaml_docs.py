"""Hypothesis strategies for YAML documents: valid ones, and ones with exactly one known mistake.

``Sample`` is a small config class with every field type the loaders use (positive int,
non-negative float, fraction, text, enum-like text, nested mapping, list of mappings, optional
key). ``valid_samples()`` draws plain data it accepts; ``broken_samples()`` draws one mistake
and says where it is and which message it must produce; ``hostile_texts()`` draws YAML text
that must be refused as a whole (junk bytes, python tags, non-mappings, bad ``schema:``);
``alias_bombs()`` draws billion-laughs documents; ``leaf_paths(data)`` and ``with_leaf(data, path, value)`` mutate any document.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml
from hypothesis import strategies as st

from fpgasim.config import Fraction, NonNegFloat, PosInt, Str, config_class

__all__ = [
    "Sample", "SampleInner", "Mistake", "valid_samples", "broken_samples", "hostile_texts", "alias_bombs",
    "leaf_paths", "with_leaf", "dump", "typo_of",
]


@config_class
class SampleInner:
    count: PosInt
    rate_mhz: NonNegFloat


@config_class
class Sample:
    name: Str
    inner: SampleInner
    items: tuple[SampleInner, ...] = ()
    share: Fraction = 0.5


#: Required keys of ``Sample`` by parent path (what a "missing key" mistake may delete).
REQUIRED = {(): ("name", "inner"), ("inner",): ("count", "rate_mhz")}


def dump(data: Any) -> str:
    """YAML text of plain data (block style, key order kept)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@st.composite
def _inner(draw) -> dict[str, Any]:
    return {"count": draw(st.integers(1, 10**6)),
            "rate_mhz": draw(st.floats(0, 1e4, allow_nan=False, allow_infinity=False))}


@st.composite
def valid_samples(draw) -> dict[str, Any]:
    """A document ``Sample`` accepts (``schema: 1`` included)."""
    data: dict[str, Any] = {"schema": 1, "name": draw(names), "inner": draw(_inner())}
    if draw(st.booleans()):
        data["items"] = draw(st.lists(_inner(), max_size=3))
    if draw(st.booleans()):
        data["share"] = draw(st.floats(0.001, 1.0))
    return data


def typo_of(key: str) -> st.SearchStrategy[str]:
    """A misspelling of ``key`` close enough for a did-you-mean hint (one letter doubled/dropped)."""
    return st.integers(0, len(key) - 1).flatmap(
        lambda i: st.sampled_from([key[: i + 1] + key[i:], key[:i] + key[i + 1:] if len(key) > 3 else key + "s"]))


@dataclass(frozen=True)
class Mistake:
    """One mistake in a document: the text, the key path of the problem and a message regex."""

    text: str
    key_path: str
    message: str


@st.composite
def broken_samples(draw) -> Mistake:
    """A valid ``Sample`` document with exactly one mistake."""
    data = draw(valid_samples())
    kind = draw(st.sampled_from(["wrong_type", "not_positive", "negative", "missing", "unknown", "big_float",
                                 "fraction"]))
    if kind == "wrong_type":
        key, bad = draw(st.sampled_from([("name", 5), ("name", [1]), ("inner", "text"), ("inner", [])]))
        data[key] = bad
        message = r"^Input should be a valid string" if key == "name" else r"^expected a mapping"
        return Mistake(text=dump(data), key_path=key, message=message)
    if kind == "not_positive":
        data["inner"]["count"] = draw(st.integers(-10**6, 0))
        return Mistake(text=dump(data), key_path="inner.count", message=r"^Input should be greater than 0; got int")
    if kind == "negative":
        data["inner"]["rate_mhz"] = -draw(st.floats(1e-3, 1e6))
        return Mistake(text=dump(data), key_path="inner.rate_mhz",
                       message=r"^Input should be greater than or equal to 0; got float")
    if kind == "big_float":
        text = dump(data).replace(f"rate_mhz: {data['inner']['rate_mhz']!r}", "rate_mhz: 1.0e+400", 1)
        if "1.0e+400" not in text:  # yaml may print the float differently; set it structurally
            data["inner"]["rate_mhz"] = float("inf")
            text = dump(data)
        return Mistake(text=text, key_path="inner.rate_mhz", message=r"finite number")
    if kind == "fraction":
        data["share"] = draw(st.one_of(st.floats(1.0001, 1e9), st.floats(-1e9, 0.0)))
        return Mistake(text=dump(data), key_path="share", message=r"^Input should be (greater|less) than")
    if kind == "missing":
        parent = draw(st.sampled_from(sorted(REQUIRED)))
        key = draw(st.sampled_from(REQUIRED[parent]))
        target = data
        for part in parent:
            target = target[part]
        del target[key]
        return Mistake(text=dump(data), key_path=".".join(parent),
                       message=rf"^missing key '{key}' \(found: ")
    parent = draw(st.sampled_from([(), ("inner",)]))
    target = data
    for part in parent:
        target = target[part]
    known = ("name", "inner", "items", "share") if not parent else ("count", "rate_mhz")
    key = draw(st.sampled_from(known))
    typo = draw(typo_of(key).filter(lambda t: t not in known))
    target[typo] = target.get(key, 1)
    return Mistake(text=dump(data), key_path=".".join((*parent, typo)),
                   message=rf"^unknown key '{typo}'; did you mean '[a-z_]+'\? known keys: ")


def _laughs(levels: int, fanout: int) -> str:
    lines = ["l0: &l0 [lol]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fanout)}]")
    return "schema: 1\n" + "\n".join(lines) + "\n"


def _merge_laughs(levels: int, fanout: int) -> str:
    lines = ["m0: &m0 {x: 1, y: 2}"]
    for level in range(1, levels):
        lines.append(f"m{level}: &m{level} {{<<: [{', '.join([f'*m{level - 1}'] * fanout)}]}}")
    return "schema: 1\n" + "\n".join(lines) + "\n"


@st.composite
def hostile_texts(draw) -> bytes:
    """Bytes that no loader may accept and that must never raise anything but ConfigError."""
    kind = draw(st.sampled_from(["junk", "python_tag", "non_mapping", "schema", "unclosed", "tab_indent",
                                 "duplicate"]))
    if kind == "junk":
        return draw(st.binary(min_size=1, max_size=200).filter(lambda b: b.strip() != b""))
    if kind == "python_tag":
        tag = draw(st.sampled_from(["!!python/object/apply:os.system ['true']", "!!python/name:os.system",
                                    "!!python/object:builtins.dict {}", "!!binary aGVsbG8=", "!custom 3"]))
        return f"schema: 1\nname: {tag}\ninner: {{count: 1, rate_mhz: 1}}\n".encode()
    if kind == "non_mapping":
        return draw(st.sampled_from([b"- 1\n- 2\n", b"42\n", b"just text\n", b"null\n", b"~\n", b"[]\n"]))
    if kind == "schema":
        header = draw(st.sampled_from(["", "schema: 2\n", "schema: true\n", "schema: '1'\n", "schema: null\n",
                                       "schema: [1]\n", "schema: 1.5\n"]))
        return (header + "name: a\ninner: {count: 1, rate_mhz: 1}\n").encode()
    if kind == "unclosed":
        return b"schema: 1\nname: [a, b\ninner: {count: 1\n"
    if kind == "tab_indent":
        return b"schema: 1\ninner:\n\tcount: 1\n"
    return b"schema: 1\nname: a\nname: b\ninner: {count: 1, rate_mhz: 1}\n"


@st.composite
def alias_bombs(draw) -> bytes:
    """"Billion laughs" documents (plain aliases or nested '<<' merges) expanding past 10**7 nodes."""
    make = draw(st.sampled_from([_laughs, _merge_laughs]))
    return make(draw(st.integers(9, 12)), draw(st.integers(8, 10))).encode()


def leaf_paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Key paths of every scalar leaf of plain data."""
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in leaf_paths(value, path + (key,))]
    if isinstance(data, list):
        return [p for index, value in enumerate(data) for p in leaf_paths(value, path + (index,))]
    return [path]


def with_leaf(data: Any, path: tuple, value: Any) -> Any:
    """A deep copy of ``data`` with the leaf at ``path`` replaced by ``value``."""
    result = copy.deepcopy(data)
    target = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result
