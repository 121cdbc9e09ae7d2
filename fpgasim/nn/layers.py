"""Typed layer specifications of the network IR (per sample; the batch lives on the Network).

Owns the frozen, shape-carrying layer specs: :class:`Conv2d`, :class:`Depthwise`,
:class:`Pointwise`, :class:`Pool`, :class:`GlobalAvgPool`, :class:`Linear`, :class:`Affine`. Shapes are
``(channels, height, width)`` in elements; counts are per sample. Every spec validates its
fields on construction and raises :class:`~fpgasim.errors.BadArgument` naming the layer, the
field, the value and what was expected. A window's ``kernel``, ``stride`` and ``padding`` are each
an int (square) or [height, width]; the spec stores the canonical
:data:`~fpgasim.ops.window.Pair` (an int when both axes agree) and gives the per-axis values as
``kernel_h``/``kernel_w``, ``stride_h``/``stride_w``, ``pad_h``/``pad_w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fpgasim.errors import BadArgument
from fpgasim.nn._checks import check_bool, check_int, check_name, check_window, out_size, parse_choice
from fpgasim.ops.window import Pair, WindowAxes

__all__ = ["Shape", "Conv2d", "Depthwise", "Pointwise", "HeadMatmul", "PoolKind", "Pool", "GlobalAvgPool", "Linear",
           "Affine", "StoredTensor"]

#: A feature-map shape per sample: (channels, height, width), in elements.
Shape = tuple[int, int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Conv2d(WindowAxes):
    """A 2-D convolution (cross-correlation) with stride, zero padding and channel groups.

    Attributes:
        name: layer name, unique within a network.
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        in_h, in_w: input height and width in elements.
        kernel: kernel size K (square) or (KH, KW).
        stride: stride S (both axes) or (SH, SW).
        padding: zero padding per side in elements (both axes) or (PH, PW), the same on both sides of an axis.
        groups: number of channel groups (1 = dense, in_channels = depthwise).
        bias: whether the layer adds one bias per output channel.

    Raises:
        BadArgument: a non-positive size, channels not divisible by groups, or a kernel that
            does not fit the padded input.
    """

    name: str
    in_channels: int
    out_channels: int
    in_h: int
    in_w: int
    kernel: Pair
    stride: Pair = 1
    padding: Pair = 0
    groups: int = 1
    bias: bool = True

    def __post_init__(self) -> None:
        check_name("Conv2d", self.name)
        owner = f"Conv2d {self.name!r}"
        for field in ("in_channels", "out_channels", "in_h", "in_w"):
            check_int(owner, field, getattr(self, field), minimum=1)
        check_window(owner, self)
        check_int(owner, "groups", self.groups, minimum=1)
        check_bool(owner, "bias", self.bias)
        for field in ("in_channels", "out_channels"):
            if getattr(self, field) % self.groups:
                raise BadArgument(
                    f"{owner}: {field}={getattr(self, field)} is not divisible by groups={self.groups}"
                )
        out_size(owner, self.in_h, self.kernel_h, self.stride_h, self.pad_h, "h")
        out_size(owner, self.in_w, self.kernel_w, self.stride_w, self.pad_w, "w")

    @property
    def out_h(self) -> int:
        """Output height in elements."""
        return out_size(self.name, self.in_h, self.kernel_h, self.stride_h, self.pad_h, "h")

    @property
    def out_w(self) -> int:
        """Output width in elements."""
        return out_size(self.name, self.in_w, self.kernel_w, self.stride_w, self.pad_w, "w")

    @property
    def in_shape(self) -> Shape:
        """Input shape (C, H, W)."""
        return (self.in_channels, self.in_h, self.in_w)

    @property
    def out_shape(self) -> Shape:
        """Output shape (C, H, W)."""
        return (self.out_channels, self.out_h, self.out_w)

    @property
    def weight_elems(self) -> int:
        """Weight elements: out_channels · (in_channels / groups) · KH · KW."""
        return self.out_channels * (self.in_channels // self.groups) * self.kernel_h * self.kernel_w

    @property
    def params_weights(self) -> int:
        """Weight parameters (same as :attr:`weight_elems`)."""
        return self.weight_elems

    @property
    def params_biases(self) -> int:
        """Bias parameters: out_channels if ``bias`` else 0."""
        return self.out_channels if self.bias else 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates per sample: out elements · (in_channels / groups) · KH · KW."""
        return self.ofm_elems * (self.in_channels // self.groups) * self.kernel_h * self.kernel_w

    @property
    def ifm_elems(self) -> int:
        """Input feature-map elements per sample (unpadded)."""
        return self.in_channels * self.in_h * self.in_w

    @property
    def ofm_elems(self) -> int:
        """Output feature-map elements per sample."""
        return self.out_channels * self.out_h * self.out_w

    def as_conv(self) -> Conv2d:
        """This layer as a :class:`Conv2d` (itself)."""
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class Depthwise(WindowAxes):
    """A depthwise convolution: one KH×KW filter per channel (a Conv2d with groups = channels).

    Attributes:
        name: layer name.
        channels: input = output channels.
        in_h, in_w: input size in elements.
        kernel, stride, padding: as for :class:`Conv2d`.
        bias: one bias per channel.

    Raises:
        BadArgument: as for :class:`Conv2d`.
    """

    name: str
    channels: int
    in_h: int
    in_w: int
    kernel: Pair
    stride: Pair = 1
    padding: Pair = 0
    bias: bool = True

    def __post_init__(self) -> None:
        check_name("Depthwise", self.name)
        check_int(f"Depthwise {self.name!r}", "channels", self.channels, minimum=1)
        check_window(f"Depthwise {self.name!r}", self)
        self.as_conv()

    def as_conv(self) -> Conv2d:
        """The equivalent grouped :class:`Conv2d` (groups = channels)."""
        return Conv2d(name=self.name, in_channels=self.channels, out_channels=self.channels,
                      in_h=self.in_h, in_w=self.in_w, kernel=self.kernel, stride=self.stride,
                      padding=self.padding, groups=self.channels, bias=self.bias)

    def __getattr__(self, attr: str):  # noqa: D105 - delegate derived counts to the conv view
        if attr in _DERIVED:
            return getattr(self.as_conv(), attr)
        raise AttributeError(attr)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pointwise:
    """A 1×1 convolution mixing channels (a Conv2d with kernel 1, stride 1, no padding).

    Attributes:
        name: layer name.
        in_channels, out_channels: channel counts.
        in_h, in_w: input size in elements (= output size).
        bias: one bias per output channel.

    Raises:
        BadArgument: as for :class:`Conv2d`.
    """

    name: str
    in_channels: int
    out_channels: int
    in_h: int
    in_w: int
    bias: bool = True

    def __post_init__(self) -> None:
        check_name("Pointwise", self.name)
        self.as_conv()

    def as_conv(self) -> Conv2d:
        """The equivalent :class:`Conv2d` (kernel 1)."""
        return Conv2d(name=self.name, in_channels=self.in_channels, out_channels=self.out_channels,
                      in_h=self.in_h, in_w=self.in_w, kernel=1, bias=self.bias)

    def __getattr__(self, attr: str):  # noqa: D105 - delegate derived counts to the conv view
        if attr in _DERIVED:
            return getattr(self.as_conv(), attr)
        raise AttributeError(attr)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeadMatmul:
    """A product of two computed tensors per attention head (``scores``: Q·Kᵀ, ``attend``: P·V), as a
    grouped 1×1 convolution whose weights are the second operand: ``groups`` heads, each mixing its
    ``in_channels / groups`` input channels into its ``out_channels / groups`` outputs at every one of
    the ``in_h × in_w`` positions. It has the convolution's MACs and weight traffic but no parameters
    (its "weights" are computed, and per sample).

    Windowed attention cuts the map into :attr:`windows` windows of ``window_h × window_w``
    positions, each its own product with its own weights (its window's keys or values): the MAC
    array runs :meth:`as_conv`, the convolution of ONE window, for batch·:attr:`windows` samples.
    The counts (shapes, MACs, feature-map and weight elements) are still per sample over the whole
    map: :attr:`windows` times one window's.

    Attributes:
        name: layer name.
        in_channels, out_channels: channel counts (both divisible by ``groups``).
        in_h, in_w: positions of the first operand (= of the output).
        groups: attention heads.
        window_h, window_w: a window's height and width (None: the whole map, one window).

    Raises:
        BadArgument: as for :class:`Conv2d`; a window size that is not a positive divisor of the map's.
    """

    name: str
    in_channels: int
    out_channels: int
    in_h: int
    in_w: int
    groups: int
    window_h: int | None = None
    window_w: int | None = None

    def __post_init__(self) -> None:
        check_name("HeadMatmul", self.name)
        owner = f"HeadMatmul {self.name!r}"
        for field, size in (("window_h", "in_h"), ("window_w", "in_w")):
            if getattr(self, field) is None:
                object.__setattr__(self, field, getattr(self, size))
            check_int(owner, field, getattr(self, field), minimum=1)
            if getattr(self, size) % getattr(self, field):
                raise BadArgument(f"{owner}: {field}={getattr(self, field)}: expected a divisor of "
                                  f"{size}={getattr(self, size)}")
        self.as_conv()

    def as_conv(self) -> Conv2d:
        """One window's grouped :class:`Conv2d` (kernel 1, no bias), as the MAC array runs it."""
        return Conv2d(name=self.name, in_channels=self.in_channels, out_channels=self.out_channels,
                      in_h=self.window_h, in_w=self.window_w, kernel=1, groups=self.groups, bias=False)

    params_weights = params_biases = property(lambda self: 0, doc="None: the second operand is computed.")
    bias = False
    out_h = property(lambda self: self.in_h, doc="Output height (= input height).")
    out_w = property(lambda self: self.in_w, doc="Output width (= input width).")
    in_shape = property(lambda self: (self.in_channels, self.in_h, self.in_w), doc="Input shape (C, H, W).")
    out_shape = property(lambda self: (self.out_channels, self.in_h, self.in_w), doc="Output shape (M, H, W).")
    ifm_elems = property(lambda self: self.in_channels * self.in_h * self.in_w,
                         doc="First operand's elements per sample.")
    ofm_elems = property(lambda self: self.out_channels * self.in_h * self.in_w, doc="Output elements per sample.")

    @property
    def windows(self) -> int:
        """Windows per sample: (in_h / window_h) · (in_w / window_w) (1: unwindowed)."""
        return (self.in_h // self.window_h) * (self.in_w // self.window_w)

    @property
    def weight_elems(self) -> int:
        """Second-operand elements the array reads per sample: every window's weights."""
        return self.windows * self.as_conv().weight_elems

    @property
    def macs(self) -> int:
        """MACs per sample: every window's (scores: E·L per position, attend: L·Ev/heads per output)."""
        return self.windows * self.as_conv().macs


#: Derived properties that Depthwise/Pointwise take from their Conv2d view (HeadMatmul has its own).
_DERIVED = frozenset({"out_h", "out_w", "in_shape", "out_shape", "weight_elems", "params_weights",
                      "params_biases", "macs", "ifm_elems", "ofm_elems", "in_channels", "out_channels",
                      "groups"})


class PoolKind(StrEnum):
    """Pooling reduction."""

    MAX = "max"
    AVG = "avg"


@dataclass(frozen=True, slots=True, kw_only=True)
class Pool(WindowAxes):
    """Max or average pooling over KH×KW windows, per channel.

    Attributes:
        name: layer name.
        kind: ``max`` or ``avg`` (:class:`PoolKind`).
        channels: channel count (unchanged).
        in_h, in_w: input size in elements.
        kernel, stride, padding: window size, stride and zero padding per side (each an int or
            (height, width)).
        ceil_mode: PyTorch's / ONNX's ceil-mode output size (the last window may run past the
            right padding; :func:`fpgasim.ops.conv.output_size`); False = floor mode.

    Raises:
        BadArgument: a bad kind, a non-positive size, a non-bool ceil_mode or a window that does not fit.
    """

    name: str
    kind: PoolKind
    channels: int
    in_h: int
    in_w: int
    kernel: Pair
    stride: Pair
    padding: Pair = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        check_name("Pool", self.name)
        owner = f"Pool {self.name!r}"
        object.__setattr__(self, "kind", parse_choice(owner, "kind", PoolKind, self.kind))
        for field in ("channels", "in_h", "in_w"):
            check_int(owner, field, getattr(self, field), minimum=1)
        check_window(owner, self)
        check_bool(owner, "ceil_mode", self.ceil_mode)
        out_size(owner, self.in_h, self.kernel_h, self.stride_h, self.pad_h, "h")
        out_size(owner, self.in_w, self.kernel_w, self.stride_w, self.pad_w, "w")

    @property
    def out_h(self) -> int:
        """Output height in elements (floor or ceil mode)."""
        return out_size(self.name, self.in_h, self.kernel_h, self.stride_h, self.pad_h, "h", ceil_mode=self.ceil_mode)

    @property
    def out_w(self) -> int:
        """Output width in elements (floor or ceil mode)."""
        return out_size(self.name, self.in_w, self.kernel_w, self.stride_w, self.pad_w, "w", ceil_mode=self.ceil_mode)

    @property
    def in_shape(self) -> Shape:
        """Input shape (C, H, W)."""
        return (self.channels, self.in_h, self.in_w)

    @property
    def out_shape(self) -> Shape:
        """Output shape (C, H', W')."""
        return (self.channels, self.out_h, self.out_w)

    weight_elems = params_weights = params_biases = property(lambda self: 0)

    @property
    def macs(self) -> int:
        """Window operations per sample (compare/add counted as one MAC): out elements · KH · KW."""
        return self.ofm_elems * self.kernel_h * self.kernel_w

    @property
    def ifm_elems(self) -> int:
        """Input elements per sample."""
        return self.channels * self.in_h * self.in_w

    @property
    def ofm_elems(self) -> int:
        """Output elements per sample."""
        return self.channels * self.out_h * self.out_w


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalAvgPool:
    """Average over the whole H×W map, per channel; output shape (channels, 1, 1).

    Raises:
        BadArgument: a non-positive size.
    """

    name: str
    channels: int
    in_h: int
    in_w: int

    def __post_init__(self) -> None:
        check_name("GlobalAvgPool", self.name)
        for field in ("channels", "in_h", "in_w"):
            check_int(f"GlobalAvgPool {self.name!r}", field, getattr(self, field), minimum=1)

    out_h = out_w = property(lambda self: 1)
    in_shape = Pool.in_shape
    out_shape = Pool.out_shape
    weight_elems = params_weights = params_biases = property(lambda self: 0)
    ifm_elems = Pool.ifm_elems
    ofm_elems = Pool.ofm_elems

    @property
    def macs(self) -> int:
        """Additions per sample (counted as MACs): channels · H · W."""
        return self.ifm_elems


@dataclass(frozen=True, slots=True, kw_only=True)
class Linear:
    """A fully connected layer; its input is the previous output flattened (C·H·W elements).

    Attributes:
        name: layer name.
        in_features, out_features: vector lengths in elements.
        bias: one bias per output feature.

    Raises:
        BadArgument: a non-positive size.
    """

    name: str
    in_features: int
    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        check_name("Linear", self.name)
        for field in ("in_features", "out_features"):
            check_int(f"Linear {self.name!r}", field, getattr(self, field), minimum=1)
        check_bool(f"Linear {self.name!r}", "bias", self.bias)

    in_shape = property(lambda self: (self.in_features, 1, 1), doc="Input shape (in_features, 1, 1).")
    out_shape = property(lambda self: (self.out_features, 1, 1), doc="Output shape (out_features, 1, 1).")
    out_h = out_w = property(lambda self: 1)
    weight_elems = params_weights = property(lambda self: self.in_features * self.out_features)
    params_biases = property(lambda self: self.out_features if self.bias else 0)
    macs = property(lambda self: self.in_features * self.out_features, doc="MACs per sample.")
    ifm_elems = property(lambda self: self.in_features)
    ofm_elems = property(lambda self: self.out_features)


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelMap:
    """A layer that keeps a (channels, in_h, in_w) map's shape, with those fields checked."""

    name: str
    channels: int
    in_h: int
    in_w: int

    def __post_init__(self) -> None:
        kind = type(self).__name__
        check_name(kind, self.name)
        for field in ("channels", "in_h", "in_w"):
            check_int(f"{kind} {self.name!r}", field, getattr(self, field), minimum=1)

    in_shape = out_shape = Pool.in_shape


@dataclass(frozen=True, slots=True, kw_only=True)
class Affine(_ChannelMap):
    """A per-channel scale and shift, ``y = weight[c] · x + bias[c]``: an inference-time batch norm
    that no convolution precedes (DenseNet's pre-activation), or a per-channel constant product/sum.

    Attributes:
        name: layer name.
        channels: channel count (unchanged).
        in_h, in_w: input size in elements.

    Raises:
        BadArgument: a non-positive size.
    """

    bias = True
    params_weights = params_biases = property(lambda self: self.channels, doc="One scale / one shift per channel.")
    macs = property(lambda self: 0, doc="No MACs: scaling is element-wise work (one per output element).")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredTensor(_ChannelMap):
    """A tensor the network stores and reads as it is (ViT's class token and position embedding).

    Attributes:
        name: layer name.
        channels, in_h, in_w: its shape per sample (the same for every sample).

    Raises:
        BadArgument: a non-positive size.
    """

    bias = False
    params_weights = property(lambda self: self.channels * self.in_h * self.in_w, doc="Every stored value.")
    params_biases = macs = property(lambda self: 0)
