"""An audit's second pass: the time-ordered records through the live engine.

The records come from ``EventSorter`` in event-time order, so the engine, its
event-time clock and its deadline queue see history as live processing did,
whatever order the files were in; closed calls are evicted as live, so state
stays bounded. Each record is validated here (the first pass only read its sort
key), exact copies of a JSON line are counted as duplicate records, and the
per-call data-quality checks run alongside.

Calls can be split between processes (``part`` of ``parts``, by call id): each
process reads every record, applies only its own calls' events, and lets every
record's time move its clock, so each fires deadlines at exactly the times a
single process would and the union of their findings is the single run's.
A record whose time can be read moves the clock even if it is then rejected, so
that all processes agree on the clock without knowing each other's rejections.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import orjson

from schemas.events import DispatchEvent, event_type
from streams.audit_input import TEXT_KEPT, RejectedRecord, RejectSink
from streams.codec import DEFAULT_MAX_BYTES, Rejected, decode
from streams.engine.clock import EventClock
from streams.engine.offline import OfflineRun
from streams.engine.policy import Policy
from streams.engine.records import finding_id, finding_record
from streams.engine.sorted_input import EventSorter, Record
from streams.engine.state import Engine
from streams.quality import FUTURE_TOLERANCE_MS, CallChecks, Place, QualityReport

Records = Callable[[], Iterable[Record]]  # the sorted records, readable more than once

# Finding changes buffered before they are spilled: a long history's findings (tens of
# thousands, a few kB each) would otherwise be most of the memory.
FINDING_RUN_RECORDS: Final = 4096
FINDING_RUN_BYTES: Final = 8 * 2**20

# Same as the live clock: an event stamped further than this past the time the data
# was received is kept but does not move time (one typo'd year must not make every
# deadline due).
_MAX_FUTURE_MS: Final = FUTURE_TOLERANCE_MS


@dataclass(frozen=True, slots=True)
class AuditOptions:
    received_at_ms: int  # when this run received the data: "the future" starts here
    as_of_ms: int | None = None  # judge deadlines as of this time (default: the last event)
    strict: bool = False
    max_gap_ms: int = 24 * 3_600_000
    jsonl_sources: frozenset[int] = frozenset()  # sources whose records are JSON lines
    records_at: dict[Place, int] = field(default_factory=dict)  # see InputCounts
    max_bytes: int = DEFAULT_MAX_BYTES
    # where each part spills its finding records (None: they are kept in memory)
    spill_dir: Path | None = None


@dataclass(slots=True)
class PartResult:
    # every change of every finding, as (0, finding id, sequence, record JSON, part, 0):
    # sorted on disk, so memory does not grow with the number of findings (``final_findings``)
    findings: EventSorter
    calls_seen: int = 0
    flagged_ids: dict[str, list[str]] = field(default_factory=dict)
    events_applied: int = 0  # events the engine took (duplicates and late ones excluded)
    duplicate_records: int = 0  # exact copies of a JSON line
    duplicate_events: int = 0  # an event id already applied to the call
    late_events: int = 0  # events for a call closed and evicted before they came
    rejected: Counter[str] = field(default_factory=Counter)  # records, by reason
    quality: QualityReport = field(default_factory=QualityReport)
    watermark: int | None = None


def audit_part(
    records: Records,
    engine: Engine,
    policy: Policy,
    options: AuditOptions,
    *,
    part: int = 0,
    parts: int = 1,
    on_reject: RejectSink | None = None,
    progress: Callable[[int], None] | None = None,
) -> PartResult:
    """One part's audit; ``progress`` is told every few thousand records read."""
    result = PartResult(_finding_sorter(options, part))
    tick = progress or _no_progress
    reject = on_reject or (lambda _r: None)
    flagged: dict[Place, str] | None = None
    checks: CallChecks | None
    if options.strict:  # find the anomalous records first, then leave them out
        finder = CallChecks(
            result.quality,
            received_at_ms=options.received_at_ms,
            max_gap_ms=options.max_gap_ms,
            collect=True,
        )
        for _ in _events(records(), options, part, parts, result, finder, None, _no_sink, tick):
            pass
        finder.finish()
        flagged = finder.flagged
        result.rejected.clear()
        result.duplicate_records = result.duplicate_events = result.events_applied = 0
        checks = None
    else:
        checks = CallChecks(
            result.quality, received_at_ms=options.received_at_ms, max_gap_ms=options.max_gap_ms
        )
    run = OfflineRun(engine, EventClock())
    add, seq = result.findings.add, 0
    items = _events(records(), options, part, parts, result, checks, flagged, reject, tick)
    for change in run.feed_timed(items):
        seq += 1
        add(
            (
                0,
                finding_id(change.call_id, change.rule.id),
                f"{seq:012d}",
                orjson.dumps(finding_record(change, policy)),
                part,
                0,
            )
        )
    if checks is not None:
        checks.finish()
    result.watermark = run.clock.watermark
    end = options.as_of_ms if options.as_of_ms is not None else result.watermark
    for change in run.finish(as_of=end):
        seq += 1
        add(
            (
                0,
                finding_id(change.call_id, change.rule.id),
                f"{seq:012d}",
                orjson.dumps(finding_record(change, policy)),
                part,
                0,
            )
        )
    result.findings.seal()
    result.calls_seen = run.calls_seen
    result.flagged_ids = run.flagged_ids
    result.duplicate_events += run.duplicates
    result.late_events = run.late
    result.events_applied -= run.duplicates + run.late
    return result


def final_findings(parts: Iterable[PartResult]) -> Iterator[tuple[str, str, bytes]]:
    """(finding id, status, record) of each finding's last change, in finding-id order."""
    current: tuple[str, bytes] | None = None
    for _zero, fid, _seq, record, _part, _ in heapq.merge(*(p.findings.sorted() for p in parts)):
        if current is not None and current[0] != fid:
            yield current[0], orjson.loads(current[1])["status"], current[1]
        current = (fid, record)
    if current is not None:
        yield current[0], orjson.loads(current[1])["status"], current[1]


def _finding_sorter(options: AuditOptions, part: int) -> EventSorter:
    if options.spill_dir is None:  # never spills
        return EventSorter(Path("."), run_records=sys.maxsize, run_bytes=sys.maxsize)
    folder = options.spill_dir / f"findings-{part}"
    folder.mkdir(exist_ok=True)
    return EventSorter(folder, run_records=FINDING_RUN_RECORDS, run_bytes=FINDING_RUN_BYTES)


def _no_sink(_record: RejectedRecord) -> None:
    pass


def _no_progress(_records: int) -> None:
    pass


def _events(
    records: Iterable[Record],
    options: AuditOptions,
    part: int,
    parts: int,
    result: PartResult,
    checks: CallChecks | None,
    flagged: dict[Place, str] | None,
    reject: RejectSink,
    tick: Callable[[int], None],
) -> Iterator[tuple[int, DispatchEvent | None]]:
    """(clock time, event or None) per record: None for another part's call, a copy, or a
    rejected record. The clock time is the event's own, except for an event in the future."""
    future = options.received_at_ms + _MAX_FUTURE_MS
    jsonl, max_bytes, records_at = options.jsonl_sources, options.max_bytes, options.records_at
    rejected = result.rejected
    clock_t = 0
    previous = b""
    previous_rejected: str | None = None
    rejected_places: set[Place] = set()
    read = 0
    for t_us, call_id, _event_id, payload, source, line in records:
        read += 1
        if read & 4095 == 0:
            tick(4096)
        t = t_us // 1000
        if t <= future:
            clock_t = t
        if parts > 1 and hash(call_id) % parts != part:
            yield clock_t, None
            continue
        if payload == previous:
            if source not in jsonl:  # one event made twice by an adapter: not a record
                result.duplicate_events += 1
            elif previous_rejected is not None:  # a copy of a rejected line: rejected too
                rejected[previous_rejected] += 1
                reject(
                    RejectedRecord(
                        source,
                        line,
                        previous_rejected,
                        "a copy of a rejected line",
                        payload[:TEXT_KEPT],
                        len(payload),
                    )
                )
            else:
                result.duplicate_records += 1
            yield clock_t, None
            continue
        previous, previous_rejected = payload, None
        place = (source, line)
        if flagged is not None and place in flagged:
            if place not in rejected_places:  # a CSV record's events share one place
                rejected_places.add(place)
                reason = f"strict_{flagged[place]}"
                rejected[reason] += records_at.get(place, 1)
                text = payload[:TEXT_KEPT] if source in jsonl else None
                reject(
                    RejectedRecord(
                        source, line, reason, "--strict: a data-quality anomaly", text, len(payload)
                    )
                )
            yield clock_t, None
            continue
        event = decode(payload, max_bytes)
        if isinstance(event, Rejected):
            previous_rejected = event.reason
            rejected[event.reason] += 1
            reject(
                RejectedRecord(
                    source, line, event.reason, event.detail, payload[:TEXT_KEPT], len(payload)
                )
            )
            yield clock_t, None
            continue
        if checks is not None:
            checks.observe(t, call_id, event_type(event), place)
        result.events_applied += 1
        yield clock_t, event
