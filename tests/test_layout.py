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
