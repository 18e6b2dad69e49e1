"""``callwatch convert``: events on stdout, a summary whose counts add up on stderr."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from callwatch.commands.convert import convert, convert_command
from streams.codec import Rejected, decode

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
AT = datetime(2026, 1, 2, tzinfo=UTC)


def run(input: Path, mapping: Path | str | None = None, **kwargs: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = convert(input, mapping, out, err, received_at=AT, **kwargs)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def figure(summary: str, label: str) -> int:
    match = re.search(rf"^\s+{re.escape(label)}\s+(\d+)", summary, re.MULTILINE)
    assert match, f"{label!r} not in summary:\n{summary}"
    return int(match.group(1))


def test_events_are_valid_json_lines_and_the_summary_adds_up() -> None:
    code, out, err = run(FIXTURES / "sffd_sample.csv")
    assert code == 0
    lines = out.splitlines()
    assert lines and all(not isinstance(decode(line.encode()), Rejected) for line in lines)
    assert "mapping sffd-san-francisco-fire" in err  # picked from the header
    assert figure(err, "rows read") == 7
    assert figure(err, "rows converted") == 4
    assert figure(err, "duplicate rows") == 1
    assert figure(err, "rows rejected") == 2
    assert figure(err, "missing_call_id") == 1
    assert figure(err, "events written") == len(lines)
    assert "counts add up (ok): 7 read = 4 converted + 1 duplicate + 2 rejected" in err


def test_the_first_rejection_of_each_reason_is_shown_with_its_line() -> None:
    code, _, err = run(FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", "sdpd-san-diego")
    assert code == 0
    assert re.search(r"bad_received_time\s+1\s+first: line 8: column 'date_time'", err)
    assert re.search(r"malformed_row\s+1\s+first: line 13:", err)


def test_same_input_twice_gives_identical_output() -> None:
    first = run(FIXTURES / "mpd_sample.csv", "mpd-milwaukee")
    assert first == run(FIXTURES / "mpd_sample.csv", "mpd-milwaukee")


def test_mapping_given_as_a_path(tmp_path: Path) -> None:
    mapping = tmp_path / "mine.yaml"
    mapping.write_text(
        "version: 1\nsource: mine\ntimezone: America/Chicago\ncall_id: id\n"
        "fields: {call_type: nature}\nevents: [{type: call.received, at: time}]\n"
    )
    code, out, err = run(FIXTURES / "mpd_sample.csv", mapping)
    assert code == 0 and "mapping mine" in err
    assert '"source":"mine"' in out.splitlines()[0]


def test_lookup_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "calls.csv"
    shutil.copy(FIXTURES / "sdpd" / "pd_calls_for_service_sample.csv", data)
    code, _, err = run(data, "sdpd-san-diego")
    assert code == 2 and "CALLWATCH_LOOKUP_DIR" in err
    monkeypatch.setenv("CALLWATCH_LOOKUP_DIR", str(FIXTURES / "sdpd"))
    code, out, _ = run(data, "sdpd-san-diego")
    assert code == 0 and "FLAG DOWN/FIELD INITIATED" in out


@pytest.mark.parametrize(
    ("input", "mapping", "message"),
    [
        (FIXTURES / "no-such-file.csv", None, "no such file"),
        (FIXTURES / "mpd_sample.csv", "no-such-city", "no shipped mapping by that name"),
        (FIXTURES / "mpd_sample.csv", "sdpd-san-diego", "not in the header"),
    ],
)
def test_unusable_input_or_mapping_exits_2(input: Path, mapping: str | None, message: str) -> None:
    code, out, err = run(input, mapping)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err


def test_bad_mapping_file_names_the_key(tmp_path: Path) -> None:
    mapping = tmp_path / "bad.yaml"
    mapping.write_text(
        "version: 1\nsource: x\ntimezone: UTC\ncall_id: id\n"
        "events: [{type: call.received, at: time, when: now}]\n"
    )
    code, _, err = run(FIXTURES / "mpd_sample.csv", mapping)
    assert code == 2 and "`when`" in err and "events[0]" in err


def test_nothing_converted_exits_1() -> None:
    code, out, err = run(FIXTURES / "eido" / "missing_timestamp.json")
    assert code == 1 and out == ""
    assert figure(err, "documents rejected") == 1
    assert re.search(r"invalid_eido\s+1\s+first: document 1: .*lastUpdateTimeStamp", err)


def test_eido_and_jsonl_inputs(tmp_path: Path) -> None:
    code, out, err = run(FIXTURES / "eido" / "notify_two_eidos.json")
    assert code == 0 and "(eido)" in err
    assert figure(err, "documents read") == 3 and figure(err, "duplicate documents") == 1
    events = tmp_path / "events.jsonl"
    events.write_text(out + "not json\n")
    code, again, err = run(events)
    assert code == 0 and again == out
    assert figure(err, "lines rejected") == 1 and figure(err, "invalid_json") == 1


def test_typer_command_runs_convert() -> None:
    app = typer.Typer()
    app.command("convert")(convert_command)
    app.command("noop")(lambda: None)  # keeps convert a named subcommand
    result = CliRunner().invoke(
        app, ["convert", str(FIXTURES / "mpd_sample.csv"), "--mapping", "mpd-milwaukee"]
    )
    assert result.exit_code == 0, result.output
    assert '"call_type":"MEET GOVT AGENCY"' in result.stdout
    assert "counts add up (ok)" in result.stderr
