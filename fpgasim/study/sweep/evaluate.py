"""Evaluating one sweep point with the study its document belongs to.

Owns: :class:`PointTask` (what a worker receives: plain data, picklable, no open files),
:class:`PointResult` and :func:`evaluate_point` (the default evaluator run in workers): the
registered study of ``task.kind`` reads the point's in-memory document (``from_data``) and
evaluates it. A point that does not fit or has bad input is a *result* (status
``does_not_fit`` / ``error``), never a crash of the sweep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fpgasim.errors import DoesNotFit, FpgasimError
from fpgasim.study.protocol import Fidelity
from fpgasim.study.registry import STUDIES

__all__ = ["Fidelity", "Status", "PointTask", "PointResult", "evaluate_point"]


class Status(StrEnum):
    """Outcome of one point."""

    OK = "ok"
    DOES_NOT_FIT = "does_not_fit"
    ERROR = "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointTask:
    """One evaluation to run (plain data, so it pickles to any worker).

    Attributes:
        index, key: the point's index and content key. fidelity: which model.
        kind: the registered study the document belongs to (its top-level key).
        data: the point's document (kernel path absolute if a variant).
        base_dir: directory for relative paths in the document. file: name used in messages.
    """

    index: int
    key: str
    fidelity: Fidelity
    kind: str
    data: dict[str, Any]
    base_dir: str
    file: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PointResult:
    """The outcome of one :class:`PointTask`.

    Attributes:
        objectives: objective name → value (see :class:`~fpgasim.study.sweep.spec.Objective`).
        layers: per conv layer ``{name, latency_ms, tiling, partition}`` (analytical only).
        message: why a point failed ('' when ok). seconds: wall time of the evaluation (store only).
    """

    index: int
    key: str
    fidelity: Fidelity
    status: Status
    objectives: dict[str, float] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


def evaluate_point(task: PointTask) -> PointResult:
    """Evaluate one point with the model its fidelity names (the default sweep evaluator).

    Returns:
        A :class:`PointResult`; failures are reported in it (status and message), not raised.
    """
    start = time.perf_counter()
    common = {"index": task.index, "key": task.key, "fidelity": task.fidelity}
    try:
        study = STUDIES[task.kind]
        loaded = study.from_data(task.data, file=task.file, base_dir=Path(task.base_dir))
        objectives, layers = study.evaluate(loaded, task.fidelity)
    except DoesNotFit as exc:
        return PointResult(**common, status=Status.DOES_NOT_FIT, message=str(exc),
                           seconds=time.perf_counter() - start)
    except FpgasimError as exc:
        return PointResult(**common, status=Status.ERROR, message=str(exc), seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a bug in one point is recorded, the sweep goes on
        return PointResult(**common, status=Status.ERROR, message=f"{type(exc).__name__}: {exc}",
                           seconds=time.perf_counter() - start)
    return PointResult(**common, status=Status.OK, objectives=objectives, layers=layers,
                       seconds=time.perf_counter() - start)
