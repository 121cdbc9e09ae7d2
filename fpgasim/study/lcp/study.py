"""The LCP study as a study: how ``run`` and ``validate`` read, plan and run ``lcp_study:`` documents.

Owns :data:`LCP_STUDY`. A study is not a sweep base: its configurations already are its axis, so
``evaluate`` and the sweep keys refuse with that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgasim.errors import BadArgument
from fpgasim.study.lcp.config import LoadedLcpStudy, load_lcp_study
from fpgasim.study.lcp.report import write_lcp_study
from fpgasim.study.lcp.runs import LcpPlan, plan_lcp_study, run_lcp_study
from fpgasim.study.protocol import Fidelity, Limits, Objectives, RunOptions, RunOutput, TerminalTable

__all__ = ["LCP_STUDY", "LcpStudyKind"]

_NO_SWEEP = "an LCP study lists its configurations itself; it is not a sweep base"


class LcpStudyKind:
    """``lcp_study:`` documents (see :class:`~fpgasim.study.protocol.Study`)."""

    kind = "lcp_study"
    modes = ()
    sweep_model = "none"
    sweep_needs_kernel = False  # its cases name their own devices and designs
    takes_input_values = False

    def load(self, path: Path) -> LoadedLcpStudy:
        """:func:`~fpgasim.study.lcp.config.load_lcp_study`."""
        return load_lcp_study(path)

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedLcpStudy:
        """Refused: LCP studies are read from their file only."""
        raise BadArgument(f"{file}: {_NO_SWEEP}")

    def plan(self, loaded: LoadedLcpStudy, *, limits: Limits = Limits()) -> LcpPlan:
        """:func:`~fpgasim.study.lcp.runs.plan_lcp_study` (``limits`` unused: timing mode, coarse packets)."""
        return plan_lcp_study(loaded)

    def run(self, plan: LcpPlan, out: Path, options: RunOptions) -> RunOutput:
        """Every case on the executor; ``report.md``, ``results.json``, ``speedup-<model>.png``."""
        results = run_lcp_study(plan, workers=options.workers, progress=options.progress)
        document, paths = write_lcp_study(plan, results, out)
        rows = tuple((row["model"], row["config"], f"{row['latency_ms']:.2f}",
                      "–" if row["paper_latency_ms"] is None else f"{row['paper_latency_ms']:.1f}",
                      f"{row['speedup']:.2f}", f"{row['speedup_compute']:.2f}",
                      "–" if row["paper_speedup"] is None else f"{row['paper_speedup']:.1f}")
                     for row in document["cases"])
        geo = document["geomean_speedup"]
        table = TerminalTable(title=plan.name, columns=("model", "config", "latency ms", "paper ms", "speedup",
                                                        "speedup (compute)", "paper speedup"), rows=rows)
        paper = "–" if geo["paper"] is None else f"{geo['paper']:.2f}"
        return RunOutput(paths=tuple(paths), table=table,
                         lines=(f"geomean speedup {geo['fpgasim']:.2f}x (compute only {geo['compute_only']:.2f}x), "
                                f"paper {paper}x", f"wrote {out}/"))

    def evaluate(self, loaded: LoadedLcpStudy, fidelity: Fidelity) -> Objectives:
        """Refused (see the module docstring)."""
        raise BadArgument(_NO_SWEEP)

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """Every key is refused (see the module docstring)."""
        return _NO_SWEEP

    def lookup(self, loaded: LoadedLcpStudy, key: str) -> Any:
        """Refused (see the module docstring)."""
        raise BadArgument(_NO_SWEEP)

    def fits(self, loaded: LoadedLcpStudy, board: Any, design: Any) -> bool:
        """Refused (see the module docstring)."""
        raise BadArgument(_NO_SWEEP)


#: The registered LCP study.
LCP_STUDY = LcpStudyKind()
