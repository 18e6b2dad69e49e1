"""What ``callwatch classify`` reads: flat records or canonical events, one JSON object a line.

Two shapes, told apart by ``type`` (only canonical events have one):

- a **flat record**, the shape of a labelled corpus: the keys in ``FLAT_KEYS``,
  plus the corpus' own annotations in ``ANNOTATION_KEYS`` (read by ``--evaluate``,
  passed over by plain classification);
- a **canonical event** (``schemas/dispatch-event.v1.schema.json``), validated as
  the ingest validates it: ``call.received`` gives the caller's nested fields
  (``caller.name``, ``caller.agency``, ...), the call type and the narrative;
  ``call.updated`` its call type and narrative. Other event types say nothing about
  who called and give no record.

Any other key is refused, with the key and the line named: a misspelt
``caller_agncy`` would otherwise be dropped without a word, and the call read as
if the caller had stated no agency.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Final

import orjson

from schemas.events import CallReceived, CallUpdated
from streams import codec
from streams.classify import OriginatorSignals, signals_from_event

# flat key -> OriginatorSignals field
FLAT_KEYS: Final = {
    "caller_name": "caller_name",
    "caller_agency": "caller_agency",
    "agency_type": "agency_type",
    "caller_phone": "phone",
    "caller_email": "email",
    "callback_number": "callback_number",
    "narrative": "narrative",
    "call_type": "call_type",
}
ID_KEY: Final = "id"
# A labelled corpus' own keys: what the record is (label, agency), what kind of
# case it was written as, and a free note. Never read by the classifier.
ANNOTATION_KEYS: Final = ("label", "agency", "kind", "note")
ACCEPTED_FLAT: Final = (ID_KEY, *FLAT_KEYS, *ANNOTATION_KEYS)
SIGNAL_EVENT_TYPES: Final = ("call.received", "call.updated")
MAX_FIELD: Final = 8192  # the event schema's longest text field

INPUT_HELP: Final = (
    "Input: one JSON object a line, either a flat record or a canonical event.\n\n"
    f"Flat record keys: {', '.join(ACCEPTED_FLAT)}. The signals are "
    f"{', '.join(FLAT_KEYS)} (strings or null); {', '.join(ANNOTATION_KEYS)} "
    "are a labelled corpus' annotations (label: positive, negative, ambiguous or review; "
    "agency: ICE, CBP, USCIS or IMMIGRATION), read only by --evaluate.\n\n"
    "Canonical event (has `type`, schemas/dispatch-event.v1.schema.json): call.received "
    "gives caller.name, caller.agency, caller.agency_type, caller.phone, caller.email, "
    "caller.callback_number, call_type and narrative; call.updated gives call_type and "
    "narrative; other event types carry no originator signals and are skipped (counted "
    "on stderr).\n\n"
    "Any other key stops that line with an error naming the key and the line number."
)


class InputError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One classifiable line: its signals, its id, and (flat records) its annotations."""

    line: int
    id: object
    signals: OriginatorSignals
    annotations: dict[str, object]
    event_type: str | None = None  # set for canonical events
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A canonical event of a type that carries no originator signals."""

    line: int
    event_type: str


def parse_line(raw: str, line: int) -> InputRecord | Skipped:
    """Read one non-blank line; InputError names the line and what is wrong."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"line {line}: invalid JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise InputError(f"line {line}: expected a JSON object, got {type(record).__name__}")
    if "type" in record:
        return _from_event(raw, record, line)
    return _from_flat(record, line)


def record_id(record: object) -> object:
    """A printable id for an output line, from whatever the line held."""
    if isinstance(record, dict):
        value = record.get(ID_KEY, record.get("event_id"))
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return str(value)[:128]
    return None


def _from_flat(record: dict[str, object], line: int) -> InputRecord:
    for key in record:
        if key not in ACCEPTED_FLAT:
            raise InputError(f"line {line}: unknown key {key!r}{_hint(key)}")
    values: dict[str, str] = {}
    for key, name in FLAT_KEYS.items():
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(
                f"line {line}: {key} must be a string or null, got {type(value).__name__}"
            )
        if len(value) > MAX_FIELD:
            raise InputError(f"line {line}: {key} is longer than {MAX_FIELD} characters")
        values[name] = value
    annotations: dict[str, object] = {k: record[k] for k in ANNOTATION_KEYS if k in record}
    return InputRecord(line, record_id(record), OriginatorSignals(**values), annotations)


def _from_event(raw: str, record: dict[str, object], line: int) -> InputRecord | Skipped:
    decoded = codec.decode(raw.encode("utf-8"))
    if isinstance(decoded, codec.Rejected):
        raise InputError(
            f"line {line}: not a valid canonical event ({decoded.reason}): {decoded.detail}"
        )
    if not isinstance(decoded, CallReceived | CallUpdated):
        return Skipped(line, str(record["type"]))
    return InputRecord(
        line,
        decoded.event_id,
        signals_from_event(decoded),
        {},
        event_type=str(record["type"]),
        call_id=decoded.call_id,
    )


# Keys of a canonical event: a line with one of them but no `type` is an event missing it.
_EVENT_KEYS: Final = ("caller", "event_id", "call_id", "occurred_at", "received_at", "schema")


def _hint(key: str) -> str:
    if key in _EVENT_KEYS:
        return ' (a canonical event needs its `type`, e.g. "type": "call.received")'
    close = difflib.get_close_matches(key, ACCEPTED_FLAT, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f"; a flat record takes {', '.join(ACCEPTED_FLAT)}"
