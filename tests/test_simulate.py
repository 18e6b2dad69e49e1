"""The simulator: deterministic, valid, sorted events, and ground truth that holds.

The truth is checked two ways: against the table of findings each pattern is
documented to produce, and against an oracle written here from the policy's rule
text, which reads the generated events -- so a timeline that accidentally breaks
(or fails to break) a rule is caught, whatever the truth claims.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import orjson
import pytest
import typer
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from callwatch.commands.simulate import simulate_command
from schemas import schema_path
from schemas.events import (
    BasisRecorded,
    BodycamActivated,
    BodycamDeactivated,
    CallbackRequested,
    CallClosed,
    CallReceived,
    CallUpdated,
    CommanderAssigned,
    CommanderDeclined,
    DispatchEvent,
    RecordingFailed,
    ReportFiled,
    UnitCleared,
    UnitDispatched,
    UnitOnScene,
)
from streams.codec import decode, encode
from streams.simulate import (
    COMPLIANT,
    DEFAULT_TAIL_HOURS,
    PATTERNS,
    VIOLATION_PATTERNS,
    Simulation,
    SimulationConfig,
    event_lines,
    expected_findings,
    read_truth_line,
    simulate,
    truth_lines,
    truth_summary,
)
from streams.simulation.ordinary_text import FALSE_FRIENDS

START = datetime(2017, 4, 13, 6, 0, tzinfo=UTC)
POLICY = yaml.safe_load(schema_path("policies/louisville.v1.yaml").read_text())
COMMANDING = frozenset(POLICY["commanding_ranks"])
TROUBLE_TYPES = POLICY["rules"]["coding-consistent"]["params"]["trouble_call_types"]
NOT_IN_TROUBLE = POLICY["rules"]["coding-consistent"]["params"]["not_in_trouble_phrases"]

CN, COS, REC, BASIS, CAM, REPORT, CODING = (
    "commander-notified",
    "commander-on-scene",
    "call-recorded",
    "lawful-basis",
    "bodycam-continuous",
    "report-filed",
    "coding-consistent",
)
# The documented findings of every pattern, written out independently of the code.
DOCUMENTED: dict[str, set[tuple[str, str]]] = {
    COMPLIANT: set(),
    "no_commander": {(CN, "open"), (COS, "open")},
    "late_commander": {(CN, "resolved")},
    "dispatch_before_commander": {(CN, "resolved")},
    "commander_not_on_scene": {(COS, "open")},
    "late_commander_on_scene": {(COS, "resolved")},
    "unrecorded_line": {(REC, "open")},
    "callback_on_cell": {(REC, "open")},
    "recording_failed": {(REC, "open")},
    "no_lawful_basis": {(BASIS, "open")},
    "administrative_warrant_only": {(BASIS, "open")},
    "bodycam_on_late": {(CAM, "open")},
    "bodycam_off_early": {(CAM, "open")},
    "bodycam_not_reported": {(CAM, "needs_records")},
    "no_camera_feed": {(CAM, "needs_records")},
    "commander_not_taken": {(CN, "open"), (COS, "open")},
    "commander_not_taken_no_units": {(CN, "open")},
    "commander_rank_unknown": {(CN, "needs_records"), (COS, "open")},
    "no_report": {(REPORT, "open")},
    "late_report": {(REPORT, "resolved")},
    "trouble_coding": {(CODING, "open")},
    "april_13_2017_manpower": {
        (CN, "open"),
        (COS, "open"),
        (BASIS, "open"),
        (CAM, "open"),
        (REPORT, "open"),
    },
    "march_30_2017_clear_house": {(CN, "open"), (COS, "open"), (BASIS, "open"), (REPORT, "open")},
    "april_2017_mailboxes_k9": {
        (CN, "open"),
        (COS, "open"),
        (REC, "open"),
        (REPORT, "open"),
        (CODING, "open"),
    },
}


@cache
def day(seed: int = 7) -> Simulation:
    return simulate(SimulationConfig(seed=seed, start=START, hours=24))


@cache
def agency_heavy(seed: int) -> Simulation:
    """Mostly agency calls, so every pattern and variant shows up many times."""
    return simulate(
        SimulationConfig(
            seed=seed, start=START, n_calls=60, agency_calls=45, compliant_share=0.25, tail_hours=0
        )
    )


def stream_bytes(sim: Simulation) -> bytes:
    return b"".join(event_lines(sim.events))


def by_call(events: Sequence[DispatchEvent]) -> dict[str, list[DispatchEvent]]:
    calls: dict[str, list[DispatchEvent]] = defaultdict(list)
    for event in events:
        calls[event.call_id].append(event)
    return calls


# ------------------------------------------------------------------ determinism


def test_same_seed_and_config_give_identical_bytes() -> None:
    config = SimulationConfig(seed=11, start=START, hours=6)
    first, second = simulate(config), simulate(config)
    assert stream_bytes(first) == stream_bytes(second)
    assert b"".join(truth_lines(first.truth)) == b"".join(truth_lines(second.truth))


def test_a_different_seed_gives_a_different_stream() -> None:
    a = simulate(SimulationConfig(seed=1, start=START, hours=6))
    b = simulate(SimulationConfig(seed=2, start=START, hours=6))
    assert stream_bytes(a) != stream_bytes(b)
    assert {e.call_id for e in a.events}.isdisjoint({e.call_id for e in b.events})


# ------------------------------------------------------------------ validity


def test_every_event_round_trips_through_the_codec() -> None:
    for event in day().events:
        assert decode(encode(event)) == event


def test_every_event_validates_against_the_committed_json_schema() -> None:
    schema = json.loads(schema_path("dispatch-event.v1.schema.json").read_text())
    validator = Draft202012Validator(schema)
    sim = agency_heavy(0)
    seen_types = set()
    for line in event_lines(sim.events):
        doc = orjson.loads(line)
        errors = list(validator.iter_errors(doc))
        assert not errors, (doc, errors[0].message)
        seen_types.add(doc["type"])
    # Every event type the contract has is exercised (no call.received-only stream).
    assert len(seen_types) == 18


def test_events_are_sorted_by_time_and_ids_are_unique() -> None:
    events = day().events
    keys = [(e.occurred_at, e.call_id, e.event_id) for e in events]
    assert keys == sorted(keys)
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.received_at >= e.occurred_at for e in events)
    assert {e.source for e in events} == {"simulator"}


def test_each_call_opens_with_its_receipt_and_closes_once() -> None:
    for call_id, events in by_call(day().events).items():
        received = [e for e in events if isinstance(e, CallReceived)]
        assert len(received) == 1, call_id
        assert events[0] is received[0], call_id
        closed = [e for e in events if isinstance(e, CallClosed)]
        assert len(closed) == 1, call_id
        # Everything but the paperwork happens by the close.
        assert all(
            e.occurred_at <= closed[0].occurred_at for e in events if not isinstance(e, ReportFiled)
        ), call_id


# ------------------------------------------------------------------ volume and tail


def test_a_day_runs_at_the_configured_rate_with_the_configured_agency_share() -> None:
    sim = day()
    window_end = START + timedelta(hours=24)
    main = [t for t in sim.truth if receipts()[t.call_id] < window_end]
    assert 55 * 24 * 0.9 < len(main) < 55 * 24 * 1.1
    agency = [t for t in sim.truth if t.immigration_agency]
    assert len(agency) == round(0.02 * len(main))
    assert all(receipts()[t.call_id] < window_end for t in agency)


def test_n_calls_and_agency_calls_are_exact() -> None:
    sim = simulate(SimulationConfig(seed=3, start=START, n_calls=120, agency_calls=9, tail_hours=0))
    assert len(sim.truth) == 120
    assert sum(t.immigration_agency for t in sim.truth) == 9
    assert sum(t.pattern == COMPLIANT for t in sim.truth) == round(0.3 * 9)


def test_the_stream_runs_past_every_deadline_of_the_last_agency_call() -> None:
    sim = day()
    agency_ids = {t.call_id for t in sim.truth if t.immigration_agency}
    last_close = max(
        e.occurred_at for e in sim.events if isinstance(e, CallClosed) and e.call_id in agency_ids
    )
    assert sim.events[-1].occurred_at >= last_close + timedelta(hours=DEFAULT_TAIL_HOURS)


def test_the_default_tail_is_the_policys_longest_deadline_plus_an_hour() -> None:
    assert POLICY["rules"]["report-filed"]["params"]["deadline_hours"] + 1 == DEFAULT_TAIL_HOURS


def test_start_keeps_a_fixed_offset() -> None:
    louisville = timezone(timedelta(hours=-4))
    sim = simulate(
        SimulationConfig(seed=1, start=START.astimezone(louisville), n_calls=5, tail_hours=0)
    )
    assert {e.occurred_at.utcoffset() for e in sim.events} == {timedelta(hours=-4)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": datetime(2017, 4, 13)}, "time zone"),
        ({"hours": 2, "n_calls": 10}, "not both"),
        ({"compliant_share": 1.5}, "between 0 and 1"),
        ({"patterns": ("no_such_pattern",)}, "unknown pattern"),
        ({"tail_hours": -1}, "negative"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(change: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"start": START, "hours": 1.0, **change}
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**settings)  # type: ignore[arg-type]


def test_more_agency_calls_than_calls_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        simulate(SimulationConfig(start=START, n_calls=3, agency_calls=4))


# ------------------------------------------------------------------ ground truth


def test_the_documented_table_covers_every_pattern_and_variant() -> None:
    assert set(DOCUMENTED) == {COMPLIANT, *VIOLATION_PATTERNS}
    for pattern, variants in PATTERNS.items():
        for variant, handling in variants.items():
            planted = {(f.rule, f.status) for f in expected_findings(handling)}
            assert planted == DOCUMENTED[pattern], (pattern, variant)


def test_truth_lists_every_call_and_agency_calls_carry_the_documented_findings() -> None:
    sim = day()
    assert [t.call_id for t in sim.truth] == sorted({e.call_id for e in sim.events})
    for truth in sim.truth:
        if truth.immigration_agency:
            assert truth.agency in {"ICE", "CBP", "USCIS"}
            found = {(f.rule, f.status) for f in truth.expected_findings}
            assert found == DOCUMENTED[truth.pattern], truth
        else:
            assert truth.pattern == "ordinary"
            assert truth.agency is None
            assert truth.expected_findings == ()


@pytest.mark.parametrize("seed", range(12))
def test_the_events_break_exactly_the_rules_the_truth_says(seed: int) -> None:
    sim = agency_heavy(seed)
    calls = by_call(sim.events)
    for truth in sim.truth:
        if truth.immigration_agency:
            judged = judge(calls[truth.call_id])
            assert judged == {(f.rule, f.status) for f in truth.expected_findings}, (
                truth.pattern,
                truth.variant,
                truth.call_id,
            )


def test_every_pattern_and_variant_is_planted_across_a_few_seeds() -> None:
    seen = {(t.pattern, t.variant) for seed in range(12) for t in agency_heavy(seed).truth}
    wanted = {(p, v) for p, variants in PATTERNS.items() for v in variants}
    assert wanted <= seen


def test_as_many_violations_as_patterns_plants_each_pattern_exactly_once() -> None:
    sim = simulate(
        SimulationConfig(
            seed=5,
            start=START,
            n_calls=200,
            agency_calls=len(VIOLATION_PATTERNS),
            compliant_share=0.0,
        )
    )
    patterns = Counter(t.pattern for t in sim.truth if t.immigration_agency)
    assert patterns == dict.fromkeys(VIOLATION_PATTERNS, 1)


def test_choosing_patterns_plants_only_those() -> None:
    sim = simulate(
        SimulationConfig(
            seed=2,
            start=START,
            n_calls=50,
            agency_calls=10,
            compliant_share=0.0,
            patterns=("no_report",),
        )
    )
    assert {t.pattern for t in sim.truth if t.immigration_agency} == {"no_report"}


def test_false_friends_are_ordinary_calls_and_every_kind_appears() -> None:
    sim = day()
    friends = [t for t in sim.truth if t.false_friend]
    assert {t.false_friend for t in friends} == {k.false_friend for k in FALSE_FRIENDS}
    assert not any(t.immigration_agency or t.expected_findings for t in friends)
    received = {e.call_id: e for e in sim.events if isinstance(e, CallReceived)}
    texts = " ".join((received[t.call_id].narrative or "") for t in friends)
    for planted in ("ICE ON ROADWAY", "BLACK ICE", "VICE UNIT", "RICE", "FBI", "DEA", "ATF"):
        assert planted in texts


def test_false_friends_can_be_switched_off() -> None:
    sim = simulate(SimulationConfig(seed=7, start=START, hours=12, false_friends=False))
    assert not any(t.false_friend for t in sim.truth)


def test_agency_callers_look_like_the_investigations_callers() -> None:
    sim = day()
    received = {e.call_id: e for e in sim.events if isinstance(e, CallReceived)}
    for truth in sim.truth:
        if not truth.immigration_agency:
            continue
        call = received[truth.call_id]
        assert call.caller.agency == truth.caller_agency
        # Something on the call names the agency: the stated agency, or the narrative.
        shorthand = {"ICE": ("ICE", "HSI"), "CBP": ("CBP", "BORDER PATROL"), "USCIS": ("USCIS",)}
        named_in_text = any(
            re.search(rf"\b{s}\b", call.narrative or "") for s in shorthand[str(truth.agency)]
        )
        assert call.caller.agency is not None or named_in_text, call
        assert call.caller.phone is not None and call.caller.phone.startswith("502-555-01")


def test_no_simulated_phone_is_one_the_agency_registry_knows() -> None:
    # A civilian "calling from the ICE duty desk" would be a wrong truth, not a test.
    registry = schema_path("agency-registry.v1.yaml").read_text()
    registered = set(re.findall(r"\b\d{3}-555-\d{4}\b", registry))
    assert registered, "the registry's example numbers moved; update this test"
    phones = {
        number
        for e in day().events
        if isinstance(e, CallReceived)
        for number in (e.caller.phone, e.caller.callback_number)
        if number is not None
    }
    assert len(phones) > 50
    assert not phones & registered


def test_truth_lines_are_json_with_the_documented_fields() -> None:
    line = next(truth_lines(t for t in day().truth if t.pattern == "no_commander"))
    doc = orjson.loads(line)
    assert list(doc) == [
        "call_id",
        "immigration_agency",
        "agency",
        "caller_agency",
        "pattern",
        "variant",
        "false_friend",
        "expected_findings",
    ]
    assert doc["expected_findings"] == [
        {"rule": CN, "status": "open"},
        {"rule": COS, "status": "open"},
    ]
    assert read_truth_line(line).call_id == doc["call_id"]


def test_truth_summary_counts_by_rule_and_status() -> None:
    sim = day()
    summary = truth_summary(sim.truth)
    findings = Counter((f.rule, f.status) for t in sim.truth for f in t.expected_findings)
    assert summary.calls == len(sim.truth)
    assert summary.immigration_agency_calls == sum(t.immigration_agency for t in sim.truth)
    for rule, counts in summary.by_rule.items():
        assert counts == {
            "open": findings[(rule, "open")],
            "resolved": findings[(rule, "resolved")],
            "needs_records": findings[(rule, "needs_records")],
        }
    assert sum(summary.by_pattern.values()) == summary.immigration_agency_calls


# ------------------------------------------------------------------ the oracle


def judge(events: Sequence[DispatchEvent]) -> set[tuple[str, str]]:
    """The policy's rules, read straight from their text, applied to one call."""
    received = next(e for e in events if isinstance(e, CallReceived))
    t0 = received.occurred_at
    out: set[tuple[str, str]] = set()

    def commanding(event: DispatchEvent) -> bool:
        officer = getattr(event, "officer", None)
        return officer is not None and officer.rank in COMMANDING

    # C2: a commanding officer *handles* the call: takes it (assigned) or decides on it
    # (declined); being notified is not handling it. A taker of unknown rank: unknown.
    def unranked(event: DispatchEvent) -> bool:
        officer = getattr(event, "officer", None)
        return officer is not None and officer.rank == "unknown"

    takes = [e for e in events if isinstance(e, CommanderAssigned | CommanderDeclined)]
    dispatches = [
        e
        for e in events
        if isinstance(e, UnitDispatched) and e.role not in ("federal", "commander")
    ]
    c = min((e.occurred_at for e in takes if commanding(e)), default=None)
    u = min((e.occurred_at for e in takes if unranked(e)), default=None)
    d = min((e.occurred_at for e in dispatches), default=None)
    deadline = t0 + timedelta(minutes=10)
    if c is not None and c <= deadline and (d is None or c <= d):
        pass
    elif u is not None and u <= deadline and (d is None or u <= d):
        out.add((CN, "needs_records"))
    elif c is None:
        out.add((CN, "open"))
    else:
        out.add((CN, "resolved"))

    on_scene = [e for e in events if isinstance(e, UnitOnScene) and e.role != "federal"]
    officers = [e for e in on_scene if e.role != "commander" and not commanding(e)]
    bosses = [e for e in on_scene if e.role == "commander" or commanding(e)]
    if officers:
        a = min(e.occurred_at for e in officers)
        k = min((e.occurred_at for e in bosses), default=None)
        if k is None:
            out.add((COS, "open"))
        elif k > a + timedelta(minutes=10):
            out.add((COS, "resolved"))

    unrecorded = {"cell", "offline"}
    if (
        received.line.recorded is False
        or received.line.kind in unrecorded
        or any(
            isinstance(e, CallbackRequested) and (e.recorded is False or e.line_kind in unrecorded)
            for e in events
        )
        or any(isinstance(e, RecordingFailed) for e in events)
    ):
        out.add((REC, "open"))

    if d is not None:
        bases = [e for e in events if isinstance(e, BasisRecorded) and e.occurred_at <= d]
        if not bases or bases[-1].basis not in {"criminal_warrant", "crime_occurred", "emergency"}:
            out.add((BASIS, "open"))

    # C5 binds the responding officers (not a commander who accompanies them), and only
    # camera records are evidence: a camera never reported is "needs records".
    camera_broken = camera_unknown = False
    for unit in dict.fromkeys(e.unit for e in officers):
        arrival = min(e.occurred_at for e in on_scene if e.unit == unit)
        end = max(e.occurred_at for e in events if isinstance(e, UnitCleared) and e.unit == unit)
        camera = [e for e in events if isinstance(e, BodycamActivated | BodycamDeactivated)]
        mine = [e for e in camera if e.unit == unit]
        on = any(
            isinstance(e, BodycamActivated) and e.occurred_at <= arrival + timedelta(seconds=60)
            for e in mine
        )
        off_early = any(
            isinstance(e, BodycamDeactivated) and arrival <= e.occurred_at < end for e in mine
        )
        if mine and (not on or off_early):
            camera_broken = True
        elif not mine:
            camera_unknown = True
    if camera_broken:
        out.add((CAM, "open"))
    elif camera_unknown:
        out.add((CAM, "needs_records"))

    closed = next((e for e in events if isinstance(e, CallClosed)), None)
    if closed is not None and any(isinstance(e, UnitDispatched) for e in events):
        report = min((e.occurred_at for e in events if isinstance(e, ReportFiled)), default=None)
        if report is None:
            out.add((REPORT, "open"))
        elif report > closed.occurred_at + timedelta(hours=8):
            out.add((REPORT, "resolved"))

    call_type = [
        e.call_type for e in events if isinstance(e, CallReceived | CallUpdated) and e.call_type
    ][-1]
    narratives = " ".join(
        e.narrative or ""
        for e in events
        if isinstance(e, CallReceived | CallUpdated | CallbackRequested)
    ).lower()
    if any(t in call_type.upper() for t in TROUBLE_TYPES) and any(
        p in narratives for p in NOT_IN_TROUBLE
    ):
        out.add((CODING, "open"))
    return out


@cache
def receipts(seed: int = 7) -> dict[str, datetime]:
    return {e.call_id: e.occurred_at for e in day(seed).events if isinstance(e, CallReceived)}


# ------------------------------------------------------------------ the command


def simulate_cli() -> typer.Typer:
    app = typer.Typer()
    app.command("simulate")(simulate_command)
    app.command("other")(lambda: None)  # two commands: typer keeps the subcommand name
    return app


def test_the_command_writes_the_same_bytes_as_the_library(tmp_path: Path) -> None:
    events, truth = tmp_path / "events.jsonl", tmp_path / "truth.jsonl"
    args = ["simulate", "--seed", "3", "--calls", "40", "--agency-calls", "5"]
    args += ["--start", START.isoformat(), "--out", str(events), "--truth", str(truth)]
    result = CliRunner().invoke(simulate_cli(), args)
    assert result.exit_code == 0, result.output
    sim = simulate(SimulationConfig(seed=3, start=START, n_calls=40, agency_calls=5))
    assert events.read_bytes() == stream_bytes(sim)
    assert truth.read_bytes() == b"".join(truth_lines(sim.truth))
    assert "immigration-agency: 5" in result.stderr


def test_the_command_writes_events_to_stdout_by_default() -> None:
    args = ["simulate", "--calls", "5", "--agency-calls", "0", "--start", START.isoformat()]
    result = CliRunner().invoke(simulate_cli(), args)
    assert result.exit_code == 0, result.output
    sim = simulate(SimulationConfig(start=START, n_calls=5, agency_calls=0))
    assert result.stdout_bytes == stream_bytes(sim)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "10"], "add --publish"),
        (["--realtime"], "add --publish"),
        (["--start", "2017-04-13T08:00:00"], "needs an offset"),
        (["--start", "yesterday"], "not an ISO time"),
        (["--patterns", "no_report,nonsense"], "unknown pattern"),
        (["--calls", "3", "--agency-calls", "9"], "do not fit"),
    ],
)
def test_the_command_refuses_bad_options_with_a_reason(args: list[str], message: str) -> None:
    result = CliRunner().invoke(simulate_cli(), ["simulate", "--out", os.devnull, *args])
    assert result.exit_code == 2
    assert message in result.stderr
