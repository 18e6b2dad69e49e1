"""Ingest: raw bytes in, canonical events (keyed by call id) or dead letters out."""

from __future__ import annotations

import time

import faust
from faust.types import StreamT

from agents.batching import batches
from agents.topics import TopicNames, deadletter_headers
from callwatch import metrics
from callwatch.bootstrap import Components
from streams.codec import Rejected, decode, encode

BATCH = 1000
WITHIN_SECONDS = 0.05


def register_ingest(app: faust.App, topics: TopicNames, components: Components) -> None:
    raw_topic = app.topic(topics.raw, value_serializer="raw", key_serializer="raw")
    events_topic = app.topic(topics.events, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(topics.deadletter, value_serializer="raw", key_serializer="raw")
    max_bytes = components.settings.max_event_bytes
    events_in = metrics.EVENTS_IN.labels(stage="ingest")
    events_out = metrics.EVENTS_OUT.labels(stage="ingest")
    seconds = metrics.PROCESSING_SECONDS.labels(stage="ingest")
    last = metrics.LAST_PROCESSED.labels(stage="ingest")

    @app.agent(raw_topic, name="callwatch.ingest")
    async def ingest(stream: StreamT[bytes]) -> None:
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            started = time.perf_counter()
            for record in batch:
                raw = record.value if isinstance(record.value, bytes) else b""
                result = decode(raw, max_bytes)
                if isinstance(result, Rejected):
                    message = record.message
                    await deadletter_topic.send(
                        key=record.key,
                        value=raw,
                        headers=deadletter_headers(
                            stage="ingest",
                            reason=result.reason,
                            detail=result.detail,
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                        ),
                    )
                    metrics.DEAD_LETTERS.labels(reason=result.reason).inc()
                else:
                    await events_topic.send(key=result.call_id.encode(), value=encode(result))
                    events_out.inc()
            # Outputs must be durable before these inputs are acknowledged.
            await app.producer.flush()
            events_in.inc(len(batch))
            seconds.observe((time.perf_counter() - started) / len(batch))
            last.set(time.time())
