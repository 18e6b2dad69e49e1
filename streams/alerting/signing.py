"""HMAC signatures for webhook deliveries, so a receiver can trust and date what it gets.

The signature covers the timestamp and the raw body together
(``HMAC-SHA256(secret, f"{timestamp}.{body}")``), in the two headers below. A
receiver recomputes it over the bytes it received, compares in constant time,
and refuses a timestamp older than a few minutes: a captured request cannot be
replayed later, nor its timestamp changed without breaking the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Callwatch-Signature"
TIMESTAMP_HEADER: Final = "X-Callwatch-Timestamp"
DEFAULT_TOLERANCE_S: Final = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signed_headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers to send with ``body`` at ``timestamp`` (unix seconds)."""
    return {
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        TIMESTAMP_HEADER: str(timestamp),
    }


def verify(
    secret: bytes,
    body: bytes,
    signature_header: str | None,
    timestamp_header: str | None,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether a received request is authentic and fresh (``now`` in unix seconds)."""
    if not signature_header or not timestamp_header or not timestamp_header.isdigit():
        return False
    timestamp = int(timestamp_header)
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header)
