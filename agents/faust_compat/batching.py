"""Batches of Kafka records from a Faust stream, acknowledged only when processed.

``Stream.take_events`` acknowledges a batch in a ``finally`` clause: after the
loop body returns, but also when the body raised or was cancelled (a worker
stopping mid-batch) and the generator is closed. Acknowledged offsets get
committed, so the unprocessed rest of such a batch would be skipped for good --
the failure mode of faust-streaming #606 (offsets committed past events still
being processed).

``batches`` closes that path: each event of a batch carries one extra
reference while the batch is out, released only when the loop body asks for
the next batch, i.e. after it returned normally (having flushed its outputs).
A batch whose body did not finish keeps its references, is never
acknowledged, and is processed again after a restart: at-least-once. (Faust's
``StreamT`` protocol lacks ``take_events``; the concrete ``Stream`` has it.)

Before the first batch, the producer is made to know every table's changelog
topic: a table keyed through the partitioner (``use_partitioner=True``) asks
the producer for the key's partition without fetching metadata first, and just
after start-up that raised ``TypeError: 'NoneType' object is not iterable`` in
the first table write (seen on the alerter's table in the fault suite).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from faust.streams import Stream
from faust.types import AppT, EventT, StreamT


class InProgress:
    """How many batches the agents are processing right now.

    A graceful stop waits for these to finish (their outputs flushed, their
    records acknowledged) and no longer: a record read but not yet in a batch will
    not be processed once faust has suspended the flow, so it is left
    unacknowledged for the next start (``agents.faust_compat.offsets``' bounded wait).
    """

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.count += 1
        self._idle.clear()

    def end(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True once no batch is in progress; False if ``timeout`` came first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


IN_PROGRESS = InProgress()


async def batches(
    stream: StreamT[bytes], size: int, within: float
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    assert isinstance(stream, Stream)
    await changelog_metadata(stream.app)
    async for batch in stream.take_events(size, within=within):
        for event in batch:
            event.message.incref()  # take_events' own ack cannot release it on its own
        IN_PROGRESS.begin()
        try:
            yield batch
        finally:  # the body returned, or was cancelled and the generator closed
            IN_PROGRESS.end()
        # Resumed: the body returned. Release our reference; take_events' ack releases its.
        for event in batch:
            event.ack()
        # Let the batch go (the caller's loop variable holds this list until the next
        # batch): a rebalance waits for every message still referenced to be acknowledged,
        # and one the consumer handed to only some of its streams never will be.
        if isinstance(batch, list):
            batch.clear()


async def changelog_metadata(app: AppT) -> None:
    """Fetch the producer's metadata for every table's changelog topic (once per app)."""
    state: Any = app.__dict__
    if "_callwatch_changelog_metadata" not in state:
        state["_callwatch_changelog_metadata"] = asyncio.ensure_future(_fetch(app))
    await asyncio.shield(state["_callwatch_changelog_metadata"])


async def _fetch(app: AppT) -> None:
    producer = app.producer._ensure_producer()  # type: ignore[attr-defined]
    for table in app.tables.values():
        await producer.partitions_for(table.changelog_topic.get_topic_name())
