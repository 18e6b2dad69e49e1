"""Commit only what every stream acknowledged, without holes (faust-streaming #606).

How faust-streaming 0.15 skips messages. While the consumer hands a message to
the streams, a rebalance or a worker's start-up suspends the flow: the hand-over
is cancelled (or done for some streams and not others), yet the offset is
marked as read, so when the message is fetched again it is dropped as a
duplicate ("DROPPED MESSAGE ROFF"). Nothing will ever acknowledge it. A fetch
that jumps ahead (after a seek, or the start-up seek to the committed offsets
racing the first fetch) is recorded as a "gap", and faust's
``Consumer._new_offset`` counts gaps as acknowledged; it also commits past a
single missing offset at the head, and past any when the committed offset is 0.
The fault suite lost events each of these ways after restarts and takeovers
(1 to 473 events in a run) before this guard.

The guard replaces ``_new_offset``: the offset to commit is the end of the
unbroken run of offsets the streams really acknowledged (faust's
``_acked_index``), starting at the committed offset; recorded gaps count for
nothing. Our topics are neither compacted nor transactional, so their offsets
have no legitimate holes; the one exception, retention deleting messages
before they were read, is asked of the log. When the offset at the committed
position is missing (the run is empty), nothing is committed for the
partition, and unless the log no longer holds it, the partition is sought back
to it so it is read again (with the messages after it a second time: repeats,
which the pipeline ignores by id), again every ``RECHECK_SECONDS`` while it is
still missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Final

from faust.transport.consumer import Consumer

from agents.faust_compat import positions
from agents.faust_compat.batching import IN_PROGRESS
from agents.faust_compat.in_order import let_go_all
from agents.lifecycle import is_stopping
from callwatch import metrics

log = logging.getLogger("callwatch.offsets")

# faust's own rule, kept to show what it would have committed (tests/faults/test_offsets.py)
_faust_new_offset = Consumer._new_offset
_faust_wait_empty = Consumer.wait_empty
# Seek back again if the missing offset has still not been acknowledged after this long.
RECHECK_SECONDS: Final = 10.0
# A rebalance waits this long at most for the streams to acknowledge what they were given.
WAIT_EMPTY_SECONDS: Final = 30.0
_PENDING: Final = None  # the log start (or the group's start) is being asked for
_tasks: set[asyncio.Future[Any]] = set()


def _missing(consumer: Any) -> dict[Any, tuple[int | None, float, int | None]]:
    """Per partition: (the offset sought back to, or None; when; the log start -- with
    no committed offset known, where the group starts -- or _PENDING)."""
    state: dict[Any, tuple[int | None, float, int | None]]
    state = consumer.__dict__.setdefault("_callwatch_missing", {})
    return state


def _run_end(acked: set[int], start: int) -> int:
    """The first offset from ``start`` on that is not acknowledged."""
    end = start
    while end in acked:
        end += 1
    return end


def _strict_new_offset(self: Any, tp: Any) -> int | None:
    acked: set[int] = self._acked_index[tp]
    if not acked:
        return None
    committed = self._committed_offset[tp]
    end: int | None
    if committed is None:
        end = _from_group_start(self, tp, acked)
    else:
        end = _run_end(acked, committed)
        if end == committed:
            end = _after_missing(self, tp, committed, acked)
    if end is not None:
        _forget_below(self, tp, end)
    return end


def _from_group_start(consumer: Any, tp: Any, acked: set[int]) -> int | None:
    """No committed offset known to faust: it keeps a committed 0 as None, and a
    partition just assigned has none until faust's recovery seeks it to the group's.
    Kafka is asked where the group's consumption starts (``positions.start_of``: its
    committed offset or, never committed, the log start; again every
    ``RECHECK_SECONDS``) and the unbroken run from there is committed, if there is
    one. If there is none -- later offsets acknowledged, the first ones not: faust
    dropped them at a hand-over -- nothing is committed and the partition is sought
    back there, so they are read again (once every ``RECHECK_SECONDS`` while still
    missing). Before, nothing was sought: a survivor that took over a partition its
    first owner never committed did not process its first records until the next
    restart."""
    state = _missing(consumer)
    known = state.get(tp)
    now = time.monotonic()
    if known is None or (known[2] is not _PENDING and now - known[1] >= RECHECK_SECONDS):
        state[tp] = (None, now, _PENDING)
        _spawn(_look_up_start(consumer, tp, state))
        return None
    start = known[2]
    if start is _PENDING:
        return None
    end = _run_end(acked, start)
    if end > start:
        return end
    if known[0] is None:  # not sought back since the start was read
        state[tp] = (start, now, _PENDING)
        _spawn(_read_again(consumer, tp, start, state))
    return None


async def _look_up_start(consumer: Any, tp: Any, state: dict[Any, Any]) -> None:
    try:
        start = await positions.start_of(consumer, tp)
    except Exception as exc:  # ask again at the next commit
        log.warning("%s: cannot ask where the group starts (%r); not committing yet", tp, exc)
        state.pop(tp, None)
        return
    state[tp] = (None, time.monotonic(), start)


async def _log_start(consumer: Any, tp: Any, state: dict[Any, Any]) -> int | None:
    try:
        log_start: int = (await consumer.earliest_offsets(tp)).get(tp, 0)
    except Exception as exc:  # ask again at the next commit
        log.warning("%s: cannot read the log start (%r); not committing yet", tp, exc)
        state.pop(tp, None)
        return None
    return log_start


def _spawn(coroutine: Any) -> None:
    task = asyncio.ensure_future(coroutine)
    _tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_tasks.discard)


def _after_missing(consumer: Any, tp: Any, base: int, acked: set[int]) -> int | None:
    """Offset ``base`` was never acknowledged. Where to commit to if the log no
    longer holds it (retention deleted it); otherwise None, after making sure it is
    being read again."""
    state = _missing(consumer)
    known = state.get(tp)
    now = time.monotonic()
    if known is not None and known[0] == base:
        log_start = known[2]
        if log_start is not None and log_start > base:
            end = _run_end(acked, log_start)
            return end if end > log_start else None
        if log_start is _PENDING or now - known[1] < RECHECK_SECONDS:
            return None  # being asked, or sought back and on its way
    state[tp] = (base, now, _PENDING)
    _spawn(_read_again(consumer, tp, base, state))
    return None


async def _read_again(consumer: Any, tp: Any, base: int, state: dict[Any, Any]) -> None:
    log_start = await _log_start(consumer, tp, state)
    if log_start is None:
        return
    state[tp] = (base, time.monotonic(), log_start)
    target = max(base, log_start)
    acked: set[int] = consumer._acked_index[tp]
    if target in acked:
        return  # retention deleted the missing offsets; the next commit goes on from the log start
    later = min(acked, default=None)
    log.warning(
        "%s: offset %d was never acknowledged%s; not committing past it, reading it again",
        tp,
        target,
        f" (offset {later} was)" if later is not None else "",
    )
    metrics.offset_reread()
    # seek_wait, not seek: it runs the seek on the consumer's own thread. faust's
    # seek calls aiokafka from this thread, racing its fetcher (which then crashed
    # the worker with a KeyError in fetched_records).
    try:
        await consumer.seek_wait({tp: target})
    except Exception as exc:  # still missing at the next check: sought again then
        log.warning("%s: could not seek back to %d (%r); trying again", tp, target, exc)


def _forget_below(consumer: Any, tp: Any, end: int) -> None:
    """Drop the bookkeeping for offsets below ``end``, now committed."""
    acked: set[int] = consumer._acked_index[tp]
    acked.difference_update([offset for offset in acked if offset < end])
    pending: list[int] = consumer._acked[tp]
    pending[:] = [offset for offset in pending if offset >= end]
    gaps = consumer._gap[tp]
    if gaps:
        gaps.chop(0, end)


async def _bounded_wait_empty(self: Any) -> None:
    """faust's ``wait_empty``, but not forever.

    Before a rebalance hands partitions over, faust waits until every message it
    gave the streams is acknowledged. It also clears the streams' queues then, and
    a message cleared from a queue stays "unacknowledged" for good: the fault
    suite's survivor waited 7 minutes for one (events offset 243) and never took
    the dead worker's partitions over. Our agents finish a batch in well under
    ``WAIT_EMPTY_SECONDS``, so a message still unacknowledged after that was
    dropped, not in progress: it is left unacknowledged -- never committed, read
    again by whoever owns its partition -- and the rebalance goes on.
    """
    # Records an agent holds back (past a gap, see agents.faust_compat.in_order) will not be
    # acknowledged before the partition is read again: let them go now.
    let_go_all()
    if is_stopping(self.app):
        await _wait_for_batches_then_let_go(self)
        return
    deadline = time.monotonic() + WAIT_EMPTY_SECONDS
    while not self.should_stop and self._unacked_messages:
        await self.commit()
        if not self._unacked_messages:
            break
        if time.monotonic() >= deadline:
            stuck = sorted((m.tp, m.offset) for m in self._unacked_messages)
            log.warning("rebalance: %d message(s) never acknowledged after %.0f s (%s);"
                        " going on, they will be read again", len(stuck), WAIT_EMPTY_SECONDS,
                        ", ".join(f"{tp.topic}[{tp.partition}]@{offset}"
                                  for tp, offset in stuck[:5]))
            self._unacked_messages.clear()
            break
        await self._wait_for_ack(timeout=1)
        self._clean_unacked_messages()
    await self.commit_and_end_transactions()


async def _wait_for_batches_then_let_go(consumer: Any) -> None:
    """A graceful stop: wait for the batches in progress, not for every record read.

    faust suspends the flow before it waits, so records the consumer had handed to
    a stream but no batch had taken yet will never be processed, and waiting for
    their acknowledgement only ran out the bound (30 s: the worker's stop timed out
    in the fault suite). Once no batch is in progress they are let go,
    unacknowledged and so uncommitted: the next start reads them again.
    """
    if not await IN_PROGRESS.wait_idle(WAIT_EMPTY_SECONDS):
        log.warning("stopping: %d batch(es) still in progress after %.0f s; going on",
                    IN_PROGRESS.count, WAIT_EMPTY_SECONDS)
    await consumer.commit()  # what the finished batches acknowledged
    left = len(consumer._unacked_messages)
    if left:
        log.info("stopping: %d record(s) read but not processed are left uncommitted;"
                 " the next start reads them again", left)
        consumer._unacked_messages.clear()
    await consumer.commit_and_end_transactions()


def install() -> None:
    """Patch faust's consumer (idempotent)."""
    Consumer._new_offset = _strict_new_offset  # type: ignore[method-assign]
    Consumer.wait_empty = _bounded_wait_empty  # type: ignore[method-assign]
