"""ONNX import: a model file → the graph IR with its weights (:func:`import_onnx`).

Modules: :mod:`~fpgasim.nn.onnx.load` (reading and structural checks), :mod:`~fpgasim.nn.onnx.context`
(values and emitted nodes), :mod:`~fpgasim.nn.onnx.layout` (how an ONNX value lays out an IR
node's storage), :mod:`~fpgasim.nn.onnx.parsers` (one parser per op family, in :data:`PARSERS`),
:mod:`~fpgasim.nn.onnx.importer` (the walk). See docs/graph.md "ONNX import".

The names below load on first use (PEP 562): the ``onnx`` package takes 1–4 s to import, which
every ``fpgasim`` command would otherwise pay — and during which a Ctrl-C cannot be handled — even
when no ONNX model is read. Callers hold this module and call ``import_onnx`` through it.
"""

from importlib import import_module

__all__ = ["ImportedGraph", "import_onnx", "PARSERS", "FOLD_ONLY"]

_HOMES = {"ImportedGraph": "importer", "import_onnx": "importer", "PARSERS": "parsers", "FOLD_ONLY": "parsers"}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
