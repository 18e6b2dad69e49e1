"""The canonical dispatch event, version 1: Python types of the contract.

One event per thing that happens to a call. The JSON Schema that external
producers validate against (``schemas/dispatch-event.v1.schema.json``) is
generated from these types by ``python -m schemas.generate`` and a test keeps
the committed file identical to what the types produce, so the two cannot drift.

Every event carries the same envelope: ``schema`` (the contract version),
``event_id`` (unique per event, the idempotency key), ``call_id``, ``type``,
``occurred_at`` (when it happened, per the source), ``received_at`` (when
callwatch or the source's exporter first saw it) and ``source`` (which system
it came from). Type-specific fields follow, flat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

SCHEMA_V1: Final = "callwatch.dispatch/1"

# Constrained scalars. Limits keep a single hostile field from ballooning state.
Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Text = Annotated[str, Meta(max_length=8192)]
Short = Annotated[str, Meta(max_length=256)]
Stamp = Annotated[datetime, Meta(tz=True)]

LineKind = Literal[
    "911",  # emergency line, always recorded at a PSAP
    "admin",  # non-emergency / administrative line
    "radio",
    "direct",  # a desk or direct-dial line into dispatch
    "cell",  # a personal or department cell phone: not recorded
    "offline",  # anything described as "offline", "off the record", "off line"
    "text",
    "other",
]

Rank = Literal[
    "officer",
    "detective",
    "sergeant",
    "lieutenant",
    "captain",
    "major",
    "lieutenant_colonel",
    "colonel",
    "deputy_chief",
    "chief",
    "civilian",
    "federal_agent",
    "unknown",
]

UnitRole = Literal["patrol", "supervisor", "commander", "specialty", "federal", "other"]

LegalBasis = Literal[
    "criminal_warrant",  # a judicial warrant for a crime
    "crime_occurred",
    "emergency",  # emergency or public-safety threat
    "administrative_warrant",  # ICE I-200/I-205 etc.: not a basis under the policy
    "civil_immigration",
    "none",
    "unknown",
]

CommanderAction = Literal["notified", "assigned", "declined"]

# The kinds of fact a source can report, as the policy's rules need them. A source
# that declares its kinds lets a rule say "not assessable: the feed has no camera
# records" instead of reading silence as "the camera was off".
FactKind = Literal[
    "units",  # unit dispatched / on scene / cleared
    "commander",  # commander notified / assigned / declined, and officers' ranks
    "camera",  # body-worn camera activated / deactivated
    "recording",  # whether the line is recorded, recording started / failed
    "basis",  # the legal basis recorded for assisting
    "report",  # report filed
    "narrative",  # the call's narrative / notes
]
FACT_KINDS: Final[tuple[FactKind, ...]] = (
    "units",
    "commander",
    "camera",
    "recording",
    "basis",
    "report",
    "narrative",
)


class Location(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    address: Short | None = None
    beat: Short | None = None
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None


class Caller(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """Who originated the call, as dispatch recorded it."""

    name: Short | None = None
    agency: Short | None = None  # the agency the caller *stated*
    agency_type: Short | None = None  # NENA agency type code, e.g. police.federal.ice
    phone: Short | None = None
    email: Short | None = None
    callback_number: Short | None = None


class Line(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """The line a call came in on, and whether dispatch records it."""

    kind: LineKind = "other"
    id: Short | None = None
    recorded: bool | None = None  # None: the source did not say


class Officer(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    id: Short | None = None
    name: Short | None = None
    rank: Rank = "unknown"
    agency: Short | None = None  # set when not the department's own (e.g. HSI in the field)


class _Envelope(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    tag_field="type",
):
    schema: Literal["callwatch.dispatch/1"] = SCHEMA_V1
    event_id: Id
    call_id: Id
    occurred_at: Stamp
    received_at: Stamp
    source: Short


class CallReceived(_Envelope, frozen=True, tag="call.received"):
    caller: Caller = Caller()
    line: Line = Line()
    call_type: Short | None = None
    priority: Short | None = None
    location: Location | None = None
    narrative: Text | None = None
    # The kinds of fact this call's source can report (see FactKind). Absent: not
    # declared, and every kind is judged on what arrives (silence about one unit's
    # camera still never counts as "off").
    provides: tuple[FactKind, ...] | None = None


class CallUpdated(_Envelope, frozen=True, tag="call.updated"):
    call_type: Short | None = None
    priority: Short | None = None
    location: Location | None = None
    narrative: Text | None = None  # a note appended to the call


class CallbackRequested(_Envelope, frozen=True, tag="callback.requested"):
    """The caller asks for someone to call them back, e.g. a sergeant on a cell."""

    number: Short | None = None
    line_kind: LineKind = "other"
    recorded: bool | None = None
    requested_rank: Rank = "unknown"
    narrative: Text | None = None


class _CommanderEvent(_Envelope, frozen=True):
    officer: Officer = Officer()
    note: Text | None = None


class CommanderNotified(_CommanderEvent, frozen=True, tag="commander.notified"):
    pass


class CommanderAssigned(_CommanderEvent, frozen=True, tag="commander.assigned"):
    pass


class CommanderDeclined(_CommanderEvent, frozen=True, tag="commander.declined"):
    """A commanding officer decided no assistance is appropriate."""


class _UnitEvent(_Envelope, frozen=True):
    unit: Id
    officer: Officer = Officer()
    role: UnitRole = "patrol"


class UnitDispatched(_UnitEvent, frozen=True, tag="unit.dispatched"):
    pass


class UnitEnRoute(_UnitEvent, frozen=True, tag="unit.en_route"):
    pass


class UnitOnScene(_UnitEvent, frozen=True, tag="unit.on_scene"):
    pass


class UnitCleared(_UnitEvent, frozen=True, tag="unit.cleared"):
    pass


class _RecordingEvent(_Envelope, frozen=True):
    line: Line = Line()
    reason: Short | None = None


class RecordingStarted(_RecordingEvent, frozen=True, tag="recording.started"):
    pass


class RecordingStopped(_RecordingEvent, frozen=True, tag="recording.stopped"):
    pass


class RecordingFailed(_RecordingEvent, frozen=True, tag="recording.failed"):
    pass


class _BodycamEvent(_Envelope, frozen=True):
    unit: Id
    officer: Officer = Officer()


class BodycamActivated(_BodycamEvent, frozen=True, tag="bodycam.activated"):
    pass


class BodycamDeactivated(_BodycamEvent, frozen=True, tag="bodycam.deactivated"):
    pass


class BasisRecorded(_Envelope, frozen=True, tag="basis.recorded"):
    """The legal basis dispatch or the commander recorded for assisting."""

    basis: LegalBasis
    reference: Short | None = None  # warrant number, case number
    note: Text | None = None


class ReportFiled(_Envelope, frozen=True, tag="report.filed"):
    report_number: Short | None = None


class CallClosed(_Envelope, frozen=True, tag="call.closed"):
    disposition: Short | None = None


DispatchEvent = (
    CallReceived
    | CallUpdated
    | CallbackRequested
    | CommanderNotified
    | CommanderAssigned
    | CommanderDeclined
    | UnitDispatched
    | UnitEnRoute
    | UnitOnScene
    | UnitCleared
    | RecordingStarted
    | RecordingStopped
    | RecordingFailed
    | BodycamActivated
    | BodycamDeactivated
    | BasisRecorded
    | ReportFiled
    | CallClosed
)

EVENT_TYPES: Final[dict[str, type[DispatchEvent]]] = {
    str(cls.__struct_config__.tag): cls for cls in DispatchEvent.__args__
}

_TAG_OF: Final[dict[type, str]] = {cls: tag for tag, cls in EVENT_TYPES.items()}


def event_type(event: DispatchEvent) -> str:
    """The event's ``type`` tag (msgspec keeps the tag on the class, not the instance)."""
    return _TAG_OF[type(event)]
