"""Bad input at volume, mixed into a simulated feed: all of it accounted for, truth intact.

Into the middle of a simulated stream go thousands of fuzzed and malformed
payloads (``tests.test_ingest_fuzz.mutated_payloads``), giant payloads (just
over the event limit, and near Kafka's own 1 MB limit), deeply nested JSON,
invalid UTF-8, valid events for calls nobody received, events stamped hours
in the past, and one stamped in 2099 -- followed by a lull longer than the
event clock's idle time. Every payload must end up on the events topic or the
dead-letter topic, the worker must keep running, and the simulated calls must
end with exactly the ground truth's findings (a clock that believed the 2099
event would judge every open deadline at once).

Separately, the same stream published twice (a file replayed twice) must leave
every finding as once: the engine ignores events it has already applied.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import msgspec
import orjson
import pytest

from schemas.events import EVENT_TYPES
from streams.codec import encode
from tests.faults.accounting import START, read_topic, simulated_stream
from tests.faults.conftest import Pipeline
from tests.faults.scenario import run_scenario
from tests.test_ingest_fuzz import mutated_payloads

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(900)]

KAFKA_MAX = 1_048_000  # just under the broker's default message.max.bytes (1048588)


def event(kind: str, call_id: str, at: datetime, n: int, **fields: object) -> bytes:
    doc = {
        "type": kind,
        "event_id": f"{call_id}.{n:03d}",
        "call_id": call_id,
        "occurred_at": at.isoformat(),
        "received_at": at.isoformat(),
        "source": "fault-suite",
        **fields,
    }
    return encode(msgspec.convert(doc, EVENT_TYPES[kind], strict=False))


def bad_payloads(seed: int = 8) -> list[bytes]:
    rng = random.Random(seed)
    out = mutated_payloads(seed=20171113, count=3000)
    # giant: over the 64 KiB event limit, and close to what Kafka takes at all
    for size in (70_000, 500_000, KAFKA_MAX - 200):
        out.append(b'{"type":"call.received","narrative":"' + b"x" * size + b'"}')
    # deep nesting that fits under the size limit
    out.append(b"[" * 30_000 + b"]" * 30_000)
    out.append(b'{"a":' * 10_000 + b"1" + b"}" * 10_000)
    # invalid UTF-8: overlong, surrogate, truncated sequence, in a key
    for junk in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xff"):
        out.append(b'{"type":"call.received","call_id":"X' + junk + b'"}')
        out.append(b'{"' + junk + b'":1}')
    # valid events for calls nobody received (no call.received), and odd ones
    base = datetime(2017, 4, 10, 9, tzinfo=UTC)
    for i in range(50):
        call = f"UNKNOWN-{i:03d}"
        out.append(event("unit.on_scene", call, base + timedelta(minutes=i), 1, unit="9Z99"))
        out.append(event("call.closed", call, base + timedelta(minutes=i, seconds=30), 2))
    # clock skew: a call whose events are stamped hours in the past
    past = base - timedelta(hours=6)
    out.append(event("call.received", "SKEWED-PAST", past, 1, call_type="NOISE COMPLAINT"))
    out.append(event("call.closed", "SKEWED-PAST", past + timedelta(minutes=20), 2))
    rng.shuffle(out)
    return out


def future_event() -> bytes:
    at = datetime(2099, 1, 1, tzinfo=UTC)
    return event("call.received", "FROM-2099", at, 1, call_type="NOISE COMPLAINT")


def test_bad_input_at_volume(pipeline: Pipeline, fault_table) -> None:
    # The feed starts after the fuzz corpus' valid events (2017-04-13): those are then
    # late stragglers, not events from days ahead of the feed, which would rightly move
    # event time on (the 2099 event is the one that must not).
    stream = simulated_stream(start=START + timedelta(days=4))
    sim_items, sim_keys = stream.items, stream.keys
    half = len(sim_items) // 2
    stream.items, stream.keys = list(sim_items[:half]), list(sim_keys[:half])
    stream.extend(bad_payloads())
    stream.extend([future_event()])
    cut = len(stream.items)
    stream.items += sim_items[half:]
    stream.keys += sim_keys[half:]

    row = run_scenario(
        pipeline,
        fault_table,
        f"bad input: {len(stream.items) - len(sim_items)} malformed, giant, nested, bad UTF-8, "
        "unknown-call, skewed and 2099 payloads",
        stream,
        None,
        rate=1500,
        pauses={cut: 8.0},  # a lull longer than the event clock's 5 s idle time
    )
    reasons = {
        dict(m.headers)["callwatch-reason"].decode()
        for m in read_topic(pipeline.services.kafka_bootstrap, f"{pipeline.prefix}.deadletter")
    }
    row.notes.append("dead-letter reasons: " + ", ".join(sorted(reasons)))
    assert {"oversize", "invalid_utf8", "invalid_json", "schema_violation"} <= reasons


def test_same_stream_replayed_twice(pipeline: Pipeline, fault_table) -> None:
    stream = simulated_stream().twice()
    row = run_scenario(
        pipeline,
        fault_table,
        "same stream replayed twice",
        stream,
        None,
        rate=1500,
    )
    assert row.repeats == 0, "a replayed event changed a finding again"
    on_findings = [
        orjson.loads(m.value)
        for m in read_topic(pipeline.services.kafka_bootstrap, f"{pipeline.prefix}.findings")
    ]
    assert on_findings, "no findings at all"
