"""Never commit past an offset no stream acknowledged (faust-streaming #606).

How faust-streaming 0.15 skips messages. While the consumer hands a message to
the streams, a rebalance suspends the flow: the hand-over is cancelled (or done
for some streams and not others), yet the offset is marked as read, so when the
message is fetched again it is dropped as a duplicate ("DROPPED MESSAGE ROFF").
Nothing will ever acknowledge it. A fetch that jumps ahead after a seek is
likewise recorded as a "gap" that counts as acknowledged. The commit should stop
below such an offset, but ``Consumer._new_offset`` only refuses when the first
acknowledged offset is *more than one* past the committed offset (and not at
all when the committed offset is 0), and treats recorded gaps as done. The fault
suite lost events this way after a restart and after a takeover by a second
worker (one event once; 11, 473 at other times), before this guard.

Our agents acknowledge in offset order per partition (one actor each, a batch
acknowledged as a whole after its body returned, ``agents.batching``), so the
first acknowledged offset of a partition must be its committed offset. The
guard makes that the rule. When it is not, nothing is committed for the
partition and the log is asked where it starts: if the missing offsets are gone
from the log (retention deleted them, the case faust's gaps exist for), faust's
commit proceeds; otherwise the partition is sought back to its committed offset
and the missing messages are read again (the ones after them a second time:
repeats, which the pipeline ignores by id).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from faust.transport.consumer import Consumer

log = logging.getLogger("callwatch.offsets")

_faust_new_offset = Consumer._new_offset
# Look again if the missing messages have still not been acknowledged after this long.
RECHECK_SECONDS: Final = 30.0
_tasks: set[asyncio.Future[Any]] = set()


def _strict_new_offset(self: Any, tp: Any) -> int | None:
    committed = self._committed_offset[tp]
    acked = self._acked[tp]
    if committed is not None and acked:
        first = min(acked)
        gaps = self._gap[tp]
        if gaps:
            first = min(first, gaps.begin())
        if first > committed and not _gone_from_log(self, tp, committed, first):
            return None
    result: int | None = _faust_new_offset(self, tp)
    return result


def _gone_from_log(consumer: Any, tp: Any, committed: int, first: int) -> bool:
    """True once the log is known to start at or after ``first`` (the offsets from
    ``committed`` on were deleted); until then, check it, and read them again."""
    state: dict[Any, tuple[int, float, bool | None]] = consumer.__dict__.setdefault(
        "_callwatch_missing", {}
    )
    known = state.get(tp)
    now = time.monotonic()
    if known is not None and known[0] == committed:
        if known[2] is True:
            return True
        if known[2] is None or now - known[1] < RECHECK_SECONDS:
            return False  # being checked, or sought back and on the way
    state[tp] = (committed, now, None)
    task = asyncio.ensure_future(_check(consumer, tp, committed, first, state))
    _tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_tasks.discard)
    return False


async def _check(
    consumer: Any, tp: Any, committed: int, first: int, state: dict[Any, Any]
) -> None:
    try:
        start = (await consumer.earliest_offsets(tp)).get(tp)
    except Exception as exc:  # ask again at the next commit
        log.warning("%s: cannot read the log start (%r); not committing yet", tp, exc)
        state.pop(tp, None)
        return
    if start is not None and start >= first:
        state[tp] = (committed, time.monotonic(), True)
        return
    state[tp] = (committed, time.monotonic(), False)
    log.warning(
        "%s: offsets %d..%d were never acknowledged, %d was; not committing past them,"
        " reading them again",
        tp,
        committed,
        first - 1,
        first,
    )
    await consumer.seek(tp, committed)


def install() -> None:
    """Patch faust's consumer (idempotent)."""
    Consumer._new_offset = _strict_new_offset  # type: ignore[method-assign]
