"""The ODE study as a study: how ``run``, ``validate`` and ``sweep`` read, plan and run ``ode_study:``.

Owns: :data:`DSODENET_STUDY`. A sweep point is evaluated by the study's own model: the fit of
the point's variant at the kernel's precision and the study's SimPy timing of that variant
(:func:`~fpgasim.study.dsodenet.tables.timing_table`), for both fidelities. The variant is the
first of ``ode_study.timing.variants`` (sweep it with lists such as ``[[odenet], [dsodenet-all]]``);
sweep keys ``ode_study.…`` must exist in the base study document.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fpgasim.study.common.documents import data_key_problem, data_lookup
from fpgasim.study.dsodenet.config import LoadedOdeStudy, load_study, study_from_data
from fpgasim.study.dsodenet.tables import OdePlan, fit_table, plan_ode_study, timing_table, write_ode_study
from fpgasim.study.protocol import Fidelity, Limits, Objectives, RunOptions, RunOutput

__all__ = ["DSODENET_STUDY", "OdeStudyKind"]


class OdeStudyKind:
    """``ode_study:`` documents (see :class:`~fpgasim.study.protocol.Study`)."""

    kind = "ode_study"
    modes = ()
    sweep_model = "the study's model: fit + SimPy timing"
    sweep_needs_kernel = True
    takes_input_values = False  # it runs its own accuracy set

    def load(self, path: Path) -> LoadedOdeStudy:
        """:func:`~fpgasim.study.dsodenet.config.load_study`."""
        return load_study(path)

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedOdeStudy:
        """:func:`~fpgasim.study.dsodenet.config.study_from_data`."""
        return study_from_data(data, file=file, base_dir=base_dir)

    def plan(self, loaded: LoadedOdeStudy, *, limits: Limits = Limits()) -> OdePlan:
        """:func:`~fpgasim.study.dsodenet.tables.plan_ode_study` (``limits`` unused: the study's
        few fixed-size runs take seconds)."""
        return plan_ode_study(loaded)

    def run(self, plan: OdePlan, out: Path, options: RunOptions) -> RunOutput:
        """Accuracy and timing runs; ``report.md``, ``results.json``, ``accuracy.png``."""
        _, paths = write_ode_study(plan, out)
        return RunOutput(paths=tuple(paths), text=(out / "report.md").read_text(encoding="utf-8"),
                         lines=(f"wrote {out}/",))

    def evaluate(self, loaded: LoadedOdeStudy, fidelity: Fidelity) -> Objectives:
        """Fit and emulated timing of the point's variant at the kernel's precision (either fidelity).

        Returns:
            ``(objectives, layers)``: latency_ms (one image, steady state), speedup over the
            software model, throughput_gops (network MACs), dsp/bram18/uram (one board), boards.

        Raises:
            DoesNotFit: the variant does not fit the board at this precision.
        """
        study, board, design = loaded.study, loaded.board, loaded.design
        name = (study.timing.variants or tuple(v.name for v in study.variants))[0]
        variant = study.variant(name)
        bits = design.precision.word_bits
        one = dataclasses.replace(study, variants=(variant,), baseline=name, fit_bit_widths=(bits,),
                                  timing=dataclasses.replace(study.timing, variants=(name,)))
        fit = fit_table(one, board, design)["rows"][0]
        timing = timing_table(one, board, design)["rows"][0]  # raises DoesNotFit when it does not fit
        used = {resource: row["used"] for resource, row in fit["resources"].items()}
        latency_ms = timing["image_us"] / 1e3
        objectives = {"latency_ms": latency_ms, "speedup": float(timing["speedup"]), "boards": 1.0,
                      "throughput_gops": 2.0 * timing["pl_macs_per_image"] / (latency_ms * 1e-3) / 1e9,
                      "dsp": float(used["DSP"]), "dsp_total": float(used["DSP"]), "bram18": float(used["BRAM18"]),
                      "uram": float(used["URAM"])}
        layers = [{"name": f"{name} (PL)", "latency_ms": latency_ms, "tiling": design.engine_label,
                   "partition": "-", "bottleneck": "-"}]
        return objectives, layers

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """The key must exist in the base study document (it is overridden, never added)."""
        return data_key_problem(key, base_data, "the study document")

    def lookup(self, loaded: LoadedOdeStudy, key: str) -> Any:
        """The key's value in the point's document."""
        return data_lookup(loaded.document.data, key)

    def fits(self, loaded: LoadedOdeStudy, board: Any, design: Any) -> bool:
        """Always true here: the fit depends on the variant's layers, and ``evaluate`` checks it."""
        return True


#: The registered ODE study.
DSODENET_STUDY = OdeStudyKind()
