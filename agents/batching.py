"""Batches of Kafka records from a Faust stream.

``take_events`` acknowledges a batch only after the loop body that consumed it
returns, so flushing outputs inside the body gives at-least-once delivery.
(Faust's ``StreamT`` protocol lacks ``take_events``; the concrete ``Stream`` has it.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from faust.streams import Stream
from faust.types import EventT, StreamT


def batches(
    stream: StreamT[bytes], size: int, within: float
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    assert isinstance(stream, Stream)
    return stream.take_events(size, within=within)
