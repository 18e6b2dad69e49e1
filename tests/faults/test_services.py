"""Kafka and Elasticsearch failing under a running worker: it keeps running, nothing is lost.

- the Kafka broker stopped and started again mid-stream (aiokafka reconnects;
  the publisher's own producer retries until the broker is back);
- the Kafka broker frozen with SIGSTOP (a cut network: connections stay open
  and nothing answers) and resumed with SIGCONT;
- Elasticsearch stopped (the indexer holds its batch and retries; Kafka keeps
  the backlog) -- formerly tests/test_fault_es_outage.py;
- the network to Elasticsearch slowed, then cut (through ``tests.faults.proxy``).

Each outage lasts ``CALLWATCH_FAULT_DOWN_SECONDS`` (15 s; ``make faults``: 60 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.faults.accounting import Ledger, simulated_stream
from tests.faults.conftest import (
    DOWN_SECONDS,
    Pipeline,
    es_service,
    kafka_service,
    pause_service,
    resume_service,
    start_service,
    stop_service,
)
from tests.faults.proxy import TcpProxy
from tests.faults.scenario import Fault, Publisher, run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(1200)]

# Slow enough that the stream is still flowing when the outage ends.
RATE = 120


def indexed(ledger: Ledger) -> int:
    return ledger.count("events")


def outage(start: object, end: object) -> Fault:
    def inject(p: Pipeline, publisher: Publisher) -> None:
        start()  # type: ignore[operator]
        began = time.monotonic()
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - began)))
        p.alive()  # the outage must not crash the worker
        end()  # type: ignore[operator]

    return Fault(inject)


def test_kafka_broker_restarted_mid_stream(pipeline: Pipeline, fault_table) -> None:
    kafka = kafka_service()
    run_scenario(
        pipeline,
        fault_table,
        f"Kafka broker stopped {DOWN_SECONDS:.0f}s, restarted",
        simulated_stream(),
        outage(lambda: stop_service(kafka), lambda: start_service(kafka)),
        rate=RATE,
    )


def test_kafka_broker_frozen(pipeline: Pipeline, fault_table) -> None:
    kafka = kafka_service()
    run_scenario(
        pipeline,
        fault_table,
        f"Kafka network cut {DOWN_SECONDS:.0f}s (broker SIGSTOP)",
        simulated_stream(),
        outage(lambda: pause_service(kafka), lambda: resume_service(kafka)),
        rate=RATE,
    )


def test_elasticsearch_stopped(pipeline: Pipeline, fault_table) -> None:
    es = es_service()
    fault = outage(lambda: stop_service(es), lambda: start_service(es))
    fault.progress = indexed
    run_scenario(
        pipeline,
        fault_table,
        f"Elasticsearch stopped {DOWN_SECONDS:.0f}s, restarted",
        simulated_stream(),
        fault,
        rate=RATE,
    )


@pytest.fixture
def es_proxy(pipeline: Pipeline) -> Iterator[TcpProxy]:
    proxy = TcpProxy(int(pipeline.services.es_url.rsplit(":", 1)[1])).start()
    yield proxy
    proxy.stop()


def test_elasticsearch_network_slowed(pipeline: Pipeline, fault_table, es_proxy) -> None:
    fault = outage(lambda: es_proxy.slow(0.5), es_proxy.pass_through)
    fault.progress = indexed
    run_scenario(
        pipeline,
        fault_table,
        f"ES network +0.5 s per packet for {DOWN_SECONDS:.0f}s",
        simulated_stream(),
        fault,
        rate=RATE,
        worker_env={"CALLWATCH_ES_URL": es_proxy.url},
    )


def test_elasticsearch_network_cut(pipeline: Pipeline, fault_table, es_proxy) -> None:
    fault = outage(es_proxy.cut, es_proxy.pass_through)
    fault.progress = indexed
    run_scenario(
        pipeline,
        fault_table,
        f"ES network cut {DOWN_SECONDS:.0f}s (packets dropped)",
        simulated_stream(),
        fault,
        rate=RATE,
        worker_env={"CALLWATCH_ES_URL": es_proxy.url},
    )
