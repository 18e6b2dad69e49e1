"""CSV exports -> canonical events through the shipped city mappings, on hand-written fixtures."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import schema_path
from schemas.events import CallClosed, CallReceived, UnitCleared, UnitDispatched, UnitOnScene
from streams.adapters import Collector, Converted, Duplicate, Rejection, open_input
from streams.adapters.csv_mapping import convert_rows, read_csv
from streams.adapters.mapping import (
    MAPPING_SCHEMA_FILE,
    MAPPING_V1_SCHEMA_FILE,
    MappingError,
    Template,
    load_mapping,
    parse_mapping,
    render_mapping_json_schema,
    resolve_mapping,
    shipped_mappings,
)
from streams.adapters.result import Outcome

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def convert(path: Path, mapping_name: str, **kwargs: Any) -> tuple[list[Outcome], Collector]:
    mapping = load_mapping(resolve_mapping(mapping_name))
    outcomes = list(read_csv(path, mapping, received_at=RECEIVED_AT, **kwargs))
    collector = Collector()
    for outcome in outcomes:
        collector.accept(outcome)
    return outcomes, collector


def events_of(outcomes: list[Outcome]) -> list[Any]:
    return [e for o in outcomes if isinstance(o, Converted) for e in o.events]


def by_call(outcomes: list[Outcome], call_id: str) -> list[Any]:
    return [e for e in events_of(outcomes) if e.call_id == call_id]


# --- San Diego: per-call rows, code lookups, every kind of bad row -------------------------------


def test_sdpd_counts_add_up_with_a_reason_for_every_rejected_row() -> None:
    outcomes, collector = convert(
        FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", "sdpd-san-diego"
    )
    tally = collector.tally
    assert tally.records_read == 11
    assert tally.records_converted == 5
    assert tally.duplicate_records == 1
    assert dict(tally.rejected) == {
        "missing_call_id": 1,
        "missing_received_time": 2,  # the literal NULL and the 1900-01-01 sentinel
        "bad_received_time": 1,
        "malformed_row": 1,
    }
    assert tally.adds_up
    rejections = {o.line: o for o in outcomes if isinstance(o, Rejection)}
    assert rejections[5].reason == "missing_call_id"
    assert rejections[6].reason == "missing_received_time"
    assert "'date_time'" in rejections[8].detail
    # The quoted address spans lines 11-12, so the short row after it starts on line 13.
    assert rejections[13].reason == "malformed_row"
    duplicate = next(o for o in outcomes if isinstance(o, Duplicate))
    assert (duplicate.line, duplicate.first_line) == (4, 2)


def test_sdpd_lookups_address_template_and_local_time() -> None:
    outcomes, _ = convert(FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", "sdpd-san-diego")
    received, closed = by_call(outcomes, "E23010000001")
    assert isinstance(received, CallReceived) and isinstance(closed, CallClosed)
    assert received.call_type == "FD - FLAG DOWN/FIELD INITIATED"
    assert received.location is not None
    assert received.location.address == "05TH AVE / G"  # number 0 marks an intersection
    assert received.location.beat == "523 Gaslamp"
    assert received.occurred_at == datetime(2023, 1, 1, 8, 0, 5, tzinfo=UTC)  # PST is UTC-8
    assert received.received_at == RECEIVED_AT
    assert received.source == "sdpd"
    assert closed.disposition == "CAN - CANCEL"


def test_sdpd_mixed_formats_entities_nulls_and_missing_codes() -> None:
    outcomes, _ = convert(FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", "sdpd-san-diego")
    (meet, _closed) = by_call(outcomes, "E23010000002")
    assert isinstance(meet, CallReceived)
    assert meet.occurred_at == datetime(2023, 1, 1, 8, 2, 30, tzinfo=UTC)  # 12-hour format
    assert meet.location is not None
    assert meet.location.address == "1200 O'FARRELL ST"  # &#39; decoded
    assert meet.location.beat is None  # -1 is "no beat"
    assert meet.call_type == "MEET - MEET WITH OUTSIDE AGENCY"
    (unknown, dup) = by_call(outcomes, "E23010000008")
    assert unknown.call_type == "ZZZ"  # no code in the table: code only
    assert unknown.location.address == "100 W MAIN & 1ST ST"
    assert dup.disposition == "DUP - DUPLICATE CALL, XREF'D"
    (shops, _r) = by_call(outcomes, "E23010000009")
    assert shops.location.address == "SHOPS INFO LOG"  # newline folded
    assert shops.location.beat is None  # literal null


def test_sdpd_no_disposition_means_no_closed_event() -> None:
    outcomes, _ = convert(FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", "sdpd-san-diego")
    (only,) = by_call(outcomes, "E23010000007")
    assert isinstance(only, CallReceived)
    assert only.call_type == "PORT - BORDER/PORT RUNNER A/U"


def test_event_ids_are_deterministic_across_conversions() -> None:
    path = FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv"
    first, _ = convert(path, "sdpd-san-diego")
    mapping = load_mapping(resolve_mapping("sdpd-san-diego"))
    later = list(read_csv(path, mapping, received_at=datetime(2030, 1, 1, tzinfo=UTC)))
    ids = [e.event_id for e in events_of(first)]
    assert ids == [e.event_id for e in events_of(later)]
    assert len(set(ids)) == len(ids)


def test_missing_lookup_file_is_a_clear_error_and_lookup_dir_fixes_it(tmp_path: Path) -> None:
    data = tmp_path / "calls.csv"
    data.write_bytes((FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv").read_bytes())
    mapping = load_mapping(resolve_mapping("sdpd-san-diego"))
    with pytest.raises(MappingError, match="CALLWATCH_LOOKUP_DIR"):
        read_csv(data, mapping, received_at=RECEIVED_AT)
    outcomes = list(
        read_csv(data, mapping, received_at=RECEIVED_AT, lookup_dirs=[FIXTURES / "sdpd"])
    )
    assert by_call(outcomes, "E23010000001")[0].call_type == "FD - FLAG DOWN/FIELD INITIATED"


# --- Milwaukee: CRLF, rows out of time order, still-open calls ---------------------------------


def test_mpd_crlf_out_of_order_rows_and_open_calls() -> None:
    outcomes, collector = convert(FIXTURES / "mpd_sample.csv", "mpd-milwaukee")
    tally = collector.tally
    assert (tally.records_read, tally.records_converted, tally.duplicate_records) == (6, 4, 1)
    assert dict(tally.rejected) == {"missing_received_time": 1}
    assert tally.adds_up
    meet = by_call(outcomes, "1211378")
    assert [type(e) for e in meet] == [CallReceived, CallClosed]
    assert meet[0].call_type == "MEET GOVT AGENCY"
    assert meet[0].occurred_at == datetime(2018, 5, 1, 5, 18, 31, tzinfo=UTC)  # CDT
    assert meet[0].location.lat == pytest.approx(43.1133303)
    # "Service in Progress" is not a disposition: the call had not closed.
    assert [type(e) for e in by_call(outcomes, "1212324")] == [CallReceived]
    # A bad longitude is dropped, not the call; the summary notes it.
    battery = by_call(outcomes, "1211384")[0]
    assert battery.location.lon is None and battery.location.lat == pytest.approx(43.0737821)
    assert tally.notes["bad_coordinate:lon"] == 1


# --- Berkeley: multi-line quoted fields, &amp; in one file and & in the other -----------------


@pytest.mark.parametrize("name", ["berkeley_2018_sample.csv", "berkeley_2019_sample.csv"])
def test_berkeley_both_extracts_convert(name: str) -> None:
    outcomes, collector = convert(FIXTURES / name, "berkeley-pd")
    assert collector.tally.adds_up
    first = events_of(outcomes)[0]
    assert isinstance(first, CallReceived) and first.location is not None
    assert "&amp;" not in (first.location.address or "")
    assert first.location.lat is not None


def test_berkeley_date_plus_time_columns_and_partial_location() -> None:
    outcomes, collector = convert(FIXTURES / "berkeley_2018_sample.csv", "berkeley-pd")
    tally = collector.tally
    assert tally.records_read == 4
    assert dict(tally.rejected) == {"missing_received_time": 1}  # EVENTTM empty
    # Row 4 repeats row 1 but for its load timestamp: a new row, the same event.
    assert tally.records_converted == 3 and tally.duplicate_events == 1
    disturbance = by_call(outcomes, "18022300")[0]
    assert disturbance.occurred_at == datetime(2018, 4, 19, 5, 17, tzinfo=UTC)
    assert disturbance.location.address == "OREGON STREET & MCGEE AVE"
    assert (disturbance.location.lat, disturbance.location.lon) == (37.856572, -122.275241)
    theft = by_call(outcomes, "18026683")[0]
    assert theft.location.lat is None  # only two lines, no coordinates
    assert theft.call_type == "THEFT MISD. (UNDER $950) (LARCENY)"


# --- San Francisco Fire: one row per unit, grouped into ordered calls ---------------------------


def test_sffd_unit_rows_become_one_ordered_sequence_per_call() -> None:
    outcomes, collector = convert(FIXTURES / "sffd_sample.csv", "sffd-san-francisco-fire")
    tally = collector.tally
    assert tally.records_read == 7
    assert tally.duplicate_records == 1
    assert dict(tally.rejected) == {"missing_call_id": 1, "missing_received_time": 1}
    assert tally.records_converted == 4 and tally.adds_up
    call = by_call(outcomes, "192910017")
    kinds = [(type(e).__name__, getattr(e, "unit", None)) for e in call]
    assert kinds == [
        ("CallReceived", None),
        ("UnitDispatched", "E11"),
        ("UnitDispatched", "M01"),
        ("UnitEnRoute", "E11"),
        ("UnitOnScene", "M01"),  # 12:08:40, before its own en-route time: the source's order
        ("UnitEnRoute", "M01"),
        ("UnitOnScene", "E11"),
        ("UnitCleared", "E11"),
        ("UnitCleared", "M01"),
        ("CallClosed", None),
    ]
    times = [e.occurred_at for e in call]
    assert times == sorted(times)
    assert len([e for e in call if isinstance(e, CallReceived)]) == 1
    closed = call[-1]
    assert isinstance(closed, CallClosed)
    assert closed.occurred_at == datetime(2019, 10, 18, 7, 40, 1, tzinfo=UTC)  # the last unit
    assert all(e.role == "other" for e in call if isinstance(e, UnitDispatched))


def test_sffd_null_timestamps_leave_events_out() -> None:
    outcomes, _ = convert(FIXTURES / "sffd_sample.csv", "sffd-san-francisco-fire")
    call = by_call(outcomes, "192910018")
    assert not [e for e in call if isinstance(e, UnitOnScene)]  # On Scene DtTm is null
    assert len([e for e in call if isinstance(e, UnitCleared)]) == 2
    received = call[0]
    assert isinstance(received, CallReceived)
    assert received.location is not None
    assert received.location.lon == pytest.approx(-122.4202535645237)
    assert received.location.beat == "Battalion B06 Station 11"


# --- the mapping format itself --------------------------------------------------------------------


def test_shipped_mappings_load_and_match_the_json_schema() -> None:
    # Version-1 files keep matching the frozen version-1 schema as well as the current one.
    schema = json.loads(schema_path(MAPPING_SCHEMA_FILE).read_text())
    v1_schema = json.loads(schema_path(MAPPING_V1_SCHEMA_FILE).read_text())
    assert set(shipped_mappings()) >= {
        "sdpd-san-diego",
        "mpd-milwaukee",
        "berkeley-pd",
        "sffd-san-francisco-fire",
    }
    for path in shipped_mappings().values():
        load_mapping(path)
        document = yaml.safe_load(path.read_text())
        document["sentinel_dates"] = [str(d) for d in document.get("sentinel_dates", [])]
        jsonschema.Draft202012Validator(schema).validate(document)
        if document["version"] == 1:
            jsonschema.Draft202012Validator(v1_schema).validate(document)


def test_committed_mapping_schema_is_what_the_structs_generate() -> None:
    committed = schema_path(MAPPING_SCHEMA_FILE).read_text()
    assert committed == render_mapping_json_schema(), (
        "run: python -m streams.adapters.generate_mapping_schema"
    )


MINIMAL = """
version: 1
source: test
timezone: UTC
call_id: id
events:
  - {type: call.received, at: time}
"""


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (MINIMAL + "fields: {call_type: {colum: nature}}\n", "`colum`"),
        (MINIMAL + "fields: {call_type: {colum: nature}}\n", "did you mean `column`"),
        (MINIMAL + "feilds: {}\n", "`feilds`"),
        (MINIMAL.replace("UTC", "Mars/Olympus"), "`timezone`"),
        (MINIMAL + "lookups: {codes: {file: x.csv, key: k}}\n", "$.lookups.codes"),
        (MINIMAL + "fields: {call_type: {column: c, lookup: nope}}\n", "fields.call_type.lookup"),
        (MINIMAL + "fields: {address: {template: '{a} [{b}'}}\n", "fields.address.template"),
        (MINIMAL.replace("call.received", "call.closed"), "exactly one call.received"),
        (MINIMAL + "  - {type: unit.on_scene, at: t2}\n", "fields.unit"),
        ("version: 3\n" + MINIMAL.replace("version: 1\n", ""), "$.version"),
        ("- just\n- a list\n", "top level"),
    ],
)
def test_bad_mappings_name_the_offending_key(text: str, named: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, origin="city.yaml")
    assert named in str(caught.value)
    assert str(caught.value).startswith("city.yaml: ")


def test_header_missing_a_mapped_column_is_reported_before_any_row() -> None:
    mapping = parse_mapping(MINIMAL + "fields: {call_type: nature}\n")
    with pytest.raises(MappingError, match=r"not in the header: \['nature'\]"):
        convert_rows(
            io.StringIO("id,time\n1,2024-01-01 00:00:00\n"),
            mapping,
            lookups={},
            received_at=RECEIVED_AT,
        )


def test_template_optional_parts() -> None:
    template = Template.parse("{a} {b}[ / {c} {d}][ ({e|codes})]")
    values = {"a": "1", "b": "MAIN", "c": None, "d": None, "e": "X"}
    codes = {"X": "ex"}

    def resolve(p: Any) -> str | None:
        value = values[p.column]
        return codes.get(value or "") if p.lookup else value

    assert template.render(resolve) == "1 MAIN (ex)"
    values |= {"d": "ST"}
    assert template.render(resolve) == "1 MAIN / ST (ex)"


def test_per_unit_without_unit_events_and_event_time_received_at() -> None:
    mapping = parse_mapping(
        MINIMAL.replace("source: test", "source: t\nreceived_at: event_time")
        + "fields: {priority: p}\n"
    )
    outcomes = list(
        convert_rows(
            io.StringIO("id,time,p\nA,2024-01-01 00:00:00,1\n"),
            mapping,
            lookups={},
            received_at=RECEIVED_AT,
        )
    )
    (converted,) = outcomes
    assert isinstance(converted, Converted)
    (event,) = converted.events
    assert event.received_at == event.occurred_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_open_input_picks_the_shipped_mapping_from_the_header() -> None:
    opened = open_input(FIXTURES / "sffd_sample.csv", received_at=RECEIVED_AT)
    assert (opened.format, opened.mapping_name) == ("csv", "sffd-san-francisco-fire")
    opened = open_input(FIXTURES / "mpd_sample.csv", received_at=RECEIVED_AT)
    assert opened.mapping_name == "mpd-milwaukee"


cells = st.one_of(
    st.sampled_from(["", "NULL", "null", "1900-01-01 00:00:00", "2024-02-29 23:59:59", "x"]),
    st.text(max_size=12),
)


@settings(max_examples=150, deadline=None, database=None)
@given(rows=st.lists(st.lists(cells, min_size=2, max_size=5), max_size=12))
def test_any_rows_either_convert_or_are_rejected_and_the_counts_add_up(
    rows: list[list[str]],
) -> None:
    mapping = parse_mapping(
        MINIMAL
        + "  - {type: call.closed, at: c, requires: [call_type]}\n"
        + "fields: {call_type: c, narrative: c}\n"
    )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "time", "c"])
    writer.writerows(rows)
    collector = Collector()
    outcomes = convert_rows(
        io.StringIO(text.getvalue()), mapping, lookups={}, received_at=RECEIVED_AT
    )
    for outcome in outcomes:
        collector.accept(outcome)
    assert collector.tally.adds_up
