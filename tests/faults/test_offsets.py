"""The #606 guard, deterministically: the commit never passes an unacknowledged offset.

faust-streaming's ``Consumer._new_offset`` commits past a single skipped message
(first acknowledged offset one past the committed one), past anything when the
committed offset is 0, and past recorded gaps; ``agents.faust_compat.offsets`` commits only
the unbroken run of acknowledged offsets from the committed one, and reads a
missing offset again unless the log no longer holds it. The fault suite's
restart, kill and takeover scenarios are the end-to-end check; this pins the rule.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from faust.types import TP
from intervaltree import IntervalTree

from agents.faust_compat import offsets
from callwatch import metrics

pytestmark = pytest.mark.faults

TP0 = TP("t.raw", 0)


class FakeConsumer:
    def __init__(self, committed: int | None, acked: list[int], log_start: int = 0) -> None:
        self._committed_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset[TP0] = committed
        self._acked: defaultdict[Any, list[int]] = defaultdict(list)
        self._acked[TP0] = list(acked)
        self._acked_index: defaultdict[Any, set[int]] = defaultdict(set)
        self._acked_index[TP0] = set(acked)
        self._gap: defaultdict[Any, IntervalTree] = defaultdict(IntervalTree)
        self.log_start = log_start
        self.sought: list[tuple[Any, int]] = []

    async def earliest_offsets(self, *tps: Any) -> dict[Any, int]:
        return {tp: self.log_start for tp in tps}

    # only seek_wait: it seeks on the consumer's thread (a plain seek from the
    # event loop's thread races aiokafka's fetcher)
    async def seek_wait(self, partitions: dict[Any, int]) -> None:
        self.sought.extend(partitions.items())


def new_offsets(consumer: FakeConsumer, times: int = 1) -> list[int | None]:
    """Ask for the commit offset ``times`` times, letting the guard's checks run between."""

    async def run() -> list[int | None]:
        results = []
        for _ in range(times):
            results.append(offsets._strict_new_offset(consumer, TP0))
            for _ in range(5):
                await asyncio.sleep(0)  # let the scheduled check (and seek) run
        return results

    return asyncio.run(run())


def test_faust_alone_commits_past_a_single_skipped_offset() -> None:
    consumer = FakeConsumer(10, [11, 12, 13])
    assert offsets._faust_new_offset(consumer, TP0) == 14


def test_faust_alone_commits_past_a_recorded_gap() -> None:
    consumer = FakeConsumer(10, [10, 11, 20])
    consumer._gap[TP0].addi(12, 20)
    assert offsets._faust_new_offset(consumer, TP0) == 21


def rereads() -> float:
    return metrics.REGISTRY.get_sample_value("callwatch_offset_rereads_total") or 0.0


def test_guard_refuses_and_reads_the_partition_again() -> None:
    before = rereads()
    consumer = FakeConsumer(10, [11, 12, 13])
    assert new_offsets(consumer, 2) == [None, None]
    assert consumer.sought == [(TP0, 10)]  # once: then it waits for the message
    assert rereads() == before + 1
    consumer = FakeConsumer(0, [3, 4])
    assert new_offsets(consumer) == [None]
    assert consumer.sought == [(TP0, 0)]


def test_guard_reads_again_while_the_offset_is_still_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(offsets, "RECHECK_SECONDS", 0.0)
    consumer = FakeConsumer(10, [11, 12])
    assert new_offsets(consumer, 3) == [None, None, None]
    assert consumer.sought == [(TP0, 10)] * 3


def test_guard_commits_the_unbroken_run_and_forgets_it() -> None:
    consumer = FakeConsumer(10, [10, 11, 12, 14])
    assert new_offsets(consumer) == [13]
    assert consumer.sought == []
    assert consumer._acked_index[TP0] == {14}
    assert consumer._acked[TP0] == [14]


def test_a_recorded_gap_counts_for_nothing() -> None:
    # a fetch that jumped ahead: faust counts 12..19 as done, they are not
    consumer = FakeConsumer(10, [10, 11, 20, 21])
    consumer._gap[TP0].addi(12, 20)
    assert new_offsets(consumer) == [12]
    assert sorted(consumer._gap[TP0]) == sorted(IntervalTree.from_tuples([(12, 20)]))
    consumer._committed_offset[TP0] = 12
    assert new_offsets(consumer) == [None]
    assert consumer.sought == [(TP0, 12)]


def test_offsets_the_log_no_longer_holds_are_committed_past() -> None:
    # retention deleted 10..19 before they were read: the log starts at 20
    consumer = FakeConsumer(10, [20, 21], log_start=20)
    consumer._gap[TP0].addi(11, 20)
    assert new_offsets(consumer, 2) == [None, 22]
    assert consumer.sought == []


def test_a_missing_offset_the_log_still_holds_is_read_again() -> None:
    consumer = FakeConsumer(10, [20, 21], log_start=0)
    consumer._gap[TP0].addi(11, 20)
    assert new_offsets(consumer) == [None]
    assert consumer.sought == [(TP0, 10)]


def test_no_committed_offset_commits_from_where_the_group_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # faust keeps a committed 0 as None, and knows none for a partition just assigned
    # until its seek: Kafka is asked where the group starts (positions.start_of, tested
    # against a real broker in tests/test_faust_positions.py): the committed offset,
    # or, never committed, the log start.
    group_committed: dict[str, int | None] = {"offset": None}

    async def start_of(consumer: Any, tp: Any) -> int:
        return group_committed["offset"] if group_committed["offset"] is not None else (
            consumer.log_start
        )

    monkeypatch.setattr(offsets.positions, "start_of", start_of)
    consumer = FakeConsumer(None, [0, 1, 2, 4])
    assert new_offsets(consumer, 2) == [None, 3]
    assert consumer._acked_index[TP0] == {4}
    assert new_offsets(FakeConsumer(None, [5, 6], log_start=5), 2) == [None, 7]
    # a partition just assigned, before faust seeks it to the group's offset (40):
    # committed from there, nothing read again
    group_committed["offset"] = 40
    consumer = FakeConsumer(None, [40, 41])
    assert new_offsets(consumer, 2) == [None, 42]
    assert consumer.sought == []
    # never committed, and its first records never acknowledged though later ones
    # were (faust dropped them at a takeover): nothing committed, read again from the
    # log start -- once, then again only after RECHECK_SECONDS
    group_committed["offset"] = None
    consumer = FakeConsumer(None, [2, 3])
    assert new_offsets(consumer, 4) == [None, None, None, None]
    assert consumer.sought == [(TP0, 0)]
    consumer._acked_index[TP0] |= {0, 1}  # read again and processed
    assert new_offsets(consumer) == [4]


def test_a_slower_channel_owes_every_alert_but_those_withdrawn_before_it_heard() -> None:
    from tests.faults.accounting import LogDelivery, owed_to_a_slower_channel

    a1, a2, a3 = "C/r#firing#1", "C/r#resolved#2", "C/r#firing#3"
    b1, b2 = "D/r#firing#1", "D/r#resolved#2"
    logged = [
        LogDelivery(a1, "firing", False),
        LogDelivery(b1, "firing", False),
        LogDelivery(a2, "withdrawn", False),
        LogDelivery(b2, "withdrawn", False),
        LogDelivery(a3, "firing", False),
    ]
    # C's first episode never reached the channel before its withdrawal: not owed;
    # D's firing did, so its withdrawal is owed too; C's new firing is owed
    assert owed_to_a_slower_channel(logged, {b1}) == {b1, b2, a3}
    assert owed_to_a_slower_channel(logged, {a1, b1}) == {a1, a2, b1, b2, a3}


def test_a_rebalance_does_not_wait_forever_for_a_message_faust_dropped(
    monkeypatch: Any,
) -> None:
    from types import SimpleNamespace

    monkeypatch.setattr(offsets, "WAIT_EMPTY_SECONDS", 0.05)
    dropped = SimpleNamespace(tp=SimpleNamespace(topic="events", partition=1), offset=243)

    class Stuck:
        should_stop = False

        def __init__(self) -> None:
            self.app = SimpleNamespace()
            self._unacked_messages = [dropped]
            self.commits = 0
            self.ended = False

        async def commit(self) -> None:
            self.commits += 1

        async def _wait_for_ack(self, timeout: float) -> None:
            await asyncio.sleep(0.01)

        def _clean_unacked_messages(self) -> None:
            pass  # nothing will ever acknowledge it

        async def commit_and_end_transactions(self) -> None:
            self.ended = True

    consumer = Stuck()
    asyncio.run(asyncio.wait_for(offsets._bounded_wait_empty(consumer), timeout=5))
    assert consumer.ended and consumer._unacked_messages == []
    assert consumer.commits >= 2  # it kept committing what was acknowledged meanwhile


def test_a_graceful_stop_waits_for_the_batches_in_progress_not_for_records_no_batch_took() -> (
    None
):
    """At a stop faust suspends the flow first: a record handed to a stream but in no
    batch yet will never be acknowledged. The stop waits for the batch in progress
    (its records acknowledged and committed), then lets the rest go uncommitted."""
    from types import SimpleNamespace

    from agents.faust_compat.batching import IN_PROGRESS
    from agents.lifecycle import mark_stopping

    unread = SimpleNamespace(tp=SimpleNamespace(topic="events", partition=0), offset=7)

    class Stopping:
        should_stop = False

        def __init__(self) -> None:
            self.app = SimpleNamespace()
            mark_stopping(self.app)
            self._unacked_messages = [unread]
            self.commits: list[float] = []
            self.ended = False

        async def commit(self) -> None:
            self.commits.append(asyncio.get_running_loop().time())

        async def commit_and_end_transactions(self) -> None:
            self.ended = True

    async def scenario() -> tuple[Stopping, float, float]:
        consumer = Stopping()
        loop = asyncio.get_running_loop()
        IN_PROGRESS.begin()  # an agent is half-way through a batch
        loop.call_later(0.2, IN_PROGRESS.end)
        began = loop.time()
        await asyncio.wait_for(offsets._bounded_wait_empty(consumer), timeout=5)
        return consumer, began, loop.time()

    consumer, began, ended = asyncio.run(scenario())
    assert ended - began >= 0.2  # the batch in progress was waited for
    assert ended - began < 2  # the record no batch took was not
    assert consumer.commits and consumer.commits[0] - began >= 0.2  # committed after it
    assert consumer.ended and consumer._unacked_messages == []
    assert IN_PROGRESS.count == 0
