"""Indexer agent: events, calls, findings, dead letters and alert deliveries into Elasticsearch.

Document ids are deterministic (event id, call id, finding id, source offset,
delivery record id), so redelivery after a crash overwrites instead of
duplicating. The agent awaits the bulk sink, which holds until Elasticsearch
accepts the batch: that is the backpressure. Documents Elasticsearch refuses go
to the dead-letter index.
"""

from __future__ import annotations

import base64
import time
from typing import Any, cast

import faust
import orjson
from faust.types import EventT, StreamT

from agents.es_sink import BulkSink, Doc
from agents.faust_compat.batching import batches
from agents.topics import TopicNames
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
    events_in = metrics.EVENTS_IN.labels(stage="indexer")
    events_out = metrics.EVENTS_OUT.labels(stage="indexer")
    seconds = metrics.PROCESSING_SECONDS.labels(stage="indexer")
    last = metrics.LAST_PROCESSED.labels(stage="indexer")

    def to_doc(record: EventT[bytes]) -> Doc | None:
        message = record.message
        value = record.value if isinstance(record.value, bytes) else b""
        if message.topic == topics.events:
            event = decode(value)
            if isinstance(event, Rejected):
                return None
            return Doc(index["events"], event.event_id, redact.event(event_document(event)))
        if message.topic == topics.calls:
            call = orjson.loads(value)
            return Doc(index["calls"], call["call_id"], redact.call(call))
        if message.topic == topics.findings:
            finding = orjson.loads(value)
            return Doc(index["findings"], finding["finding_id"], redact.finding(finding))
        if message.topic == topics.deliveries:  # the alerter's record of what it did
            done = orjson.loads(value)
            if done.get("comment"):  # a supervisor's free text, scrubbed like narratives
                done["comment"] = scrub(done["comment"], [])
            return Doc(index["alerts"], done["record_id"], done)
        headers = {
            str(k): bytes(v).decode("utf-8", "replace")
            for k, v in cast(list[tuple[str, bytes]], message.headers or [])
        }
        doc = deadletter_document(
            stage=headers.get("callwatch-stage", "unknown"),
            reason=headers.get("callwatch-reason", "unknown"),
            detail=headers.get("callwatch-detail", ""),
            original=value,
            source_topic=headers.get("callwatch-source-topic", message.topic),
            source_partition=int(headers.get("callwatch-source-partition", message.partition)),
            source_offset=int(headers.get("callwatch-source-offset", message.offset)),
            at=_iso_now(),
        )
        return Doc(index["deadletters"], doc["deadletter_id"], doc)

    @app.agent(source, name="callwatch.indexer")
    async def indexer(stream: StreamT[bytes]) -> None:
        if "sink" not in sink_holder:
            sink_holder["sink"] = BulkSink(components.es_async())
        sink = sink_holder["sink"]
        async for batch in batches(stream, settings.bulk_max_docs, settings.bulk_max_seconds):
            started = time.perf_counter()
            docs = [doc for doc in map(to_doc, batch) if doc is not None]
            outcome = await sink.write(docs)
            if outcome.failed:
                await sink.write([_failure_doc(index["deadletters"], *f) for f in outcome.failed])
                metrics.DEAD_LETTERS.labels(reason="index_failure").inc(len(outcome.failed))
            events_in.inc(len(batch))
            events_out.inc(outcome.indexed)
            seconds.observe((time.perf_counter() - started) / max(1, len(batch)))
            last.set(time.time())


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
