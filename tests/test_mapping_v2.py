"""Mapping language version 2, one export shape per fixture: the events, their UTC times and
the anomalies reported (tests/fixtures/mapping_v2, written for these tests)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.events import event_type
from streams.adapters import Collector, Converted, Duplicate, Rejection, open_input
from streams.adapters.csv_mapping import ANOMALY_KINDS, convert_rows, read_csv
from streams.adapters.mapping import MappingError, load_mapping, parse_mapping
from streams.adapters.result import Outcome

FIXTURES = Path(__file__).parent / "fixtures" / "mapping_v2"
AT = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def convert(data: str, mapping: str | None = None) -> list[Outcome]:
    path = FIXTURES / data
    mapping_path = FIXTURES / (mapping or f"{Path(data).stem}.yaml")
    return list(read_csv(path, load_mapping(mapping_path), received_at=AT))


def timeline(outcomes: list[Outcome], call_id: str) -> list[tuple[str, str | None, datetime]]:
    return [
        (event_type(e), getattr(e, "unit", None), e.occurred_at)
        for o in outcomes
        if isinstance(o, Converted)
        for e in o.events
        if e.call_id == call_id
    ]


def anomalies(outcomes: list[Outcome]) -> list[tuple[str, int, str | None]]:
    return [
        (a.kind, a.line, a.column)
        for o in outcomes
        if isinstance(o, Converted)
        for a in o.anomalies
    ]


def events(outcomes: list[Outcome], call_id: str) -> list[Any]:
    return [
        e for o in outcomes if isinstance(o, Converted) for e in o.events if e.call_id == call_id
    ]


def test_arcgis_features_epoch_milliseconds_zone_per_column_and_an_unknown_enum() -> None:
    outcomes = convert("arcgis.json")
    assert timeline(outcomes, "24-000101") == [
        ("call.received", None, utc(2024, 6, 1, 10, 0)),  # 1717236000000 ms
        ("unit.dispatched", "PRIMARY", utc(2024, 6, 1, 10, 4, 30)),  # 06:04:30 EDT
        ("unit.on_scene", "PRIMARY", utc(2024, 6, 1, 10, 15)),  # its column is UTC
    ]
    received = events(outcomes, "24-000101")[0]
    assert received.line.kind == "911"  # E, through the inline map
    assert (received.location.lat, received.location.lon) == (38.25, -85.75)
    assert timeline(outcomes, "24-000102") == [
        ("call.received", None, utc(2024, 6, 1, 11, 0)),
        ("call.closed", None, utc(2024, 6, 1, 12, 0)),
    ]
    # "Z" is no line kind: the row is kept, the kind is the default, and it is reported.
    assert events(outcomes, "24-000102")[0].line.kind == "other"
    assert anomalies(outcomes) == [("unknown_enum", 2, "line_kind")]
    (rejected,) = [o for o in outcomes if isinstance(o, Rejection)]
    assert (rejected.reason, rejected.line) == ("missing_received_time", 3)


def test_socrata_rows_json_columns_from_meta_and_epoch_seconds() -> None:
    outcomes = convert("socrata_rows.json")
    assert timeline(outcomes, "S24-1") == [
        ("call.received", None, utc(2024, 1, 1, 0, 0)),
        ("call.closed", None, utc(2024, 1, 1, 0, 0)),
    ]
    assert events(outcomes, "S24-1")[-1].disposition == "REPORT"
    assert timeline(outcomes, "S24-2") == [("call.received", None, utc(2024, 1, 1, 1, 0))]
    (short,) = [o for o in outcomes if isinstance(o, Rejection)]
    assert (short.reason, short.line) == ("malformed_row", 3)
    assert anomalies(outcomes) == []


def test_plain_array_nested_keys_and_a_composite_call_id() -> None:
    outcomes = convert("plain_array.json")
    assert timeline(outcomes, "2024-03-09-17") == [
        ("call.received", None, utc(2024, 3, 10, 5, 58, 10))  # CST
    ]
    first = events(outcomes, "2024-03-09-17")[0]
    assert (first.location.lat, first.location.lon) == (38.2, -85.7)  # location.latitude
    assert timeline(outcomes, "2024-03-10-1") == [
        ("call.received", None, utc(2024, 3, 10, 8, 10))  # CDT began at 02:00 that day
    ]
    duplicate = next(o for o in outcomes if isinstance(o, Duplicate))
    assert (duplicate.line, duplicate.first_line) == (3, 2)
    # No call date: "-2" would be a made-up id, so the record is rejected instead.
    (rejected,) = [o for o in outcomes if isinstance(o, Rejection)]
    assert (rejected.reason, rejected.line) == ("missing_call_id", 4)


def test_ndjson_twelve_hour_clock_resolved_from_an_epoch_or_reported_as_ambiguous() -> None:
    outcomes = convert("calls.ndjson", "calls.ndjson.yaml")
    # " 6:31:45" with an epoch of 22:31:45Z in the row: the PM reading (EDT, UTC-4).
    assert timeline(outcomes, "N1") == [
        ("call.received", None, utc(2024, 6, 1, 22, 31, 45)),
        ("unit.dispatched", "2A11", utc(2024, 6, 1, 22, 40)),  # 6:40, after a 6:31 PM receipt
    ]
    officer = events(outcomes, "N1")[1].officer
    assert (officer.id, officer.name, officer.rank) == ("1234", "Pat Doe", "lieutenant")
    # No epoch: read as written and reported, never silently.
    assert timeline(outcomes, "N2") == [
        ("call.received", None, utc(2024, 6, 1, 10, 31, 45)),
        ("unit.dispatched", "2A12", utc(2024, 6, 1, 11, 2)),
    ]
    assert events(outcomes, "N2")[1].officer.rank == "sergeant"  # "Sgt." through the map
    # 13:05 cannot be a 12-hour reading: no doubt, no anomaly.
    assert timeline(outcomes, "N3") == [("call.received", None, utc(2024, 6, 1, 17, 5))]
    assert anomalies(outcomes) == [("ambiguous_clock", 2, "rcv")]
    (bad,) = [o for o in outcomes if isinstance(o, Rejection)]
    assert (bad.reason, bad.line) == ("invalid_json", 3)
    collector = Collector()
    for outcome in outcomes:
        collector.accept(outcome)
    assert collector.tally.adds_up and collector.tally.records_read == 4  # the blank line is none


def test_midnight_rollover_packed_units_and_the_primary_unit() -> None:
    outcomes = convert("midnight_units.csv", "midnight_units.yaml")
    # Received 23:50 PST on Jan 31; times of day after midnight belong to Feb 1.
    assert timeline(outcomes, "C1") == [
        ("call.received", None, utc(2024, 2, 1, 7, 50)),
        ("unit.dispatched", "A12", utc(2024, 2, 1, 7, 55, 10)),  # "A12,B7": one event each
        ("unit.dispatched", "B7", utc(2024, 2, 1, 7, 55, 10)),
        ("unit.on_scene", "B7", utc(2024, 2, 1, 7, 59)),  # B7=23:59:00, its own time
        ("unit.on_scene", "A12", utc(2024, 2, 1, 8, 3, 30)),  # A12=00:03:30, the next day
        ("unit.on_scene", "PRIMARY", utc(2024, 2, 1, 8, 4)),  # call-level arrival, no unit id
        ("unit.cleared", "PRIMARY", utc(2024, 2, 1, 8, 40)),
    ]
    assert {e.officer.rank for e in events(outcomes, "C1") if hasattr(e, "officer")} == {"sergeant"}
    assert timeline(outcomes, "C2") == [
        ("call.received", None, utc(2024, 2, 1, 16, 0)),
        ("unit.dispatched", "E12", utc(2024, 2, 1, 16, 2)),
    ]
    assert timeline(outcomes, "C3") == [
        ("call.received", None, utc(2024, 2, 1, 17, 0)),
        ("unit.dispatched", "PRIMARY", utc(2024, 2, 1, 17, 1)),  # no units packed: primary
        ("unit.on_scene", "PRIMARY", utc(2024, 2, 1, 17, 10)),
        ("unit.cleared", "PRIMARY", utc(2024, 2, 1, 18, 0)),
    ]
    assert anomalies(outcomes) == [
        ("midnight_rollover", 2, "OnScene"),
        ("midnight_rollover", 2, "ArrTime"),
        ("midnight_rollover", 2, "ClrTime"),
        ("unparsed_time", 3, "OnScene"),  # E12=08:1O:00, a letter O
        ("unknown_enum", 3, "officer_rank"),  # "Sergent"
    ]
    assert {a.kind for o in outcomes if isinstance(o, Converted) for a in o.anomalies} <= set(
        ANOMALY_KINDS
    )


MINIMAL_V2 = """
version: 2
source: t
timezone: UTC
call_id: id
events:
  - {type: call.received, at: {column: t, epoch: s}}
"""


def test_unknown_role_keeps_the_row_in_a_version_1_mapping_too() -> None:
    mapping = parse_mapping(
        MINIMAL_V2.replace("version: 2", "version: 1").replace("{column: t, epoch: s}", "t")
        + "  - {type: unit.dispatched, at: t}\nfields: {unit: u, role: r}\n"
    )
    (converted,) = convert_rows(
        io.StringIO("id,t,u,r\n1,2024-01-01 00:00:00,A1,Crossing Guard\n"),
        mapping,
        lookups={},
        received_at=AT,
    )
    assert isinstance(converted, Converted)
    assert [getattr(e, "role", None) for e in converted.events] == [None, "other"]
    assert [(a.kind, a.column) for a in converted.anomalies] == [("unknown_enum", "role")]


def test_twelve_hour_clock_from_a_24_hour_column_and_a_rejected_bad_epoch() -> None:
    mapping = parse_mapping(
        MINIMAL_V2.replace("{column: t, epoch: s}", "{column: t, clock: 12h, clock_from: t24}")
    )
    outcomes = list(
        convert_rows(
            io.StringIO("id,t,t24\n1,2024-01-01 11:30:00,2024-01-01 23:29:59\n2,x,\n"),
            mapping,
            lookups={},
            received_at=AT,
        )
    )
    converted, rejected = outcomes
    assert isinstance(converted, Converted) and isinstance(rejected, Rejection)
    assert converted.events[0].occurred_at == utc(2024, 1, 1, 23, 30)
    assert converted.anomalies == ()
    assert rejected.reason == "bad_received_time"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        # version-2 keys in a version-1 file are named, not silently accepted
        (MINIMAL_V2.replace("version: 2", "version: 1"), "needs `version: 2`"),
        (MINIMAL_V2 + "format: json\nrecord_path: 'a..b'\n", "`record_path`"),
        (MINIMAL_V2 + "record_path: features[]\n", "only to `format: json`"),
        (MINIMAL_V2 + "  - {type: unit.on_scene, at: t2}\n", "primary_unit"),
        (MINIMAL_V2 + "  - {type: unit.on_scene, units: {column: u}}\n", "needs `at`"),
        (
            MINIMAL_V2 + "  - {type: call.closed, at: {time: t}, units: {column: u}}\n",
            "unit events",
        ),
        (MINIMAL_V2.replace("epoch: s", "epoch: s, clock: 12h"), "no `clock`"),
        (MINIMAL_V2.replace("{column: t, epoch: s}", "{time: t}"), "needs a date"),
        (MINIMAL_V2.replace("epoch: s", "timezone: Mars/Base"), "not an IANA time zone"),
        (MINIMAL_V2 + "fields: {priority: {column: p, default: x}}\n", "`fields.priority.default`"),
        (MINIMAL_V2 + "fields: {line_kind: {column: k, map: {E: 911}}}\n", "must be text"),
    ],
)
def test_bad_version_2_mappings_name_the_key(text: str, named: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, origin="city.yaml")
    assert named in str(caught.value)


def test_json_mapping_reading_a_key_no_record_has_is_refused_before_converting(
    tmp_path: Path,
) -> None:
    data = tmp_path / "calls.json"
    data.write_text('[{"id": "1", "t": 1704067200}]')
    mapping = parse_mapping(MINIMAL_V2 + "format: json\nfields: {priority: prio}\n")
    with pytest.raises(MappingError, match=r"\['prio'\]"):
        read_csv(data, mapping, received_at=AT)
    data.write_text('{"features": []}')
    with pytest.raises(Exception, match="record_path"):
        list(read_csv(data, parse_mapping(MINIMAL_V2 + "format: json\n"), received_at=AT))


def test_open_input_reads_a_json_export_through_its_mapping() -> None:
    opened = open_input(
        FIXTURES / "socrata_rows.json", FIXTURES / "socrata_rows.yaml", received_at=AT
    )
    collector = Collector()
    written = list(collector.events(opened.outcomes))
    assert len(written) == 3 and collector.tally.adds_up
    assert collector.tally.records_read == 3
