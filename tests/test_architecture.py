"""The layers import one way only: cli -> pipelines -> assets -> replication -> resources.

The sandbox stands alone; only the command line and the code location (which starts it in sandbox
mode) may import it. Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["cli", "pipelines", "assets", "replication", "resources"]
ALLOWED = {
    package: set(LAYERS[position + 1 :]) | ({"sandbox"} if package in {"cli", "pipelines"} else set())
    for position, package in enumerate(LAYERS)
} | {"sandbox": set()}


def _first_party_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in ALLOWED]
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, f"no modules found in {package}/"
    wrong_way = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in modules
        for line, imported in _first_party_imports(path)
        if imported != package and imported not in ALLOWED[package]
    ]
    assert wrong_way == [], f"{package} may import only {sorted(ALLOWED[package])}"


def test_the_check_sees_an_import_that_runs_the_wrong_way(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f() -> None:\n    from pipelines.partitions import work_days\n")
    assert _first_party_imports(module) == [(2, "pipelines")]
