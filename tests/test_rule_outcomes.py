"""Three-valued rule outcomes: met, broken (on evidence) and not assessable (no facts).

Each rule is shown met, broken and not assessable; a feed that declares no camera
records never gets a camera alert; a commander notified whom nobody takes the call
for gets a finding naming the missing step; not-assessable findings never alert.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import FACT_KINDS, DispatchEvent
from streams.engine.clock import EventClock
from streams.engine.offline import OfflineRun
from streams.engine.policy import load_policy
from streams.engine.records import alert_intent, call_record, finding_record
from streams.engine.state import Engine, FindingChange, load_state
from streams.originator import make_classifier
from streams.simulate import SimulationConfig, simulate
from tests.engine_helpers import LT, PO, by_agency_field, compliant_call, ev

HOUR_MS = 3_600_000
POLICY = load_policy()
CN, COS, REC, BASIS, CAM, REPORT, CODING = (
    "commander-notified",
    "commander-on-scene",
    "call-recorded",
    "lawful-basis",
    "bodycam-continuous",
    "report-filed",
    "coding-consistent",
)


def run(events: list[DispatchEvent]) -> tuple[OfflineRun, list[FindingChange]]:
    engine = Engine(POLICY, by_agency_field)
    offline = OfflineRun(engine, EventClock(lateness_ms=0))
    changes = list(offline.feed(sorted(events, key=lambda e: e.occurred_at)))
    end = max(e.occurred_at for e in events).timestamp() * 1000 + 9 * HOUR_MS
    changes += offline.finish(as_of=int(end))
    return offline, changes


def findings(events: list[DispatchEvent]) -> dict[str, tuple[str, str | None, str]]:
    """rule -> (status, missing fact, detail) of call C1's standing findings."""
    offline, _ = run(events)
    state = offline.states["C1"]
    return {
        rule: (f.status, f.missing, f.detail)
        for rule, f in state.findings.items()
        if f.status != "retracted"
    }


def without(events: list[DispatchEvent], *tags: str, unit: str | None = None) -> list:
    def dropped(e: DispatchEvent) -> bool:
        tag = str(type(e).__struct_config__.tag)
        return tag in tags and (unit is None or getattr(e, "unit", None) == unit)

    return [e for e in events if not dropped(e)]


def declaring(events: list[DispatchEvent], *kinds: str) -> list[DispatchEvent]:
    """The same call from a source that declares it reports only ``kinds``."""
    return [
        msgspec.structs.replace(e, provides=tuple(kinds))
        if type(e).__struct_config__.tag == "call.received"
        else e
        for e in events
    ]


ALL_BUT = {kind: tuple(k for k in FACT_KINDS if k != kind) for kind in FACT_KINDS}


# ------------------------------------------------------------------ met, per rule


def test_a_call_handled_by_the_book_meets_every_rule_declared_or_not() -> None:
    assert findings(compliant_call()) == {}
    assert findings(declaring(compliant_call(), *FACT_KINDS)) == {}


# ---------------------------------------------------------- commander-notified (C2)


def test_notified_but_nobody_took_the_call_is_broken_and_names_the_missing_step() -> None:
    events = [
        *without(compliant_call(), "commander.assigned", "unit.dispatched"),
        ev("commander.notified", "C1", 2, officer=LT),
    ]
    events = [e for e in events if getattr(e, "unit", None) != "LT1"]
    events.append(ev("unit.dispatched", "C1", 7, unit="4A12", officer=PO))
    status, missing, detail = findings(events)[CN]
    assert (status, missing) == ("open", None)
    assert "notified 2 min after the call came in but nobody took the call" in detail
    assert "before a commanding officer took the call" in detail


def test_notified_and_nobody_went_is_broken_at_the_deadline() -> None:
    events = [
        ev("call.received", "C1", 0, caller={"agency": "ICE"}, line={"recorded": True}),
        ev("commander.notified", "C1", 3, officer=LT),
        ev("call.closed", "C1", 30),
    ]
    status, _, detail = findings(events)[CN]
    assert status == "open"
    assert detail.startswith("no commanding officer took the call within 10 min")
    assert "notified 3 min after the call came in" in detail


def test_a_notification_alone_no_longer_satisfies_the_rule() -> None:
    events = [
        *without(compliant_call(), "commander.assigned"),
        ev("commander.notified", "C1", 4, officer=LT),
    ]
    assert findings(events)[CN][0] == "open"


def test_a_commander_declining_the_call_has_handled_it() -> None:
    events = [
        ev("call.received", "C1", 0, caller={"agency": "ICE"}, line={"recorded": True}),
        ev("commander.notified", "C1", 2, officer=LT),
        ev("commander.declined", "C1", 6, officer=LT),
        ev("call.closed", "C1", 9),
    ]
    assert findings(events) == {}


def test_a_commander_of_unknown_rank_is_not_assessable_check_the_roster() -> None:
    events = [
        *without(compliant_call(), "commander.assigned"),
        ev("commander.assigned", "C1", 4, officer={"name": "J. Example"}),
    ]
    status, missing, detail = findings(events)[CN]
    assert (status, missing) == ("needs_records", "commander_rank")
    assert (
        detail
        == "commander of unknown rank assigned 4 min after the call came in: check the roster"
    )


def test_commander_facts_the_source_cannot_report_are_not_assessable() -> None:
    events = declaring(without(compliant_call(), "commander.assigned"), *ALL_BUT["commander"])
    events = [e for e in events if getattr(e, "unit", None) != "LT1"]
    found = findings(events)
    assert found[CN][:2] == ("needs_records", "commander")
    assert found[COS][:2] == ("needs_records", "commander")


def test_a_sergeant_standing_in_is_named_in_the_finding() -> None:
    events = [
        *without(compliant_call(), "commander.assigned"),
        ev("commander.assigned", "C1", 3, officer={"rank": "sergeant"}),
    ]
    status, _, detail = findings(events)[CN]
    assert status == "open" and "a sergeant was assigned, not a commanding officer" in detail


# ---------------------------------------------------------- the other rules' three outcomes


def test_commander_on_scene_broken_when_none_arrives() -> None:
    events = [e for e in compliant_call() if getattr(e, "unit", None) != "LT1"]
    assert findings(events) == {COS: ("open", None, "no commanding officer on scene")}


def test_call_recorded_not_assessable_when_the_source_does_not_say() -> None:
    events = without(compliant_call(), "recording.started")
    events[0] = msgspec.structs.replace(
        events[0], line=msgspec.convert({"kind": "admin"}, type(events[0].line))
    )
    status, missing, detail = findings(events)[REC]
    assert (status, missing) == ("needs_records", "recording")
    assert "did not say whether the line (admin) was recorded" in detail
    # a 911 line is recorded at the PSAP: met without a record of it
    events[0] = msgspec.structs.replace(
        events[0], line=msgspec.convert({"kind": "911"}, type(events[0].line))
    )
    assert REC not in findings(events)
    # and evidence of an unrecorded call-back breaks it whatever else is missing
    broken = [*events, ev("callback.requested", "C1", 2, line_kind="cell")]
    assert findings(broken)[REC][0] == "open"


def test_lawful_basis_not_assessable_without_basis_records() -> None:
    events = declaring(without(compliant_call(), "basis.recorded"), *ALL_BUT["basis"])
    assert findings(events) == {
        BASIS: (
            "needs_records",
            "basis",
            "the source reports no basis records: the basis for assisting cannot be judged",
        )
    }
    # declared (or not declared): no basis recorded before dispatch is broken
    assert findings(without(compliant_call(), "basis.recorded"))[BASIS][0] == "open"


def test_report_filed_not_assessable_without_report_records() -> None:
    events = declaring(without(compliant_call(), "report.filed"), *ALL_BUT["report"])
    assert findings(events)[REPORT][:2] == ("needs_records", "report")
    assert findings(without(compliant_call(), "report.filed"))[REPORT][0] == "open"


def test_coding_not_assessable_without_a_narrative() -> None:
    trouble = [*compliant_call(), ev("call.updated", "C1", 1, call_type="TROUBLE")]
    assert findings(trouble) == {}
    no_text = declaring(trouble, *ALL_BUT["narrative"])
    assert findings(no_text)[CODING][:2] == ("needs_records", "narrative")
    saying = [*trouble, ev("call.updated", "C1", 2, narrative="we are not in trouble")]
    assert findings(declaring(saying, *ALL_BUT["narrative"]))[CODING][0] == "open"


# ---------------------------------------------------------- body cameras (C5), per unit


def test_a_camera_switched_off_before_clearing_is_broken() -> None:
    events = [*compliant_call(), ev("bodycam.deactivated", "C1", 30, unit="4A12", officer=PO)]
    status, _, detail = findings(events)[CAM]
    assert status == "open" and "unit 4A12: camera switched off before the unit cleared" in detail


def test_a_unit_whose_camera_is_never_reported_is_not_assessable() -> None:
    events = without(compliant_call(), "bodycam.activated", "bodycam.deactivated", unit="4A12")
    assert findings(events) == {CAM: ("needs_records", "camera", "no camera records for unit 4A12")}


def test_a_commanders_camera_is_not_required_by_default() -> None:
    # the 2017 history's false findings: a commanding officer arriving without camera events
    events = without(compliant_call(), "bodycam.activated", "bodycam.deactivated", unit="LT1")
    assert findings(events) == {}


def test_a_feed_without_camera_records_says_so() -> None:
    events = declaring(
        without(compliant_call(), "bodycam.activated", "bodycam.deactivated"), *ALL_BUT["camera"]
    )
    assert findings(events) == {
        CAM: (
            "needs_records",
            "camera",
            "the source reports no camera records (unit 4A12 on scene)",
        )
    }


def test_not_assessable_waits_for_the_call_to_close() -> None:
    events = without(
        [e for e in compliant_call() if type(e).__struct_config__.tag != "call.closed"],
        "bodycam.activated",
        "bodycam.deactivated",
        "unit.cleared",
        unit="4A12",
    )
    assert CAM not in findings(events)  # the unit is still on scene: records may come


# ---------------------------------------------------------- a whole feed without camera facts


def feed_without_cameras(seed: int) -> list[DispatchEvent]:
    sim = simulate(
        SimulationConfig(
            start=datetime(2017, 5, 1, 6, tzinfo=UTC),
            seed=seed,
            n_calls=80,
            agency_calls=40,
            compliant_share=0.3,
            tail_hours=9,
        )
    )
    no_camera = tuple(k for k in FACT_KINDS if k != "camera")
    return [
        msgspec.structs.replace(e, provides=no_camera)
        if type(e).__struct_config__.tag == "call.received"
        else e
        for e in sim.events
        if not type(e).__struct_config__.tag.startswith("bodycam.")
    ]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_feed_with_no_camera_facts_raises_no_camera_alert_at_all(seed: int) -> None:
    events = feed_without_cameras(seed)
    offline = OfflineRun(Engine(POLICY, make_classifier()), EventClock())
    changes = [*offline.feed(events), *offline.finish()]
    camera = [c for c in changes if c.rule.id == CAM]
    assert camera, "agency calls with units on scene must each get a camera outcome"
    assert {c.finding.status for c in camera} == {"needs_records"}
    assert [alert_intent(c, POLICY) for c in camera] == [None] * len(camera)
    # every agency call with department units on scene: camera not assessable
    on_scene = {
        e.call_id
        for e in events
        if type(e).__struct_config__.tag == "unit.on_scene" and e.role in ("patrol", "supervisor")  # type: ignore[union-attr]
    }
    flagged = {c for c, s in offline.states.items() if s.originator.immigration_agency}
    needs = {c for c, s in offline.states.items() if s.findings.get(CAM)}
    assert needs == flagged & on_scene
    for call_id in needs:
        record = finding_record(next(c for c in camera if c.call_id == call_id), POLICY)
        assert record["outcome"] == "not_assessable"
        assert record["missing_fact"] == "camera"
        assert "camera" not in record["source_provides"]
        assert CAM in call_record(offline.states[call_id])["needs_records"]


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(
        st.tuples(
            st.sampled_from(["patrol", "supervisor", "commander", "specialty"]),
            st.integers(8, 40),  # arrival, minutes
            st.integers(5, 90),  # minutes on scene
        ),
        min_size=1,
        max_size=4,
    ),
    declared=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_silence_about_cameras_is_never_broken_whatever_the_units(units, declared, seed) -> None:
    events = without(
        compliant_call(),
        "bodycam.activated",
        "bodycam.deactivated",
        "unit.on_scene",
        "unit.cleared",
    )
    events = [e for e in events if type(e).__struct_config__.tag != "call.closed"]
    last = 60.0
    for n, (role, arrive, stay) in enumerate(units):
        officer = LT if role == "commander" else PO
        unit = f"U{n}"
        events += [
            ev("unit.on_scene", "C1", arrive, unit=unit, officer=officer, role=role),
            ev("unit.cleared", "C1", arrive + stay, unit=unit, officer=officer, role=role),
        ]
        last = max(last, arrive + stay)
    events.append(ev("call.closed", "C1", last + 1))
    if declared:
        events = declaring(events, *ALL_BUT["camera"])
    random.Random(seed).shuffle(events)
    _, changes = run(events)
    camera = [c for c in changes if c.rule.id == CAM]
    assert all(c.finding.status == "needs_records" for c in camera)
    assert all(alert_intent(c, POLICY) is None for c in camera)
    required = {f"U{n}" for n, (role, _, _) in enumerate(units) if role != "commander"}
    assert bool(camera) == bool(required)


# ---------------------------------------------------------- alerts and records


def test_records_arriving_later_turn_needs_records_into_an_alert() -> None:
    """Not assessable, then the camera system's records show the lapse: now alert."""
    engine = Engine(POLICY, by_agency_field)
    quiet = without(compliant_call(), "bodycam.activated", "bodycam.deactivated", unit="4A12")
    state = None
    changes: list[FindingChange] = []
    for event in quiet:
        step = engine.apply(state, event, 0)
        state, changes = step.state, changes + step.changes
    (first,) = [c for c in changes if c.rule.id == CAM]
    assert (first.transition, first.finding.status) == ("needs_records", "needs_records")
    assert alert_intent(first, POLICY) is None
    late = ev("bodycam.activated", "C1", 35, unit="4A12", officer=PO)
    (second,) = engine.apply(state, late, 0).changes
    assert (second.transition, second.finding.status, second.previous) == (
        "opened",
        "open",
        "needs_records",
    )
    intent = alert_intent(second, POLICY)
    assert intent is not None and intent["state"] == "firing"
    assert intent["outcome"] == "broken" and intent["missing_fact"] is None
    assert "camera switched on 900s after arrival" in intent["detail"]


def test_a_needs_records_finding_retracted_sends_nothing() -> None:
    engine = Engine(POLICY, by_agency_field)
    quiet = without(compliant_call(), "bodycam.activated", "bodycam.deactivated", unit="4A12")
    state = None
    for event in quiet:
        state = engine.apply(state, event, 0).state
    records = [
        ev("bodycam.activated", "C1", 20, unit="4A12", officer=PO),
        ev("bodycam.deactivated", "C1", 60, unit="4A12", officer=PO),
    ]
    changes = []
    for event in records:
        step = engine.apply(state, event, 0)
        state, changes = step.state, changes + step.changes
    (retracted,) = changes
    assert (retracted.transition, retracted.previous) == ("retracted", "needs_records")
    assert alert_intent(retracted, POLICY) is None


def test_finding_and_call_records_carry_outcome_missing_fact_and_capabilities() -> None:
    events = declaring(
        without(compliant_call(), "bodycam.activated", "bodycam.deactivated"), *ALL_BUT["camera"]
    )
    offline, changes = run(events)
    (change,) = changes
    record = finding_record(change, POLICY)
    assert record["status"] == "needs_records"
    assert record["outcome"] == "not_assessable"
    assert record["missing_fact"] == "camera"
    assert record["source_provides"] == list(ALL_BUT["camera"])
    call = call_record(offline.states["C1"])
    assert call["needs_records"] == [CAM] and call["violated_rules"] == []
    assert call["missing_facts"] == ["camera"]
    assert call["source_provides"] == list(ALL_BUT["camera"])
    # an undeclared source: nothing claimed
    broken = [*compliant_call(), ev("recording.failed", "C1", 2)]
    (change,) = run(broken)[1]
    assert finding_record(change, POLICY)["source_provides"] is None
    assert finding_record(change, POLICY)["outcome"] == "broken"


def test_states_written_before_outcomes_existed_still_load() -> None:
    old = msgspec.msgpack.encode(
        {"call_id": "X", "findings": {CN: ["open", 1, None, "no commander", [], []]}}
    )
    finding = load_state(old).findings[CN]
    assert (finding.status, finding.outcome, finding.missing) == ("open", "broken", None)


def test_a_policy_file_without_roles_still_loads_with_the_defaults(tmp_path) -> None:
    text = load_policy.__globals__["schema_path"]("policies/louisville.v1.yaml").read_text()
    lines = [
        line
        for line in text.splitlines()
        if not line.strip().startswith(("roles:", "recorded_line_kinds:"))
    ]
    old = tmp_path / "old.yaml"
    old.write_text("\n".join(lines) + "\n")
    policy = load_policy(old)
    assert policy.rule(CAM).params.roles == frozenset({"patrol", "supervisor", "specialty"})
    assert "commander" not in policy.rule(COS).params.roles


def test_the_events_template_maps_a_declared_provides_list() -> None:
    from callwatch.es import INDICES, template_body
    from streams.documents import event_document

    doc = event_document(declaring(compliant_call(), *FACT_KINDS)[0])
    assert list(doc["provides"]) == list(FACT_KINDS)
    mapping = template_body("events", INDICES["events"])["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["properties"]["provides"]["type"] == "keyword"
