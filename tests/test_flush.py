"""agents.faust_compat.flush: a producer flush waits until faust's buffer is empty."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.faust_compat import flush


class Buffer:
    """faust's ProducerBuffer as flush sees it: it gives up after a quiet 0.1 s."""

    def __init__(self, messages: int, seconds_each: float) -> None:
        self.size, self.seconds_each = messages, seconds_each

    async def flush_atmost(self, most: int) -> int:
        await asyncio.sleep(0.1)  # faust returns after a window without a send
        if self.seconds_each <= 0.1 and self.size:
            self.size -= 1  # one went out (faust counts at least one per wake-up)
            return 1
        return 0


class Producer:
    def __init__(self, buffer: Buffer) -> None:
        self.buffer = buffer
        self._producer = None
        self._transaction_producers: dict[str, Any] = {}
        self.client_flushed_with: int | None = None


def test_flush_waits_for_a_slow_buffer_to_drain(monkeypatch) -> None:
    async def client_flush(self: Producer) -> None:
        self.client_flushed_with = self.buffer.size

    monkeypatch.setattr(flush, "_faust_flush", client_flush)
    producer = Producer(Buffer(messages=3, seconds_each=0.05))
    asyncio.run(flush._flush_all(producer))
    assert producer.client_flushed_with == 0  # faust returns after one quiet window (2 left)


def test_a_stuck_buffer_is_given_up_after_the_stall_time(monkeypatch) -> None:
    async def client_flush(self: Producer) -> None:
        self.client_flushed_with = self.buffer.size

    monkeypatch.setattr(flush, "_faust_flush", client_flush)
    monkeypatch.setattr(flush, "STALLED_SECONDS", 0.3)
    producer = Producer(Buffer(messages=2, seconds_each=10))
    asyncio.run(flush._flush_all(producer))
    assert producer.client_flushed_with == 2
