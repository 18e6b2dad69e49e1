"""Run the engine over a finite sequence of events, without Kafka.

This is ``callwatch check``: the same ``Engine`` and deadline queue the live
agent uses, driven by an ``EventClock`` that follows the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas.events import DispatchEvent
from streams.engine.clock import EventClock
from streams.engine.deadlines import DeadlineQueue
from streams.engine.facts import to_millis
from streams.engine.state import CallState, Engine, FindingChange, Step


class OfflineRun:
    def __init__(self, engine: Engine, clock: EventClock | None = None) -> None:
        self.engine = engine
        self.clock = clock or EventClock()
        self.states: dict[str, CallState] = {}
        self.queue = DeadlineQueue()
        self.duplicates = 0
        self.late = 0
        # states come and go (eviction): these count every call ever seen
        self.calls_seen = 0
        self.flagged: dict[str, int] = {"immigration": 0, "review": 0}
        # the ids of those calls, in the order they were flagged (a few per cent of calls)
        self.flagged_ids: dict[str, list[str]] = {"immigration": [], "review": []}

    def feed(self, events: Iterable[DispatchEvent]) -> Iterator[FindingChange]:
        return self.feed_timed((to_millis(event.occurred_at), event) for event in events)

    def feed_timed(
        self, items: Iterable[tuple[int, DispatchEvent | None]]
    ) -> Iterator[FindingChange]:
        """Like ``feed``, for (event time, event) pairs; an event of None only moves the
        clock. ``callwatch check`` splits calls between processes, and each sees every
        event's time, so each fires deadlines at exactly the times one process would."""
        # The hot loop of `callwatch check`: what _keep and advance do, inlined, with
        # no generator made per event unless something is due or changed.
        clock, queue, engine, states = self.clock, self.queue, self.engine, self.states
        flagged_ids = self.flagged_ids
        # The earliest wake-up, cached: never later than the queue's own (a wake-up moved
        # later or cancelled only makes it early, and an early look finds nothing due).
        due = queue.next_due()
        for t, event in items:
            clock.observe(t)
            now = clock.now()
            if due is not None and due <= now:
                yield from self.advance(now)
                due = queue.next_due()
            if event is None:
                continue
            call_id = event.call_id
            before = states.get(call_id)
            step = engine.apply(before, event, now)
            if step.duplicate or step.late:
                self.duplicates += step.duplicate
                self.late += step.late
                continue
            if before is None:
                self.calls_seen += 1
            if step.newly_flagged is not None:
                self.flagged[step.newly_flagged] += 1
                flagged_ids[step.newly_flagged].append(call_id)
            state = step.state
            if state is None:
                states.pop(call_id, None)
                queue.set(call_id, None)
            else:
                states[call_id] = state
                wake = engine.next_wakeup(state)
                queue.set(call_id, wake)
                if wake is not None and (due is None or wake < due):
                    due = wake
            if step.changes:
                yield from step.changes

    def advance(self, now: int) -> Iterator[FindingChange]:
        """Fire every wake-up due at or before ``now``."""
        for call_id in self.queue.pop_due(now):
            state = self.states.get(call_id)
            if state is not None:
                yield from self._keep(call_id, self.engine.tick(state, now))

    def finish(self, as_of: int | None = None) -> Iterator[FindingChange]:
        """Judge what is due by ``as_of`` (default: the clock's now) and stop."""
        yield from self.advance(self.clock.now() if as_of is None else as_of)

    def _keep(self, call_id: str, step: Step) -> Iterator[FindingChange]:
        if step.state is None:
            self.states.pop(call_id, None)
            self.queue.set(call_id, None)
        else:
            self.states[call_id] = step.state
            self.queue.set(call_id, self.engine.next_wakeup(step.state))
        yield from step.changes
