"""``callwatch worker``: validate everything, prepare Kafka and Elasticsearch, run the agents."""

from __future__ import annotations

import logging

from agents.topics import TopicNames, worker_topics
from callwatch import metrics, metrics_sidecar
from callwatch.bootstrap import bootstrap
from callwatch.es import ensure_indices, sync_client
from callwatch.kafka_admin import TopicSpec, ensure_topic_specs, wait_for_group_coordinator
from callwatch.settings import Settings

log = logging.getLogger("callwatch.worker")


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    import faust

    from agents.app import build_app

    components = bootstrap(settings)
    app = build_app(components)
    # Every topic, Faust's included, exists before Faust starts (a clean first start)
    specs = worker_topics(app, TopicNames.from_settings(settings))
    if settings.ledger_dir is not None:  # one partition: one writer appends (agents/ledger.py)
        specs.append(TopicSpec(settings.topic("ledger"), partitions=1))
    ensure_topic_specs(settings, specs)
    wait_for_group_coordinator(settings, settings.app_id)
    with sync_client(settings) as es:
        ensure_indices(es, settings)
    # The agents' metrics on loopback, for the sidecar, which serves them on the
    # configured address together with the consumer lag it measures.
    server, _ = metrics.start_metrics_server("127.0.0.1", 0)
    metrics_sidecar.start(
        settings.web_host, settings.web_port, f"http://127.0.0.1:{server.server_port}/metrics"
    )
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
