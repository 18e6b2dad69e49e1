"""Create the pipeline's topics up front (kafka-python admin), so that every
topic has the configured partition count before any producer or agent uses it:
the engine's table relies on events and its changelog being co-partitioned.

The worker creates Faust's own topics here too (the tables' changelogs, compacted,
and the assignor's leader topic) with the configured replication: left to Faust,
its first start logs ``[ERROR] Topic ... not found in cluster metadata`` while it
creates them, which reads as a failure on a healthy first run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from callwatch.settings import Settings


class KafkaUnavailable(RuntimeError):
    pass


def client_config(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile is not None:
        config["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    return config


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: ``partitions`` None means the configured count."""

    name: str
    partitions: int | None = None
    compacted: bool = False  # a table's changelog: only each key's latest value matters


def _admin(settings: Settings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(
            client_id="callwatch-admin", request_timeout_ms=10_000, **client_config(settings)
        )
    except KafkaError:
        raise KafkaUnavailable(
            f"no Kafka broker answers at {settings.kafka_bootstrap} "
            f"(CALLWATCH_KAFKA_BOOTSTRAP); is it running?"
        ) from None


def new_topic(settings: Settings, spec: TopicSpec) -> dict[str, dict[str, Any]]:
    """The admin client's description of ``spec`` with the configured replication."""
    configs = {"min.insync.replicas": str(settings.topic_min_insync_replicas)}
    if spec.compacted:
        configs["cleanup.policy"] = "compact"
    return {
        spec.name: {
            "num_partitions": spec.partitions or settings.topic_partitions,
            "replication_factor": settings.topic_replication_factor,
            "configs": configs,
        }
    }


def ensure_topic_specs(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the missing topics of ``specs``; return the names created.

    Existing topics are left as they are (changing a live topic's partitions would
    move its keys); ``callwatch`` never alters what an operator created.
    """
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        created = []
        for spec in specs:
            if spec.name in existing:
                continue
            try:
                admin.create_topics(new_topic(settings, spec))
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def ensure_topics(settings: Settings, names: list[str]) -> list[str]:
    """Create missing topics (plain, configured partitions); return the ones created."""
    return ensure_topic_specs(settings, [TopicSpec(name) for name in names])


def wait_for_group_coordinator(settings: Settings, group: str, timeout: float = 30) -> None:
    """Ask for the group's coordinator until the broker has one.

    A fresh cluster creates ``__consumer_offsets`` on the first request for a
    coordinator, and a new group's coordinator takes a moment to load; asking
    first keeps the worker's consumer from logging GroupCoordinatorNotAvailable
    errors on a healthy start. Gives up quietly: the consumer retries by itself.
    """
    admin = _admin(settings)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                admin.describe_groups([group])
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.5)
    finally:
        admin.close()
