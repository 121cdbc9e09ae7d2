"""The replay study as a study: how ``run`` and ``validate`` read, plan and run ``dqn_replay:``.

Owns: :data:`DQN_REPLAY_STUDY`. ``plan`` refuses what ``run`` would (the loader's checks, then
the FPGA NIC's fit: a sum-tree that does not fit the board's BRAM/URAM is exit 3). A sweep point
(``evaluate``) runs the document's ``dqn`` settings (actors, experience size) on ``dpdk`` and
``in_network`` with prioritized sampling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgasim.errors import DoesNotFit, FitReport
from fpgasim.study.common.documents import data_key_problem, data_lookup
from fpgasim.study.dqn_replay.cluster import RunSetup, run_cluster
from fpgasim.study.dqn_replay.config import LoadedReplayStudy, Sampling, load_study, study_from_data
from fpgasim.study.dqn_replay.fpga_nic import tree_fit
from fpgasim.study.dqn_replay.report import write_replay_study
from fpgasim.study.dqn_replay.runner import fpga_server
from fpgasim.study.protocol import Fidelity, Limits, Objectives, RunOptions, RunOutput

__all__ = ["DQN_REPLAY_STUDY", "ReplayStudyKind"]


class ReplayStudyKind:
    """``dqn_replay:`` documents (see :class:`~fpgasim.study.protocol.Study`)."""

    kind = "dqn_replay"
    modes = ()
    sweep_model = "the study's SimPy cluster (dpdk vs in_network, prioritized sampling)"
    sweep_needs_kernel = False  # the FPGA NIC's fit is checked by the study itself
    takes_input_values = False

    def load(self, path: Path) -> LoadedReplayStudy:
        """:func:`~fpgasim.study.dqn_replay.config.load_study`."""
        return load_study(path)

    def from_data(self, data: dict[str, Any], *, file: str, base_dir: Path) -> LoadedReplayStudy:
        """:func:`~fpgasim.study.dqn_replay.config.study_from_data`."""
        return study_from_data(data, file=file, base_dir=base_dir)

    def plan(self, loaded: LoadedReplayStudy, *, limits: Limits = Limits()) -> LoadedReplayStudy:
        """The loaded study, after the FPGA NIC's fit (``limits`` unused: the runs are fixed and short).

        Raises:
            DoesNotFit: the sum-tree of ``dqn.memory`` priorities exceeds the board's BRAM/URAM.
        """
        spec = loaded.study.fpga_nic
        fit = tree_fit(loaded.board, loaded.study.dqn.memory, spec.priority_bits)
        if not fit.fits:
            over_uram = fit.uram > fit.uram_available
            raise DoesNotFit(FitReport(
                resource="URAM" if over_uram else "BRAM18", demand=fit.uram if over_uram else fit.bram18,
                bound=fit.uram_available if over_uram else fit.bram18_available, unit="blocks",
                culprit=f"sum-tree of {fit.capacity} priorities", levers=("dqn_replay.dqn.memory",
                                                                         "dqn_replay.fpga_nic.priority_bits")))
        return loaded

    def run(self, plan: LoadedReplayStudy, out: Path, options: RunOptions) -> RunOutput:
        """Sweep, curves, traced run and FPGA fit; report.md, results.json, plots, trace.json."""
        return write_replay_study(plan, out, options)

    def evaluate(self, loaded: LoadedReplayStudy, fidelity: Fidelity) -> Objectives:
        """Mean prioritized-sampling latency of ``in_network`` (latency_ms) and its speedup over ``dpdk``.

        Either fidelity runs the SimPy cluster (the study has no closed form).
        """
        study = loaded.study
        fpga = fpga_server(self.plan(loaded))
        means = {}
        for name in ("dpdk", "in_network"):
            setup = RunSetup(placement=study.placement(name), sampling=Sampling.PRIORITIZED, actors=study.dqn.actors,
                             experience_bytes=study.dqn.experience_bytes, learner_steps=study.sweep.learner_steps,
                             seed=study.seed)
            metrics = run_cluster(study, setup, loaded.links, fpga)
            means[name] = sum(metrics.sample_ps) / len(metrics.sample_ps) / 1e9
        objectives = {"latency_ms": means["in_network"], "speedup": means["dpdk"] / means["in_network"],
                      "boards": 1.0}
        layers = [{"name": "prioritized sampling (in_network)", "latency_ms": means["in_network"], "tiling": "-",
                   "partition": "-", "bottleneck": "-"}]
        return objectives, layers

    def check_key(self, key: str, base_data: dict[str, Any]) -> str | None:
        """The key must exist in the base study document (it is overridden, never added)."""
        return data_key_problem(key, base_data, "the study document")

    def lookup(self, loaded: LoadedReplayStudy, key: str) -> Any:
        """The key's value in the point's document."""
        return data_lookup(loaded.document.data, key)

    def fits(self, loaded: LoadedReplayStudy, board: Any, design: Any) -> bool:
        """The FPGA NIC's sum-tree fits its board."""
        return tree_fit(loaded.board, loaded.study.dqn.memory, loaded.study.fpga_nic.priority_bits).fits


#: The registered replay study.
DQN_REPLAY_STUDY = ReplayStudyKind()
