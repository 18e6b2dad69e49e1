"""agents.faust_compat.in_order: an agent processes a partition's records only in offset order.

Unit tests with stand-in faust objects; the fault scenarios (restarts, takeovers)
exercise it live.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from agents.faust_compat import ordering
from agents.faust_compat.in_order import InOrder, let_go_all

TP = ("events", 0)


class Message:
    def __init__(self, offset: int) -> None:
        self.tp, self.offset = TP, offset
        self.refcount = 1  # the stream's own reference
        self.acked = False

    def incref(self) -> None:
        self.refcount += 1

    def decref(self) -> None:
        self.refcount -= 1
        self.acked = self.refcount == 0


class Event:
    def __init__(self, offset: int) -> None:
        self.message = Message(offset)

    def ack(self) -> None:
        self.message.decref()


class Consumer:
    def __init__(self, committed: int | None) -> None:
        self.app = self
        self.consumer_generation_id = 1
        self._committed_offset: defaultdict[Any, int | None] = defaultdict(lambda: None)
        self._committed_offset[TP] = committed
        self._unacked_messages: set[Message] = set()
        self.sought: list[tuple[Any, int]] = []

    async def seek_wait(self, partitions: dict[Any, int]) -> None:
        self.sought.extend(partitions.items())


class Signal:
    def __init__(self) -> None:
        self.receivers: list[Any] = []

    def connect(self, receiver: Any) -> None:
        self.receivers.append(receiver)

    def send(self) -> None:
        for receiver in self.receivers:
            asyncio.run(receiver(self))


class App:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.on_rebalance_complete = Signal()


def guard(consumer: Consumer, offset: int, now: float) -> bool:
    """The getmany guard's verdict on a record (in a loop: it may seek)."""

    async def run() -> bool:
        admitted = ordering.admit(consumer, TP, offset, now)
        await asyncio.sleep(0)
        return admitted

    return asyncio.run(run())


def process(
    agent: InOrder, consumer: Consumer, offsets: list[int]
) -> tuple[list[int], list[Event]]:
    """One batch: the offsets processed, and every event (acknowledged as a batch is)."""

    async def run() -> tuple[list[int], list[Event]]:
        events = [Event(o) for o in offsets]
        for e in events:  # the guard let them through getmany, in order
            ordering.admit(consumer, TP, e.message.offset, 0.0)
        done = [e.message.offset for e in events if agent.admit(e)]  # type: ignore[arg-type]
        for e in events:
            e.ack()  # the batch's acknowledgement
        agent.release()  # after the batch's outputs are durable
        await asyncio.sleep(0)  # let a seek run
        return done, events

    return asyncio.run(run())


def test_records_after_dropped_ones_wait_and_the_partition_is_read_again() -> None:
    consumer = Consumer(committed=275)
    agent = InOrder(App(consumer))  # type: ignore[arg-type]
    # faust dropped 275..283 after the guard let them through; 284.. reach the agent
    assert all(guard(consumer, offset, 0.0) for offset in range(275, 284))
    done, held = process(agent, consumer, [284, 285])
    assert done == []
    assert not any(e.message.acked for e in held)  # never committed while unapplied
    assert consumer.sought == [(TP, 275)]
    # read again from 275: all in order; the held copies are acknowledged after the batch
    done, _ = process(agent, consumer, list(range(275, 290)))
    assert done == list(range(275, 290))
    assert all(e.message.acked for e in held)
    assert agent.next_offset(TP) == 290


def test_a_hole_the_guard_crossed_is_in_order() -> None:
    consumer = Consumer(committed=100)
    agent = InOrder(App(consumer))  # type: ignore[arg-type]
    assert not guard(consumer, 500, 0.0)  # retention deleted 100..499: sought back
    assert guard(consumer, 500, 1.0)  # the same record first again: a hole
    done, _ = process(agent, consumer, [500, 501])
    assert done == [500, 501]


def test_held_records_are_let_go_unacknowledged_at_a_rebalance() -> None:
    consumer = Consumer(committed=10)
    app = App(consumer)
    agent = InOrder(app)  # type: ignore[arg-type]
    assert guard(consumer, 10, 0.0) and guard(consumer, 11, 0.0)
    _, held = process(agent, consumer, [12])
    consumer._unacked_messages.add(held[0].message)
    let_go_all()
    assert consumer._unacked_messages == set()
    assert not held[0].message.acked  # not committed: the partition's owner reads it again
    app.on_rebalance_complete.send()  # the new assignment starts from the committed offset
    assert agent.next_offset(TP) is None


def test_without_a_committed_offset_the_first_record_starts_the_run() -> None:
    consumer = Consumer(committed=None)
    agent = InOrder(App(consumer))  # type: ignore[arg-type]
    done, _ = process(agent, consumer, [40, 41, 41, 42])
    assert done == [40, 41, 41, 42]  # a repeat passes (ignored downstream by id)
