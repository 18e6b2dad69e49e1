"""The call record's dashboard fields: time to a commanding officer, the line, units, violations.

Pure core: events through the real engine and policy, no services. The calls index
template must map every field the record carries (it is ``dynamic: strict``).
"""

from __future__ import annotations

import orjson

from callwatch.es import INDICES
from schemas import schema_path
from streams.engine.clock import EventClock
from streams.engine.offline import OfflineRun
from streams.engine.policy import load_policy
from streams.engine.records import DEFAULT_COMMANDING_RANKS, call_record
from streams.engine.state import CallState, Engine
from tests.engine_helpers import LT, PO, by_agency_field, compliant_call, ev

HOUR_MS = 3_600_000


def final_state(events, call_id: str = "C1") -> CallState:
    run = OfflineRun(Engine(load_policy(), by_agency_field), EventClock(lateness_ms=0))
    list(run.feed(events))
    list(run.finish(as_of=max(e.occurred_at for e in events).timestamp() * 1000 + 9 * HOUR_MS))
    return run.states[call_id]


def test_compliant_call_record() -> None:
    record = call_record(final_state(compliant_call()))
    assert record["commander_minutes"] == 4.0  # commander.assigned 4 min after call.received
    assert record["line_kind"] == "admin"
    assert record["recorded"] is True
    assert record["units_on_scene"] == 2  # 4A12 and LT1
    assert record["violated_rules"] == []


def test_first_commanding_rank_counts_and_a_sergeant_does_not() -> None:
    events = [
        ev("call.received", "C2", 0, caller={"agency": "ICE"}, line={"kind": "cell"}),
        ev("commander.notified", "C2", 2, officer={"rank": "sergeant"}),
        ev("commander.notified", "C2", 12.5, officer={"rank": "captain"}),
        ev("commander.assigned", "C2", 15, officer=LT),
    ]
    record = call_record(final_state(events, "C2"))
    assert record["commander_minutes"] == 12.5
    assert record["line_kind"] == "cell"
    assert record["recorded"] is None  # the source did not say
    assert record["units_on_scene"] == 0
    # broken, then cured late: still a violation of the rule on this call
    assert record["rules"]["commander-notified"] == "resolved"
    assert "commander-notified" in record["violated_rules"]
    assert "call-recorded" in record["violated_rules"]  # a cell line is unrecorded


def test_policy_ranks_are_honoured_when_given() -> None:
    events = [
        ev("call.received", "C3", 0, caller={"agency": "ICE"}),
        ev("commander.notified", "C3", 3, officer={"rank": "sergeant"}),
    ]
    state = final_state(events, "C3")
    assert call_record(state)["commander_minutes"] is None
    assert call_record(state, frozenset({"sergeant"}))["commander_minutes"] == 3.0


def test_no_commander_and_federal_units_do_not_count_on_scene() -> None:
    events = [
        ev(
            "call.received",
            "C4",
            0,
            caller={"agency": "ICE"},
            line={"kind": "911", "recorded": False},
        ),
        ev("unit.on_scene", "C4", 5, unit="HSI1", role="federal"),
        ev("unit.on_scene", "C4", 6, unit="4A12", officer=PO),
        ev("unit.on_scene", "C4", 7, unit="4A12", officer=PO),
    ]
    record = call_record(final_state(events, "C4"))
    assert record["commander_minutes"] is None
    assert record["recorded"] is False
    assert record["units_on_scene"] == 1


def test_retracted_findings_are_not_violations() -> None:
    events = [e for e in compliant_call() if type(e).__struct_config__.tag != "report.filed"]
    broken = final_state(events)
    assert broken.findings["report-filed"].status == "open"
    broken.findings["report-filed"].status = "retracted"
    assert call_record(broken)["violated_rules"] == []


def test_default_ranks_are_the_shipped_policy_ranks() -> None:
    assert load_policy().commanding_ranks == DEFAULT_COMMANDING_RANKS


def test_calls_template_maps_every_record_field() -> None:
    mapping = orjson.loads(
        schema_path(f"elasticsearch/calls.v{INDICES['calls']}.json").read_bytes()
    )["mappings"]
    record = call_record(final_state(compliant_call()))
    record["updated_at"] = "2017-04-13T10:00:00Z"  # added by the engine agent
    assert set(record) <= set(mapping["properties"])
    props = mapping["properties"]
    assert props["commander_minutes"]["type"] == "float"
    assert props["recorded"]["type"] == "boolean"
    assert props["units_on_scene"]["type"] == "integer"
    assert props["violated_rules"]["type"] == props["line_kind"]["type"] == "keyword"
