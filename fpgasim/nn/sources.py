"""Every way to name a network, resolved to a graph: a zoo name, fpgasim's network YAML, an ONNX file.

Owns :class:`GraphSpec` (the node list of ``network.graph`` in an experiment and of a network
file), :func:`graph_from_section` (a node list → Graph, each graph error located at its node in
the YAML), :func:`load_network_file` (``schema: 1`` + ``network:``), and :func:`load_network`,
which ``fpgasim network`` uses to accept any of the three forms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpgasim.config import SCHEMA_KEY, PosInt, Str, YamlDocument, config_class, read_versioned, validate
from fpgasim.config.yaml_source import KeyPath
from fpgasim.errors import BadArgument, ConfigError
from fpgasim.nn._checks import known_names
from fpgasim.nn.evaluate import NodeWeights
from fpgasim.nn.graph import Graph, GraphError, NodeSpec
from fpgasim.nn import onnx as onnx_import
from fpgasim.nn.zoo import ZOO, zoo_graph

__all__ = ["GraphSpec", "NetworkFile", "LoadedNetwork", "graph_from_section", "load_network_file", "load_network"]

_RESERVED_NODE_KEYS = ("name", "op", "inputs")


@config_class
class GraphSpec:
    """A network written out as a graph: nodes with ``name``, ``op``, ``inputs`` and the op's
    attributes (docs/graph.md); an ``op: input`` node carries its per-sample ``shape``."""

    #: the network's name (default: the experiment's, or the file's stem).
    name: Str | None = None
    #: nodes in any order; each a mapping {name, op, inputs, ...attributes}.
    nodes: tuple[dict[Str, Any], ...]


@config_class
class NetworkSection(GraphSpec):
    """The ``network:`` of a network file: a :class:`GraphSpec` plus its batch."""

    #: samples per inference.
    batch: PosInt = 1


@config_class
class NetworkFile:
    """A network file: ``schema: 1`` and ``network:``."""

    network: NetworkSection


def graph_from_section(doc: YamlDocument, at: KeyPath, section: GraphSpec, *, name: str, batch: int) -> Graph:
    """Build the graph of a node list found at key path ``at`` of ``doc``.

    Raises:
        ConfigError: the graph error, located at the offending node and key.
    """
    specs = []
    for node in section.nodes:
        attrs = {key: value for key, value in node.items() if key not in _RESERVED_NODE_KEYS}
        inputs = node.get("inputs", ())
        specs.append(NodeSpec(name=node.get("name", ""), op=node.get("op", ""),
                              inputs=tuple(inputs) if isinstance(inputs, (list, tuple)) else inputs, attrs=attrs))
    try:
        return Graph.build(name=section.name or name, batch=batch, specs=specs)
    except GraphError as exc:
        path = at + ("nodes",)
        if exc.node_index is not None:
            path += (exc.node_index,)
            if exc.key:
                path += (exc.key.removeprefix("attrs.").split("[")[0],)
        raise ConfigError([doc.problem(path, str(exc))]) from None


def load_network_file(path: str | Path) -> Graph:
    """The graph of a network file (``schema: 1``, ``network: {name, batch, nodes}``).

    Raises:
        ConfigError: every schema problem at once (file:line:column, key path, closest key),
            then the first graph error located at its node.
    """
    doc = read_versioned(path, versions=(1,))
    body = YamlDocument(file=doc.file, data={k: v for k, v in doc.data.items() if k != SCHEMA_KEY}, places=doc.places)
    section = validate(body, NetworkFile).network
    return graph_from_section(doc, ("network",), section, name=Path(path).stem, batch=section.batch)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedNetwork:
    """A network from any source.

    Attributes:
        graph: the graph IR. weights: imported weights (ONNX) or None (use synthetic weights).
        params: parameters, a shared ONNX initializer counted once.
        source: ``zoo``, ``file`` or ``onnx``.
    """

    graph: Graph
    weights: Mapping[str, NodeWeights] | None
    params: int
    source: str


def load_network(source: str | Path, *, batch: int = 1, input_shape: Sequence[int] | None = None) -> LoadedNetwork:
    """A zoo name, a network YAML (``.yaml``/``.yml``) or an ONNX file (``.onnx``) as a graph.

    Args:
        source: the zoo name or the file path.
        batch: batch of a zoo network (a file gives its own).
        input_shape: [N, C, H, W] for an ONNX model with dynamic dimensions.

    Raises:
        BadArgument: none of the three forms (lists the zoo names), or what the importer refuses.
        ConfigError: a bad network YAML.
    """
    text = str(source)
    if text in ZOO:
        graph = zoo_graph(text, batch=batch)
        return LoadedNetwork(graph=graph, weights=None, params=graph.params, source="zoo")
    suffix = Path(text).suffix.lower()
    if suffix == ".onnx":
        imported = onnx_import.import_onnx(text, input_shape=input_shape)
        return LoadedNetwork(graph=imported.graph, weights=imported.weights, params=imported.params, source="onnx")
    if suffix in (".yaml", ".yml"):
        graph = load_network_file(text)
        return LoadedNetwork(graph=graph, weights=None, params=graph.params, source="file")
    raise BadArgument(f"network {text!r}: expected a zoo name, a .yaml network file or an .onnx model; zoo names "
                      f"{known_names(text, ZOO)}")
