"""End to end on the real services: raw bytes on Kafka -> worker -> Elasticsearch."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from streams.codec import encode
from tests.engine_helpers import compliant_call, ev
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def publish(bootstrap: str, topic: str, payloads: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def count(es: Elasticsearch, index: str, query: dict | None = None) -> int:
    es.indices.refresh(index=index, ignore_unavailable=True)
    return int(es.count(index=index, query=query or {"match_all": {}})["count"])


def test_dispatch_events_reach_elasticsearch_and_agency_calls_are_flagged(
    worker_factory, pipeline_env: dict[str, str], es_url: str, kafka_bootstrap: str
) -> None:
    prefix = pipeline_env["CALLWATCH_TOPIC_PREFIX"]
    ice_call = [
        e for e in compliant_call("ICE-1") if type(e).__struct_config__.tag != "report.filed"
    ]
    ordinary = [
        ev(
            "call.received",
            "ORD-1",
            0,
            caller={"name": "Pat Doe", "phone": "502-555-0100"},
            narrative="ice on roadway near I-64, call back 502-555-0100",
        ),
        ev("call.closed", "ORD-1", 30),
    ]
    emailed = [
        ev("call.received", "ICE-2", 1, caller={"email": "sa.jane.example@ice.dhs.gov"}),
    ]
    late_enough = [ev("call.received", "ORD-2", 62 + 9 * 60)]  # moves event time past 8 h
    events = [*ice_call, *ordinary, *emailed, *late_enough]
    payloads = [(e.call_id.encode(), encode(e)) for e in events]
    payloads.append((None, b'{"type": "call.received", "event_id": '))  # truncated JSON
    publish(kafka_bootstrap, f"{prefix}.raw", payloads)

    worker = worker_factory.start()
    es = Elasticsearch(es_url)
    wait_for(
        "all events indexed",
        lambda: count(es, f"{prefix}-events") == len(events),
        workers=[worker],
    )
    wait_for("the dead letter indexed", lambda: count(es, f"{prefix}-deadletters") == 1)
    dead = es.search(index=f"{prefix}-deadletters")["hits"]["hits"][0]["_source"]
    assert dead["reason"] == "invalid_json"
    assert dead["stage"] == "ingest"

    call = wait_for(
        "the ICE call flagged",
        lambda: (
            es.options(ignore_status=404).get(index=f"{prefix}-calls", id="ICE-1").get("_source")
        ),
    )
    assert call["immigration_agency"] is True
    assert call["agency"] == "ICE"
    ordinary_doc = es.get(index=f"{prefix}-calls", id="ORD-1")["_source"]
    assert ordinary_doc["immigration_agency"] is False

    finding = wait_for(
        "the missing report found",
        lambda: (
            es.options(ignore_status=404)
            .get(index=f"{prefix}-findings", id="ICE-1/report-filed")
            .get("_source")
        ),
    )
    assert finding["status"] == "open"
    assert finding["clause"] == "C6"
    # the call was otherwise handled by the book
    assert count(es, f"{prefix}-findings", {"term": {"call_id": "ICE-1"}}) == 1

    # the e-mail address that identified the agency is evidence, but not on a dashboard
    emailed_call = es.get(index=f"{prefix}-calls", id="ICE-2")["_source"]
    assert emailed_call["immigration_agency"] is True
    assert emailed_call["originator_evidence"]
    assert not any("@" in e for e in emailed_call["originator_evidence"])

    # personal data is masked before it reaches the dashboards' indices
    doc = es.search(index=f"{prefix}-events", query={"term": {"call_id": "ORD-1"}}, size=5)
    received = next(
        h["_source"] for h in doc["hits"]["hits"] if h["_source"]["type"] == "call.received"
    )
    assert received["caller"]["name"] == "[redacted]"
    assert "502-555-0100" not in received["narrative"]

    # the worker reports what it has consumed (lag itself: tests/test_lag.py)
    assert worker.metric("callwatch_events_in_total", stage="ingest") == len(events) + 1
    assert worker.metric("callwatch_dead_letters_total", reason="invalid_json") == 1
    assert worker.metric("callwatch_immigration_calls_total", agency="ICE") == 2
    assert worker.metric("callwatch_last_processed_timestamp_seconds", stage="engine") > 0
