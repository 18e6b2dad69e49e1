"""Where a partition stands, asked of Kafka when the consumer does not know.

The engine's clock holds time back for a partition with unread events, and for
one whose end or start the consumer does not know yet (``streams.engine.clock
.holds_time_back``): after a takeover or a restart its calls' events may still
be to come. The consumer learns a partition's end from its first fetch and its start from
faust's one seek to the committed offsets after the tables' recovery
(``Consumer.perform_seek``); a partition with nothing new to read is never
processed, so if either is missed nothing fills it in later. The case CI hit (a
takeover that fired no deadline) turned out to be a partition never committed,
whose discarded first fetch faust never read again: ``seek`` fixes that. This
module is the safety net for any other way to leave a partition unplaced:
holding time back for it is right, holding forever on a question nobody asks
again is not.

``ask_kafka`` asks the group coordinator and the partition leaders directly
(the committed offsets, the end offsets), on the consumer's own thread, so the
engine can tell a partition that has nothing to read from one that has.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from faust.types import TP


async def ask_kafka(consumer: Any, tps: Iterable[TP]) -> tuple[dict[TP, int], dict[TP, int | None]]:
    """The end offsets and the group's committed offsets (None: never committed) of ``tps``."""
    wanted = list(tps)
    ends = dict(await consumer.highwaters(*wanted))
    return ends, await committed_offsets(consumer, wanted)


async def committed_offsets(consumer: Any, tps: list[TP]) -> dict[TP, int | None]:
    """The group's committed offsets of ``tps`` (None: never committed)."""
    thread = consumer._thread  # faust's AIOKafkaConsumerThread: aiokafka runs on its loop

    async def committed() -> dict[TP, int | None]:
        found = await thread._ensure_consumer()._coordinator.fetch_committed_offsets(tps)
        out: dict[TP, int | None] = {}
        for tp in tps:
            meta = found.get(tp)
            out[tp] = None if meta is None or meta.offset < 0 else meta.offset
        return out

    result: dict[TP, int | None] = await thread.call_thread(committed)
    return result


async def start_of(consumer: Any, tp: TP) -> int:
    """Where the group's consumption of ``tp`` starts: its committed offset, or, never
    committed, the log start (the consumer's reset is "earliest")."""
    offset = (await committed_offsets(consumer, [tp])).get(tp)
    if offset is not None:
        return offset
    starts = await consumer.earliest_offsets(tp)
    return int(starts.get(tp, 0))


def sending_to(producer: Any, topic: str) -> set[int]:
    """The partitions of ``topic`` this worker's producer holds records for that Kafka
    has not acknowledged yet: batched, or sent and awaiting the answer.

    The engine holds such a partition's clock back. The fault suite's three-broker run
    showed why: with the leader of an events partition killed, the ingest's events
    for it waited in the producer for the new leader (9 s), nothing was unread on
    the partition itself, it went quiet after the idle time, and the others' time
    fired a deadline of one of its calls before the event that met it arrived (a
    commander finding, and its alert, that the truth does not have)."""
    client = producer._producer  # aiokafka's AIOKafkaProducer; None before the start
    if client is None:
        return set()
    accumulator = client._message_accumulator
    waiting = {tp.partition for tp, batches in accumulator._batches.items()
               if tp.topic == topic and batches}
    waiting.update(b.tp.partition for b in accumulator._pending_batches if b.tp.topic == topic)
    return waiting
