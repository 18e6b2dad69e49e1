"""The Faust application: topics, the per-call table, and the agents wired to them.

Agents stay thin: they consume, call the pure core, and produce. Every batch's
output is flushed to Kafka before the batch's input offsets are acknowledged,
so a crash can repeat work (at-least-once) but never skip it; idempotency
downstream (event ids, finding ids, document ids) absorbs the repeats.
"""

from __future__ import annotations

import logging

import faust

from agents.alerter import register_alerter
from agents.engine import register_engine
from agents.indexer import register_indexer
from agents.ingest import register_ingest
from agents.topics import TopicNames
from callwatch.bootstrap import Components
from callwatch.settings import Settings

log = logging.getLogger(__name__)


def kafka_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    import ssl

    context = None
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
    if settings.kafka_security_protocol == "SSL":
        return faust.SSLCredentials(context)
    password = (
        settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    )
    mechanism = settings.kafka_sasl_mechanism or "PLAIN"
    if mechanism.startswith("SCRAM"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=mechanism,
            ssl_context=context,
        )
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username, password=password, ssl_context=context
    )


def build_app(components: Components) -> faust.App:
    settings = components.settings
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_servers],
        broker_credentials=kafka_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",  # state is rebuilt from the changelog topic on start
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        datadir=str(settings.data_dir),
        web_enabled=False,  # metrics are served by prometheus-client (callwatch.metrics)
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        stream_wait_empty=True,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        table_cleanup_interval=3600,
        producer_linger_ms=5,
    )
    topics = TopicNames.from_settings(settings)
    register_ingest(app, topics, components)
    register_engine(app, topics, components)
    register_indexer(app, topics, components)
    register_alerter(app, topics, components)
    return app
