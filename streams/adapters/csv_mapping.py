"""CSV and JSON exports -> canonical events, driven by a declarative mapping (see mapping.py).

Each row (a CSV line, or a JSON record: see json_records.py) yields the ordered
events its timestamps imply. A row with no usable
call id or receipt time is rejected with a reason; a missing, null or sentinel
timestamp for any other event just leaves that event out. In the per_unit
layout (one row per responding unit) rows are grouped by call id, so the whole
file is read before the calls are emitted; per_call streams row by row.

What is doubtful but still converted is reported as an ``Anomaly`` on the
outcome (the kinds are listed in ANOMALY_KINDS), so the data-quality report can
count it: a time no format matched, an ambiguous 12-hour clock, a time rolled
over midnight, an enum value replaced by its default, a coordinate out of range.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, get_args

import msgspec

from schemas.events import EVENT_TYPES, DispatchEvent, LineKind, Rank, UnitRole
from streams.adapters.capabilities import mapping_provides
from streams.adapters.csv_fields import (
    LookupTables,
    Resolver,
    Row,
    compile_resolver,
    load_lookups,
)
from streams.adapters.event_ids import event_id
from streams.adapters.json_records import JsonRecord, document_records, ndjson_records
from streams.adapters.mapping import (
    UNIT_EVENTS,
    CsvMapping,
    EventSpec,
    FieldRef,
    FieldSpec,
    MappingError,
    Placeholder,
    Template,
    TimeSpec,
    referenced_columns,
)
from streams.adapters.result import (
    AdapterRejectReason,
    Anomaly,
    Converted,
    Duplicate,
    DuplicateRecords,
    InputError,
    Outcome,
    Rejection,
)
from streams.adapters.text import ID_MAX, clean_line, clean_narrative
from streams.adapters.time_columns import EventTime, describe, read_unit_time
from streams.adapters.timestamps import TimestampError

_UNIT_EVENTS: Final = UNIT_EVENTS

# Every anomaly kind this adapter reports (Anomaly.kind), with what it means.
ANOMALY_KINDS: Final = {
    "unparsed_time": "a time column other than the receipt matched no format; event left out",
    "ambiguous_clock": "a 12-hour time without AM/PM no other column resolved; read as written",
    "midnight_rollover": "a time of day before the call's receipt, placed on the next day",
    "unknown_enum": "a role, line kind or rank not in the schema; replaced by the default",
    "bad_coordinate": "a latitude or longitude not a number or out of range; left out",
    "unit_without_time": "a packed unit with no time of its own and no `at`; event left out",
}
# Enum fields and what an unknown value becomes (FieldSpec.default overrides it).
_ENUM_DEFAULTS: Final = {"role": "other", "line_kind": "other", "officer_rank": "unknown"}
_ENUM_VALUES: Final = {
    "role": frozenset(get_args(UnitRole)),
    "line_kind": frozenset(get_args(LineKind)),
    "officer_rank": frozenset(get_args(Rank)),
}
# Just enough detection to read a JSON record set's keys without reading it all twice.
_HEADER_SAMPLE: Final = 1000
# Same-instant events keep the order a call actually goes through.
_RANK: Final = {
    "call.received": 0,
    "unit.dispatched": 1,
    "unit.en_route": 2,
    "unit.on_scene": 3,
    "unit.cleared": 4,
    "call.closed": 5,
}
_RANK_OF_CLASS: Final = {EVENT_TYPES[name]: rank for name, rank in _RANK.items()}
_ID_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def read_csv(
    path: Path,
    mapping: CsvMapping,
    *,
    received_at: datetime,
    lookup_dirs: Sequence[Path] = (),
    mapping_dir: Path | None = None,
) -> Iterator[Outcome]:
    """Convert one export file (CSV, or JSON/NDJSON per the mapping's ``format``).

    Relative lookup files are searched in ``lookup_dirs``, then beside the data
    file (where open-data portals publish them), then beside the mapping file.
    Missing columns, then missing lookups, raise MappingError here, before any
    row is read: a wrong mapping is reported as such, not as a missing code table.
    """
    search = [*lookup_dirs, path.parent, *([mapping_dir] if mapping_dir else [])]
    if mapping.format != "csv":
        return read_json(
            path, mapping, lookups=lambda: load_lookups(mapping, search), received_at=received_at
        )
    handle = path.open(encoding=mapping.encoding, newline="", errors="replace")
    try:
        outcomes = convert_rows(
            handle,
            mapping,
            lookups=lambda: load_lookups(mapping, search),
            received_at=received_at,
            origin=str(path),
        )
    except BaseException:
        handle.close()
        raise
    return _closing(handle, outcomes)


def _closing(handle: IO[Any], outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
    with handle:
        yield from outcomes


def convert_rows(
    lines: Iterable[str],
    mapping: CsvMapping,
    *,
    lookups: LookupTables | Callable[[], LookupTables],
    received_at: datetime,
    origin: str = "<csv>",
) -> Iterator[Outcome]:
    """Reads the header now (raising MappingError if columns are missing), the rows lazily.

    ``lookups`` may be a loader, called only once the header is known to fit.
    """
    reader = csv.reader(lines, delimiter=mapping.delimiter)
    try:
        header = [name.strip().lstrip("\ufeff") for name in next(reader)]
    except StopIteration:
        return iter(())
    except csv.Error as exc:
        raise InputError(f"{origin}: cannot read the CSV header: {exc}") from exc
    converter = _RowConverter(mapping, lookups, header, received_at, origin)
    return converter.run(converter.csv_rows(reader, header))


def read_json(
    path: Path,
    mapping: CsvMapping,
    *,
    lookups: LookupTables | Callable[[], LookupTables],
    received_at: datetime,
) -> Iterator[Outcome]:
    """A JSON document (records at ``record_path``) or NDJSON, one object per line."""
    try:
        if mapping.format == "json":
            records: Iterator[JsonRecord | Rejection] = document_records(
                path.read_bytes(), mapping.record_path, mapping.columns_path
            )
        else:
            records = ndjson_records(path.open("rb"))
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    return convert_records(
        records, mapping, lookups=lookups, received_at=received_at, origin=str(path)
    )


def convert_records(
    records: Iterable[JsonRecord | Rejection],
    mapping: CsvMapping,
    *,
    lookups: LookupTables | Callable[[], LookupTables],
    received_at: datetime,
    origin: str = "<json>",
) -> Iterator[Outcome]:
    """JSON records: the keys of the first records stand for a header.

    JSON leaves out keys whose value is null, so a column counts as present when
    any of the first records has it; a mapping reading a key none of them has is
    reported before any record is converted, as a CSV header would be.
    """
    iterator = iter(records)
    head: list[JsonRecord | Rejection] = []
    try:
        for item in iterator:
            head.append(item)
            if len(head) >= _HEADER_SAMPLE:
                break
    except InputError as exc:
        raise InputError(f"{origin}: {exc}") from exc
    keys = {key for item in head if isinstance(item, JsonRecord) for key in item.values}
    if not head:
        return iter(())
    converter = _RowConverter(mapping, lookups, sorted(keys), received_at, origin)
    return converter.run(converter.json_rows(_chain(head, iterator)))


def _chain(
    head: list[JsonRecord | Rejection], rest: Iterator[JsonRecord | Rejection]
) -> Iterator[JsonRecord | Rejection]:
    yield from head
    yield from rest


@dataclass(slots=True)
class _ParsedRow:
    line: int
    record: int
    fields: Row  # canonical field name -> raw value, resolved once per row
    call_id: str
    # per event of the mapping: the (unit, time) pairs it makes; unit None for call events
    slots: list[list[tuple[str | None, datetime]]]
    notes: list[str] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


class _RowConverter:
    def __init__(
        self,
        mapping: CsvMapping,
        lookups: LookupTables | Callable[[], LookupTables],
        header: list[str],
        received_at: datetime,
        origin: str,
    ) -> None:
        wanted = referenced_columns(mapping)
        missing = sorted(wanted - set(header))
        if missing:
            where = "header" if mapping.format == "csv" else "keys of the first records"
            raise MappingError(
                f"{origin}: the mapping reads columns not in the {where}: {missing} "
                f"({where}: {header})"
            )
        if callable(lookups):
            lookups = lookups()
        self._mapping = mapping
        self._width = len(header)
        # Only the columns the mapping reads are looked at; per_unit keeps just the resolved
        # fields of each row, since it holds the whole file.
        self._columns = [(i, name) for i, name in enumerate(header) if name in wanted]
        self._wanted = sorted(wanted)
        self._null = frozenset(mapping.null_values)
        self._column_null = {k: frozenset(v) for k, v in mapping.column_null_values.items()}
        self._received_at = received_at
        self._provides = mapping_provides(mapping)  # declared on every call.received
        self._call_id = compile_resolver(mapping.call_id, lookups)
        # A composite id needs every part outside [optional] brackets: "-17" is no call id.
        self._id_parts = (
            [
                segment.column
                for part in Template.parse(mapping.call_id.template).parts
                if not part.optional
                for segment in part.segments
                if isinstance(segment, Placeholder)
            ]
            if isinstance(mapping.call_id, FieldSpec) and mapping.call_id.template
            else []
        )
        self._fields: dict[str, Resolver] = {
            name: compile_resolver(ref, lookups)
            for name in mapping.fields.__struct_fields__
            if (ref := getattr(mapping.fields, name)) is not None
        }
        self._enum_default = {
            name: (ref.default if isinstance(ref, FieldSpec) and ref.default else fallback)
            for name, fallback in _ENUM_DEFAULTS.items()
            if (ref := getattr(mapping.fields, name)) is not None
        }
        self._received_index = next(
            i for i, spec in enumerate(mapping.events) if spec.type == "call.received"
        )
        received_at_spec = mapping.events[self._received_index].at
        receipt_date = received_at_spec.date if isinstance(received_at_spec, TimeSpec) else None
        self._times = [
            None
            if spec.at is None
            else EventTime(
                spec.at,
                mapping,
                is_received=index == self._received_index,
                receipt_date_column=receipt_date,
            )
            for index, spec in enumerate(mapping.events)
        ]
        # Events sharing one time specification (closed at the receipt column) read it once.
        self._time_key = [
            next(i for i, other in enumerate(mapping.events) if other.at == spec.at)
            for spec in mapping.events
        ]
        self._duplicates = DuplicateRecords()

    # --- inputs ----------------------------------------------------------------------------

    def csv_rows(
        self, reader: Any, header: list[str]
    ) -> Iterator[tuple[Row, Sequence[str], int, int] | Rejection]:
        record = 0
        while True:
            start = reader.line_num + 1
            try:
                cells: list[str] = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                record += 1
                yield Rejection("malformed_row", f"csv: {exc}", start, record)
                continue
            if not cells:
                continue  # a blank line is no record
            record += 1
            if len(cells) != self._width:
                yield Rejection(
                    "malformed_row",
                    f"{len(cells)} fields where the header has {self._width}",
                    start,
                    record,
                )
                continue
            values = {name: self._cell(name, cells[index]) for index, name in self._columns}
            yield values, cells, start, record

    def json_rows(
        self, records: Iterable[JsonRecord | Rejection]
    ) -> Iterator[tuple[Row, Sequence[str], int, int] | Rejection]:
        for item in records:
            if isinstance(item, Rejection):
                yield item
                continue
            raw = item.values
            values = {
                name: None if (value := raw.get(name)) is None else self._cell(name, value)
                for name in self._wanted
            }
            yield values, item.digest_parts, item.line, item.record

    def _cell(self, name: str, raw: str) -> str | None:
        value = raw.strip()
        nulls = self._column_null.get(name)
        return None if value in self._null or (nulls and value in nulls) else value

    # --- layouts ---------------------------------------------------------------------------

    def run(
        self, rows: Iterator[tuple[Row, Sequence[str], int, int] | Rejection]
    ) -> Iterator[Outcome]:
        parsed = (item if isinstance(item, Rejection) else self._parse(*item) for item in rows)
        if self._mapping.layout == "per_call":
            return self.per_call(parsed)
        return self.per_unit(parsed)

    def per_call(self, parsed: Iterable[_ParsedRow | Rejection | Duplicate]) -> Iterator[Outcome]:
        for item in parsed:
            if not isinstance(item, _ParsedRow):
                yield item
                continue
            try:
                events = [
                    self._event(spec, item, at, unit)
                    for spec, slots in zip(self._mapping.events, item.slots, strict=True)
                    if self._wanted_row(spec, item)
                    for unit, at in slots
                ]
            except msgspec.ValidationError as exc:
                yield self._reject(item, "schema_violation", str(exc))
                continue
            events.sort(key=_order)
            yield Converted(
                tuple(events), 1, tuple(item.notes), tuple(item.anomalies), line=item.line
            )

    def per_unit(self, parsed: Iterable[_ParsedRow | Rejection | Duplicate]) -> Iterator[Outcome]:
        calls: dict[str, list[_ParsedRow]] = {}
        for item in parsed:
            if isinstance(item, _ParsedRow):
                calls.setdefault(item.call_id, []).append(item)
            else:
                yield item  # rejections and duplicates need no grouping
        for rows in calls.values():
            yield from self._unit_call(rows)

    def _unit_call(self, rows: list[_ParsedRow]) -> Iterator[Outcome]:
        owned: list[tuple[int, DispatchEvent]] = []  # (record of the row it came from, event)
        rejected: set[int] = set()
        for index, spec in enumerate(self._mapping.events):
            if spec.type in _UNIT_EVENTS:
                owners = [
                    (row, unit, at)
                    for row in rows
                    if self._wanted_row(spec, row)
                    for unit, at in row.slots[index]
                ]
            else:
                owners = self._aggregate(spec, index, rows)
            for row, unit, at in owners:
                if row.record in rejected:
                    continue
                try:
                    owned.append((row.record, self._event(spec, row, at, unit)))
                except msgspec.ValidationError as exc:
                    rejected.add(row.record)
                    yield self._reject(row, "schema_violation", str(exc))
        if len(rejected) == len(rows):
            return
        events = sorted((e for record, e in owned if record not in rejected), key=_order)
        kept = [row for row in rows if row.record not in rejected]
        notes = tuple(note for row in kept for note in row.notes)
        anomalies = tuple(anomaly for row in kept for anomaly in row.anomalies)
        yield Converted(tuple(events), len(kept), notes, anomalies, line=kept[0].line)

    def _aggregate(
        self, spec: EventSpec, index: int, rows: list[_ParsedRow]
    ) -> list[tuple[_ParsedRow, str | None, datetime]]:
        """A call-level event in per_unit rows happens once: at the earliest or latest time."""
        timed = [
            (row, None, at)
            for row in rows
            if self._wanted_row(spec, row)
            for _, at in row.slots[index]
        ]
        if not timed:
            return []
        latest = (spec.aggregate or ("max" if spec.type == "call.closed" else "min")) == "max"
        # Ties go to the first row in file order: min/max return the first extreme.
        pick = max(timed, key=lambda t: t[2]) if latest else min(timed, key=lambda t: t[2])
        return [pick]

    # --- rows ------------------------------------------------------------------------------

    def _parse(
        self, values: Row, digest_parts: Sequence[str], line: int, record: int
    ) -> _ParsedRow | Rejection | Duplicate:
        call_id = _clean_id(self._call_id(values))
        if call_id is None or any(values.get(c) is None for c in self._id_parts):
            return Rejection("missing_call_id", _describe(self._mapping.call_id), line, record)
        notes: list[str] = []
        anomalies: list[Anomaly] = []

        def report(kind: str, column: str, detail: str) -> None:
            anomalies.append(Anomaly(kind, line, column or None, detail))

        events = self._mapping.events
        received_spec, received_time = (
            events[self._received_index],
            self._times[self._received_index],
        )
        assert received_time is not None  # the loader requires `at` on call.received
        try:
            receipt = received_time.read(values, None, report)
        except TimestampError as exc:
            return Rejection(
                "bad_received_time", f"{describe(received_spec.at)}: {exc}", line, record
            )
        if receipt is None:
            return Rejection(
                "missing_received_time",
                f"{describe(received_spec.at)} is empty, a null value or a sentinel date",
                line,
                record,
            )
        first = self._duplicates.first_seen(digest_parts, line)
        if first is not None:
            return Duplicate(line, first)
        fields = {name: resolve(values) for name, resolve in self._fields.items()}
        row_unit = _clean_id(fields.get("unit")) or self._mapping.primary_unit
        parsed: dict[int, datetime | None] = {}  # events sharing a time spec read it once
        slots: list[list[tuple[str | None, datetime]]] = []
        for index, (spec, reader) in enumerate(zip(events, self._times, strict=True)):
            at: datetime | None = receipt if index == self._received_index else None
            if reader is not None and index != self._received_index:
                key = self._time_key[index]
                if key in parsed:
                    at = parsed[key]
                else:
                    try:
                        at = reader.read(values, receipt, report)
                    except TimestampError as exc:
                        notes.append(f"unparseable_time:{reader.label}")
                        report("unparsed_time", reader.column, str(exc))
                        at = None
                    parsed[key] = at
            if spec.units is not None:
                slots.append(self._packed(spec, values, at, receipt, report))
            elif at is None:
                slots.append([])
            elif spec.type in _UNIT_EVENTS:
                slots.append([(row_unit, at)] if row_unit is not None else [])
            else:
                slots.append([(None, at)])
        row = _ParsedRow(line, record, fields, call_id, slots, notes, anomalies)
        return row

    def _packed(
        self,
        spec: EventSpec,
        values: Row,
        at: datetime | None,
        receipt: datetime,
        report: Callable[[str, str, str], None],
    ) -> list[tuple[str | None, datetime]]:
        """One (unit, time) per unit in a cell like "A12,B7" or "E12=14:02:11, M3=14:05:40"."""
        units = spec.units
        assert units is not None
        cell = values.get(units.column)
        if cell is None:
            # No unit named: a call-level time, the primary unit's when the mapping has one.
            primary = self._mapping.primary_unit
            return [(primary, at)] if primary is not None and at is not None else []
        slots: list[tuple[str | None, datetime]] = []
        for item in cell.split(units.separator):
            unit_text, own_time = item, None
            if units.time_separator is not None and units.time_separator in item:
                unit_text, own_time = item.split(units.time_separator, 1)
            unit = _clean_id(unit_text)
            if unit is None:
                continue
            when = at
            if own_time is not None and own_time.strip():
                try:
                    when = read_unit_time(own_time.strip(), units, self._mapping, receipt, report)
                except TimestampError as exc:
                    report("unparsed_time", units.column, f"unit {unit}: {exc}")
                    continue
            if when is None:
                report("unit_without_time", units.column, f"unit {unit} has no time")
                continue
            slots.append((unit, when))
        return slots

    def _wanted_row(self, spec: EventSpec, row: _ParsedRow) -> bool:
        return all(self._field(row, name) is not None for name in spec.requires)

    @staticmethod
    def _field(row: _ParsedRow, name: str) -> str | None:
        return row.fields.get(name)

    def _reject(self, row: _ParsedRow, reason: AdapterRejectReason, detail: str) -> Rejection:
        return Rejection(reason, detail, row.line, row.record)

    # --- events ----------------------------------------------------------------------------

    def _event(
        self, spec: EventSpec, row: _ParsedRow, at: datetime, unit: str | None
    ) -> DispatchEvent:
        text = self._text
        source = self._mapping.source
        if spec.type not in _UNIT_EVENTS:
            unit = None
        fields: dict[str, Any] = {
            "event_id": event_id(source, row.call_id, spec.type, at, unit),
            "call_id": row.call_id,
            "occurred_at": at,
            "received_at": at if self._mapping.received_at == "event_time" else self._received_at,
            "source": source,
        }
        if spec.type == "call.received":
            caller = {
                "name": text(row, "caller_name"),
                "agency": text(row, "caller_agency"),
                "agency_type": text(row, "caller_agency_type"),
                "phone": text(row, "caller_phone"),
            }
            location = {
                "address": text(row, "address"),
                "beat": text(row, "beat"),
                "lat": self._coordinate(row, "lat", 90.0),
                "lon": self._coordinate(row, "lon", 180.0),
            }
            fields |= {
                "caller": _present(caller) or None,
                "call_type": text(row, "call_type"),
                "priority": text(row, "priority"),
                "location": _present(location) or None,
                "narrative": clean_narrative(self._field(row, "narrative")),
                "provides": self._provides,
            }
            line_kind = self._enum(row, "line_kind")
            if line_kind is not None:
                fields["line"] = {"kind": line_kind}
        elif spec.type == "call.closed":
            fields["disposition"] = text(row, "disposition")
        elif unit is not None:
            fields["unit"] = unit
            role = self._enum(row, "role")
            if role is not None:
                fields["role"] = role
            officer = {
                "id": text(row, "officer_id"),
                "name": text(row, "officer_name"),
                "rank": self._enum(row, "officer_rank"),
            }
            if _present(officer):
                fields["officer"] = _present(officer)
        # Converting validates every constraint of the contract (lengths, literals, time zones).
        return msgspec.convert(_present(fields), EVENT_TYPES[spec.type])

    def _text(self, row: _ParsedRow, name: str) -> str | None:
        return clean_line(self._field(row, name))

    def _enum(self, row: _ParsedRow, name: str) -> str | None:
        """An enum field's value; an unknown one becomes the default, once per row reported."""
        raw = self._text(row, name)
        if raw is None:
            return None
        value = _ENUM_SPELLING.sub("_", raw.strip().lower()).strip("_")
        if value in _ENUM_VALUES[name]:
            return value
        default = self._enum_default[name]
        anomaly = Anomaly("unknown_enum", row.line, name, f"{raw[:60]!r} is no {name}: {default}")
        if anomaly not in row.anomalies:
            row.anomalies.append(anomaly)
        return default

    def _coordinate(self, row: _ParsedRow, name: str, limit: float) -> float | None:
        raw = self._field(row, name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = math.inf
        if not math.isfinite(value) or abs(value) > limit:
            row.notes.append(f"bad_coordinate:{name}")
            row.anomalies.append(
                Anomaly("bad_coordinate", row.line, name, f"{raw[:40]!r} is no {name}")
            )
            return None
        return value


_ENUM_SPELLING: Final = re.compile(r"[\s\-./]+")


def _order(event: DispatchEvent) -> tuple[datetime, int, str]:
    return (event.occurred_at, _RANK_OF_CLASS.get(type(event), 9), getattr(event, "unit", ""))


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _clean_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    cleaned = _ID_CONTROL.sub(" ", raw).strip()
    if not cleaned or len(cleaned) > ID_MAX:
        return None
    return cleaned


def _describe(ref: FieldRef) -> str:
    if isinstance(ref, str):
        return f"column {ref!r} is empty or a null value"
    if ref.column is not None:
        return f"column {ref.column!r} is empty or a null value"
    return "the call_id template has an empty part"
