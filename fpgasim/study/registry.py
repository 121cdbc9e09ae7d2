"""Every study fpgasim runs: a document's top-level key → its :class:`~fpgasim.study.protocol.Study`.

``fpgasim run``, ``validate`` and ``sweep`` find a study here and name none. A new study is one
folder under ``fpgasim/study/`` (its schema, plan, run and report, and a module-level object
that follows the protocol) and one line in :data:`STUDIES`.
"""

from __future__ import annotations

from typing import Any

from fpgasim.config import YamlDocument
from fpgasim.errors import ConfigError
from fpgasim.study.dqn_replay.study import DQN_REPLAY_STUDY
from fpgasim.study.dsodenet.study import DSODENET_STUDY
from fpgasim.study.experiment.study import EXPERIMENT_STUDY
from fpgasim.study.lcp.study import LCP_STUDY
from fpgasim.study.protocol import Study
from fpgasim.study.scission.study import SCISSION_STUDY

__all__ = ["STUDIES", "study_kind", "study_of"]

#: Top-level YAML key → the study that loads, plans, runs and evaluates such documents.
STUDIES: dict[str, Study] = {study.kind: study for study in (
    EXPERIMENT_STUDY,
    DSODENET_STUDY,
    LCP_STUDY,
    SCISSION_STUDY,
    DQN_REPLAY_STUDY,
)}


def study_kind(data: Any) -> str | None:
    """The first top-level key of ``data`` that names a registered study (None: no such key)."""
    if not isinstance(data, dict):
        return None
    return next((key for key in data if key in STUDIES), None)


def study_of(doc: YamlDocument) -> Study:
    """The study of a document.

    Raises:
        ConfigError: the document names no registered study (the known ones are listed).
    """
    kind = study_kind(doc.data)
    if kind is None:
        known = ", ".join(f"`{key}:`" for key in STUDIES)
        raise ConfigError([doc.problem((), f"expected a study document, one of: {known}")])
    return STUDIES[kind]
