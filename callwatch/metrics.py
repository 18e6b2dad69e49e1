"""Every Prometheus metric callwatch exposes, in one place.

Conventions: names start with ``callwatch_``; counters end in ``_total``,
durations are histograms in seconds (``_seconds``), timestamps are unix seconds.
Labels take values from small fixed sets (or, for ``rule``, the rules of the
loaded policy): a label fed from event data (call ids, topics, partitions, free
text) would let one noisy source create unbounded series.

The metrics live in a module-level ``REGISTRY`` rather than prometheus-client's
global default so that tests read exact values and nothing imported by a
dependency leaks into our exposition. ``deploy/prometheus/rules`` refers to
these names; ``tests/test_prometheus_rules.py`` keeps the two in step.
"""

from __future__ import annotations

import errno
import platform
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from threading import Thread
from typing import Final, Literal, get_args
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client import generate_latest as _generate_latest

from streams.codec import REJECT_REASONS

# `_created` series double the series count of every counter and histogram and
# nothing we alert on or chart uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

Stage = Literal["ingest", "engine", "indexer", "alerter"]
Agency = Literal["ICE", "CBP", "USCIS", "other"]
Severity = Literal["critical", "high", "warning", "review"]  # as in the policy file
FindingStatus = Literal["opened", "resolved", "retracted"]
AlertChannel = Literal["alertmanager", "email", "webhook", "log"]
# repeated: sent again, marked as a possible repeat, after a send was cut off
AlertOutcome = Literal["sent", "failed", "retried", "deduplicated", "repeated"]
BulkFailureKind = Literal["request", "item"]  # whole bulk call vs. single documents

STAGES: Final[tuple[str, ...]] = get_args(Stage)
AGENCIES: Final[tuple[str, ...]] = get_args(Agency)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
FINDING_STATUSES: Final[tuple[str, ...]] = get_args(FindingStatus)
ALERT_CHANNELS: Final[tuple[str, ...]] = get_args(AlertChannel)
ALERT_OUTCOMES: Final[tuple[str, ...]] = get_args(AlertOutcome)
BULK_FAILURE_KINDS: Final[tuple[str, ...]] = get_args(BulkFailureKind)
DEAD_LETTER_REASONS: Final[tuple[str, ...]] = (
    # contract_violation: an internal record that decodes but is not what its topic
    # carries (a call without call_id, an event under another call's key, ...)
    *REJECT_REASONS, "late_after_eviction", "index_failure", "contract_violation",
)

# Policy rule ids are slugs (e.g. "commander-notified"); anything else is a bug
# upstream, and refusing it keeps a malformed policy from minting odd series.
_RULE_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# 5 ms (one in-memory rule evaluation) to 60 s (a stuck bulk request or SMTP
# server); the finer steps sit under a second, where the pipeline should be.
LATENCY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
)

REGISTRY: Final = CollectorRegistry()
# CPU, memory, open fds and process_start_time_seconds: the first things to
# look at when a worker is slow, and free to collect.
ProcessCollector(registry=REGISTRY)

EVENTS_IN: Final = Counter(
    "callwatch_events_in_total", "Events a stage started processing.", ["stage"],
    registry=REGISTRY,
)
EVENTS_OUT: Final = Counter(
    "callwatch_events_out_total",
    "Events a stage finished (passed on or deliberately dropped), excluding dead letters.",
    ["stage"], registry=REGISTRY,
)
DEAD_LETTERS: Final = Counter(
    "callwatch_dead_letters_total", "Records sent to the dead-letter topic.", ["reason"],
    registry=REGISTRY,
)
IMMIGRATION_CALLS: Final = Counter(
    "callwatch_immigration_calls_total",
    "Calls classified as originated by a federal immigration agency.", ["agency"],
    registry=REGISTRY,
)
REVIEW_QUEUE_CALLS: Final = Counter(
    "callwatch_review_queue_calls_total",
    "Calls the classifier could not decide and queued for human review.",
    registry=REGISTRY,
)
FINDINGS: Final = Counter(
    "callwatch_findings_total", "Policy findings by rule, severity and transition.",
    ["rule", "severity", "status"], registry=REGISTRY,
)
OPEN_FINDINGS: Final = Gauge(
    "callwatch_open_findings", "Findings currently open.", ["rule", "severity"],
    registry=REGISTRY,
)
ALERTS: Final = Counter(
    "callwatch_alerts_total", "Supervisor alert deliveries by channel and outcome.",
    ["channel", "outcome"], registry=REGISTRY,
)
PROCESSING_SECONDS: Final = Histogram(
    "callwatch_processing_seconds", "Time a stage spent on one event.", ["stage"],
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
END_TO_END_SECONDS: Final = Histogram(
    "callwatch_end_to_end_seconds",
    "From the triggering event's time (or a deadline's due time) to the alert being sent.",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
CONSUMER_LAG: Final = Gauge(
    "callwatch_consumer_lag_messages",
    "Messages not yet consumed from a stage's input topic, summed over its partitions.",
    ["stage"], registry=REGISTRY,
)
LAST_PROCESSED: Final = Gauge(
    "callwatch_last_processed_timestamp_seconds",
    "Wall-clock unix time at which a stage last finished an event.", ["stage"],
    registry=REGISTRY,
)
ES_BULK_SECONDS: Final = Histogram(
    "callwatch_es_bulk_seconds", "Duration of Elasticsearch bulk requests.",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
ES_BULK_FAILURES: Final = Counter(
    "callwatch_es_bulk_failures_total",
    "Elasticsearch bulk failures: whole requests, or single documents within one.",
    ["kind"], registry=REGISTRY,
)
OFFSET_REREADS: Final = Counter(
    "callwatch_offset_rereads_total",
    "Partitions sought back to read again an offset no stream acknowledged"
    " (agents/faust_compat/offsets.py, the faust-streaming #606 guard).",
    registry=REGISTRY,
)
ALERT_STATE_UNFLUSHED: Final = Counter(
    "callwatch_alert_state_unflushed_total",
    "Alert sends that went out before their in-flight record reached Kafka (Kafka slow"
    " or down); a worker dying right then could send that alert again unmarked.",
    registry=REGISTRY,
)
DEADLINES_PENDING: Final = Gauge(
    "callwatch_deadlines_pending", "Policy deadlines scheduled and not yet due.",
    registry=REGISTRY,
)
DEADLINE_LATENESS_SECONDS: Final = Histogram(
    "callwatch_deadline_lateness_seconds", "How long after its due time a deadline fired.",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)
BUILD_INFO: Final = Info("callwatch_build", "Version of the running build.", registry=REGISTRY)


def _init_series() -> None:
    """Create every fixed-label series at zero.

    A counter that first appears already at 1 shows no ``increase()`` in
    Prometheus, so the first dead letter or failed alert after a restart would
    never fire an alert; and absent series cannot be told from a broken scrape.
    """
    for stage in STAGES:
        for metric in (EVENTS_IN, EVENTS_OUT, PROCESSING_SECONDS, CONSUMER_LAG, LAST_PROCESSED):
            metric.labels(stage)
    for reason in DEAD_LETTER_REASONS:
        DEAD_LETTERS.labels(reason)
    for agency in AGENCIES:
        IMMIGRATION_CALLS.labels(agency)
    for channel in ALERT_CHANNELS:
        for outcome in ALERT_OUTCOMES:
            ALERTS.labels(channel, outcome)
    for kind in BULK_FAILURE_KINDS:
        ES_BULK_FAILURES.labels(kind)
    try:
        version = metadata.version("callwatch")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "unknown"
    BUILD_INFO.info({"version": version, "python": platform.python_version()})


_init_series()


def _check(value: str, allowed: tuple[str, ...], label: str) -> str:
    if value not in allowed:
        raise ValueError(f"{label} {value!r} is not one of {', '.join(allowed)}")
    return value


@contextmanager
def processing(stage: Stage) -> Iterator[None]:
    """Count an event in and, if the block completes, out; time it either way.

    The last-processed timestamp moves only on success, so a stage that fails on
    every event looks stalled, which is what it is.
    """
    _check(stage, STAGES, "stage")
    EVENTS_IN.labels(stage).inc()
    start = time.perf_counter()
    try:
        yield
    finally:
        PROCESSING_SECONDS.labels(stage).observe(time.perf_counter() - start)
    EVENTS_OUT.labels(stage).inc()
    LAST_PROCESSED.labels(stage).set(time.time())


def batch_processed(stage: Stage, received: int, finished: int, seconds: float) -> None:
    """A batch of ``received`` records done by ``stage``, ``finished`` of them passed on
    (the rest dead-lettered or skipped), in ``seconds`` in all.

    Agents work in batches; this keeps the same meaning as ``processing`` per event:
    the processing histogram observes the time per record, and the last-processed
    timestamp moves only once the batch is done.
    """
    _check(stage, STAGES, "stage")
    if received <= 0:
        return
    EVENTS_IN.labels(stage).inc(received)
    EVENTS_OUT.labels(stage).inc(finished)
    PROCESSING_SECONDS.labels(stage).observe(seconds / received)
    LAST_PROCESSED.labels(stage).set(time.time())


def dead_letter(reason: str, count: int = 1) -> None:
    DEAD_LETTERS.labels(_check(reason, DEAD_LETTER_REASONS, "dead-letter reason")).inc(count)


def review_queue_call() -> None:
    REVIEW_QUEUE_CALLS.inc()


def deadlines_pending(count: int) -> None:
    DEADLINES_PENDING.set(max(0, count))


def offset_reread() -> None:
    OFFSET_REREADS.inc()


def es_bulk(seconds: float) -> None:
    ES_BULK_SECONDS.observe(max(0.0, seconds))


def es_bulk_failure(kind: BulkFailureKind, count: int = 1) -> None:
    ES_BULK_FAILURES.labels(_check(kind, BULK_FAILURE_KINDS, "bulk failure kind")).inc(count)


def set_consumer_lag(stage: str, lag: int) -> None:
    CONSUMER_LAG.labels(_check(stage, STAGES, "stage")).set(max(0, lag))


def set_open_findings(counts: Mapping[tuple[str, str], int]) -> None:
    """Set the open-findings gauge from state: ``(rule, severity) -> open findings``.

    Series that had a value and are absent from ``counts`` go back to zero, so a
    worker that lost its partitions in a rebalance stops counting their findings.
    """
    for rule, severity in counts:
        if not _RULE_ID.match(rule):
            raise ValueError(f"rule {rule!r} is not a policy rule id")
        _check(severity, SEVERITIES, "severity")
    known = {
        (sample.labels["rule"], sample.labels["severity"])
        for family in OPEN_FINDINGS.collect()
        for sample in family.samples
    }
    for rule, severity in known | set(counts):
        OPEN_FINDINGS.labels(rule, severity).set(counts.get((rule, severity), 0))


def immigration_call(agency: str) -> None:
    """Count a call; agencies outside the fixed set (HSI, ERO, typos) count as "other"."""
    label = agency.upper() if agency.upper() in AGENCIES else "other"
    IMMIGRATION_CALLS.labels(label).inc()


def finding(rule: str, severity: Severity, status: FindingStatus) -> None:
    """Record a finding's transition and keep the open-findings gauge in step.

    The gauge starts at zero in a new process: after recovering its table the
    engine rebuilds it from state with ``set_open_findings``.
    """
    if not _RULE_ID.match(rule):
        raise ValueError(f"rule {rule!r} is not a policy rule id")
    _check(severity, SEVERITIES, "severity")
    _check(status, FINDING_STATUSES, "finding status")
    FINDINGS.labels(rule, severity, status).inc()
    gauge = OPEN_FINDINGS.labels(rule, severity)
    if status == "opened":
        gauge.inc()
    else:
        gauge.dec()


def alert(channel: AlertChannel, outcome: AlertOutcome) -> None:
    ALERTS.labels(
        _check(channel, ALERT_CHANNELS, "alert channel"),
        _check(outcome, ALERT_OUTCOMES, "alert outcome"),
    ).inc()


Moment = datetime | float  # an aware datetime or unix seconds


def _unix(moment: Moment) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else moment


def _seconds_between(start: Moment, end: Moment | None) -> float:
    start_s = _unix(start)
    end_s = time.time() if end is None else _unix(end)
    # Source clocks drift; a negative duration would lower the histogram's sum
    # and land in the smallest bucket anyway, so record it as zero.
    return max(0.0, end_s - start_s)


def observe_end_to_end(triggered_at: Moment, sent_at: Moment | None = None) -> None:
    """Observe trigger-to-alert latency (``sent_at`` defaults to now).

    For a deadline finding pass the deadline's due time, not the call's first
    event: the policy's own wait is not pipeline latency.
    """
    END_TO_END_SECONDS.observe(_seconds_between(triggered_at, sent_at))


def observe_deadline_lateness(due_at: Moment, fired_at: Moment | None = None) -> None:
    DEADLINE_LATENESS_SECONDS.observe(_seconds_between(due_at, fired_at))


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The text exposition of ``registry`` (callwatch's by default)."""
    return _generate_latest(registry)


class MetricsServerError(RuntimeError):
    """The metrics endpoint could not be started."""


def start_metrics_server(
    host: str, port: int, registry: CollectorRegistry = REGISTRY
) -> tuple[WSGIServer, Thread]:
    """Serve ``/metrics`` from a daemon thread; the caller may ``shutdown()`` the server.

    Fails at startup rather than running blind: a worker whose metrics port is
    taken (usually a second worker on the same host) would otherwise look
    healthy while Prometheus scrapes the other process.
    """
    try:
        return start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MetricsServerError(
                f"cannot serve metrics on {host}:{port}: the port is already in use "
                "(another callwatch worker?). Stop it or set CALLWATCH_WEB_PORT to a free port."
            ) from exc
        raise MetricsServerError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
