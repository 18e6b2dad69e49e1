"""Build canonical events for engine tests, tersely."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from schemas.events import EVENT_TYPES, CallReceived, CallUpdated, DispatchEvent
from streams.engine.state import Originator

T0 = datetime(2017, 4, 13, 9, 0, tzinfo=UTC)
_ids = itertools.count()


def ev(kind: str, call_id: str, minutes: float, **fields: Any) -> DispatchEvent:
    at = T0 + timedelta(minutes=minutes)
    doc = {
        "type": kind,
        "event_id": f"{call_id}-{kind}-{next(_ids)}",
        "call_id": call_id,
        "occurred_at": at.isoformat(),
        "received_at": at.isoformat(),
        "source": "test",
        **fields,
    }
    return msgspec.convert(doc, EVENT_TYPES[kind], strict=False)


def by_agency_field(event: CallReceived | CallUpdated) -> Originator:
    """A stand-in classifier for rule tests: the stated agency decides."""
    if isinstance(event, CallReceived) and event.caller.agency == "ICE":
        return Originator(True, "ICE", 0.99, False, ("caller_agency:ICE",))
    return Originator()


LT = {"rank": "lieutenant", "name": "Lt. Example"}
PO = {"rank": "officer"}


def compliant_call(call_id: str = "C1") -> list[DispatchEvent]:
    """An ICE call handled by the book: every rule met."""
    return [
        ev(
            "call.received",
            call_id,
            0,
            caller={"agency": "ICE"},
            line={"kind": "admin", "recorded": True},
            call_type="ASSIST OTHER AGENCY",
        ),
        ev("recording.started", call_id, 0),
        ev("commander.assigned", call_id, 4, officer=LT),
        ev("basis.recorded", call_id, 6, basis="criminal_warrant", reference="W-1"),
        ev("unit.dispatched", call_id, 7, unit="4A12", officer=PO),
        ev("unit.dispatched", call_id, 7, unit="LT1", officer=LT, role="commander"),
        ev("unit.on_scene", call_id, 20, unit="4A12", officer=PO),
        ev("bodycam.activated", call_id, 20, unit="4A12", officer=PO),
        ev("unit.on_scene", call_id, 22, unit="LT1", officer=LT, role="commander"),
        ev("bodycam.activated", call_id, 22, unit="LT1", officer=LT),
        ev("unit.cleared", call_id, 60, unit="4A12", officer=PO),
        ev("bodycam.deactivated", call_id, 60, unit="4A12", officer=PO),
        ev("unit.cleared", call_id, 61, unit="LT1", officer=LT, role="commander"),
        ev("bodycam.deactivated", call_id, 61, unit="LT1", officer=LT),
        ev("call.closed", call_id, 62, disposition="ASSISTED"),
        ev("report.filed", call_id, 120, report_number="R-1"),
    ]
