"""CSV exports -> canonical events, driven by a declarative mapping (see mapping.py).

Each row yields the ordered events its timestamps imply. A row with no usable
call id or receipt time is rejected with a reason; a missing, null or sentinel
timestamp for any other event just leaves that event out. In the per_unit
layout (one row per responding unit) rows are grouped by call id, so the whole
file is read before the calls are emitted; per_call streams row by row.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

import msgspec

from schemas.events import EVENT_TYPES, DispatchEvent
from streams.adapters.csv_fields import (
    LookupTables,
    Resolver,
    Row,
    compile_resolver,
    load_lookups,
)
from streams.adapters.event_ids import event_id
from streams.adapters.mapping import (
    CsvMapping,
    DateTimeParts,
    EventSpec,
    FieldRef,
    MappingError,
    referenced_columns,
)
from streams.adapters.result import (
    AdapterRejectReason,
    Converted,
    Duplicate,
    DuplicateRecords,
    InputError,
    Outcome,
    Rejection,
)
from streams.adapters.text import ID_MAX, clean_line, clean_narrative
from streams.adapters.timestamps import TimestampError, TimestampParser

_UNIT_EVENTS: Final = frozenset(
    {"unit.dispatched", "unit.en_route", "unit.on_scene", "unit.cleared"}
)
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
    """Convert one CSV file.

    Relative lookup files are searched in ``lookup_dirs``, then beside the data
    file (where open-data portals publish them), then beside the mapping file.
    Missing columns, then missing lookups, raise MappingError here, before any
    row is read: a wrong mapping is reported as such, not as a missing code table.
    """
    search = [*lookup_dirs, path.parent, *([mapping_dir] if mapping_dir else [])]
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


def _closing(handle: IO[str], outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
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
    if mapping.layout == "per_call":
        return converter.per_call(reader)
    return converter.per_unit(reader)


@dataclass(slots=True)
class _ParsedRow:
    line: int
    record: int
    fields: Row  # canonical field name -> raw value, resolved once per row
    call_id: str
    times: list[datetime | None]
    notes: list[str] = field(default_factory=list)


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
            raise MappingError(
                f"{origin}: the mapping reads columns not in the header: {missing} "
                f"(header: {header})"
            )
        if callable(lookups):
            lookups = lookups()
        self._mapping = mapping
        self._width = len(header)
        # Only the columns the mapping reads are looked at; per_unit keeps just the resolved
        # fields of each row, since it holds the whole file.
        self._columns = [(i, name) for i, name in enumerate(header) if name in wanted]
        self._null = frozenset(mapping.null_values)
        self._column_null = {k: frozenset(v) for k, v in mapping.column_null_values.items()}
        self._parser = TimestampParser(
            mapping.datetime_formats,
            ZoneInfo(mapping.timezone),
            mapping.sentinel_dates,
            mapping.time_formats,
        )
        self._received_at = received_at
        self._call_id = compile_resolver(mapping.call_id, lookups)
        self._fields: dict[str, Resolver] = {
            name: compile_resolver(ref, lookups)
            for name in mapping.fields.__struct_fields__
            if (ref := getattr(mapping.fields, name)) is not None
        }
        self._received_index = next(
            i for i, spec in enumerate(mapping.events) if spec.type == "call.received"
        )
        self._duplicates = DuplicateRecords()

    # --- layouts ---------------------------------------------------------------------------

    def per_call(self, reader: Any) -> Iterator[Outcome]:
        for item in self._parsed(reader):
            if not isinstance(item, _ParsedRow):
                yield item
                continue
            try:
                events = [
                    self._event(spec, item, at)
                    for spec, at in zip(self._mapping.events, item.times, strict=True)
                    if at is not None and self._wanted(spec, item)
                ]
            except msgspec.ValidationError as exc:
                yield self._reject(item, "schema_violation", str(exc))
                continue
            events.sort(key=_order)
            yield Converted(tuple(events), 1, tuple(item.notes))

    def per_unit(self, reader: Any) -> Iterator[Outcome]:
        calls: dict[str, list[_ParsedRow]] = {}
        for item in self._parsed(reader):
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
                owners = [(row, row.times[index]) for row in rows if self._wanted(spec, row)]
            else:
                owners = self._aggregate(spec, index, rows)
            for row, at in owners:
                if at is None or row.record in rejected:
                    continue
                try:
                    owned.append((row.record, self._event(spec, row, at)))
                except msgspec.ValidationError as exc:
                    rejected.add(row.record)
                    yield self._reject(row, "schema_violation", str(exc))
        if len(rejected) == len(rows):
            return
        events = sorted((e for record, e in owned if record not in rejected), key=_order)
        notes = tuple(note for row in rows if row.record not in rejected for note in row.notes)
        yield Converted(tuple(events), len(rows) - len(rejected), notes)

    def _aggregate(
        self, spec: EventSpec, index: int, rows: list[_ParsedRow]
    ) -> list[tuple[_ParsedRow, datetime | None]]:
        """A call-level event in per_unit rows happens once: at the earliest or latest time."""
        timed = [(row, at) for row in rows if (at := row.times[index]) is not None]
        timed = [(row, at) for row, at in timed if self._wanted(spec, row)]
        if not timed:
            return []
        latest = (spec.aggregate or ("max" if spec.type == "call.closed" else "min")) == "max"
        # Ties go to the first row in file order: min/max return the first extreme.
        pick = max(timed, key=lambda t: t[1]) if latest else min(timed, key=lambda t: t[1])
        return [pick]

    # --- rows ------------------------------------------------------------------------------

    def _parsed(self, reader: Any) -> Iterator[_ParsedRow | Rejection | Duplicate]:
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
            yield self._parse(cells, start, record)

    def _parse(
        self, cells: list[str], line: int, record: int
    ) -> _ParsedRow | Rejection | Duplicate:
        values: Row = {}
        for index, name in self._columns:
            value = cells[index].strip()
            nulls = self._column_null.get(name)
            values[name] = None if value in self._null or (nulls and value in nulls) else value
        call_id = _clean_id(self._call_id(values))
        if call_id is None:
            return Rejection("missing_call_id", _describe(self._mapping.call_id), line, record)
        times: list[datetime | None] = []
        notes: list[str] = []
        parsed: dict[str | DateTimeParts, datetime | None] = {}  # events sharing a column
        for index, spec in enumerate(self._mapping.events):
            try:
                if spec.at not in parsed:
                    parsed[spec.at] = self._time(spec, values)
                times.append(parsed[spec.at])
            except TimestampError as exc:
                if index == self._received_index:
                    return Rejection(
                        "bad_received_time", f"{_describe_at(spec)}: {exc}", line, record
                    )
                times.append(None)
                notes.append(f"unparseable_time:{_describe_at(spec)}")
        if times[self._received_index] is None:
            spec = self._mapping.events[self._received_index]
            return Rejection(
                "missing_received_time",
                f"{_describe_at(spec)} is empty, a null value or a sentinel date",
                line,
                record,
            )
        first = self._duplicates.first_seen(cells, line)
        if first is not None:
            return Duplicate(line, first)
        fields = {name: resolve(values) for name, resolve in self._fields.items()}
        return _ParsedRow(line, record, fields, call_id, times, notes)

    def _time(self, spec: EventSpec, values: Row) -> datetime | None:
        if isinstance(spec.at, str):
            return self._parser.parse(values[spec.at])
        return self._parser.parse_parts(values[spec.at.date], values[spec.at.time])

    def _wanted(self, spec: EventSpec, row: _ParsedRow) -> bool:
        if spec.type in _UNIT_EVENTS and self._field(row, "unit") is None:
            return False
        return all(self._field(row, name) is not None for name in spec.requires)

    @staticmethod
    def _field(row: _ParsedRow, name: str) -> str | None:
        return row.fields.get(name)

    def _reject(self, row: _ParsedRow, reason: AdapterRejectReason, detail: str) -> Rejection:
        return Rejection(reason, detail, row.line, row.record)

    # --- events ----------------------------------------------------------------------------

    def _event(self, spec: EventSpec, row: _ParsedRow, at: datetime) -> DispatchEvent:
        text = self._text
        unit = _clean_id(self._field(row, "unit")) if spec.type in _UNIT_EVENTS else None
        source = self._mapping.source
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
            }
            line_kind = text(row, "line_kind")
            if line_kind is not None:
                fields["line"] = {"kind": line_kind}
        elif spec.type == "call.closed":
            fields["disposition"] = text(row, "disposition")
        elif unit is not None:
            fields["unit"] = unit
            role = text(row, "role")
            if role is not None:
                fields["role"] = role
        # Converting validates every constraint of the contract (lengths, literals, time zones).
        return msgspec.convert(_present(fields), EVENT_TYPES[spec.type])

    def _text(self, row: _ParsedRow, name: str) -> str | None:
        return clean_line(self._field(row, name))

    def _coordinate(self, row: _ParsedRow, name: str, limit: float) -> float | None:
        raw = self._field(row, name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            row.notes.append(f"bad_coordinate:{name}")
            return None
        if not math.isfinite(value) or abs(value) > limit:
            row.notes.append(f"bad_coordinate:{name}")
            return None
        return value


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
    return "the call_id template gives no value"


def _describe_at(spec: EventSpec) -> str:
    if isinstance(spec.at, str):
        return f"column {spec.at!r}"
    return f"columns {spec.at.date!r} + {spec.at.time!r}"
