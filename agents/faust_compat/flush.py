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

The patched flush waits until the messages the buffer held when it was called
have gone out (faust raises if the producer stops meanwhile), then flushes the
client. If the buffer makes no progress for ``STALLED_SECONDS`` (its sending
task is stuck or gone), it stops waiting, as faust would have, and says so.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from faust.transport.drivers.aiokafka import Producer

log = logging.getLogger("callwatch.flush")

STALLED_SECONDS: Final = 60.0
_faust_flush = Producer.flush


async def _flush_all(self: Any) -> None:
    buffer = self.buffer
    # The buffer is a queue: once as many messages as it held now have gone out,
    # everything sent before this call has (messages added meanwhile need not be).
    owed, since = buffer.size, time.monotonic()
    while owed > 0 and buffer.size:
        sent = await buffer.flush_atmost(owed)  # returns after 0.1 s without a send
        if sent:
            owed, since = owed - sent, time.monotonic()
        elif time.monotonic() - since >= STALLED_SECONDS:
            log.warning("producer buffer stuck at %d message(s) for %.0f s",
                        buffer.size, STALLED_SECONDS)
            break
    await _faust_flush(self)


def install() -> None:
    """Patch the aiokafka producer's flush (idempotent)."""
    Producer.flush = _flush_all  # type: ignore[method-assign]
