"""ONNX import: a model file → the graph IR with its weights (:func:`import_onnx`).

Modules: :mod:`~fpgasim.nn.onnx.load` (reading and structural checks), :mod:`~fpgasim.nn.onnx.context`
(values and emitted nodes), :mod:`~fpgasim.nn.onnx.parsers` (one parser per op family, in
:data:`PARSERS`), :mod:`~fpgasim.nn.onnx.importer` (the walk). See docs/graph.md "ONNX import".
"""

from fpgasim.nn.onnx.importer import ImportedGraph, import_onnx
from fpgasim.nn.onnx.parsers import FOLD_ONLY, PARSERS

__all__ = ["ImportedGraph", "import_onnx", "PARSERS", "FOLD_ONLY"]
