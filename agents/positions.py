"""Where the engine stands in each events partition, and whether a record is in order.

faust-streaming can hand a stream later records of a partition before earlier
ones: after a rebalance, records fetched before its seek back to the committed
offset arrive first (seen in the fault suite: offsets 284.. processed, then
257-283). ``agents.offsets`` makes sure the missing ones are read again and
never committed past, so nothing is lost; but the event clock must not move on
records read past such a gap, or the deadlines of calls whose events are in the
gap fire before those events are read (a false finding).

``Positions.in_order`` says whether a record continues the unbroken run from
where the partition stood (the committed offset when it was assigned). A record
past a gap is still applied -- its effects are kept; its re-delivery after the
gap is read again is a duplicate -- but its time is not observed. A gap that
never fills (retention deleted the missing records) is accepted after
``give_up_seconds``. (The events topic is written by callwatch's own
producer, without transactions, so its offsets have no holes of their own.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

log = logging.getLogger("callwatch.engine")

GIVE_UP_SECONDS: Final = 60.0


class Positions:
    def __init__(
        self,
        give_up_seconds: float = GIVE_UP_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.give_up_seconds = give_up_seconds
        self.monotonic = monotonic
        self._next: dict[int, int] = {}  # partition -> next offset of the unbroken run
        self._gap_since: dict[int, float] = {}

    def clear(self) -> None:
        """A rebalance: every partition starts again from its committed offset."""
        self._next.clear()
        self._gap_since.clear()

    def next_offset(self, partition: int) -> int | None:
        return self._next.get(partition)

    def in_order(self, partition: int, offset: int, committed: int | None) -> bool:
        """Record ``offset`` was read from ``partition``; ``committed``: the group's
        committed offset there (None if not known), where the run starts."""
        expected = self._next.get(partition, committed)
        if expected is None or offset <= expected:  # the next one, or one read again
            self._next[partition] = max(offset + 1, expected or 0)
            self._gap_since.pop(partition, None)
            return True
        self._next[partition] = expected
        since = self._gap_since.setdefault(partition, self.monotonic())
        if self.monotonic() - since < self.give_up_seconds:
            return False
        log.warning(
            "events partition %d: offsets %d-%d never arrived in %.0f s; going on from %d",
            partition, expected, offset - 1, self.give_up_seconds, offset,
        )
        self._next[partition] = offset + 1
        self._gap_since.pop(partition, None)
        return True
