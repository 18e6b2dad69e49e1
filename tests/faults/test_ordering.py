"""agents.faust_compat.ordering: the engine's events come in offset order, whatever faust
fetched first.

Pure unit tests of the admission rule with a stand-in consumer; the fault
scenarios (takeover, restarts) exercise it live.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from agents.faust_compat import ordering

TP = ("events", 0)


class App:
    consumer_generation_id = 1


class FakeConsumer:
    def __init__(self, committed: int | None) -> None:
        self.app = App()
        self._committed_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset[TP] = committed
        self.sought: list[tuple[Any, int]] = []

    async def seek_wait(self, partitions: dict[Any, int]) -> None:
        self.sought.extend(partitions.items())


def feed(consumer: FakeConsumer, offsets: list[int], now: float = 0.0) -> list[int]:
    """The offsets let through, in order."""

    async def run() -> list[int]:
        passed = [o for o in offsets if ordering.admit(consumer, TP, o, now)]
        await asyncio.sleep(0)  # let the seek run
        return passed

    return asyncio.run(run())


def test_records_past_a_gap_wait_for_the_gap_to_be_read_again() -> None:
    consumer = FakeConsumer(committed=257)
    # faust hands over 284.. first: held back, and the partition sought back to 257
    assert feed(consumer, [284, 285, 286]) == []
    assert consumer.sought == [(TP, 257)]
    # from 257 on, in order, then what was held back comes again
    assert feed(consumer, list(range(257, 290))) == list(range(257, 290))
    assert feed(consumer, [260]) == [260]  # a repeat passes (ignored downstream by id)
    assert consumer.sought == [(TP, 257)]


def test_a_hole_in_the_log_is_crossed_after_one_seek() -> None:
    consumer = FakeConsumer(committed=100)
    assert feed(consumer, [500]) == []  # retention deleted 100..499
    assert feed(consumer, [500, 501], now=1.0) == [500, 501]  # the same record first again
    assert consumer.sought == [(TP, 100)]


def test_a_seek_that_brought_nothing_is_asked_again_later() -> None:
    consumer = FakeConsumer(committed=10)
    assert feed(consumer, [20]) == []
    assert feed(consumer, [21], now=5.0) == []
    assert feed(consumer, [22], now=ordering.RECHECK_SECONDS + 1) == []
    assert consumer.sought == [(TP, 10), (TP, 10)]


def test_with_no_committed_offset_the_run_starts_where_kafka_says(monkeypatch) -> None:
    # positions.start_of itself is tested against a real broker (tests/test_faust_positions.py)
    async def start_of(consumer: Any, tp: Any) -> int:
        return 38  # never committed: the log start

    monkeypatch.setattr(ordering.positions, "start_of", start_of)
    consumer = FakeConsumer(committed=None)
    # faust dropped 38 and 39 at the hand-over: 40 must not pass for the run's start
    assert feed(consumer, [40, 41]) == []
    assert consumer.sought == [(TP, 38)]  # placed, and read again from there
    # one fetched before that seek comes first: held, without seeking again
    assert feed(consumer, [41], now=time.monotonic()) == []
    assert consumer.sought == [(TP, 38)]
    assert feed(consumer, [38, 39, 40, 41]) == [38, 39, 40, 41]


def test_a_new_assignment_starts_again_from_the_committed_offset() -> None:
    consumer = FakeConsumer(committed=40)
    assert feed(consumer, [40, 41]) == [40, 41]
    consumer.app.consumer_generation_id = 2
    consumer._committed_offset[TP] = 41
    assert feed(consumer, [43]) == []
    assert feed(consumer, [41, 42, 43]) == [41, 42, 43]
