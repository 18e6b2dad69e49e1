"""Indexer agent: events, calls, findings, dead letters and alert deliveries into Elasticsearch.

Document ids are deterministic (event id, call id, finding id, source offset,
delivery record id), so redelivery after a crash overwrites instead of
duplicating. The agent awaits the bulk sink, which holds until Elasticsearch
accepts the batch: that is the backpressure. Documents Elasticsearch refuses go
to the dead-letter index.

No poison records: an internal record the indexer cannot turn into a document
(not JSON, not an object, a call or finding without its id) is sent to the
dead-letter topic with the reason and its original bytes, and the batch goes
on; the dead letter reaches the index like any other. Without that, the agent
would fail on it, the worker would exit, and the restart would read the same
record again: a crash loop. Dead letters themselves are turned into documents
by a function that cannot fail, so one can never loop through that topic.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT

from agents.es_sink import BulkSink, Doc
from agents.faust_compat.batching import batches
from agents.output import Output
from agents.topics import TopicNames, deadletter_headers
from callwatch import metrics
from callwatch.bootstrap import Components
from streams.codec import Rejected, decode
from streams.documents import deadletter_document, event_document
from streams.redaction import scrub


def register_indexer(app: faust.App, topics: TopicNames, components: Components) -> None:
    settings = components.settings
    redact = components.redactor
    index = {
        name: settings.index(name)
        for name in ("events", "calls", "findings", "deadletters", "alerts")
    }
    source = app.topic(
        topics.events,
        topics.calls,
        topics.findings,
        topics.deadletter,
        topics.deliveries,
        value_serializer="raw",
        key_serializer="raw",
    )
    sink_holder: dict[str, BulkSink] = {}
    # (topic, id field, redaction) of the JSON records the other stages write
    records = {
        topics.calls: ("calls", "call_id", redact.call),
        topics.findings: ("findings", "finding_id", redact.finding),
        topics.deliveries: ("alerts", "record_id", _scrub_delivery),
    }

    def to_doc(record: EventT[bytes]) -> Doc | Poison | None:
        message = record.message
        value = record.value if isinstance(record.value, bytes) else b""
        if message.topic == topics.events:
            event = decode(value)
            if isinstance(event, Rejected):
                return None  # the engine reads events too, and dead-letters it
            return Doc(index["events"], event.event_id, redact.event(event_document(event)))
        if message.topic in records:
            name, id_field, prepare = records[message.topic]
            try:
                doc = orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                return Poison("invalid_json", f"{message.topic}: not JSON ({exc})")
            if not isinstance(doc, dict):
                return Poison("not_an_object", f"{message.topic}: not a JSON object")
            doc_id = doc.get(id_field)
            if not isinstance(doc_id, str) or not doc_id:
                return Poison("contract_violation", f"{message.topic}: no {id_field}")
            try:
                return Doc(index[name], doc_id, prepare(doc))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                return Poison("contract_violation", f"{message.topic}: {exc!r}"[:500])
        return _deadletter_doc(index["deadletters"], message, value)

    @app.agent(source, name="callwatch.indexer")
    async def indexer(stream: StreamT[bytes]) -> None:
        if "sink" not in sink_holder:
            sink_holder["sink"] = BulkSink(components.es_async())
        sink = sink_holder["sink"]
        output = Output(app)
        async for batch in batches(stream, settings.bulk_max_docs, settings.bulk_max_seconds):
            started = time.perf_counter()
            docs: list[Doc] = []
            for record in batch:
                result = to_doc(record)
                if isinstance(result, Poison):
                    await _send_dead_letter(output, topics.deadletter, record, result)
                elif result is not None:
                    docs.append(result)
            await output.flush()  # the dead letters are in Kafka before the batch is done
            outcome = await sink.write(docs)
            if outcome.failed:
                await sink.write([_failure_doc(index["deadletters"], *f) for f in outcome.failed])
                metrics.dead_letter("index_failure", len(outcome.failed))
            metrics.batch_processed(
                "indexer", len(batch), outcome.indexed, time.perf_counter() - started
            )


@dataclass(frozen=True)
class Poison:
    """Why a record on an internal topic cannot be indexed."""

    reason: str
    detail: str


async def _send_dead_letter(output: Output, topic: str, record: EventT[bytes], why: Poison) -> None:
    message = record.message
    value = record.value if isinstance(record.value, bytes) else b""
    key = record.key if isinstance(record.key, bytes) else None
    headers = deadletter_headers(
        stage="indexer", reason=why.reason, detail=why.detail,
        topic=message.topic, partition=message.partition, offset=message.offset,
    )
    await output.send(topic, key, value, headers)
    metrics.dead_letter(why.reason)


def _scrub_delivery(done: dict[str, Any]) -> dict[str, Any]:
    """The alerter's record of what it did; a supervisor's comment is free text,
    scrubbed like narratives."""
    if done.get("comment"):
        done["comment"] = scrub(str(done["comment"]), [])
    return done


def _deadletter_doc(deadletter_index: str, message: Any, value: bytes) -> Doc:
    """A dead letter's document. Never raises: whatever its headers say, a record on
    the dead-letter topic is indexed (a bad header falls back to where it sits)."""
    headers: dict[str, str] = {}
    for item in message.headers or []:
        try:
            key, raw = item
            headers[str(key)] = bytes(raw or b"").decode("utf-8", "replace")
        except (TypeError, ValueError):
            continue
    doc = deadletter_document(
        stage=headers.get("callwatch-stage", "unknown"),
        reason=headers.get("callwatch-reason", "unknown"),
        detail=headers.get("callwatch-detail", ""),
        original=value,
        source_topic=headers.get("callwatch-source-topic", message.topic),
        source_partition=_int(headers.get("callwatch-source-partition"), message.partition),
        source_offset=_int(headers.get("callwatch-source-offset"), message.offset),
        at=_iso_now(),
    )
    return Doc(deadletter_index, doc["deadletter_id"], doc)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _failure_doc(deadletter_index: str, doc: Doc, status: int, reason: str) -> Doc:
    original = orjson.dumps(doc.source)
    record: dict[str, Any] = deadletter_document(
        stage="indexer",
        reason="index_failure",
        detail=f"{doc.index} refused document {doc.id} (HTTP {status}): {reason}",
        original=original,
        source_topic=doc.index,
        source_partition=0,
        source_offset=0,
        at=_iso_now(),
    )
    # The refused document's own id identifies it; offsets do not apply here.
    record["deadletter_id"] = f"index/{doc.index}/{doc.id}"
    record["original_base64"] = base64.b64encode(original[:16384]).decode()
    return Doc(deadletter_index, record["deadletter_id"], record)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
