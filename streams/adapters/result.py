"""What an adapter makes of each input record, and the tally that must add up.

Every record an adapter reads (a CSV row, a JSON line, an EIDO document) ends
up in exactly one of three outcomes: converted into events, recognised as an
exact duplicate of an earlier record, or rejected with a reason. The tally
counts them so ``records_read == converted + duplicates + rejected`` always
holds; a conversion that loses rows silently would hide exactly the calls
callwatch exists to find.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from schemas.events import DispatchEvent
from streams.codec import REJECT_REASONS as CODEC_REJECT_REASONS

AdapterRejectReason = Literal[
    # codec reasons, for JSON lines of canonical events
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "unknown_version",
    "unknown_type",
    "schema_violation",
    # CSV rows
    "malformed_row",  # wrong number of fields, or the csv module could not parse it
    "missing_call_id",
    "missing_received_time",  # empty, a null literal or a sentinel date
    "bad_received_time",  # present but matches none of the mapping's formats
    # EIDO documents
    "not_eido",
    "invalid_eido",
]
ADAPTER_REJECT_REASONS: Final[tuple[AdapterRejectReason, ...]] = (
    *CODEC_REJECT_REASONS,
    "malformed_row",
    "missing_call_id",
    "missing_received_time",
    "bad_received_time",
    "not_eido",
    "invalid_eido",
)


class InputError(ValueError):
    """The input cannot be read, or its format cannot be told."""


@dataclass(frozen=True, slots=True)
class Converted:
    """Events about one call, in time order, made from ``records`` input records.

    ``notes`` name things that were skipped without rejecting the record,
    e.g. an on-scene time that matched no format, so the summary can show them.
    ``line`` is where the (first) record starts, 1-based, when the adapter knows it
    (0: it does not; the data-quality report then names the record's ordinal).
    """

    events: tuple[DispatchEvent, ...]
    records: int = 1
    notes: tuple[str, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something doubtful about a record that was still converted: a data-quality finding.

    Adapters report what only they can see (a clock with no AM/PM, a time-only
    column rolled over midnight, an unknown enum value mapped to a default, a
    column whose value matched no format); ``callwatch check``/``convert`` tally
    them per kind and column in the data-quality report, and ``--strict`` turns
    them into rejections.
    """

    kind: str  # e.g. "ambiguous_clock", "unparsed_time", "unknown_enum", "midnight_rollover"
    line: int  # where the record starts in the input, 1-based
    column: str | None = None  # the input column or field, when there is one
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: AdapterRejectReason
    detail: str
    line: int  # where the record starts in the input, 1-based (whole documents: 1)
    record: int  # ordinal of the record in the input, 1-based


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An exact copy of a record already converted; its events were already made."""

    line: int
    first_line: int


Outcome = Converted | Rejection | Duplicate


class DuplicateRecords:
    """Remembers records by digest, so memory stays small on big exports."""

    def __init__(self) -> None:
        self._first_line: dict[bytes, int] = {}

    def first_seen(self, parts: Iterable[str | bytes], line: int) -> int | None:
        """The line of an identical earlier record, or None (and remember this one)."""
        digest = hashlib.blake2b(digest_size=16)
        for part in parts:
            digest.update(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part)
            digest.update(b"\x1f")
        return self._remember(digest.digest(), line)

    def first_seen_bytes(self, record: bytes, line: int) -> int | None:
        """``first_seen([record], line)``, for a record that is one byte string (a JSON
        line): the same digest, in one call instead of a loop of updates."""
        return self._remember(hashlib.blake2b(record + b"\x1f", digest_size=16).digest(), line)

    def _remember(self, key: bytes, line: int) -> int | None:
        first = self._first_line.get(key)
        if first is None:
            self._first_line[key] = line
        return first


@dataclass(slots=True)
class Tally:
    records_read: int = 0
    records_converted: int = 0
    duplicate_records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    events_written: int = 0
    duplicate_events: int = 0  # same event_id as one already written in this conversion
    notes: Counter[str] = field(default_factory=Counter)

    @property
    def records_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def adds_up(self) -> bool:
        return self.records_read == (
            self.records_converted + self.duplicate_records + self.records_rejected
        )


class Collector:
    """Counts outcomes and drops events whose id was already emitted.

    Event ids are deterministic, so the same call seen twice (a duplicate row,
    a unit row repeating its call's receipt, an EIDO re-sent with an update)
    yields the same id: keeping the first makes a conversion idempotent.
    """

    def __init__(self) -> None:
        self.tally = Tally()
        self._seen_ids: set[str] = set()

    def accept(self, outcome: Outcome) -> list[DispatchEvent]:
        """Count one outcome; return the events not emitted before."""
        tally = self.tally
        if isinstance(outcome, Rejection):
            tally.records_read += 1
            tally.rejected[outcome.reason] += 1
            return []
        if isinstance(outcome, Duplicate):
            tally.records_read += 1
            tally.duplicate_records += 1
            return []
        tally.records_read += outcome.records
        tally.records_converted += outcome.records
        if outcome.notes:
            tally.notes.update(outcome.notes)
        seen = self._seen_ids
        if len(outcome.events) == 1:  # JSON lines: one event per record
            event = outcome.events[0]
            if event.event_id in seen:
                tally.duplicate_events += 1
                return []
            seen.add(event.event_id)
            tally.events_written += 1
            return [event]
        fresh: list[DispatchEvent] = []
        for event in outcome.events:
            if event.event_id in self._seen_ids:
                tally.duplicate_events += 1
                continue
            self._seen_ids.add(event.event_id)
            fresh.append(event)
        tally.events_written += len(fresh)
        return fresh

    def events(self, outcomes: Iterable[Outcome]) -> Iterator[DispatchEvent]:
        for outcome in outcomes:
            yield from self.accept(outcome)
