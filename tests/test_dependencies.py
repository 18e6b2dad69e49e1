"""Reproducible installs: every package the code imports is declared, and every
declared package is pinned in constraints.txt (what `make install` installs)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OWN = {"callwatch", "agents", "streams", "schemas", "tests"}


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared(extra: str | None = None) -> set[str]:
    meta = project()
    specs = meta["dependencies"] if extra is None else meta["optional-dependencies"][extra]  # type: ignore[index]
    return {canonicalize_name(Requirement(s).name) for s in specs}  # type: ignore[union-attr]


def imported_top_levels(*folders: str) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - OWN - set(sys.stdlib_module_names) - {"__future__"}


def distributions_of(modules: set[str]) -> dict[str, set[str]]:
    mapping = packages_distributions()
    return {m: {canonicalize_name(d) for d in mapping.get(m, [])} for m in modules}


def test_every_runtime_import_is_a_declared_dependency() -> None:
    runtime = declared()
    undeclared = {
        module: dists
        for module, dists in distributions_of(
            imported_top_levels("callwatch", "agents", "streams", "schemas")
        ).items()
        if not dists & runtime
    }
    assert not undeclared, f"imported but not in [project.dependencies]: {undeclared}"


def test_every_test_import_is_declared_as_runtime_or_dev() -> None:
    known = declared() | declared("dev")
    undeclared = {
        module: dists
        for module, dists in distributions_of(imported_top_levels("tests")).items()
        if not dists & known
    }
    assert not undeclared, f"tests import undeclared packages: {undeclared}"


def test_constraints_pin_every_declared_package() -> None:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = {
        canonicalize_name(line.split("==")[0]): line.split("==")[1]
        for line in lines
        if line and not line.startswith("#")
    }
    assert all("==" in line for line in lines if line and not line.startswith("#"))
    missing = (declared() | declared("dev")) - set(pins)
    assert not missing, f"declared but not pinned in constraints.txt (run `make lock`): {missing}"


def test_make_install_uses_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt -e '.[dev]'" in makefile
    assert "lock:" in makefile
