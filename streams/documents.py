"""Shape events and dead letters into search documents (plain dicts; no client here)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Final

import msgspec

from schemas.events import DispatchEvent, event_type

# Enough of a rejected payload to read what it was; the digest identifies the whole.
DEADLETTER_SAMPLE_BYTES: Final = 16 * 1024


def event_document(event: DispatchEvent) -> dict[str, Any]:
    doc: dict[str, Any] = msgspec.to_builtins(event)
    doc["type"] = event_type(event)
    doc.pop("schema", None)
    location = doc.get("location")
    if location is not None:
        lat, lon = location.pop("lat", None), location.pop("lon", None)
        if lat is not None and lon is not None:
            location["point"] = {"lat": lat, "lon": lon}
    return doc


def deadletter_document(
    *,
    stage: str,
    reason: str,
    detail: str,
    original: bytes,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    at: str,
) -> dict[str, Any]:
    return {
        "deadletter_id": deadletter_id(source_topic, source_partition, source_offset),
        "stage": stage,
        "reason": reason,
        "detail": detail[:2000],
        "source_topic": source_topic,
        "source_partition": source_partition,
        "source_offset": source_offset,
        "size_bytes": len(original),
        "sha256": hashlib.sha256(original).hexdigest(),
        "original_base64": base64.b64encode(original[:DEADLETTER_SAMPLE_BYTES]).decode(),
        "original_truncated": len(original) > DEADLETTER_SAMPLE_BYTES,
        "dead_lettered_at": at,
    }


def deadletter_id(topic: str, partition: int, offset: int) -> str:
    """Where the bad input sat is what makes it unique; redelivery maps to the same id."""
    return f"{topic}/{partition}/{offset}"
