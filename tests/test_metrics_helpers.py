"""The metrics helpers the agents write through, and the sidecar's relay of the worker's
exposition."""

from __future__ import annotations

import pytest

from callwatch import metrics
from callwatch.metrics_sidecar import without_families


def gauge(rule: str, severity: str) -> float:
    return metrics.OPEN_FINDINGS.labels(rule, severity)._value.get()


def test_open_findings_are_set_from_state_and_absent_series_go_to_zero() -> None:
    metrics.set_open_findings(
        {("commander-notified", "critical"): 3, ("report-filed", "warning"): 1}
    )
    assert gauge("commander-notified", "critical") == 3
    metrics.set_open_findings({("report-filed", "warning"): 2})  # e.g. after a rebalance
    assert gauge("commander-notified", "critical") == 0
    assert gauge("report-filed", "warning") == 2


def test_helpers_refuse_labels_outside_their_sets() -> None:
    with pytest.raises(ValueError):
        metrics.set_open_findings({("commander-notified", "urgent"): 1})
    with pytest.raises(ValueError):
        metrics.set_consumer_lag("partition-3", 5)
    with pytest.raises(ValueError):
        metrics.batch_processed("router", 1, 1, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        metrics.dead_letter("because")


def test_batch_processed_counts_records_and_moves_the_timestamp() -> None:
    before_in = metrics.EVENTS_IN.labels("engine")._value.get()
    before_out = metrics.EVENTS_OUT.labels("engine")._value.get()
    metrics.batch_processed("engine", 10, 8, 0.5)
    assert metrics.EVENTS_IN.labels("engine")._value.get() == before_in + 10
    assert metrics.EVENTS_OUT.labels("engine")._value.get() == before_out + 8
    assert metrics.LAST_PROCESSED.labels("engine")._value.get() > 0


def test_the_sidecar_drops_the_families_it_serves_itself() -> None:
    text = (
        "# HELP callwatch_consumer_lag_messages lag\n"
        "# TYPE callwatch_consumer_lag_messages gauge\n"
        'callwatch_consumer_lag_messages{stage="ingest"} 0.0\n'
        "# HELP callwatch_consumer_lag_messages_extra other\n"
        'callwatch_events_in_total{stage="ingest"} 7.0\n'
    )
    kept = without_families(text, ("callwatch_consumer_lag_messages",))
    assert "callwatch_consumer_lag_messages{" not in kept
    assert 'callwatch_events_in_total{stage="ingest"} 7.0' in kept
    assert "callwatch_consumer_lag_messages_extra" in kept
