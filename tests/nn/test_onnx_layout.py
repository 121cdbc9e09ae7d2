"""ONNX views over an IR node's (N, C, H, W) storage (fpgasim.nn.onnx.layout.View) against numpy.

The storage is filled with its own flat offsets (``arange``), so the ONNX array numpy computes by
applying the same reshapes and transposes is, element for element, the storage offset each
ONNX index reads. A view *describes* that array when cutting the storage into the view's factors
(storage order), transposing them to the ONNX order of factors and reshaping to the view's shape
gives it back exactly. Where the view refuses (LayoutError) an independent oracle decides whether
any view could describe the result.
"""

from __future__ import annotations

from itertools import permutations
from math import prod

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.nn.onnx.layout import BATCH, CHANNELS, HEIGHT, WIDTH, LayoutError, View

#: (N, C, H, W): sides that can be cut (4, 6) first, so that splits are common; N may be 1.
storages = st.tuples(*[st.sampled_from([4, 6, 2, 3, 1])] * 4)


# --- what a view means, and what could be a view -------------------------------------------------------

def describe(view: View, storage: np.ndarray) -> np.ndarray:
    """The ONNX array ``view`` lays out over ``storage`` (an (N, C, H, W) array): storage cut into
    the factors (storage order), transposed to the ONNX order of factors, reshaped to the shape."""
    order = [f for axis in view.axes for f in axis]
    assert sorted(order) == list(range(len(view.sizes)))  # every factor on exactly one axis
    return storage.reshape(view.sizes).transpose(order).reshape(view.shape)


def coarse_factors(onnx: np.ndarray, storage: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """The coarsest factors (dim, stride within the dim, size) of an array of storage offsets, minor
    to major in ONNX order: from the minor end, the next factor is the run along which exactly one
    storage coordinate steps by a constant (any view's factors are a refinement of these)."""
    coords = np.stack(np.unravel_index(onnx.ravel(), storage), axis=1)
    assert np.array_equal(coords[0], [0, 0, 0, 0])
    factors, block, total = [], 1, onnx.size
    while block < total:
        step = coords[block] - coords[0]
        dims = np.flatnonzero(step)
        assert len(dims) == 1 and step[dims[0]] > 0, "not a view: the next digit moves more than one dimension"
        dim, stride = int(dims[0]), int(step[dims[0]])
        run = 1
        while run * block < total and np.array_equal(coords[run * block] - coords[0], run * step):
            run += 1
        factors.append((dim, stride, run))
        block *= run
    assert block == total
    return factors


def reshape_is_expressible(onnx: np.ndarray, storage: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Whether some view describes ``onnx`` reshaped to ``shape``: every axis boundary (the size of
    the minor part, P) falls on a coarse factor boundary or evenly inside one (Q_i | P | Q_{i+1})."""
    sizes = [size for _, _, size in coarse_factors(onnx, storage)]
    bounds = [prod(sizes[:i]) for i in range(len(sizes) + 1)]
    for j in range(len(shape)):
        p = prod(shape[j + 1:])
        if not any(p % lo == 0 and hi % p == 0 for lo, hi in zip(bounds, bounds[1:] + [bounds[-1]])):
            return False
    return True


def gather_is_a_slice(onnx: np.ndarray, axis: int, storage: tuple[int, ...]) -> bool:
    """Whether some dimension d and span make numpy's take of every index i along ``axis`` exactly
    the storage elements with d in [i·span, (i + 1)·span), whatever their order (what a Gather of
    one index becomes: a slice of one dimension starting at index·span)."""
    full = np.arange(prod(storage)).reshape(storage)
    count = onnx.shape[axis]
    for dim in range(4):
        if storage[dim] % count:
            continue
        span = storage[dim] // count
        if all(np.array_equal(np.sort(np.take(onnx, i, axis=axis), axis=None),
                              np.sort(np.take(full, range(i * span, (i + 1) * span), axis=dim), axis=None))
               for i in range(count)):
            return True
    return False


# --- random ONNX ops -----------------------------------------------------------------------------------

@st.composite
def reshape_targets(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape reached from ``shape`` by one to three moves: merge two adjacent axes, split one
    into (a, size/a) (a proper divisor first; a = 1 or size inserts an axis of 1), or drop an axis
    of 1 (rank ≤ 6)."""
    out = list(shape)
    for _ in range(draw(st.integers(1, 3))):
        moves = (["merge"] if len(out) > 1 else []) + (["split"] if len(out) < 6 else []) + \
                (["drop"] if 1 in out and len(out) > 1 else [])
        move = draw(st.sampled_from(moves))
        if move == "merge":
            i = draw(st.integers(0, len(out) - 2))
            out[i:i + 2] = [out[i] * out[i + 1]]
        elif move == "split":
            i = draw(st.integers(0, len(out) - 1))
            a = draw(st.sampled_from([d for d in range(2, out[i]) if out[i] % d == 0] + [1, out[i]]))
            out[i:i + 1] = [a, out[i] // a]
        else:
            out.pop(out.index(1))
    return tuple(out)


def apply_ops(data, storage: tuple[int, ...], max_ops: int = 5):
    """Draw and apply reshapes and transposes to numpy and to the view alike. Returns (numpy array,
    view) after the ops, the view None when a reshape was refused (then checked against the oracle)."""
    onnx = np.arange(prod(storage)).reshape(storage)
    view = View.of_storage(storage, storage)
    for _ in range(data.draw(st.integers(1, max_ops))):
        assert np.array_equal(describe(view, np.arange(prod(storage)).reshape(storage)), onnx)
        if data.draw(st.booleans()):
            perm = data.draw(st.permutations(range(onnx.ndim)))
            onnx, view = onnx.transpose(perm), view.transpose(perm)
            continue
        target = data.draw(reshape_targets(onnx.shape))
        try:
            view = view.reshape(target)
        except LayoutError:
            assert not reshape_is_expressible(onnx, storage, target), \
                f"{onnx.shape} → {target} is expressible but the view refused it"
            return onnx.reshape(target), None
        onnx = onnx.reshape(target)
    return onnx, view


# --- properties ----------------------------------------------------------------------------------------

@given(storages, st.data())
def test_a_view_describes_numpys_reshapes_and_transposes(storage, data) -> None:
    """After any sequence of reshapes and transposes, the view's shape is numpy's and it describes
    numpy's array exactly; a refusal is a LayoutError, and only where no view could describe it."""
    onnx, view = apply_ops(data, storage)
    if view is None:
        return
    assert view.shape == onnx.shape
    assert np.array_equal(describe(view, np.arange(prod(storage)).reshape(storage)), onnx)
    assert all(size > 1 for size in view.sizes) and len(view.sizes) == len(view.dims)
    assert all(view.factors_of(d) == tuple(f for f in range(len(view.dims)) if view.dims[f] == d) for d in range(4))


@given(storages, st.data())
def test_is_storage_order_exactly_when_a_plain_reshape(storage, data) -> None:
    onnx, view = apply_ops(data, storage)
    if view is not None:
        assert view.is_storage_order == np.array_equal(onnx, np.arange(onnx.size).reshape(onnx.shape))


@given(storages, st.data())
def test_dim_permutation_exactly_when_whole_dimensions_are_permuted(storage, data) -> None:
    """Some order π of the dimensions (of size > 1) has numpy's array equal to the storage
    transposed by π and reshaped, with every axis boundary between whole dimensions, exactly when
    dim_permutation() is π (None when no π does)."""
    onnx, view = apply_ops(data, storage)
    if view is None:
        return
    kept = [d for d in range(4) if storage[d] > 1]
    squeezed = np.arange(prod(storage)).reshape([storage[d] for d in kept])
    boundaries = {prod(onnx.shape[j:]) for j in range(onnx.ndim + 1)}
    want = None
    for perm in permutations(range(len(kept))):
        whole = {prod(storage[kept[p]] for p in perm[j:]) for j in range(len(perm) + 1)}
        if boundaries <= whole and np.array_equal(squeezed.transpose(perm).reshape(onnx.shape), onnx):
            want = tuple(kept[p] for p in perm)
    assert view.dim_permutation() == want


@given(storages, st.data(), st.integers(1, 5))
def test_channel_axis_and_with_channels(storage, data, channels) -> None:
    """channel_axis is the axis whose index is the channel (and nothing else), None when none is
    (or C = 1). with_channels(k) lays out storage of k channels the same way: the channel is the
    index on that axis, every other coordinate as in the original at channel 0."""
    onnx, view = apply_ops(data, storage)
    if view is None:
        return
    coords = np.unravel_index(onnx, storage)
    want = None
    for a in range(onnx.ndim):
        index = np.broadcast_to(np.arange(onnx.shape[a]).reshape([-1 if i == a else 1 for i in range(onnx.ndim)]),
                                onnx.shape)
        if storage[CHANNELS] > 1 and onnx.shape[a] == storage[CHANNELS] and np.array_equal(coords[CHANNELS], index):
            want = a
    assert view.channel_axis == want
    if want is None:
        return
    new = view.with_channels(channels)
    new_storage = tuple(channels if d == CHANNELS else s for d, s in enumerate(storage))
    shape = tuple(channels if i == want else s for i, s in enumerate(onnx.shape))
    assert new.shape == shape
    got = np.unravel_index(describe(new, np.arange(prod(new_storage)).reshape(new_storage)), new_storage)
    first = [np.broadcast_to(np.take(c, [0], axis=want), shape) for c in coords]
    index = np.broadcast_to(np.arange(channels).reshape([-1 if i == want else 1 for i in range(len(shape))]), shape)
    for d in (BATCH, HEIGHT, WIDTH):
        assert np.array_equal(got[d], first[d])
    assert np.array_equal(got[CHANNELS], index)


@given(storages, st.data())
def test_without_is_numpys_take_of_one_index(storage, data) -> None:
    """A Gather of one index: ``without(axis)`` returns the view left, the dimension cut and the
    span of one index; numpy's take is then that dimension's run [i·span, (i + 1)·span) of the
    storage, laid out by the view left. A refusal is a LayoutError, and only where no dimension and
    span make every index's take that run (an axis of size 1, which holds no factor, is refused;
    an axis holding a dimension's factors transposed selects runs, but not at i·span)."""
    onnx, view = apply_ops(data, storage, max_ops=4)
    if view is None:
        return
    full = np.arange(prod(storage)).reshape(storage)
    for axis in range(onnx.ndim):
        try:
            rest, dim, span = view.without(axis)
        except LayoutError:
            assert onnx.shape[axis] == 1 or not gather_is_a_slice(onnx, axis, storage), \
                f"axis {axis} of {onnx.shape}: every index i is the run [i·span, (i + 1)·span) of one dimension"
            continue
        assert onnx.shape[axis] > 1 and storage[dim] == onnx.shape[axis] * span
        assert rest.shape == onnx.shape[:axis] + onnx.shape[axis + 1:]
        i = data.draw(st.integers(0, onnx.shape[axis] - 1))
        sliced = np.take(full, range(i * span, (i + 1) * span), axis=dim)
        assert np.array_equal(describe(rest, sliced), np.take(onnx, i, axis=axis))


# --- examples ------------------------------------------------------------------------------------------

def test_vit_patches_to_heads() -> None:
    """ViT's (N, E, 14, 14) patches → (N, E, 196) → (N, 196, E) tokens → (N, 196, heads, E/heads)
    → (N, heads, 196, E/heads): E is cut into (heads, E/heads), the spatial dims stay whole."""
    storage = (2, 12, 14, 14)
    view = View.of_storage(storage, (2, 12, 196)).transpose((0, 2, 1)).reshape((2, 196, 3, 4)).transpose((0, 2, 1, 3))
    assert view.shape == (2, 3, 196, 4) and view.sizes == (2, 3, 4, 14, 14)
    assert view.dims == (BATCH, CHANNELS, CHANNELS, HEIGHT, WIDTH)
    assert view.axes == ((0,), (1,), (3, 4), (2,)) and view.channel_axis is None
    assert not view.is_storage_order and view.dim_permutation() is None
    onnx = np.arange(prod(storage)).reshape(2, 12, 196).transpose(0, 2, 1).reshape(2, 196, 3, 4).transpose(0, 2, 1, 3)
    assert np.array_equal(describe(view, np.arange(prod(storage)).reshape(storage)), onnx)
    rest, dim, span = view.without(1)  # head 1 of 3: channels 4..8
    assert (dim, span, rest.shape) == (CHANNELS, 4, (2, 196, 4))


def test_a_reshape_across_an_uneven_cut_is_refused() -> None:
    """(4, 3) → (6, 2): the 6 would hold all of the 3 and half of the 4 in the wrong order."""
    with pytest.raises(LayoutError, match=r"reshape \[4, 3\] → \[6, 2\] cuts a dimension of 4 unevenly"):
        View.of_storage((1, 4, 3, 1), (4, 3)).reshape((6, 2))
    with pytest.raises(LayoutError, match="has more elements"):
        View.of_storage((1, 4, 3, 1), (12,)).reshape((24,))
    with pytest.raises(LayoutError, match="has fewer elements"):
        View.of_storage((1, 4, 3, 1), (12,)).reshape((2,))
    with pytest.raises(LayoutError, match=r"axis 1 of \[2, 6\] is not the major part of one IR dimension"):
        View.of_storage((1, 4, 3, 1), (2, 6)).without(1)


@given(storages, st.data())
def test_a_reshape_undone_gives_the_same_view(storage, data) -> None:
    """Reshaping to any shape and back (after a transpose of the original axes, or not) is the
    same view, field for field: a cut that a later reshape joins again leaves no trace, so that a
    reshape or gather after it is refused only where no view could express it."""
    view = View.of_storage(storage, storage)
    if data.draw(st.booleans()):
        view = view.transpose(data.draw(st.permutations(range(4))))
    target = data.draw(reshape_targets(view.shape))
    try:
        there = view.reshape(target)
    except LayoutError:  # a merge and a split that cross unevenly: no view has it
        onnx = describe(view, np.arange(prod(storage)).reshape(storage))
        assert not reshape_is_expressible(onnx, storage, target)
        return
    assert there.reshape(view.shape) == view


def test_a_split_joined_again_can_be_cut_elsewhere() -> None:
    """C = 6 split (2, 3) and joined again reshapes to (3, 2); W = 4 split (2, 2) and joined again
    is one factor, so a Gather of one of its indices is a slice of W."""
    storage = (1, 6, 1, 4)
    joined = View.of_storage(storage, (6, 2, 2)).reshape((6, 4))
    assert joined == View.of_storage(storage, (6, 4))
    view = View.of_storage(storage, (2, 3, 4)).reshape((6, 4)).reshape((3, 2, 4))
    assert view == View.of_storage(storage, (3, 2, 4))
    rest, dim, span = View.of_storage(storage, (6, 2, 2)).reshape((6, 4)).without(1)
    assert (dim, span, rest.shape) == (WIDTH, 1, (6,))


def test_interleaved_dimensions_are_no_permutation() -> None:
    """H = 4 cut (2, 2) with W between its halves on one axis: every dimension is on one axis and
    its factors are in storage order, but the ONNX order is not H then W (nor W then H)."""
    view = View.of_storage((1, 1, 4, 3), (2, 2, 3)).transpose((0, 2, 1)).reshape((12,))
    assert view.axes == ((0, 2, 1),) and view.dims == (HEIGHT, HEIGHT, WIDTH)
    assert not np.array_equal(np.arange(12).reshape(2, 2, 3).transpose(0, 2, 1).reshape(12), np.arange(12))
    assert view.dim_permutation() is None
    assert View.of_storage((1, 1, 4, 3), (2, 6)).dim_permutation() is None  # H on both axes
    assert View.of_storage((1, 1, 4, 3), (4, 3)).transpose((1, 0)).dim_permutation() == (WIDTH, HEIGHT)
