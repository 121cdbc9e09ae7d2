"""Every YAML file the project ships loads through its kind's loader (one parametrized matrix)."""

from pathlib import Path

import pytest

from fpgasim.study.documents import document_kind, load_document

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for folder in ("boards", "kernels", "experiments") for p in (ROOT / folder).rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_yaml_is_valid(path: Path) -> None:
    assert document_kind(path)
    assert load_document(path) is not None


def test_the_matrix_is_not_empty() -> None:
    assert len(SHIPPED) >= 15
