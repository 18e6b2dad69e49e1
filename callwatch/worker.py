"""``callwatch worker``: validate everything, prepare Kafka and Elasticsearch, run the agents."""

from __future__ import annotations

import logging

from agents.topics import TopicNames
from callwatch import metrics
from callwatch.bootstrap import bootstrap
from callwatch.es import ensure_indices, sync_client
from callwatch.kafka_admin import ensure_topics
from callwatch.settings import Settings

log = logging.getLogger("callwatch.worker")


def run_worker(settings: Settings, loglevel: str = "warning") -> None:
    import faust

    from agents.app import build_app

    components = bootstrap(settings)
    topics = TopicNames.from_settings(settings)
    ensure_topics(settings, topics.all())
    if settings.ledger_dir is not None:  # one partition: one writer appends (agents/ledger.py)
        ensure_topics(settings, [settings.topic("ledger")], partitions=1)
    with sync_client(settings) as es:
        ensure_indices(es, settings)
    metrics.start_metrics_server(settings.web_host, settings.web_port)
    app = build_app(components)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
