"""JSON lines of canonical events: every bad line is a rejection with its reason and line number."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec

from schemas.events import Caller, CallReceived, UnitDispatched
from streams.adapters import Collector, Converted, Duplicate, Rejection, detect_format, open_input
from streams.adapters.jsonl import convert_lines, read_jsonl
from streams.codec import encode

AT = datetime(2025, 3, 4, 16, 1, 30, tzinfo=UTC)


def received(event_id: str = "e1") -> CallReceived:
    return CallReceived(
        event_id=event_id,
        call_id="C-1",
        occurred_at=AT,
        received_at=AT,
        source="test",
        caller=Caller(agency="ICE", agency_type="police.federal.ice"),
    )


def dispatched() -> UnitDispatched:
    return UnitDispatched(
        event_id="e2", call_id="C-1", occurred_at=AT, received_at=AT, source="test", unit="2A31"
    )


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_good_bad_blank_and_duplicate_lines(tmp_path: Path) -> None:
    good = encode(received())
    lines = [
        good,  # 1
        b"",  # 2: blank, not a record
        b'{"type": "call.received"',  # 3
        b"[1, 2]",  # 4
        b'{"schema": "callwatch.dispatch/9", "type": "call.received"}',  # 5
        b'{"type": "call.exploded"}',  # 6
        b'{"type": "call.received", "event_id": "x"}',  # 7: required fields missing
        b"\xff\xfe",  # 8
        encode(dispatched()) + b"\r",  # 9: CRLF files are fine
        good,  # 10: an exact repeat
    ]
    outcomes = list(read_jsonl(write_lines(tmp_path / "events.jsonl", lines)))
    rejections = {o.line: o.reason for o in outcomes if isinstance(o, Rejection)}
    assert rejections == {
        3: "invalid_json",
        4: "not_an_object",
        5: "unknown_version",
        6: "unknown_type",
        7: "schema_violation",
        8: "invalid_utf8",
    }
    duplicate = next(o for o in outcomes if isinstance(o, Duplicate))
    assert (duplicate.line, duplicate.first_line) == (10, 1)
    converted = [e for o in outcomes if isinstance(o, Converted) for e in o.events]
    assert converted == [received(), dispatched()]
    collector = Collector()
    for outcome in outcomes:
        collector.accept(outcome)
    tally = collector.tally
    assert (tally.records_read, tally.records_converted, tally.duplicate_records) == (9, 2, 1)
    assert tally.records_rejected == 6 and tally.adds_up


def test_oversize_line_is_rejected() -> None:
    big = b'{"type": "call.received", "narrative": "' + b"x" * 2000 + b'"}'
    (outcome,) = convert_lines([big], max_bytes=1024)
    assert isinstance(outcome, Rejection) and outcome.reason == "oversize"


def test_same_event_id_on_different_lines_is_written_once() -> None:
    later = msgspec.structs.replace(received(), received_at=datetime(2030, 1, 1, tzinfo=UTC))
    collector = Collector()
    written = list(collector.events(convert_lines([encode(received()), encode(later)])))
    assert written == [received()]
    assert collector.tally.duplicate_events == 1 and collector.tally.records_converted == 2


def test_detection_by_extension_and_content(tmp_path: Path) -> None:
    line = encode(received())
    assert detect_format(write_lines(tmp_path / "a.jsonl", [line])) == "jsonl"
    assert detect_format(write_lines(tmp_path / "a.log", [line])) == "jsonl"
    assert (
        detect_format(write_lines(tmp_path / "a.txt", [b"{", b'  "eidoVersion": "1.0"', b"}"]))
        == "eido"
    )
    assert detect_format(write_lines(tmp_path / "b.txt", [b'{"eidoVersion": "1.0"}'])) == "eido"
    assert detect_format(write_lines(tmp_path / "c.txt", [b"id,time", b"1,2"])) == "csv"
    opened = open_input(tmp_path / "a.log", received_at=AT)
    assert opened.format == "jsonl" and opened.mapping_name is None


def test_a_type_that_is_not_a_string_is_an_unknown_type() -> None:
    # found by the fuzz test: [] as a type once raised TypeError (unhashable) in the
    # codec's explanation, which would have crashed the ingest agent on every retry
    for value in (b"[]", b"{}", b"7", b"null"):
        (outcome,) = convert_lines([b'{"type": ' + value + b', "event_id": "x"}'])
        assert isinstance(outcome, Rejection) and outcome.reason == "unknown_type", value
