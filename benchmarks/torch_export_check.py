"""Does a model exported by ``torch.onnx.export`` run in fpgasim without edits?

Two steps, because PyTorch is not a dependency of fpgasim (install it in a separate venv):

1. ``/tmp/torchvenv/bin/python benchmarks/torch_export_check.py export DIR`` — exports torchvision's
   resnet18, mobilenet_v2, squeezenet1_1, densenet121 and googlenet (random weights, ``weights=None``,
   eval mode: GoogLeNet's auxiliary classifiers run only in training, so the export has none)
   with ``torch.onnx.export(model, x, path, opset_version=17, dynamo=False)`` at 1×3×224×224
   (inception_v3 at 1×3×299×299, its input size) into
   DIR, plus ``DIR/torch-<models>.json`` (versions, parameter counts); ``--models`` names others.
   Without torch it prints
   ``skip: ...`` and exits 0.
2. ``.venv/bin/python benchmarks/torch_export_check.py check DIR`` — for each exported file:
   ``fpgasim network FILE --json`` (nodes, MACs), the MACs compared with the zoo graph of the same
   name (whose counts are tested against torchvision's model cards), then a timing-mode
   ``fpgasim run`` of the model on one ZCU102 with the 16-bit ⟨64,7⟩ engine; prints one line per
   model and ``ratio.<model>_macs_vs_zoo: X`` (1.000: the import counts what the zoo counts);
   ``--network-only`` skips the timing run; ``--kernel`` names another design (a sigmoid table for
   EfficientNet and RegNetY: ``kernels/superlip-conv-16bit-sigmoid.yaml``; a GELU table for
   ConvNeXt: ``kernels/superlip-conv-16bit-gelu.yaml``; GELU, softmax and sigmoid tables for
   ViT, Swin and MaxViT: ``kernels/superlip-conv-16bit-hybrid.yaml``).
3. ``.venv/bin/python benchmarks/torch_export_check.py agree DIR`` — fpgasim's float64 reference
   (:func:`fpgasim.nn.evaluate.evaluate_ref`) against onnxruntime's float32 output on one seeded
   input, at every pooling node (ceil-mode ones included), at the classifier's input (ViT's head is
   zero-initialised, so its random-weight logits are zero) and at the logits: the largest error
   relative to the tensor's largest magnitude, and whether the top-1 class agrees (needs
   ``onnxruntime``, a test extra).

The .onnx files are not committed (tens of MB each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("resnet18", "mobilenet_v2", "squeezenet1_1", "densenet121", "googlenet")
#: Input side of the models that are not exported at 224×224 (torchvision's own input size).
INPUT_SIDE = {"inception_v3": 299}
ROOT = Path(__file__).resolve().parents[1]
KERNEL = ROOT / "kernels" / "superlip-conv-16bit.yaml"


def export(folder: Path, models: tuple[str, ...]) -> int:
    """Export ``models`` with torch (exit 0 and a ``skip:`` line without it)."""
    try:
        import torch
        import torchvision
    except ImportError as exc:
        print(f"skip: torch/torchvision not importable ({exc}); install them in a separate venv")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    info = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
    for name in models:
        model = getattr(torchvision.models, name)(weights=None).eval()
        side = INPUT_SIDE.get(name, 224)
        x = torch.randn(1, 3, side, side)
        start = time.perf_counter()
        torch.onnx.export(model, x, str(folder / f"{name}.onnx"), opset_version=17, dynamo=False)
        info["models"][name] = {"params": sum(p.numel() for p in model.parameters()),
                                "export_s": round(time.perf_counter() - start, 2)}
        print(f"exported {name}: {info['models'][name]}")
    (folder / f"torch-{'-'.join(models)}.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _fpgasim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fpgasim.cli.main", *args], capture_output=True, text=True,
                          check=False)


def check(folder: Path, models: tuple[str, ...], run: bool, kernel: Path = KERNEL) -> int:
    """Import (and with ``run``, emulate on ``kernel``'s design) every exported model; exit 1 if any fails."""
    from fpgasim.nn import ZOO, zoo_graph

    failed = 0
    for name in models:
        path = folder / f"{name}.onnx"
        if not path.exists():
            print(f"{name}: not exported ({path} missing)")
            failed += 1
            continue
        start = time.perf_counter()
        shown = _fpgasim("network", str(path), "--json")
        import_s = time.perf_counter() - start
        if shown.returncode != 0:
            print(f"{name}: fpgasim network exit {shown.returncode}: {shown.stderr.strip()}")
            failed += 1
            continue
        document = json.loads(shown.stdout)
        macs = document["totals"]["macs"]
        zoo_macs = zoo_graph(name).macs if name in ZOO else None
        compared = f"zoo {zoo_macs:,}" if zoo_macs else "not in the zoo"
        if not run:
            print(f"{name}: {document['totals']['nodes']} nodes, {macs:,} MACs ({compared}), "
                  f"{document['totals']['params']:,} params; network {import_s:.1f} s")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            experiment = Path(tmp) / "experiment.yaml"
            experiment.write_text(
                "schema: 1\nexperiment:\n"
                f"  name: torch-{name}\n  network: {{onnx: {path.resolve()}}}\n  board: zcu102\n"
                f"  kernel: {kernel.resolve()}\n  memory: {{channel: ps_ddr4, burst_bytes: 2048}}\n  mode: timing\n",
                encoding="utf-8")
            start = time.perf_counter()
            ran = _fpgasim("run", str(experiment), "--out", str(Path(tmp) / "out"), "--no-trace")
            run_s = time.perf_counter() - start
            latency = None
            if ran.returncode == 0:
                latency = json.loads((Path(tmp) / "out" / "results.json").read_text())["totals"]["latency_ms"]
        if ran.returncode != 0:
            print(f"{name}: fpgasim run exit {ran.returncode}: {ran.stderr.strip()[-400:]}")
            failed += 1
            continue
        print(f"{name}: {document['totals']['nodes']} nodes, {macs:,} MACs ({compared}), "
              f"{document['totals']['params']:,} params; network {import_s:.1f} s; timing run on one ZCU102 "
              f"{latency:.2f} ms emulated, {run_s:.1f} s wall")
        if zoo_macs:
            print(f"ratio.{name}_macs_vs_zoo: {macs / zoo_macs:.3f}")
    return 1 if failed else 0


def agree(folder: Path, models: tuple[str, ...]) -> int:
    """Compare fpgasim's float reference with onnxruntime at every pool, the classifier's input and the
    logits; exit 1 if any relative error exceeds 1e-5 (float32 rounding is ~1e-7)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    from fpgasim.nn.evaluate import evaluate_ref
    from fpgasim.nn.onnx import import_onnx

    failed = 0
    for name in models:
        path = folder / f"{name}.onnx"
        imported = import_onnx(path)
        model = onnx.load(str(path))
        ir_names = {node.name for node in imported.graph.nodes}
        pools = {n.name: n.output[0] for n in model.graph.node
                 if n.op_type in ("MaxPool", "AveragePool") and n.name in ir_names}
        # the features the classifier reads (a zero-initialised head, as ViT's, gives zero logits)
        logits_node = next(iter(imported.outputs.values()))
        features = imported.graph.node(logits_node).inputs[0]
        producer = next((n for n in model.graph.node if n.name == features), None)
        probes = {**pools, **({features: producer.output[0]} if producer is not None else {})}
        model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(o) for o in probes.values())
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        source = imported.graph.inputs[0]
        x = np.random.default_rng(0).uniform(-1, 1, (imported.graph.batch, *source.out_shape))
        theirs = dict(zip([o.name for o in session.get_outputs()],
                          session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})))
        ours = evaluate_ref(imported.graph, {source.name: x}, imported.weights)
        logits_name, logits_node = next(iter(imported.outputs.items()))
        pairs = {**{node: (ours[node].reshape(theirs[out].shape), theirs[out]) for node, out in probes.items()},
                 "logits": (ours[logits_node].reshape(theirs[logits_name].shape), theirs[logits_name])}
        worst = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) for a, b in pairs.values())
        top1 = bool((pairs["logits"][0].argmax(1) == pairs["logits"][1].argmax(1)).all())
        ceil = sum(1 for node in imported.graph.nodes if node.op == "pool" and node.attrs["ceil_mode"])
        print(f"{name}: {len(pools)} pools ({ceil} in ceil mode), the classifier's input and the logits against "
              "onnxruntime: largest "
              f"relative error {worst:.1e}, top-1 {'agrees' if top1 else 'differs'}")
        failed += worst > 1e-5 or not top1
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("export", "check", "agree"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="NAME",
                        help="torchvision model names (default: " + " ".join(MODELS) + ")")
    parser.add_argument("--network-only", action="store_true", help="check: import only, no timing run")
    parser.add_argument("--kernel", type=Path, default=KERNEL,
                        help="check: the kernel design of the timing run (default: superlip-conv-16bit; "
                             "kernels/superlip-conv-16bit-sigmoid.yaml runs sigmoid and SiLU on the FPGA)")
    args = parser.parse_args()
    models = tuple(args.models)
    if args.step == "export":
        return export(args.folder, models)
    if args.step == "agree":
        return agree(args.folder, models)
    return check(args.folder, models, not args.network_only, args.kernel)


if __name__ == "__main__":
    sys.exit(main())
