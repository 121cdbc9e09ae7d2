"""Pareto front (against a brute-force definition) and the per-layer tiling fast path (against its
plain-Python twin and the tiling search)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.errors import BadArgument
from fpgasim.mapping import ModelVariant, Partition, ResourceBounds, search_tiling, tile_candidates
from fpgasim.study.sweep.report import pareto_front
from fpgasim.study.sweep.tiling import layer_tiling_grid, layer_tiling_point_ref
from tests.strategies.mapping import conv_shapes, partitions, stream_rates


def _brute_front(values: np.ndarray) -> set[int]:
    front = set()
    for i, v in enumerate(values):
        dominated = any(np.all(w <= v) and np.any(w < v) for w in values)
        if not dominated:
            front.add(i)
    return front


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=30),
       st.tuples(st.booleans(), st.booleans()))
def test_front_matches_the_definition(pairs, maximise):
    values = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    front = pareto_front(values, maximise=maximise)
    signed = values * np.where(maximise, -1.0, 1.0)
    assert set(front.tolist()) == _brute_front(signed)
    assert list(signed[front, 0]) == sorted(signed[front, 0])


def test_front_by_hand():
    # (latency, dsp): (3,1) and (1,3) trade off; (3,3) is dominated; duplicates of a front point stay.
    values = np.array([[3, 1], [1, 3], [3, 3], [1, 3], [2, 2]], dtype=float)
    assert pareto_front(values).tolist() == [1, 3, 4, 0]
    assert pareto_front(values, maximise=(True, False)).tolist() == [0]


def test_front_rejects_bad_shapes():
    with pytest.raises(BadArgument, match=r"values of shape \(3,\): expected \(n, 2\)"):
        pareto_front(np.ones(3))
    with pytest.raises(BadArgument, match="finite"):
        pareto_front(np.array([[1.0, np.nan]]))


@given(st.data())
def test_tiling_grid_equals_the_python_twin(data):
    shape = data.draw(conv_shapes(max_channels=24, max_size=12))
    partition = data.draw(partitions(shape))
    rates = data.draw(stream_rates())
    bounds = ResourceBounds(dsp=data.draw(st.integers(1, 3000)), bram18=data.draw(st.integers(1, 3000)),
                            data_bits=data.draw(st.sampled_from([16, 32])))
    tm = np.arange(1, shape.out_channels + 2).reshape(-1, 1, 1, 1)
    tn = np.arange(1, shape.in_channels + 2).reshape(1, -1, 1, 1)
    tr = tile_candidates(shape.out_h, exhaustive=True).reshape(1, 1, -1, 1)
    tc = np.array([1, shape.out_w]).reshape(1, 1, 1, -1)
    grid = layer_tiling_grid(shape, tm, tn, tr, tc, rates=rates, bounds=bounds, partition=partition)
    assert grid["cycles"].shape == (tm.size, tn.size, tr.size, tc.size)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    for flat in rng.integers(0, grid["cycles"].size, 25):
        i, j, k, m = np.unravel_index(flat, grid["cycles"].shape)
        ref = layer_tiling_point_ref(shape, int(tm.flat[i]), int(tn.flat[j]), int(tr.flat[k]), int(tc.flat[m]),
                                     rates=rates, bounds=bounds, partition=partition)
        got = (grid["cycles"][i, j, k, m], grid["dsp"][i, j, k, m], grid["bram18"][i, j, k, m],
               grid["fits"][i, j, k, m])
        assert got[0] == pytest.approx(ref[0], rel=1e-12) and got[1:] == ref[1:]


def test_tiling_grid_minimum_is_the_search_result():
    from fpgasim.mapping import ConvShape, StreamRates

    shape = ConvShape(batch=1, out_channels=48, in_channels=16, out_h=13, out_w=13, kernel=3)
    rates, bounds = StreamRates.uniform(2.0, link=False), ResourceBounds(dsp=300, bram18=200, data_bits=16)
    axes = [tile_candidates(d, exhaustive=True) for d in (13, 13, 48, 16)]
    tr, tc, tm, tn = np.meshgrid(*axes, indexing="ij")
    grid = layer_tiling_grid(shape, tm, tn, tr, tc, rates=rates, bounds=bounds)
    best = search_tiling(shape, bounds=bounds, rates=rates, variant=ModelVariant.COMPLETE, exhaustive=True)
    assert grid["cycles"][grid["fits"]].min() == pytest.approx(best.latency.cycles, rel=1e-12)


def test_tiling_grid_is_chunked_without_changing_results(monkeypatch):
    from fpgasim.mapping import ConvShape, StreamRates
    from fpgasim.study.sweep import tiling as sweep_tiling

    shape = ConvShape(batch=2, out_channels=20, in_channels=6, out_h=9, out_w=9, kernel=3, stride=2)
    args = (np.arange(1, 21).reshape(-1, 1), np.arange(1, 7).reshape(1, -1), 3, 4)
    kwargs = {"rates": StreamRates.uniform(1.5), "bounds": ResourceBounds(dsp=100, bram18=100),
              "partition": Partition(pm=2)}
    whole = layer_tiling_grid(shape, *args, **kwargs)
    monkeypatch.setattr(sweep_tiling, "CHUNK_POINTS", 7)
    chunked = layer_tiling_grid(shape, *args, **kwargs)
    for name in whole:
        assert np.array_equal(whole[name], chunked[name])


def test_tiling_grid_rejects_bad_tiles():
    from fpgasim.mapping import ConvShape, StreamRates

    shape = ConvShape(batch=1, out_channels=4, in_channels=4, out_h=4, out_w=4, kernel=1)
    kwargs = {"rates": StreamRates.uniform(1.0), "bounds": ResourceBounds(dsp=10, bram18=10)}
    with pytest.raises(BadArgument, match="tr: expected integers >= 1; got dtype int64, min 0"):
        layer_tiling_grid(shape, 1, 1, np.arange(0, 3), 1, **kwargs)
    with pytest.raises(BadArgument, match="tm: expected integers >= 1; got dtype float64"):
        layer_tiling_grid(shape, np.ones(2), 1, 1, 1, **kwargs)
    with pytest.raises(BadArgument, match="bounds=None: expected a ResourceBounds"):
        layer_tiling_grid(shape, 1, 1, 1, 1, rates=kwargs["rates"], bounds=None)
