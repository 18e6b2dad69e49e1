"""Consumer lag, measured from Kafka's committed and end offsets, on a real broker."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from callwatch.kafka_admin import ensure_topics
from callwatch.lag import LagProbe
from callwatch.settings import Settings

pytestmark = pytest.mark.integration


def test_lag_counts_what_the_group_has_not_committed(kafka_bootstrap: str, unique_prefix: str):
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=unique_prefix,
        app_id=unique_prefix,
        topic_partitions=2,
    )
    topic = settings.topic("raw")
    ensure_topics(settings, [topic])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for i in range(10):
        producer.send(topic, value=b"x", partition=i % 2)
    producer.flush()
    producer.close()

    probe = LagProbe(settings, {"ingest": [topic]})
    try:
        assert probe.measure() == {"ingest": 10}
        committer = KafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=unique_prefix, enable_auto_commit=False
        )
        committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
        committer.close()
        assert probe.measure() == {"ingest": 7}
    finally:
        probe.close()
