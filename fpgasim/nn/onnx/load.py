"""Reading an ONNX file safely: every structural problem is one :class:`~fpgasim.errors.BadArgument`.

Owns :func:`load_model`: parse (a truncated or non-ONNX file is refused), check the opset (11 to
the installed ``onnx``'s current), refuse external-data paths that leave the model's folder, then
check the graph's structure — duplicate node names, dangling input names, cycles — before
``onnx.checker`` sees it, so that each problem gets a message naming the node.
"""

from __future__ import annotations

import heapq
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import load_external_data_for_model, uses_external_data

from fpgasim.errors import BadArgument

__all__ = ["MIN_OPSET", "load_model", "node_names"]

#: The oldest default-domain opset the importer reads (torch.onnx exports 11 to 18 today).
MIN_OPSET = 11


def node_names(graph: onnx.GraphProto) -> list[str]:
    """The name every node is known by: its own, or ``<OpType>_<index>`` when it has none."""
    return [node.name or f"{node.op_type}_{i}" for i, node in enumerate(graph.node)]


def _parse(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise BadArgument(f"ONNX model {str(path)!r}: no such file")
    try:
        model = onnx.load_model_from_string(path.read_bytes())
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise BadArgument(f"ONNX model {str(path)!r}: not an ONNX model or truncated ({exc})") from None
    if model.ir_version == 0 or not model.graph.node:
        raise BadArgument(f"ONNX model {str(path)!r}: not an ONNX model (no IR version or no graph nodes); "
                          "expected a file written by onnx.save / torch.onnx.export")
    return model


def _opset(path: Path, model: onnx.ModelProto) -> int:
    current = onnx.defs.onnx_opset_version()
    versions = [entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")]
    if not versions or not MIN_OPSET <= versions[0] <= current:
        found = versions[0] if versions else "none"
        raise BadArgument(f"ONNX model {str(path)!r}: opset {found}: expected {MIN_OPSET} to {current}")
    return versions[0]


def _external_data(path: Path, model: onnx.ModelProto) -> None:
    folder = path.parent.resolve()
    for tensor in model.graph.initializer:
        if not uses_external_data(tensor):
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise BadArgument(f"ONNX model {str(path)!r}: initializer {tensor.name!r} stores its data at "
                              f"{location!r}, outside the model's folder {str(folder)!r}")
        if not target.is_file():
            raise BadArgument(f"ONNX model {str(path)!r}: initializer {tensor.name!r}: external data file "
                              f"{location!r} not found next to the model")
    load_external_data_for_model(model, str(folder))


def _structure(path: Path, graph: onnx.GraphProto) -> None:
    """Duplicate node names, dangling inputs and cycles, each naming the node."""
    names = node_names(graph)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise BadArgument(f"ONNX model {str(path)!r}: duplicate node name {name!r} (nodes {seen[name]} and {i})")
        seen[name] = i
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    known = {v.name for v in graph.input} | {t.name for t in graph.initializer} | set(producer)
    for i, node in enumerate(graph.node):
        for j, value in enumerate(node.input):
            if value and value not in known:
                raise BadArgument(f"ONNX node {names[i]!r} ({node.op_type}) input[{j}] {value!r}: no graph input, "
                                  "initializer or node output has that name")
    for output in graph.output:
        if output.name not in known:
            raise BadArgument(f"ONNX model {str(path)!r}: graph output {output.name!r} is produced by no node")
    _check_acyclic(path, graph, names, producer)


def _check_acyclic(path: Path, graph: onnx.GraphProto, names: list[str], producer: dict[str, int]) -> None:
    reads = [{producer[v] for v in node.input if v in producer} for node in graph.node]
    pending = [len(r) for r in reads]
    readers: list[list[int]] = [[] for _ in reads]
    for i, r in enumerate(reads):
        for p in r:
            readers[p].append(i)
    ready = [i for i, count in enumerate(pending) if count == 0]
    heapq.heapify(ready)
    done = 0
    while ready:
        done += 1
        for reader in readers[heapq.heappop(ready)]:
            pending[reader] -= 1
            if pending[reader] == 0:
                heapq.heappush(ready, reader)
    if done < len(reads):
        stuck = {i for i, count in enumerate(pending) if count}
        path_: list[int] = []
        current = min(stuck)
        while current not in path_:
            path_.append(current)
            current = min(p for p in reads[current] if p in stuck)
        loop = path_[path_.index(current):][::-1]
        cycle = " -> ".join(names[i] for i in (*loop, loop[0]))
        raise BadArgument(f"ONNX model {str(path)!r}: the graph has a cycle {cycle}")


def load_model(path: str | Path) -> tuple[onnx.ModelProto, int]:
    """The checked model at ``path`` (external data loaded) and its default-domain opset.

    Raises:
        BadArgument: no such file, not ONNX or truncated, an opset outside 11..current, external
            data outside the model's folder or missing, a duplicate node name, a dangling input, a
            cycle, or what ``onnx.checker`` refuses.
    """
    path = Path(path)
    model = _parse(path)
    opset = _opset(path, model)
    _external_data(path, model)
    _structure(path, model.graph)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BadArgument(f"ONNX model {str(path)!r}: the onnx checker refuses it: {first}") from None
    return model, opset
