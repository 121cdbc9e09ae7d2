"""Markdown report and accuracy plot of an ODE study (pure rendering of the results document).

Owns: :func:`render_report` (results → ``report.md`` text: parameter, fit, accuracy and
speedup tables, each beside the published numbers, and the gap analysis) and
:func:`accuracy_plot_writer` (top-1 agreement and output SNR vs bit width).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["render_report", "accuracy_plot_writer"]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _params(results: dict[str, Any]) -> list[str]:
    par, paper = results["parameters"], results["paper"]
    lo, hi = paper["reduction_percent"]
    lines = ["## Parameters", "", f"Counting rule: {par['rule']}.", ""]
    lines += _table(["variant", "core params", "total params", f"reduction vs {par['baseline']}",
                     "paper (dsODENet)", "MACs / image"],
                    [[v["variant"], v["core_params"], v["total_params"], f"{v['reduction_percent']:.1f} %",
                      f"{lo}-{hi} %", v["macs_per_image"]] for v in par["variants"]])
    names = [v["variant"] for v in par["variants"]]
    layers: dict[str, dict[str, int]] = {}
    for v in par["variants"]:
        for row in v["layers"]:
            layers.setdefault(f"{row['layer']} ({row['role']})", {})[v["variant"]] = row["total"]
    lines += ["Per layer (weights + biases):", ""]
    lines += _table(["layer"] + names, [[k] + [d.get(n, "-") for n in names] for k, d in layers.items()])
    return lines


def _fit(results: dict[str, Any]) -> list[str]:
    fit = results["fit"]
    lines = ["## Fit", "", f"Board {fit['board']}, kernel {fit['kernel']}, limits {fit['limits']}; "
             "every on-chip block's weights and feature maps resident.", ""]
    rows = []
    for r in fit["rows"]:
        res = r["resources"]
        rows.append([r["variant"], r["precision"], "yes" if r["fits"] else "**no**",
                     *(f"{res[k]['used']}/{res[k]['available']}" for k in ("DSP", "BRAM18", "URAM", "LUT")),
                     r["verdict"] if not r["fits"] else ""])
    lines += _table(["variant", "precision", "fits", "DSP", "BRAM18", "URAM", "LUT (est.)", "why not"], rows)
    best = fit["largest_fit"]
    lines += [f"Largest variant/precision that fits (most on-chip parameter bits): "
              + ("none" if best is None else f"**{best['variant']} at {best['bits']} bits**"), ""]
    return lines


def _accuracy(results: dict[str, Any]) -> list[str]:
    acc = results["accuracy"]
    if acc is None:
        return []
    net = acc["network"]
    lines = ["## Fixed-point accuracy", "",
             f"Variant {acc['variant']} with channels {net['channels']}, input {net['input_hw']}x{net['input_hw']}, "
             f"steps {net['steps']}; {acc['inputs']} synthetic N(0,1) inputs, He-initialised weights with folded "
             f"BN (seed {acc['seed']}); activations/state ap_fixed<W,{acc['act_int_bits']}>, weights "
             f"min(W,{acc['max_weight_bits']}) bits, rounding {acc['rounding']}, overflow {acc['overflow']}.", ""]
    rows = []
    for w in acc["widths"]:
        out = w["stages"][-1]
        overflow = sum(s["overflow_output"] + s["overflow_accumulator"] for s in w["stages"])
        top1 = f"{100 * w['top1_agreement']:.1f} % ({w['float_classes_seen']} classes)"
        rows.append([w["bits"], w["act_format"], top1,
                     _fmt(out["max_abs_error"]),
                     _fmt(out["snr_db"]), _fmt(out["bound"]), overflow])
    lines += _table(["W", "activation format", "top-1 agreement", "logit max err", "logit SNR dB",
                     "derived bound", "overflows"], rows)
    stages = [s["stage"] for s in acc["widths"][0]["stages"]]
    lines += ["Per-stage max |error| / SNR dB:", ""]
    lines += _table(["W"] + stages, [[w["bits"]] + [f"{_fmt(s['max_abs_error'])} / {_fmt(s['snr_db'])}"
                                                   for s in w["stages"]] for w in acc["widths"]])
    lines += ["The derived bound is a guaranteed worst case (∞-norm, no saturation); it grows with every "
              "convolution's absolute weight sum and is therefore loose after the ODE blocks. Above "
              f"W = {acc['max_weight_bits']} the error stops falling: the weights stay at "
              f"{acc['max_weight_bits']} bits.", ""]
    return lines


def _timing(results: dict[str, Any]) -> list[str]:
    tim, paper = results["timing"], results["paper"]
    cpu = tim["cpu"]
    published = ", ".join(f"{k}: {v}x" for k, v in paper["speedups"].items())
    lines = ["## Timing and speedup", "",
             f"PL engine {tim['kernel']} ({tim['precision']}, {tim['clock_mhz']} MHz) plus the PS; software "
             f"model: {cpu['threads']} x {cpu['core']} at {cpu['clock_mhz']} MHz, {cpu['simd_bits']}-bit SIMD, "
             f"fp{cpu['element_bits']}, issue fraction {cpu['simd_issue_fraction']}, efficiency "
             f"{cpu['efficiency']} ({cpu['source']}).", ""]
    rows = []
    for r in tim["rows"]:
        b = r["breakdown_us"]
        cpu_us = sum(v for k, v in b.items() if k.startswith("cpu "))
        dma_us = sum(v for k, v in b.items() if k.startswith(("dma ", "spill ")))
        pl_us = sum(v for k, v in b.items() if k.startswith("pl "))
        rows.append([r["variant"], ", ".join(r["on_chip"]), _fmt(r["image_us"], 4), _fmt(cpu_us, 4),
                     _fmt(dma_us, 4), _fmt(pl_us, 4), _fmt(r["weights_us"], 4), _fmt(r["software_us"], 4),
                     f"{r['speedup']:.2f}x", published])
    lines += _table(["variant", "on PL", "latency us", "PS layers us", "PS-PL DMA us", "PL compute us",
                     "weight load us (once)", "software us", "speedup", "published"], rows)
    lines += _calibrated(tim, published)
    lines += ["### What drives the gap", ""]
    for r in tim["rows"]:
        b = r["breakdown_us"]
        serial = sum(v for k, v in b.items() if not k.startswith("pl "))
        cap = r["software_us"] / serial if serial else float("inf")
        needs = ", ".join(f"{k} needs software efficiency {cpu['efficiency'] * r['speedup'] / v:.3g}"
                          for k, v in paper["speedups"].items())
        lines.append(f"- {r['variant']}: PS layers + transfers take {serial:.4g} us of {r['image_us']:.4g} us, "
                     f"so even an infinitely fast PL gives at most {cap:.3g}x. The PL keeps "
                     f"{100 * r['pl_mac_utilisation']:.0f} % of its {tim['engine_macs']} MAC units busy (the depthwise "
                     "and pointwise units run one after the other; the unit sizes are limited by the one-bank-per-MAC "
                     "weight buffers). Speedup scales with 1/efficiency "
                     f"of the software model; {needs} (the papers' software stack is unpublished).")
        states = r.get("state", {})
        if states:
            lines.append(f"- {r['variant']} PL blocks (weights loaded once): "
                         + "; ".join(f"{block}: {label}" for block, label in states.items()) + ".")
    return lines + [""]


def _calibrated(tim: dict[str, Any], published: str) -> list[str]:
    """Both speedups and the measurements that calibrated the software model."""
    cal = tim.get("calibrated_cpu")
    if cal is None:
        return []
    fits = "; ".join(f"fit {name} on {fit['measured_on']}: " + ", ".join(f"{n} {ms:g} ms" for n, ms in
                                                                         fit["measurements_ms"].items())
                     for name, fit in cal["fits"].items()) or "no fit in boards/device_fits.yaml names it"
    source = (f"its own fitted numbers" if cal["efficiency_from"] == cal["device"]
              else f"the fitted numbers of {cal['efficiency_from']} (a different core: an assumption)")
    eff = ", ".join(f"{op} {value:g}" for op, value in cal["efficiency"].items())
    lines = ["### Speedup over the calibrated software model", "",
             f"Calibrated software model: compute device {cal['device']} with {source} — efficiency {eff}; "
             f"dispatch {cal['dispatch_overhead_us']:g} us per node. Calibrated by `fpgasim fit-devices` to LCP's "
             f"measured TensorFlow latencies ({fits}; seed-papers.md §d, Fig. 12), never to this study's speedup. "
             "The PS layers of the PS+PL run take the same model.", ""]
    rows = [[r["variant"], _fmt(r["image_calibrated_us"], 4), _fmt(r["software_calibrated_us"], 4),
             f"{100 * r['software_calibrated_dispatch_share']:.0f} %", f"{r['speedup_calibrated']:.2f}x",
             f"{r['speedup_peak_bound']:.2f}x", published] for r in tim["rows"]]
    lines += _table(["variant", "latency us (calibrated PS)", "calibrated software us", "of it dispatch",
                     "speedup_calibrated", "speedup_peak_bound", "published"], rows)
    return lines + ["The calibrated speedup rests on the fitted per-node dispatch overhead of LCP's TensorFlow "
                    "stack (the share above); the papers' own software stack is unpublished, so it is a model "
                    "of measured Arm software, not of the authors' baseline.", ""]


def render_report(study: Any, results: dict[str, Any]) -> str:
    """The Markdown report of ``results`` (deterministic: no time or host data)."""
    lines = [f"# ODE study: {results['name']}", "",
             f"Published: parameter reduction {results['paper']['reduction_percent'][0]}-"
             f"{results['paper']['reduction_percent'][1]} %, speedups "
             + ", ".join(f"{k} {v}x" for k, v in results["paper"]["speedups"].items())
             + f" ({results['paper']['source']}).", ""]
    if getattr(study, "notes", None):
        lines += [study.notes, ""]
    lines += _params(results) + _fit(results) + _accuracy(results) + _timing(results)
    return "\n".join(lines)


def accuracy_plot_writer(accuracy: dict[str, Any]) -> Callable[[Path], None]:
    """A writer for ``accuracy.png``: top-1 agreement (%) and logit SNR (dB) vs bit width."""
    def write(path: Path) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        bits = [w["bits"] for w in accuracy["widths"]]
        top1 = [100 * w["top1_agreement"] for w in accuracy["widths"]]
        snr = [w["stages"][-1]["snr_db"] for w in accuracy["widths"]]
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        ax.plot(bits, top1, "o-", color="tab:blue", label="top-1 agreement")
        ax.set_xlabel("datapath width W (bits)")
        ax.set_ylabel("top-1 agreement with float64 (%)", color="tab:blue")
        ax.set_ylim(0, 105)
        ax2 = ax.twinx()
        ax2.plot(bits, [float("nan") if s is None else s for s in snr], "s--", color="tab:red", label="logit SNR")
        ax2.set_ylabel("logit SNR (dB)", color="tab:red")
        ax.set_title(f"{accuracy['variant']}: fixed point vs float64")
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
        plt.close(fig)

    return write
