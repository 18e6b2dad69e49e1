"""Create the pipeline's topics up front (kafka-python admin), so that every
topic has the configured partition count before any producer or agent uses it:
the engine's table relies on events and its changelog being co-partitioned."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
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


def ensure_topics(settings: Settings, names: list[str], partitions: int | None = None) -> list[str]:
    """Create missing topics (``partitions`` each, default the setting); return those created."""
    try:
        admin = KafkaAdminClient(
            client_id="callwatch-admin", request_timeout_ms=10_000, **client_config(settings)
        )
    except KafkaError:
        raise KafkaUnavailable(
            f"no Kafka broker answers at {settings.kafka_bootstrap} "
            f"(CALLWATCH_KAFKA_BOOTSTRAP); is it running?"
        ) from None
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        created = []
        for name in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            name,
                            partitions or settings.topic_partitions,
                            settings.topic_replication_factor,
                        )
                    ]
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
