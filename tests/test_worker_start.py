"""A clean first start: every topic the worker needs, Faust's changelogs included, is
created before Faust starts, with the configured partitions, replication and
compaction, so the first start logs no ERROR or WARNING line."""

from __future__ import annotations

import re

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from streams.codec import encode
from tests.engine_helpers import compliant_call
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

NOISE = re.compile(r"\[(ERROR|WARNING|CRITICAL)\]")


def topic_configs(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's non-default settings."""
    result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic, None)])
    return {key: entry["value"] for key, entry in result["topic"][topic].items()}


def test_first_start_on_fresh_topics_logs_no_error_or_warning(
    worker_factory, pipeline_env: dict[str, str], kafka_bootstrap: str
) -> None:
    prefix, app_id = pipeline_env["CALLWATCH_TOPIC_PREFIX"], pipeline_env["CALLWATCH_APP_ID"]
    worker = worker_factory.start(CALLWATCH_TOPIC_PARTITIONS="3")
    wait_for("the worker ready", lambda: "Worker ready" in worker.log.read_text(),
             workers=[worker])
    # and working: a call goes through ingest and engine
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for event in compliant_call("START-1"):
        producer.send(f"{prefix}.raw", key=event.call_id.encode(), value=encode(event))
    producer.flush()
    producer.close()
    wait_for(
        "the events processed",
        lambda: worker.metric("callwatch_events_out_total", stage="engine") > 0,
        workers=[worker],
    )
    noisy = [line for line in worker.log.read_text().splitlines() if NOISE.search(line)]
    assert not noisy, "a clean first start logged:\n" + "\n".join(noisy)

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        changelogs = [f"{app_id}-callstate-changelog", f"{app_id}-alertstate-changelog"]
        leader = f"{app_id}-__assignor-__leader"
        names = [f"{prefix}.raw", f"{prefix}.events", *changelogs, leader]
        described = {t["name"]: t for t in admin.describe_topics(names)}
        for name in names[:-1]:
            assert name in described, f"{name} not created"
            assert len(described[name]["partitions"]) == 3, name
        assert len(described[leader]["partitions"]) == 1
        for name in changelogs:
            configs = topic_configs(admin, name)
            assert configs["cleanup.policy"] == "compact", (name, configs)
            assert configs["min.insync.replicas"] == "1", (name, configs)
    finally:
        admin.close()
