"""The operator alerts fire for real: a real Prometheus scrapes a real worker with
deploy/prometheus/rules and delivers to a real Alertmanager.

- worker frozen (SIGSTOP) while raw events keep coming: PipelineStalled and
  ConsumerLagGrowing fire and reach Alertmanager (its metrics sidecar keeps
  answering and measuring the lag, callwatch/metrics_sidecar.py);
- thawed (SIGCONT): it catches up and both resolve;
- killed (SIGKILL): WorkerDown fires; started again: it resolves.

The rules are the shipped expressions with their durations and thresholds scaled
down (600 s -> 4 s, 15 m -> 20 s, 1000 messages -> 20, `for:` -> 3 s), so the
test takes a minute instead of an hour; everything else is the file as shipped.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kafka import KafkaProducer

from tests.alert_receivers import PROMETHEUS_BIN, Alertmanager, Prometheus, WebhookReceiver
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

RULES = Path(__file__).resolve().parent.parent / "deploy" / "prometheus" / "rules"
SCALED = {"600": "4", "[15m]": "[20s]", "1000": "20"}


def scaled_rules(folder: Path) -> Path:
    doc = yaml.safe_load((RULES / "callwatch-health.yml").read_text())
    for rule in doc["groups"][0]["rules"]:
        expr = rule["expr"]
        for old, new in SCALED.items():
            expr = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w.])", new, expr)
        rule["expr"] = expr
        if "for" in rule:
            rule["for"] = "3s"
    path = folder / "callwatch-health.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


class AlertingPrometheus(Prometheus):
    def start_alerting(self, target: str, rules: Path, alertmanager: str) -> AlertingPrometheus:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [
                {"job_name": "callwatch", "scrape_timeout": "1s",
                 "static_configs": [{"targets": [target]}]}
            ],
        }
        path = self.folder / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self._start([
            str(PROMETHEUS_BIN), f"--config.file={path}",
            f"--storage.tsdb.path={self.folder / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ])
        return self


def active(am: Alertmanager, name: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{am.url}/api/v2/alerts", params={"filter": f'alertname="{name}"', "active": "true"},
        timeout=5,
    )
    response.raise_for_status()
    return [a for a in response.json() if a["status"]["state"] == "active"]


def stage_active(am: Alertmanager, name: str, stage: str) -> list[dict[str, Any]]:
    """The active ``name`` alerts, if one of them is for ``stage`` (else none)."""
    alerts = active(am, name)
    return alerts if any(a["labels"].get("stage") == stage for a in alerts) else []


def notified(hooks: WebhookReceiver, name: str, status: str) -> bool:
    return any(
        alert["labels"].get("alertname") == name and alert["status"] == status
        for request in hooks.accepted("/am")
        for alert in request.body.get("alerts", [])
    )


class Feed(threading.Thread):
    """Raw events at a steady pace (bounded: stops by itself after ``seconds``)."""

    def __init__(self, bootstrap: str, topic: str, rate: float = 20, seconds: float = 240):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.rate, self.seconds = bootstrap, topic, rate, seconds
        self.stop = threading.Event()

    def run(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        ends = time.monotonic() + self.seconds
        i = 0
        while not self.stop.is_set() and time.monotonic() < ends:
            producer.send(self.topic, key=b"k%d" % (i % 7), value=b"not an event %d" % i)
            i += 1
            self.stop.wait(1 / self.rate)
        producer.flush()
        producer.close()


def test_frozen_worker_fires_stall_and_lag_killed_worker_fires_down(
    worker_factory, pipeline_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    worker = worker_factory.start(CALLWATCH_LAG_INTERVAL_SECONDS="1")
    hooks = WebhookReceiver()
    am = Alertmanager(tmp_path).start(hooks.url("/am"))
    target = worker.metrics_url.split("/")[2]
    prometheus = AlertingPrometheus(tmp_path).start_alerting(
        target, scaled_rules(tmp_path), am.url.split("//")[1]
    )
    feed = Feed(kafka_bootstrap, f"{pipeline_env['CALLWATCH_TOPIC_PREFIX']}.raw")
    try:
        feed.start()
        wait_for(
            "the worker processing the feed",
            lambda: worker.metric("callwatch_events_in_total", stage="ingest") > 20,
            workers=[worker],
        )
        assert not active(am, "PipelineStalled") and not active(am, "ConsumerLagGrowing")

        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGSTOP)
        # The stage the feed writes to must fire; others may fire first or too (what
        # they held when the worker froze), so each is waited for by its stage.
        stalled = wait_for("PipelineStalled for ingest at Alertmanager",
                           lambda: stage_active(am, "PipelineStalled", "ingest"), timeout=90)
        growing = wait_for("ConsumerLagGrowing for ingest at Alertmanager",
                           lambda: stage_active(am, "ConsumerLagGrowing", "ingest"), timeout=90)
        assert {a["labels"]["stage"] for a in stalled} >= {"ingest"}
        assert {a["labels"]["stage"] for a in growing} >= {"ingest"}
        assert not active(am, "WorkerDown")  # frozen is not down: /metrics still answers
        lag = prometheus.query('callwatch_consumer_lag_messages{stage="ingest"}')
        assert float(lag[0]["value"][1]) > 20
        # Both alerts share one Alertmanager group (no call_id/rule labels), flushed every
        # group_interval: an alert that resolved before the next flush would never be sent
        # as firing, so the receiver must have it before the worker is thawed.
        for name in ("PipelineStalled", "ConsumerLagGrowing"):
            wait_for(f"{name} firing notification", lambda n=name: notified(hooks, n, "firing"))

        worker.proc.send_signal(signal.SIGCONT)
        wait_for("the stall and the lag alerts resolved",
                 lambda: not active(am, "PipelineStalled")
                 and not active(am, "ConsumerLagGrowing"),
                 timeout=120, workers=[worker])
        feed.stop.set()
        # Alertmanager passed them on, firing and then resolved, to its receiver
        for name in ("PipelineStalled", "ConsumerLagGrowing"):
            wait_for(f"{name} resolved notification", lambda n=name: notified(hooks, n, "resolved"))

        worker.proc.kill()
        worker.proc.wait(10)
        down = wait_for("WorkerDown at Alertmanager", lambda: active(am, "WorkerDown"), timeout=60)
        assert down[0]["labels"]["instance"] == target
        worker.start()
        wait_for("WorkerDown resolved", lambda: not active(am, "WorkerDown"), timeout=60,
                 workers=[worker])
    finally:
        feed.stop.set()
        if worker.proc is not None and worker.proc.poll() is None:
            worker.proc.send_signal(signal.SIGCONT)
        prometheus.stop()
        am.stop()
        hooks.close()
