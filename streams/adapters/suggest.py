"""A first mapping for an export nobody has mapped yet, with every choice explained.

``suggest_mapping`` looks at a sample of the records (a CSV file, a JSON
document in the shapes portals publish, or NDJSON) and proposes: the shape
(record path, delimiter), the call id (or a composite one when no column is
an id), each time column's role, formats, epochs and 12-hour clocks, the unit
columns (packed cells too), the narrative and the other fields. The result is
YAML text with a comment on each choice and a ``TODO`` for what a file cannot
tell (the time zone); it always loads as a mapping, so ``callwatch convert``
can try it straight away.

Only names and values are read: nothing here knows a particular city.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from streams.adapters.json_records import Values, flatten_record

SAMPLE_RECORDS: Final = 5000
_SAMPLE_VALUES: Final = 300
_NULLS: Final = frozenset({"", "NULL", "null", "N/A", "NaN", "None", "none"})

DATETIME_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
    "%m/%d/%Y",
)
TIME_FORMATS: Final = ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p")
_DATE_ONLY: Final = frozenset({"%Y-%m-%d", "%m/%d/%Y"})

# Which event a time column stands for, by words in its name (first match wins).
_ROLE_WORDS: Final = (
    ("skip", ("indb", "load", "update", "modif", "export", "transport", "hospital", "entry")),
    ("unit.dispatched", ("dispatch", "disp", "assign")),
    ("unit.en_route", ("enroute", "response", "respond")),
    ("unit.on_scene", ("onscene", "arriv", "scene", "arr")),
    ("unit.cleared", ("clear", "avail", "inservice", "clr")),
    ("call.closed", ("close", "complete", "finish", "end")),
    ("call.received", ("receiv", "rcv", "recv", "creat", "report", "open", "start")),
    ("call.received?", ("call", "event", "incident", "date", "time", "dt", "tm")),
)
_FIELD_WORDS: Final = (
    ("narrative", ("narrative", "comment", "remark", "notes", "synopsis", "details")),
    ("call_type", ("calltype", "nature", "offense", "problem", "incidenttype", "type")),
    ("priority", ("priority",)),
    ("disposition", ("dispo", "disposition", "status", "outcome", "clearance")),
    ("beat", ("beat", "district", "sector", "precinct", "battalion", "zone")),
    ("officer_rank", ("rank",)),
    ("officer_name", ("officername",)),
    ("officer_id", ("badge", "employee", "officerid", "officer")),
    ("caller_phone", ("callerphone", "phone")),
    ("caller_name", ("callername",)),
    ("address", ("address", "addr", "block", "street", "location")),
)
_UNIT_TOKEN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]{0,11}$")
_WKT: Final = re.compile(r"^POINT \(-?[\d.]+ -?[\d.]+\)$")
_PAIR: Final = re.compile(r"\(\s*-?\d+\.\d+\s*,\s*-?\d+\.\d+\s*\)")


@dataclass
class Column:
    name: str
    values: list[str] = field(default_factory=list)  # a sample of non-null values
    present: int = 0
    distinct: set[str] = field(default_factory=set)
    total_length: int = 0

    @property
    def key(self) -> str:
        return re.sub(r"[^a-z0-9]", "", self.name.lower())

    @property
    def unique(self) -> float:
        return len(self.distinct) / self.present if self.present else 0.0

    @property
    def mean_length(self) -> float:
        return self.total_length / self.present if self.present else 0.0


@dataclass(frozen=True)
class Shape:
    format: str  # csv, json, ndjson
    record_path: str | None = None
    columns_path: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    note: str = ""


@dataclass
class TimeColumn:
    column: Column
    formats: list[str]
    epoch: str | None = None
    date_only: bool = False
    time_only: bool = False
    twelve_hour: bool = False
    offset: bool = False
    mean: float = 0.0  # mean epoch seconds, to order columns


def suggest_mapping(data: bytes, name: str, source: str) -> str:
    """The suggested mapping for ``data`` (the export's bytes; ``name`` its file name)."""
    shape, records = read_sample(data, name)
    columns = _columns(records)
    return _Suggestion(shape, columns, len(records), source).render()


# --- reading a sample -------------------------------------------------------------------------


def read_sample(data: bytes, name: str) -> tuple[Shape, list[Values]]:
    encoding = "utf-8-sig"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    sample = text[:65536]
    control = sum(1 for c in sample if c < " " and c not in "\r\n\t")
    if "\x00" in sample or control > 0.01 * max(1, len(sample)):
        raise ValueError("this is not a text export (binary data): expected CSV, JSON or NDJSON")
    head = text.lstrip()[:1]
    lower = name.lower()
    if lower.endswith((".ndjson", ".jsonl")) or (head == "{" and _is_ndjson(text)):
        return Shape("ndjson", encoding=encoding, note="NDJSON"), _ndjson(text)
    if lower.endswith(".json") or head in ("[", "{"):
        return _json_document(text)
    return _csv(text, encoding)


def _is_ndjson(text: str) -> bool:
    lines = [line for line in text.splitlines()[:3] if line.strip()]
    try:
        return len(lines) > 1 and all(isinstance(json.loads(line), dict) for line in lines)
    except ValueError:
        return False


def _ndjson(text: str) -> list[Values]:
    records: list[Values] = []
    for line in text.splitlines():
        if len(records) >= SAMPLE_RECORDS:
            break
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            records.append(_flat(item))
    return records


def _json_document(text: str) -> tuple[Shape, list[Values]]:
    try:
        document = msgspec.json.decode(text.encode("utf-8"))
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a JSON document: {exc}") from exc
    if isinstance(document, list):
        shape, items = Shape("json", note="a JSON array of records"), document
    elif isinstance(document, dict) and _arcgis(document):
        shape = Shape("json", "features[].attributes", note="an ArcGIS feature set")
        items = [f["attributes"] for f in document["features"]]
    elif isinstance(document, dict) and _socrata_rows(document):
        view_columns = document["meta"]["view"]["columns"]
        key = "fieldName" if all("fieldName" in c for c in view_columns) else "name"
        names = [str(c.get(key)) for c in view_columns]
        shape = Shape(
            "json", "data[]", f"meta.view.columns[].{key}", note="a Socrata rows.json export"
        )
        items = [dict(zip(names, row, strict=False)) for row in document["data"]]
    elif isinstance(document, dict) and (found := _records_key(document)):
        shape, items = Shape("json", f"{found}[]", note=f"records under {found!r}"), document[found]
    else:
        raise ValueError("cannot find the records in this JSON document: set record_path by hand")
    return shape, [_flat(item) for item in items[:SAMPLE_RECORDS] if isinstance(item, dict)]


def _arcgis(document: dict[str, Any]) -> bool:
    features = document.get("features")
    return isinstance(features, list) and all(
        isinstance(f, dict) and isinstance(f.get("attributes"), dict) for f in features[:20]
    )


def _socrata_rows(document: dict[str, Any]) -> bool:
    view = (
        document.get("meta", {}).get("view", {}) if isinstance(document.get("meta"), dict) else {}
    )
    return isinstance(view.get("columns"), list) and isinstance(document.get("data"), list)


def _records_key(document: dict[str, Any]) -> str | None:
    lists = [
        k
        for k, v in document.items()
        if isinstance(v, list) and v and all(isinstance(i, dict) for i in v[:20])
    ]
    return lists[0] if len(lists) == 1 else None


def _flat(item: dict[str, Any]) -> Values:
    values: Values = {}
    flatten_record(item, "", values)
    return values


def _csv(text: str, encoding: str) -> tuple[Shape, list[Values]]:
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    records: list[Values] = []
    for row in reader:
        if len(records) >= SAMPLE_RECORDS:
            break
        if len(row) == len(header):
            records.append(dict(zip(header, row, strict=True)))
    shape = Shape("csv", delimiter=delimiter, encoding=encoding, note="a CSV file")
    return shape, records


def _columns(records: Sequence[Values]) -> list[Column]:
    columns: dict[str, Column] = {}
    for record in records:
        for name, raw in record.items():
            column = columns.setdefault(name, Column(name))
            value = (raw or "").strip()
            if value in _NULLS:
                continue
            column.present += 1
            column.total_length += len(value)
            if len(column.distinct) < 100_000:
                column.distinct.add(value)
            if len(column.values) < _SAMPLE_VALUES:
                column.values.append(value)
    return list(columns.values())


# --- reading the columns ------------------------------------------------------------------------


def _time_column(column: Column) -> TimeColumn | None:
    values = column.values
    if len(values) < 1:
        return None
    if all(v.replace(".0", "").lstrip("-").isdigit() for v in values):
        return _epoch_column(column)
    for formats, time_only in ((DATETIME_FORMATS, False), (TIME_FORMATS, True)):
        found = _covering(values, formats)
        if found is None:
            continue
        chosen, parsed = found
        hours = {p.hour for p in parsed}
        seen = [p for p in parsed if p.tzinfo is None]
        twelve = (
            not any("%p" in f for f in chosen)
            and not all(f in _DATE_ONLY for f in chosen)
            and len(parsed) >= 20
            and hours <= set(range(1, 13))
        )
        midnight = all(p.hour == p.minute == p.second == 0 for p in parsed)
        mean = 0.0
        if not time_only and seen:
            mean = sum(p.replace(tzinfo=UTC).timestamp() for p in seen) / len(seen)
        return TimeColumn(
            column,
            chosen,
            date_only=not time_only and midnight,
            time_only=time_only,
            twelve_hour=twelve,
            offset=any(p.tzinfo is not None for p in parsed),
            mean=mean,
        )
    return None


def _epoch_column(column: Column) -> TimeColumn | None:
    numbers = [float(v) for v in column.values]
    for unit, scale in (("s", 1.0), ("ms", 1000.0)):
        lo, hi = 946_684_800 * scale, 2_208_988_800 * scale  # 2000-01-01 .. 2040-01-01
        if all(lo <= n <= hi for n in numbers):
            return TimeColumn(column, [], epoch=unit, mean=sum(numbers) / len(numbers) / scale)
    return None


def _covering(
    values: Sequence[str], formats: Iterable[str]
) -> tuple[list[str], list[datetime]] | None:
    """The formats (most used first) that read at least 95 % of the values."""
    used: dict[str, int] = {}
    parsed: list[datetime] = []
    for value in values:
        for fmt in formats:
            try:
                parsed.append(datetime.strptime(value, fmt))
            except ValueError:
                continue
            used[fmt] = used.get(fmt, 0) + 1
            break
    if len(parsed) < 0.95 * len(values):
        return None
    return sorted(used, key=lambda f: -used[f]), parsed


def _role(column: Column) -> str | None:
    for role, words in _ROLE_WORDS:
        if any(word in column.key for word in words):
            return role
    return None


def _packed(column: Column) -> tuple[str, str | None] | None:
    """(separator, time separator) when the cells list several units."""
    for separator in (",", ";", "|"):
        several = [v for v in column.values if separator in v]
        if len(several) < max(1, 0.05 * len(column.values)):
            continue
        items = [item.strip() for v in column.values for item in v.split(separator)]
        time_separator = "=" if sum("=" in i for i in items) > 0.5 * len(items) else None
        units = [i.split("=", 1)[0].strip() if time_separator else i for i in items]
        if sum(bool(_UNIT_TOKEN.match(u)) for u in units) > 0.9 * len(units):
            return separator, time_separator
    return None


# --- the suggestion ----------------------------------------------------------------------------


class _Suggestion:
    def __init__(self, shape: Shape, columns: list[Column], records: int, source: str) -> None:
        self.shape, self.columns, self.records, self.source = shape, columns, records, source
        self.times = {c.name: t for c in columns if (t := _time_column(c)) is not None}
        self.used: set[str] = set()
        self.lines: list[str] = []
        self.receipt: TimeColumn | None = None
        self._dispatch_at: str | None = None

    def render(self) -> str:
        if not self.columns:
            raise ValueError("no records to look at: the export is empty or unreadable")
        out = self.lines
        out.append(
            f"# Suggested by `callwatch mapping suggest` from {self.records} records "
            f"({self.shape.note}). Check every choice, answer the TODOs, then try it:"
        )
        out.append("#   callwatch convert EXPORT --mapping THIS.yaml > events.jsonl")
        out.append("version: 2")
        out.append(f"source: {_q(self.source)}")
        self._shape()
        events = self._events()
        self._zone()
        unit, packed = self._units()
        layout = self._call_id(unit)
        if layout == "per_unit":
            out.append("layout: per_unit   # several rows per call id, one per unit")
        if any(time_separator is None for _, _, time_separator in packed):
            # The units share the dispatch time: the packed cell replaces the plain dispatch.
            events = [e for e in events if "type: unit.dispatched" not in e[0]]
        plain_unit_events = any(spec.startswith("  - {type: unit.") for spec, _ in events)
        if plain_unit_events and unit is None:
            out.append(
                "primary_unit: PRIMARY   # unit times with no unit column: the primary unit's"
            )
        self._formats()
        self._fields(unit)
        out.append("events:")
        for spec, comment in events:
            out.append(f"{spec}   # {comment}" if comment else spec)
        for column, separator, time_separator in packed:
            self._packed_events(column, separator, time_separator, self._dispatch_at)
        self._left_out()
        return "\n".join(out) + "\n"

    def _shape(self) -> None:
        shape, out = self.shape, self.lines
        if shape.format != "csv":
            out.append(f"format: {shape.format}   # {shape.note}")
        if shape.record_path:
            out.append(f"record_path: {_q(shape.record_path)}")
        if shape.columns_path:
            out.append(f"columns_path: {_q(shape.columns_path)}   # column names of each row")
        if shape.format == "csv" and shape.delimiter != ",":
            out.append(f"delimiter: {_q(shape.delimiter)}")
        if shape.encoding != "utf-8-sig":
            out.append(f"encoding: {shape.encoding}   # the file is not valid UTF-8")

    def _zone(self) -> None:
        naive = [t for t in self.times.values() if t.epoch is None and not t.offset]
        if not naive:
            self.lines.append("timezone: UTC   # every time is an epoch or carries its offset")
            return
        self.lines.append(
            "timezone: UTC   # TODO: the zone these times were written in, e.g. America/Chicago "
            f"(the export does not say: {', '.join(t.column.name for t in naive[:4])} "
            "have no offset)"
        )

    def _formats(self) -> None:
        datetime_formats: list[str] = []
        time_formats: list[str] = []
        for t in self.times.values():
            if t.column.name not in self.used or t.epoch:
                continue
            target = time_formats if t.time_only else datetime_formats
            target.extend(f for f in t.formats if f not in target)
        if datetime_formats:
            self.lines.append(
                f"datetime_formats: {json.dumps(datetime_formats)}   # what the time columns hold"
            )
        if time_formats:
            self.lines.append(f"time_formats: {json.dumps(time_formats)}   # times of day")

    def _events(self) -> list[tuple[str, str]]:
        by_role: dict[str, list[TimeColumn]] = {}
        for t in self.times.values():
            role = _role(t.column) or "call.received?"
            by_role.setdefault(role, []).append(t)
        received = by_role.get("call.received", []) + by_role.get("call.received?", [])
        dates = [t for t in received if t.date_only]
        clocks = [t for t in self.times.values() if t.time_only]
        events: list[tuple[str, str]] = []
        receipt_time: TimeColumn | None = None
        if dates and clocks:
            date, clock = (
                dates[0],
                next(
                    (c for c in clocks if (_role(c.column) or "").startswith("call.received")),
                    clocks[0],
                ),
            )
            at = {"date": date.column.name, "time": clock.column.name}
            self.used |= {date.column.name, clock.column.name}
            receipt_time = clock
            events.append(
                (
                    f"  - {{type: call.received, at: {_flow(self._clock(clock, at))}}}",
                    "a date column and a time-of-day column",
                ),
            )
        else:
            full = [t for t in received if not t.date_only and not t.time_only]
            # An epoch or a 24-hour column beats a 12-hour one for the same instant.
            full.sort(key=lambda t: (_role(t.column) != "call.received", t.twelve_hour, t.mean))
            if not full:
                full = sorted(
                    (t for t in self.times.values() if not t.time_only and not t.date_only),
                    key=lambda t: t.mean,
                )
            if not full:
                raise ValueError("no column holds a date and time: no receipt time to map")
            receipt_time = full[0]
            self.used.add(receipt_time.column.name)
            events.append(
                (
                    f"  - {{type: call.received, at: {self._at(receipt_time)}}}",
                    self._why(receipt_time, "the receipt"),
                ),
            )
        for role in (
            "unit.dispatched",
            "unit.en_route",
            "unit.on_scene",
            "unit.cleared",
            "call.closed",
        ):
            for t in by_role.get(role, [])[:1]:
                if t.column.name in self.used or t.date_only:
                    continue
                self.used.add(t.column.name)
                if role == "unit.dispatched":
                    self._dispatch_at = self._at(t)
                events.append((f"  - {{type: {role}, at: {self._at(t)}}}", self._why(t, role)))
        self.receipt = receipt_time
        return events

    def _at(self, t: TimeColumn) -> str:
        if "utc" in t.column.key and t.epoch is None and not t.offset and not t.time_only:
            return _flow({"column": t.column.name, "timezone": "UTC"})  # named for its zone
        if t.epoch:
            return _flow({"column": t.column.name, "epoch": t.epoch})
        if t.time_only:
            return _flow(self._clock(t, {"time": t.column.name}))
        if t.twelve_hour:
            return _flow(self._clock(t, {"column": t.column.name}))
        return _q(t.column.name)

    def _clock(self, t: TimeColumn, at: dict[str, str]) -> dict[str, str]:
        if not t.twelve_hour:
            return at
        at = {**at, "clock": "12h"}
        reference = next(
            (
                o.column.name
                for o in self.times.values()
                if o is not t
                and (o.epoch or (not o.time_only and not o.date_only and not o.twelve_hour))
            ),
            None,
        )
        if reference is not None:
            at["clock_from"] = reference
        return at

    def _why(self, t: TimeColumn, what: str) -> str:
        if t.epoch:
            return f"{what}: epoch {'seconds' if t.epoch == 's' else 'milliseconds'}"
        if t.twelve_hour:
            return (
                f"{what}: hours only 1-12 and no AM/PM, a 12-hour clock; resolved from the "
                "column in clock_from, else reported as ambiguous_clock"
            )
        if t.time_only:
            return f"{what}: a time of day, placed on the receipt's date (rolled over midnight)"
        return f"{what}, from the column's name"

    def _units(self) -> tuple[str | None, list[tuple[str, str, str | None]]]:
        """The unit column, and the packed ones: (column, separator, time separator)."""
        free = [c for c in self.columns if c.name not in self.times and c.name not in self.used]
        named = [c for c in free if "unit" in c.key]
        named = [c for c in named if not any(w in c.key for w in ("type", "seq", "als"))]
        packed: list[tuple[str, str, str | None]] = []
        for column in free:
            found = _packed(column)
            # "A12,B7" is units only in a column named for them; "E12=14:02:11" anywhere.
            if found is not None and (column in named or found[1] is not None):
                self.used.add(column.name)
                packed.append((column.name, *found))
        if packed:
            return None, packed
        for column in named:
            if column.values and all(_UNIT_TOKEN.match(v) for v in column.values):
                self.used.add(column.name)
                return column.name, []
        return None, []

    def _call_id(self, unit: str | None) -> str:
        scored = []
        for column in self.columns:
            key = column.key
            if column.name in self.used or column.name in self.times or not column.present:
                continue
            if key in ("objectid", "rowid", "sid", "fid", "id1") or key.startswith(("sid", "row")):
                continue
            numbered = any(w in key for w in ("number", "num", "no", "id", "nbr"))
            score = 0
            if "call" in key and numbered:
                score = 5
            elif any(w in key for w in ("incident", "case", "event", "cad")) and numbered:
                score = 4
            elif key in ("id", "callid", "caseno") or key.endswith("id"):
                score = 2
            if score:
                scored.append((score, column.unique, column))
        scored.sort(key=lambda s: (-s[0], -s[1]))
        unique = [s for s in scored if s[1] >= 0.98]
        if scored and unit is not None and scored[0][1] < 0.98:
            best = scored[0][2]
            self.used.add(best.name)
            self.lines.append(
                f"call_id: {_q(best.name)}   # repeats over rows (one per unit): grouped into calls"
            )
            return "per_unit"
        if unique:
            best = unique[0][2]
            self.used.add(best.name)
            self.lines.append(
                f"call_id: {_q(best.name)}   # {best.unique:.0%} of the sampled values are distinct"
            )
            return "per_call"
        receipt = self.receipt.column.name if self.receipt else ""
        others = [
            c.name
            for c in self.columns
            if c.name not in self.times and c.name not in self.used and c.unique > 0.5
        ][:1]
        template = "{" + receipt + "}" + "".join("-{" + o + "}" for o in others)
        self.lines.append(
            f"call_id: {{template: {_q(template)}}}   # TODO: no column is an id; a composite "
            "of the receipt time and another column. Check that it tells calls apart"
        )
        return "per_call"

    def _fields(self, unit: str | None) -> None:
        chosen: dict[str, tuple[str, str]] = {}
        if unit is not None:
            chosen["unit"] = (_q(unit), "unit ids")
        for column in self.columns:
            if column.name in self.used or column.name in self.times:
                continue
            self._coordinates(column, chosen)
            if column.name in self.used:
                continue
            for name, words in _FIELD_WORDS:
                if name in chosen or not any(w in column.key for w in words):
                    continue
                if name == "narrative" and column.mean_length < 20:
                    continue
                if name == "address":
                    parts = self._address_parts(words)
                    if len(parts) > 1:
                        self.used.update(parts)
                        template = "".join(
                            ("{%s}" if i == 0 else "[ {%s}]") % part for i, part in enumerate(parts)
                        )
                        chosen[name] = (
                            _flow({"template": template}),
                            f"the {len(parts)} address columns, empty ones left out",
                        )
                        break
                self.used.add(column.name)
                chosen[name] = (_q(column.name), f"from the column's name ({column.name})")
                break
        if "narrative" not in chosen:
            long_text = [
                c
                for c in self.columns
                if c.name not in self.used and c.name not in self.times and c.mean_length > 60
            ]
            if long_text:
                column = max(long_text, key=lambda c: c.mean_length)
                self.used.add(column.name)
                chosen["narrative"] = (
                    _q(column.name),
                    f"the longest free text ({column.mean_length:.0f} chars)",
                )
        if not chosen:
            return
        self.lines.append("fields:")
        for name, (value, why) in chosen.items():
            self.lines.append(f"  {name}: {value}   # {why}")

    def _address_parts(self, words: tuple[str, ...]) -> list[str]:
        return [
            c.name
            for c in self.columns
            if c.name not in self.used
            and c.name not in self.times
            and any(w in c.key for w in words[:3])  # address, addr, block: not a location
        ]

    def _coordinates(self, column: Column, chosen: dict[str, tuple[str, str]]) -> None:
        values = column.values
        if not values:
            return
        if all(_WKT.match(v) for v in values):
            chosen.setdefault(
                "lon",
                (
                    _flow({"column": column.name, "pattern": r"POINT \((-?[\d.]+) "}),
                    "WKT POINT (lon lat)",
                ),
            )
            chosen.setdefault(
                "lat",
                (
                    _flow({"column": column.name, "pattern": r"POINT \(-?[\d.]+ (-?[\d.]+)\)"}),
                    "WKT POINT (lon lat)",
                ),
            )
            self.used.add(column.name)
            return
        if sum(bool(_PAIR.search(v)) for v in values) > 0.5 * len(values) and "lat" not in chosen:
            chosen["lat"] = (
                _flow({"column": column.name, "pattern": r"\(\s*(-?\d+(?:\.\d+)?)\s*,"}),
                "(lat, lon) inside the text",
            )
            chosen["lon"] = (
                _flow({"column": column.name, "pattern": r",\s*(-?\d+(?:\.\d+)?)\s*\)"}),
                "(lat, lon) inside the text",
            )
            self.used.add(column.name)
            return
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            return
        key = column.key
        is_lat = key in ("lat", "latitude", "y") or key.endswith("latitude")
        is_lon = key in ("lon", "lng", "long", "longitude", "x") or key.endswith("longitude")
        if is_lat and all(abs(n) <= 90 for n in numbers):
            chosen.setdefault("lat", (_q(column.name), "latitude"))
            self.used.add(column.name)
        elif is_lon and all(abs(n) <= 180 for n in numbers):
            chosen.setdefault("lon", (_q(column.name), "longitude"))
            self.used.add(column.name)

    def _packed_events(
        self, column: str, separator: str, time_separator: str | None, dispatch: str | None
    ) -> None:
        units: dict[str, str] = {"column": column}
        if separator != ",":
            units["separator"] = separator
        if time_separator:
            units["time_separator"] = time_separator
            role = _role(Column(column))
            known = role in ("unit.dispatched", "unit.en_route", "unit.on_scene", "unit.cleared")
            why = "from the column's name" if known else "TODO: which event those times are"
            self.lines.append(
                f"  - {{type: {role if known else 'unit.dispatched'}, units: {_flow(units)}}}"
                f"   # several units per cell, each with its own time: one event each; {why}"
            )
            return
        at = dispatch or (self._at(self.receipt) if self.receipt else '"TODO"')
        self.lines.append(
            f"  - {{type: unit.dispatched, at: {at}, units: {_flow(units)}}}   # several units "
            "per cell: one dispatch per unit"
        )

    def _left_out(self) -> None:
        rest = [c.name for c in self.columns if c.name not in self.used]
        if rest:
            self.lines.append("# Not mapped (add what matters): " + ", ".join(rest))


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _flow(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {_q(v)}" for k, v in values.items()) + "}"
