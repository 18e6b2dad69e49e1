"""The policy engine's rules, state transitions and deadlines (pure core, no services)."""

from __future__ import annotations

import random

import pytest

from schemas.events import DispatchEvent
from streams.engine.clock import EventClock
from streams.engine.offline import OfflineRun
from streams.engine.policy import PolicyError, load_policy
from streams.engine.state import Engine, dump_state, load_state
from tests.engine_helpers import LT, PO, by_agency_field, compliant_call, ev

HOUR_MS = 3_600_000


def final_findings(events: list[DispatchEvent], *, shuffle: int | None = None) -> dict:
    engine = Engine(load_policy(), by_agency_field)
    run = OfflineRun(engine, EventClock(lateness_ms=0))
    feed = list(events)
    if shuffle is not None:
        random.Random(shuffle).shuffle(feed)
    list(run.feed(feed))
    # advance far enough for every absence deadline to be judged
    list(run.finish(as_of=max(e.occurred_at for e in events).timestamp() * 1000 + 9 * HOUR_MS))
    return {
        (call_id, rule): f.status
        for call_id, state in run.states.items()
        for rule, f in state.findings.items()
        if f.status != "retracted"
    }


def replace(events: list[DispatchEvent], drop: set[str] = frozenset(), add=()) -> list:
    kept = [e for e in events if type(e).__struct_config__.tag not in drop]
    return sorted([*kept, *add], key=lambda e: e.occurred_at)


def test_compliant_call_has_no_findings() -> None:
    assert final_findings(compliant_call()) == {}


def test_ordinary_calls_are_not_judged() -> None:
    events = [
        ev("call.received", "X", 0, caller={"agency": "FBI"}),
        ev("unit.dispatched", "X", 1, unit="1"),
    ]
    assert final_findings(events) == {}


def test_missing_commander_opens_and_stays_open() -> None:
    events = [e for e in compliant_call() if "commander" not in type(e).__struct_config__.tag]
    events = [e for e in events if getattr(e, "unit", None) != "LT1"]
    found = final_findings(events)
    assert found[("C1", "commander-notified")] == "open"
    assert found[("C1", "commander-on-scene")] == "open"
    assert len(found) == 2


def test_late_commander_resolves() -> None:
    events = replace(
        compliant_call(),
        drop={"commander.assigned"},
        add=[ev("commander.assigned", "C1", 6.5, officer=LT)],
    )
    # assigned 6.5 min in: on time, and before the 7-minute dispatch
    assert final_findings(events) == {}
    late = replace(
        compliant_call(),
        drop={"commander.assigned", "unit.dispatched"},
        add=[
            ev("commander.assigned", "C1", 15, officer=LT),
            ev("unit.dispatched", "C1", 16, unit="4A12", officer=PO),
            ev("unit.dispatched", "C1", 16, unit="LT1", officer=LT, role="commander"),
        ],
    )
    assert final_findings(late) == {("C1", "commander-notified"): "resolved"}


def test_sergeant_is_not_a_commanding_officer() -> None:
    events = replace(
        compliant_call(),
        drop={"commander.assigned"},
        add=[ev("commander.assigned", "C1", 3, officer={"rank": "sergeant"})],
    )
    assert final_findings(events)[("C1", "commander-notified")] == "open"


def test_callback_on_cell_breaks_recording_rule() -> None:
    events = [*compliant_call(), ev("callback.requested", "C1", 1, line_kind="cell", number="555")]
    assert final_findings(events) == {("C1", "call-recorded"): "open"}


def test_unrecorded_line_and_recording_failure() -> None:
    failed = [*compliant_call(), ev("recording.failed", "C1", 2)]
    assert final_findings(failed) == {("C1", "call-recorded"): "open"}


def test_administrative_warrant_is_not_a_lawful_basis() -> None:
    events = replace(
        compliant_call(),
        drop={"basis.recorded"},
        add=[ev("basis.recorded", "C1", 6, basis="administrative_warrant")],
    )
    assert final_findings(events) == {("C1", "lawful-basis"): "open"}


def test_basis_recorded_after_dispatch_does_not_count() -> None:
    events = replace(
        compliant_call(),
        drop={"basis.recorded"},
        add=[ev("basis.recorded", "C1", 30, basis="crime_occurred")],
    )
    assert final_findings(events) == {("C1", "lawful-basis"): "open"}


def test_bodycam_switched_off_before_clearing() -> None:
    events = [*compliant_call(), ev("bodycam.deactivated", "C1", 30, unit="4A12", officer=PO)]
    assert final_findings(events) == {("C1", "bodycam-continuous"): "open"}


def test_bodycam_never_reported_is_not_assessable_not_off() -> None:
    # Silence about a unit's camera is not evidence it was off: it needs records.
    events = [
        e
        for e in compliant_call()
        if not (type(e).__struct_config__.tag.startswith("bodycam.") and e.unit == "4A12")
    ]
    assert final_findings(events) == {("C1", "bodycam-continuous"): "needs_records"}


def test_bodycam_switched_on_late_is_broken() -> None:
    events = replace(
        compliant_call(),
        drop={"bodycam.activated"},
        add=[
            ev("bodycam.activated", "C1", 27, unit="4A12", officer=PO),
            ev("bodycam.activated", "C1", 22, unit="LT1", officer=LT),
        ],
    )
    assert final_findings(events) == {("C1", "bodycam-continuous"): "open"}


def test_no_report_and_late_report() -> None:
    missing = replace(compliant_call(), drop={"report.filed"})
    assert final_findings(missing) == {("C1", "report-filed"): "open"}
    late = replace(
        compliant_call(), drop={"report.filed"}, add=[ev("report.filed", "C1", 62 + 9 * 60)]
    )
    assert final_findings(late) == {("C1", "report-filed"): "resolved"}


def test_trouble_coding_with_caller_not_in_trouble() -> None:
    events = [
        *compliant_call(),
        ev(
            "call.updated",
            "C1",
            1,
            call_type="TROUBLE",
            narrative="Are you in any kind of trouble? We just need assistance getting him.",
        ),
    ]
    assert final_findings(events) == {("C1", "coding-consistent"): "open"}


@pytest.mark.parametrize("seed", range(5))
def test_order_and_duplicates_do_not_change_findings(seed: int) -> None:
    events = replace(
        compliant_call(),
        drop={"report.filed", "basis.recorded"},
        add=[ev("callback.requested", "C1", 2, line_kind="offline")],
    )
    in_order = final_findings(events)
    assert in_order == {
        ("C1", "report-filed"): "open",
        ("C1", "lawful-basis"): "open",
        ("C1", "call-recorded"): "open",
    }
    duplicated = events + events[::3]
    assert final_findings(duplicated, shuffle=seed) == in_order


def test_deadline_fires_without_further_events_for_the_call() -> None:
    engine = Engine(load_policy(), by_agency_field)
    run = OfflineRun(engine, EventClock(lateness_ms=0))
    opened = list(run.feed([ev("call.received", "C9", 0, caller={"agency": "ICE"})]))
    assert opened == []
    # only another call's events move time on; at 10 min the deadline is due
    changes = list(run.feed([ev("call.received", "other", 10.01)]))
    assert [(c.call_id, c.rule.id, c.transition) for c in changes] == [
        ("C9", "commander-notified", "opened")
    ]


def test_state_round_trips_and_stays_small() -> None:
    engine = Engine(load_policy(), by_agency_field)
    state = None
    for event in compliant_call():
        state = engine.apply(state, event, 0).state
    assert state is not None
    assert load_state(dump_state(state)) == state
    ordinary = None
    for event in [
        ev("call.received", "O1", 0),
        ev("unit.dispatched", "O1", 1, unit="2B"),
        ev("unit.on_scene", "O1", 5, unit="2B"),
        ev("unit.cleared", "O1", 30, unit="2B"),
        ev("call.closed", "O1", 31),
    ]:
        ordinary = engine.apply(ordinary, event, 0).state
    assert len(dump_state(ordinary)) < 1024


def test_closed_calls_are_evicted_then_late_events_are_flagged() -> None:
    engine = Engine(load_policy(), by_agency_field)
    run = OfflineRun(engine, EventClock(lateness_ms=0))
    list(run.feed([ev("call.received", "O2", 0), ev("call.closed", "O2", 5)]))
    closed_ms = int(ev("call.closed", "O2", 5).occurred_at.timestamp() * 1000)
    list(run.advance(closed_ms + 25 * HOUR_MS))
    assert run.states["O2"].tombstone
    assert run.states["O2"].facts == []
    step = engine.apply(run.states["O2"], ev("unit.cleared", "O2", 6, unit="1"), 0)
    assert step.late


def test_bad_policy_fails_fast_with_the_rule_named(tmp_path) -> None:
    bad = tmp_path / "p.yaml"
    text = (load_policy.__globals__["schema_path"]("policies/louisville.v1.yaml")).read_text()
    bad.write_text(text.replace("deadline_minutes: 10", "deadline_minuts: 10"))
    with pytest.raises(PolicyError, match="commander-notified"):
        load_policy(bad)
    bad.write_text(text.replace("commander-notified:", "no-such-rule:"))
    with pytest.raises(PolicyError, match="no-such-rule"):
        load_policy(bad)
