"""A batch's Kafka output, sent straight through the app's producer.

Faust's ``Topic.send`` wraps every message in a FutureMessage, a channel hop,
sensor callbacks and a publish callback: most of the per-message cost on the
hot path, for nothing these agents use. ``Output.send`` hands the bytes to the
producer directly (same producer, same default partitioner: murmur2 of the key,
so partitioning is unchanged), and ``Output.flush`` waits until every message
of the batch is acknowledged and raises if any was not. The agent calls
``flush`` before its batch's input offsets are acknowledged: at-least-once, and
stricter than before, when a failed send went unnoticed.
"""

from __future__ import annotations

import asyncio

import faust

Headers = list[tuple[str, bytes]]


class Output:
    def __init__(self, app: faust.App) -> None:
        self.app = app
        self._pending: list[asyncio.Future[object]] = []

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: Headers | None = None
    ) -> None:
        future = await self.app.producer.send(topic, key, value, None, None, headers)
        self._pending.append(future)  # type: ignore[arg-type]

    async def flush(self) -> None:
        """Everything sent so far is durable in Kafka (or this raises)."""
        await self.app.producer.flush()
        pending, self._pending = self._pending, []
        for future in pending:
            if not future.done():
                await future
            future.result()  # re-raises a delivery failure: the batch is not acknowledged
