"""What ``simulate --publish``, ``publish`` and ``replay`` share: reading an input,
sending with a progress bar on stderr, and turning Kafka trouble into one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from callwatch.producer import BrokerUnavailable, Item, PublishFailed, PublishResult, publish
from callwatch.settings import Settings
from streams.adapters import Collector, InputError, MappingError, Tally, detect_format, open_input


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@dataclass(frozen=True, slots=True)
class InputItems:
    """What to send for one input file.

    JSON lines go out as their original bytes: the ingest agent validates them and
    sends a bad line to the dead-letter topic with its reason, where a client-side
    check would silently drop it. Other formats (CSV exports, EIDO) are converted
    here, by the adapters, and ``tally`` counts what they rejected.
    """

    items: Iterator[Item]
    format: str
    tally: Tally | None


def read_input(path: Path, mapping: str | Path | None) -> InputItems:
    """The one place the tools call the adapters."""
    try:
        if mapping is None and detect_format(path) == "jsonl":
            if not path.is_file():
                fail(f"{path}: no such file")
            return InputItems(raw_lines(path), "jsonl", None)
        # Adapter events carry when callwatch first saw them: now.
        opened = open_input(path, mapping, received_at=datetime.now(UTC))
    except (InputError, MappingError) as exc:
        fail(str(exc))
    collector = Collector()

    def converted() -> Iterator[Item]:
        for outcome in opened.outcomes:
            yield from collector.accept(outcome)

    return InputItems(converted(), opened.format, collector.tally)


def raw_lines(path: Path) -> Iterator[bytes]:
    """Each non-blank line, exactly as written (bar the line ending)."""
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\r\n")


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def occurred_at(item: Item) -> datetime | None:
    """An item's event time; None for a line that has none we can read."""
    if not isinstance(item, bytes):
        return item.occurred_at
    try:
        doc = orjson.loads(item)
        stamp = doc["occurred_at"]
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


def send(
    items: Iterable[Item],
    *,
    total: int | None,
    settings: Settings,
    rate: float | None = None,
    schedule: Iterable[float] | None = None,
    label: str = "publishing",
) -> PublishResult:
    """Send to the raw topic with a progress bar on stderr; Kafka trouble exits with 2."""
    topic = settings.topic("raw")
    progress = Progress(
        SpinnerColumn(),
        TextColumn(f"{label} to [bold]{topic}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(label, total=total)
        try:
            result = publish(
                items,
                topic,
                rate=rate,
                settings=settings,
                schedule=schedule,
                on_sent=lambda n: progress.update(task, completed=n),
            )
        except (BrokerUnavailable, PublishFailed) as exc:
            progress.stop()
            fail(str(exc))
    typer.echo(f"sent {result.sent} messages to {result.topic} in {result.seconds:.1f}s", err=True)
    return result


def report_rejections(tally: Tally | None) -> None:
    if tally is None or not tally.records_rejected:
        return
    reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(tally.rejected.items()))
    typer.echo(
        f"{tally.records_rejected} of {tally.records_read} records could not be converted"
        f" and were not sent ({reasons})",
        err=True,
    )
