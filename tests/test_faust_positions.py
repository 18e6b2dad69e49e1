"""``faust_compat.positions.ask_kafka`` against a real broker and faust's real consumer.

The engine asks it where a partition stands when faust cannot say (its seek to the
committed offsets timed out after a takeover): the answer must be the group's
committed offset and the partition's end, exactly as Kafka has them, and "never
committed" must come back as None, not as an offset.
"""

from __future__ import annotations

import asyncio
import uuid

import faust
import pytest
from faust.types import TP
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.structs import OffsetAndMetadata

from agents.faust_compat import positions

pytestmark = pytest.mark.integration


def test_asks_the_committed_end_and_start_offsets_of_partitions(kafka_bootstrap: str) -> None:
    topic, group = f"positions-{uuid.uuid4().hex[:8]}", f"positions-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for partition, count in ((0, 5), (1, 2)):
        for _ in range(count):
            producer.send(topic, b"event", partition=partition)
    producer.flush()
    producer.close()
    committer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                              enable_auto_commit=False)
    committer.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
    committer.close()
    # partition 1: retention took its first record (the log starts at 1)
    admin.delete_records({TopicPartition(topic, 1): 1})
    admin.close()

    async def ask() -> tuple[dict[TP, int], dict[TP, int | None], list[int]]:
        app = faust.App(group, broker=f"kafka://{kafka_bootstrap}", web_enabled=False)
        app.topic(topic)
        await app.consumer.start()
        try:
            tps = [TP(topic, p) for p in range(3)]
            ends, committed = await positions.ask_kafka(app.consumer, tps)
            return ends, committed, [await positions.start_of(app.consumer, tp) for tp in tps]
        finally:
            await app.consumer.stop()

    ends, committed, starts = asyncio.run(ask())
    assert ends == {TP(topic, 0): 5, TP(topic, 1): 2, TP(topic, 2): 0}
    # partition 0: 2 events left to read; 1: never committed (read from the start); 2: empty
    assert committed == {TP(topic, 0): 3, TP(topic, 1): None, TP(topic, 2): None}
    # where the group's consumption starts: the committed offset, else the log start
    assert starts == [3, 1, 0]


def test_sending_to_names_the_partitions_the_producer_still_holds(kafka_bootstrap: str) -> None:
    topic = f"positions-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()

    async def send() -> tuple[set[int], set[int], set[int]]:
        # a long linger keeps the batch in aiokafka's accumulator until the flush
        app = faust.App(f"positions-{uuid.uuid4().hex[:8]}", broker=f"kafka://{kafka_bootstrap}",
                        web_enabled=False, producer_linger_ms=2_000)
        producer = app.producer
        await producer.start()
        try:
            before = positions.sending_to(producer, topic)
            await producer.send(topic, None, b"event", partition=2, timestamp=None, headers=None)
            held = positions.sending_to(producer, topic)
            await producer.flush()
            return before, held, positions.sending_to(producer, topic)
        finally:
            await producer.stop()

    before, held, after = asyncio.run(send())
    assert (before, held, after) == (set(), {2}, set())
