"""A worker killed in the middle of a call: its deadline still fires, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

from schemas import schema_path
from streams.codec import encode
from tests.engine_helpers import ev
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def short_deadline_policy(tmp_path: Path) -> Path:
    text = schema_path("policies/louisville.v1.yaml").read_text()
    policy = tmp_path / "policy.yaml"
    policy.write_text(text.replace("deadline_minutes: 10", "deadline_minutes: 0.25"))
    return policy


def findings_messages(bootstrap: str, topic: str) -> list[dict]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        enable_auto_commit=False,
    )
    try:
        return [orjson.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def test_deadline_fires_once_across_a_kill_and_restart(
    worker_factory,
    pipeline_env: dict[str, str],
    kafka_bootstrap: str,
    es_url: str,
    tmp_path: Path,
) -> None:
    prefix = pipeline_env["CALLWATCH_TOPIC_PREFIX"]
    overrides = {
        "CALLWATCH_POLICY_FILE": str(short_deadline_policy(tmp_path)),
        "CALLWATCH_LATENESS_SECONDS": "1",
    }
    worker = worker_factory.start(**overrides)
    now = datetime.now(UTC)
    received = ev("call.received", "ICE-R", 0, caller={"agency": "ICE"})
    received = type(received)(
        **{
            **{f: getattr(received, f) for f in received.__struct_fields__},
            "occurred_at": now,
            "received_at": now,
        }
    )
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(f"{prefix}.raw", key=b"ICE-R", value=encode(received))
    producer.flush()
    es = Elasticsearch(es_url)

    def call_indexed() -> bool:
        es.indices.refresh(index=f"{prefix}-calls", ignore_unavailable=True)
        doc = es.options(ignore_status=404).get(index=f"{prefix}-calls", id="ICE-R")
        return bool(doc.get("found"))

    wait_for("the call to be processed", call_indexed, workers=[worker])
    assert findings_messages(kafka_bootstrap, f"{prefix}.findings") == []  # not due yet

    worker.kill()  # SIGKILL: no clean shutdown, no final commit
    restarted = worker_factory.start(**overrides)

    def opened() -> list[dict]:
        return [
            m
            for m in findings_messages(kafka_bootstrap, f"{prefix}.findings")
            if m["call_id"] == "ICE-R" and m["rule"] == "commander-notified"
        ]

    fired = wait_for(
        "the deadline to fire after the restart", opened, timeout=90, workers=[restarted]
    )
    assert [m["transition"] for m in fired] == ["opened"]
    assert fired[0]["status"] == "open"
    # nothing more arrives later: still exactly one
    wait_for(
        "the finding indexed",
        lambda: (
            es.options(ignore_status=404)
            .get(index=f"{prefix}-findings", id="ICE-R/commander-notified")
            .get("found")
        ),
    )
    assert len(opened()) == 1
