"""The #606 guard, deterministically: the commit never passes an unacknowledged offset.

faust-streaming's ``Consumer._new_offset`` commits past a single skipped message
(first acknowledged offset one past the committed one) and past anything when
the committed offset is 0; ``agents.offsets`` refuses and reads the partition
again from the committed offset. The fault suite's repeated-kill scenario is the
end-to-end check; this pins the rule itself.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from faust.types import TP
from intervaltree import IntervalTree

from agents import offsets

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

    async def seek(self, tp: Any, offset: int) -> None:
        self.sought.append((tp, offset))


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
    # the bug the guard exists for: 10 was skipped, 11.. acknowledged
    assert offsets._faust_new_offset(FakeConsumer(10, [11, 12, 13]), TP0) == 14
    # and with a committed offset of 0 it does not look at the head at all
    assert offsets._faust_new_offset(FakeConsumer(0, [3, 4]), TP0) == 5


def test_guard_refuses_and_reads_the_partition_again() -> None:
    consumer = FakeConsumer(10, [11, 12, 13])
    assert new_offsets(consumer, 2) == [None, None]
    assert consumer.sought == [(TP0, 10)]  # once: then it waits for the messages
    consumer = FakeConsumer(0, [3, 4])
    assert new_offsets(consumer) == [None]
    assert consumer.sought == [(TP0, 0)]


def test_guard_commits_a_contiguous_run_from_the_committed_offset() -> None:
    consumer = FakeConsumer(10, [10, 11, 12, 14])
    assert new_offsets(consumer) == [13]
    assert consumer.sought == []


def test_a_gap_the_log_no_longer_holds_is_committed_past() -> None:
    # retention deleted 10..19: faust recorded the jump as a gap; the log starts at 20
    consumer = FakeConsumer(10, [20, 21], log_start=20)
    consumer._gap[TP0].addi(11, 20)
    assert new_offsets(consumer, 2) == [None, 22]
    assert consumer.sought == []


def test_a_gap_the_log_still_holds_is_read_again() -> None:
    # a fetch that jumped ahead after a seek: faust counts 11..19 as done, they are not
    consumer = FakeConsumer(10, [20, 21], log_start=0)
    consumer._gap[TP0].addi(11, 20)
    assert new_offsets(consumer) == [None]
    assert consumer.sought == [(TP0, 10)]


def test_guard_leaves_a_first_commit_to_faust() -> None:
    assert new_offsets(FakeConsumer(None, [0, 1, 2])) == [3]
