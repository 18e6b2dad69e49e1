"""Real Kafka and Elasticsearch on this machine, without Docker.

Both come from Maven Central (fetched once with ``mvn`` into a git-ignored cache)
and run as plain Java processes on 127.0.0.1 with small heaps. Two profiles keep
the demo and the tests apart (and the fault tests and the benchmark each have one
too): separate ports and separate data folders, so a demo left running never
disturbs a test run and vice versa.

Every profile but one runs a single Kafka node (broker and KRaft controller in one
process). The ``cluster`` profile runs three, each broker and controller, with a
quorum of three and every topic replicated three times (``min.insync.replicas`` 2),
as production should: the fault suite kills partition leaders on it
(``tests/faults/test_cluster.py``). Its nodes start and stop one by one too.

Versions, and why:
- Kafka 3.9.1: the last 3.x line, KRaft single node, runs on Java 17, and speaks
  every protocol version aiokafka (faust-streaming) and kafka-python use.
- Elasticsearch 8.19.7: ES 8 runs on Java 17 (ES 9 needs 21), and the 8.x Python
  client we pin refuses a 9.x server and vice versa.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

KAFKA_VERSION: Final = "3.9.1"
ES_VERSION: Final = "8.19.7"
ES_ARTIFACT: Final = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
# Elasticsearch refuses to run as root; when we are root we run it as this user.
ES_SYSTEM_USER: Final = "callwatch"

ROOT: Final = Path(__file__).resolve().parent.parent
POM: Final = ROOT / "deploy" / "local" / "pom.xml"


class ServiceError(RuntimeError):
    """A problem a person can act on; printed as one line, never as a traceback."""


@dataclass(frozen=True)
class Profile:
    name: str
    kafka_port: int
    kafka_controller_port: int
    es_http_port: int
    es_transport_port: int
    # Kafka nodes (each broker and controller). Node N (from 1) listens on
    # kafka_port + 2(N-1) and kafka_controller_port + 2(N-1).
    kafka_nodes: int = 1

    def kafka_node_ports(self, node: int) -> tuple[int, int]:
        """The broker and controller ports of Kafka node ``node`` (1-based)."""
        if not 1 <= node <= self.kafka_nodes:
            raise ValueError(f"the {self.name} profile has no Kafka node {node}")
        step = 2 * (node - 1)
        return self.kafka_port + step, self.kafka_controller_port + step

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(
            f"127.0.0.1:{self.kafka_node_ports(n)[0]}" for n in range(1, self.kafka_nodes + 1)
        )

    @property
    def es_url(self) -> str:
        return f"http://127.0.0.1:{self.es_http_port}"


PROFILES: Final = {
    "demo": Profile("demo", 19092, 19093, 19200, 19300),
    "test": Profile("test", 29092, 29093, 29200, 29300),
    # the fault tests stop and start services: their own, so other tests are untouched.
    # Below Linux's ephemeral range (32768-60999): while a service is down, clients
    # reconnecting to a port inside it can be handed that very port and connect to
    # themselves (TCP self-connect), and the service cannot bind it again.
    "faults": Profile("faults", 28092, 28093, 28200, 28300),
    # `make bench` (tests/tools/bench.py): its own, so a benchmark never disturbs tests or a demo
    "bench": Profile("bench", 49092, 49093, 49200, 49300),
    # Three Kafka nodes (27092/27093, 27094/27095, 27096/27097; replication 3, min ISR 2)
    # and one Elasticsearch: the fault suite's partition-leader kills
    # (tests/faults/test_cluster.py). Below the ephemeral range, like "faults".
    "cluster": Profile("cluster", 27092, 27093, 27200, 27300, kafka_nodes=3),
}


def services_dir() -> Path:
    return Path(os.environ.get("CALLWATCH_SERVICES_DIR", ROOT / ".services"))


def cache_dir() -> Path:
    return services_dir() / "cache"


# --------------------------------------------------------------------------- java


def find_java() -> Path:
    """A Java 17+ runtime: JAVA_HOME first, then PATH."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for java in candidates:
        if java.exists() and _java_major(java) >= 17:
            return java
    raise ServiceError(
        "Java 17 or newer is needed to run Kafka and Elasticsearch locally; "
        "install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME."
    )


def _java_major(java: Path) -> int:
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    # e.g. 'openjdk version "17.0.15" 2025-04-15'
    for token in out.split('"')[1:2]:
        head = token.split(".")[0]
        return int(head) if head.isdigit() else 0
    return 0


def java_home(java: Path) -> Path:
    return java.resolve().parent.parent


# ----------------------------------------------------------------------- fetching


def _mvn(*args: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceError(
            "Maven (mvn) is needed to fetch Kafka and Elasticsearch from Maven Central; "
            "install it (Debian: apt-get install maven)."
        )
    proc = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise ServiceError("downloading from Maven Central failed: " + " | ".join(tail))


def kafka_libs() -> Path:
    libs = cache_dir() / f"kafka-{KAFKA_VERSION}" / "libs"
    marker = libs / ".complete"
    if not marker.exists():
        libs.mkdir(parents=True, exist_ok=True)
        _mvn(
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
        )
        marker.touch()
    return libs


# As root, when the checkout is in a folder the ``callwatch`` user cannot enter,
# Elasticsearch's files go here instead (see ``Elasticsearch._places``).
ES_ROOT_FALLBACK: Final = Path(os.environ.get("CALLWATCH_ES_ROOT_DIR", "/var/lib/callwatch"))


def _reachable_by_others(path: Path) -> bool:
    """Whether a user with no rights here but "others'" can reach ``path``'s folder."""
    for parent in path.parents:
        if parent == Path("/"):
            return True
        try:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def es_home() -> Path:
    home = cache_dir() / f"elasticsearch-{ES_VERSION}"
    marker = home / ".complete"
    if not marker.exists():
        dest = cache_dir() / "downloads"
        dest.mkdir(parents=True, exist_ok=True)
        _mvn("dependency:copy", f"-Dartifact={ES_ARTIFACT}", f"-DoutputDirectory={dest}")
        archive = dest / f"elasticsearch-{ES_VERSION}.zip"
        shutil.rmtree(home, ignore_errors=True)
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(cache_dir())
        # zipfile drops the executable bits the launcher scripts need.
        for script in (home / "bin").iterdir():
            script.chmod(0o755)
        marker.touch()
    return home


# ------------------------------------------------------------------------ helpers


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    raise ServiceError(f"{what} did not become healthy within {timeout:.0f}s; see {log}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Service:
    """One Java process with a pid file, a log file and a health check."""

    name: str
    profile: Profile

    @property
    def workdir(self) -> Path:
        return services_dir() / self.profile.name / self.name

    @property
    def pidfile(self) -> Path:
        return self.workdir / "pid"

    @property
    def logfile(self) -> Path:
        return self.workdir / "stdout.log"

    @property
    def port(self) -> int:
        raise NotImplementedError

    def pid(self) -> int | None:
        """The service's pid, if it runs. A pid file left by a killed run is removed: its
        pid is dead, or now belongs to another process (never signalled as ours)."""
        try:
            pid = int(self.pidfile.read_text())
        except (OSError, ValueError):
            return None
        if _pid_alive(pid) and self._is_ours(pid):
            return pid
        self.pidfile.unlink(missing_ok=True)
        return None

    def _is_ours(self, pid: int) -> bool:
        """Our service's command line names its working folder (config or data path)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # no /proc (not Linux): trust the pid file as before
            return not Path("/proc/self").exists()
        return any(str(folder).encode() in cmdline for folder in self.folders())

    def folders(self) -> list[Path]:
        """The folders the service's command line names (its working folder)."""
        return [self.workdir]

    def healthy(self) -> bool:
        raise NotImplementedError

    def command(self, java: Path) -> tuple[list[str], dict[str, str], Callable[[], None] | None]:
        raise NotImplementedError

    def prepare(self, java: Path) -> None:
        """One-time set-up before the first start (formatting storage, etc.)."""

    def start(self, timeout: float = 180) -> str:
        outcome, proc = self.launch()
        if proc is not None:
            self.await_ready(proc, timeout)
        return outcome

    def launch(self) -> tuple[str, subprocess.Popen[bytes] | None]:
        """Start the process without waiting for it to be healthy (a Kafka node of a
        cluster cannot be: it needs a quorum of its peers). Returns what happened and
        the process launched, if one was."""
        if self.pid() is not None and self.healthy():
            return "already running", None
        if port_open(self.port):
            if self.healthy():
                return f"reusing the {self.name} already answering on port {self.port}", None
            raise ServiceError(
                f"port {self.port} is in use by something that is not callwatch's {self.name}; "
                f"stop it or choose another profile"
            )
        stale = self.pid()
        if stale is not None:  # ours, but not on this port: started with another configuration
            raise ServiceError(
                f"the {self.profile.name} {self.name} (pid {stale}) is running but not answering"
                f" on port {self.port}; stop it with `callwatch services down --profile"
                f" {self.profile.name}`"
            )
        java = find_java()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prepare(java)
        argv, env, preexec = self.command(java)
        with self.logfile.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
                start_new_session=True,  # survives the shell that started it; Ctrl-C safe
                preexec_fn=preexec,
                cwd=self.workdir,
            )
        self.pidfile.write_text(str(proc.pid))
        return f"started on port {self.port}", proc

    def await_ready(self, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
        def ready() -> bool:
            if proc.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {proc.returncode} while starting; "
                    f"see {self.logfile}"
                )
            return self.healthy()

        _wait(self.name, ready, timeout, self.logfile)

    def stop(self, timeout: float = 60) -> str:
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return "not running"
        os.killpg(pid, signal.SIGTERM)
        self._await_exit(pid, timeout)
        return "stopped"

    def kill(self) -> str:
        """SIGKILL: no shutdown at all (a crashed machine, an OOM kill)."""
        pid = self.pid()
        if pid is None:
            return "not running"
        os.killpg(pid, signal.SIGKILL)
        self._await_exit(pid, 30)
        return "killed"

    def _await_exit(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.3)
            _reap(pid)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
                _reap(pid)
        self.pidfile.unlink(missing_ok=True)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class Kafka(Service):
    """One Kafka node, broker and KRaft controller. A one-node profile's is "kafka";
    a cluster's are "kafka-1", "kafka-2", ... (node ids 1, 2, ...)."""

    def __init__(self, profile: Profile, node: int = 1) -> None:
        super().__init__("kafka" if profile.kafka_nodes == 1 else f"kafka-{node}", profile)
        self.node = node
        profile.kafka_node_ports(node)  # raises for a node the profile does not have

    @property
    def port(self) -> int:
        return self.profile.kafka_node_ports(self.node)[0]

    @property
    def controller_port(self) -> int:
        return self.profile.kafka_node_ports(self.node)[1]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def properties(self) -> str:
        p = self.profile
        nodes = range(1, p.kafka_nodes + 1)
        voters = ",".join(f"{n}@127.0.0.1:{p.kafka_node_ports(n)[1]}" for n in nodes)
        # Kafka's internal topics (consumer offsets, transactions) and any topic created
        # without explicit settings: replicated like the pipeline's own, in production
        # three times with two replicas in sync (one broker may be lost, writes go on).
        replicas = min(3, p.kafka_nodes)
        in_sync = min(2, p.kafka_nodes)
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node}",
                f"controller.quorum.voters={voters}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.workdir / 'data'}",
                "num.partitions=4",
                f"offsets.topic.replication.factor={replicas}",
                "offsets.topic.num.partitions=8",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={in_sync}",
                *(
                    [f"default.replication.factor={replicas}", f"min.insync.replicas={in_sync}"]
                    if p.kafka_nodes > 1
                    else []
                ),
                # Tests create and join many consumer groups; don't wait 3 s for each.
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "delete.topic.enable=true",
                "log.retention.hours=168",
                "",
            ]
        )

    def prepare(self, java: Path) -> None:
        libs = kafka_libs()
        props = self.workdir / "server.properties"
        props.write_text(self.properties())
        (self.workdir / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=WARN\n"
        )
        if not (self.workdir / "data" / "meta.properties").exists():
            cluster_id = self._cluster_id()
            proc = subprocess.run(
                [str(java), "-cp", f"{libs}/*", *self._log4j(), "kafka.tools.StorageTool",
                 "format", "-t", cluster_id, "-c", str(props)],
                capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                raise ServiceError(f"formatting Kafka storage failed: {proc.stderr.strip()[-300:]}")

    def _cluster_id(self) -> str:
        """A fresh id for a single node; a cluster's nodes all share the profile's."""
        if self.profile.kafka_nodes == 1:
            return _kafka_cluster_id()
        saved = services_dir() / self.profile.name / "kafka-cluster-id"
        if not saved.exists():
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(_kafka_cluster_id())
        return saved.read_text().strip()

    def _log4j(self) -> list[str]:
        return [f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}"]

    def command(self, java: Path) -> tuple[list[str], dict[str, str], Callable[[], None] | None]:
        argv = [
            str(java), "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            *self._log4j(), "-cp", f"{kafka_libs()}/*", "kafka.Kafka",
            str(self.workdir / "server.properties"),
        ]
        return argv, {}, None

    def healthy(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            from kafka import KafkaAdminClient

            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=3000,
                client_id="callwatch-health",
            )
            try:
                if self.profile.kafka_nodes == 1:
                    admin.list_topics()
                    return True
                # A cluster's node is healthy once the quorum has it as a live broker
                # (registered and not fenced), not merely when its port answers.
                brokers = admin.describe_cluster()["brokers"]
            finally:
                admin.close()
        except Exception:  # any client error just means "not ready yet"
            return False
        return any(
            b.get("broker_id", b.get("node_id")) == self.node and not b.get("is_fenced", False)
            for b in brokers
        )


def _kafka_cluster_id() -> str:
    # KRaft wants a base64url-encoded 16-byte UUID (what `kafka-storage random-uuid` prints).
    # Like Kafka's own Uuid.randomUuid, never one starting with "-": the storage tool's
    # argument parser would read it as an option (1 in 64 formats failed before this).
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class Elasticsearch(Service):
    def __init__(self, profile: Profile) -> None:
        super().__init__("elasticsearch", profile)

    @property
    def port(self) -> int:
        return self.profile.es_http_port

    def _run_as(self) -> tuple[int, int] | None:
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(ES_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 ES_SYSTEM_USER],
                check=True, capture_output=True,
            )
            entry = pwd.getpwnam(ES_SYSTEM_USER)
        return entry.pw_uid, entry.pw_gid

    def _places(self) -> tuple[Path, Path]:
        """Where Elasticsearch's distribution and its data/logs/tmp live.

        Elasticsearch refuses to run as root, so as root it runs as the
        ``callwatch`` system user, who must be able to reach both. A checkout in a
        folder that user cannot enter (a home directory, a ``mktemp -d`` folder)
        would stop it; then both go under ``ES_ROOT_FALLBACK``, one folder per
        services directory (the pid file and log stay in the checkout)."""
        home, data = es_home(), self.workdir
        root = self._fallback_root()
        if root is None:
            return home, data
        moved = root / home.name
        if not (moved / ".complete").exists():
            partial = moved.with_name(moved.name + ".partial")  # renamed when whole
            shutil.rmtree(moved, ignore_errors=True)
            shutil.rmtree(partial, ignore_errors=True)
            moved.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(home, partial, symlinks=True)
            partial.rename(moved)
        return moved, root / self.profile.name / self.name

    def _fallback_root(self) -> Path | None:
        if self._run_as() is None or _reachable_by_others(self.workdir):
            return None
        digest = hashlib.sha256(str(services_dir().resolve()).encode()).hexdigest()[:12]
        return ES_ROOT_FALLBACK / digest

    def folders(self) -> list[Path]:
        root = self._fallback_root()
        return [self.workdir] if root is None else [self.workdir, root / self.profile.name]

    def prepare(self, java: Path) -> None:
        home, data = self._places()
        for sub in ("data", "logs", "tmp"):
            (data / sub).mkdir(parents=True, exist_ok=True)
        ids = self._run_as()
        if ids is not None:
            # Elasticsearch refuses root; the unprivileged user must own its config and data.
            for path in (home, data):
                subprocess.run(["chown", "-R", f"{ids[0]}:{ids[1]}", str(path)], check=True)
            for parent in data.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    raise ServiceError(
                        f"{parent} is not searchable by the '{ES_SYSTEM_USER}' user that runs "
                        f"Elasticsearch; chmod o+x it or set CALLWATCH_SERVICES_DIR elsewhere"
                    )

    def command(self, java: Path) -> tuple[list[str], dict[str, str], Callable[[], None] | None]:
        home, data = self._places()
        p = self.profile
        settings = {
            "cluster.name": f"callwatch-{p.name}",
            "node.name": f"callwatch-{p.name}",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": str(p.es_http_port),
            "transport.port": str(p.es_transport_port),
            "path.data": str(data / "data"),
            "path.logs": str(data / "logs"),
            # Local, loopback-only: no TLS or users (the compose stack documents them).
            "xpack.security.enabled": "false",
            # A nearly full developer disk must not flip indices to read-only mid-test.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "action.destructive_requires_name": "false",
        }
        argv = [str(home / "bin" / "elasticsearch"), *(f"-E{k}={v}" for k, v in settings.items())]
        env = {
            "ES_JAVA_HOME": str(java_home(java)),
            "ES_JAVA_OPTS": "-Xms512m -Xmx512m",
            "ES_TMPDIR": str(data / "tmp"),
        }
        ids = self._run_as()
        preexec = None
        if ids is not None:
            uid, gid = ids

            def preexec() -> None:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)

        return argv, env, preexec

    def healthy(self) -> bool:
        try:
            r = httpx.get(
                f"{self.profile.es_url}/_cluster/health", params={"timeout": "1s"}, timeout=3
            )
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("status") in {"green", "yellow"}


def profile(profile_name: str) -> Profile:
    try:
        return PROFILES[profile_name]
    except KeyError:
        raise ServiceError(
            f"unknown profile {profile_name!r}; choose one of {sorted(PROFILES)}"
        ) from None


def kafka_nodes(profile_name: str) -> list[Kafka]:
    p = profile(profile_name)
    return [Kafka(p, node) for node in range(1, p.kafka_nodes + 1)]


def services(profile_name: str) -> list[Service]:
    return [*kafka_nodes(profile_name), Elasticsearch(profile(profile_name))]


def _batches(profile_name: str) -> list[list[Service]]:
    """What starts together: a cluster's Kafka nodes (none is healthy before a quorum
    of them runs), then Elasticsearch."""
    return [list(kafka_nodes(profile_name)), [Elasticsearch(profile(profile_name))]]


def up(profile_name: str, report: Callable[[str], None] = print) -> Profile:
    """Start the profile's services; if one fails, stop those this call started
    (a Kafka left running by a failed start made the next run fail on it)."""
    started: list[Service] = []
    for batch in _batches(profile_name):
        launched: list[tuple[Service, subprocess.Popen[bytes]]] = []
        svc: Service | None = None
        try:
            outcomes = {}
            for svc in batch:
                outcome, proc = svc.launch()
                outcomes[svc.name] = outcome
                if proc is not None:
                    launched.append((svc, proc))
            for svc, proc in launched:
                svc.await_ready(proc)
            svc = None
        except BaseException:
            for other, _ in launched:  # launched, then failed (or a peer did)
                if other.pid() is not None:
                    outcome = other.stop()
                    if other is not svc:
                        report(f"{other.name}: {outcome} (the start failed)")
            if svc is not None and svc.pid() is not None and svc not in started:
                svc.stop()
            for earlier in reversed(started):
                report(f"{earlier.name}: {earlier.stop()} (the start failed)")
            raise
        for svc in batch:
            if outcomes[svc.name].startswith("started"):
                started.append(svc)
            report(f"{svc.name}: {outcomes[svc.name]}")
    return profile(profile_name)


def down(profile_name: str, report: Callable[[str], None] = print) -> None:
    """Stop Elasticsearch, then every Kafka node at once: a cluster's node stopping
    alone after its peers would wait for a quorum that is gone."""
    for batch in reversed(_batches(profile_name)):
        pids = {}
        for svc in batch:
            pid = svc.pid()
            if pid is None:
                svc.pidfile.unlink(missing_ok=True)
            else:
                os.killpg(pid, signal.SIGTERM)
                pids[svc.name] = pid
        for svc in reversed(batch):
            if svc.name in pids:
                svc._await_exit(pids[svc.name], 60)
            report(f"{svc.name}: {'stopped' if svc.name in pids else 'not running'}")


def status(profile_name: str) -> dict[str, str]:
    out = {}
    for svc in services(profile_name):
        pid = svc.pid()
        state = "healthy" if svc.healthy() else ("starting or unhealthy" if pid else "stopped")
        out[svc.name] = f"{state} (port {svc.port}{f', pid {pid}' if pid else ''})"
    return out
