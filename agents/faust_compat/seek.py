"""After a rebalance, every partition is sought to where the group starts, committed or not.

faust's recovery ends with ``Consumer.perform_seek``: each assigned partition is
sought to its committed offset, so records fetched while the flow was suspended
(which faust's ``getmany`` discards once fetched: the client's position has
moved past them all the same) are fetched again. A partition with no committed
offset is not sought at all (aiokafka seeks only to an offset above 0), so what
was fetched and discarded for it is never read again on this worker.

The fault suite hit it under load: a worker SIGKILLed before its first commit of
two partitions left them uncommitted; the survivor's first fetch of them fell in
its recovery and was discarded, its position stood at their end, and it never
processed their events -- so the engine's clock, rightly holding time back for
events unread, held every deadline on the worker for good (12 alerts never
sent). Nothing would have been lost for good (uncommitted, they are read again
at the next start), but nothing was done until then either.

``_perform_seek_all`` runs faust's seek, then seeks each stream partition that
still has no committed offset to the log start, where the consumer's "earliest"
reset would have put a new consumer. Changelog partitions are left to faust's
recovery. No upstream issue found.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger("callwatch.offsets")

_faust_perform_seek = Consumer.perform_seek


async def _perform_seek_all(self: Any) -> None:
    await _faust_perform_seek(self)
    unplaced = sorted(
        tp for tp in self.assignment()
        if self._committed_offset.get(tp) is None and not self._is_changelog_tp(tp)
    )
    if not unplaced:
        return
    starts = dict(await self.earliest_offsets(*unplaced))
    log.info("seeking %d partition(s) with no committed offset to the log start", len(starts))
    await self.seek_wait(starts)
    for tp in starts:  # so faust does not take them for records it already read
        self._read_offset[tp] = None


def install() -> None:
    """Patch ``Consumer.perform_seek`` (idempotent)."""
    Consumer.perform_seek = _perform_seek_all  # type: ignore[method-assign]
