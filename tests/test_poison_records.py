"""No poison records: malformed records on every internal topic of a real worker are
dead-lettered (reason + original bytes) and the rest of the stream is processed.

Before, a malformed call or finding record made the indexer raise, the worker exit
(agents.app), and the restart read the same record again: a crash loop.
"""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from streams.codec import encode
from tests.engine_helpers import compliant_call, ev
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


def valid_stream() -> list:
    ice = [e for e in compliant_call("ICE-1") if type(e).__struct_config__.tag != "report.filed"]
    ordinary = [ev("call.received", "ORD-1", 0), ev("call.closed", "ORD-1", 30)]
    late_enough = [ev("call.received", "ORD-2", 62 + 9 * 60)]  # moves event time past 8 h
    return [*ice, *ordinary, *late_enough]


def poison(prefix: str) -> list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]]:
    """(topic, key, value, headers) of records that break their topic's contract."""
    wrong_key = encode(ev("call.received", "KEYED-ELSEWHERE", 1))
    return [
        (f"{prefix}.events", b"X-1", b'{"type": "call.received", "event_id": ', []),
        (f"{prefix}.events", b"SOMEONE-ELSE", wrong_key, []),
        (f"{prefix}.calls", b"X-2", b"\xff\xfe not json", []),
        (f"{prefix}.calls", b"X-3", b"[1, 2, 3]", []),
        (f"{prefix}.calls", b"X-4", orjson.dumps({"agency": "ICE"}), []),
        (f"{prefix}.findings", b"X-5", b"{", []),
        (f"{prefix}.findings", b"X-6", orjson.dumps({"call_id": "X-6", "rule": "r"}), []),
        (f"{prefix}.deliveries", b"X-7", b"null", []),
        (f"{prefix}.deliveries", b"X-8", orjson.dumps({"channel": "log"}), []),
        (f"{prefix}.alerts", b"X-9", b"\x00\x01binary", []),
        (f"{prefix}.alerts", b"X-10", orjson.dumps({"call_id": "X-10", "rule": "r"}), []),
    ]


def count(es: Elasticsearch, index: str, query: dict | None = None) -> int:
    es.indices.refresh(index=index, ignore_unavailable=True)
    return int(es.count(index=index, query=query or {"match_all": {}})["count"])


def test_every_agent_dead_letters_what_it_cannot_use_and_goes_on(
    worker_factory, pipeline_env: dict[str, str], es_url: str, kafka_bootstrap: str
) -> None:
    prefix = pipeline_env["CALLWATCH_TOPIC_PREFIX"]
    worker = worker_factory.start()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    bad = poison(prefix)
    # a dead letter whose headers are themselves broken: indexed with fallbacks, no loop
    broken_headers = [("callwatch-source-partition", b"not a number"), ("callwatch-stage", b"x")]
    for topic, key, value, headers in [
        *bad,
        (f"{prefix}.deadletter", b"X-11", b"orphan", broken_headers),
    ]:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    events = valid_stream()  # sent after the poison: it must get through all the same
    for event in events:
        producer.send(f"{prefix}.raw", key=event.call_id.encode(), value=encode(event))
    producer.flush()
    producer.close()

    es = Elasticsearch(es_url)
    deadletters = f"{prefix}-deadletters"
    wait_for(
        "every poison record dead-lettered",
        lambda: count(es, deadletters) >= len(bad) + 1,
        timeout=120,
        workers=[worker],
    )
    docs = [h["_source"] for h in es.search(index=deadletters, size=100)["hits"]["hits"]]
    by_sha = {d["sha256"]: d for d in docs}
    for topic, _key, value, _headers in bad:
        doc = by_sha.get(hashlib.sha256(value).hexdigest())
        assert doc is not None, f"{topic} record {value[:40]!r} not dead-lettered: {docs}"
        assert doc["source_topic"] == topic
        assert base64.b64decode(doc["original_base64"]) == value  # the original bytes
        assert doc["reason"] in {
            "invalid_json", "invalid_utf8", "not_an_object", "schema_violation",
            "contract_violation",
        }, doc
        assert doc["detail"], doc
    stages = {d["source_topic"].rsplit(".", 1)[1]: d["stage"] for d in docs}
    assert stages["events"] == "engine"
    assert stages["calls"] == stages["findings"] == stages["deliveries"] == "indexer"
    assert stages["alerts"] == "alerter"
    keyed_elsewhere = by_sha[hashlib.sha256(bad[1][2]).hexdigest()]
    assert keyed_elsewhere["reason"] == "contract_violation"
    orphan = by_sha[hashlib.sha256(b"orphan").hexdigest()]
    assert orphan["source_topic"] == f"{prefix}.deadletter"

    # ... and the rest of the stream was processed by every stage, nothing lost
    wait_for(
        "every valid event indexed",
        lambda: count(es, f"{prefix}-events", {"terms": {"call_id": ["ICE-1", "ORD-1", "ORD-2"]}})
        == len(events),
        timeout=120,
        workers=[worker],
    )
    wait_for(
        "the finding indexed",
        lambda: es.options(ignore_status=404)
        .get(index=f"{prefix}-findings", id="ICE-1/report-filed")
        .get("found"),
        workers=[worker],
    )
    wait_for(
        "the alerter delivered its alert (the deliveries reached the index)",
        lambda: count(es, f"{prefix}-alerts", {"term": {"call_id": "ICE-1"}}) > 0,
        workers=[worker],
    )
    for call_id in ("ICE-1", "ORD-1", "ORD-2"):
        assert es.options(ignore_status=404).get(index=f"{prefix}-calls", id=call_id)["found"]
    assert not es.options(ignore_status=404).get(index=f"{prefix}-calls", id="X-4")["found"]
    assert worker.metric("callwatch_dead_letters_total", reason="contract_violation") >= 4
    worker.assert_running()  # never exited: no restart, no crash loop
    assert "failed mid-batch" not in worker.log.read_text()
