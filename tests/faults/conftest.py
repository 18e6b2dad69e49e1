"""The fault suite's fixtures and its summary table.

Every scenario runs against the ``faults`` service profile (Kafka 28092,
Elasticsearch 28200), which the tests may stop, pause and restart without
disturbing the other tests. Each scenario has its own topics, indices and
consumer group (a unique prefix). Outages last ``CALLWATCH_FAULT_DOWN_SECONDS``
(15 s by default; ``make faults`` uses 60).

Each scenario adds one row to a session-wide table, printed at the end of the
run and written to ``fault-report.md`` in pytest's temporary directory.

Rare failures need many runs: ``CALLWATCH_FAULT_REPEAT=N`` runs every scenario N
times, each with its own seed for when its faults strike (``pipeline.rng``; the
seed is in the row's notes, and ``CALLWATCH_FAULT_SEED=S`` replays one), and the
table shows each scenario once as "N runs, worst case". Without it every
scenario runs once with a seed fixed by its name, so a plain run is repeatable.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callwatch import local_services
from tests.conftest import ROOT, Services, Worker, free_port
from tests.faults.accounting import Ledger, Row

DOWN_SECONDS = float(os.environ.get("CALLWATCH_FAULT_DOWN_SECONDS", "15"))
# "faults" (Kafka 28092, ES 28200). CALLWATCH_FAULT_PROFILE=faults-private runs the suite on
# services of its own (31092/31200), for when something else uses the faults profile too.
PROFILE = os.environ.get("CALLWATCH_FAULT_PROFILE", "faults")
local_services.PROFILES.setdefault(  # type: ignore[attr-defined]
    PROFILE, local_services.Profile(PROFILE, 31092, 31093, 31200, 31300)
)
# A SIGKILLed worker stays a member of its consumer group until its session times
# out; faust reads these from the environment. Production keeps faust's 60 s
# default unless the operator sets them (see the README's "Failure and recovery").
FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}

REPEAT = max(1, int(os.environ.get("CALLWATCH_FAULT_REPEAT", "1")))
FIXED_SEED = os.environ.get("CALLWATCH_FAULT_SEED")

ROWS: list[Row] = []
_REPORT_DIR: list[Path] = []


@pytest.fixture(scope="session")
def fault_table(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    _REPORT_DIR.append(tmp_path_factory.getbasetemp())
    return ROWS


@pytest.fixture(scope="session")
def suite_services() -> Iterator[Services]:
    """The fault services, started once; stopped at the end if this session started them."""
    profile = local_services.PROFILES[PROFILE]
    already = all(s.healthy() for s in local_services.services(PROFILE))
    local_services.up(PROFILE, report=lambda m: print(f"[{PROFILE}] {m}", file=sys.stderr))
    foreign = [s.name for s in local_services.services(PROFILE) if s.pid() is None]
    if foreign:  # answering on our ports, but started elsewhere: we could not stop them
        pytest.fail(
            f"the {PROFILE} profile's {' and '.join(foreign)} answer on its ports but were"
            " started from another checkout, so this suite cannot stop and restart them:"
            f" run `callwatch services down --profile {PROFILE}` there, or set"
            " CALLWATCH_FAULT_PROFILE=faults-private"
        )
    yield Services(profile.kafka_bootstrap, profile.es_url)
    if not already and os.environ.get("CALLWATCH_KEEP_SERVICES") != "1":
        local_services.down(PROFILE, report=lambda m: print(f"[{PROFILE}] {m}", file=sys.stderr))


@pytest.fixture
def services_up(suite_services: Services) -> Iterator[Services]:
    """Whatever the previous scenario did to them, each starts with both services healthy."""
    restore_services()
    yield suite_services
    restore_services()


def restore_services() -> None:
    for svc in local_services.services(PROFILE):
        pid = svc.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)
        if not svc.healthy():
            start_service(svc)


class FaultWorker(Worker):
    """A worker whose metrics are probed where CALLWATCH_WEB_HOST binds them."""

    @property
    def metrics_url(self) -> str:
        host = self.env.get("CALLWATCH_WEB_HOST", "127.0.0.1")
        return f"http://{host}:{self.env['CALLWATCH_WEB_PORT']}/metrics"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fault_run" in metafunc.fixturenames and REPEAT > 1:
        metafunc.parametrize(
            "fault_run", range(REPEAT), indirect=True, ids=[f"run{i + 1}" for i in range(REPEAT)]
        )


@pytest.fixture
def fault_run(request: pytest.FixtureRequest) -> int:
    """Which of the CALLWATCH_FAULT_REPEAT runs of a scenario this is (0 without it)."""
    return int(getattr(request, "param", 0))


def scenario_seed(test_name: str, run: int) -> int:
    if FIXED_SEED is not None:
        return int(FIXED_SEED)
    if REPEAT > 1:
        return random.SystemRandom().randrange(2**32)
    return zlib.crc32(test_name.split("[", 1)[0].encode())


@dataclass
class Pipeline:
    """One isolated pipeline on the fault services: its prefix, group and workers.

    ``rng`` decides when the scenario's faults strike (seeded: ``seed``)."""

    services: Services
    tmp: Path
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random)
    prefix: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:10]}")
    workers: list[Worker] = field(default_factory=list)
    dead: set[int] = field(default_factory=set)  # ids of workers killed and not restarted

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.services.kafka_bootstrap, self.services.es_url, self.prefix)

    def env(self, **overrides: str) -> dict[str, str]:
        n = len(self.workers)
        return {
            "CALLWATCH_KAFKA_BOOTSTRAP": self.services.kafka_bootstrap,
            "CALLWATCH_ES_URL": self.services.es_url,
            "CALLWATCH_TOPIC_PREFIX": self.prefix,
            "CALLWATCH_INDEX_PREFIX": self.prefix,
            "CALLWATCH_APP_ID": f"callwatch-{self.prefix}",
            "CALLWATCH_DATA_DIR": str(self.tmp / f"worker{n}"),
            "CALLWATCH_WEB_PORT": str(free_port()),
            **FAST_FAILOVER,
            **overrides,
        }

    def worker(self, **overrides: str) -> Worker:
        """Start a worker process (its own data dir and metrics port) and wait until it serves."""
        w = FaultWorker(self.env(**overrides), self.tmp / f"worker{len(self.workers)}.log")
        self.workers.append(w)
        return w.start()

    def kill(self, w: Worker) -> None:
        """SIGKILL: no shutdown, no final commit."""
        w.kill()
        self.dead.add(id(w))

    def restart(self, w: Worker) -> Worker:
        """Start a killed worker again with the same settings (same data dir and port)."""
        self.dead.discard(id(w))
        return w.start()

    def alive(self) -> None:
        """Fail fast if a worker that should be running has exited."""
        for w in self.workers:
            if id(w) not in self.dead:
                w.assert_running()

    def logs(self) -> str:
        return "\n".join(w.log.read_text(errors="replace") for w in self.workers if w.log.exists())


@pytest.fixture
def pipeline(
    services_up: Services, tmp_path: Path, fault_run: int, request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    seed = scenario_seed(request.node.name, fault_run)
    print(f"[faults] {request.node.name}: seed {seed} (CALLWATCH_FAULT_SEED={seed} replays it)",
          file=sys.stderr)
    p = Pipeline(services_up, tmp_path, seed=seed, rng=random.Random(seed))
    yield p
    for w in p.workers:
        w.stop()


def stop_service(svc: local_services.Service) -> None:
    assert svc.pid() is not None, f"{svc.name} was not started by this suite; cannot stop it"
    svc.stop()


def start_service(svc: local_services.Service) -> None:
    """Start a stopped service, trying again if it cannot bind its port yet (a port
    inside Linux's ephemeral range can be taken by a client's self-connect while the
    service is down; the fault profile's ports are below that range, but a private
    profile's might not be)."""
    for attempt in range(5):
        try:
            svc.start()
            return
        except local_services.ServiceError:
            if attempt == 4:
                raise
            time.sleep(3)


def pause_service(svc: local_services.Service) -> None:
    pid = svc.pid()
    assert pid is not None, f"{svc.name} is not running"
    os.killpg(pid, signal.SIGSTOP)


def resume_service(svc: local_services.Service) -> None:
    pid = svc.pid()
    assert pid is not None, f"{svc.name} is not running"
    os.killpg(pid, signal.SIGCONT)


def kafka_service() -> local_services.Kafka:
    return local_services.Kafka(local_services.PROFILES[PROFILE])


def es_service() -> local_services.Elasticsearch:
    return local_services.Elasticsearch(local_services.PROFILES[PROFILE])


# ---------------------------------------------------------------- the table

COLUMNS = (
    "scenario",
    "events in",
    "accounted",
    "lost",
    "findings exp/prod",
    "alerts exp/deliv",
    "duplicates",
    "repeats",
    "recovery s",
    "caught up s",
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def worst_case(rows: list[Row]) -> list[Row]:
    """One row per scenario: a scenario run several times shows its worst figures."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.scenario, []).append(row)
    out = []
    for name, runs in groups.items():
        if len(runs) == 1:
            out.append(runs[0])
            continue
        worst = Row(f"{name} ({len(runs)} runs, worst case)")
        worst.events_in = max(r.events_in for r in runs)
        # the run that lost most sets "accounted"
        worst.accounted = worst.events_in - max(r.lost for r in runs)
        worst.findings_expected = max(r.findings_expected for r in runs)
        worst.findings_produced = worst.findings_expected - max(
            r.findings_expected - r.findings_produced for r in runs
        )
        worst.findings_extra = max(r.findings_extra for r in runs)
        worst.alerts_expected = max(r.alerts_expected for r in runs)
        worst.alerts_delivered = worst.alerts_expected - max(
            r.alerts_expected - r.alerts_delivered for r in runs
        )
        worst.alerts_label = runs[0].alerts_label
        worst.duplicates = max(r.duplicates for r in runs)
        worst.repeats = max(r.repeats for r in runs)
        recoveries = [r.recovery_s for r in runs if r.recovery_s is not None]
        worst.recovery_s = max(recoveries) if recoveries else None
        caught_up = [r.caught_up_s for r in runs if r.caught_up_s is not None]
        worst.caught_up_s = max(caught_up) if caught_up else None
        clean = sum(1 for r in runs if r.clean)
        worst.notes.append(f"{clean} of {len(runs)} runs clean")
        for index, run in enumerate(runs, 1):
            worst.failures += [f"run {index}: {f}" for f in run.failures]
            worst.notes += [f"run {index}: {n}" for n in run.notes]
        out.append(worst)
    return out


def render(rows: list[Row]) -> str:
    rows = worst_case(rows)
    table = [
        [
            r.scenario,
            _fmt(r.events_in),
            _fmt(r.accounted),
            _fmt(r.lost),
            f"{r.findings_expected}/{r.findings_produced}"
            + (f" (+{r.findings_extra})" if r.findings_extra else ""),
            f"{r.alerts_expected}/{r.alerts_delivered} {r.alerts_label}",
            _fmt(r.duplicates),
            _fmt(r.repeats),
            _fmt(r.recovery_s),
            _fmt(r.caught_up_s),
        ]
        for r in rows
    ]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(COLUMNS)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
        for row in table
    ]
    notes = [f"- {r.scenario}: {note}" for r in rows for note in [*r.failures, *r.notes]]
    legend = (
        f"Outages: {DOWN_SECONDS:.0f} s (CALLWATCH_FAULT_DOWN_SECONDS). "
        "accounted = raw events found on the events topic (valid) or the dead-letter topic "
        "(invalid); findings = ground-truth findings (agency calls) in the findings index with "
        "their final status; alerts = alerts whose deliveries by the log channel end in the "
        "finding's final state ('delivered'), or alert messages a real webhook accepted "
        "against those the log channel delivered ('webhook'); duplicates = effects applied "
        "twice (must be 0); repeats = at-least-once redeliveries on topics, ignored "
        "downstream by id, and alerts re-sent marked 'possible repeat' after a crash cut "
        "their send off; recovery = fault over -> pipeline progressing again; caught up = "
        "fault over -> everything accounted."
    )
    return "\n".join([*lines, "", legend, *notes])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not ROWS:
        return
    text = render(ROWS)
    terminalreporter.section("fault table")
    terminalreporter.write_line(text)
    directory = _REPORT_DIR[0] if _REPORT_DIR else Path(ROOT / ".pytest_cache")
    path = directory / "fault-report.md"
    path.write_text(f"# callwatch fault report ({time.strftime('%Y-%m-%d %H:%M:%S')})\n\n{text}\n")
    terminalreporter.write_line(f"fault report written to {path}")
    print(f"fault report: {path}", file=sys.stderr)
