"""An agent processes each input partition's records in offset order, or not yet.

``agents.faust_compat.ordering`` lets a record through ``getmany`` only when it continues its
partition's run; but faust can still drop records after that, before a stream
gets them (a flow suspended at start-up or in a rebalance marks them read all
the same). The fault suite saw the engine, just restarted, get offsets 284..
of a partition without 275-283: it applied a call's "unit on scene" and "unit
cleared" without the "body camera on" before them and opened a finding the
truth does not have. ``agents.faust_compat.offsets`` would have read 275-283 again before
committing past them, so nothing was lost -- but applied out of order. The
ingest has the same exposure one stage earlier (raw records processed out of
order write a call's events out of order).

``InOrder.admit`` says whether a record continues the unbroken run of offsets
this agent has processed since the assignment (from the committed offset, or,
with none, from the first record; across a hole the log really has, see
``ordering.crossed``). A record past a gap is *held*: not processed, and kept
unacknowledged -- so its offset cannot be committed -- while the partition is
read again from the gap (``ordering.read_again``). When the run has passed it
(its copy read again was processed, and the batch's outputs are durable),
``release`` acknowledges it. At a rebalance held records are let go
unacknowledged (``let_go_all``): never committed, read again by the owner.
"""

from __future__ import annotations

from typing import Any, cast

from faust.types import AppT, EventT

from agents.faust_compat import ordering


class InOrder:
    def __init__(self, app: AppT) -> None:
        self.app = app
        self._next: dict[Any, int] = {}  # partition -> next offset of the unbroken run
        self._held: dict[Any, list[EventT[Any]]] = {}
        _instances.append(self)
        # A new assignment: every partition starts again from its committed offset.
        cast(Any, app.on_rebalance_complete).connect(self._on_rebalance)

    def next_offset(self, tp: Any) -> int | None:
        return self._next.get(tp)

    def admit(self, event: EventT[Any]) -> bool:
        """Whether ``event`` may be processed now (otherwise it is held)."""
        message = event.message
        tp, offset = message.tp, message.offset
        consumer: Any = self.app.consumer
        expected = self._next.get(tp, consumer._committed_offset.get(tp))
        if (
            expected is None
            or offset <= expected  # the next one, or one read again (a repeat)
            or ordering.crossed(consumer, tp, expected, offset)
        ):
            self._next[tp] = max(offset + 1, expected or 0)
            return True
        message.incref()  # the batch's acknowledgement must not release it
        self._held.setdefault(tp, []).append(event)
        ordering.read_again(consumer, tp, expected, offset)
        return False

    def release(self) -> None:
        """Acknowledge the held records the run has passed. Call it once the batch's
        outputs are durable: the acknowledgement lets their offsets be committed."""
        for tp, held in list(self._held.items()):
            end = self._next.get(tp, 0)
            for event in [e for e in held if e.message.offset < end]:
                event.ack()
                held.remove(event)
            if not held:
                del self._held[tp]

    async def _on_rebalance(self, sender: Any, **kwargs: Any) -> None:
        self.clear()

    def clear(self) -> None:
        self._next.clear()
        self.let_go()

    def let_go(self) -> None:
        """Forget the held records without acknowledging them."""
        consumer: Any = self.app.consumer
        for held in self._held.values():
            for event in held:
                consumer._unacked_messages.discard(event.message)
        self._held.clear()


_instances: list[InOrder] = []


def let_go_all() -> None:
    """Before a rebalance waits for every message handed out to be acknowledged."""
    for instance in _instances:
        instance.let_go()
