"""Clocks that decide what "now" means to the rules.

``EventClock`` follows the stream, the way stream processors compute a
watermark: each input partition's time is the latest event time seen on it,
and now is the *minimum* over the partitions still flowing, less an allowed
lateness. Taking the minimum keeps a partition that is ahead (its consumer ran
faster) from firing deadlines for calls on a partition that is behind. A
partition that has been quiet for ``idle_ms`` of wall time stops holding the
others back; when every partition is quiet, time moves on at wall-clock pace
from the latest event (``wall``), so a deadline still fires on time live when
no further event arrives. Replaying history as fast as possible, the idle gaps
are tiny, so time is effectively the events' own. Now never goes backwards.

``WallClock`` is the plain wall clock, for sources whose event times are
trustworthy wall time. Both take the wall clock as an injected function.

With a wall clock, an event stamped more than ``max_future_ms`` ahead of it (a
source whose clock is wrong, a typo'd year) does not move time at all -- its
partition still counts as flowing -- so one event from 2099 cannot make every
open deadline due at once, live or in a replay. The event itself is kept as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Millis = int


class Clock(Protocol):
    def observe(self, event_time: Millis, partition: int = 0) -> None: ...

    def now(self) -> Millis: ...

    def now_for(self, partition: int) -> Millis: ...

    def hold(self, partition: int) -> None: ...


class EventClock:
    def __init__(
        self,
        lateness_ms: Millis = 30_000,
        wall: Callable[[], Millis] | None = None,
        idle_ms: Millis = 5_000,
        max_future_ms: Millis = 5 * 60_000,
    ) -> None:
        self.lateness_ms = lateness_ms
        self.idle_ms = idle_ms
        self.max_future_ms = max_future_ms
        self._wall = wall  # None: time stands still between events (offline replay)
        self._latest: dict[int, Millis] = {}  # partition -> latest event time
        self._seen_at: dict[int, Millis] = {}  # partition -> wall time of its last event
        self._now: Millis = 0

    @property
    def watermark(self) -> Millis | None:
        return max(self._latest.values()) if self._latest else None

    def observe(self, event_time: Millis, partition: int = 0) -> None:
        if self._wall is not None:
            wall = self._wall()
            self._seen_at[partition] = wall
            if event_time > wall + self.max_future_ms:
                self._latest.setdefault(partition, 0)  # flowing, at no time of its own yet
                return
        if event_time > self._latest.get(partition, event_time - 1):
            self._latest[partition] = event_time

    def hold(self, partition: int) -> None:
        """The partition has events not read yet: it still flows, however long since
        its last event was read (a worker stalled, or busy with other partitions), so
        the others' time cannot run past its unread calls."""
        if self._wall is not None and partition in self._latest:
            self._seen_at[partition] = self._wall()

    def now(self) -> Millis:
        if not self._latest:
            return self._now
        if self._wall is None:
            candidate = min(self._latest.values())
        else:
            wall = self._wall()
            flowing = [t for p, t in self._latest.items() if wall - self._seen_at[p] < self.idle_ms]
            if flowing:
                candidate = min(flowing)
            else:  # all quiet: let time pass from the latest event at wall-clock pace
                idle = wall - max(self._seen_at.values())
                candidate = max(self._latest.values()) + idle
        self._now = max(self._now, candidate - self.lateness_ms)
        return self._now

    def now_for(self, partition: int) -> Millis:
        """Now, for the calls of one partition: never past what that partition has
        shown while it still flows.

        The same as ``now()`` for a partition that keeps up. Lower for one that is
        behind the time the others set -- a partition just taken over from a stopped
        worker and replaying its backlog, or one whose first events are not in yet --
        so its calls are not judged before their events are read. ``now()`` cannot
        do that itself: it never goes back. A quiet partition follows ``now()``.
        """
        now = self.now()
        latest = self._latest.get(partition)
        if latest is None or self._wall is None:
            return now
        if self._wall() - self._seen_at[partition] >= self.idle_ms:
            return now
        return min(now, latest - self.lateness_ms)


def holds_time_back(unread: int | None) -> bool:
    """Whether a partition, ``unread`` events behind its end, keeps holding time back
    (``EventClock.hold``) however long since one of its events was read.

    Unknown counts as behind. Its end is unknown until the consumer's first fetch
    answers for it, and where it stands is unknown until its first event is processed
    or its committed offset is read: both are exactly the moments after a takeover, a
    restart or on a starved host (a fetch or a table recovery slower than the idle
    time) when its calls' events are still to come. Letting such a partition fall
    "quiet" let the other partitions' time fire its calls' deadlines before their
    events were read: the fault suite's repeated runs showed it as findings the truth
    does not have (a report-filed finding opened for a call whose report was still
    unread, a commander finding on a call just taken over). Holding costs a deadline
    a little time; judging early accuses.
    """
    return unread is None or unread > 0


class WallClock:
    def __init__(self, wall: Callable[[], Millis]) -> None:
        self._wall = wall

    def observe(self, event_time: Millis, partition: int = 0) -> None:
        pass

    def now(self) -> Millis:
        return self._wall()

    def now_for(self, partition: int) -> Millis:
        return self._wall()

    def hold(self, partition: int) -> None:
        pass
