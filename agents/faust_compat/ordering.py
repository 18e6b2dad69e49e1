"""Hand the engine each events partition in offset order, whatever faust fetched first.

faust-streaming 0.15 can deliver later records of a partition before earlier
ones: around a rebalance it drops records it fetched while the flow was
suspended, then goes on with the next fetch, recording a "gap" (see
``agents.faust_compat.offsets``). The fault suite saw a survivor process offsets 136.. of a
taken-over partition before 15-135. ``agents.faust_compat.offsets`` makes sure such records
are read again before anything past them is committed, so none is lost; but the
engine applies each event as its call stands and moves event time with the
partition, so events out of order opened findings the truth does not have
(an officer "on scene without a commander" whose commander's events were still
unread; a deadline fired before the event that met it).

The raw topic is ordered too: the ingest reading raw out of order writes the
events topic out of order, and the events read again later look late to the
engine.

So for the ordered topics (raw and events) a record is let through only if it
continues the partition's unbroken run from the committed offset (faust's, or,
when faust knows none, where Kafka says the group starts: ``_place``); one that
arrives past a gap is held back (never handed to a stream, so never
acknowledged or committed) and the partition is sought back to the first
missing offset, from where the records come again in order. A record read again
(below the run's end) passes: a repeat, ignored by id. If, sought back, the
same record still comes first, the log has a hole there (retention deleted the
records, or a transactional producer left a control record) and the run goes
on from it. ``callwatch publish`` and the worker write no transactions; a feed
that writes raw events in transactions costs one seek per transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Final

from faust.transport.consumer import Consumer

from agents.faust_compat import positions
from callwatch import metrics

log = logging.getLogger("callwatch.offsets")

# Seek back again if the records sought have not come after this long.
RECHECK_SECONDS: Final = 10.0
# Holes remembered per partition (``crossed``); old ones concern offsets long processed.
HOLES_KEPT: Final = 64
_faust_getmany = Consumer.getmany
_PLACED: Final = -1  # sought_for after _place: no record's offset
_ordered: set[str] = set()
_tasks: set[asyncio.Future[Any]] = set()


@dataclass
class _Run:
    generation: int
    next: int | None  # the offset the run continues with (None: not known yet, see _place)
    sought_for: int | None = None  # the early offset that made us seek back
    sought_at: float = 0.0
    placing: bool = False  # asking Kafka where the run starts


def admit(consumer: Any, tp: Any, offset: int, now: float) -> bool:
    """Whether the record at ``offset`` continues ``tp``'s run (and may go to the streams)."""
    runs = _runs(consumer)
    generation = consumer.app.consumer_generation_id
    run = runs.get(tp)
    if run is None or run.generation != generation:  # assigned (again): from the committed offset
        run = runs[tp] = _Run(generation, consumer._committed_offset.get(tp))
    if run.next is None:
        # faust knows no committed offset for it (never committed, or not sought yet
        # since the assignment): the first record fetched need not be where the run
        # starts -- faust may have dropped the ones before it at the hand-over (see the
        # module's docstring). Hold everything until Kafka says where it starts.
        if not run.placing:
            run.placing = True
            _spawn(_place(consumer, tp, run))
        return False
    if offset == run.next:
        run.next, run.sought_for = offset + 1, None
        return True
    if offset < run.next:
        return True  # read again after a seek: a repeat
    if run.sought_for == offset and now - run.sought_at < RECHECK_SECONDS:
        log.warning("%s: no records %d-%d in the log; going on from %d",
                    tp, run.next, offset - 1, offset)
        _holes(consumer, tp).append((run.next, offset))
        run.next, run.sought_for = offset + 1, None
        return True
    if run.sought_for is None or now - run.sought_at >= RECHECK_SECONDS:
        log.warning("%s: offset %d came before %d; reading again from %d",
                    tp, offset, run.next, run.next)
        metrics.offset_reread()
        run.sought_for, run.sought_at = offset, now
        _seek_back_soon(consumer, tp, run.next)
    return False


async def _place(consumer: Any, tp: Any, run: _Run) -> None:
    """Start ``run`` where the group's consumption of ``tp`` starts and read it from there.

    With no committed offset the guard used to take the first record fetched for the
    start of the run; but faust may have discarded earlier ones (a fetch during the
    recovery), and ``seek`` then reads the partition again from the log start, so
    those would come after it: out of order. Asking Kafka gives the true start."""
    try:
        start = await positions.start_of(consumer, tp)
    except Exception as exc:  # the next record asks again
        log.warning("%s: cannot ask where it starts (%r); holding its records", tp, exc)
        run.placing = False
        return
    if _runs(consumer).get(tp) is not run:
        return  # reassigned meanwhile: the new run places itself
    # Sought there just now: records fetched before the seek that come first are held
    # quietly, as after any seek back (admit), and only looked at again after RECHECK.
    run.next, run.placing = start, False
    run.sought_for, run.sought_at = _PLACED, time.monotonic()
    try:  # the records held meanwhile come again from there
        await consumer.seek_wait({tp: start})
    except Exception as exc:  # a record past the start seeks back again (admit)
        log.warning("%s: could not seek to its start %d (%r)", tp, start, exc)


def _spawn(coroutine: Any) -> None:
    task = asyncio.ensure_future(coroutine)
    _tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_tasks.discard)


def _runs(consumer: Any) -> dict[Any, _Run]:
    runs: dict[Any, _Run] = consumer.__dict__.setdefault("_callwatch_runs", {})
    return runs


def _seek_back_soon(consumer: Any, tp: Any, offset: int) -> None:
    _spawn(_seek_back(consumer, tp, offset))


def _holes(consumer: Any, tp: Any) -> deque[tuple[int, int]]:
    holes: dict[Any, deque[tuple[int, int]]] = consumer.__dict__.setdefault("_callwatch_holes", {})
    return holes.setdefault(tp, deque(maxlen=HOLES_KEPT))


def crossed(consumer: Any, tp: Any, start: int, end: int) -> bool:
    """Whether offsets ``start`` to ``end - 1`` of ``tp`` are a hole in the log that
    the run went on from (so a record at ``end`` after one at ``start - 1`` is in order)."""
    return any(a <= start and end <= b for a, b in _holes(consumer, tp))


def read_again(consumer: Any, tp: Any, offset: int, seen: int) -> None:
    """A stream got record ``seen`` of ``tp`` without those from ``offset`` on, which
    this guard had let through: faust dropped them between the fetch and the stream
    (a flow suspended at start-up or in a rebalance marks them read all the same).
    Go back: the run continues from ``offset`` again, and the partition is sought
    there, so they come again, followed by ``seen`` and the rest a second time."""
    run = _runs(consumer).get(tp)
    if run is None or run.generation != consumer.app.consumer_generation_id:
        return  # reassigned since: the new run starts from the committed offset anyway
    if run.next is not None and run.next <= offset:
        return  # already going back (another record of the same batch asked)
    log.warning("%s: offset %d reached the streams without %d-%d; reading again from %d",
                tp, seen, offset, seen - 1, offset)
    metrics.offset_reread()
    # Not ``sought_for = seen``: records fetched before this seek may still come
    # first, and must not pass for a hole; the first of them seeks once more.
    run.next, run.sought_for = offset, None
    _seek_back_soon(consumer, tp, offset)


async def _seek_back(consumer: Any, tp: Any, offset: int) -> None:
    try:
        # on the consumer's thread (see agents.faust_compat.offsets)
        await consumer.seek_wait({tp: offset})
    except Exception as exc:  # the next early record asks again after RECHECK_SECONDS
        log.warning("%s: could not seek back to %d (%r)", tp, offset, exc)


async def _getmany_in_order(self: Any, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
    async for tp, message in _faust_getmany(self, timeout):
        if tp.topic not in _ordered or admit(self, tp, message.offset, time.monotonic()):
            yield tp, message


def install(topics: Iterable[str]) -> None:
    """Deliver ``topics`` in offset order (idempotent; adds to the topics already given)."""
    _ordered.update(topics)
    Consumer.getmany = _getmany_in_order  # type: ignore[method-assign]
