"""``callwatch source eido-ws URL``: the live NENA-STA-024 EIDO feed, published to ``raw``.

Subscribes (``callwatch.sources.eido_ws``: subscribe, renew before the granted
lifetime runs out, answer ``terminate``), converts each notified EIDO to canonical
events and publishes them keyed by call id. When the connection drops, or the
notifier refuses or ends the subscription, it subscribes again after a backoff
(1 s doubling to ``--max-backoff``, with jitter so many sources do not return at once).

No update lost: a notification is acknowledged to the notifier only after its
events are acknowledged by Kafka, so one cut off by a reconnect (or a crash) is
sent again by the notifier. No update doubled: events already published by
this process (by their deterministic event id) are not published again when a
notifier re-sends them after a reconnect; after a restart of this process a
re-sent update may reach ``raw`` again, and the engine ignores an event id it
has applied (at-least-once, idempotent downstream).

An EIDO the adapter rejects is published as it came, so the ingest agent
dead-letters it with the reason: nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Annotated, Final

import orjson
import typer
from kafka import KafkaProducer
from kafka.errors import KafkaError
from websockets.exceptions import WebSocketException

from callwatch.kafka_admin import ensure_topics
from callwatch.producer import producer_config
from callwatch.settings import Settings
from callwatch.sources.eido_ws import Subscription, SubscriptionError, eido_transactions
from streams.adapters.eido import convert_document
from streams.adapters.result import Converted
from streams.codec import encode

log = logging.getLogger("callwatch.source.eido")

# Event ids remembered to recognise a re-sent update (an incident has a few dozen).
REMEMBERED: Final = 100_000


class EidoSource:
    def __init__(self, url: str, settings: Settings, subscription: Subscription,
                 max_backoff: float) -> None:
        self.url = url
        self.topic = settings.topic("raw")
        self.subscription = subscription
        self.max_backoff = max_backoff
        self.producer = KafkaProducer(**producer_config(settings))
        self.published: OrderedDict[str, None] = OrderedDict()
        self.counts = {"connections": 0, "notifications": 0, "events": 0, "skipped": 0,
                       "rejected": 0}

    def keep(self, documents: list[dict[str, object]]) -> None:
        """Publish a notification's events and wait until Kafka has every one."""
        received_at = datetime.now(UTC)
        futures, fresh = [], []
        for document in documents:
            outcome = convert_document(document, received_at=received_at)
            if not isinstance(outcome, Converted):
                self.counts["rejected"] += 1
                log.warning("EIDO rejected (%s): %s; sent on for the dead-letter topic",
                            outcome.reason, outcome.detail[:200])
                futures.append(self.producer.send(self.topic, value=orjson.dumps(document)))
                continue
            for event in outcome.events:
                if event.event_id in self.published or event.event_id in fresh:
                    self.counts["skipped"] += 1
                    continue
                fresh.append(event.event_id)
                futures.append(
                    self.producer.send(self.topic, key=event.call_id.encode(), value=encode(event))
                )
        self.producer.flush()
        for future in futures:
            future.get(timeout=0)  # raises if Kafka refused one: the update stays unacknowledged
        for event_id in fresh:
            self.published[event_id] = None
        while len(self.published) > REMEMBERED:
            self.published.popitem(last=False)
        self.counts["events"] += len(fresh)
        self.counts["notifications"] += 1

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            self.counts["connections"] += 1
            try:
                async with contextlib.aclosing(
                    eido_transactions(self.url, self.subscription)
                ) as transactions:
                    log.warning("subscribed to %s", self.url)
                    backoff = 1.0
                    async for _transaction, documents in transactions:
                        await asyncio.to_thread(self.keep, documents)
                        if stop.is_set():
                            break
                log.warning("the notifier ended the subscription; subscribing again")
            except (
                OSError, WebSocketException, SubscriptionError, TimeoutError, KafkaError
            ) as exc:  # the feed or Kafka away: what was not acknowledged comes again
                log.warning("EIDO feed %s unavailable (%s); again in %.0f s", self.url, exc,
                            backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.max_backoff)

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def eido_ws_command(
    url: Annotated[str, typer.Argument(help="The notifier's WebSocket URL (ws:// or wss://).")],
    sub_type: Annotated[
        str, typer.Option("--type", help="Subscribe to: new (every incident) or single.")
    ] = "new",
    incident_id: Annotated[
        str | None, typer.Option(help="The incident, for --type single.")
    ] = None,
    expires: Annotated[
        int, typer.Option(min=10, help="Requested subscription lifetime in seconds (renewed).")
    ] = 3600,
    max_backoff: Annotated[
        float, typer.Option(min=1, help="Longest wait between reconnection attempts, seconds.")
    ] = 60,
) -> None:
    """Subscribe to a NENA-STA-024 EIDO feed and publish every update to Kafka's raw topic."""
    if sub_type not in ("new", "single"):
        raise typer.BadParameter("--type must be new or single")
    logging.basicConfig(level=logging.WARNING,
                        format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s")
    subscription = Subscription(sub_type=sub_type, incident_id=incident_id,  # type: ignore[arg-type]
                                expires=expires)
    settings = Settings()
    ensure_topics(settings, [settings.topic("raw")])  # with the configured partitions
    source = EidoSource(url, settings, subscription, max_backoff)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(source.run(stop))
        await stop.wait()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner

    try:
        asyncio.run(main())
    finally:
        source.close()
        counts = source.counts
        typer.echo(
            f"{counts['notifications']} notifications, {counts['events']} events published,"
            f" {counts['skipped']} re-sent events skipped, {counts['rejected']} rejected,"
            f" {counts['connections']} connection(s)",
            err=True,
        )
