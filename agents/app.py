"""The Faust application: topics, the per-call table, and the agents wired to them.

Agents stay thin: they consume, call the pure core, and produce. Every batch's
output is flushed to Kafka before the batch's input offsets are acknowledged,
so a crash can repeat work (at-least-once) but never skip it; idempotency
downstream (event ids, finding ids, document ids) absorbs the repeats.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import faust

from agents import faust_compat
from agents.alerter import register_alerter
from agents.engine import register_engine
from agents.indexer import register_indexer
from agents.ingest import register_ingest
from agents.lifecycle import Watchdog, mark_stopping, run_stopping
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


# Exit status of a worker whose agent failed mid-batch (EX_SOFTWARE).
AGENT_FAILED_EXIT = 70


class App(faust.App):
    # set by build_app from CALLWATCH_SHUTDOWN_TIMEOUT_SECONDS
    stop_timeout_seconds: float = 30.0

    async def on_stop(self) -> None:
        """A graceful stop: bounded, and our own stopping work before faust's."""
        watchdog = Watchdog(self.stop_timeout_seconds).arm()
        mark_stopping(self)
        await run_stopping(self)
        await super().on_stop()
        # the watchdog stays armed: faust still stops its services after this
        log.warning("stopping: work in flight finished in %.1f s",
                    time.monotonic() - watchdog.started)

    async def _on_agent_error(self, agent: Any, exc: BaseException) -> None:
        """An agent raised: exit at once, without committing.

        Faust's default commits and restarts the agent in-process. The failed
        batch was never acknowledged (``agents.faust_compat.batching``), but the restarted
        agent would go on acknowledging later offsets, and a commit past an
        unacknowledged offset is exactly faust-streaming #606. Exiting leaves the
        committed offsets where they are; the supervisor (compose
        ``restart: unless-stopped``, systemd, Kubernetes) starts the worker
        again and it resumes from them. No agent raises on bad input, so this
        is for bugs and for what the process cannot recover from itself.
        """
        log.critical(
            "agent %s failed mid-batch (%r); exiting without committing its input",
            getattr(agent, "name", agent),
            exc,
            exc_info=exc,
        )
        logging.shutdown()
        os._exit(AGENT_FAILED_EXIT)


def build_app(components: Components) -> faust.App:
    settings = components.settings
    topics = TopicNames.from_settings(settings)
    # faust workarounds (agents/faust_compat): versions checked, then patched;
    # ingest and engine read each partition in offset order (event time follows it)
    faust_compat.install([topics.raw, topics.events])
    app = App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka_servers],
        broker_credentials=kafka_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",  # state is rebuilt from the changelog topic on start
        # No standby replicas: with a memory store a worker taking a partition over
        # reads its changelog from the start anyway, so a standby copy saves nothing,
        # and promoting one raced faust's fetcher: the survivor's recovery waited
        # forever for changelog records fetched while the partition was changing
        # roles (fault suite, takeover with deadlines pending, 1 run in ~4).
        table_standby_replicas=0,
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
    faust_compat.check_app(app)
    app.stop_timeout_seconds = settings.shutdown_timeout_seconds
    register_ingest(app, topics, components)
    register_engine(app, topics, components)
    register_indexer(app, topics, components)
    register_alerter(app, topics, components)
    if settings.ledger_dir is not None:  # the log of record (agents/ledger.py), opt-in
        from agents.ledger import register_ledger
        from callwatch.ledger.signing import load_signer

        key = settings.ledger_signing_key
        signer = load_signer(
            settings.ledger_signing_key_file,
            key.get_secret_value() if key else None,
            source="CALLWATCH_LEDGER_SIGNING_KEY",
        )
        register_ledger(app, topics, components, signer)
    return app
