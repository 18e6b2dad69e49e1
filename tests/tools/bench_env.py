"""The benchmark's surroundings: its own services, worker subprocesses, /proc readings.

Everything here talks to the ``bench`` profile (Kafka 49092, Elasticsearch 49200),
so a benchmark never disturbs a test run or a demo. Each phase runs its own worker
with a unique topic/index prefix and consumer group.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from callwatch import local_services

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def callwatch_argv(code_root: Path | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """The command line (and environment) that runs ``callwatch ARGS``: this venv's entry
    point, or the same interpreter over another copy of the code (``--code-root``, e.g.
    the tree before a change, for a before/after comparison on the same machine)."""
    if code_root is None:
        return [str(Path(sys.executable).parent / "callwatch"), *args], {}
    run = "import sys; from callwatch.cli import app; sys.argv[0] = 'callwatch'; app()"
    return [sys.executable, "-c", run, *args], {"PYTHONPATH": str(code_root)}


def work_dir() -> Path:
    """Scratch space outside the repository (generated streams, logs, profiles)."""
    base = Path(os.environ.get("CALLWATCH_BENCH_DIR", Path(os.environ.get("TMPDIR", "/tmp"))))
    path = base / "callwatch-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def bench_services(keep: bool, report: Callable[[str], None]) -> Iterator[local_services.Profile]:
    """Start the bench profile's Kafka and Elasticsearch; stop them after if we started them."""
    svcs = local_services.services(PROFILE)
    already = all(s.healthy() for s in svcs)
    profile = local_services.up(PROFILE, report=lambda m: report(f"[services] {m}"))
    try:
        yield profile
    finally:
        if not already and not keep:
            local_services.down(PROFILE, report=lambda m: report(f"[services] {m}"))


def service_pids() -> dict[str, int]:
    out = {}
    for svc in local_services.services(PROFILE):
        pid = svc.pid()
        if pid is not None:
            out[svc.name] = pid
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix(tag: str) -> str:
    return f"bench{tag}{uuid.uuid4().hex[:6]}"


# ----------------------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (children excluded)."""
    try:
        f = _stat_fields(pid)
    except (OSError, ValueError):
        return 0.0
    return (int(f[11]) + int(f[12])) / CLK_TCK


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process and all its live descendants (e.g. ES's launcher + JVM)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError, IndexError):
                continue
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(cpu_seconds(pid) for pid in tree)


def sched_seconds(pid: int) -> tuple[float, float]:
    """(on a CPU, waiting for a CPU) seconds, summed over the process's threads: the
    second is how much other load on the machine held it back."""
    run = wait = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            fields = (task / "schedstat").read_text().split()
            run += int(fields[0])
            wait += int(fields[1])
    except (OSError, ValueError, IndexError):
        pass
    return run / 1e9, wait / 1e9


def proc_status(pid: int, key: str) -> int:
    """A kB figure from /proc/PID/status (VmHWM, VmRSS), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


class CpuMeter:
    """CPU seconds used by the worker, Kafka, Elasticsearch and this process over a span."""

    def __init__(self, worker_pid: int) -> None:
        self.pids = {"worker": worker_pid, **service_pids()}
        self.start = self._read()
        self.sched = sched_seconds(worker_pid)
        self.started = time.monotonic()

    def _read(self) -> dict[str, float]:
        out = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        t = os.times()
        out["bench"] = t.user + t.system
        return out

    def stop(self) -> dict[str, float]:
        end = self._read()
        wall = time.monotonic() - self.started
        used = {k: end[k] - self.start.get(k, 0.0) for k in end}
        used["wall"] = wall
        used["worker_waiting_for_cpu"] = sched_seconds(self.pids["worker"])[1] - self.sched[1]
        return used


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    with suppress(OSError, KeyError):
        mem = proc_meminfo("MemTotal")

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "faust-streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "msgspec": version("msgspec"),
        "orjson": version("orjson"),
        "kafka": local_services.KAFKA_VERSION,
        "elasticsearch": local_services.ES_VERSION,
        "loadavg_at_start": os.getloadavg(),
    }


def proc_meminfo(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


# ---------------------------------------------------------------------------- worker


@dataclass
class Worker:
    """``callwatch worker`` as a subprocess with its own prefix, group, port and data dir."""

    profile: local_services.Profile
    tag: str
    extra_env: dict[str, str] = field(default_factory=dict)
    prefix: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    # run the worker from this copy of the code (default: the code this bench runs from)
    code_root: Path | None = None

    def __post_init__(self) -> None:
        self.prefix = self.prefix or unique_prefix(self.tag)
        data = work_dir() / "workers" / self.prefix
        data.mkdir(parents=True, exist_ok=True)
        self.log = data / "worker.log"
        self.env = {
            "CALLWATCH_KAFKA_BOOTSTRAP": self.profile.kafka_bootstrap,
            "CALLWATCH_ES_URL": self.profile.es_url,
            "CALLWATCH_TOPIC_PREFIX": self.prefix,
            "CALLWATCH_INDEX_PREFIX": self.prefix,
            "CALLWATCH_APP_ID": f"callwatch-{self.prefix}",
            "CALLWATCH_DATA_DIR": str(data / "state"),
            "CALLWATCH_WEB_PORT": str(free_port()),
            **self.extra_env,
        }

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['CALLWATCH_WEB_PORT']}/metrics"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def index(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def start(self, timeout: float = 90) -> Worker:
        assert self.log is not None
        argv, extra = callwatch_argv(self.code_root, "worker", "--loglevel", "info")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                env={**os.environ, **extra, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.code_root or ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                if httpx.get(self.metrics_url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"worker did not start; see {self.log}")

    def assert_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            assert self.log is not None
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{tail}")

    def wait_ready(self, timeout: float = 90) -> None:
        """Until Faust says the worker is ready (partitions assigned, tables recovered)."""
        assert self.log is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.assert_running()
            if "Worker]: Ready" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready after {timeout:.0f}s; see {self.log}")

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.metrics_url, timeout=5).text
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for (sample, sample_labels), value in self.metrics().items():
            d = dict(sample_labels)
            if sample == name and all(d.get(k) == v for k, v in labels.items()):
                total += value
        return total

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ------------------------------------------------------------------- Elasticsearch


class Es:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)

    def count(self, index: str) -> int:
        r = self.http.get(f"/{index}/_count")
        if r.status_code == 404:
            return 0
        r.raise_for_status()
        return int(r.json()["count"])

    def refresh(self, index: str) -> None:
        self.http.post(f"/{index}/_refresh")

    def delete_prefix(self, prefix: str) -> None:
        """Remove a finished phase's indices so the bench cluster does not fill up."""
        self.http.delete(f"/{prefix}-*", params={"expand_wildcards": "all"})
        self.http.delete(f"/_index_template/{prefix}-*")


def delete_topics(bootstrap: str, prefix: str) -> None:
    """Drop a finished phase's topics (and its changelog) from the bench broker."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="callwatch-bench")
    try:
        names = [t for t in admin.list_topics() if prefix in t]
        if names:
            admin.delete_topics(names)
    except Exception:  # cleanup is best effort; the bench profile's data dir is disposable
        pass
    finally:
        admin.close()


def which(tool: str) -> str | None:
    local = Path(sys.executable).parent / tool
    return str(local) if local.exists() else shutil.which(tool)
