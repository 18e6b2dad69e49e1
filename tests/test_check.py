"""``callwatch check``: the same findings for any input order, counts that add up,
an exit status that tells the truth, and the data-quality report."""

from __future__ import annotations

import io
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from callwatch.cli import app
from callwatch.commands.check import CheckOptions, run_check
from streams.adapters import InputError
from streams.engine.policy import load_policy
from streams.engine.sorted_input import EventSorter
from streams.engine.state import Engine
from streams.originator import make_classifier
from streams.simulate import SimulationConfig, event_lines, simulate

START = datetime(2017, 4, 10, 6, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)  # "now" for the run: nothing simulated is future
POLICY = load_policy()
ENGINE = Engine(POLICY, make_classifier())


def check(
    paths: Path | list[Path], tmp_path: Path, **options: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    options.setdefault("as_json", True)
    options.setdefault("quiet", True)
    out, err = io.StringIO(), io.StringIO()
    summary = run_check(
        paths,
        engine=ENGINE,
        policy=POLICY,
        out=out,
        err=err,
        options=CheckOptions(spill_dir=tmp_path, **options),
        received_at=RECEIVED,
    )
    assert orjson.loads(err.getvalue().splitlines()[-1]) == summary  # --json: one object
    return [orjson.loads(line) for line in out.getvalue().splitlines()], summary


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in lines))
    return path


# Only what a finding is: the same call, rule, status, times and history.
def findings_of(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (f["call_id"], f["rule"], f["status"], f["violation_at"], f["resolved_at"], f["revision"])
        for f in records
    ]


SAME_KEYS = (
    "records_read",
    "records_converted",
    "duplicate_records",
    "records_rejected",
    "events",
    "duplicate_events",
    "late_after_eviction",
    "calls",
    "flagged_calls",
    "review_queue_calls",
    "findings",
    "findings_by_status",
)


def same_audit(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert {k: a[k] for k in SAME_KEYS} == {k: b[k] for k in SAME_KEYS}
    counts = lambda s: [(e["kind"], e["column"], e["count"]) for e in s["data_quality"]]  # noqa: E731
    assert counts(a) == counts(b)


@pytest.fixture(scope="module")
def day() -> tuple[list[bytes], dict[tuple[str, str], str]]:
    sim = simulate(SimulationConfig(start=START, seed=7, hours=24))
    truth = {(t.call_id, f.rule): f.status for t in sim.truth for f in t.expected_findings}
    return list(event_lines(sim.events)), truth


# ------------------------------------------------------------------------ any order


@pytest.mark.parametrize("order", ["newest_first", "shuffled", "grouped_by_call", "two_files"])
def test_any_input_order_recovers_the_ground_truth(day, tmp_path: Path, order: str) -> None:
    lines, truth = day
    if order == "newest_first":
        paths: Path | list[Path] = write(tmp_path / "in.jsonl", lines[::-1])
    elif order == "shuffled":
        shuffled = lines[:]
        random.Random(3).shuffle(shuffled)
        paths = write(tmp_path / "in.jsonl", shuffled)
    elif order == "grouped_by_call":
        grouped = sorted(lines, key=lambda line: orjson.loads(line)["call_id"])
        paths = write(tmp_path / "in.jsonl", grouped)
    else:  # the second half first, in separate files
        half = len(lines) // 2
        paths = [
            write(tmp_path / "b.jsonl", lines[half:]),
            write(tmp_path / "a.jsonl", lines[:half]),
        ]
    # a small run size: the sort spills many runs and merges them with a heap
    found, summary = check(paths, tmp_path, run_records=2_000)
    assert {(f["call_id"], f["rule"]): f["status"] for f in found} == truth
    assert summary["events"] == len(lines)
    assert summary["records_rejected"] == {} and summary["counts_add_up"]
    assert summary["exit_status"] == 0


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
    ],
)
@given(
    seed=st.integers(0, 10_000),
    hours=st.floats(1, 6),
    # a seed for the permutation, not st.randoms(): a shuffle of thousands of lines would
    # draw more entropy than hypothesis allows per example
    shuffle_seed=st.integers(0, 2**32),
    run_records=st.sampled_from([50, 400, 100_000]),
    jobs=st.sampled_from([1, 2]),
)
def test_any_permutation_gives_the_time_ordered_findings(
    tmp_path: Path, seed: int, hours: float, shuffle_seed: int, run_records: int, jobs: int
) -> None:
    sim = simulate(
        SimulationConfig(start=START, seed=seed, hours=hours, agency_calls=6, calls_per_hour=20)
    )
    lines = list(event_lines(sim.events))
    # some exact copies of lines, so reader-level duplicates are part of the property
    lines += [lines[i] for i in range(0, len(lines), 17)]
    lines.sort(key=lambda line: orjson.loads(line)["occurred_at"])
    ordered = write(tmp_path / f"ordered-{seed}.jsonl", lines)
    permuted_lines = lines[:]
    random.Random(shuffle_seed).shuffle(permuted_lines)
    permuted = write(tmp_path / f"permuted-{seed}.jsonl", permuted_lines)
    expected, base = check(ordered, tmp_path)
    found, summary = check(permuted, tmp_path, run_records=run_records, jobs=jobs)
    assert findings_of(found) == findings_of(expected)
    assert found == expected  # every field, histories included
    same_audit(summary, base)
    assert summary["duplicate_records"] == len(range(0, len(sim.events), 17))


def test_the_sort_spills_merges_in_rounds_and_reads_twice(tmp_path: Path) -> None:
    rng = random.Random(1)
    records = [
        (rng.randrange(1000), f"C{rng.randrange(50)}", f"E{i}", b"x", 0, i) for i in range(5000)
    ]
    sorter = EventSorter(tmp_path, run_records=97, block_records=10, max_fanout=4)
    for record in records:
        sorter.add(record)
    assert list(sorter.sorted()) == sorted(records)
    assert len(sorter.runs) <= 4  # merged in rounds down to the fan-out
    assert list(sorter.sorted()) == sorted(records)  # --strict reads the merge twice


def test_records_in_order_are_chained_not_heap_merged(tmp_path: Path) -> None:
    records = [(i, "C", f"E{i:05d}", b"", 0, i) for i in range(1000)]
    sorter = EventSorter(tmp_path, run_records=100)
    for record in records:
        sorter.add(record)
    merged = sorter.sorted()
    assert type(merged).__name__ == "chain"
    assert list(merged) == records


# -------------------------------------------------------------------- bad input


def event(kind: str, call: str, at: str, n: int, **fields: Any) -> bytes:
    body = {
        "type": kind,
        "event_id": f"{call}.{n:03d}",
        "call_id": call,
        "occurred_at": at,
        "received_at": at,
        "source": "test",
        **fields,
    }
    return orjson.dumps(body)


RECEIPT = {"line": {"kind": "911", "recorded": True}, "call_type": "ALARM"}


def a_call(call: str = "C1", day: str = "2024-03-01") -> list[bytes]:
    return [
        event("call.received", call, f"{day}T10:00:00Z", 1, **RECEIPT),
        event("unit.dispatched", call, f"{day}T10:02:00Z", 2, unit="A1"),
        event("unit.on_scene", call, f"{day}T10:09:00Z", 3, unit="A1"),
        event("call.closed", call, f"{day}T10:30:00Z", 4, disposition="DONE"),
    ]


def test_an_empty_file_is_not_a_clean_audit(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    found, summary = check(path, tmp_path)
    assert found == [] and summary["records_read"] == 0
    assert summary["exit_status"] == 1
    assert "no records" in summary["exit_reason"] and "empty" in summary["exit_reason"]


def test_a_truncated_last_line_is_rejected_with_its_line(tmp_path: Path) -> None:
    lines = a_call()
    lines[-1] = lines[-1][:40]  # the export was cut off mid-line
    rejects = tmp_path / "rejects.jsonl"
    _, summary = check(write(tmp_path / "in.jsonl", lines), tmp_path, rejects=rejects)
    assert summary["records_rejected"] == {"invalid_json": 1}
    assert summary["events"] == 3 and summary["exit_status"] == 0
    (reject,) = map(orjson.loads, rejects.read_bytes().splitlines())
    assert reject["line"] == 4 and reject["reason"] == "invalid_json"
    assert reject["text"] == lines[-1].decode() and reject["file"].endswith("in.jsonl")


def test_invalid_utf8_is_rejected_and_counted(tmp_path: Path) -> None:
    bad = event("call.received", "C9", "2024-03-01T11:00:00Z", 1, **RECEIPT).replace(
        b"ALARM", b"AL\xffARM"
    )
    _, summary = check(write(tmp_path / "in.jsonl", [*a_call(), bad]), tmp_path)
    assert summary["records_rejected"] == {"invalid_utf8": 1}
    assert summary["records_read"] == 5 and summary["counts_add_up"]


def test_a_10_mb_line_is_rejected_without_being_copied_whole(tmp_path: Path) -> None:
    huge = b'{"type":"call.received","narrative":"' + b"x" * 10_000_000 + b'"}'
    rejects = tmp_path / "rejects.jsonl"
    path = write(tmp_path / "in.jsonl", [a_call()[0], huge, *a_call()[1:]])
    _, summary = check(path, tmp_path, rejects=rejects)
    assert summary["records_rejected"] == {"oversize": 1}
    assert summary["events"] == 4 and summary["exit_status"] == 0
    (reject,) = map(orjson.loads, rejects.read_bytes().splitlines())
    assert reject["line"] == 2 and reject["bytes"] == len(huge) + 1
    assert reject["text_truncated"] and len(reject["text"]) <= 4096


def test_a_binary_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 10)
    with pytest.raises(InputError, match=r"gzip-compressed.*nothing read"):
        check(path, tmp_path)
    result = CliRunner().invoke(app, ["check", "-q", str(path)])
    assert result.exit_code == 2
    assert "gzip-compressed" in result.output


def test_a_file_of_only_rejected_lines_exits_1_with_the_reasons(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", [b"not json", b"[1, 2]", b"{}"])
    found, summary = check(path, tmp_path)
    assert found == []
    assert summary["records_rejected"] == {
        "invalid_json": 1,
        "not_an_object": 1,
        "unknown_type": 1,
    }
    assert summary["exit_status"] == 1
    assert "all 3 records were rejected" in summary["exit_reason"]
    result = CliRunner().invoke(app, ["check", "-q", str(path)])
    assert result.exit_code == 1
    assert "no event could be used" in result.output


def test_more_rejected_than_the_allowed_share_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", [*a_call(), b"x", b"y", b"z"])
    _, summary = check(path, tmp_path, max_rejected_share=0.25)
    assert (
        summary["exit_status"] == 1
        and "42.9% of the records were rejected" in (summary["exit_reason"])
    )
    _, summary = check(path, tmp_path, max_rejected_share=0.5)
    assert summary["exit_status"] == 0


def test_copies_are_counted_as_duplicate_records_and_events(tmp_path: Path) -> None:
    lines = a_call()
    # the same event id with other bytes (a re-export): a duplicate event, not a record
    again = event("unit.dispatched", "C1", "2024-03-01T10:02:00Z", 2, unit="A1", role="patrol")
    path = write(tmp_path / "in.jsonl", [*lines, lines[1], lines[1], again])
    _, summary = check(path, tmp_path)
    assert summary["duplicate_records"] == 2 and summary["duplicate_events"] == 1
    assert summary["records_converted"] == 5 and summary["counts_add_up"]


# -------------------------------------------------------------- data quality


def quality(summary: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    return {
        e["kind"]: (e["count"], [place.rsplit(":", 1)[1] for place in e["first"]])
        for e in summary["data_quality"]
    }


def test_the_data_quality_report_names_each_anomaly_with_its_lines(tmp_path: Path) -> None:
    lines = [
        *a_call("OK"),
        # a unit on scene before the call came in (a time-only column across midnight)
        event("unit.on_scene", "EARLY", "2024-03-01T23:58:00Z", 2, unit="B2"),
        event("call.received", "EARLY", "2024-03-02T00:05:00Z", 1, **RECEIPT),
        # closed, then dispatched
        event("call.received", "CLOSED", "2024-03-01T12:00:00Z", 1, **RECEIPT),
        event("call.closed", "CLOSED", "2024-03-01T12:01:00Z", 2, disposition="X"),
        event("unit.dispatched", "CLOSED", "2024-03-01T12:20:00Z", 3, unit="C3"),
        # two events of one call 30 h apart
        event("call.received", "GAP", "2024-03-01T08:00:00Z", 1, **RECEIPT),
        event("call.closed", "GAP", "2024-03-02T14:00:00Z", 2, disposition="X"),
        # a year in the future of the run
        event("call.received", "FUTURE", "2027-01-01T00:00:00Z", 1, **RECEIPT),
        # unit events and no receipt at all
        event("unit.dispatched", "NORECEIPT", "2024-03-01T09:00:00Z", 1, unit="D4"),
    ]
    shuffled = lines[:]
    random.Random(5).shuffle(shuffled)
    path = write(tmp_path / "in.jsonl", lines)
    _, summary = check(path, tmp_path)
    assert quality(summary) == {
        "unit_before_receipt": (1, ["5"]),
        "closed_before_dispatched": (1, ["8"]),
        "events_far_apart": (1, ["11"]),
        "time_in_future": (1, ["12"]),
        "call_without_receipt": (1, ["13"]),
    }
    entry = next(e for e in summary["data_quality"] if e["kind"] == "events_far_apart")
    assert entry["share"] == pytest.approx(1 / 13)
    assert summary["exit_status"] == 0
    _, again = check(write(tmp_path / "shuffled.jsonl", shuffled), tmp_path)
    assert {k: v[0] for k, v in quality(again).items()} == {
        k: v[0] for k, v in quality(summary).items()
    }


def test_strict_turns_anomalies_into_rejections(tmp_path: Path) -> None:
    lines = [
        *a_call("OK"),
        event("call.received", "CLOSED", "2024-03-01T12:00:00Z", 1, **RECEIPT),
        event("call.closed", "CLOSED", "2024-03-01T12:01:00Z", 2, disposition="X"),
        event("unit.dispatched", "CLOSED", "2024-03-01T12:20:00Z", 3, unit="C3"),
    ]
    rejects = tmp_path / "rejects.jsonl"
    path = write(tmp_path / "in.jsonl", lines)
    _, summary = check(path, tmp_path, strict=True, rejects=rejects)
    assert summary["records_rejected"] == {"strict_closed_before_dispatched": 1}
    assert summary["events"] == 6 and summary["counts_add_up"]
    (reject,) = map(orjson.loads, rejects.read_bytes().splitlines())
    assert reject["line"] == 6 and '"call.closed"' in reject["text"]
    _, lenient = check(path, tmp_path)
    assert lenient["records_rejected"] == {} and lenient["events"] == 7


def test_a_future_event_does_not_make_deadlines_due(tmp_path: Path) -> None:
    """A typo'd year must not judge every open deadline as of 2099 (as the live clock)."""
    ice = {
        "line": {"kind": "admin", "recorded": True},
        "caller": {"agency": "ICE", "name": "ICE AGENT SMITH"},
        "narrative": "ICE AGENT REQUESTING ASSIST WITH ADMINISTRATIVE WARRANT",
    }
    lines = [
        event("call.received", "ICE1", "2024-03-01T10:00:00Z", 1, **ice),
        event("call.received", "TYPO", "2099-03-01T10:00:00Z", 1, **RECEIPT),
    ]
    found, summary = check(write(tmp_path / "in.jsonl", lines), tmp_path)
    assert summary["immigration_agency_calls"] == 1
    assert summary["last_event_at"] == "2024-03-01T10:00:00Z"
    assert found == []  # commander-notified is due at 10:10, after the last real event


def test_the_summary_lists_flagged_calls_by_id_in_text(tmp_path: Path, day) -> None:
    lines, truth = day
    path = write(tmp_path / "in.jsonl", lines)
    result = CliRunner().invoke(app, ["check", "-q", str(path)])
    assert result.exit_code == 0
    flagged = sorted({call for call, _ in truth})
    assert "immigration-agency calls (" in result.output
    assert flagged[0] in result.output
    assert "counts add up (ok)" in result.output
    assert "data quality" in result.output


def test_the_rejects_of_a_csv_export_carry_the_row_text(tmp_path: Path) -> None:
    csv = tmp_path / "calls.csv"
    csv.write_text(
        "IncidentNo,Received\nA1,2024-03-01 10:00:00\n,2024-03-01 10:05:00\nA3,garbage\n"
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nsource: t\ntimezone: UTC\ndatetime_formats: ['%Y-%m-%d %H:%M:%S']\n"
        "call_id: IncidentNo\nevents:\n  - {type: call.received, at: Received}\n"
    )
    rejects = tmp_path / "rejects.jsonl"
    _, summary = check(csv, tmp_path, mapping=str(mapping), rejects=rejects, max_rejected_share=1.0)
    assert summary["records_rejected"] == {"bad_received_time": 1, "missing_call_id": 1}
    assert summary["events"] == 1 and summary["exit_status"] == 0
    got = {r["line"]: r["text"] for r in map(orjson.loads, rejects.read_bytes().splitlines())}
    assert got == {3: ",2024-03-01 10:05:00", 4: "A3,garbage"}


def test_convert_reports_data_quality_and_strict_rejects(tmp_path: Path) -> None:
    from callwatch.commands.convert import convert

    csv = tmp_path / "calls.csv"
    csv.write_text(
        "IncidentNo,Received,Dispatched,Unit\n"
        "A1,2024-03-01 10:00:00,2024-03-01 10:03:00,U1\n"
        "A2,2024-03-01 11:00:00,2024-03-01 10:55:00,U2\n"  # dispatched before received
        "A3,2024-03-01 12:00:00,2024-03-01 12:04:00,U3\n"
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nsource: t\ntimezone: UTC\ndatetime_formats: ['%Y-%m-%d %H:%M:%S']\n"
        "call_id: IncidentNo\nfields:\n  unit: Unit\nevents:\n"
        "  - {type: call.received, at: Received}\n  - {type: unit.dispatched, at: Dispatched}\n"
    )
    out, err = io.StringIO(), io.StringIO()
    assert convert(csv, mapping, out, err, received_at=RECEIVED) == 0
    assert re.search(r"unit_before_receipt\s+1\s+33.33%\s+lines 3\n", err.getvalue())
    assert len(out.getvalue().splitlines()) == 6
    out, err = io.StringIO(), io.StringIO()
    assert convert(csv, mapping, out, err, received_at=RECEIVED, strict=True) == 0
    assert re.search(r"strict_unit_before_receipt\s+1", err.getvalue())
    assert len(out.getvalue().splitlines()) == 4
    assert "counts add up (ok): 3 read = 2 converted + 0 duplicate + 1 rejected" in err.getvalue()


@pytest.mark.parametrize("jobs", [1, 2])
def test_strict_gives_the_same_audit_in_any_order(tmp_path: Path, jobs: int) -> None:
    sim = simulate(SimulationConfig(start=START, seed=11, hours=4, agency_calls=6))
    lines = list(event_lines(sim.events))
    # anomalies planted in a few calls: a unit before receipt, an event from the future
    lines.append(
        event("unit.on_scene", sim.events[0].call_id, "2017-04-10T05:00:00Z", 90, unit="Z")
    )
    lines.append(event("call.updated", sim.events[5].call_id, "2030-01-01T00:00:00Z", 91))
    ordered = write(tmp_path / "ordered.jsonl", lines)
    shuffled = lines[:]
    random.Random(2).shuffle(shuffled)
    permuted = write(tmp_path / "permuted.jsonl", shuffled)
    expected, base = check(ordered, tmp_path, strict=True)
    found, summary = check(permuted, tmp_path, strict=True, jobs=jobs, run_records=300)
    assert found == expected
    same_audit(summary, base)
    assert summary["records_rejected"] == {
        "strict_time_in_future": 1,
        "strict_unit_before_receipt": 1,
    }


def test_adapter_anomalies_reach_the_report_and_strict_rejects_their_rows(tmp_path: Path) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "mapping_v2"
    csv, mapping = fixtures / "midnight_units.csv", str(fixtures / "midnight_units.yaml")
    _, summary = check(csv, tmp_path, mapping=mapping)
    found = {(e["kind"], e["column"]): (e["count"], e["first"]) for e in summary["data_quality"]}
    assert found[("midnight_rollover", "ArrTime")] == (1, [f"{csv}:2"])
    assert found[("unknown_enum", "officer_rank")] == (1, [f"{csv}:3"])
    assert found[("unparsed_time", "OnScene")] == (1, [f"{csv}:3"])
    assert summary["records_converted"] == 3 and summary["exit_status"] == 0
    _, strict = check(csv, tmp_path, mapping=mapping, strict=True, max_rejected_share=1.0)
    assert strict["records_rejected"] == {
        "strict_midnight_rollover": 1,
        "strict_unparsed_time": 1,  # row 3: its first anomaly names the reason
    }
    assert strict["records_converted"] == 1 and strict["counts_add_up"]


def test_finding_records_spilled_to_disk_give_the_same_output(
    day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streams.engine.audit as audit

    path = write(tmp_path / "in.jsonl", day[0])
    in_memory, _ = check(path, tmp_path)
    monkeypatch.setattr(audit, "FINDING_RUN_RECORDS", 3)  # a run every 3 finding changes
    spilled, summary = check(path, tmp_path, jobs=2)
    assert spilled == in_memory and len(spilled) == summary["findings"] > 3
