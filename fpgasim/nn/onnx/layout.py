"""How an ONNX tensor lays out the values of the IR node that holds them: :class:`View`.

An IR node stores (N, C, H, W). A transformer's export moves those values through reshapes and
transposes that the IR need not perform: ViT's (N, E, 14, 14) patches become (N, 196, E) tokens,
(196, N, E) for attention, (196, N, 3, E) for the packed Q/K/V projection, (N, heads, 196, E/heads)
per head. A :class:`View` follows them without moving data: the storage is cut into *factors*
(major to minor; a dimension of size D cut into (a, D/a) holds index i at (i // (D/a), i % (D/a))),
and each ONNX axis is a tuple of factors, its index the mixed-radix number of theirs in that order.
A reshape regroups (and if needed cuts) factors, a transpose permutes axes, a gather of one index
of a factor that is the major part of its dimension is a slice of that dimension. Parsers ask the
view where the channels are (:meth:`View.axis_of`) and whether it is the storage order itself.
Pure: no IR nodes are emitted here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod

__all__ = ["View", "LayoutError", "BATCH", "CHANNELS", "HEIGHT", "WIDTH"]

#: The storage dimensions of an IR node's (N, C, H, W) array.
BATCH, CHANNELS, HEIGHT, WIDTH = range(4)


class LayoutError(ValueError):
    """A reshape or gather that the factors of a view cannot express (the caller names the node)."""


@dataclass(frozen=True, slots=True)
class View:
    """ONNX axes over an IR node's (N, C, H, W) storage (module docstring).

    Attributes:
        sizes: every factor's size, in storage order (major to minor; sizes 1 are dropped).
        dims: the storage dimension (:data:`BATCH` … :data:`WIDTH`) of each factor.
        axes: per ONNX axis, its factors (indices into ``sizes``), major to minor; () for size 1.
    """

    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    axes: tuple[tuple[int, ...], ...]

    @classmethod
    def of_storage(cls, storage: Sequence[int], shape: Sequence[int]) -> View:
        """The row-major ``shape`` of an IR node whose (N, C, H, W) is ``storage``.

        Raises:
            LayoutError: a reshape whose axis boundaries cut a dimension unevenly.
        """
        kept = [(size, dim) for dim, size in enumerate(storage) if size > 1]
        whole = cls(tuple(s for s, _ in kept), tuple(d for _, d in kept), (tuple(range(len(kept))),))
        return whole.reshape(shape)

    @property
    def shape(self) -> tuple[int, ...]:
        """The ONNX shape."""
        return tuple(prod(self.sizes[f] for f in axis) for axis in self.axes)

    def factors_of(self, dim: int) -> tuple[int, ...]:
        """The factors of storage dimension ``dim``, major to minor."""
        return tuple(f for f, d in enumerate(self.dims) if d == dim)

    def axis_of(self, factors: Sequence[int]) -> int | None:
        """The ONNX axis that holds exactly ``factors`` in that order (None: no axis does)."""
        return next((i for i, axis in enumerate(self.axes) if axis == tuple(factors)), None)

    @property
    def channel_axis(self) -> int | None:
        """The ONNX axis that holds every channel in storage order (None: none does)."""
        return self.axis_of(self.factors_of(CHANNELS)) if self.factors_of(CHANNELS) else None

    @property
    def is_storage_order(self) -> bool:
        """Whether the ONNX tensor is the storage, row-major (a plain reshape of it)."""
        return [f for axis in self.axes for f in axis] == list(range(len(self.sizes)))

    def dim_permutation(self) -> tuple[int, ...] | None:
        """The order of the storage dimensions along the ONNX axes when every axis holds whole
        dimensions in storage order and each dimension sits on one axis (None otherwise)."""
        order: list[int] = []
        for axis in self.axes:
            dims = list(dict.fromkeys(self.dims[f] for f in axis))
            # each dimension's factors one after another (not interleaved with another's), all of them
            if list(axis) != [f for dim in dims for f in self.factors_of(dim)] or set(dims) & set(order):
                return None
            order.extend(dims)
        return tuple(order)

    def transpose(self, perm: Sequence[int]) -> View:
        """The ONNX Transpose ``perm`` of this tensor."""
        return View(self.sizes, self.dims, tuple(self.axes[p] for p in perm))

    def reshape(self, shape: Sequence[int]) -> View:
        """The ONNX Reshape to ``shape`` (sizes known): factors regrouped in ONNX order, a factor
        cut in two (major, minor) where an axis boundary falls inside it.

        Raises:
            LayoutError: an axis boundary that does not divide the factor it falls in.
        """
        sizes = dict(enumerate(self.sizes))
        dims = dict(enumerate(self.dims))
        order = list(range(len(self.sizes)))
        queue: deque[int] = deque()
        last: dict[int, int] = {}  # a factor in the queue → the last factor merged into it
        for factor in (f for axis in self.axes for f in axis):
            # A factor read right after the one above it in its dimension is one run with it: merge
            # them, or a later boundary inside the run (a split undone, then cut elsewhere) is refused.
            if queue and last[queue[-1]] == factor - 1 and dims[factor] == dims[queue[-1]]:
                sizes[queue[-1]] *= sizes[factor]  # (kept: new factors are numbered len(sizes) on)
                order.remove(factor)
                last[queue[-1]] = factor
            else:
                queue.append(factor)
                last[factor] = factor
        axes: list[list[int]] = []
        for target in shape:
            axis, got = [], 1
            while got < target:
                if not queue:
                    raise LayoutError(f"shape {list(shape)} has more elements than {list(self.shape)}")
                factor = queue.popleft()
                if target % (got * sizes[factor]) == 0:
                    axis.append(factor)
                    got *= sizes[factor]
                    continue
                need = target // got
                if target % got or sizes[factor] % need:
                    raise LayoutError(f"reshape {list(self.shape)} → {list(shape)} cuts a dimension of "
                                      f"{sizes[factor]} unevenly")
                minor = len(sizes)
                sizes[minor], dims[minor], sizes[factor] = sizes[factor] // need, dims[factor], need
                order.insert(order.index(factor) + 1, minor)
                queue.appendleft(minor)
                axis.append(factor)
                got = target
            axes.append(axis)
        if queue:
            raise LayoutError(f"shape {list(shape)} has fewer elements than {list(self.shape)}")
        index = {factor: i for i, factor in enumerate(order)}
        return View(tuple(sizes[f] for f in order), tuple(dims[f] for f in order),
                    tuple(tuple(index[f] for f in axis) for axis in axes))

    def without(self, axis: int) -> tuple[View, int, int]:
        """One index of ``axis`` fixed (an ONNX Gather of a scalar): the view that is left, the
        storage dimension cut and how many of its elements one index of the factor spans.

        Raises:
            LayoutError: the axis is not one factor that is its dimension's major part (the
                selection would not be one run of that dimension).
        """
        factors = self.axes[axis]
        if len(factors) != 1 or self.factors_of(self.dims[factors[0]])[0] != factors[0]:
            raise LayoutError(f"axis {axis} of {list(self.shape)} is not the major part of one IR dimension")
        factor = factors[0]
        dim = self.dims[factor]
        span = prod(self.sizes[f] for f in self.factors_of(dim)[1:])
        keep = [f for f in range(len(self.sizes)) if f != factor]
        index = {f: i for i, f in enumerate(keep)}
        axes = tuple(tuple(index[f] for f in each) for i, each in enumerate(self.axes) if i != axis)
        return View(tuple(self.sizes[f] for f in keep), tuple(self.dims[f] for f in keep), axes), dim, span

    def with_channels(self, channels: int) -> View:
        """The view of an op's output that replaces the channels by ``channels`` new ones on the
        axis that held them (a pointwise projection over the channel axis)."""
        old = self.factors_of(CHANNELS)
        first = old[0]
        if channels == 1:  # no factor: every axis that held channels now has size 1
            drop = set(old)
            keep = [f for f in range(len(self.sizes)) if f not in drop]
            index = {f: i for i, f in enumerate(keep)}
            return View(tuple(self.sizes[f] for f in keep), tuple(self.dims[f] for f in keep),
                        tuple(tuple(index[f] for f in axis if f not in drop) for axis in self.axes))
        keep = [f for f in range(len(self.sizes)) if f not in old[1:]]
        index = {f: i for i, f in enumerate(keep)}
        sizes = tuple(channels if f == first else self.sizes[f] for f in keep)
        axes = tuple(tuple(index[f] for f in axis if f not in old[1:]) for axis in self.axes)
        return View(sizes, tuple(self.dims[f] for f in keep), axes)
