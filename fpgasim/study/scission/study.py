"""The ScissionLite study as a study: how ``run`` and ``validate`` read, plan and run ``scission_study:``.

Owns :data:`SCISSION_STUDY`. ``plan`` loads the network, the released data and the emulated
platform and checks every name (nothing is timed); ``run`` times every split and writes the
report. A sweep point's objectives are the best split's latency with the TL (``latency_ms``),
its speedup over the best split without (``speedup``) and its bytes on the link (``link_bytes``),
of the first released device (else the first emulated one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgasim.study.common.documents import data_key_problem, data_lookup
from fpgasim.study.protocol import Fidelity, Limits, Objectives, RunOptions, RunOutput
from fpgasim.study.scission.config import LoadedScission, load_scission, scission_from_data
from fpgasim.study.scission.report import write_scission
from fpgasim.study.scission.emulated import emulated_candidates
from fpgasim.study.scission.released import released_candidates
from fpgasim.study.scission.tables import ScissionPlan, constraints_of, plan_scission, summary

__all__ = ["SCISSION_STUDY", "ScissionStudyKind"]


class ScissionStudyKind:
    """``scission_study:`` documents (see :class:`~fpgasim.study.protocol.Study`)."""

    kind = "scission_study"
    modes = ()
    sweep_model = "the split-latency model (released data or emulated blocks)"
    sweep_needs_kernel = False
    takes_input_values = False

    def load(self, path: Path) -> LoadedScission:
        """:func:`~fpgasim.study.scission.config.load_scission`."""
        return load_scission(path)

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedScission:
        """:func:`~fpgasim.study.scission.config.scission_from_data`."""
        return scission_from_data(data, file=file, base_dir=base_dir)

    def plan(self, loaded: LoadedScission, *, limits: Limits = Limits()) -> ScissionPlan:
        """:func:`~fpgasim.study.scission.tables.plan_scission` (``limits`` unused: the runs are
        a few executor runs per device)."""
        return plan_scission(loaded)

    def run(self, plan: ScissionPlan, out: Path, options: RunOptions) -> RunOutput:
        """Every split timed; ``report.md``, ``results.json``, ``splits.png``, ``whatif.png``."""
        _, paths = write_scission(plan, out)
        return RunOutput(paths=tuple(paths), text=(out / "report.md").read_text(encoding="utf-8"),
                         lines=(f"wrote {out}/",))

    def evaluate(self, loaded: LoadedScission, fidelity: Fidelity) -> Objectives:
        """The first device's best split under ``constraints`` (either fidelity: the model is the
        same); only that device is timed (no what-if, no functional run).

        Returns:
            ``(objectives, rows)``: latency_ms of the best split with the TL, speedup over the best
            split without, link_bytes it sends; one row naming the split.
        """
        plan = plan_scission(loaded)
        study = loaded.study
        if study.released is not None:
            name = study.released.devices[0]
            candidates = released_candidates(loaded.released, name, study.released.edge, loaded.positions)
        else:
            name, pair = next(iter(plan.pairs.items()))
            candidates = emulated_candidates(loaded.graph, pair, study.split_rule, study.bytes)
        s = summary(candidates, plan.link, constraints_of(study.constraints, loaded), study.predictor)
        best = s["best_tl"]
        objectives = {"latency_ms": 1e3 * best["latency_s"], "speedup": float(s["speedup_vs_no_tl"]),
                      "link_bytes": float(best["bytes"])}
        rows = [{"name": f"{name}: split after {best['label']}", "latency_ms": 1e3 * best["latency_s"],
                 "tiling": "-", "partition": "-", "bottleneck": "-"}]
        return objectives, rows

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """The key must exist in the base study document (it is overridden, never added)."""
        return data_key_problem(key, base_data, "the study document")

    def lookup(self, loaded: LoadedScission, key: str) -> Any:
        """The key's value in the point's document."""
        return data_lookup(loaded.document.data, key)

    def fits(self, loaded: LoadedScission, board: Any, design: Any) -> bool:
        """Always true: the study places no accelerator design of its own."""
        return True


#: The registered ScissionLite study.
SCISSION_STUDY = ScissionStudyKind()
