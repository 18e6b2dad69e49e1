"""callwatch.metrics: naming conventions, bounded labels, helpers, the HTTP endpoint."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric

from callwatch import metrics
from callwatch.metrics import REGISTRY
from streams.codec import REJECT_REASONS

# Every label callwatch may use. Anything else, and in particular anything
# derived from event data, must not appear.
ALLOWED_LABELS = {
    "stage",
    "reason",
    "agency",
    "rule",
    "severity",
    "status",
    "channel",
    "outcome",
    "kind",
    "version",
    "python",  # build info only
}
FORBIDDEN_LABELS = {"topic", "partition", "call_id", "event_id", "instance", "job", "source"}


def value(name: str, **labels: str) -> float:
    got = REGISTRY.get_sample_value(name, labels)
    assert got is not None, f"no sample {name}{labels}"
    return got


def own_families() -> list[Metric]:
    return [f for f in REGISTRY.collect() if f.name.startswith("callwatch_")]


def test_only_callwatch_and_process_metrics_are_exposed() -> None:
    names = {f.name for f in REGISTRY.collect()}
    assert names, "registry is empty"
    stray = {n for n in names if not n.startswith(("callwatch_", "process_"))}
    assert not stray


def test_names_follow_prometheus_conventions() -> None:
    for family in own_families():
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
        elif family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        elif family.type == "gauge":
            assert not family.name.endswith("_total"), family.name
        elif family.type == "info":
            assert family.name == "callwatch_build"
        else:
            pytest.fail(f"unexpected metric type {family.type} for {family.name}")


def test_required_metrics_exist() -> None:
    exposed = {(f.name, f.type) for f in own_families()}
    for name, kind in [
        ("callwatch_events_in", "counter"),
        ("callwatch_events_out", "counter"),
        ("callwatch_dead_letters", "counter"),
        ("callwatch_immigration_calls", "counter"),
        ("callwatch_review_queue_calls", "counter"),
        ("callwatch_findings", "counter"),
        ("callwatch_alerts", "counter"),
        ("callwatch_es_bulk_failures", "counter"),
        ("callwatch_processing_seconds", "histogram"),
        ("callwatch_end_to_end_seconds", "histogram"),
        ("callwatch_es_bulk_seconds", "histogram"),
        ("callwatch_deadline_lateness_seconds", "histogram"),
        ("callwatch_consumer_lag_messages", "gauge"),
        ("callwatch_open_findings", "gauge"),
        ("callwatch_deadlines_pending", "gauge"),
        ("callwatch_last_processed_timestamp_seconds", "gauge"),
        ("callwatch_build", "info"),
    ]:
        assert (name, kind) in exposed, name


def test_label_names_are_bounded() -> None:
    for family in own_families():
        for sample in family.samples:
            names = set(sample.labels) - {"le"}
            assert names <= ALLOWED_LABELS, (family.name, names)
            assert not names & FORBIDDEN_LABELS, (family.name, names)


def test_fixed_label_sets_are_initialised_at_zero() -> None:
    # increase() cannot see a counter's first step if the series starts at 1.
    assert set(metrics.DEAD_LETTER_REASONS) == {
        *REJECT_REASONS,
        "late_after_eviction",
        "index_failure",
        "contract_violation",
    }
    for reason in metrics.DEAD_LETTER_REASONS:
        assert value("callwatch_dead_letters_total", reason=reason) >= 0
    for stage in ("ingest", "engine", "indexer", "alerter"):
        assert value("callwatch_events_in_total", stage=stage) >= 0
        assert value("callwatch_consumer_lag_messages", stage=stage) >= 0
        assert value("callwatch_processing_seconds_count", stage=stage) >= 0
    for agency in ("ICE", "CBP", "USCIS", "other"):
        assert value("callwatch_immigration_calls_total", agency=agency) >= 0
    for channel in metrics.ALERT_CHANNELS:
        for outcome in ("sent", "failed", "retried", "deduplicated"):
            assert value("callwatch_alerts_total", channel=channel, outcome=outcome) >= 0


def test_series_count_is_small() -> None:
    samples = sum(len(f.samples) for f in own_families())
    assert samples < 400, samples


def test_latency_buckets_span_5ms_to_60s() -> None:
    assert metrics.LATENCY_BUCKETS[0] == 0.005
    assert metrics.LATENCY_BUCKETS[-1] == 60.0
    assert list(metrics.LATENCY_BUCKETS) == sorted(set(metrics.LATENCY_BUCKETS))


def test_processing_counts_times_and_stamps_on_success() -> None:
    before_in = value("callwatch_events_in_total", stage="engine")
    before_out = value("callwatch_events_out_total", stage="engine")
    before_n = value("callwatch_processing_seconds_count", stage="engine")
    with metrics.processing("engine"):
        pass
    assert value("callwatch_events_in_total", stage="engine") == before_in + 1
    assert value("callwatch_events_out_total", stage="engine") == before_out + 1
    assert value("callwatch_processing_seconds_count", stage="engine") == before_n + 1
    stamp = value("callwatch_last_processed_timestamp_seconds", stage="engine")
    assert abs(stamp - datetime.now(UTC).timestamp()) < 5


def test_processing_failure_counts_in_but_not_out_nor_timestamp() -> None:
    with metrics.processing("indexer"):
        pass
    stamp = value("callwatch_last_processed_timestamp_seconds", stage="indexer")
    before_in = value("callwatch_events_in_total", stage="indexer")
    before_out = value("callwatch_events_out_total", stage="indexer")
    before_n = value("callwatch_processing_seconds_count", stage="indexer")
    with pytest.raises(RuntimeError), metrics.processing("indexer"):
        raise RuntimeError("boom")
    assert value("callwatch_events_in_total", stage="indexer") == before_in + 1
    assert value("callwatch_events_out_total", stage="indexer") == before_out
    assert value("callwatch_processing_seconds_count", stage="indexer") == before_n + 1
    assert value("callwatch_last_processed_timestamp_seconds", stage="indexer") == stamp


@pytest.mark.parametrize(
    "call",
    [
        lambda: metrics.processing("kafka").__enter__(),  # type: ignore[arg-type]
        lambda: metrics.dead_letter("because"),
        lambda: metrics.alert("pager", "sent"),  # type: ignore[arg-type]
        lambda: metrics.alert("email", "lost"),  # type: ignore[arg-type]
        lambda: metrics.finding("commander-notified", "urgent", "opened"),  # type: ignore[arg-type]
        lambda: metrics.finding("commander-notified", "critical", "closed"),  # type: ignore[arg-type]
        lambda: metrics.finding("Call 123: no commander!", "critical", "opened"),
    ],
)
def test_helpers_refuse_values_outside_the_fixed_sets(call: Callable[[], object]) -> None:
    families_before = {f.name: len(f.samples) for f in own_families()}
    with pytest.raises(ValueError):
        call()
    assert {f.name: len(f.samples) for f in own_families()} == families_before


def test_dead_letter_counts_by_reason() -> None:
    before = value("callwatch_dead_letters_total", reason="index_failure")
    metrics.dead_letter("index_failure")
    assert value("callwatch_dead_letters_total", reason="index_failure") == before + 1


def test_unknown_agencies_count_as_other() -> None:
    ice = value("callwatch_immigration_calls_total", agency="ICE")
    other = value("callwatch_immigration_calls_total", agency="other")
    metrics.immigration_call("ice")
    metrics.immigration_call("HSI")
    metrics.immigration_call("Department of Homeland Security, somewhere")
    assert value("callwatch_immigration_calls_total", agency="ICE") == ice + 1
    assert value("callwatch_immigration_calls_total", agency="other") == other + 2


def test_findings_move_the_open_gauge() -> None:
    rule = "call-recorded"
    metrics.finding(rule, "critical", "opened")
    metrics.finding(rule, "critical", "opened")
    metrics.finding(rule, "critical", "resolved")
    assert value("callwatch_open_findings", rule=rule, severity="critical") == 1
    metrics.finding(rule, "critical", "retracted")
    assert value("callwatch_open_findings", rule=rule, severity="critical") == 0
    assert value("callwatch_findings_total", rule=rule, severity="critical", status="opened") == 2


def test_alert_outcomes_are_counted() -> None:
    before = value("callwatch_alerts_total", channel="email", outcome="failed")
    metrics.alert("email", "failed")
    assert value("callwatch_alerts_total", channel="email", outcome="failed") == before + 1


def test_end_to_end_latency_lands_in_the_right_bucket_and_never_negative() -> None:
    def bucket(le: str) -> float:
        return value("callwatch_end_to_end_seconds_bucket", le=le)

    b1, b2, total = bucket("1.0"), bucket("2.5"), value("callwatch_end_to_end_seconds_sum")
    sent = datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)
    metrics.observe_end_to_end(sent - timedelta(seconds=2), sent)
    assert bucket("1.0") == b1 and bucket("2.5") == b2 + 1
    # A source clock ahead of ours must not subtract from the sum.
    metrics.observe_end_to_end(sent + timedelta(seconds=30), sent)
    assert value("callwatch_end_to_end_seconds_sum") == pytest.approx(total + 2)
    assert bucket("1.0") == b1 + 1


def test_deadline_lateness_accepts_unix_seconds() -> None:
    before = value("callwatch_deadline_lateness_seconds_count")
    metrics.observe_deadline_lateness(1000.0, 1000.2)
    assert value("callwatch_deadline_lateness_seconds_count") == before + 1


def test_generate_latest_is_the_callwatch_exposition() -> None:
    text = metrics.generate_latest().decode()
    assert "# TYPE callwatch_events_in_total counter" in text
    assert 'callwatch_build_info{python="' in text
    assert "_created" not in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_binds_configured_host_and_port_and_serves() -> None:
    server_port = free_port()
    registry = CollectorRegistry()
    Counter("callwatch_probe_total", "probe", registry=registry).inc(3)
    server, thread = metrics.start_metrics_server("127.0.0.1", server_port, registry)
    try:
        assert server.server_address[:2] == ("127.0.0.1", server_port)
        assert thread.is_alive()
        url = f"http://127.0.0.1:{server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        assert response.status == 200
        assert "callwatch_probe_total 3.0" in body
    finally:
        server.shutdown()
        server.server_close()


def test_server_serves_the_module_registry_by_default() -> None:
    server_port = free_port()
    server, _ = metrics.start_metrics_server("127.0.0.1", server_port)
    try:
        url = f"http://127.0.0.1:{server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"callwatch_dead_letters_total" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_port_in_use_fails_fast_with_a_clear_message() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(metrics.MetricsServerError) as caught:
            metrics.start_metrics_server("127.0.0.1", port)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "already in use" in message
    assert "CALLWATCH_WEB_PORT" in message
