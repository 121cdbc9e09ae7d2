"""The study registry: one entry per study, each following the protocol; the CLI and the sweep
code name no study."""

import re
from pathlib import Path

import pytest

from fpgasim.study.protocol import Study
from fpgasim.study.registry import STUDIES, study_kind

PACKAGE = Path(__file__).resolve().parents[2] / "fpgasim"
#: Members every study has (the protocol's annotations and methods).
MEMBERS = sorted(set(Study.__annotations__) | {name for name in vars(Study) if not name.startswith("_")})


@pytest.mark.parametrize("kind", sorted(STUDIES))
def test_each_study_is_registered_under_its_kind_and_has_every_member(kind):
    study = STUDIES[kind]
    assert study.kind == kind
    missing = [name for name in MEMBERS if not hasattr(study, name)]
    assert not missing, f"{kind} lacks {missing}"
    assert all(callable(getattr(study, name)) for name in MEMBERS if name in vars(Study))


def test_study_kind_is_the_first_registered_top_level_key():
    assert study_kind({"schema": 1, "sources": {}, "ode_study": {}, "experiment": {}}) == "ode_study"
    assert study_kind({"schema": 1, "board": {}}) is None
    assert study_kind(["experiment"]) is None


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")) + [
    p for p in sorted((PACKAGE / "study" / "sweep").glob("*.py")) if p.name != "spec.py"],
    ids=lambda p: str(p.relative_to(PACKAGE)))
def test_dispatching_code_names_no_study(path):
    """spec.py is left out: the sweep format's inline base is an ``experiment:`` mapping."""
    text = path.read_text(encoding="utf-8")
    for name in [*STUDIES, "comparison", "superlip", "dsodenet"]:
        assert not re.search(rf"(?<![\w/]){name}(?![\w/])", text), f"{path.name} names {name!r}"


EXPERIMENTS = PACKAGE.parent / "experiments"


#: superlip-alexnet plans 21 configurations (~11 s); `make run` runs it without --out.
@pytest.mark.parametrize("document", sorted(p for p in EXPERIMENTS.glob("*.yaml") if p.stem != "superlip-alexnet"),
                         ids=lambda p: p.name)
def test_every_shipped_plan_names_its_default_output_folder(document):
    """`fpgasim run` without --out writes to results/<plan.name>: every study's plan has one."""
    from fpgasim.config import read_yaml
    from fpgasim.study.registry import study_of

    study = study_of(read_yaml(document))
    plan = study.plan(study.load(document))
    assert isinstance(plan.name, str) and plan.name and "/" not in plan.name
