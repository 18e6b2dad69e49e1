"""The project's shape: generic top-level names resolve here, and the core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import agents
import callwatch
import schemas
import streams

ROOT = Path(__file__).resolve().parent.parent
SERVICE_LIBRARIES = {
    "faust",
    "mode",
    "kafka",
    "aiokafka",
    "elasticsearch",
    "elastic_transport",
    "httpx",
    "aiohttp",
    "prometheus_client",
    "websockets",
}


def test_generic_package_names_import_from_this_repository() -> None:
    # 'agents', 'streams' and 'schemas' are common names on PyPI; a stray install
    # shadowing ours would run someone else's code.
    for package in (agents, streams, schemas, callwatch):
        assert Path(package.__file__).resolve().parent.parent == ROOT, package.__file__


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_pure_core_imports_no_service_clients() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & SERVICE_LIBRARIES)
        for folder in ("streams", "schemas")
        for path in (ROOT / folder).rglob("*.py")
        if imported_modules(path) & SERVICE_LIBRARIES
    }
    assert offenders == {}


def test_the_pure_core_never_reads_the_clock() -> None:
    readers = []
    for folder in ("streams", "schemas"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for needle in ("datetime.now(", "time.time(", "time.monotonic(", "date.today("):
                if needle in text:
                    readers.append(f"{path.relative_to(ROOT)}: {needle}")
    assert readers == []


# The layers, bottom up; an import may point down or sideways, never up.
# core <- application (settings, bootstrap, channels, sinks) <- agents <- entry points.
ENTRY_POINTS = ("callwatch.worker", "callwatch.cli", "callwatch.commands", "callwatch.demo")


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    if top in ("streams", "schemas"):
        return 0
    if any(module == e or module.startswith(e + ".") for e in ENTRY_POINTS):
        return 3
    return 2 if top == "agents" else 1


def project_imports(path: Path, module: str) -> set[str]:
    """The project modules ``path`` (module ``module``) imports, relative imports resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("streams", "schemas", "callwatch",
                                                               "agents")}


def test_every_import_points_down_the_layers() -> None:
    upward = []
    for folder in ("streams", "schemas", "callwatch", "agents"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            for target in project_imports(path, module):
                if layer_of(target) > layer_of(module):
                    upward.append(f"{module} -> {target}")
    assert upward == [], "imports pointing up the layers: " + ", ".join(sorted(upward))


def test_the_layer_check_sees_an_upward_import(tmp_path: Path) -> None:
    # the check above must be able to fail: an agent importing the worker is upward
    agent = tmp_path / "engine.py"
    agent.write_text("from callwatch.worker import main\nfrom . import topics\n")
    found = project_imports(agent, "agents.engine")
    assert "callwatch.worker" in found and "agents.topics" in found
    assert layer_of("callwatch.worker") > layer_of("agents.engine")
