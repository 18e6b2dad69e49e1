"""Sending events (or raw lines) to Kafka: the tools' one producer.

Built from ``Settings`` so the tools reach the same cluster, with the same
security, as the worker. Durable by default (acks=all, idempotent where the
client supports it: a retried batch is not written twice) and batched for
throughput. Messages are keyed by call id, so all events of a call land on one
partition and keep their order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaTimeoutError

from callwatch.kafka_admin import client_config
from callwatch.settings import Settings
from schemas.events import DispatchEvent
from streams.codec import encode
from streams.replay_schedule import TokenBucket

try:  # kafka-python 2.x; 3.x raises KafkaTimeoutError("Unable to bootstrap ...") instead
    from kafka.errors import NoBrokersAvailable as _NoBrokers
except ImportError:  # pragma: no cover - depends on the installed client
    _NoBrokers = KafkaTimeoutError

Item = DispatchEvent | bytes
KeyFn = Callable[[Item], bytes | None]

BOOTSTRAP_TIMEOUT_S: Final = 10.0
# How long one send may wait for metadata or buffer space before we call it a failure.
MAX_BLOCK_S: Final = 30.0


class BrokerUnavailable(RuntimeError):
    """No broker answered; one line a person can act on."""


class PublishFailed(RuntimeError):
    """Messages were not delivered (or could not be queued)."""


def call_id_key(item: Item) -> bytes | None:
    """The call id as the message key; None for a raw line that has none (a bad line)."""
    if not isinstance(item, bytes):
        return item.call_id.encode()
    try:
        doc = orjson.loads(item)
    except orjson.JSONDecodeError:
        return None
    call_id = doc.get("call_id") if isinstance(doc, dict) else None
    return call_id.encode() if isinstance(call_id, str) and call_id else None


def producer_config(
    settings: Settings,
    client_id: str = "callwatch-publisher",
    bootstrap_timeout: float = BOOTSTRAP_TIMEOUT_S,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        **client_config(settings),  # servers, TLS and SASL as every other client
        "client_id": client_id,
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_block_ms": int(MAX_BLOCK_S * 1000),
    }
    supported = KafkaProducer.DEFAULT_CONFIG
    if "enable_idempotence" in supported:
        config["enable_idempotence"] = True
    if "bootstrap_timeout_ms" in supported:
        config["bootstrap_timeout_ms"] = int(bootstrap_timeout * 1000)
    return config


def connect(
    settings: Settings,
    client_id: str = "callwatch-publisher",
    bootstrap_timeout: float = BOOTSTRAP_TIMEOUT_S,
) -> KafkaProducer:
    try:
        return KafkaProducer(**producer_config(settings, client_id, bootstrap_timeout))
    except (_NoBrokers, KafkaTimeoutError) as exc:
        raise BrokerUnavailable(
            f"no Kafka broker reachable at {settings.kafka_bootstrap} ({exc}); start one with"
            " `callwatch services up` or point CALLWATCH_KAFKA_BOOTSTRAP at yours"
        ) from exc


@dataclass(frozen=True, slots=True)
class PublishResult:
    topic: str
    sent: int
    seconds: float


def publish(
    items: Iterable[Item],
    topic: str,
    key_fn: KeyFn = call_id_key,
    rate: float | None = None,
    *,
    settings: Settings | None = None,
    producer: KafkaProducer | None = None,
    schedule: Iterable[float] | None = None,
    on_sent: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Send every item to ``topic``, flush, and raise if any was not delivered.

    Events are encoded canonically; bytes are sent exactly as given (a trailing
    newline removed), so a malformed line reaches the ingest agent, which sends it
    to the dead-letter topic with its reason. ``rate`` caps sends per second;
    ``schedule`` gives, per item, the second (after the start) to send it at.
    ``on_sent`` is called with the running count, for a progress bar.
    """
    owned = producer is None
    kafka = producer if producer is not None else connect(settings or Settings())
    bucket = TokenBucket(rate, now=clock()) if rate is not None else None
    offsets = iter(schedule) if schedule is not None else None
    failures: list[BaseException] = []
    started = clock()
    sent = 0
    try:
        for item in items:
            if offsets is not None:
                sleep_until(started + next(offsets), clock, sleep)
            if bucket is not None:
                wait = bucket.delay(clock())
                if wait > 0:
                    sleep(wait)
            value = item.rstrip(b"\r\n") if isinstance(item, bytes) else encode(item)
            try:
                future = kafka.send(topic, key=key_fn(item), value=value)
            except KafkaTimeoutError as exc:
                raise PublishFailed(
                    f"could not send to {topic!r} within {MAX_BLOCK_S:.0f}s ({exc});"
                    " is the broker up and does the topic exist?"
                ) from exc
            future.add_errback(failures.append)
            sent += 1
            if on_sent is not None:
                on_sent(sent)
        kafka.flush()
    finally:
        if owned:
            kafka.close()
    if failures:
        raise PublishFailed(
            f"{len(failures)} of {sent} messages to {topic!r} were not delivered: {failures[0]}"
        )
    return PublishResult(topic, sent, clock() - started)


def sleep_until(
    deadline: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> None:
    remaining = deadline - clock()
    if remaining > 0:
        sleep(remaining)
