"""JSON exports as records of named values, for the mapping converter.

Open-data portals publish calls for service as JSON in a few shapes: a plain
array of objects (Socrata's ``resource/….json``), ArcGIS feature services
(``{"features": [{"attributes": {...}}]}``), Socrata's ``rows.json`` (arrays of
values, column names under ``meta.view.columns``), and NDJSON, one object per
line. A mapping's ``record_path`` says where the records are; each record
becomes a dict of column name -> text, nested objects as dotted names
(``location.latitude``), so the same mapping machinery reads all of them.

A JSON document is read whole (portals' exports are documents, not streams);
its records are numbered 1, 2, ... in the ``line`` of outcomes, since a
document has no line per record. NDJSON keeps real line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from streams.adapters.result import AdapterRejectReason, InputError, Rejection

Values = dict[str, str | None]

_SEGMENT: Final = re.compile(r"([^.\[\]]*)(\[\])?")


@dataclass(frozen=True, slots=True)
class JsonRecord:
    line: int
    record: int
    values: Values
    digest_parts: tuple[str, ...]  # what makes two records exact duplicates


def walk(document: Any, path: str | None) -> Iterator[Any]:
    """The values at ``path``: keys joined by dots, ``[]`` walking an array."""
    if not path:
        if not isinstance(document, list):
            raise InputError(
                "the document is not an array of records: set `record_path` "
                f"(its top-level keys: {_keys(document)})"
            )
        yield from document
        return
    current: list[Any] = [document]
    for part in path.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:  # the mapping loader checks the syntax; a guard, not a message
            raise InputError(f"record path {path!r}: bad segment {part!r}")
        key, walks = match.groups()
        following: list[Any] = []
        for value in current:
            if key:
                if not isinstance(value, dict) or key not in value:
                    raise InputError(
                        f"record path {path!r}: no key {key!r} here (keys: {_keys(value)})"
                    )
                value = value[key]
            if walks:
                if not isinstance(value, list):
                    raise InputError(f"record path {path!r}: {key or 'the document'} is no array")
                following.extend(value)
            else:
                following.append(value)
        current = following
    yield from current


def document_records(
    data: bytes, record_path: str | None, columns_path: str | None
) -> Iterator[JsonRecord | Rejection]:
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a JSON document: {exc}") from exc
    names = [str(n) for n in walk(document, columns_path)] if columns_path else None
    for number, item in enumerate(walk(document, record_path), 1):
        yield _record(item, number, number, names)


def ndjson_records(lines: Iterable[bytes]) -> Iterator[JsonRecord | Rejection]:
    record = 0
    for number, line in enumerate(lines, 1):
        raw = line.strip()
        if not raw:
            continue  # a blank line is no record
        record += 1
        try:
            item = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            detail = str(exc)
            reason: AdapterRejectReason = (
                "invalid_utf8" if "utf-8" in detail.lower() else "invalid_json"
            )
            yield Rejection(reason, detail[:200], number, record)
            continue
        yield _record(item, number, record, None)


def _record(item: Any, line: int, record: int, names: list[str] | None) -> JsonRecord | Rejection:
    if names is not None:
        if not isinstance(item, list):
            return Rejection("not_an_object", "a record is not an array of values", line, record)
        if len(item) != len(names):
            return Rejection(
                "malformed_row",
                f"{len(item)} values where the columns are {len(names)}",
                line,
                record,
            )
        item = dict(zip(names, item, strict=True))
    if not isinstance(item, dict):
        return Rejection("not_an_object", f"a record is {type(item).__name__}", line, record)
    values: Values = {}
    flatten_record(item, "", values)
    parts = tuple(f"{k}={v}" for k, v in sorted(values.items()))
    return JsonRecord(line, record, values, parts)


def flatten_record(item: dict[str, Any], prefix: str, into: Values) -> None:
    """Nested objects as dotted names: {"location": {"lat": 1}} -> location.lat."""
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten_record(value, f"{name}.", into)
        else:
            into[name] = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # 1684000000000.0 is an epoch, not a float to print
    if isinstance(value, list):
        return ",".join(t for v in value if (t := _text(v)) is not None)
    return str(value)


def _keys(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(sorted(map(str, value))[:12]) or "none"
    return f"none: it is {type(value).__name__}"
