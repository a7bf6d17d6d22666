"""The package declares what it imports, and imports what it declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "luodian_map"
# Declared runtime needs that the package reaches through another package, not by import.
USED_THROUGH = {"pyarrow": "GeoDataFrame.to_parquet (export --geoparquet); geopandas lacks it"}


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement ("python-docx>=1.1" → python-docx)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> set[str]:
    """The distributions of every third-party module the package imports, anywhere."""
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"luodian_map", "__future__"}
    distributions = packages_distributions()
    missing = {m for m in third_party if m not in distributions}
    assert not missing, f"imported but not installed: {missing}"
    return {_name(d) for m in third_party for d in distributions[m]}


def test_dependencies_are_what_the_package_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    extras = project.get("optional-dependencies", {})
    optional = {_name(r) for key, reqs in extras.items() if key != "test" for r in reqs}
    imported = imported_distributions()
    assert imported - runtime - optional == set(), "imported but not declared"
    unused = runtime - imported - set(USED_THROUGH)
    assert unused == set(), "declared but never imported: a test-only dependency?"
