"""Sweep YAML: key checks, axes, sampling, constraints; every error names key and allowed values."""

from __future__ import annotations

import pytest

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.study.sweep._expr import eval_constraint, parse_constraint
from fpgasim.study.sweep.points import apply_constraints, expand_points, point_key
from fpgasim.study.sweep.spec import check_key, load_sweep
from tests.study.sweep.test_sweep_helpers import write_sweep


def _messages(exc: ConfigError) -> str:
    return "\n".join(str(p) for p in exc.problems)


def test_grid_expands_last_axis_fastest_with_stable_keys(tmp_path):
    loaded = load_sweep(write_sweep(tmp_path))
    points = expand_points(loaded)
    assert [p.overrides for p in points] == [
        {"experiment.cluster.boards": b, "kernel.parallelism.tm": tm} for b in (1, 2, 4) for tm in (16, 32)]
    assert [p.index for p in points] == list(range(6))
    assert points[3].key == point_key({"kernel.parallelism.tm": 32, "experiment.cluster.boards": 2})
    assert points[0].loaded.spec.cluster.boards == 1 and points[5].loaded.spec.cluster.boards == 4
    assert points[0].design.parallelism.tm == 16 and points[1].design.parallelism.tm == 32


def test_range_axis_is_inclusive(tmp_path):
    loaded = load_sweep(write_sweep(tmp_path, axes=[{"key": "experiment.cluster.boards",
                                                      "range": {"start": 2, "stop": 8, "step": 3}}]))
    assert [p.overrides["experiment.cluster.boards"] for p in expand_points(loaded)] == [2, 5, 8]


def test_random_sampling_is_seeded_distinct_and_sorted(tmp_path):
    axes = [{"key": "experiment.cluster.boards", "range": {"start": 1, "stop": 8}},
            {"key": "experiment.seed", "range": {"start": 0, "stop": 9}}]
    extra = {"sampling": "random", "samples": 7, "seed": 3}
    first = [p.overrides for p in expand_points(load_sweep(write_sweep(tmp_path / "a", axes=axes, extra=extra)))]
    again = [p.overrides for p in expand_points(load_sweep(write_sweep(tmp_path / "b", axes=axes, extra=extra)))]
    other = [p.overrides for p in expand_points(load_sweep(write_sweep(
        tmp_path / "c", axes=axes, extra={**extra, "seed": 4})))]
    assert first == again and len(first) == 7
    assert len({tuple(o.values()) for o in first}) == 7
    assert [tuple(o.values()) for o in first] == sorted(tuple(o.values()) for o in first)
    assert first != other


def test_listed_points(tmp_path):
    extra = {"sampling": "points", "points": [{"experiment.cluster.boards": 2},
                                              {"experiment.cluster.boards": 4, "kernel.parallelism.tn": 4}]}
    points = expand_points(load_sweep(write_sweep(tmp_path, axes=[], extra=extra)))
    assert [p.overrides for p in points] == extra["points"]
    assert points[1].design.parallelism.tn == 4 and points[0].design.parallelism.tn == 7


def test_unknown_axis_key_lists_valid_keys(tmp_path):
    path = write_sweep(tmp_path, axes=[{"key": "experiment.cluster.bords", "values": [1]}])
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    text = _messages(info.value)
    assert "sweep.axes[0].key" in text and "experiment.cluster.bords" in text
    assert "boards, link, topology, cable_length_m" in text


def test_unknown_kernel_key_lists_the_kernel_documents_keys(tmp_path):
    path = write_sweep(tmp_path, axes=[{"key": "kernel.parallelism.tk", "values": [1]}])
    with pytest.raises(ConfigError, match=r"kernel\.parallelism has keys: tm, tn"):
        load_sweep(path)


@pytest.mark.parametrize("key, fragment", [
    ("cluster.boards", "a key of an experiment sweep starts with 'experiment.' or 'kernel.'"),
    ("experiment.cluster", "is a mapping; sweep one of its keys: boards"),
    ("experiment.name.x", "experiment.name has no sub-keys"),
])
def test_check_key_reasons(key, fragment):
    assert fragment in check_key(key, "experiment", {"kernel": {}}, {})


def test_partition_factors_are_sweepable():
    assert check_key("experiment.partition.factors.pm", "experiment", {}, {}) is None
    assert "pb, pr, pc, pm" in check_key("experiment.partition.factors.px", "experiment", {}, {})


def test_empty_axis_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"axes\[0\]\.values: axis 'experiment.cluster.boards' is empty"):
        load_sweep(write_sweep(tmp_path, axes=[{"key": "experiment.cluster.boards", "values": []}]))
    with pytest.raises(ConfigError, match="is empty: stop 1 < start 3"):
        load_sweep(write_sweep(tmp_path, axes=[{"key": "experiment.cluster.boards",
                                                "range": {"start": 3, "stop": 1}}]))


def test_unknown_objective_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_sweep(write_sweep(tmp_path, extra={"objectives": ["latency_ms", "energy_j"]}))
    text = _messages(info.value)
    assert "sweep.objectives[1]" in text and "latency_ms" in text and "link_bytes" in text


def test_unknown_sweep_key_lists_known_keys(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'axis'.*did you mean 'axes'"):
        load_sweep(write_sweep(tmp_path, extra={"axis": []}))


def test_invalid_point_value_names_the_point(tmp_path):
    path = write_sweep(tmp_path, axes=[{"key": "experiment.cluster.boards", "values": [2, 0]}])
    with pytest.raises(ConfigError) as info:
        expand_points(load_sweep(path))
    text = _messages(info.value)
    assert "point 1: experiment.cluster.boards=0" in text and "experiment.cluster.boards" in text
    assert "point 0" not in text


def test_constraint_expression_prunes_points(tmp_path):
    loaded = load_sweep(write_sweep(tmp_path, extra={
        "constraints": ["experiment.cluster.boards * kernel.parallelism.tm <= 64"]}))
    kept, rejected = apply_constraints(loaded, expand_points(loaded))
    assert [(p.overrides["experiment.cluster.boards"], p.overrides["kernel.parallelism.tm"]) for p in kept] == [
        (1, 16), (1, 32), (2, 16), (2, 32), (4, 16)]
    assert rejected == {"experiment.cluster.boards * kernel.parallelism.tm <= 64": 1}


def test_fits_constraint_prunes_designs_that_do_not_fit(tmp_path):
    loaded = load_sweep(write_sweep(tmp_path, axes=[{"key": "kernel.parallelism.tm", "values": [64, 1024]}],
                                    extra={"constraints": ["fits"]}))
    kept, rejected = apply_constraints(loaded, expand_points(loaded))
    assert [p.overrides["kernel.parallelism.tm"] for p in kept] == [64]
    assert rejected == {"fits": 1}


def test_constraint_rejecting_every_point_is_an_error(tmp_path):
    loaded = load_sweep(write_sweep(tmp_path, extra={"constraints": ["experiment.cluster.boards > 100"]}))
    with pytest.raises(BadArgument, match=r"reject all 6 points \('experiment.cluster.boards > 100' rejected 6\)"):
        apply_constraints(loaded, expand_points(loaded))


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os').system('x')", "Call is not allowed"),
    ("experiment.cluster.boards <", "invalid expression"),
    ("experiment.cluster.boards[0] > 1", "Subscript is not allowed"),
])
def test_unsafe_or_broken_constraints_are_refused(text, fragment):
    with pytest.raises(BadArgument, match=fragment.replace("(", r"\(")):
        parse_constraint(text)


def test_constraint_with_an_unknown_key_is_refused_at_load(tmp_path):
    with pytest.raises(ConfigError, match="constraint 'experiment.clster.boards < 4': unknown key"):
        load_sweep(write_sweep(tmp_path, extra={"constraints": ["experiment.clster.boards < 4"]}))


def test_constraint_arithmetic_and_logic():
    values = {"a": 3, "b.c": 4}
    tree = parse_constraint("a * b.c == 12 and not a > 3 or b.c // 0 == 1")
    assert eval_constraint(tree, values.__getitem__) is True
    assert eval_constraint(parse_constraint("1 < a < b.c"), values.__getitem__) is True
    assert eval_constraint(parse_constraint("1 < b.c < a"), values.__getitem__) is False
    with pytest.raises(BadArgument, match=r"constraint .a // 0 > 1.: integer division or modulo by zero"):
        eval_constraint(parse_constraint("a // 0 > 1"), values.__getitem__)


def test_kernel_overrides_apply_to_the_kernel_file_each_point_names(tmp_path):
    from tests.study.sweep.test_sweep_helpers import REPO

    fp32 = str(REPO / "kernels" / "superlip-conv-64x7-fp32.yaml")
    loaded = load_sweep(write_sweep(tmp_path, axes=[
        {"key": "experiment.kernel", "values": [str(REPO / "kernels" / "superlip-conv-16bit.yaml"), fp32]},
        {"key": "kernel.parallelism.tm", "values": [8]}], extra={"constraints": ["kernel.parallelism.tn == 7"]}))
    points, _ = apply_constraints(loaded, expand_points(loaded))
    assert [p.design.name for p in points] == ["superlip-conv-16bit", "superlip-conv-64x7-fp32"]
    assert [p.design.parallelism.tm for p in points] == [8, 8]
    assert [p.design.precision.word_bits for p in points] == [16, 32]
    assert points[0].kernel_hash != points[1].kernel_hash
