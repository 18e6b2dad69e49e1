"""``Producer.flush`` that really waits for everything sent so far.

faust-streaming 0.15 first drains its own producer buffer (where table changelog
writes wait to be handed to the Kafka client), but ``ProducerBuffer.flush`` gives
up as soon as 0.1 s pass without a message going out -- a producer waiting for
metadata just after a restart, or a busy event loop, is enough -- and the client
flush then covers only what had reached it. Everything that relies on a flush
was exposed: the consumer flushes before committing offsets (a table write
could be lost behind a committed offset), the agents before acknowledging a
batch, and the alerter before calling a channel (its "sending" record): the
fault suite saw an alert sent, the worker SIGKILLed, and the alert sent again
unmarked, its in-flight record never having reached Kafka.

The patched flush waits until every message put in the buffer before it was
called has been *handed over* to the Kafka client, then flushes the client.
Counting hand-overs, not the buffer's size: ``ProducerBuffer.size`` drops as
soon as faust's sending task takes a message, before the client holds it (the
hand-over itself can wait, for the topic's metadata after a restart); a flush
that trusted the size could return while a changelog record was still on its
way, the consumer commit past it, and a SIGKILL lose it behind a committed
offset. The fault suite saw that after a takeover: one call's state missing
five events, one alert in the outbox never delivered. If no message is handed
over for ``STALLED_SECONDS`` (the sending task is stuck or gone), it stops
waiting, as faust would have, and says so. faust's threaded producer (not used
by callwatch) keeps faust's own flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

from faust.transport.drivers.aiokafka import Producer
from faust.transport.producer import ProducerBuffer

log = logging.getLogger("callwatch.flush")

STALLED_SECONDS: Final = 60.0
_faust_flush = Producer.flush


_faust_put = ProducerBuffer.put
_faust_send_pending = ProducerBuffer._send_pending


def _put(self: Any, fut: Any) -> None:
    self._callwatch_put = getattr(self, "_callwatch_put", 0) + 1
    _faust_put(self, fut)


async def _send_pending(self: Any, fut: Any) -> None:
    try:
        await _faust_send_pending(self, fut)
    finally:  # counted before faust sets message_sent, so a flush waiting on it sees it
        self._callwatch_handed = getattr(self, "_callwatch_handed", 0) + 1


def _handed(buffer: Any) -> int:
    return int(getattr(buffer, "_callwatch_handed", 0))


async def _flush_all(self: Any) -> None:
    buffer = self.buffer
    if not buffer.app.conf.producer_threaded:
        # The buffer is a queue: once as many messages as were put before this call
        # have been handed over, all of those have (messages put meanwhile need not be).
        owed, last, since = getattr(buffer, "_callwatch_put", 0), _handed(buffer), time.monotonic()
        while _handed(buffer) < owed:
            if buffer.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")  # as faust's own
            buffer.message_sent.clear()
            if _handed(buffer) >= owed:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(buffer.message_sent.wait(), timeout=0.1)
            if _handed(buffer) != last:
                last, since = _handed(buffer), time.monotonic()
            elif time.monotonic() - since >= STALLED_SECONDS:
                log.warning("producer buffer: %d message(s) not handed over for %.1f s",
                            owed - last, STALLED_SECONDS)
                break
    await _faust_flush(self)


def install() -> None:
    """Patch the aiokafka producer's flush and count the buffer's hand-overs (idempotent)."""
    Producer.flush = _flush_all  # type: ignore[method-assign]
    ProducerBuffer.put = _put  # type: ignore[method-assign]
    ProducerBuffer._send_pending = _send_pending  # type: ignore[method-assign]
