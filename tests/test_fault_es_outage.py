"""Elasticsearch stopped mid-stream and started again: every document indexed, once.

The indexer holds its batch while Elasticsearch is down (backpressure), Kafka
keeps the backlog, and when Elasticsearch returns everything lands, with the
same deterministic ids, so nothing is missing and nothing is doubled.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from callwatch import local_services
from callwatch.producer import publish
from callwatch.settings import Settings
from streams.simulate import SimulationConfig, simulate
from tests.conftest import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
DOWN_SECONDS = float(os.environ.get("CALLWATCH_FAULT_DOWN_SECONDS", "20"))


def test_indexing_survives_an_elasticsearch_outage(
    fault_services, worker_factory, unique_prefix, tmp_path
):
    sim = simulate(SimulationConfig(start=datetime(2017, 4, 10, 6, tzinfo=UTC), seed=3, hours=12))
    half = len(sim.events) // 2
    worker = worker_factory.start(
        CALLWATCH_KAFKA_BOOTSTRAP=fault_services.kafka_bootstrap,
        CALLWATCH_ES_URL=fault_services.es_url,
        CALLWATCH_WEB_PORT=str(free_port()),
    )
    settings = Settings(kafka_bootstrap=fault_services.kafka_bootstrap, topic_prefix=unique_prefix)
    es = Elasticsearch(fault_services.es_url)
    index = f"{unique_prefix}-events"

    def indexed() -> int:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])

    publish(sim.events[:half], settings.topic("raw"), settings=settings)
    wait_for("some events indexed", lambda: indexed() > 0, workers=[worker])

    es_service = local_services.Elasticsearch(local_services.PROFILES["faults"])
    es_service.stop()
    stopped_at = time.monotonic()
    publish(sim.events[half:], settings.topic("raw"), settings=settings)
    time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopped_at)))
    worker.assert_running()  # the outage must not crash the worker
    es_service.start()
    restarted_at = time.monotonic()

    wait_for(
        "every event indexed after the outage",
        lambda: indexed() == len(sim.events),
        timeout=240,
        workers=[worker],
    )
    recovery = time.monotonic() - restarted_at
    ids = [hit["_id"] for hit in scan(es, index=index, query={"query": {"match_all": {}}})]
    assert len(ids) == len(set(ids)) == len(sim.events)
    assert set(ids) == {e.event_id for e in sim.events}
    print(
        f"\nES down {DOWN_SECONDS:.0f}s; all {len(ids)} events indexed "
        f"{recovery:.1f}s after restart"
    )
