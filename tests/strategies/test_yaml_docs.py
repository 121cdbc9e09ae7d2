"""The YAML-document strategies draw what they promise."""

import re

import yaml
from hypothesis import given
from hypothesis import strategies as st

from fpgasim.config import parse_yaml, validate
from fpgasim.errors import ConfigError
from tests.strategies.yaml_docs import (
    Sample, alias_bombs, broken_samples, dump, hostile_texts, leaf_paths, typo_of, valid_samples, with_leaf,
)


@given(valid_samples())
def test_valid_samples_validate(data):
    body = {k: v for k, v in data.items() if k != "schema"}
    obj = validate(parse_yaml(dump(body)), Sample)
    assert obj.name == data["name"]
    assert obj.inner.count == data["inner"]["count"]
    assert len(obj.items) == len(data.get("items", []))


@given(broken_samples())
def test_broken_samples_are_yaml_with_a_key_path(mistake):
    data = yaml.safe_load(mistake.text)
    assert isinstance(data, dict) and data["schema"] == 1
    re.compile(mistake.message)
    assert mistake.key_path == "" or mistake.key_path.split(".")[0] in data


@given(st.sampled_from(["name", "inner", "count", "rate_mhz", "items"]).flatmap(lambda k: st.tuples(st.just(k), typo_of(k))))
def test_typos_differ_by_one_letter(pair):
    key, typo = pair
    assert typo != key
    assert abs(len(typo) - len(key)) == 1


@given(hostile_texts())
def test_hostile_texts_are_bytes(raw):
    assert isinstance(raw, bytes) and raw.strip()


@given(valid_samples(), st.data())
def test_with_leaf_replaces_exactly_one_leaf(data, draw):
    paths = leaf_paths(data)
    path = draw.draw(st.sampled_from(paths))
    changed = with_leaf(data, path, "CHANGED")
    differing = [p for p in leaf_paths(changed) if _get(changed, p) != _get(data, p)]
    assert differing == [path]
    assert _get(data, path) != "CHANGED"  # the original is untouched


def _get(data, path):
    for part in path:
        data = data[part]
    return data


def test_broken_sample_is_rejected_by_validate_for_a_hand_example():
    try:
        validate(parse_yaml("name: a\ninner: {count: 0, rate_mhz: 1}\n"), Sample)
    except ConfigError as exc:
        assert [p.key_path for p in exc.problems] == ["inner.count"]
    else:
        raise AssertionError("count 0 accepted")


@given(alias_bombs())
def test_alias_bombs_would_expand_past_ten_million_nodes(raw):
    text = raw.decode()
    levels = text.count("&")
    fanout = text.splitlines()[-1].count("*")
    assert fanout >= 8 and levels >= 9
    assert fanout ** (levels - 1) > 10**7
