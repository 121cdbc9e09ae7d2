"""Planning and running an LCP study: every model × configuration as a graph placed on a cluster.

Owns :func:`plan_lcp_study` (build each configuration's graph — the network, its LCP split or its
model-parallel form —, a cluster of identical devices joined pairwise by the study's link, the
placement, and the graph plan: everything ``run`` refuses is refused here, located in the study
file) and :func:`run_lcp_study` (the one executor in timing mode, one run per case, and the
figures each case reports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw.platform import Cable, ComputeDevice, FpgaDevice, Platform
from fpgasim.mapping.graph_model import predict
from fpgasim.mapping.graph_plan import GraphPlan, plan_graph
from fpgasim.mapping.lcp_place import branch_placement
from fpgasim.nn.graph import Graph
from fpgasim.nn.lcp_split import SplitCounts, branch_of, lcp_split, model_parallel, split_counts
from fpgasim.sim.clock import ms_from_ps
from fpgasim.sim.executor import execute
from fpgasim.study.common.interrupts import WorkerPool
from fpgasim.study.lcp.config import ConfigSpec, FitPolicy, LoadedLcpStudy

__all__ = ["Case", "CaseResult", "LcpPlan", "cluster", "plan_lcp_study", "run_case", "run_lcp_study"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One model in one configuration, planned.

    Attributes:
        model: the model label. config: the configuration. plan: the placed graph.
        counts: parameters and MACs of the graph (total, largest branch, gather side).
    """

    model: str
    config: ConfigSpec
    plan: GraphPlan
    counts: SplitCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    """What one case's emulation gives.

    Attributes:
        latency_ms: input on the gather device → classifier output, communication included.
        compute_ms: the busiest device's node time (the latency if communication were free).
        final_ms: node time outside the branches (gather, classifier) on the gather device.
        link_bytes: bytes sent between devices. transfers: tensors sent.
        weight_bytes_per_device: the largest weight footprint of one device.
        peak_bound_ms: FPGA only: the busiest device's MACs (largest branch + classifier) at the
            array's peak, Tm·Tn MACs per cycle (None on a compute device).
        model_ms: the executor's closed-form twin (:func:`~fpgasim.mapping.graph_model.predict`).
        unmodelled: the effects of this case the twin leaves out.
    """

    case: Case
    latency_ms: float
    compute_ms: float
    final_ms: float
    link_bytes: int
    transfers: int
    weight_bytes_per_device: int
    peak_bound_ms: float | None
    model_ms: float | None
    unmodelled: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LcpPlan:
    """A planned study: its cases in model order, then configuration order."""

    loaded: LoadedLcpStudy
    cases: tuple[Case, ...]

    @property
    def name(self) -> str:
        """The study's name (the default output directory)."""
        return self.loaded.study.name


def cluster(loaded: LoadedLcpStudy, devices: int) -> Platform:
    """``devices`` identical devices ``dev0``… joined pairwise by the study's link (a full mesh: every
    pair at the link's measured client-to-client latency)."""
    spec = loaded.study.device
    if loaded.compute is not None:
        members = tuple(ComputeDevice(id=f"dev{i}", spec=loaded.compute, spec_id=spec.compute) for i in range(devices))
    else:
        members = tuple(FpgaDevice(id=f"dev{i}", board=loaded.board, memory_channel=spec.memory.channel,
                                   kernel_path=loaded.kernel_file, burst_bytes=spec.memory.burst_bytes)
                        for i in range(devices))
    link = loaded.study.link
    cables = tuple(Cable(index=index, a=f"dev{a}", b=f"dev{b}", link_id=link.type, link=loaded.link,
                         packet_bytes=link.packet_bytes, fifo_bytes=link.fifo_bytes)
                   for index, (a, b) in enumerate(combinations(range(devices), 2)))
    return Platform(devices=members, cables=cables)


def _graph(base: Graph, config: ConfigSpec) -> Graph:
    if config.model_parallel:
        return model_parallel(base, parts=config.devices)
    return lcp_split(base, branches=config.branches, fatten_pct=config.fatten_pct)


def plan_lcp_study(loaded: LoadedLcpStudy) -> LcpPlan:
    """Plan every model × configuration of the study.

    Raises:
        ConfigError: a split that leaves a branch no channels, a network the baseline cannot split,
            or a placement the cluster cannot run — located at the configuration.
        DoesNotFit: the kernel design does not fit its board and the study enforces the fit.
    """
    study = loaded.study
    designs_of = {} if loaded.design is None else {f"dev{i}": loaded.design
                                                   for i in range(max(c.devices for c in study.configs))}
    enforce = study.device.fit is FitPolicy.ENFORCE
    bits = study.device.word_bits
    cases = []
    for model in study.models:
        base = model.graph()
        for index, config in enumerate(study.configs):
            at = ("lcp_study", "configs", index)
            platform = cluster(loaded, config.devices)
            ids = [device.id for device in platform.devices]
            try:
                graph = _graph(base, config)
                placement = branch_placement(graph, platform, ids, gather=f"dev{study.gather}")
                designs = {device: design for device, design in designs_of.items() if device in ids}
                plan = plan_graph(graph, platform, designs, placement, word_bits=bits, enforce_fit=enforce)
            except BadArgument as exc:
                raise ConfigError([loaded.document.problem(at, f"{model.label} ({model.zoo}), {config.name}: {exc}")]) \
                    from None
            cases.append(Case(model=model.label, config=config, plan=plan, counts=split_counts(graph)))
    return LcpPlan(loaded=loaded, cases=tuple(cases))


def _weight_bytes(plan: GraphPlan) -> int:
    per: dict[str, int] = {}
    nbytes = plan.word_bits // 8
    for item in plan.nodes:
        per[item.device] = per.get(item.device, 0) + item.node.params * nbytes
    return max(per.values())


def run_case(case: Case) -> CaseResult:
    """Emulate one case in timing mode."""
    emulation = execute(case.plan, trace=False)
    prediction = predict(case.plan)
    busy: dict[str, int] = {}
    for run in emulation.nodes:
        busy[run.device] = busy.get(run.device, 0) + run.end_ps - run.start_ps
    final = sum(run.end_ps - run.start_ps for run in emulation.nodes
                if branch_of(run.name) is None and run.op != "input")
    peak = None
    if case.plan.fpgas:
        design = next(iter(case.plan.fpgas.values())).design
        macs = case.counts.branch_macs + case.counts.final_macs
        peak = macs / (design.macs * design.clock_mhz * 1e3)
    return CaseResult(case=case, latency_ms=ms_from_ps(emulation.total_ps), compute_ms=ms_from_ps(max(busy.values())),
                      final_ms=ms_from_ps(final), link_bytes=sum(t.nbytes for t in emulation.transfers),
                      transfers=len(emulation.transfers), weight_bytes_per_device=_weight_bytes(case.plan),
                      peak_bound_ms=peak, model_ms=None if prediction is None else prediction.time_ms,
                      unmodelled=() if prediction is None else prediction.unmodelled)


def run_lcp_study(plan: LcpPlan, *, workers: int = 1, progress: Callable[[str], None] | None = None) -> list[CaseResult]:
    """Emulate every case (results in case order, independent of ``workers``).

    Args:
        plan: the planned study.
        workers: processes running cases at once.
        progress: called with each case's label as it finishes.

    Raises:
        BadArgument: ``workers`` < 1.
    """
    if workers < 1:
        raise BadArgument(f"--workers={workers}: expected >= 1")
    labels = [f"{case.model} {case.config.name}" for case in plan.cases]
    results = []
    if workers > 1:
        with WorkerPool(workers) as pool:
            futures = [pool.submit(run_case, case) for case in plan.cases]
            for future, label in zip(futures, labels, strict=True):
                results.append(future.result())
                if progress is not None:
                    progress(label)
        return results
    for case, label in zip(plan.cases, labels, strict=True):
        results.append(run_case(case))
        if progress is not None:
            progress(label)
    return results
