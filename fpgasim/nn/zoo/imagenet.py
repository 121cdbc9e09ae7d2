"""ImageNet classifiers as graphs, node names following torchvision's module names.

ResNet-18/-50 (He et al. 2016, torchvision's v1.5 bottleneck: stride on the 3×3), MobileNet v1
(Howard et al. 2017), MobileNet v2 (Sandler et al. 2018, torchvision), EfficientNet-B0 (Tan & Le
2019, torchvision), ConvNeXt-T (Liu et al. 2022, torchvision), ViT-B/16 (Dosovitskiy et al. 2021,
torchvision), DenseNet-121/-169 (Huang et al. 2017, torchvision), SqueezeNet 1.1 (torchvision),
AlexNet and VGG16 with their fully connected layers (torchvision's AlexNet: 64/192/384/256/256
channels, 224×224 input), and VGG-S (Chatfield et al. 2014, Table 1). All take a 3×224×224 input.
``batch_norm=False`` folds every batch norm that follows a convolution into it (as an accelerator
runs the network); True keeps each as an ``affine`` node, so the parameters are torchvision's.
DenseNet's pre-activation batch norms follow a concatenation and are ``affine`` nodes either way.
Dropout is not a node (inference).
"""

from __future__ import annotations

from fpgasim.nn.graph import Graph
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.zoo.builder import GraphBuilder

__all__ = ["resnet18", "resnet50", "mobilenet_v1", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "vit_b_16",
           "densenet121", "densenet169",
           "squeezenet1_1",
           "alexnet", "vgg16", "vgg_s"]

_IMAGE = (3, 224, 224)
_CLASSES = 1000


def _classifier(b: GraphBuilder, *widths: int, pool: bool = True) -> Graph:
    """Global average pool (optional), flatten, then fully connected layers (ReLU between them)."""
    if pool:
        b.add("avgpool", Op.GLOBAL_POOL, kind="avg")
    b.add("flatten", Op.FLATTEN)
    for index, width in enumerate(widths):
        name = "fc" if len(widths) == 1 else f"fc{index + 1}"
        b.add(name, Op.LINEAR, out_features=width)
        if index < len(widths) - 1:
            b.add(f"{name}.relu", Op.RELU)
    return b.build()


# --- ResNet ---------------------------------------------------------------------------------------

def _resnet(name: str, blocks: tuple[int, ...], bottleneck: bool, batch: int, batch_norm: bool) -> Graph:
    b = GraphBuilder(name, _IMAGE, batch=batch, batch_norm=batch_norm)
    b.conv_bn("conv1", out_channels=64, kernel=7, stride=2, padding=3)
    b.add("maxpool", Op.POOL, kind="max", kernel=3, stride=2, padding=1)
    channels, expansion = 64, 4 if bottleneck else 1
    for stage, count in enumerate(blocks, start=1):
        width = 64 * 2 ** (stage - 1)
        for index in range(count):
            prefix, x = f"layer{stage}.{index}", b.last
            stride = 2 if stage > 1 and index == 0 else 1
            if bottleneck:
                b.conv_bn(f"{prefix}.conv1", x, out_channels=width, kernel=1)
                b.conv_bn(f"{prefix}.conv2", out_channels=width, kernel=3, stride=stride, padding=1)
                body = b.conv_bn(f"{prefix}.conv3", out_channels=width * expansion, kernel=1, relu=None)
            else:
                b.conv_bn(f"{prefix}.conv1", x, out_channels=width, kernel=3, stride=stride, padding=1)
                body = b.conv_bn(f"{prefix}.conv2", out_channels=width, kernel=3, padding=1, relu=None)
            shortcut = x
            if stride != 1 or channels != width * expansion:
                shortcut = b.conv_bn(f"{prefix}.downsample", x, out_channels=width * expansion, kernel=1,
                                     stride=stride, relu=None)
            b.add(f"{prefix}.add", Op.ADD, body, shortcut)
            b.add(f"{prefix}.relu", Op.RELU)
            channels = width * expansion
    return _classifier(b, _CLASSES)


def resnet18(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """ResNet-18: basic blocks (2, 2, 2, 2)."""
    return _resnet("resnet18", (2, 2, 2, 2), False, batch, batch_norm)


def resnet50(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """ResNet-50: bottleneck blocks (3, 4, 6, 3), stride on the 3×3 conv (torchvision)."""
    return _resnet("resnet50", (3, 4, 6, 3), True, batch, batch_norm)


# --- MobileNet ------------------------------------------------------------------------------------

_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *((512, 1),) * 5, (1024, 2), (1024, 1))


def mobilenet_v1(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """MobileNet v1 (width 1.0, 224): a 3×3/2 conv, 13 depthwise-separable blocks, pool, fc."""
    b = GraphBuilder("mobilenet_v1", _IMAGE, batch=batch, batch_norm=batch_norm)
    b.conv_bn("conv0", out_channels=32, kernel=3, stride=2, padding=1)
    channels = 32
    for index, (width, stride) in enumerate(_V1_BLOCKS, start=1):
        b.conv_bn(f"block{index}.dw", out_channels=channels, kernel=3, stride=stride, padding=1, groups=channels)
        b.conv_bn(f"block{index}.pw", out_channels=width, kernel=1)
        channels = width
    return _classifier(b, _CLASSES)


#: (expansion t, channels c, repeats n, first stride s) of MobileNet v2 (Sandler et al. Table 2).
_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))


def mobilenet_v2(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """MobileNet v2 (width 1.0, 224): inverted residual blocks with linear bottlenecks, ReLU6."""
    b = GraphBuilder("mobilenet_v2", _IMAGE, batch=batch, batch_norm=batch_norm)
    b.conv_bn("features.0", out_channels=32, kernel=3, stride=2, padding=1, relu=Op.RELU6)
    channels, index = 32, 1
    for expansion, width, repeats, first_stride in _V2_SETTINGS:
        for repeat in range(repeats):
            prefix, x, stride = f"features.{index}", b.last, first_stride if repeat == 0 else 1
            hidden = channels * expansion
            if expansion != 1:
                b.conv_bn(f"{prefix}.expand", x, out_channels=hidden, kernel=1, relu=Op.RELU6)
            b.conv_bn(f"{prefix}.dw", out_channels=hidden, kernel=3, stride=stride, padding=1, groups=hidden,
                      relu=Op.RELU6)
            b.conv_bn(f"{prefix}.project", out_channels=width, kernel=1, relu=None)
            if stride == 1 and channels == width:
                b.add(f"{prefix}.add", Op.ADD, b.last, x)
            channels, index = width, index + 1
    b.conv_bn(f"features.{index}", out_channels=1280, kernel=1, relu=Op.RELU6)
    return _classifier(b, _CLASSES)


# --- EfficientNet ---------------------------------------------------------------------------------

#: (expansion, kernel, first stride, channels, repeats) of EfficientNet-B0's stages (Tan & Le 2019,
#: Table 1; torchvision's ``_efficientnet_conf``).
_B0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
              (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def efficientnet_b0(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """EfficientNet-B0 (224): MBConv blocks with SiLU and squeeze-excite (a quarter of the block's
    input channels, sigmoid gate), torchvision's module names; stochastic depth is the identity
    at inference."""
    b = GraphBuilder("efficientnet_b0", _IMAGE, batch=batch, batch_norm=batch_norm)
    b.conv_bn("features.0", out_channels=32, kernel=3, stride=2, padding=1, relu=Op.SILU)
    channels = 32
    for stage, (expansion, kernel, first_stride, width, repeats) in enumerate(_B0_STAGES, start=1):
        for index in range(repeats):
            prefix, x, stride = f"features.{stage}.{index}", b.last, first_stride if index == 0 else 1
            hidden = channels * expansion
            if expansion != 1:
                b.conv_bn(f"{prefix}.expand", x, out_channels=hidden, kernel=1, relu=Op.SILU)
            body = b.conv_bn(f"{prefix}.dw", out_channels=hidden, kernel=kernel, stride=stride,
                             padding=(kernel - 1) // 2, groups=hidden, relu=Op.SILU)
            b.add(f"{prefix}.se.avgpool", Op.GLOBAL_POOL, kind="avg")
            b.add(f"{prefix}.se.fc1", Op.POINTWISE, out_channels=max(1, channels // 4))
            b.add(f"{prefix}.se.silu", Op.SILU)
            b.add(f"{prefix}.se.fc2", Op.POINTWISE, out_channels=hidden)
            gate = b.add(f"{prefix}.se.sigmoid", Op.SIGMOID)
            b.add(f"{prefix}.se.scale", Op.MUL, gate, body)
            b.conv_bn(f"{prefix}.project", out_channels=width, kernel=1, relu=None)
            if stride == 1 and channels == width:
                b.add(f"{prefix}.add", Op.ADD, b.last, x)
            channels = width
    b.conv_bn("features.8", out_channels=1280, kernel=1, relu=Op.SILU)
    return _classifier(b, _CLASSES)


# --- ConvNeXt -------------------------------------------------------------------------------------

#: (blocks, channels) of ConvNeXt-T's four stages (Liu et al. 2022, Sec. 2.6; torchvision's ``convnext_tiny``).
_CONVNEXT_T_STAGES = ((3, 96), (3, 192), (9, 384), (3, 768))
#: ConvNeXt's layer-norm epsilon (torchvision's ``partial(LayerNorm2d, eps=1e-6)``).
_CONVNEXT_EPS = 1e-6


def convnext_tiny(*, batch: int = 1) -> Graph:
    """ConvNeXt-T (224): a 4×4/4 stem and 2×2/2 downsamplings, each with a layer norm over the
    channels; blocks of depthwise 7×7 → layer norm → 1×1 to 4C → GELU → 1×1 back to C → residual
    add. Each block's layer scale (one factor per channel) is folded into its second 1×1 conv, as
    the ONNX importer folds it, so the parameters are torchvision's less one per scaled channel;
    stochastic depth is the identity at inference."""
    b = GraphBuilder("convnext_tiny", _IMAGE, batch=batch, batch_norm=False)
    for stage, (blocks, channels) in enumerate(_CONVNEXT_T_STAGES):
        if stage == 0:
            b.add("features.0.0", Op.CONV, out_channels=channels, kernel=4, stride=4)
            b.add("features.0.1", Op.LAYERNORM, eps=_CONVNEXT_EPS)
        else:
            b.add(f"features.{2 * stage}.0", Op.LAYERNORM, eps=_CONVNEXT_EPS)
            b.add(f"features.{2 * stage}.1", Op.CONV, out_channels=channels, kernel=2, stride=2)
        for index in range(blocks):
            prefix, x = f"features.{2 * stage + 1}.{index}", b.last
            b.add(f"{prefix}.block.0", Op.DEPTHWISE, kernel=7, padding=3)
            b.add(f"{prefix}.block.2", Op.LAYERNORM, eps=_CONVNEXT_EPS)
            b.add(f"{prefix}.block.3", Op.POINTWISE, out_channels=4 * channels)
            b.add(f"{prefix}.block.4", Op.GELU)
            b.add(f"{prefix}.block.5", Op.POINTWISE, out_channels=channels)
            b.add(f"{prefix}.add", Op.ADD, b.last, x)
    b.add("avgpool", Op.GLOBAL_POOL, kind="avg")
    b.add("classifier.0", Op.LAYERNORM, eps=_CONVNEXT_EPS)
    b.add("classifier.1", Op.FLATTEN)
    b.add("classifier.2", Op.LINEAR, out_features=_CLASSES)
    return b.build()


# --- Vision Transformer --------------------------------------------------------------------------

#: ViT-B/16 (Dosovitskiy et al. 2021, Table 1; torchvision's ``vit_b_16``): patch side, hidden size D,
#: encoder layers, attention heads, MLP size.
_VIT_B_16 = (16, 768, 12, 12, 3072)
#: ViT's layer-norm epsilon (torchvision's ``partial(nn.LayerNorm, eps=1e-6)``).
_VIT_EPS = 1e-6


def vit_b_16(*, batch: int = 1) -> Graph:
    """ViT-B/16 (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"; torchvision's ``vit_b_16``,
    its module names). Tokens are stored as (D, tokens, 1) per sample: a 16×16/16 conv to 196
    patches, a stored class token concatenated before them along the height and a stored position
    embedding added (both count as parameters, as torchvision counts them); 12 pre-norm encoder
    layers of layer norm → packed q, k, v projection → per-head scores (scale 1/√64) → softmax per
    head → attend → out projection → residual add, then layer norm → 3072 → GELU → 768 → residual
    add; a final layer norm, the class token's row and a linear head. Dropout is the identity at
    inference."""
    patch, hidden, layers, heads, mlp = _VIT_B_16
    tokens = (_IMAGE[1] // patch) * (_IMAGE[2] // patch)
    b = GraphBuilder("vit_b_16", _IMAGE, batch=batch, batch_norm=False)
    b.add("conv_proj", Op.CONV, out_channels=hidden, kernel=patch, stride=patch)
    patches = b.add("conv_proj.tokens", Op.RESHAPE, shape=(hidden, tokens, 1))
    cls = b.constant("class_token", (hidden, 1, 1))
    x = b.add("class_token.concat", Op.CONCAT, cls, patches, axis=1)
    pos = b.constant("encoder.pos_embedding", (hidden, tokens + 1, 1))
    x = b.add("encoder.pos_embedding.add", Op.ADD, x, pos)
    for layer in range(layers):
        prefix = f"encoder.layers.encoder_layer_{layer}"
        attention = f"{prefix}.self_attention"
        b.add(f"{prefix}.ln_1", Op.LAYERNORM, x, eps=_VIT_EPS)
        qkv = b.add(f"{attention}.in_proj", Op.POINTWISE, out_channels=3 * hidden)
        q, k, v = (b.add(f"{attention}.{part}", Op.SLICE, qkv, start=i * hidden, stop=(i + 1) * hidden, axis=0)
                   for i, part in enumerate("qkv"))
        b.add(f"{attention}.scores", Op.SCORES, q, k, heads=heads, scale=(hidden // heads) ** -0.5)
        b.add(f"{attention}.softmax", Op.SOFTMAX, groups=heads)
        b.add(f"{attention}.attend", Op.ATTEND, b.last, v, heads=heads)
        b.add(f"{attention}.out_proj", Op.POINTWISE, out_channels=hidden)
        x = b.add(f"{prefix}.add", Op.ADD, b.last, x)
        b.add(f"{prefix}.ln_2", Op.LAYERNORM, eps=_VIT_EPS)
        b.add(f"{prefix}.mlp.0", Op.POINTWISE, out_channels=mlp)
        b.add(f"{prefix}.mlp.1", Op.GELU)
        b.add(f"{prefix}.mlp.3", Op.POINTWISE, out_channels=hidden)
        x = b.add(f"{prefix}.add_1", Op.ADD, x, b.last)
    b.add("encoder.ln", Op.LAYERNORM, eps=_VIT_EPS)
    b.add("class_token.select", Op.SLICE, start=0, stop=1, axis=1)
    b.add("heads.head", Op.LINEAR, out_features=_CLASSES)
    return b.build()


# --- DenseNet -------------------------------------------------------------------------------------

def _densenet(name: str, blocks: tuple[int, ...], batch: int, batch_norm: bool, growth: int = 32,
              bottleneck: int = 4) -> Graph:
    b = GraphBuilder(name, _IMAGE, batch=batch, batch_norm=batch_norm)
    b.conv_bn("features.conv0", out_channels=64, kernel=7, stride=2, padding=3)
    b.add("features.pool0", Op.POOL, kind="max", kernel=3, stride=2, padding=1)
    channels = 64
    for block, layers in enumerate(blocks, start=1):
        for layer in range(1, layers + 1):
            prefix, features = f"features.denseblock{block}.denselayer{layer}", b.last
            b.add(f"{prefix}.norm1", Op.AFFINE, features)
            b.add(f"{prefix}.relu1", Op.RELU)
            b.conv_bn(f"{prefix}.conv1", out_channels=bottleneck * growth, kernel=1)
            b.add(f"{prefix}.conv2", Op.CONV, out_channels=growth, kernel=3, padding=1, bias=False)
            b.add(f"{prefix}.concat", Op.CONCAT, features, b.last)
            channels += growth
        if block < len(blocks):
            prefix = f"features.transition{block}"
            b.add(f"{prefix}.norm", Op.AFFINE)
            b.add(f"{prefix}.relu", Op.RELU)
            channels //= 2
            b.add(f"{prefix}.conv", Op.CONV, out_channels=channels, kernel=1, bias=False)
            b.add(f"{prefix}.pool", Op.POOL, kind="avg", kernel=2, stride=2)
    b.add("features.norm5", Op.AFFINE)
    b.add("features.relu5", Op.RELU)
    return _classifier(b, _CLASSES)


def densenet121(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """DenseNet-121: dense blocks (6, 12, 24, 16), growth 32, bottleneck 4·growth."""
    return _densenet("densenet121", (6, 12, 24, 16), batch, batch_norm)


def densenet169(*, batch: int = 1, batch_norm: bool = False) -> Graph:
    """DenseNet-169: dense blocks (6, 12, 32, 32), growth 32, bottleneck 4·growth."""
    return _densenet("densenet169", (6, 12, 32, 32), batch, batch_norm)


# --- SqueezeNet, AlexNet, VGG ---------------------------------------------------------------------

def _fire(b: GraphBuilder, prefix: str, squeeze: int, expand: int) -> None:
    """A fire module: squeeze 1×1 → expand 1×1 ‖ expand 3×3, concatenated."""
    s = b.conv_bn(f"{prefix}.squeeze", out_channels=squeeze, kernel=1)
    e1 = b.conv_bn(f"{prefix}.expand1x1", s, out_channels=expand, kernel=1)
    e3 = b.conv_bn(f"{prefix}.expand3x3", s, out_channels=expand, kernel=3, padding=1)
    b.add(f"{prefix}.concat", Op.CONCAT, e1, e3)


def squeezenet1_0(*, batch: int = 1) -> Graph:
    """SqueezeNet 1.0 as its paper defines it (Iandola et al. 2016; torchvision's layer names): a 7×7/2
    conv of 96, then fire modules between three max pools. torchvision's ceil-mode pools give
    109 → 54 → 27 → 13 at 224×224; the middle one (54 → 27) is a floor-mode pool with padding 1
    here: the same sizes and work, windows shifted by one element."""
    b = GraphBuilder("squeezenet1_0", _IMAGE, batch=batch, batch_norm=False)
    b.conv_bn("features.0", out_channels=96, kernel=7, stride=2)
    fires = {3: (16, 64), 4: (16, 64), 5: (32, 128), 7: (32, 128), 8: (48, 192), 9: (48, 192), 10: (64, 256),
             12: (64, 256)}
    for index in range(2, 13):
        if index in (2, 6, 11):
            b.add(f"features.{index}", Op.POOL, kind="max", kernel=3, stride=2, padding=1 if index == 6 else 0)
            continue
        _fire(b, f"features.{index}", *fires[index])
    b.conv_bn("classifier.1", out_channels=_CLASSES, kernel=1)
    b.add("classifier.pool", Op.GLOBAL_POOL, kind="avg")
    b.add("flatten", Op.FLATTEN)
    return b.build()


def squeezenet1_1(*, batch: int = 1) -> Graph:
    """SqueezeNet 1.1: fire modules (squeeze 1×1 → expand 1×1 ‖ expand 3×3); its ceil-mode pools
    give floor-mode sizes at 224×224."""
    b = GraphBuilder("squeezenet1_1", _IMAGE, batch=batch, batch_norm=False)
    b.conv_bn("features.0", out_channels=64, kernel=3, stride=2)
    fires = {3: (16, 64), 4: (16, 64), 6: (32, 128), 7: (32, 128), 9: (48, 192), 10: (48, 192), 11: (64, 256),
             12: (64, 256)}
    for index in range(2, 13):
        if index in (2, 5, 8):
            b.add(f"features.{index}", Op.POOL, kind="max", kernel=3, stride=2)
            continue
        _fire(b, f"features.{index}", *fires[index])
    b.conv_bn("classifier.1", out_channels=_CLASSES, kernel=1)
    b.add("classifier.pool", Op.GLOBAL_POOL, kind="avg")
    b.add("flatten", Op.FLATTEN)
    return b.build()


def alexnet(*, batch: int = 1) -> Graph:
    """torchvision's AlexNet with its classifier: 5 convs (64, 192, 384, 256, 256), 3 max pools, 3 fc."""
    b = GraphBuilder("alexnet", _IMAGE, batch=batch, batch_norm=False)
    for name, width, kernel, stride, padding, pool in (("conv1", 64, 11, 4, 2, True), ("conv2", 192, 5, 1, 2, True),
                                                       ("conv3", 384, 3, 1, 1, False), ("conv4", 256, 3, 1, 1, False),
                                                       ("conv5", 256, 3, 1, 1, True)):
        b.conv_bn(name, out_channels=width, kernel=kernel, stride=stride, padding=padding)
        if pool:
            b.add(f"pool{name[-1]}", Op.POOL, kind="max", kernel=3, stride=2)
    return _classifier(b, 4096, 4096, _CLASSES, pool=False)


def vgg16(*, batch: int = 1) -> Graph:
    """VGG16 (configuration D) with its three fully connected layers."""
    b = GraphBuilder("vgg16", _IMAGE, batch=batch, batch_norm=False)
    for block, widths in enumerate(((64, 64), (128, 128), (256,) * 3, (512,) * 3, (512,) * 3), start=1):
        for index, width in enumerate(widths, start=1):
            b.conv_bn(f"conv{block}_{index}", out_channels=width, kernel=3, padding=1)
        b.add(f"pool{block}", Op.POOL, kind="max", kernel=2, stride=2)
    return _classifier(b, 4096, 4096, _CLASSES, pool=False)


def vgg_s(*, batch: int = 1) -> Graph:
    """VGG-S (Chatfield et al. 2014, Table 1): conv1 96 7×7/2 + pool 3/3, conv2 256 5×5 + pool 2/2,
    conv3-5 512 3×3 + pool 3/3, fc 4096, 4096, 1000. LRN is left out (no parameters, no MACs); pool5
    pads one row/column as the MatConvNet model does, so fc6 reads 512×6×6."""
    b = GraphBuilder("vgg_s", _IMAGE, batch=batch, batch_norm=False)
    b.conv_bn("conv1", out_channels=96, kernel=7, stride=2)
    b.add("pool1", Op.POOL, kind="max", kernel=3, stride=3)
    b.conv_bn("conv2", out_channels=256, kernel=5, padding=1)
    b.add("pool2", Op.POOL, kind="max", kernel=2, stride=2)
    for index in (3, 4, 5):
        b.conv_bn(f"conv{index}", out_channels=512, kernel=3, padding=1)
    b.add("pool5", Op.POOL, kind="max", kernel=3, stride=3, padding=1)
    return _classifier(b, 4096, 4096, _CLASSES, pool=False)
