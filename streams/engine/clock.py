"""Clocks that decide what "now" means to the rules.

``EventClock`` follows the stream: now is the latest event time seen, less an
allowed lateness (so an event delayed a little by partition skew still lands
before its deadline is judged). When the stream goes quiet, it can keep moving
at wall-clock pace from the last event (``idle_advance``), so a deadline still
fires on time live when no further event arrives; replaying history as fast as
possible, the idle gaps are tiny, so time is effectively the events' own.

``WallClock`` is the plain wall clock, for sources whose event times are
trustworthy wall time. Both take the wall clock as an injected function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Millis = int


class Clock(Protocol):
    def observe(self, event_time: Millis) -> None: ...

    def now(self) -> Millis: ...


class EventClock:
    def __init__(
        self,
        lateness_ms: Millis = 30_000,
        wall: Callable[[], Millis] | None = None,
    ) -> None:
        self.lateness_ms = lateness_ms
        self._wall = wall  # None: time stands still between events (offline replay)
        self._watermark: Millis | None = None
        self._wall_at_watermark: Millis = 0

    @property
    def watermark(self) -> Millis | None:
        return self._watermark

    def observe(self, event_time: Millis) -> None:
        if self._watermark is None or event_time > self._watermark:
            self._watermark = event_time
            if self._wall is not None:
                self._wall_at_watermark = self._wall()

    def now(self) -> Millis:
        if self._watermark is None:
            return 0
        idle = 0
        if self._wall is not None:
            idle = max(0, self._wall() - self._wall_at_watermark)
        return self._watermark - self.lateness_ms + idle


class WallClock:
    def __init__(self, wall: Callable[[], Millis]) -> None:
        self._wall = wall

    def observe(self, event_time: Millis) -> None:
        pass

    def now(self) -> Millis:
        return self._wall()
