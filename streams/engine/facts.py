"""Facts: the compact, rule-relevant residue of each event, kept in per-call state.

Per-call state must stay small (a big city has tens of thousands of open calls),
so we keep neither the event nor its free text: only what the rules read. Text
is reduced to flags at intake (e.g. "the narrative says the caller is not in
trouble"), computed with the policy's phrases.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from schemas.events import (
    BasisRecorded,
    CallbackRequested,
    CallReceived,
    CallUpdated,
    DispatchEvent,
    event_type,
)


class Fact(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    """One event, as the rules see it. ``t`` is event time in epoch milliseconds."""

    event_id: str
    type: str
    t: int
    unit: str | None = None
    rank: str | None = None
    role: str | None = None
    # type-specific: line kind (call.received / callback.requested), basis (basis.recorded)
    detail: str | None = None
    recorded: bool | None = None
    # call.received / call.updated: the call type as coded at this point
    call_type: str | None = None
    # the narrative on this event says the caller is not in trouble / needs no help
    not_in_trouble: bool = False
    # call.received: the kinds of fact the source declared it reports (None: not declared)
    provides: tuple[str, ...] | None = None


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def fact_from_event(event: DispatchEvent, not_in_trouble_phrases: tuple[str, ...]) -> Fact:
    t = to_millis(event.occurred_at)
    kind = event_type(event)
    if isinstance(event, CallReceived):
        return Fact(
            event.event_id,
            kind,
            t,
            detail=event.line.kind,
            recorded=event.line.recorded,
            call_type=event.call_type,
            not_in_trouble=_says(event.narrative, not_in_trouble_phrases),
            provides=event.provides,
        )
    if isinstance(event, CallUpdated):
        return Fact(
            event.event_id,
            kind,
            t,
            call_type=event.call_type,
            not_in_trouble=_says(event.narrative, not_in_trouble_phrases),
        )
    if isinstance(event, CallbackRequested):
        return Fact(
            event.event_id,
            kind,
            t,
            detail=event.line_kind,
            recorded=event.recorded,
            not_in_trouble=_says(event.narrative, not_in_trouble_phrases),
        )
    if isinstance(event, BasisRecorded):
        return Fact(event.event_id, kind, t, detail=event.basis)
    unit = getattr(event, "unit", None)
    officer = getattr(event, "officer", None)
    return Fact(
        event.event_id,
        kind,
        t,
        unit=unit,
        rank=officer.rank if officer is not None else None,
        role=getattr(event, "role", None),
    )


def _says(text: str | None, phrases: tuple[str, ...]) -> bool:
    if not text:
        return False
    folded = text.casefold()
    return any(phrase in folded for phrase in phrases)
