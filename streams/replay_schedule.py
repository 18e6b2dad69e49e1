"""When to send each event: replay pacing and a rate limit, as pure arithmetic.

Nothing here sleeps or reads a clock; the caller passes the time in and does the
waiting, so the schedule can be tested without Kafka and without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def replay_order(times: Sequence[datetime | None]) -> list[int]:
    """Indices of the items in the order to send them: by event time, stably.

    Exports are often grouped by call (all of one call's events, then the next
    call's), which is not the order things happened. An item with no readable time
    keeps the place of the item before it, so a bad line travels with its neighbours.
    """
    keys: list[datetime | None] = []
    carried: datetime | None = None
    for time in times:
        carried = time if time is not None else carried
        keys.append(carried)
    # Leading items with no time at all go first, where they were.
    return sorted(range(len(keys)), key=lambda i: (keys[i] is not None, keys[i] or _EPOCH, i))


def send_offsets(
    times: Iterable[datetime | None], speed: float = 1.0, max_gap: float | None = None
) -> list[float]:
    """Seconds after the replay starts at which to send each event.

    The gaps between events' ``occurred_at`` are divided by ``speed``. Offsets never
    go backwards: an event older than one already sent (an out-of-order record) and
    an event whose time is unknown (``None``: an unparseable line, which must still
    reach the dead-letter topic) go out right after their predecessor. ``max_gap``
    caps a quiet stretch (an overnight lull in a historical file) in replay seconds.
    """
    if speed <= 0:
        raise ValueError("speed must be positive")
    if max_gap is not None and max_gap < 0:
        raise ValueError("max_gap must not be negative")
    offsets: list[float] = []
    offset = 0.0
    latest: datetime | None = None
    for time in times:
        if time is not None:
            if latest is not None and time > latest:
                gap = (time - latest).total_seconds() / speed
                offset += gap if max_gap is None else min(gap, max_gap)
            latest = time if latest is None else max(latest, time)
        offsets.append(offset)
    return offsets


class TokenBucket:
    """At most ``rate`` sends a second on average, with bursts of up to ``burst``.

    ``delay(now)`` takes one token and says how long to wait before using it.
    A send always waits for its own token, so a caller that waits exactly the
    returned delay never exceeds the rate, however unevenly it calls.
    """

    def __init__(self, rate: float, burst: float | None = None, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        # A tenth of a second's worth by default: smooth, but not one syscall per event.
        self.burst = max(1.0, burst if burst is not None else rate / 10)
        self._tokens = self.burst
        self._stamp = now

    def delay(self, now: float) -> float:
        elapsed = max(0.0, now - self._stamp)
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = max(self._stamp, now)
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        # In debt: wait until the refill pays it back.
        return -self._tokens / self.rate
