"""Ingest: raw bytes in, canonical events (keyed by call id) or dead letters out."""

from __future__ import annotations

import hashlib
import time

import faust
from faust.types import StreamT

from agents.faust_compat.batching import batches
from agents.faust_compat.in_order import InOrder
from agents.output import Output
from agents.topics import TopicNames, deadletter_headers
from callwatch import metrics
from callwatch.bootstrap import Components
from streams.codec import Rejected, decode, encode

BATCH = 1000
WITHIN_SECONDS = 0.05
# The producer refuses records over 1 MB (faust's producer_max_request_size), and Kafka
# takes raw records up to about that: a bigger one is dead-lettered cut to this size,
# its full size and SHA-256 in the detail, rather than crashing the agent on every retry.
DEADLETTER_MAX_BYTES = 960_000


def register_ingest(app: faust.App, topics: TopicNames, components: Components) -> None:
    raw_topic = app.topic(topics.raw, value_serializer="raw", key_serializer="raw")
    events_name, deadletter_name = topics.events, topics.deadletter
    max_bytes = components.settings.max_event_bytes

    in_order = InOrder(app)  # a call's events go out in the order its raw records came

    @app.agent(raw_topic, name="callwatch.ingest")
    async def ingest(stream: StreamT[bytes]) -> None:
        out = Output(app)
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            started = time.perf_counter()
            valid = 0
            for record in batch:
                if not in_order.admit(record):
                    continue
                raw = record.value if isinstance(record.value, bytes) else b""
                result = decode(raw, max_bytes)
                if isinstance(result, Rejected):
                    message = record.message
                    value, detail = raw, result.detail
                    if len(raw) > DEADLETTER_MAX_BYTES:
                        value = raw[:DEADLETTER_MAX_BYTES]
                        detail += (
                            f"; cut to {DEADLETTER_MAX_BYTES} of {len(raw)} bytes,"
                            f" sha256 {hashlib.sha256(raw).hexdigest()}"
                        )
                    await out.send(
                        deadletter_name,
                        record.key,
                        value,
                        deadletter_headers(
                            stage="ingest",
                            reason=result.reason,
                            detail=detail,
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                        ),
                    )
                    metrics.dead_letter(result.reason)
                else:
                    await out.send(events_name, result.call_id.encode(), encode(result))
                    valid += 1
            # Outputs must be durable before these inputs are acknowledged.
            await out.flush()
            in_order.release()
            metrics.batch_processed("ingest", len(batch), valid, time.perf_counter() - started)
