"""``fpgasim network SOURCE``: a network's nodes, shapes, MACs, parameters and engines (or JSON).

SOURCE is a zoo name, a network YAML or an ``.onnx`` model (:func:`fpgasim.nn.sources.load_network`).
Composite blocks are shown expanded, as the engines run them. ``macs`` counts conv and fully
connected multiply-accumulates per sample, as torchvision and the papers do; pooling, element-wise
and activation work is the separate ``elementwise_ops`` column. ``engine`` is the FPGA engine of
:data:`fpgasim.mapping.graph_plan.FPGA_ENGINES` that runs the op, or ``software`` when only a
CPU/GPU device can (sigmoid, tanh and SiLU: the vector unit when the design has a sigmoid table). A
pooling node also says whether it pools in ceil mode (``ceil_mode`` in the
JSON, ``pool (ceil)`` in the table's op column); an attention product (scores, attend) its window
(``window`` [height, width] or null and ``dilated`` in the JSON; ``scores (window 7x7)`` for block
windows, ``scores (grid 7x7)`` for dilated ones in the table).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run", "network_document", "format_table"]

JSON_SCHEMA_VERSION = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``network`` sub-command."""
    parser = subparsers.add_parser(
        "network", help="list a network's nodes: shapes, MACs, parameters, engines",
        description="SOURCE is a zoo name, a network YAML (schema 1, network:) or an ONNX model. One row per "
                    "node (composite blocks expanded) and the totals; MACs are per sample.")
    parser.add_argument("source", metavar="SOURCE", help="zoo name, network .yaml or .onnx file")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON document")
    parser.add_argument("--batch", type=int, default=1, help="batch of a zoo network (default 1)")
    parser.add_argument("--input-shape", type=int, nargs="+", metavar="DIM",
                        help="N C H W of an ONNX model with dynamic dimensions")
    parser.set_defaults(func=run)


def _engine(op: Any) -> str:
    from fpgasim.mapping.graph_plan import FPGA_ENGINES, TABLE_OPS, Engine

    if op in TABLE_OPS:
        return f"{Engine.VECTOR} (with a {TABLE_OPS[op].replace('_', ' ')}) or {Engine.SOFTWARE}"
    return next((str(engine) for engine, ops in FPGA_ENGINES.items() if op in ops), str(Engine.SOFTWARE))


def _op_attrs(node: Any) -> dict[str, Any]:
    """The attributes a node's row shows beside its op: a pool's ceil mode, attention's window."""
    from fpgasim.nn import Op

    if node.op is Op.POOL:
        return {"ceil_mode": node.attrs["ceil_mode"]}
    if node.op in (Op.SCORES, Op.ATTEND):
        window = node.attrs["window"]
        return {"window": None if window is None else list(window), "dilated": node.attrs["dilated"]}
    return {}


def _op_cell(node: dict[str, Any]) -> str:
    """The table's op column: ``pool (ceil)``, ``scores (window 7x7)``, ``scores (grid 7x7)``."""
    if node.get("ceil_mode"):
        return f"{node['op']} (ceil)"
    if node.get("window"):
        return f"{node['op']} ({'grid' if node['dilated'] else 'window'} {'x'.join(map(str, node['window']))})"
    return node["op"]


def network_document(loaded: Any) -> dict[str, Any]:
    """The ``--json`` document: ``nodes`` [{name, op, inputs, output_shape, macs, params, elementwise_ops,
    engine}, ``ceil_mode`` for a pool, ``window`` and ``dilated`` for scores and attend] and ``totals``
    {macs, params, elementwise_ops, nodes}."""
    graph = loaded.graph.expand()
    nodes = [{"name": node.name, "op": str(node.op), "inputs": list(node.inputs), "output_shape": list(node.out_shape),
              "macs": node.macs, "params": node.params, "elementwise_ops": node.elementwise_ops,
              "engine": _engine(node.op), **_op_attrs(node)}
             for node in graph.nodes]
    return {"schema_version": JSON_SCHEMA_VERSION, "network": graph.name, "source": loaded.source,
            "batch": graph.batch, "nodes": nodes,
            "totals": {"macs": graph.macs, "params": loaded.params, "elementwise_ops": graph.elementwise_ops,
                       "nodes": len(nodes)}}


def format_table(document: dict[str, Any]) -> str:
    """Render the document as a fixed-width table with a totals line."""
    header = ["name", "op", "inputs", "output", "MACs", "params", "elementwise", "engine"]
    body = [[n["name"], _op_cell(n), ", ".join(n["inputs"]) or "-", "x".join(map(str, n["output_shape"])),
             f"{n['macs']:,}", f"{n['params']:,}", f"{n['elementwise_ops']:,}", n["engine"]]
            for n in document["nodes"]]
    totals = document["totals"]
    footer = [f"total ({totals['nodes']} nodes)", "", "", "", f"{totals['macs']:,}", f"{totals['params']:,}",
              f"{totals['elementwise_ops']:,}", ""]
    widths = [max(len(line[i]) for line in [header, *body, footer]) for i in range(len(header))]
    numeric = {4, 5, 6}

    def fmt(line: list[str]) -> str:
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    rule = fmt(["-" * w for w in widths])
    title = f"{document['network']} ({document['source']}, batch {document['batch']}; MACs and params per sample)"
    return "\n".join([title, fmt(header), rule, *map(fmt, body), rule, fmt(footer)]) + "\n"


def run(args: argparse.Namespace) -> int:
    """Load the network from any source and print its table (or JSON)."""
    from fpgasim.nn.sources import load_network

    loaded = load_network(args.source, batch=args.batch, input_shape=args.input_shape)
    document = network_document(loaded)
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(format_table(document))
    return 0
