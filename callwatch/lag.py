"""Consumer lag per stage: what each stage still has to read, from Kafka's own books.

Computed from the group's committed offsets and the partitions' end offsets with
a plain kafka-python consumer that never subscribes (so it never joins, and never
disturbs, the worker's group). ``callwatch.metrics_sidecar`` runs it every
``CALLWATCH_LAG_INTERVAL_SECONDS`` in the worker's metrics process, so lag keeps being
measured while the worker itself hangs.

Faust commits one offset per topic partition for the whole group: where two
stages read one topic (engine and indexer both read ``events``) both see the
offset that both have acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaConsumer, TopicPartition

from callwatch.kafka_admin import client_config
from callwatch.settings import Settings


def stage_topics(settings: Settings) -> dict[str, list[str]]:
    """Each stage's input topics, as the agents subscribe to them (agents/*.py)."""
    return {
        "ingest": [settings.topic("raw")],
        "engine": [settings.topic("events")],
        "indexer": [
            settings.topic(name) for name in ("events", "calls", "findings", "deadletter",
                                              "deliveries")
        ],
        "alerter": [settings.topic("alerts")],
    }


class LagProbe:
    def __init__(self, settings: Settings, stage_topics: Mapping[str, list[str]]) -> None:
        self.stage_topics = stage_topics
        self._consumer = KafkaConsumer(
            group_id=settings.app_id,
            enable_auto_commit=False,
            client_id="callwatch-lag",
            **client_config(settings),
        )

    def measure(self) -> dict[str, int]:
        lag: dict[str, int] = {}
        for stage, topics in self.stage_topics.items():
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            ]
            if not partitions:
                continue
            ends = self._consumer.end_offsets(partitions)
            total = 0
            for tp in partitions:
                committed = self._consumer.committed(tp) or 0
                total += max(0, ends.get(tp, 0) - committed)
            lag[stage] = total
        return lag

    def close(self) -> None:
        self._consumer.close()
