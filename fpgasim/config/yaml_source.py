"""Safe YAML reading that remembers where every key and value came from.

Owns: turning a YAML file into plain Python data (dict/list/str/int/float/bool/None) plus a
map from key path to (line, column), so that every later error can name its place.
Only PyYAML's *safe* machinery is used; non-standard tags (``!!python/object`` …) are refused,
duplicate keys are refused (PyYAML would silently keep the last one) and alias expansion is
bounded (a "billion laughs" document is refused, not expanded).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fpgasim.errors import ConfigError, Problem

__all__ = ["KeyPath", "YamlDocument", "read_yaml", "parse_yaml", "format_key_path", "MAX_NODES"]

#: Upper bound on YAML nodes visited while expanding a document (aliases count each time).
MAX_NODES = 200_000
#: Upper bound on a YAML file's size in bytes; larger inputs are refused before parsing.
MAX_FILE_BYTES = 8 * 1024 * 1024

KeyPath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STANDARD_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


def format_key_path(path: KeyPath) -> str:
    """Render ``("board", "memory", 0, "id")`` as ``board.memory[0].id``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed YAML document: its data and the place of every key path.

    Attributes:
        file: the path as the user gave it (used in messages).
        data: plain Python data.
        places: key path → (line, column), both 1-based; the place of a mapping key is the
            key itself, the place of a sequence item is the item.
    """

    file: str
    data: Any
    places: dict[KeyPath, tuple[int, int]]

    def place_of(self, path: KeyPath) -> tuple[int | None, int | None]:
        """Line and column of the longest known prefix of ``path`` (None, None if unknown)."""
        for end in range(len(path), -1, -1):
            found = self.places.get(tuple(path[:end]))
            if found is not None:
                return found
        return (None, None)

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Build a :class:`Problem` located at ``path`` in this document."""
        line, column = self.place_of(path)
        return Problem(
            file=self.file, line=line, column=column, key_path=format_key_path(path), message=message
        )


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse one YAML file safely.

    Raises:
        ConfigError: the file is missing, unreadable, too large, not UTF-8, or not valid YAML.
    """
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="", message="file not found")]) from None
    except OSError as exc:
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="", message=f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="",
                                   message=f"file is {len(raw)} bytes; at most {MAX_FILE_BYTES} allowed")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="",
                                   message=f"not UTF-8 text (byte {exc.start})")]) from None
    return parse_yaml(text, file=file)


def parse_yaml(text: str, *, file: str = "<string>") -> YamlDocument:
    """Parse YAML text safely into a :class:`YamlDocument` (see :func:`read_yaml`)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        reason = exc.problem or str(exc)
        raise ConfigError([Problem(file=file, line=line, column=column, key_path="",
                                   message=f"invalid YAML: {reason}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="",
                                   message=f"invalid YAML: {exc}")]) from None
    except (ValueError, RecursionError) as exc:  # e.g. control characters, absurd nesting
        raise ConfigError([Problem(file=file, line=None, column=None, key_path="",
                                   message=f"invalid YAML: {exc}")]) from None
    if node is None:
        raise ConfigError([Problem(file=file, line=1, column=1, key_path="", message="empty document")])
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return YamlDocument(file=file, data=data, places=builder.places)


class _Builder:
    """Turns composed YAML nodes into plain data, recording places and problems."""

    def __init__(self, file: str):
        self.file = file
        self.places: dict[KeyPath, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.nodes_seen = 0
        self.constructor = yaml.SafeLoader("")

    def _problem(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(file=self.file, line=node.start_mark.line + 1,
                                     column=node.start_mark.column + 1,
                                     key_path=format_key_path(path), message=message))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.nodes_seen += 1
        if self.nodes_seen > MAX_NODES:
            if self.nodes_seen == MAX_NODES + 1:
                self._problem(node, path, f"document expands to more than {MAX_NODES} nodes "
                                          "(too many aliases?)")
            return None
        self.places.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _STANDARD_TAGS:
            self._problem(node, path, f"tag {node.tag!r} is not allowed; only plain YAML "
                                      "mappings, lists, strings, numbers, booleans and null")
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (index,)) for index, item in enumerate(node.value)]
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self._problem(node, path, f"cannot read scalar {node.value!r}: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        # '<<' merge keys are resolved here rather than by PyYAML's flatten_mapping, which
        # copies merged pairs eagerly (a nested-merge "billion laughs" exhausts memory before
        # MAX_NODES is checked) and leaves them as duplicates of keys that override them.
        merged: dict[str, Any] = {}
        own = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.update(self._merge(value_node, path))
            else:
                own.append((key_node, value_node))
        result: dict[str, Any] = {}
        for key_node, value_node in own:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _STANDARD_TAGS:
                self._problem(key_node, path, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            key_path = path + (key,)
            if key in result:
                self._problem(key_node, key_path, f"duplicate key {key!r}")
                continue
            self.places[key_path] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, key_path)
        return {**{k: v for k, v in merged.items() if k not in result}, **result}

    def _merge(self, node: yaml.Node, path: KeyPath) -> dict[str, Any]:
        """Mappings named by a '<<' key; with a list, earlier mappings take precedence."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        combined: dict[str, Any] = {}
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self._problem(source, path, "bad merge key: '<<' needs a mapping or a list of mappings")
                continue
            built = self.build(source, path)
            if isinstance(built, dict):
                combined.update(built)
        return combined
