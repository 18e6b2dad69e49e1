"""The worker's graceful stop: work to finish before faust takes the consumer down,
and a bound on the whole stop.

faust's ``App.on_stop`` first revokes the tables' partitions, stops the fetcher,
waits for the streams and stops the tables, and only then sends
``on_before_shutdown``: too late for anything that still writes table state (the
alerter recording the outcome of a send under way). Callbacks registered here
run first, while the consumer, the tables and the producer all still work.

The stop as a whole (these callbacks, faust's flushes and final commit) is
bounded by a watchdog thread: past ``timeout`` seconds the process exits at
once with ``STOP_TIMED_OUT_EXIT``, which is no worse than a crash (at-least-once:
the next owner of each partition repeats what was not committed, marked where it
matters) and better than a supervisor waiting forever or SIGKILLing blind.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

log = logging.getLogger("callwatch.worker")

# EX_TEMPFAIL: the stop did not finish in time; starting again is the cure.
STOP_TIMED_OUT_EXIT: Final = 75
_CALLBACKS: Final = "_callwatch_stopping"

Stopping = Callable[[], Awaitable[None]]


_STOPPING: Final = "_callwatch_is_stopping"


def mark_stopping(app: Any) -> None:
    """The app has begun a graceful stop (``agents.faust_compat.offsets`` then waits only for the
    batches in progress, not for records no batch will take)."""
    app.__dict__[_STOPPING] = True


def is_stopping(app: Any) -> bool:
    return bool(app.__dict__.get(_STOPPING))


def on_stopping(app: Any, callback: Stopping) -> None:
    """Run ``callback`` at the start of a graceful stop, in registration order."""
    app.__dict__.setdefault(_CALLBACKS, []).append(callback)


async def run_stopping(app: Any) -> None:
    for callback in app.__dict__.get(_CALLBACKS, []):
        try:
            await callback()
        except Exception:  # one part failing to stop must not keep the rest from it
            log.exception("stopping: %r failed", callback)


class Watchdog:
    """Exits the process if it is still stopping ``timeout`` seconds after ``arm``."""

    def __init__(self, timeout: float, exit_now: Callable[[int], None] = os._exit) -> None:
        self.timeout = timeout
        self.exit_now = exit_now
        self.started = time.monotonic()
        self._timer: threading.Timer | None = None

    def arm(self) -> Watchdog:
        self.started = time.monotonic()
        self._timer = threading.Timer(self.timeout, self._expire)
        self._timer.daemon = True  # a process done stopping exits without waiting for it
        self._timer.start()
        log.warning("stopping: finishing work in flight (at most %.0f s)", self.timeout)
        return self

    def _expire(self) -> None:
        log.critical(
            "stopping took longer than %.0f s (CALLWATCH_SHUTDOWN_TIMEOUT_SECONDS); exiting"
            " now: what was not committed is processed again by the next start", self.timeout,
        )
        logging.shutdown()
        self.exit_now(STOP_TIMED_OUT_EXIT)

