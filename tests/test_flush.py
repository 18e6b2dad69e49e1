"""agents.faust_compat.flush against faust's real producer and its real ProducerBuffer.

A flush must return only once every message put in the buffer before it has been
handed over to the Kafka client: the consumer flushes before it commits, and a
changelog record still on its way when the offsets are committed is lost to a
SIGKILL. The hand-over is slowed by a channel whose ``publish_message`` takes
longer than faust's 0.1 s window (as a client waiting for a topic's metadata does).
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types.tuples import FutureMessage, PendingMessage

from agents.faust_compat import flush


class SlowHandOver(faust.Channel):
    """A real faust channel whose hand-over to the client takes ``seconds``."""

    def __init__(self, app: faust.App, seconds: float) -> None:
        super().__init__(app)
        self.seconds, self.handed_over = seconds, []

    async def publish_message(self, fut: Any, wait: bool = True) -> Any:
        await asyncio.sleep(self.seconds)
        self.handed_over.append(fut.message.value)
        return fut


def message(channel: faust.Channel, value: bytes) -> FutureMessage:
    return FutureMessage(PendingMessage(channel, None, value, None, None, None, None, None, None))


async def flush_after_putting(count: int, seconds: float) -> tuple[list[bytes], int]:
    """Put ``count`` messages, flush; what had been handed over when flush returned."""
    app = faust.App("flush-contract", broker="kafka://127.0.0.1:1", store="memory://")
    producer = app.producer  # the real aiokafka driver's Producer, not started: no broker
    buffer = producer.buffer
    await buffer.start()  # runs faust's own sending task (_handle_pending)
    try:
        channel = SlowHandOver(app, seconds)
        for i in range(count):
            buffer.put(message(channel, b"m%d" % i))
        await flush._flush_all(producer)
        return list(channel.handed_over), buffer.size
    finally:
        await buffer.stop()


@pytest.fixture(autouse=True)
def installed() -> None:
    flush.install()


def test_flush_returns_only_after_every_message_was_handed_over() -> None:
    handed_over, size = asyncio.run(flush_after_putting(3, seconds=0.3))
    # faust's own flush, or one trusting the buffer's size, returned with the last
    # message taken from the queue but not yet handed over (2 of 3)
    assert handed_over == [b"m0", b"m1", b"m2"]
    assert size == 0


def test_a_stalled_hand_over_is_given_up_after_the_stall_time(monkeypatch) -> None:
    monkeypatch.setattr(flush, "STALLED_SECONDS", 0.5)
    handed_over, size = asyncio.run(flush_after_putting(1, seconds=30))
    assert (handed_over, size) == ([], 0)  # taken, never handed over: given up, logged
