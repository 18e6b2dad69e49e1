"""Bytes <-> canonical events, with a precise reason for every rejection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import msgspec
import orjson

from schemas.events import EVENT_TYPES, SCHEMA_V1, DispatchEvent

# A dispatch event is a few hundred bytes; anything near this is not one.
DEFAULT_MAX_BYTES: Final = 64 * 1024

RejectReason = Literal[
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "unknown_version",
    "unknown_type",
    "schema_violation",
]
REJECT_REASONS: Final[tuple[RejectReason, ...]] = (
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "unknown_version",
    "unknown_type",
    "schema_violation",
)

_decoder: Final[msgspec.json.Decoder[DispatchEvent]] = msgspec.json.Decoder(DispatchEvent)
_encoder: Final = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: RejectReason
    detail: str


def encode(event: DispatchEvent) -> bytes:
    return _encoder.encode(event)


def decode(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> DispatchEvent | Rejected:
    """Decode and validate one event; never raises on bad input."""
    if len(raw) > max_bytes:
        return Rejected("oversize", f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return _explain(raw, str(exc))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # msgspec raises these for invalid UTF-8 inside a string and similar; the
        # fuzz test found them. Bad input must become a reason, never an exception.
        return _explain(raw, f"{type(exc).__name__}: {exc}")


def _explain(raw: bytes, message: str) -> Rejected:
    """Name the reason a payload failed; runs only on the failure path."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected("invalid_utf8", f"byte {exc.start}: {exc.reason}")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejected("invalid_json", str(exc))
    if not isinstance(doc, dict):
        return Rejected("not_an_object", f"top level is {type(doc).__name__}, not an object")
    version = doc.get("schema", SCHEMA_V1)
    if version != SCHEMA_V1:
        return Rejected(
            "unknown_version", f"schema {str(version)[:80]!r}; this build reads {SCHEMA_V1}"
        )
    event_type = doc.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:  # [] is unhashable
        return Rejected("unknown_type", f"type {str(event_type)[:80]!r} is not a known event type")
    return Rejected("schema_violation", message[:500])
