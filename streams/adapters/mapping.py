"""The declarative mapping: which columns (or JSON keys) of one city's export mean what.

A mapping is a YAML file (``schemas/mappings/*.yaml``) read into the typed
structs below. The structs are the single definition of the format: the JSON
Schema ``schemas/mapping.v2.schema.json`` and the README's mapping reference
are generated from them (``python -m streams.adapters.generate_mapping_schema``)
and tests keep all three identical. ``schemas/mapping.v1.schema.json`` is the
frozen version-1 schema: every version-1 file still loads, and a test checks
the shipped version-1 files against both schemas.

Version 2 adds JSON and NDJSON input, per-column time specifications (epoch
seconds or milliseconds, a zone per column, a 12-hour clock without AM/PM,
time-only columns), packed multi-unit cells, a primary unit for call-level unit
times, officer columns, inline value maps and defaults for enum fields. A
version-1 file that uses any of them is refused with the key named, so the
version says what a reader needs.

Loading validates the structure and the meaning (one ``call.received`` event,
known lookups, valid time zones and patterns) and names the offending key.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml
from msgspec import Meta

from schemas import schema_path
from schemas.events import FactKind

MAPPING_SCHEMA_FILE: Final = "mapping.v2.schema.json"
MAPPING_V1_SCHEMA_FILE: Final = "mapping.v1.schema.json"  # frozen: no longer generated
SHIPPED_MAPPINGS_DIR: Final = "mappings"

EventKind = Literal[
    "call.received",
    "call.closed",
    "unit.dispatched",
    "unit.en_route",
    "unit.on_scene",
    "unit.cleared",
]
FieldName = Literal[
    "call_type",
    "priority",
    "disposition",
    "address",
    "beat",
    "lat",
    "lon",
    "narrative",
    "unit",
    "role",
    "caller_name",
    "caller_agency",
    "caller_agency_type",
    "caller_phone",
    "line_kind",
    "officer_id",
    "officer_name",
    "officer_rank",
]

DEFAULT_DATETIME_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S.%f",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
)
DEFAULT_TIME_FORMATS: Final = ("%H:%M", "%H:%M:%S", "%I:%M %p")
DEFAULT_NULL_VALUES: Final = ("", "NULL", "null", "N/A", "NaN")


class MappingError(ValueError):
    """A mapping file is unusable; the message names the file and the key."""


def _doc(description: str, *examples: Any) -> Meta:
    """Every mapping key carries a description and an example: the README reference
    is generated from them, and a test fails when one is missing."""
    return Meta(description=description, examples=list(examples))


class FieldSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where one value comes from: exactly one of column, template or value."""

    column: Annotated[str | None, _doc("Header of the column (or JSON key) to read.", "Nature")] = (
        None
    )
    template: Annotated[
        str | None,
        _doc(
            "Text with {column} or {column|lookup} placeholders; a [bracketed part] "
            "is dropped when every placeholder inside it is empty. Also how to build a "
            "composite call id when the export has no id column.",
            "{house_no} {street}[ / {cross_street}]",
        ),
    ] = None
    value: Annotated[str | None, _doc("A constant, the same for every row.", "patrol")] = None
    lookup: Annotated[
        str | None,
        _doc(
            "Name of a lookup table translating the column's code; misses give null.", "calltypes"
        ),
    ] = None
    pattern: Annotated[
        str | None,
        _doc("Regular expression; keeps its first group (or the whole match).", r"\((-?[\d.]+),"),
    ] = None
    map: Annotated[
        dict[str, str],
        _doc(
            "Version 2. Inline translation of the value (after pattern), e.g. a CAD's line "
            "codes to callwatch's line kinds; a value not in the map is kept as it is.",
            {"E": "911", "A": "admin"},
        ),
    ] = {}
    default: Annotated[
        str | None,
        _doc(
            "Version 2, enum fields (role, line_kind, officer_rank): the value used when the "
            "cell is not one of the allowed values, reported as an `unknown_enum` anomaly "
            "instead of rejecting the row. Without it: other, other and unknown.",
            "other",
        ),
    ] = None


FieldRef = Annotated[
    str | FieldSpec, _doc("A column header, or a field specification.", "IncidentNo")
]


class Fields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Canonical event fields and where each comes from; leave out what the export lacks."""

    call_type: Annotated[
        FieldRef | None,
        _doc("The call's type or nature.", {"template": "{Code}[ - {Code|calltypes}]"}),
    ] = None
    priority: Annotated[FieldRef | None, _doc("The call's priority, as written.", "Priority")] = (
        None
    )
    disposition: Annotated[
        FieldRef | None, _doc("How the call ended; goes on call.closed.", "Disposition")
    ] = None
    address: Annotated[
        FieldRef | None,
        _doc("Where the call is, as text.", {"template": "{house_no} {street}"}),
    ] = None
    beat: Annotated[
        FieldRef | None, _doc("Beat, district or sector.", {"template": "[District {district}]"})
    ] = None
    lat: Annotated[
        FieldRef | None,
        _doc("Latitude in degrees; a value outside ±90 is dropped with a note.", "latitude"),
    ] = None
    lon: Annotated[
        FieldRef | None,
        _doc("Longitude in degrees; outside ±180 is dropped with a note.", "longitude"),
    ] = None
    narrative: Annotated[
        FieldRef | None,
        _doc("Free-text narrative or comments; keeps its line breaks.", "Comments"),
    ] = None
    unit: Annotated[
        FieldRef | None,
        _doc("Responding unit id; needed for unit events (see also primary_unit).", "UnitId"),
    ] = None
    role: Annotated[
        FieldRef | None,
        _doc(
            "Unit role: patrol, supervisor, commander, specialty, federal or other.",
            {"value": "patrol"},
        ),
    ] = None
    caller_name: Annotated[FieldRef | None, _doc("The caller's name.", "CallerName")] = None
    caller_agency: Annotated[
        FieldRef | None, _doc("The agency the caller stated.", "CallerAgency")
    ] = None
    caller_agency_type: Annotated[
        FieldRef | None, _doc("NENA agency type code, e.g. police.federal.ice.", "AgencyType")
    ] = None
    caller_phone: Annotated[FieldRef | None, _doc("The caller's phone number.", "CallerPhone")] = (
        None
    )
    line_kind: Annotated[
        FieldRef | None,
        _doc(
            "911, admin, radio, direct, cell, offline, text or other.",
            {"column": "LineType", "map": {"E": "911", "A": "admin"}},
        ),
    ] = None
    officer_id: Annotated[
        FieldRef | None,
        _doc("Version 2. Badge or employee number of the unit's officer.", "BadgeNo"),
    ] = None
    officer_name: Annotated[
        FieldRef | None, _doc("Version 2. Name of the unit's officer.", "OfficerName")
    ] = None
    officer_rank: Annotated[
        FieldRef | None,
        _doc(
            "Version 2. The officer's rank: officer, detective, sergeant, lieutenant, captain, "
            "major, lieutenant_colonel, colonel, deputy_chief, chief, civilian, federal_agent "
            "or unknown (case and spaces do not matter: 'Deputy Chief' is deputy_chief).",
            {"column": "Rank", "map": {"LT": "lieutenant", "SGT": "sergeant"}},
        ),
    ] = None


class TimeSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where an event's time comes from, when it is not one column in `datetime_formats`.

    Exactly one of: `column`; `date` with `time`; `time` alone (a time of day, on the
    call's receipt date, rolled over midnight).
    """

    column: Annotated[
        str | None,
        _doc("Version 2. Column holding a date and time, or an epoch with `epoch`.", "Dispatched"),
    ] = None
    date: Annotated[
        str | None,
        _doc("Column holding the date (parsed with datetime_formats, or `formats`).", "EVENTDT"),
    ] = None
    time: Annotated[
        str | None,
        _doc(
            "Column holding the time of day (time_formats). Alone (version 2), the date is "
            "the call's receipt date in this column's zone, and a time more than an hour "
            "before the receipt is on the next day (a `midnight_rollover` anomaly). With "
            "`date` from the same column as the receipt's date, the same rollover applies.",
            "EVENTTM",
        ),
    ] = None
    epoch: Annotated[
        Literal["s", "ms"] | None,
        _doc("Version 2. `column` holds Unix epoch seconds (s) or milliseconds (ms).", "ms"),
    ] = None
    formats: Annotated[
        tuple[str, ...] | None,
        _doc(
            "Version 2. strptime formats for this column only, instead of datetime_formats "
            "(time_formats for a `time`-only column).",
            ["%d.%m.%Y %H:%M"],
        ),
    ] = None
    timezone: Annotated[
        str | None,
        _doc("Version 2. IANA zone of this column's naive times, instead of `timezone`.", "UTC"),
    ] = None
    clock: Annotated[
        Literal["24h", "12h"],
        _doc(
            "Version 2. 12h: the hour is written 1-12 with no AM/PM, so each time has two "
            "readings. It is resolved from `clock_from`, then (for events after the receipt) "
            "from the call's receipt time; otherwise the time is read as written and reported "
            "as an `ambiguous_clock` anomaly, never guessed silently.",
            "12h",
        ),
    ] = "24h"
    clock_from: Annotated[
        str | None,
        _doc(
            "Version 2, with clock: 12h. A column of the same row giving the same instant "
            "unambiguously: epoch seconds or milliseconds (all digits), or a 24-hour or AM/PM "
            "timestamp in datetime_formats. The reading nearest to it is taken.",
            "received_epoch",
        ),
    ] = None


DateTimeParts = TimeSpec  # version 1's name for {date, time}

TimeRef = Annotated[
    str | TimeSpec,
    _doc(
        "A column with the event's time (datetime_formats), or a time specification.",
        "ReceivedTime",
    ),
]


class PackedUnits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Several units in one cell: one unit event per unit, e.g. "A12,B7" or
    "E12=14:02:11, M3=14:05:40"."""

    column: Annotated[str, _doc("Column holding the packed units.", "Units")]
    separator: Annotated[
        str, Meta(min_length=1), _doc("What separates one unit from the next.", ",")
    ] = ","
    time_separator: Annotated[
        Annotated[str, Meta(min_length=1)] | None,
        _doc(
            "What separates a unit from its own time (E12=14:02:11). The unit's time is read "
            "with datetime_formats, or as a time of day rolled over midnight like a "
            "`time`-only column; a unit without a time takes the event's `at`.",
            "=",
        ),
    ] = None
    timezone: Annotated[
        str | None, _doc("IANA zone of the units' times, instead of `timezone`.", "UTC")
    ] = None


class EventSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One event type a row implies, and the column with its time."""

    type: Annotated[EventKind, _doc("The event the time stands for.", "unit.dispatched")]
    at: Annotated[
        TimeRef | None,
        _doc(
            "Column with the event's time, or a time specification. Required, except for "
            "packed units whose cell carries each unit's time.",
            {"date": "ArriveDate", "time": "ArriveTime"},
        ),
    ] = None
    requires: Annotated[
        tuple[FieldName, ...],
        _doc("Emit only when these fields have a value (e.g. a disposition).", ["disposition"]),
    ] = ()
    aggregate: Annotated[
        Literal["min", "max"] | None,
        _doc(
            "per_unit layout, call-level events: take the earliest (min) or latest (max) "
            "time over the call's rows. Default: max for call.closed, min otherwise.",
            "max",
        ),
    ] = None
    units: Annotated[
        PackedUnits | None,
        _doc(
            "Version 2, unit events: the units are packed in one cell; one event per unit.",
            {"column": "Units", "time_separator": "="},
        ),
    ] = None


class LookupSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A code table shipped with the export, e.g. call-type code -> description."""

    file: Annotated[
        str,
        _doc(
            "CSV file; a relative path is looked for in the lookup directory "
            "(CALLWATCH_LOOKUP_DIR or --lookup-dir), then beside the data file, "
            "then beside the mapping.",
            "call_types.csv",
        ),
    ]
    key: Annotated[str, _doc("Column holding the code.", "code")]
    value: Annotated[str, _doc("Column holding the text the code stands for.", "description")]
    optional: Annotated[bool, _doc("When the file is missing, leave codes untranslated.", True)] = (
        False
    )
    encoding: Annotated[str, _doc("Text encoding of the file.", "latin-1")] = "utf-8-sig"


class CsvMapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one CAD export's columns (CSV) or keys (JSON) become canonical callwatch events."""

    version: Annotated[
        Literal[1, 2], _doc("Mapping language version; 2 for the version-2 keys.", 2)
    ]
    source: Annotated[
        str,
        Meta(min_length=1, max_length=64),
        _doc("Goes into every event's source.", "mypd"),
    ]
    timezone: Annotated[
        str,
        _doc("IANA zone of naive timestamps, e.g. America/Los_Angeles.", "America/Denver"),
    ]
    call_id: Annotated[
        FieldRef,
        _doc(
            "The call id: a column, or a template joining columns when there is no id column.",
            {"template": "{CallDate}-{SeqNo}"},
        ),
    ]
    events: Annotated[
        tuple[EventSpec, ...],
        Meta(min_length=1),
        _doc(
            "Which time makes which event; exactly one call.received.",
            [{"type": "call.received", "at": "ReceivedTime"}],
        ),
    ]
    description: Annotated[
        str | None, _doc("What the export is, for people.", "My PD calls for service")
    ] = None
    format: Annotated[
        Literal["csv", "json", "ndjson"],
        _doc(
            "Version 2. csv; json: one document holding the records (see record_path); "
            "ndjson: one JSON object per line.",
            "json",
        ),
    ] = "csv"
    record_path: Annotated[
        str | None,
        _doc(
            "Version 2, json: where the records are. Keys joined by dots; `[]` after a key "
            "walks its array. Default: the document is the array of records. ArcGIS: "
            "features[].attributes; Socrata rows.json: data[] (with columns_path). "
            "Nested objects inside a record are read as dotted columns (location.latitude).",
            "features[].attributes",
        ),
    ] = None
    columns_path: Annotated[
        str | None,
        _doc(
            "Version 2, json: where the column names are when each record is an array of "
            "values (Socrata rows.json).",
            "meta.view.columns[].fieldName",
        ),
    ] = None
    layout: Annotated[
        Literal["per_call", "per_unit"],
        _doc("per_unit: one row per responding unit, grouped into calls by call_id.", "per_unit"),
    ] = "per_call"
    primary_unit: Annotated[
        Annotated[str, Meta(min_length=1, max_length=128)] | None,
        _doc(
            "Version 2. The unit id given to a unit event when the row names no unit: "
            "call-level dispatch, arrival or clear times.",
            "PRIMARY",
        ),
    ] = None
    datetime_formats: Annotated[
        tuple[str, ...],
        Meta(min_length=1),
        _doc("strptime formats of timestamps, tried in this order.", ["%m/%d/%Y %I:%M:%S %p"]),
    ] = DEFAULT_DATETIME_FORMATS
    time_formats: Annotated[
        tuple[str, ...], _doc("strptime formats of time-of-day columns.", ["%H:%M"])
    ] = DEFAULT_TIME_FORMATS
    null_values: Annotated[
        tuple[str, ...],
        _doc("Cell values meaning 'no value' in every column.", ["", "NULL", "N/A"]),
    ] = DEFAULT_NULL_VALUES
    column_null_values: Annotated[
        dict[str, tuple[str, ...]],
        _doc("Extra no-value markers per column, e.g. beat: ['-1'].", {"beat": ["-1"]}),
    ] = {}
    sentinel_dates: Annotated[
        tuple[date, ...],
        _doc("Placeholder dates meaning 'never', e.g. 1900-01-01.", ["1900-01-01"]),
    ] = ()
    received_at: Annotated[
        Literal["now", "event_time"],
        _doc("now: the conversion time; event_time: each event's own time.", "event_time"),
    ] = "now"
    encoding: Annotated[str, _doc("Text encoding of the export.", "latin-1")] = "utf-8-sig"
    delimiter: Annotated[
        str, Meta(min_length=1, max_length=1), _doc("CSV field delimiter.", ";")
    ] = ","
    fields: Annotated[
        Fields, _doc("Canonical fields and where each comes from.", {"priority": "Priority"})
    ] = Fields()
    lookups: Annotated[
        dict[str, LookupSpec],
        _doc(
            "Code tables, by name.",
            {"calltypes": {"file": "call_types.csv", "key": "code", "value": "description"}},
        ),
    ] = {}
    provides: Annotated[
        tuple[FactKind, ...] | None,
        _doc(
            "Fact kinds the export reports (units, commander, camera, recording, basis,"
            " report, narrative); default: derived from what the mapping maps.",
            ["units", "narrative"],
        ),
    ] = None


# --- templates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placeholder:
    column: str
    lookup: str | None = None


@dataclass(frozen=True, slots=True)
class TemplatePart:
    optional: bool
    segments: tuple[str | Placeholder, ...]


_TOKEN: Final = re.compile(r"\{([^{}\[\]|]+)(?:\|([^{}\[\]|]+))?\}|(\[)|(\])|([^\[\]{}]+)|(.)")
_SPACES: Final = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[TemplatePart, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[TemplatePart] = []
        segments: list[str | Placeholder] = []
        optional = False
        for match in _TOKEN.finditer(text):
            column, lookup, opening, closing, literal, stray = match.groups()
            if column is not None:
                segments.append(Placeholder(column.strip(), lookup.strip() if lookup else None))
            elif literal is not None:
                segments.append(literal)
            elif opening is not None or closing is not None:
                if optional == (opening is not None):
                    raise ValueError(f"unbalanced '[' or ']' at character {match.start()}")
                parts.append(TemplatePart(optional, tuple(segments)))
                segments, optional = [], opening is not None
            else:
                raise ValueError(f"stray {stray!r} at character {match.start()}")
        if optional:
            raise ValueError("'[' is never closed")
        parts.append(TemplatePart(False, tuple(segments)))
        return cls(tuple(part for part in parts if part.segments))

    def placeholders(self) -> Iterable[Placeholder]:
        for part in self.parts:
            yield from (s for s in part.segments if isinstance(s, Placeholder))

    def render(self, resolve: Callable[[Placeholder], str | None]) -> str | None:
        out: list[str] = []
        for part in self.parts:
            values = [s if isinstance(s, str) else (resolve(s) or "") for s in part.segments]
            filled = any(
                value
                for value, s in zip(values, part.segments, strict=True)
                if not isinstance(s, str)
            )
            if part.optional and not filled:
                continue
            out.extend(values)
        text = _SPACES.sub(" ", "".join(out)).strip()
        return text or None


# --- loading --------------------------------------------------------------------------------


def load_mapping(path: Path) -> CsvMapping:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping: {exc.strerror or exc}") from exc
    return parse_mapping(text, origin=str(path))


def parse_mapping(text: str, origin: str = "<mapping>") -> CsvMapping:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise MappingError(
            f"{origin}: the top level must be a set of keys, not {type(raw).__name__}"
        )
    _check_keyed_sections(raw, origin)
    try:
        mapping = msgspec.convert(raw, CsvMapping)
    except msgspec.ValidationError as exc:
        raise MappingError(f"{origin}: {_with_suggestion(str(exc))}") from exc
    problems = list(_meaning_problems(mapping))
    if problems:
        raise MappingError(f"{origin}: " + "; ".join(problems))
    return mapping


def _check_keyed_sections(raw: dict[Any, Any], origin: str) -> None:
    """msgspec reports errors inside dicts as `[...]`; check entries one by one to name the key."""
    sections: dict[str, Any] = {"lookups": LookupSpec, "column_null_values": tuple[str, ...]}
    fields = raw.get("fields")
    if isinstance(fields, dict):
        for key, entry in fields.items():
            if isinstance(entry, dict) and isinstance(entry.get("map"), dict):
                bad = [k for k, v in entry["map"].items() if not isinstance(v, str)]
                if bad:
                    raise MappingError(
                        f"{origin}: `fields.{key}.map`: the values must be text (quote them); "
                        f"not text for {bad}"
                    )
    for section, entry_type in sections.items():
        entries = raw.get(section)
        if not isinstance(entries, dict):
            continue
        for key, entry in entries.items():
            try:
                msgspec.convert(entry, entry_type)
            except msgspec.ValidationError as exc:
                message = str(exc).replace(" - at `$", f" - at `$.{section}.{key}", 1)
                if "- at `$" not in message:
                    message += f" - at `$.{section}.{key}`"
                raise MappingError(f"{origin}: {_with_suggestion(message)}") from exc


_KNOWN_KEYS: Final = frozenset(
    name
    for struct in (CsvMapping, Fields, FieldSpec, EventSpec, LookupSpec, TimeSpec, PackedUnits)
    for name in struct.__struct_fields__
)
_UNKNOWN_FIELD: Final = re.compile(r"unknown field `([^`]+)`")


def _with_suggestion(message: str) -> str:
    match = _UNKNOWN_FIELD.search(message)
    if match:
        close = difflib.get_close_matches(match.group(1), _KNOWN_KEYS, n=1)
        if close:
            return f"{message} (did you mean `{close[0]}`?)"
    return message


def _field_refs(mapping: CsvMapping) -> Iterable[tuple[str, FieldRef]]:
    yield "call_id", mapping.call_id
    for name in mapping.fields.__struct_fields__:
        ref = getattr(mapping.fields, name)
        if ref is not None:
            yield f"fields.{name}", ref


UNIT_EVENTS: Final = frozenset(
    {"unit.dispatched", "unit.en_route", "unit.on_scene", "unit.cleared"}
)
_UNIT_EVENTS: Final = UNIT_EVENTS


def _meaning_problems(mapping: CsvMapping) -> Iterable[str]:
    yield from _zone_problem("`timezone`", mapping.timezone)
    received = [e for e in mapping.events if e.type == "call.received"]
    if len(received) != 1:
        yield f"`events` must have exactly one call.received entry, found {len(received)}"
    has_unit = mapping.fields.unit is not None or mapping.primary_unit is not None
    for index, spec in enumerate(mapping.events):
        where = f"`events[{index}]` ({spec.type})"
        if spec.type in _UNIT_EVENTS and not has_unit and spec.units is None:
            yield (
                f"{where} is a unit event but `fields.unit` is not mapped "
                "(map it, pack the units with `units`, or set `primary_unit`)"
            )
        if spec.units is not None:
            if spec.type not in _UNIT_EVENTS:
                yield f"{where}: `units` applies only to unit events"
            if spec.units.timezone is not None:
                yield from _zone_problem(f"{where}.units.timezone", spec.units.timezone)
        if spec.at is None and (spec.units is None or spec.units.time_separator is None):
            yield f"{where} needs `at` (only packed units with a time_separator carry their own)"
        if spec.at is not None and not isinstance(spec.at, str):
            yield from _time_problems(f"{where}.at", spec.at, spec.type == "call.received")
        if spec.aggregate is not None and (
            mapping.layout != "per_unit" or spec.type in _UNIT_EVENTS
        ):
            yield f"{where}: `aggregate` applies only to call events in the per_unit layout"
        for name in spec.requires:
            if getattr(mapping.fields, name) is None:
                yield f"{where}: `requires` names `{name}`, which `fields` does not map"
    if mapping.layout == "per_unit" and mapping.fields.unit is None:
        yield "`layout: per_unit` needs `fields.unit`"
    if mapping.format == "csv" and (mapping.record_path or mapping.columns_path):
        yield "`record_path` and `columns_path` apply only to `format: json`"
    if mapping.format == "ndjson" and (mapping.record_path or mapping.columns_path):
        yield "`record_path` and `columns_path` apply only to `format: json`, not ndjson"
    for path_key in ("record_path", "columns_path"):
        path = getattr(mapping, path_key)
        if path is not None and not _RECORD_PATH.fullmatch(path):
            yield f"`{path_key}`: {path!r} is not keys joined by dots with optional [] (a[].b)"
    for where, ref in _field_refs(mapping):
        yield from _field_problems(where, ref, mapping.lookups)
    if mapping.version == 1:
        for feature in _v2_features(mapping):
            yield f"{feature} needs `version: 2`"


_RECORD_PATH: Final = re.compile(r"(\[\]|[^.\[\]]+(\[\])?)(\.[^.\[\]]+(\[\])?)*")


def _zone_problem(where: str, zone: str) -> Iterable[str]:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        yield f"{where}: {zone!r} is not an IANA time zone"


def _time_problems(where: str, spec: TimeSpec, is_received: bool) -> Iterable[str]:
    shapes = {
        "column": spec.column is not None and spec.date is None and spec.time is None,
        "date+time": spec.column is None and spec.date is not None and spec.time is not None,
        "time": spec.column is None and spec.date is None and spec.time is not None,
    }
    if sum(shapes.values()) != 1:
        yield f"`{where}` needs exactly one of: column; date with time; time alone"
        return
    if shapes["time"] and is_received:
        yield f"`{where}`: the receipt needs a date (a time alone is placed by the receipt)"
    if spec.epoch is not None and not shapes["column"]:
        yield f"`{where}.epoch` works with `column`"
    if spec.epoch is not None and (spec.clock == "12h" or spec.formats):
        yield f"`{where}`: an epoch has no `clock` or `formats`"
    if spec.clock_from is not None and spec.clock != "12h":
        yield f"`{where}.clock_from` applies only with `clock: 12h`"
    if spec.timezone is not None:
        yield from _zone_problem(f"`{where}.timezone`", spec.timezone)


def _v2_features(mapping: CsvMapping) -> Iterable[str]:
    """The version-2 keys a file uses, so a version-1 file cannot use them unannounced."""
    if mapping.format != "csv":
        yield "`format`"
    for key in ("record_path", "columns_path", "primary_unit"):
        if getattr(mapping, key) is not None:
            yield f"`{key}`"
    for key in ("officer_id", "officer_name", "officer_rank"):
        if getattr(mapping.fields, key) is not None:
            yield f"`fields.{key}`"
    for where, ref in _field_refs(mapping):
        if isinstance(ref, FieldSpec) and (ref.map or ref.default is not None):
            yield f"`{where}.map`/`default`"
    for index, spec in enumerate(mapping.events):
        if spec.units is not None:
            yield f"`events[{index}].units`"
        at = spec.at
        if isinstance(at, TimeSpec) and (
            at.column is not None
            or at.date is None
            or at.epoch is not None
            or at.formats is not None
            or at.timezone is not None
            or at.clock != "24h"
            or at.clock_from is not None
        ):
            yield f"`events[{index}].at` (a version-2 time specification)"


def _field_problems(where: str, ref: FieldRef, lookups: dict[str, LookupSpec]) -> Iterable[str]:
    if isinstance(ref, str):
        return
    sources = [k for k in ("column", "template", "value") if getattr(ref, k) is not None]
    if len(sources) != 1:
        yield f"`{where}` needs exactly one of column, template or value (has {sources or 'none'})"
    if ref.lookup is not None:
        if ref.column is None:
            yield f"`{where}.lookup` works with `column`; in a template write {{column|lookup}}"
        if ref.lookup not in lookups:
            yield f"`{where}.lookup`: no lookup named {ref.lookup!r} in `lookups`"
    if ref.pattern is not None:
        try:
            re.compile(ref.pattern)
        except re.error as exc:
            yield f"`{where}.pattern` is not a valid regular expression: {exc}"
    if ref.default is not None and where not in _ENUM_FIELDS:
        yield f"`{where}.default` applies only to {', '.join(sorted(_ENUM_FIELDS))}"
    if ref.template is not None:
        try:
            template = Template.parse(ref.template)
        except ValueError as exc:
            yield f"`{where}.template`: {exc}"
            return
        for placeholder in template.placeholders():
            if placeholder.lookup is not None and placeholder.lookup not in lookups:
                yield f"`{where}.template`: no lookup named {placeholder.lookup!r} in `lookups`"


_ENUM_FIELDS: Final = frozenset({"fields.role", "fields.line_kind", "fields.officer_rank"})


def _ref_columns(ref: FieldRef) -> set[str]:
    if isinstance(ref, str):
        return {ref}
    if ref.column is not None:
        return {ref.column}
    if ref.template is not None:
        return {p.column for p in Template.parse(ref.template).placeholders()}
    return set()


def time_columns(at: str | TimeSpec) -> set[str]:
    """The columns one event time reads."""
    if isinstance(at, str):
        return {at}
    named = (at.column, at.date, at.time, at.clock_from)
    return {name for name in named if name is not None}


def referenced_columns(mapping: CsvMapping) -> set[str]:
    """Every column the mapping reads, to check against a file's header before converting."""
    columns: set[str] = set()
    for _, ref in _field_refs(mapping):
        columns |= _ref_columns(ref)
    for spec in mapping.events:
        if spec.at is not None:
            columns |= time_columns(spec.at)
        if spec.units is not None:
            columns.add(spec.units.column)
    return columns


# --- shipped mappings -----------------------------------------------------------------------


def shipped_mappings() -> dict[str, Path]:
    """Short name (file stem) -> path of every mapping shipped in schemas/mappings."""
    directory = schema_path(SHIPPED_MAPPINGS_DIR)
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def resolve_mapping(ref: str | Path) -> Path:
    """A mapping file path, or the short name of a shipped mapping (e.g. sdpd-san-diego)."""
    path = Path(ref)
    if path.is_file():
        return path
    shipped = shipped_mappings()
    if str(ref) in shipped:
        return shipped[str(ref)]
    names = ", ".join(shipped) or "none"
    raise MappingError(
        f"{ref}: no such mapping file, and no shipped mapping by that name ({names})"
    )


# --- JSON Schema ----------------------------------------------------------------------------


def mapping_json_schema() -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(CsvMapping)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://callwatch.invalid/schemas/{MAPPING_SCHEMA_FILE}"
    schema["title"] = "callwatch mapping (CSV, JSON, NDJSON exports), version 2"
    return schema


def render_mapping_json_schema() -> str:
    return json.dumps(mapping_json_schema(), indent=2, sort_keys=True) + "\n"
