"""Config loading never lets anything but ConfigError escape, and says where the problem is."""

import re
import time
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpgasim.config import load
from fpgasim.config.yaml_source import MAX_FILE_BYTES
from fpgasim.errors import ConfigError
from tests.strategies.yaml_docs import Sample, alias_bombs, broken_samples, dump, hostile_texts, valid_samples

_serial = count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("robustness")


def _write(folder, content) -> str:
    path = folder / f"doc{next(_serial)}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def _problems(path, model=Sample):
    with pytest.raises(ConfigError) as info:
        load(path, model)
    problems = info.value.problems
    assert problems, "ConfigError without problems"
    for problem in problems:
        assert problem.file == path
    return problems


@given(valid_samples())
def test_valid_documents_load(folder, data):
    obj = load(_write(folder, dump(data)), Sample)
    assert obj.inner.rate_mhz == data["inner"]["rate_mhz"]
    assert obj.share == data.get("share", 0.5)


@given(broken_samples())
def test_one_mistake_gives_one_located_problem(folder, mistake):
    path = _write(folder, mistake.text)
    problems = _problems(path)
    assert len(problems) == 1, [str(p) for p in problems]
    (problem,) = problems
    assert problem.key_path == mistake.key_path
    assert problem.line is not None and problem.column is not None
    assert re.search(mistake.message, problem.message), problem.message


@given(hostile_texts())
def test_hostile_input_is_refused_quickly_with_config_error(folder, raw):
    path = _write(folder, raw)
    start = time.perf_counter()
    problems = _problems(path)
    assert time.perf_counter() - start < 5.0
    assert all(p.message for p in problems)


@given(st.integers(min_value=10**20, max_value=10**400))
def test_huge_integers_are_fine_where_allowed_and_floats_overflow_to_a_problem(folder, big):
    obj = load(_write(folder, f"schema: 1\nname: a\ninner: {{count: {big}, rate_mhz: 1}}\n"), Sample)
    assert obj.inner.count == big
    (problem,) = _problems(_write(folder, f"schema: 1\nname: a\ninner: {{count: 1, rate_mhz: {big}.5e+300}}\n"))
    assert problem.key_path == "inner.rate_mhz"
    assert re.search(r"finite number", problem.message)


def test_three_independent_mistakes_are_three_problems(folder):
    path = _write(folder, "schema: 1\nname: a\nshare_: 0.3\ninner:\n  count: -1\n  rate_mhz: fast\n")
    problems = _problems(path)
    assert [(p.line, p.key_path) for p in problems] == [(3, "share_"), (5, "inner.count"), (6, "inner.rate_mhz")]
    keyed = {p.key_path: p for p in problems}
    assert re.fullmatch(r"unknown key 'share_'; did you mean 'share'\? known keys: name, inner, items, share",
                        keyed["share_"].message)
    assert re.fullmatch(r"Input should be greater than 0; got int -1", keyed["inner.count"].message)
    assert re.match(r"^expected a number, got str 'fast'", keyed["inner.rate_mhz"].message)
    assert (keyed["inner.count"].line, keyed["inner.count"].column) == (5, 3)


@pytest.mark.parametrize(("text", "line", "key_path", "pattern"), [
    ("name: a\ninner: {count: 1, rate_mhz: 1}\n", 1, "", r"^schema version missing; expected `schema: 1`$"),
    ("schema: 2\nname: a\n", 1, "schema", r"^schema version got 2; expected `schema: 1`$"),
    ("schema: true\nname: a\n", 1, "schema", r"^schema version got True; expected `schema: 1`$"),
    ("- 1\n- 2\n", 1, "", r"^expected a mapping at the top level, got a list$"),
    ("", 1, "", r"^empty document$"),
    ("schema: 1\nname: !!python/object/apply:os.system ['true']\n", 2, "name",
     r"^tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; only plain YAML"),
    ("schema: 1\nname: a\nname: b\n", 3, "name", r"^duplicate key 'name'$"),
    ("schema: 1\nname: [a\n", 3, "", r"^invalid YAML: "),
    ("schema: 1\ninner: {}\nname: a\n", 2, "inner", r"^missing key 'count' \(found: nothing\)$"),
])
def test_pinned_messages(folder, text, line, key_path, pattern):
    problems = _problems(_write(folder, text))
    first = problems[0]
    assert (first.line, first.key_path) == (line, key_path), str(first)
    assert re.search(pattern, first.message), first.message


@settings(max_examples=4)
@given(alias_bombs())
def test_alias_bombs_are_refused_quickly(folder, raw):
    start = time.perf_counter()
    problems = _problems(_write(folder, raw))
    assert time.perf_counter() - start < 5.0
    assert any(re.search(r"too many aliases", p.message) for p in problems)


def test_billion_laughs_is_refused_by_node_count(folder):
    lines = ["l0: &l0 [lol]"] + [f"l{i}: &l{i} [{', '.join([f'*l{i-1}'] * 10)}]" for i in range(1, 10)]
    start = time.perf_counter()
    problems = _problems(_write(folder, "schema: 1\n" + "\n".join(lines)))
    assert time.perf_counter() - start < 5.0
    assert re.search(r"^document expands to more than \d+ nodes \(too many aliases\?\)$", problems[0].message)


def test_merge_key_bomb_is_refused_not_expanded(folder):
    """Regression: PyYAML's flatten_mapping expanded nested '<<' merges before any limit applied."""
    lines = ["m0: &m0 {x: 1, y: 2}"] + [
        f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i-1}'] * 9)}]}}" for i in range(1, 10)]
    start = time.perf_counter()
    problems = _problems(_write(folder, "schema: 1\n" + "\n".join(lines)))
    assert time.perf_counter() - start < 5.0
    assert re.search(r"too many aliases", problems[0].message)


def test_merge_keys_are_overridden_not_duplicates(folder):
    """Regression: an explicit key after '<<: *anchor' was reported as a duplicate."""
    text = ("schema: 1\nbase: &b {count: 2, rate_mhz: 5}\n")
    from fpgasim.config import read_yaml

    doc = read_yaml(_write(folder, text + "name: a\ninner: {<<: *b, count: 3}\n"))
    assert doc.data["inner"] == {"count": 3, "rate_mhz": 5}
    doc = read_yaml(_write(folder, text + "o: &o {count: 7}\ninner: {<<: [*o, *b]}\n"))
    assert doc.data["inner"] == {"count": 7, "rate_mhz": 5}  # earlier mappings in the list win


def test_not_utf8_and_missing_and_oversized_files(folder, tmp_path):
    (problem,) = _problems(_write(folder, b"schema: 1\nname: \xff\xfe\n"))
    assert re.fullmatch(r"not UTF-8 text \(byte \d+\)", problem.message)
    missing = str(tmp_path / "absent.yaml")
    (problem,) = _problems(missing)
    assert problem.message == "file not found"
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    (problem,) = _problems(str(big))
    assert re.fullmatch(rf"file is {MAX_FILE_BYTES + 1} bytes; at most {MAX_FILE_BYTES} allowed", problem.message)


def test_problem_text_has_file_line_column_and_key(folder):
    path = _write(folder, "schema: 1\nname: a\ninner: {count: 0, rate_mhz: 1}\n")
    with pytest.raises(ConfigError) as info:
        load(path, Sample)
    assert re.fullmatch(rf"{re.escape(path)}:3:\d+: inner\.count: Input should be greater than 0; got int 0",
                        str(info.value))
