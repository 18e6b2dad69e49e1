"""Malformed input at the ingest agent: nothing lost, nothing crashes.

Property-based tests drive the codec with arbitrary bytes and mutated events;
the integration test throws a seeded mix of thousands of mutated, truncated,
oversized, deeply nested and invalid-UTF-8 payloads at a real worker on real
Kafka and accounts for every one: each valid payload on the events topic, each
other one on the dead-letter topic with its reason and its exact bytes.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer

from streams.codec import REJECT_REASONS, Rejected, decode, encode
from tests.engine_helpers import compliant_call
from tests.waiting import wait_for

VALID = [encode(e) for e in compliant_call("FUZZ")]


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = decode(raw)
    assert isinstance(result, Rejected) or result.event_id


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(VALID), st.text(min_size=1, max_size=12), json_values)
def test_mutated_events_are_accepted_or_rejected_with_a_known_reason(
    original: bytes, field: str, value: object
) -> None:
    doc = orjson.loads(original)
    doc[field] = value
    result = decode(json.dumps(doc).encode())  # stdlib: also integers beyond 64 bits
    if isinstance(result, Rejected):
        assert result.reason in REJECT_REASONS
        assert result.detail
    else:  # still valid: the mutation must have kept the contract
        assert orjson.loads(encode(result))["event_id"] == doc["event_id"]


def mutated_payloads(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        base = bytearray(rng.choice(VALID))
        kind = rng.randrange(10)
        if kind == 0:  # byte flips
            for _ in range(rng.randint(1, 5)):
                base[rng.randrange(len(base))] = rng.randrange(256)
        elif kind == 1:  # truncation
            base = base[: rng.randrange(len(base))]
        elif kind == 2:  # invalid UTF-8 inside a string
            base = base.replace(b'"source":"test"', b'"source":"\xff\xfe"')
        elif kind == 3:  # unknown enum value
            doc = orjson.loads(bytes(base))
            doc["type"] = rng.choice(["call.teleported", "", None, 7])
            base = bytearray(orjson.dumps(doc))
        elif kind == 4:  # deep nesting
            depth = rng.randint(100, 5000)
            base = bytearray(b"[" * depth + b"]" * depth)
        elif kind == 5:  # wrong types
            doc = orjson.loads(bytes(base))
            doc["occurred_at"] = rng.choice([12, "yesterday", [], "2017-04-13T10:00:00"])
            base = bytearray(orjson.dumps(doc))
        elif kind == 6:  # a future schema version
            doc = orjson.loads(bytes(base))
            doc["schema"] = "callwatch.dispatch/9"
            base = bytearray(orjson.dumps(doc))
        elif kind == 7:  # valid, but a distinct event (new id)
            doc = orjson.loads(bytes(base))
            doc["event_id"] = f"fuzz-{seed}-{i}"
            base = bytearray(orjson.dumps(doc))
        elif kind == 8:  # the same valid event again: a duplicate
            pass
        else:  # random garbage
            base = bytearray(rng.randbytes(rng.randint(0, 300)))
        out.append(bytes(base))
    # one giant payload, larger than the 64 KiB limit but within Kafka's 1 MiB
    out.append(b'{"type":"call.received","narrative":"' + b"x" * 900_000 + b'"}')
    return out


def drain(bootstrap: str, topic: str, expected: int) -> list:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=2000,
        fetch_max_bytes=8 * 1024 * 1024,
        max_partition_fetch_bytes=2 * 1024 * 1024,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


@pytest.mark.integration
def test_ingest_accounts_for_every_malformed_payload(
    worker_factory, pipeline_env: dict[str, str], kafka_bootstrap: str
) -> None:
    prefix = pipeline_env["CALLWATCH_TOPIC_PREFIX"]
    payloads = mutated_payloads(seed=20171113, count=3000)
    expected_valid = sum(1 for p in payloads if not isinstance(decode(p), Rejected))
    worker = worker_factory.start()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2**20)
    for i, payload in enumerate(payloads):
        producer.send(f"{prefix}.raw", key=str(i).encode(), value=payload)
    producer.flush()
    producer.close()

    def accounted() -> tuple[list, list] | None:
        events = drain(kafka_bootstrap, f"{prefix}.events", expected_valid)
        dead = drain(kafka_bootstrap, f"{prefix}.deadletter", len(payloads) - expected_valid)
        return (events, dead) if len(events) + len(dead) >= len(payloads) else None

    events, dead = wait_for("every payload accounted for", accounted, timeout=180, workers=[worker])
    assert len(events) == expected_valid
    assert len(dead) == len(payloads) - expected_valid
    # each dead letter carries its reason and the original bytes, unchanged
    reasons = Counter(dict(m.headers)["callwatch-reason"].decode() for m in dead)
    assert set(reasons) <= set(REJECT_REASONS)
    assert {
        "invalid_json",
        "invalid_utf8",
        "unknown_type",
        "unknown_version",
        "oversize",
        "schema_violation",
    } <= set(reasons)
    rejected = Counter(p for p in payloads if isinstance(decode(p), Rejected))
    assert Counter(m.value for m in dead) == rejected
    worker.assert_running()
