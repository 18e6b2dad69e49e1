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
    def __init__(self, committed: int | None, acked: list[int]) -> None:
        self._committed_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset[TP0] = committed
        self._acked: defaultdict[Any, list[int]] = defaultdict(list)
        self._acked[TP0] = list(acked)
        self._acked_index: defaultdict[Any, set[int]] = defaultdict(set)
        self._acked_index[TP0] = set(acked)
        self._gap: defaultdict[Any, IntervalTree] = defaultdict(IntervalTree)
        self.sought: list[tuple[Any, int]] = []

    async def seek(self, tp: Any, offset: int) -> None:
        self.sought.append((tp, offset))


def new_offset(consumer: FakeConsumer) -> int | None:
    async def run() -> int | None:
        result = offsets._strict_new_offset(consumer, TP0)
        await asyncio.sleep(0)  # let the scheduled seek run
        return result

    return asyncio.run(run())


def test_faust_alone_commits_past_a_single_skipped_offset() -> None:
    # the bug the guard exists for: 10 was skipped, 11.. acknowledged
    assert offsets._faust_new_offset(FakeConsumer(10, [11, 12, 13]), TP0) == 14
    # and with a committed offset of 0 it does not look at the head at all
    assert offsets._faust_new_offset(FakeConsumer(0, [3, 4]), TP0) == 5


def test_guard_refuses_and_reads_the_partition_again() -> None:
    consumer = FakeConsumer(10, [11, 12, 13])
    assert new_offset(consumer) is None
    assert consumer.sought == [(TP0, 10)]
    consumer = FakeConsumer(0, [3, 4])
    assert new_offset(consumer) is None
    assert consumer.sought == [(TP0, 0)]


def test_guard_commits_a_contiguous_run_from_the_committed_offset() -> None:
    consumer = FakeConsumer(10, [10, 11, 12, 14])
    assert new_offset(consumer) == 13
    assert consumer.sought == []


def test_guard_keeps_faust_handling_of_a_recorded_gap() -> None:
    # retention deleted 10..19: faust recorded the jump as a gap from committed + 1
    consumer = FakeConsumer(10, [20, 21])
    consumer._gap[TP0].addi(11, 20)
    assert new_offset(consumer) == 22
    assert consumer.sought == []


def test_guard_leaves_a_first_commit_to_faust() -> None:
    assert new_offset(FakeConsumer(None, [0, 1, 2])) == 3
