"""Deterministic event ids: the same fact converted twice gets the same id.

The id is the idempotency key downstream, so it must depend only on what the
event says happened, never on when or how often it was converted.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime


def event_id(
    source: str,
    call_id: str,
    event_type: str,
    occurred_at: datetime,
    unit: str | None = None,
    discriminator: str = "",
) -> str:
    """A 24-hex-digit hash of the fact; ``discriminator`` separates same-time notes."""
    fact = "\x1f".join(
        (
            source,
            call_id,
            event_type,
            unit or "",
            occurred_at.astimezone(UTC).isoformat(),
            discriminator,
        )
    )
    return hashlib.blake2b(fact.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
