"""The pipeline's topics. Every topic after ingest is keyed by call id.

raw          any bytes from a CAD adapter, publisher or simulator
events       canonical dispatch events (JSON), key = call id
deadletter   input no stage could process: value = the original bytes,
             headers = stage, reason, detail and where it came from
calls        the current picture of each call (JSON), key = call id
findings     each finding whenever it changes (JSON), key = call id
alerts       the alert outbox: alert intents to deliver (JSON), key = call id;
             also acknowledgements ({"kind": "ack", ...}), so they follow their alert
deliveries   what the alerter did: every delivery attempt, ack and escalation (JSON)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import faust
from aiokafka.partitioner import murmur2

from callwatch.kafka_admin import TopicSpec
from callwatch.settings import Settings


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a key on every keyed topic (and the tables' changelogs): Kafka's
    default partitioner, murmur2, as every producer of the pipeline uses it."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


NAMES: Final = ("raw", "events", "deadletter", "calls", "findings", "alerts", "deliveries")


@dataclass(frozen=True)
class TopicNames:
    raw: str
    events: str
    deadletter: str
    calls: str
    findings: str
    alerts: str
    deliveries: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        return cls(**{name: settings.topic(name) for name in NAMES})

    def all(self) -> list[str]:
        return [getattr(self, name) for name in NAMES]


def worker_topics(app: faust.App, topics: TopicNames) -> list[TopicSpec]:
    """Every topic the worker uses: the pipeline's, each table's changelog (compacted,
    partitioned like the table) and Faust's leader-election topic (one partition)."""
    specs = [TopicSpec(name) for name in topics.all()]
    for table in app.tables.values():
        specs.append(
            TopicSpec(
                table.changelog_topic.get_topic_name(),
                partitions=table.partitions,
                compacted=True,
            )
        )
    specs.append(TopicSpec(f"{app.conf.id}-__assignor-__leader", partitions=1))
    return specs


def deadletter_headers(
    *, stage: str, reason: str, detail: str, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    return [
        ("callwatch-stage", stage.encode()),
        ("callwatch-reason", reason.encode()),
        ("callwatch-detail", detail[:1000].encode("utf-8", "replace")),
        ("callwatch-source-topic", topic.encode()),
        ("callwatch-source-partition", str(partition).encode()),
        ("callwatch-source-offset", str(offset).encode()),
    ]
