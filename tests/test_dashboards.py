"""The Kibana dashboards in ``dashboards/callwatch.ndjson``, checked without a Kibana.

Unit tests: every saved object references only objects in the file (dashboards ->
panels -> data views and saved searches, drill-downs -> dashboards), every
reference is used, and every field a panel names is in the index templates with
a type its aggregation supports.

Integration test: a real worker processes a simulated day (plus calls for the
review queue and some undecodable input), and every panel of every dashboard is
run against the indices it filled, as the query Kibana would send
(``tests/kibana_objects.py`` builds it from the saved object, so a changed panel
is re-checked automatically). Each panel must answer, and its numbers must agree
with the simulator's ground truth and with what the events themselves say.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from callwatch.dashboards import SHIPPED_NDJSON, index_title
from callwatch.es import INDICES, template_body
from callwatch.producer import publish
from callwatch.settings import Settings
from schemas.events import CallReceived, DispatchEvent, event_type
from streams.codec import Rejected, decode
from streams.engine.offline import OfflineRun
from streams.engine.policy import load_policy
from streams.engine.state import Engine
from streams.originator import make_classifier
from streams.simulate import SimulationConfig, simulate
from tests.engine_helpers import ev
from tests.kibana_objects import (
    PanelQuery,
    SavedObjects,
    field_problems,
    flatten_mapping,
    phrase_filter,
    tsvb_variables,
)
from tests.waiting import wait_for

SEED = 4  # a day with every rule broken, not-assessable calls and an unrecorded desk line
START = datetime(2017, 4, 10, 6, 0, tzinfo=UTC)
# What the time picker would be set to: the simulated day, up to now (dead letters are
# stamped with the wall clock when they are indexed).
TIME_RANGE = ("2017-04-01T00:00:00.000Z", "now")
PANEL_TYPES = ("visualization", "search")
VIOLATED = ("open", "resolved")

# Every panel the dashboards are expected to have; a removed or renamed panel fails
# here, a new one is still checked generically (fields, query, non-empty answer).
EXPECTED_PANELS = {
    "callwatch-vis-flagged-calls",
    "callwatch-vis-agency-calls-over-time",
    "callwatch-vis-findings-by-rule-status",
    "callwatch-vis-compliance-rate",
    "callwatch-vis-open-findings-by-rule",
    "callwatch-vis-open-findings-age",
    "callwatch-vis-open-findings-list",
    "callwatch-vis-commander-minutes",
    "callwatch-vis-commander-summary",
    "callwatch-vis-recorded-lines",
    "callwatch-vis-bodycam-coverage",
    "callwatch-vis-review-count",
    "callwatch-vis-deadletters-by-reason",
    "callwatch-vis-deadletters-over-time",
    "callwatch-vis-alerts-by-outcome",
    "callwatch-search-call-timeline",
    "callwatch-search-call-findings",
    "callwatch-search-call-record",
    "callwatch-search-review-queue",
    "callwatch-search-deadletters",
}


@pytest.fixture(scope="module")
def saved() -> SavedObjects:
    return SavedObjects.load(SHIPPED_NDJSON)


def logical_index(saved: SavedObjects, data_view_id: str) -> str:
    title = saved.data_view(data_view_id)["title"]
    prefix, _, name = title.partition("-")
    assert prefix == "callwatch" and name in INDICES, f"data view {data_view_id}: {title!r}"
    return name


def template_mapping(name: str) -> dict[str, str]:
    return flatten_mapping(template_body(name, INDICES[name])["mappings"]["properties"])


def dashboard_panels(saved: SavedObjects) -> list[tuple[str, str, str]]:
    """(dashboard id, panel type, panel id) for every panel of every dashboard."""
    return [
        (dash["id"], kind, object_id)
        for dash in saved.of_type("dashboard")
        for _, kind, object_id in saved.panels(dash["id"])
    ]


# ------------------------------------------------------------------- unit tests


def test_every_reference_resolves_and_is_used(saved: SavedObjects) -> None:
    for (kind, object_id), obj in saved.objects.items():
        declared = {r["name"] for r in obj.get("references", [])}
        assert len(declared) == len(obj.get("references", [])), f"{object_id}: duplicate names"
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in saved.objects, (
                f"{kind} {object_id} references missing {ref['type']} {ref['id']}"
            )
        assert saved.used_reference_names(obj) == declared, f"{kind} {object_id}"
    for dash in saved.of_type("dashboard"):
        for drill in saved.drilldowns(dash["id"]):
            assert drill.triggers == ["FILTER_TRIGGER"]
            saved.get("dashboard", drill.target_dashboard)


def test_every_object_is_reachable_from_a_dashboard(saved: SavedObjects) -> None:
    panels = {(kind, object_id) for _, kind, object_id in dashboard_panels(saved)}
    for kind in PANEL_TYPES:
        unused = {o["id"] for o in saved.of_type(kind)} - {i for k, i in panels if k == kind}
        assert not unused, f"{kind}s on no dashboard: {sorted(unused)}"
    assert {i for _, i in panels} >= EXPECTED_PANELS
    views = {
        ref["id"]
        for kind, object_id in panels
        for ref in saved.get(kind, object_id).get("references", [])
        if ref["type"] == "index-pattern"
    }
    assert views == {o["id"] for o in saved.of_type("index-pattern")}


def test_data_views_name_the_callwatch_indices(saved: SavedObjects) -> None:
    for view in saved.of_type("index-pattern"):
        name = logical_index(saved, view["id"])
        time_field = view["attributes"]["timeFieldName"]
        assert template_mapping(name)[time_field] == "date", view["id"]
    assert len({v["attributes"]["title"] for v in saved.of_type("index-pattern")}) == len(
        saved.of_type("index-pattern")
    )


def test_panels_use_mapped_fields_with_suitable_types(saved: SavedObjects) -> None:
    """The index templates alone: a typo or a text field in a terms agg fails here."""
    for _, kind, object_id in dashboard_panels(saved):
        for query in saved.queries(kind, object_id, TIME_RANGE):
            mapping = template_mapping(logical_index(saved, query.data_view_id))
            assert field_problems(query.fields, mapping) == [], f"{object_id} / {query.label}"
            assert query.fields, f"{object_id}: uses no field at all?"


def test_tsvb_markdown_uses_only_its_series(saved: SavedObjects) -> None:
    for obj in saved.of_type("visualization"):
        state = json.loads(obj["attributes"]["visState"])
        if state["type"] == "metrics" and state["params"]["type"] == "markdown":
            names, used = tsvb_variables(obj)
            assert used and used <= names, obj["id"]


def test_drilldown_opens_the_call_timeline_from_a_call_id(saved: SavedObjects) -> None:
    drills = [d for dash in saved.of_type("dashboard") for d in saved.drilldowns(dash["id"])]
    assert [d.target_dashboard for d in drills] == ["callwatch-dashboard-call-timeline"]
    (drill,) = drills
    assert not drill.use_current_filters  # the clicked call only, not the source's query
    source = json.loads(saved.get(*drill.panel_object)["attributes"]["visState"])
    assert source["aggs"][1]["params"]["field"] == "call_id"  # the first column is the call
    # every panel of the timeline can be filtered by call_id
    for _, kind, object_id in saved.panels(drill.target_dashboard):
        for query in saved.queries(kind, object_id, TIME_RANGE):
            mapping = template_mapping(logical_index(saved, query.data_view_id))
            assert mapping.get("call_id") == "keyword", object_id


# ------------------------------------------------------------ integration test


def review_calls() -> list[DispatchEvent]:
    """Callers the classifier cannot decide: they belong in the review queue."""
    return [
        ev("call.received", "REVIEW-1", 0, narrative="federal agent on line"),
        ev("call.received", "REVIEW-2", 0, caller={"agency": "DHS"}, narrative="REQ ASSIST"),
        ev("call.closed", "REVIEW-2", 20),
    ]


BAD_LINES = [
    b'{"type": "call.received", "event_id": ',  # truncated
    b"\xff\xfe not utf-8",
    b"[1, 2, 3]",
    b'{"schema": "callwatch.dispatch/1", "type": "unit.teleported", "call_id": "X"}',
    b'{"schema": "callwatch.dispatch/1", "type": "call.received", "call_id": "X"}',
]


def _t(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


class Expected:
    """What the dashboards must show, from the simulator's truth and the events themselves."""

    def __init__(self, events: list[DispatchEvent], truth: list[Any]) -> None:
        policy = load_policy()
        self.severity = {r.id: r.severity for r in policy.rules}
        self.flagged = {t.call_id: t for t in truth if t.immigration_agency}
        self.findings = {(t.call_id, f.rule): f.status for t in truth for f in t.expected_findings}
        self.by_call: dict[str, list[DispatchEvent]] = defaultdict(list)
        for e in events:
            self.by_call[e.call_id].append(e)
        self.first_seen = {c: min(_t(e.occurred_at) for e in es) for c, es in self.by_call.items()}
        self.commander_minutes: dict[str, float | None] = {}
        self.on_scene: set[str] = set()
        self.line: dict[str, tuple[bool | None, str]] = {}
        for call_id in self.flagged:
            mine = sorted(self.by_call[call_id], key=lambda e: (e.occurred_at, e.event_id))
            received = next(e for e in mine if isinstance(e, CallReceived))
            self.line[call_id] = (received.line.recorded, received.line.kind)
            commander = next(
                (
                    e
                    for e in mine
                    if event_type(e).startswith("commander.")
                    and getattr(e, "officer", None) is not None
                    and e.officer.rank in policy.commanding_ranks  # type: ignore[union-attr]
                ),
                None,
            )
            self.commander_minutes[call_id] = (
                None
                if commander is None
                else round((commander.occurred_at - received.occurred_at).total_seconds() / 60, 2)
            )
            if any(
                event_type(e) == "unit.on_scene" and getattr(e, "role", None) != "federal"
                for e in mine
            ):
                self.on_scene.add(call_id)
        run = OfflineRun(Engine(policy, make_classifier()))
        list(run.feed(events))
        self.review = {c for c, s in run.states.items() if s.originator.review}

    def violated(self, rule: str) -> set[str]:
        return {c for (c, r), s in self.findings.items() if r == rule and s in VIOLATED}

    def needs_records(self, rule: str | None = None) -> set[str]:
        """Calls with a rule (this one, or any) not assessable for want of records."""
        return {
            c for (c, r), s in self.findings.items() if s == "needs_records" and rule in (None, r)
        }

    def open(self) -> dict[tuple[str, str], str]:
        return {k: s for k, s in self.findings.items() if s == "open"}


def _standing(findings: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {k: s for k, s in findings.items() if s != "retracted"}


def run_panel(es: Elasticsearch, saved: SavedObjects, prefix: str, query: PanelQuery) -> Any:
    """Check the panel's fields against the live mapping, run it, insist on an answer."""
    alias = index_title(saved.data_view(query.data_view_id)["title"], prefix)
    live = es.indices.get_mapping(index=alias)
    mapping: dict[str, str] = {}
    for concrete in live.body.values():
        mapping.update(flatten_mapping(concrete["mappings"].get("properties", {})))
    problems = field_problems(query.fields, mapping)
    assert problems == [], f"{query.object_id} / {query.label} on {alias}: {problems}"
    response = es.search(index=alias, **query.body).body
    assert response["hits"]["total"]["value"] > 0, (
        f"{query.object_id} / {query.label}: no documents on {alias} for {query.body['query']}"
    )
    return query.read(response)


def rows_by(rows: list[dict[str, Any]], *keys: str, value: str = "1") -> dict[Any, Any]:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r[value] for r in rows}


def hour_of(key: str) -> datetime:
    return datetime.fromisoformat(key.replace("Z", "+00:00"))


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_every_panel_answers_from_the_pipelines_indices(
    saved: SavedObjects, worker_factory, pipeline_env: dict[str, str], es_url: str
) -> None:
    prefix = pipeline_env["CALLWATCH_INDEX_PREFIX"]
    simulation = simulate(SimulationConfig(start=START, seed=SEED, hours=24))
    # the review callers ring during the simulated day, two hours in
    shift = START + timedelta(hours=2) - min(e.occurred_at for e in review_calls())
    extra = [
        msgspec.structs.replace(
            e, occurred_at=e.occurred_at + shift, received_at=e.received_at + shift
        )
        for e in review_calls()
    ]
    events = sorted([*simulation.events, *extra], key=lambda e: (e.occurred_at, e.call_id))
    expected = Expected(events, simulation.truth)
    assert len(expected.flagged) == 26 and expected.review == {"REVIEW-1", "REVIEW-2"}

    settings = Settings(
        kafka_bootstrap=pipeline_env["CALLWATCH_KAFKA_BOOTSTRAP"],
        topic_prefix=pipeline_env["CALLWATCH_TOPIC_PREFIX"],
    )
    worker = worker_factory.start()
    publish([*BAD_LINES, *events], settings.topic("raw"), settings=settings)
    es = Elasticsearch(es_url)
    index = {name: f"{prefix}-{name}" for name in INDICES}

    def count(name: str) -> int:
        es.indices.refresh(index=index[name], ignore_unavailable=True)
        if not es.indices.exists(index=index[name]):
            return -1
        return int(es.count(index=index[name])["count"])

    wait_for("every event indexed", lambda: count("events") == len(events), 240, [worker])
    wait_for("every dead letter indexed", lambda: count("deadletters") == len(BAD_LINES), 60)

    def findings() -> dict[tuple[str, str], str]:
        es.indices.refresh(index=index["findings"])
        return {
            (d["_source"]["call_id"], d["_source"]["rule"]): d["_source"]["status"]
            for d in scan(es, index=index["findings"], query={"query": {"match_all": {}}})
        }

    # Retracted findings (a deadline judged before a late event arrived) are the engine's
    # timing, which test_ground_truth holds to account; here they only have to show up
    # in the panels as what they are.
    seen: dict[tuple[str, str], str] = {}

    def findings_match() -> dict[tuple[str, str], str] | None:
        seen.clear()
        seen.update(findings())
        return dict(seen) if _standing(seen) == expected.findings else None

    try:
        live = wait_for("the findings of the ground truth", findings_match, 180, [worker])
    except AssertionError:
        standing = set(_standing(seen).items())
        truth = set(expected.findings.items())
        raise AssertionError(
            f"findings differ from the truth: missing {sorted(truth - standing)},"
            f" extra {sorted(standing - truth)}"
        ) from None
    retracted = Counter(r for (_, r), s in live.items() if s == "retracted")

    def calls_final() -> bool:
        es.indices.refresh(index=index["calls"])
        docs = {
            d["_source"]["call_id"]: d["_source"]
            for d in scan(es, index=index["calls"], query={"query": {"match_all": {}}})
        }
        if set(docs) != set(expected.by_call):
            return False
        if any(docs[c]["events"] != len(es_) for c, es_ in expected.by_call.items()):
            return False
        return all(
            set(docs[c]["violated_rules"])
            == {r for (cc, r), s in expected.findings.items() if cc == c and s in VIOLATED}
            for c in expected.flagged
        )

    wait_for("every call record final", calls_final, 120, [worker])
    assert worker.metric("callwatch_immigration_calls_total") == len(expected.flagged)

    # the alerter delivers after the findings: wait until its record stops growing
    def alerts_settled() -> bool:
        now = count("alerts")
        time.sleep(2)
        return now > 0 and count("alerts") == now

    wait_for("the alerter's record to settle", alerts_settled, 60, [worker])

    alerts_before = count("alerts")
    results: dict[str, dict[str, Any]] = defaultdict(dict)
    for _, kind, object_id in dashboard_panels(saved):
        for query in saved.queries(kind, object_id, TIME_RANGE):
            results[object_id][query.label] = run_panel(es, saved, prefix, query)
    alerts_after = count("alerts")

    def table(object_id: str) -> list[dict[str, Any]]:
        (rows,) = results[object_id].values()
        assert rows, object_id
        return list(rows)

    flagged = expected.flagged
    n_flagged = len(flagged)
    truth_open = expected.open()

    # immigration-agency calls, and their open findings
    (row,) = table("callwatch-vis-flagged-calls")
    assert row == {"1": n_flagged, "2": len(truth_open)}

    # over time, by agency: each call in the hour it came in
    want = Counter(
        (expected.first_seen[c].replace(minute=0, second=0, microsecond=0), t.agency)
        for c, t in flagged.items()
    )
    got = {(hour_of(r["2"]), r["3"]): r["1"] for r in table("callwatch-vis-agency-calls-over-time")}
    assert got == dict(want)

    # findings by rule and status = the ground truth, nothing retracted
    got = rows_by(table("callwatch-vis-findings-by-rule-status"), "2", "3")
    assert got == dict(
        Counter((r, s) for (_, r), s in expected.findings.items())
        + Counter({(r, "retracted"): n for r, n in retracted.items()})
    )

    # compliance rate per rule: flagged calls without a violation of it
    rates = results["callwatch-vis-compliance-rate"]
    assert set(rates) == set(expected.severity)
    for rule, rate in rates.items():
        assert rate == pytest.approx(1 - len(expected.violated(rule)) / n_flagged), rule
    assert min(rates.values()) < 1  # the simulator broke every rule at least once

    # open findings by severity and rule, and their age
    rows = table("callwatch-vis-open-findings-by-rule")
    want = Counter((expected.severity[r], r) for (_, r) in truth_open)
    assert rows_by(rows, "3", "4") == dict(want)
    for r in rows:
        assert START <= hour_of(r["2"]) <= START + timedelta(days=3)
    rows = table("callwatch-vis-open-findings-age")
    assert {r["2"][:2] for r in rows} == {"*-"}, "2017 findings are older than 30 days"
    assert rows_by(rows, "3") == dict(Counter(expected.severity[r] for (_, r) in truth_open))

    # the open findings list (the drill-down's source)
    rows = table("callwatch-vis-open-findings-list")
    assert {(r["2"], r["3"]): r["4"] for r in rows} == {
        k: expected.severity[k[1]] for k in truth_open
    }

    # minutes to a commanding officer
    minutes = {c: m for c, m in expected.commander_minutes.items() if m is not None}
    assert minutes and len(minutes) < n_flagged  # some calls never got one
    rows = table("callwatch-vis-commander-minutes")
    assert rows_by(rows, "2") == dict(Counter(float(m // 5 * 5) for m in minutes.values()))
    summary = {r["5"]: r for r in table("callwatch-vis-commander-summary")}
    groups = {
        "within 10 minutes": [m for m in minutes.values() if m <= 10],
        "after 10 minutes": [m for m in minutes.values() if m > 10],
    }
    groups_count = {k: len(v) for k, v in groups.items()}
    groups_count["no commanding officer"] = n_flagged - len(minutes)
    assert {k: r["1"] for k, r in summary.items()} == {k: n for k, n in groups_count.items() if n}
    for label, values in groups.items():
        if not values:
            continue
        assert summary[label]["2"] == pytest.approx(sum(values) / len(values), abs=0.01)
        assert summary[label]["4"] == pytest.approx(max(values), abs=0.01)
        for p in summary[label]["3"].values():
            assert min(values) - 0.01 <= p <= max(values) + 0.01
    assert summary["no commanding officer"]["2"] is None

    # recorded and unrecorded lines
    labels = {True: "recorded line", False: "unrecorded line", None: "not stated by the source"}
    want = Counter((labels[rec], kind) for rec, kind in expected.line.values())
    assert rows_by(table("callwatch-vis-recorded-lines"), "2", "3") == dict(want)
    assert ("unrecorded line", "direct") in want  # the planted unrecorded call

    # body-camera coverage: a camera never reported is neither covered nor a finding
    bodycam = results["callwatch-vis-bodycam-coverage"]
    on_scene = expected.on_scene
    violated = expected.violated("bodycam-continuous")
    no_records = expected.needs_records("bodycam-continuous")
    assert violated and violated <= on_scene
    assert no_records and no_records <= on_scene and not no_records & violated
    assert bodycam == {
        "calls with units on scene": len(on_scene),
        "body-camera findings": len(violated),
        "calls needing camera records": len(no_records),
        "covered: cameras on from arrival until cleared": pytest.approx(
            1 - len(violated | no_records) / len(on_scene)
        ),
    }

    # review queue: originators to decide, and agency calls a rule needs records for
    waiting = expected.review | expected.needs_records()
    assert expected.needs_records(), "the simulated day plants not-assessable calls"
    (row,) = table("callwatch-vis-review-count")
    assert row["1"] == len(waiting)
    (queue,) = results["callwatch-search-review-queue"].values()
    assert {d["call_id"] for d in queue} == waiting
    assert {
        d["call_id"]: sorted(d["needs_records"] or []) for d in queue if d.get("needs_records")
    } == {
        c: sorted(r for (cc, r), s in expected.findings.items() if cc == c and s == "needs_records")
        for c in expected.needs_records()
    }

    # dead letters by reason
    reasons = Counter(
        (r.reason, "ingest") for r in map(decode, BAD_LINES) if isinstance(r, Rejected)
    )
    assert sum(reasons.values()) == len(BAD_LINES)
    rows = table("callwatch-vis-deadletters-by-reason")
    assert rows_by(rows, "3", "4") == dict(reasons)
    rows = table("callwatch-vis-deadletters-over-time")
    assert rows_by(rows, "3") == dict(Counter(reason for reason, _ in reasons.elements()))
    (letters,) = results["callwatch-search-deadletters"].values()
    assert len(letters) == len(BAD_LINES)

    # supervisor alerts: what the alerter recorded, only ever about findings of the truth
    rows = table("callwatch-vis-alerts-by-outcome")
    assert alerts_before <= sum(r["1"] for r in rows) <= alerts_after  # every record, once
    alerted = {
        (d["_source"]["call_id"], d["_source"]["rule"])
        for d in scan(es, index=index["alerts"], query={"query": {"match_all": {}}})
    }
    assert alerted and alerted <= set(expected.findings)

    # the drill-down: a call id clicked in the open findings opens the call timeline
    check_drilldown(es, saved, prefix, expected)


def check_drilldown(
    es: Elasticsearch, saved: SavedObjects, prefix: str, expected: Expected
) -> None:
    (drill,) = [d for dash in saved.of_type("dashboard") for d in saved.drilldowns(dash["id"])]
    kind, source_id = drill.panel_object
    (source,) = saved.queries(kind, source_id, TIME_RANGE)
    source_view = source.data_view_id
    state = json.loads(saved.get(kind, source_id)["attributes"]["visState"])
    call_agg = next(a["id"] for a in state["aggs"] if a["params"].get("field") == "call_id")
    clicked = {row[call_agg] for row in run_panel(es, saved, prefix, source)}
    assert clicked == {c for c, _ in expected.open()}
    target = saved.get("dashboard", drill.target_dashboard)["attributes"]
    window = (target["timeFrom"], target["timeTo"])
    for call_id in sorted(clicked):
        flt = phrase_filter(source_view, "call_id", call_id)
        answers = {}
        for _, kind, object_id in saved.panels(drill.target_dashboard):
            for query in saved.queries(kind, object_id, window, [flt]):
                answers[object_id] = run_panel(es, saved, prefix, query)
        events = answers["callwatch-search-call-timeline"]
        mine = expected.by_call[call_id]
        assert {e["call_id"] for e in events} == {call_id}
        assert sorted(e["event_id"] for e in events) == sorted(e.event_id for e in mine)
        times = [e["occurred_at"] for e in events]
        assert [hour_of(t) for t in times] == sorted(_t(e.occurred_at) for e in mine)
        found = answers["callwatch-search-call-findings"]
        assert {(f["rule"], f["status"]) for f in found if f["status"] != "retracted"} == {
            (r, s) for (c, r), s in expected.findings.items() if c == call_id
        }
        (record,) = answers["callwatch-search-call-record"]
        assert record["call_id"] == call_id and record["immigration_agency"] is True
        want = expected.commander_minutes[call_id]
        if want is None:
            assert record["commander_minutes"] is None
        else:
            assert record["commander_minutes"] == pytest.approx(want, abs=0.01)
