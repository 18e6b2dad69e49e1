"""Alerter agent: alert intents and acks (alerts topic) -> supervisors, durably.

The alerts topic is the outbox. Each intent or ack updates the call's delivery
state in a changelog-backed table (keyed by call id, like the topic, so a
call's state lives in the partition that receives its records); the state is
flushed to the changelog before the batch's offsets are committed. Delivery
then runs from that state (``callwatch.alerting.dispatch``, which makes each
attempt durable as in flight before sending it): right after each
batch and on a timer that retries failures with backoff, re-sends firing alerts
to Alertmanager and escalates unacknowledged ones. After a restart the timer
rebuilds its schedule from the table, so nothing pending is lost; what was
already delivered is recorded there and not sent again.

Configuration errors (alerts file, secrets, ack tokens, ack port) are raised
here, from ``build_app``, before the worker joins the consumer group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Final, cast

import faust
import orjson
from faust.types import EventT, StreamT

from agents.faust_compat.batching import batches
from agents.lifecycle import on_stopping
from agents.topics import TopicNames, deadletter_headers, partition_of
from callwatch import metrics
from callwatch.alerting.acks import AckServer, bind, load_tokens
from callwatch.alerting.action_links import LinkSigner, actions_base_url, load_link_key
from callwatch.alerting.actions import ActionPages, HistorySource
from callwatch.alerting.config import load_alerts
from callwatch.alerting.dispatch import Dispatcher
from callwatch.bootstrap import Components
from streams.alerting.records import is_request

log = logging.getLogger("callwatch.alerter")

BATCH: Final = 200
WITHIN_SECONDS: Final = 0.05
TICK_SECONDS: Final = 0.5
_INTENT_FIELDS: Final = ("alert_id", "dedup_key", "call_id", "rule", "severity", "state")
_ACK_FIELDS: Final = ("ack_id", "dedup_key", "call_id", "by", "at")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class TableStore:
    """The dispatcher's view of the Faust table (bytes in, bytes out)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: bytes) -> bytes | None:
        value = self.table.get(key)
        return value if isinstance(value, bytes) else None

    def set(self, key: bytes, value: bytes) -> None:
        self.table[key] = value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.table.items())


def register_alerter(app: faust.App, topics: TopicNames, components: Components) -> None:
    settings = components.settings
    rules = [rule.id for rule in components.policy.rules]
    setup = load_alerts(settings.alerts_file, rules)
    tokens = load_tokens(settings.ack_tokens_file) if settings.ack_tokens_file else None
    link_key = load_link_key(settings)
    base_url = actions_base_url(settings)
    signer = (
        LinkSigner(link_key, base_url, int(settings.link_ttl_minutes * 60_000))
        if link_key is not None else None
    )
    serving = tokens is not None or link_key is not None
    sock = bind(settings.ack_host, settings.ack_port) if serving else None

    alerts_topic = app.topic(topics.alerts, value_serializer="raw", key_serializer="raw")
    deliveries_topic = app.topic(topics.deliveries, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(topics.deadletter, value_serializer="raw", key_serializer="raw")
    # use_partitioner: the changelog partition follows the key's hash, as the
    # alerts topic (keyed by call id) is partitioned -- writes from the timer and
    # from channel tasks have no "current event" to take a partition from.
    table = app.Table(
        "alertstate",
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
        use_partitioner=True,
    )

    async def emit(call_id: str, record: dict[str, Any]) -> None:
        await deliveries_topic.send(key=call_id.encode(), value=orjson.dumps(record))

    owned: set[int] = set()  # partitions of the alerts topic this worker consumes

    def owns(call_id: str) -> bool:
        return partition_of(call_id.encode(), settings.topic_partitions) in owned

    async def durable() -> None:
        # the table's changelog writes (and anything else pending) acknowledged by Kafka
        await app.producer.flush()

    dispatcher = Dispatcher(setup, TableStore(table), emit, wall_ms, owns, durable, signer)
    rebuild = {"needed": True}
    log.info("alerter: %s; channels %s", setup.source, ", ".join(sorted(setup.channels)))

    @app.agent(alerts_topic, name="callwatch.alerter")
    async def alerter(stream: StreamT[bytes]) -> None:
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            started, passed = time.perf_counter(), 0
            for record in batch:
                doc = await _decode(deadletter_topic, record)
                if doc is None:
                    continue
                if is_request(doc):  # an acknowledgement or "escalate now"
                    await dispatcher.acknowledge(doc)
                else:
                    dispatcher.receive(doc)
                passed += 1
            # the state (changelog) and ack records are in Kafka before the offsets move
            await app.producer.flush()
            metrics.batch_processed("alerter", len(batch), passed, time.perf_counter() - started)
            if not rebuild["needed"]:
                await dispatcher.tick()  # deliver now rather than at the next tick

    @app.timer(TICK_SECONDS, name="callwatch.alerter.deliveries")  # type: ignore[untyped-decorator]
    async def deliver() -> None:
        if not cast(Any, app.tables).recovery.completed.is_set():
            return
        if rebuild["needed"]:
            rebuild["needed"] = False
            owned.clear()
            owned.update(
                tp.partition for tp in app.consumer.assignment() if tp.topic == topics.alerts
            )
            pending = dispatcher.rebuild()
            if pending:
                log.warning("alerter: %d call(s) with alerts pending or firing", pending)
        await dispatcher.tick()

    async def _on_rebalance(sender: Any, **kwargs: Any) -> None:
        rebuild["needed"] = True

    cast(Any, app.on_rebalance_complete).connect(_on_rebalance)

    async def _stop_delivering() -> None:
        # Before faust stops the consumer and the tables: the sends under way may
        # finish and record their outcomes, and what never reached a channel is
        # handed back, durably (see Dispatcher.stop and issue #21).
        cut_off = await dispatcher.stop(settings.shutdown_grace_seconds)
        log.info("alerter stopped (%d send(s) cut off)", cut_off)

    on_stopping(app, _stop_delivering)

    async def _on_shutdown(sender: Any, **kwargs: Any) -> None:
        await dispatcher.close()  # already stopped on a graceful stop; idempotent

    cast(Any, app.on_before_shutdown).connect(_on_shutdown)

    if sock is not None:
        async def submit(record: dict[str, Any]) -> None:
            pending = await alerts_topic.send(
                key=str(record["call_id"]).encode(), value=orjson.dumps(record)
            )
            await pending  # answer 202 only once Kafka has the ack

        history: HistorySource | None = None
        pages: ActionPages | None = None
        if link_key is not None:
            history = HistorySource(
                components.es_async(),
                {name: settings.index(name) for name in ("events", "findings", "alerts")},
            )
            pages = ActionPages(
                key=link_key, base_url=base_url, policy=components.policy,
                timezone=setup.context.timezone, submit=submit,
                state_of=dispatcher.call_state, outcome_of=dispatcher.outcomes.get,
                history=history, now_ms=wall_ms,
            )
        server = AckServer(sock, tokens, rules, submit, wall_ms, pages)

        @app.task  # type: ignore[untyped-decorator]
        async def serve_acks() -> None:
            await server.start()
            log.info("acknowledgements%s served on %s:%d",
                     " and call pages" if pages is not None else "", settings.ack_host,
                     settings.ack_port)

        async def _stop_server(sender: Any, **kwargs: Any) -> None:
            await server.stop()
            if history is not None:
                await history.close()

        cast(Any, app.on_before_shutdown).connect(_stop_server)


async def _decode(deadletter: faust.TopicT, record: EventT[bytes]) -> dict[str, Any] | None:
    raw = record.value if isinstance(record.value, bytes) else b""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        await _dead_letter(deadletter, record, "invalid_json", "not JSON")
        return None
    if not isinstance(doc, dict):
        await _dead_letter(deadletter, record, "not_an_object", "not a JSON object")
        return None
    required = _ACK_FIELDS if is_request(doc) else _INTENT_FIELDS
    missing = [field for field in required if not doc.get(field)]
    if missing:
        kind = str(doc["kind"]) if is_request(doc) else "alert intent"
        await _dead_letter(
            deadletter, record, "schema_violation", f"{kind} without {', '.join(missing)}"
        )
        return None
    return doc


async def _dead_letter(
    topic: faust.TopicT, record: EventT[bytes], reason: str, detail: str
) -> None:
    message = record.message
    await topic.send(
        key=record.key,
        value=record.value,
        headers=deadletter_headers(
            stage="alerter",
            reason=reason,
            detail=detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        ),
    )
    metrics.dead_letter(reason)
