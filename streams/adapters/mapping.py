"""The declarative CSV mapping: which columns of one city's export mean what.

A mapping is a YAML file (``schemas/mappings/*.yaml``) read into the typed
structs below. The structs are the single definition of the format: the JSON
Schema ``schemas/mapping.v1.schema.json`` is generated from them
(``python -m streams.adapters.generate_mapping_schema``) and a test keeps the
two identical.
Loading validates the structure and the meaning (one ``call.received`` event,
known lookups, valid time zone and patterns) and names the offending key.
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

MAPPING_SCHEMA_FILE: Final = "mapping.v1.schema.json"
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
DEFAULT_NULL_VALUES: Final = ("", "NULL", "null", "N/A", "NaN")


class MappingError(ValueError):
    """A mapping file is unusable; the message names the file and the key."""


class FieldSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where one value comes from: exactly one of column, template or value."""

    column: Annotated[str | None, Meta(description="Header of the column to read.")] = None
    template: Annotated[
        str | None,
        Meta(
            description=(
                "Text with {column} or {column|lookup} placeholders; a [bracketed part] "
                "is dropped when every placeholder inside it is empty."
            )
        ),
    ] = None
    value: Annotated[str | None, Meta(description="A constant, the same for every row.")] = None
    lookup: Annotated[
        str | None,
        Meta(description="Name of a lookup table translating the column's code; misses give null."),
    ] = None
    pattern: Annotated[
        str | None,
        Meta(description="Regular expression; keeps its first group (or the whole match)."),
    ] = None


FieldRef = Annotated[
    str | FieldSpec, Meta(description="A column header, or a field specification.")
]


class Fields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Canonical event fields and where each comes from; leave out what the export lacks."""

    call_type: FieldRef | None = None
    priority: FieldRef | None = None
    disposition: FieldRef | None = None
    address: FieldRef | None = None
    beat: FieldRef | None = None
    lat: FieldRef | None = None
    lon: FieldRef | None = None
    narrative: FieldRef | None = None
    unit: FieldRef | None = None
    role: Annotated[
        FieldRef | None,
        Meta(description="Unit role: patrol, supervisor, commander, specialty, federal or other."),
    ] = None
    caller_name: FieldRef | None = None
    caller_agency: FieldRef | None = None
    caller_agency_type: Annotated[
        FieldRef | None, Meta(description="NENA agency type code, e.g. police.federal.ice.")
    ] = None
    caller_phone: FieldRef | None = None
    line_kind: Annotated[
        FieldRef | None,
        Meta(description="911, admin, radio, direct, cell, offline, text or other."),
    ] = None


class DateTimeParts(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A timestamp split over two columns: the date from one, the time of day from the other."""

    date: Annotated[
        str, Meta(description="Column holding the date (parsed with datetime_formats).")
    ]
    time: Annotated[str, Meta(description="Column holding the time of day (time_formats).")]


class EventSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One event type a row implies, and the column with its time."""

    type: EventKind
    at: Annotated[
        str | DateTimeParts,
        Meta(description="Column with the event's time, or {date: column, time: column}."),
    ]
    requires: Annotated[
        tuple[FieldName, ...],
        Meta(description="Emit only when these fields have a value (e.g. a disposition)."),
    ] = ()
    aggregate: Annotated[
        Literal["min", "max"] | None,
        Meta(
            description=(
                "per_unit layout, call-level events: take the earliest (min) or latest (max) "
                "time over the call's rows. Default: max for call.closed, min otherwise."
            )
        ),
    ] = None


class LookupSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A code table shipped with the export, e.g. call-type code -> description."""

    file: Annotated[
        str,
        Meta(
            description=(
                "CSV file; a relative path is looked for in the lookup directory "
                "(CALLWATCH_LOOKUP_DIR or --lookup-dir), then beside the data file, "
                "then beside the mapping."
            )
        ),
    ]
    key: Annotated[str, Meta(description="Column holding the code.")]
    value: Annotated[str, Meta(description="Column holding the text the code stands for.")]
    optional: Annotated[
        bool, Meta(description="When the file is missing, leave codes untranslated.")
    ] = False
    encoding: str = "utf-8-sig"


class CsvMapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one CAD export's CSV columns become canonical callwatch events."""

    version: Literal[1]
    source: Annotated[
        str, Meta(min_length=1, max_length=64, description="Goes into every event's source.")
    ]
    timezone: Annotated[
        str, Meta(description="IANA zone of naive timestamps, e.g. America/Los_Angeles.")
    ]
    call_id: FieldRef
    events: Annotated[tuple[EventSpec, ...], Meta(min_length=1)]
    description: str | None = None
    layout: Annotated[
        Literal["per_call", "per_unit"],
        Meta(description="per_unit: one row per responding unit, grouped into calls by call_id."),
    ] = "per_call"
    datetime_formats: Annotated[tuple[str, ...], Meta(min_length=1)] = DEFAULT_DATETIME_FORMATS
    time_formats: tuple[str, ...] = ("%H:%M", "%H:%M:%S", "%I:%M %p")
    null_values: Annotated[
        tuple[str, ...], Meta(description="Cell values meaning 'no value' in every column.")
    ] = DEFAULT_NULL_VALUES
    column_null_values: Annotated[
        dict[str, tuple[str, ...]],
        Meta(description="Extra no-value markers per column, e.g. beat: ['-1']."),
    ] = {}
    sentinel_dates: Annotated[
        tuple[date, ...], Meta(description="Placeholder dates meaning 'never', e.g. 1900-01-01.")
    ] = ()
    received_at: Annotated[
        Literal["now", "event_time"],
        Meta(description="now: the conversion time; event_time: each event's own time."),
    ] = "now"
    encoding: str = "utf-8-sig"
    delimiter: Annotated[str, Meta(min_length=1, max_length=1)] = ","
    fields: Fields = Fields()
    lookups: dict[str, LookupSpec] = {}


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
    for struct in (CsvMapping, Fields, FieldSpec, EventSpec, LookupSpec, DateTimeParts)
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


_UNIT_EVENTS: Final = frozenset(
    {"unit.dispatched", "unit.en_route", "unit.on_scene", "unit.cleared"}
)


def _meaning_problems(mapping: CsvMapping) -> Iterable[str]:
    try:
        ZoneInfo(mapping.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield f"`timezone`: {mapping.timezone!r} is not an IANA time zone"
    received = [e for e in mapping.events if e.type == "call.received"]
    if len(received) != 1:
        yield f"`events` must have exactly one call.received entry, found {len(received)}"
    has_unit = mapping.fields.unit is not None
    for index, spec in enumerate(mapping.events):
        where = f"`events[{index}]` ({spec.type})"
        if spec.type in _UNIT_EVENTS and not has_unit:
            yield f"{where} is a unit event but `fields.unit` is not mapped"
        if spec.aggregate is not None and (
            mapping.layout != "per_unit" or spec.type in _UNIT_EVENTS
        ):
            yield f"{where}: `aggregate` applies only to call events in the per_unit layout"
        for name in spec.requires:
            if getattr(mapping.fields, name) is None:
                yield f"{where}: `requires` names `{name}`, which `fields` does not map"
    if mapping.layout == "per_unit" and not has_unit:
        yield "`layout: per_unit` needs `fields.unit`"
    for where, ref in _field_refs(mapping):
        yield from _field_problems(where, ref, mapping.lookups)


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
    if ref.template is not None:
        try:
            template = Template.parse(ref.template)
        except ValueError as exc:
            yield f"`{where}.template`: {exc}"
            return
        for placeholder in template.placeholders():
            if placeholder.lookup is not None and placeholder.lookup not in lookups:
                yield f"`{where}.template`: no lookup named {placeholder.lookup!r} in `lookups`"


def referenced_columns(mapping: CsvMapping) -> set[str]:
    """Every column the mapping reads, to check against a file's header before converting."""
    columns: set[str] = set()
    for _, ref in _field_refs(mapping):
        if isinstance(ref, str):
            columns.add(ref)
        elif ref.column is not None:
            columns.add(ref.column)
        elif ref.template is not None:
            columns.update(p.column for p in Template.parse(ref.template).placeholders())
    for spec in mapping.events:
        if isinstance(spec.at, str):
            columns.add(spec.at)
        else:
            columns.update((spec.at.date, spec.at.time))
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
    schema["title"] = "callwatch CSV mapping, version 1"
    return schema


def render_mapping_json_schema() -> str:
    return json.dumps(mapping_json_schema(), indent=2, sort_keys=True) + "\n"
