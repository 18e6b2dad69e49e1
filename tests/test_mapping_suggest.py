"""``callwatch mapping suggest``: the draft loads, explains itself and converts the export."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from callwatch.cli import app
from callwatch.commands.mapping import suggest
from schemas.events import event_type
from streams.adapters import Collector, Converted
from streams.adapters.csv_mapping import read_csv
from streams.adapters.mapping import parse_mapping

FIXTURES = Path(__file__).parent / "fixtures" / "mapping_v2"
AT = datetime(2026, 1, 1, tzinfo=UTC)


def suggested(path: Path) -> tuple[str, dict[str, object]]:
    out, err = io.StringIO(), io.StringIO()
    assert suggest(path, out, err) == 0, err.getvalue()
    return out.getvalue(), yaml.safe_load(out.getvalue())


def converted_share(path: Path, text: str) -> tuple[float, list[object]]:
    collector = Collector()
    outcomes = list(read_csv(path, parse_mapping(text), received_at=AT))
    for outcome in outcomes:
        collector.accept(outcome)
    tally = collector.tally
    assert tally.adds_up
    return tally.records_converted / tally.records_read, outcomes


def test_arcgis_features_and_epoch_milliseconds_are_recognised() -> None:
    text, doc = suggested(FIXTURES / "arcgis.json")
    assert (doc["format"], doc["record_path"], doc["call_id"]) == (
        "json",
        "features[].attributes",
        "CallNo",
    )
    assert doc["events"][0] == {
        "type": "call.received",
        "at": {"column": "ReceivedEpoch", "epoch": "ms"},
    }
    assert "TODO: the zone" in text  # DispatchedLocal has no offset: the question is asked
    share, _ = converted_share(FIXTURES / "arcgis.json", text)
    assert share == pytest.approx(2 / 3)  # the third record has no receipt time at all


def test_socrata_rows_json_and_plain_arrays_with_no_id_column() -> None:
    text, doc = suggested(FIXTURES / "socrata_rows.json")
    assert (doc["record_path"], doc["columns_path"]) == ("data[]", "meta.view.columns[].fieldName")
    assert doc["timezone"] == "UTC" and "TODO" not in text.split("timezone:")[1].split("\n")[0]
    text, doc = suggested(FIXTURES / "plain_array.json")
    assert "template" in doc["call_id"] and "TODO: no column is an id" in text
    assert doc["fields"]["lat"] == "location.latitude"  # a nested key
    share, _ = converted_share(FIXTURES / "plain_array.json", text)
    assert share == pytest.approx(3 / 4)  # the fourth is an exact duplicate


def test_date_and_time_columns_and_packed_units() -> None:
    text, doc = suggested(FIXTURES / "midnight_units.csv")
    events = doc["events"]
    assert events[0] == {"type": "call.received", "at": {"date": "CallDate", "time": "RecvTime"}}
    assert {
        "type": "unit.dispatched",
        "at": {"time": "DispTime"},
        "units": {"column": "Units"},
    } in events
    assert {
        "type": "unit.on_scene",
        "units": {"column": "OnScene", "time_separator": "="},
    } in events
    assert doc["primary_unit"] == "PRIMARY"  # ArrTime, ClrTime: call-level, no unit id
    share, outcomes = converted_share(FIXTURES / "midnight_units.csv", text)
    assert share == 1.0
    units = {
        getattr(e, "unit", None)
        for o in outcomes
        if isinstance(o, Converted)
        for e in o.events
        if event_type(e) == "unit.dispatched"
    }
    assert units == {"A12", "B7", "E12", "PRIMARY"}


def test_a_twelve_hour_clock_without_am_pm_is_flagged_and_resolved(tmp_path: Path) -> None:
    start = datetime(2024, 5, 1, 0, 20)
    rows = ["IncidentNo,CallTime,ClosedTime,Nature"]
    for n in range(48):
        received = start + timedelta(minutes=37 * n)
        hour = received.hour % 12 or 12
        written = f"{received:%m/%d/%Y} {hour}:{received:%M:%S}"
        closed = received + timedelta(minutes=25)
        rows.append(f"I{n},{written},{closed:%Y-%m-%d %H:%M:%S},NOISE")
    path = tmp_path / "twelve.csv"
    path.write_text("\n".join(rows) + "\n")
    text, doc = suggested(path)
    at = doc["events"][0]["at"]
    assert at == {"column": "CallTime", "clock": "12h", "clock_from": "ClosedTime"}
    assert "12-hour clock" in text
    share, outcomes = converted_share(path, text.replace("timezone: UTC", "timezone: UTC"))
    assert share == 1.0
    times = [e.occurred_at for o in outcomes if isinstance(o, Converted) for e in o.events[:1]]
    expected = [(start + timedelta(minutes=37 * n)).replace(tzinfo=UTC) for n in range(48)]
    assert times == expected  # every PM time read as PM


def test_the_command_writes_a_loadable_file_and_refuses_unreadable_exports(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "mine.yaml"
    result = runner.invoke(
        app, ["mapping", "suggest", str(FIXTURES / "socrata_rows.json"), "-o", str(target), "--try"]
    )
    assert result.exit_code == 0, result.output
    assert parse_mapping(target.read_text()).source == "socrata-rows"
    assert "3 records read, 2 converted" in result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["mapping", "suggest", str(empty)])
    assert result.exit_code == 2 and "no records" in result.output
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    result = runner.invoke(app, ["mapping", "suggest", str(binary)])
    assert result.exit_code == 2
