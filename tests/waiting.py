"""Polling helpers for integration tests: wait for a condition, fail fast if the worker died."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Process(Protocol):
    def assert_running(self) -> None: ...


def wait_for(
    what: str, probe: Callable[[], Any], timeout: float = 90, workers: Iterable[Process] = ()
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        for worker in workers:
            worker.assert_running()
        last = probe()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw {last!r}")
