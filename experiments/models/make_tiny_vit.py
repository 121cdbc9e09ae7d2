"""Write tiny-vit.onnx: the model experiments/onnx-tiny-vit-zcu102.yaml imports.

torchvision's own ``VisionTransformer`` at a CIFAR size (32×32 input, 8×8 patches → 16 tokens and a
class token, 2 encoder layers, 4 heads, embedding 32, MLP 64, 10 classes), seeded, exported by
``torch.onnx.export(..., opset_version=17, dynamo=False)`` exactly as a user would export
``vit_b_16``: the same multi-head attention graph (packed Q/K/V projection, per-head reshapes and
transposes, scaled Q and Kᵀ, MatMul, Softmax, MatMul) at a size that runs functionally in seconds.
torchvision initialises the classification head to zero; it is drawn at random here so that the
logits carry information. Needs torch and torchvision (not fpgasim dependencies): run it with a
venv that has them, ``python experiments/models/make_tiny_vit.py``.
"""

from __future__ import annotations

from pathlib import Path

OPSET = 17


def main() -> None:
    import torch
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=32,
                              mlp_dim=64, num_classes=10).eval()
    torch.nn.init.normal_(model.heads.head.weight, std=0.2)
    torch.nn.init.normal_(model.heads.head.bias, std=0.1)
    path = Path(__file__).with_name("tiny-vit.onnx")
    torch.onnx.export(model, torch.randn(1, 3, 32, 32), str(path), opset_version=OPSET, dynamo=False,
                      input_names=["input"], output_names=["logits"])
    print(f"wrote {path} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
