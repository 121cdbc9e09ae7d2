"""The ScissionLite study's computations: per-device summaries, per-split rows, the released
predictor's regression run, the what-if grid and the functional run of the TL.

Owns :func:`plan_scission` (everything ``run`` refuses, refused first: the emulated pairs are
built and planned, the link checked) and :func:`compute` (the results document of
``results.json``; keys in docs/scission.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.hw.platform import FpgaDevice, Platform
from fpgasim.nn.evaluate import agreement, evaluate_ref, synthetic_weights
from fpgasim.nn.split import TL_UP, blocks, with_transfer_layer
from fpgasim.study.scission.config import ConstraintsSection, LoadedScission
from fpgasim.study.scission.emulated import EmulatedPair, emulated_candidates
from fpgasim.study.scission.predict import Breakdown, Candidate, Constraints, Link, Predictor, best, breakdown
from fpgasim.study.scission.released import released_candidates

__all__ = ["ScissionPlan", "plan_scission", "compute", "summary", "constraints_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScissionPlan:
    """A loaded study with its link and emulated device → edge pairs."""

    loaded: LoadedScission
    link: Link
    pairs: dict[str, EmulatedPair]

    @property
    def name(self) -> str:
        """The output directory name."""
        return self.loaded.study.name


def plan_scission(loaded: LoadedScission) -> ScissionPlan:
    """Build the link and one two-device platform per emulated device (each with its cable to the edge).

    Raises:
        BadArgument: a device without a cable to the edge.
    """
    study = loaded.study
    link = Link(bandwidth_mbps=study.link.bandwidth_mbps, ping_ms=study.link.ping_ms)
    pairs: dict[str, EmulatedPair] = {}
    if study.emulated is not None:
        platform, edge = loaded.platform, study.emulated.edge
        for device in platform.devices:
            if device.id == edge:
                continue
            cable = next((c for c in platform.cables if {c.a, c.b} == {device.id, edge}), None)
            if cable is None:
                raise BadArgument(f"{loaded.path}: scission_study.emulated.platform: device {device.id!r} has no cable "
                                  f"to the edge {edge!r}")
            pair = Platform(devices=(device, platform.device(edge)), cables=(replace(cable, index=0),))
            pairs[device.id] = EmulatedPair(platform=pair, device=device.id, edge=edge,
                                            designs={k: v for k, v in loaded.designs.items() if k == device.id})
    return ScissionPlan(loaded=loaded, link=link, pairs=pairs)


def constraints_of(section: ConstraintsSection, loaded: LoadedScission) -> Constraints:
    """The section as :class:`Constraints` (nodes to keep → the latest of their positions)."""
    order = [node.name for node in loaded.graph.nodes]
    keep = max((order.index(n) for n in section.keep_on_device), default=None)
    return Constraints(keep_position=keep, first_split_forbidden=section.first_split_forbidden,
                       upload_cap_bytes=section.upload_cap_bytes, device_time_cap_s=section.device_time_cap_s,
                       edge_time_cap_s=section.edge_time_cap_s)


def _dict(split: Breakdown | None) -> dict[str, Any] | None:
    return None if split is None else split.as_dict()


def summary(candidates: Sequence[Candidate], link: Link, constraints: Constraints, predictor: Predictor) -> dict[str, Any]:
    """Local latency, the best split with and without the TL (breakdowns), the two speedups."""
    local = next(c for c in candidates if c.local).device_s
    with_tl = best(candidates, link, tl=True, constraints=constraints, predictor=predictor)
    without = best(candidates, link, tl=False, constraints=constraints, predictor=predictor)
    ratio = (lambda a, b: None if a is None or b is None else a / b)
    return {"local_s": local, "best_tl": _dict(with_tl), "best_no_tl": _dict(without),
            "speedup_vs_local": ratio(local, with_tl and with_tl.latency_s),
            "speedup_vs_no_tl": ratio(without and without.latency_s, with_tl and with_tl.latency_s)}


def _rows(candidates: Sequence[Candidate], link: Link, predictor: Predictor) -> list[dict[str, Any]]:
    rows = []
    for c in candidates:
        plain = breakdown(c, link, tl=False, predictor=predictor)
        tl = breakdown(c, link, tl=True, predictor=predictor) if c.tl_nbytes is not None else None
        rows.append({"index": c.index, "label": c.label, "local": c.local, "device_s": c.device_s,
                     "edge_s": c.edge_s, "bytes": c.nbytes, "tl_bytes": c.tl_nbytes, "latency_no_tl_s": plain.latency_s,
                     "latency_tl_s": None if tl is None else tl.latency_s,
                     "transfer_s": plain.transfer_s, "tl_transfer_s": None if tl is None else tl.transfer_s,
                     "tl_s": None if tl is None else tl.tl_s})
    return rows


def _device(candidates: Sequence[Candidate], plan: ScissionPlan, predictor: Predictor) -> dict[str, Any]:
    study = plan.loaded.study
    out = {"summary": summary(candidates, plan.link, constraints_of(study.constraints, plan.loaded), predictor),
           "splits": _rows(candidates, plan.link, predictor)}
    if study.privacy is not None:
        out["privacy"] = summary(candidates, plan.link, constraints_of(study.privacy, plan.loaded), predictor)
    return out


def _readme(plan: ScissionPlan) -> dict[str, Any] | None:
    """The released predictor at the README run's bandwidth: its ranking (top 5) and transfers."""
    section = plan.loaded.study.released
    if section.readme is None:
        return None
    run = section.readme
    link = Link(bandwidth_mbps=run.bandwidth_mbps, ping_ms=plan.link.ping_ms)
    candidates = released_candidates(plan.loaded.released, run.device, section.edge, plan.loaded.positions)
    ranked = sorted((breakdown(c, link, tl=not c.local, predictor=Predictor.RELEASED) for c in candidates
                     if c.local or c.tl_nbytes is not None), key=lambda s: (s.latency_s, s.index))
    first = next(c for c in candidates if c.index == ranked[0].index)
    return {"device": run.device, "bandwidth_mbps": run.bandwidth_mbps,
            "top": [{"latency_s": s.latency_s, "keras_layer": int(s.label), "tl_bytes": s.nbytes} for s in ranked[:5]],
            "tl_transfer_s": link.transfer_s(first.tl_nbytes), "transfer_s": link.transfer_s(first.nbytes),
            "printed": {"top": [list(t) for t in run.top], "tl_transfer_s": run.tl_transfer_s,
                        "transfer_s": run.transfer_s, "source": run.source}}


def _whatif(sets: dict[str, Sequence[Candidate]], plan: ScissionPlan) -> dict[str, Any] | None:
    """Best latency with and without the TL over the bandwidth × ping grid, and where the TL pays:
    from the first to the last grid bandwidth at which the best split with the TL is faster than
    the best without (below, device-only execution wins either way; above, the link is fast
    enough to send the full tensor), and the grid bandwidth after that (it stops paying).

    The link is the predictor's (ping + bytes / bandwidth); emulated candidates are re-timed in
    closed form here, their measured transfers are for the study's own link only.
    """
    section = plan.loaded.study.whatif
    if section is None:
        return None
    predictor = plan.loaded.study.predictor
    out: dict[str, Any] = {"bandwidth_mbps": list(section.bandwidth_mbps), "ping_ms": list(section.ping_ms),
                           "devices": {}}
    for name, candidates in sets.items():
        closed = [replace(c, transfer_s=None, tl_transfer_s=None) for c in candidates]
        curves = {}
        for ping in section.ping_ms:
            rows = []
            for mbps in section.bandwidth_mbps:
                link = Link(bandwidth_mbps=mbps, ping_ms=ping)
                tl = best(closed, link, tl=True, predictor=predictor)
                plain = best(closed, link, tl=False, predictor=predictor)
                rows.append({"bandwidth_mbps": mbps, "best_tl_s": tl.latency_s, "best_tl_split": tl.label,
                             "best_no_tl_s": plain.latency_s, "best_no_tl_split": plain.label})
            pays = [i for i, r in enumerate(rows) if r["best_tl_s"] < r["best_no_tl_s"]]
            grid = section.bandwidth_mbps
            curves[str(ping)] = {"points": rows, "tl_pays_from_mbps": grid[pays[0]] if pays else None,
                                 "tl_pays_up_to_mbps": grid[pays[-1]] if pays else None,
                                 "tl_stops_paying_mbps": grid[pays[-1] + 1] if pays and pays[-1] + 1 < len(grid)
                                 else None}
        out["devices"][name] = curves
    return out


def _functional(loaded: LoadedScission) -> dict[str, Any] | None:
    """Float64 runs with the TL at each configured split against the run without (synthetic weights)."""
    section = loaded.study.functional
    if section is None:
        return None
    graph = loaded.graph
    weights = synthetic_weights(graph, seed=section.seed)
    rng = np.random.default_rng(section.seed)
    (source,) = graph.inputs
    inputs = {source.name: rng.standard_normal((graph.batch, *source.out_shape))}
    reference = evaluate_ref(graph, inputs, weights)
    (output,) = graph.outputs
    rows = []
    for split in section.splits:
        values = evaluate_ref(with_transfer_layer(graph, split, loaded.study.split_rule), inputs, weights)
        sent, edge_in = reference[split], values[split + TL_UP]
        agree = agreement(reference[output].reshape(graph.batch, -1), values[output].reshape(graph.batch, -1))
        rows.append({"split": split, "edge_input_rel_rms": float(np.sqrt(np.mean((edge_in - sent) ** 2))
                                                                  / np.sqrt(np.mean(sent ** 2))),
                     "edge_input_changed_fraction": float(np.mean(edge_in != sent)),
                     "output_snr_db": agree.snr_db, "top1_agreement": agree.top1})
    return {"seed": section.seed, "weights": "synthetic (He-normal, seeded); untrained", "splits": rows}


def compute(plan: ScissionPlan) -> dict[str, Any]:
    """Every table of the study (the ``results.json`` body; see docs/scission.md)."""
    loaded, study = plan.loaded, plan.loaded.study
    found = blocks(loaded.graph, study.split_rule)
    doc: dict[str, Any] = {
        "network": {"name": loaded.graph.name, "nodes": len(loaded.graph.nodes), "split_rule": str(study.split_rule),
                    "blocks": [{"index": b.index, "first": b.first, "last": b.last, "nodes": len(b.nodes)}
                               for b in found]},
        "link": {"bandwidth_mbps": study.link.bandwidth_mbps, "ping_ms": study.link.ping_ms,
                 "bytes_per_s": plan.link.bytes_per_s, "source": study.link.source},
        "predictor": str(study.predictor),
    }
    whatif_sets: dict[str, Sequence[Candidate]] = {}
    if study.released is not None:
        section = study.released
        released = {}
        for name in section.devices:
            candidates = released_candidates(loaded.released, name, section.edge, loaded.positions)
            whatif_sets[f"released:{name}"] = candidates
            released[name] = _device(candidates, plan, study.predictor)
            released[name]["released_predictor"] = summary(candidates, plan.link, constraints_of(study.constraints,
                                                                                                   loaded),
                                                           Predictor.RELEASED)
        doc["released"] = {"csv": loaded.released.path.name, "edge": section.edge, "devices": released,
                           "alignment": [{"node": a.node, "keras_layer": a.keras_layer, "same_tensor": a.same_tensor,
                                          "note": a.note} for a in section.alignment],
                           "readme_run": _readme(plan)}
    if plan.pairs:
        emulated = {}
        for name, pair in plan.pairs.items():
            candidates = emulated_candidates(loaded.graph, pair, study.split_rule, study.bytes)
            whatif_sets[f"emulated:{name}"] = candidates
            emulated[name] = _device(candidates, plan, study.predictor)
            device = pair.platform.device(name)
            emulated[name]["device"] = device.board.id if isinstance(device, FpgaDevice) else device.spec_id
            emulated[name]["stands_for"] = study.emulated.stands_for.get(name)
        doc["emulated"] = {"edge": study.emulated.edge, "devices": emulated,
                           "link": {c.link_id: c.link.effective_gbps for c in loaded.platform.cables}}
    doc["whatif"] = _whatif(whatif_sets, plan)
    doc["functional"] = _functional(loaded)
    return doc
