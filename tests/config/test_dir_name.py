"""``DirName``: a study's name becomes its output folder, so it must be exactly one folder name."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from fpgasim.config import DirName, config_class, load
from fpgasim.config.schema import DIR_NAME_MAX_BYTES
from fpgasim.errors import ConfigError


@config_class
class Named:
    name: DirName


@pytest.mark.parametrize(("name", "message"), [
    ("../../escape", r"'\.\./\.\./escape' names the output folder results/<name>: '/' not allowed"),
    ("/etc", r"'/' not allowed"), ("a\\b", r"'\\\\' not allowed"), ("..", r"'\.\.' not allowed"),
    (".", r"'\.' not allowed"), ("bell\x07", r"'\\x07' not allowed"), ("del\x7f", r"'\\x7f' not allowed"),
    ("é" * 128, r"the name has 256 bytes; .* at most 255 bytes"),
])
def test_a_name_that_is_not_one_folder_is_refused_at_its_line(tmp_path, name, message):
    path = tmp_path / "named.yaml"
    quoted = name.encode("unicode_escape").decode().replace('"', '\\"')
    path.write_text(f'schema: 1\nname: "{quoted}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, Named)
    (problem,) = info.value.problems
    assert (problem.line, problem.key_path) == (2, "name")
    assert re.search(message, problem.message), problem.message


def test_a_folder_name_loads_unchanged(tmp_path):
    path = tmp_path / "named.yaml"
    path.write_text("schema: 1\nname: superlip-alexnet v2 (é)\n", encoding="utf-8")
    assert load(path, Named).name == "superlip-alexnet v2 (é)"


@given(st.text(min_size=1, max_size=300))
def test_a_name_is_accepted_exactly_when_it_is_one_folder_below_results(name):
    try:
        TypeAdapter(DirName).validate_python(name)
        accepted = True
    except ValidationError:
        accepted = False
    one_folder = ("/" not in name and "\\" not in name and name not in {".", ".."}
                  and all(ord(c) >= 32 and ord(c) != 127 for c in name)
                  and len(name.encode("utf-8")) <= DIR_NAME_MAX_BYTES)
    assert accepted == one_folder
    if accepted:
        assert (Path("results") / name).parent == Path("results") and (Path("results") / name).name == name
