"""Fixtures: the real Kafka and Elasticsearch, started once per session.

The services come from ``callwatch services`` with the ``test`` profile (its own
ports and data folder, so a running demo is untouched). If they are already
running they are reused and left running; if this session started them, it
stops them at the end (set CALLWATCH_KEEP_SERVICES=1 to keep them for the next run).
Each test gets unique topic names and index prefixes, so tests never see each
other's data.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from callwatch import local_services

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Services:
    kafka_bootstrap: str
    es_url: str


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    profile = local_services.PROFILES["test"]
    already = all(s.healthy() for s in local_services.services("test"))
    local_services.up("test", report=lambda m: print(f"[services] {m}", file=sys.stderr))
    yield Services(profile.kafka_bootstrap, profile.es_url)
    if not already and os.environ.get("CALLWATCH_KEEP_SERVICES") != "1":
        local_services.down("test", report=lambda m: print(f"[services] {m}", file=sys.stderr))


@pytest.fixture(scope="session")
def fault_services() -> Iterator[Services]:
    """Services the fault tests may stop and start: a profile of their own."""
    profile = local_services.PROFILES["faults"]
    already = all(s.healthy() for s in local_services.services("faults"))
    local_services.up("faults", report=lambda m: print(f"[faults] {m}", file=sys.stderr))
    yield Services(profile.kafka_bootstrap, profile.es_url)
    if not already and os.environ.get("CALLWATCH_KEEP_SERVICES") != "1":
        local_services.down("faults", report=lambda m: print(f"[faults] {m}", file=sys.stderr))


@pytest.fixture
def kafka_bootstrap(services: Services) -> str:
    return services.kafka_bootstrap


@pytest.fixture
def es_url(services: Services) -> str:
    return services.es_url


@pytest.fixture
def unique_prefix() -> str:
    """Lower-case, so it is valid both as a topic prefix and as an index prefix."""
    return f"t{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def pipeline_env(services: Services, unique_prefix: str, tmp_path: Path) -> dict[str, str]:
    """Settings for one isolated pipeline: its own topics, indices, group and state dir."""
    return {
        "CALLWATCH_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "CALLWATCH_ES_URL": services.es_url,
        "CALLWATCH_TOPIC_PREFIX": unique_prefix,
        "CALLWATCH_INDEX_PREFIX": unique_prefix,
        "CALLWATCH_APP_ID": f"callwatch-{unique_prefix}",
        "CALLWATCH_DATA_DIR": str(tmp_path / "worker"),
        "CALLWATCH_WEB_PORT": str(free_port()),
    }


@dataclass
class Worker:
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = field(default=0)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['CALLWATCH_WEB_PORT']}/metrics"

    def start(self) -> Worker:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "callwatch"), "worker", "--loglevel", "info"],
            env={**os.environ, **self.env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.metrics_url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker did not start: {self.log.read_text()[-3000:]}")

    def assert_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"worker exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}"
            )

    def metric(self, name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.metrics_url, timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    total += sample.value
        return total

    def stop(self, timeout: float = 30) -> tuple[float, int | None]:
        """SIGTERM; SIGKILL if still running after ``timeout``. Returns the seconds it
        took and the exit status (negative: killed by that signal)."""
        started = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        status = self.proc.returncode if self.proc is not None else None
        return time.monotonic() - started, status

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.restarts += 1


@pytest.fixture
def worker_factory(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[type]:
    started: list[Worker] = []

    class Factory:
        @staticmethod
        def start(**overrides: str) -> Worker:
            w = Worker({**pipeline_env, **overrides}, tmp_path / f"worker{len(started)}.log")
            started.append(w)
            return w.start()

    yield Factory
    for w in started:
        w.stop()
