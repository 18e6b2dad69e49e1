"""A queue of per-call wake-up times (absence deadlines and evictions).

A call's wake-up time changes as events arrive, so entries are never removed
from the heap: a popped entry that no longer matches the call's current time is
stale and skipped. That keeps every operation O(log n).
"""

from __future__ import annotations

import heapq


class DeadlineQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._current: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._current)

    def set(self, call_id: str, when: int | None) -> None:
        """Schedule (or reschedule, or with None cancel) the call's wake-up."""
        if when is None:
            self._current.pop(call_id, None)
            return
        if self._current.get(call_id) == when:
            return
        self._current[call_id] = when
        heapq.heappush(self._heap, (when, call_id))

    def next_due(self) -> int | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: int) -> list[str]:
        """Calls whose wake-up time is at or before ``now``, earliest first."""
        due: list[str] = []
        while self._heap:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                break
            _when, call_id = heapq.heappop(self._heap)
            del self._current[call_id]
            due.append(call_id)
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._current.clear()

    def _drop_stale(self) -> None:
        heap, current = self._heap, self._current
        while heap and current.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
