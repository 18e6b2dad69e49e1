"""``callwatch check``: the live engine, offline, over a file.

Reads any supported input (canonical JSON lines, a CSV export with a mapping,
EIDO documents), runs the same ``Engine`` the worker runs with an event-time
clock, and prints the final state of every finding as JSON lines. Records the
adapters reject are counted on stderr, never silently dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from schemas.events import DispatchEvent
from streams.adapters import Collector, open_input
from streams.engine.clock import EventClock
from streams.engine.facts import to_millis
from streams.engine.offline import OfflineRun
from streams.engine.policy import Policy
from streams.engine.records import finding_record
from streams.engine.state import Engine, FindingChange


def run_check(
    input_path: Path,
    *,
    engine: Engine,
    policy: Policy,
    mapping: str | None = None,
    as_of: datetime | None = None,
    include_retracted: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> dict[str, Any]:
    opened = open_input(input_path, mapping, received_at=datetime.now(UTC))
    collector = Collector()

    def events() -> Iterator[DispatchEvent]:
        for outcome in opened.outcomes:
            yield from collector.accept(outcome)

    run = OfflineRun(engine, EventClock())
    latest: dict[str, FindingChange] = {}
    for change in run.feed(events()):
        latest[f"{change.call_id}/{change.rule.id}"] = change
    watermark = run.clock.watermark
    end = to_millis(as_of) if as_of is not None else watermark
    for change in run.finish(as_of=end):
        latest[f"{change.call_id}/{change.rule.id}"] = change

    written = 0
    for key in sorted(latest):
        record = finding_record(latest[key], policy)
        if record["status"] == "retracted" and not include_retracted:
            continue
        out.write(orjson.dumps(record).decode() + "\n")
        written += 1
    tally = collector.tally
    summary = {
        "records_read": tally.records_read,
        "records_rejected": dict(tally.rejected),
        "events": tally.events_written,
        "calls": run.calls_seen,
        "immigration_agency_calls": run.flagged["immigration"],
        "review_calls": run.flagged["review"],
        "findings": written,
        "duplicate_events": run.duplicates,
    }
    err.write(orjson.dumps(summary).decode() + "\n")
    return summary
