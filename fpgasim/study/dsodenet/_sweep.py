"""Sweeps whose base is an ODE study (``ode_study:``, docs/dsodenet.md) instead of an experiment.

Owns: turning one sweep point into a self-contained study document (kernel and board as
absolute paths), checking it with the study's own loader, and evaluating it: the fit of the
point's variant at the kernel's precision and the study's SimPy timing of one variant
(:func:`fpgasim.study.dsodenet.study.timing_table`). The variant is the first of
``ode_study.timing.variants`` (sweep it with lists such as ``[[odenet], [dsodenet-all]]``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

from fpgasim.errors import BadArgument, ConfigError, Problem
from fpgasim.study.dsodenet.study import fit_table, load_study_inputs, timing_table

__all__ = ["study_document", "check_study", "ode_objectives"]


def study_document(data: dict[str, Any], *, base_dir: Path, kernel_file: Path) -> dict[str, Any]:
    """The point's study document with ``kernel`` (and a board given as a path) made absolute."""
    doc = copy.deepcopy(data)
    body = doc["ode_study"]
    body["kernel"] = str(Path(kernel_file).resolve())
    board = body.get("board")
    if isinstance(board, str) and ("/" in board or board.endswith((".yaml", ".yml"))):
        body["board"] = str((base_dir / board).resolve())
    return doc


def _load(doc: dict[str, Any]):
    with tempfile.TemporaryDirectory(prefix="fpgasim-ode-") as folder:
        path = Path(folder) / "study.yaml"
        path.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        return load_study_inputs(path)


def check_study(doc: dict[str, Any], where: str) -> list[Problem]:
    """Problems of the point's study document (empty when it loads), named after ``where``."""
    try:
        _load(doc)
    except ConfigError as exc:
        return [Problem(file=where, line=p.line, column=p.column, key_path=p.key_path, message=p.message)
                for p in exc.problems]
    except BadArgument as exc:
        return [Problem(file=where, line=None, column=None, key_path="ode_study", message=str(exc))]
    return []


def ode_objectives(doc: dict[str, Any]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Fit and emulated timing of the point's variant at the kernel's precision.

    Returns:
        ``(objectives, layers)``: latency_ms (one image, steady state), speedup over the
        software model, throughput_gops (network MACs), dsp/bram18/uram (one board), boards.

    Raises:
        DoesNotFit: the variant does not fit the board at this precision.
        ConfigError, BadArgument: as :func:`~fpgasim.study.dsodenet.study.load_study_inputs`.
    """
    study, board, design = _load(doc)
    name = (study.timing.variants or tuple(v.name for v in study.variants))[0]
    variant = study.variant(name)
    bits = design.precision.word_bits
    one = dataclasses.replace(study, variants=(variant,), baseline=name, fit_bit_widths=(bits,),
                              timing=dataclasses.replace(study.timing, variants=(name,)))
    fit = fit_table(one, board, design)["rows"][0]
    timing = timing_table(one, board, design)["rows"][0]  # raises DoesNotFit when it does not fit
    used = {name: row["used"] for name, row in fit["resources"].items()}
    latency_ms = timing["image_us"] / 1e3
    objectives = {"latency_ms": latency_ms, "speedup": float(timing["speedup"]), "boards": 1.0,
                  "throughput_gops": 2.0 * timing["pl_macs_per_image"] / (latency_ms * 1e-3) / 1e9,
                  "dsp": float(used["DSP"]), "dsp_total": float(used["DSP"]), "bram18": float(used["BRAM18"]),
                  "uram": float(used["URAM"])}
    layers = [{"name": f"{name} (PL)", "latency_ms": latency_ms, "tiling": design.engine_label,
               "partition": "-", "bottleneck": "-"}]
    return objectives, layers
