"""Layering rule: a layer imports only from layers below it (STYLE house rule 3)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fpgasim"
# Lowest first. errors and config are used by every layer.
ORDER = ["errors", "config", "fixedpoint", "ops", "nn", "hw", "kernels", "mapping", "sim", "study", "cli"]


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fpgasim" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ORDER else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    rel = path.relative_to(PACKAGE)
    own = rel.parts[0].removesuffix(".py")
    if own not in ORDER:
        return
    own_rank = ORDER.index(own)
    for module in _imports(path):
        layer = _layer_of(module)
        if layer is None:
            continue
        assert ORDER.index(layer) <= own_rank, f"{rel} imports {module}: layer {layer} is above {own}"


def test_no_tracked_binaries_or_build_artefacts() -> None:
    root = PACKAGE.parent
    bad = [p for p in root.rglob("*") if p.suffix in {".nbi", ".nbc", ".pyc", ".so", ".o"}
           and ".venv" not in p.parts and "__pycache__" not in p.parts]
    assert not bad, f"build artefacts outside ignored folders: {bad}"
