"""Progress bars (rich) for long commands, with rate and time left, on a terminal only.

A command asks for a bar with ``progress(...)`` and calls the returned function
with how much more is done. Nothing is drawn, and the function does nothing,
when stderr is not a terminal (a pipe, a file, a test) or with ``--quiet``, so
output meant for scripts never carries escape codes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

Advance = Callable[[int], None]


def _noop(_amount: int) -> None:
    pass


def enabled(quiet: bool = False, stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return not quiet and stream.isatty()


@contextmanager
def progress(
    description: str,
    total: float | None,
    *,
    unit: str = "records",
    quiet: bool = False,
    stream: TextIO | None = None,
) -> Iterator[Advance]:
    """A bar for ``total`` units (bytes: shown as a transfer rate; None: no end known)."""
    stream = stream if stream is not None else sys.stderr
    if not enabled(quiet, stream):
        yield _noop
        return
    rate = (
        TransferSpeedColumn()
        if unit == "bytes"
        else TextColumn("{task.fields[rate]}", style="progress.data.speed")
    )
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *([] if unit == "bytes" else [MofNCompleteColumn()]),
        rate,
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(description, total=total, rate="")
        # Callers may advance once per record: hand rich a batch, not every call.
        batch = 1 if unit == "bytes" else 500
        pending = [0]

        def advance(amount: int) -> None:
            pending[0] += amount
            if pending[0] < batch:
                return
            bar.advance(task, pending[0])
            pending[0] = 0
            if unit != "bytes":
                speed = bar.tasks[task].speed
                bar.update(task, rate=f"{speed:,.0f} {unit}/s" if speed else "")

        yield advance


def counted(lines: Iterable[str], advance: Advance) -> Iterator[str]:
    """The lines, advancing the bar by each one's length (about its bytes)."""
    for line in lines:
        advance(len(line))
        yield line


def estimated_records(path: Path, sample: int = 1 << 20) -> int | None:
    """About how many lines ``path`` has (from its first MiB), for a bar's end; None if
    it cannot be told (unreadable, or no line break in the sample)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(sample)
    except OSError:
        return None
    breaks = head.count(b"\n")
    if not breaks:
        return None
    return max(1, round(breaks * size / len(head)))
