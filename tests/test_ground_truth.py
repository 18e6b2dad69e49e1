"""The simulator's ground truth, recovered exactly: live on real Kafka, and offline.

One seeded stream with planted violations goes (a) through ``callwatch check``
and (b) through Kafka, a real worker and Elasticsearch. Both must find every
planted violation with its final status, and nothing else.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from callwatch.commands.check import run_check
from callwatch.producer import publish
from callwatch.settings import Settings
from streams.engine.policy import load_policy
from streams.engine.state import Engine
from streams.originator import make_classifier
from streams.simulate import SimulationConfig, event_lines, simulate
from tests.waiting import wait_for

SEED = 7
START = datetime(2017, 4, 10, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def simulation():
    return simulate(SimulationConfig(start=START, seed=SEED, hours=24))


def expected_findings(simulation) -> dict[tuple[str, str], str]:
    return {(t.call_id, f.rule): f.status for t in simulation.truth for f in t.expected_findings}


def test_truth_has_violations_of_every_rule(simulation) -> None:
    rules = {rule for _, rule in expected_findings(simulation)}
    assert rules == {r.id for r in load_policy().rules}


def test_offline_check_recovers_the_ground_truth(simulation, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(event_lines(simulation.events)) + b"\n")
    policy = load_policy()
    out, err = io.StringIO(), io.StringIO()
    summary = run_check(
        events, engine=Engine(policy, make_classifier()), policy=policy, out=out, err=err
    )
    found = {
        (f["call_id"], f["rule"]): f["status"]
        for f in map(orjson.loads, out.getvalue().splitlines())
    }
    assert found == expected_findings(simulation)
    agency_calls = {t.call_id for t in simulation.truth if t.immigration_agency}
    assert summary["immigration_agency_calls"] == len(agency_calls)


@pytest.mark.integration
def test_live_pipeline_recovers_the_ground_truth(
    simulation, worker_factory, pipeline_env: dict[str, str], es_url: str
) -> None:
    prefix = pipeline_env["CALLWATCH_TOPIC_PREFIX"]
    settings = Settings(
        kafka_bootstrap=pipeline_env["CALLWATCH_KAFKA_BOOTSTRAP"], topic_prefix=prefix
    )
    worker = worker_factory.start()
    publish(simulation.events, settings.topic("raw"), settings=settings)
    es = Elasticsearch(es_url)
    expected = expected_findings(simulation)

    def findings() -> dict[tuple[str, str], str]:
        es.indices.refresh(index=f"{prefix}-findings")
        return {
            (d["_source"]["call_id"], d["_source"]["rule"]): d["_source"]["status"]
            for d in scan(es, index=f"{prefix}-findings", query={"query": {"match_all": {}}})
        }

    def all_events_indexed() -> bool:
        es.indices.refresh(index=f"{prefix}-events")
        return es.count(index=f"{prefix}-events")["count"] == len(simulation.events)

    wait_for("every event indexed", all_events_indexed, timeout=240, workers=[worker])
    live = wait_for(
        "the live findings to match the ground truth",
        lambda: (
            lambda f: f if {k: v for k, v in f.items() if v != "retracted"} == expected else None
        )(findings()),
        timeout=180,
        workers=[worker],
    )
    retracted = sorted(k for k, v in live.items() if v == "retracted")
    assert retracted == [], "deadlines judged before late events arrived"

    def calls_indexed() -> int:
        es.indices.refresh(index=f"{prefix}-calls")
        return int(es.count(index=f"{prefix}-calls")["count"])

    wait_for(
        "every call indexed", lambda: calls_indexed() == len(simulation.truth), workers=[worker]
    )
    flagged = es.count(index=f"{prefix}-calls", query={"term": {"immigration_agency": True}})
    assert flagged["count"] == sum(1 for t in simulation.truth if t.immigration_agency)
