"""Write tiny-swin.onnx, tiny-swin-v2.onnx and tiny-maxvit.onnx: torchvision's windowed-attention
transformers, small.

Both are torchvision's own classes, seeded, exported by ``torch.onnx.export(..., opset_version=17,
dynamo=False)`` exactly as a user would export ``swin_t`` or ``maxvit_t``, at sizes that run
functionally in seconds:

- ``SwinTransformer`` on 32×32 inputs: 2×2 patches of 16 channels (a 16×16 map), two stages of two
  blocks (2 and 4 heads) in 4×4 windows, every second block shifted by 2 (the cyclic shift as Slice
  and Concat, the shift mask computed at export from shapes), patch merging in between (strided
  slices), 10 classes. The export stores each block's relative-position bias gathered (16×16 per
  head), not as the (2·4−1)² table torch counts.
- ``SwinTransformer`` with Swin V2's blocks and patch merging (``swin_v2_t``'s classes) on 36×36
  inputs: the same stages on an 18×18 then a 9×9 map, so each block pads its map to whole 4×4
  windows (20×20, 12×12) and crops it back; cosine attention (Q and K normalised per head, a
  learned logit scale per head), the relative-position bias computed by a small MLP from a constant
  table (folded at import), post-norm residuals.
- ``MaxVit`` on 64×64 inputs: an 8-channel stem, two stages of one layer (16 and 32 channels, heads
  of 8), 4×4 partitions, so block attention in 4×4 windows and grid attention over a dilated 4×4
  lattice (stage 2: 2×2 windows and a 2×2-strided grid); MBConv with squeeze-excitation (sigmoid),
  GELU, both products written as Einsum, a Linear → Tanh → Linear classifier, 10 classes; its
  weights drawn with std 1/√fan-in (torchvision's 0.02 shrinks the activations below a 16-bit
  format's resolution).

Needs torch and torchvision (not fpgasim dependencies): run it with a venv that has them,
``python experiments/models/make_tiny_windowed.py``.
"""

from __future__ import annotations

from pathlib import Path

OPSET = 17


def main() -> None:
    import torch
    from torchvision.models import MaxVit, SwinTransformer
    from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformerBlockV2

    torch.manual_seed(0)
    models = {
        "tiny-swin.onnx": (SwinTransformer(patch_size=[2, 2], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                           window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10), 32),
        "tiny-swin-v2.onnx": (SwinTransformer(patch_size=[2, 2], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                                              window_size=[4, 4], stochastic_depth_prob=0.0, num_classes=10,
                                              block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2), 36),
        "tiny-maxvit.onnx": (MaxVit(input_size=(64, 64), stem_channels=8, partition_size=4, block_channels=[16, 32],
                                    block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0, num_classes=10), 64),
    }
    # MaxVit draws every conv and linear weight with std 0.02, under which activations shrink layer
    # by layer to 1e-5 and below, under a 16-bit format's resolution (a trained network's do not);
    # drawn here with std 1/sqrt(fan-in), which keeps their scale, so that a fixed-point run carries
    # information (make_tiny_vit.py redraws ViT's zero head for the same reason)
    for layer in models["tiny-maxvit.onnx"][0].modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.normal_(layer.weight, std=layer.weight[0].numel() ** -0.5)
    for name, (model, side) in models.items():
        path = Path(__file__).with_name(name)
        torch.onnx.export(model.eval(), torch.randn(1, 3, side, side), str(path), opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=["logits"])
        params = sum(p.numel() for p in model.parameters())
        print(f"wrote {path} ({params:,} parameters; torch {torch.__version__})")


if __name__ == "__main__":
    main()
