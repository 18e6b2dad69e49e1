"""An audit's first pass: every input record counted, and every usable event sorted.

Reads each input (canonical JSON lines, or any format an adapter converts) and
hands each event to an ``EventSorter`` keyed by event time, so the second pass
(``streams.engine.audit``) sees history in time order whatever order the files
were in. Nothing is dropped without a count: a record is read, then rejected (with
its reason and place), recognised as a duplicate, or sorted.

JSON lines are read here rather than through ``streams.adapters.jsonl``, for two
reasons: memory must not grow with the history (that reader remembers every line
to spot copies; here copies meet in the sort and are counted there), and only the
sort key is decoded now -- the full validation happens once, in the second pass.
A line longer than the size limit is skipped in pieces, never held whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, BinaryIO, Final

import msgspec

from streams.adapters.result import Converted, Duplicate, Outcome, Rejection
from streams.codec import DEFAULT_MAX_BYTES, Rejected, decode, encode
from streams.engine.sorted_input import EventSorter
from streams.quality import Place, QualityReport

# What the rejects file keeps of a record's text (a 10 MB line is not copied whole).
TEXT_KEPT: Final = 4096
_READ_PIECE: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Source:
    """One input: JSON lines (``outcomes`` None: read here) or an adapter's outcomes."""

    path: Path
    format: str
    mapping_name: str | None = None
    outcomes: Iterator[Outcome] | None = None


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    source: int
    line: int
    reason: str
    detail: str
    text: bytes | None = None  # the original record, when the reader still has it
    size: int = 0  # its length in bytes, when known


@dataclass(slots=True)
class InputCounts:
    records_read: int = 0
    duplicate_records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    sorted_records: int = 0  # records whose events went to the sorter
    events: int = 0
    # records that a converted outcome stands for, where that is not one (per_unit CSV)
    records_at: dict[Place, int] = field(default_factory=dict)
    per_source: list[int] = field(default_factory=list)  # records read per source

    @property
    def records_rejected(self) -> int:
        return sum(self.rejected.values())


RejectSink = Callable[[RejectedRecord], None]
Progress = Callable[[int], None]  # bytes read (JSON lines) or records read (adapters)


class _Key(msgspec.Struct):
    """Just what the sort needs; the rest of the event is validated in the second pass."""

    call_id: str
    event_id: str
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True)]


_key_decoder: Final = msgspec.json.Decoder(_Key)


def micros(moment: datetime) -> int:
    """The sort key's event time: microseconds since the epoch."""
    return int(moment.timestamp() * 1_000_000)


def read_inputs(
    sources: list[Source],
    sorter: EventSorter,
    quality: QualityReport,
    *,
    strict: bool = False,
    on_reject: RejectSink | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
) -> InputCounts:
    counts = InputCounts()
    reject = on_reject or (lambda _record: None)
    tick = progress or (lambda _n: None)
    for index, source in enumerate(sources):
        before = counts.records_read
        if source.outcomes is None:
            with source.path.open("rb") as handle:
                _read_jsonl(index, handle, sorter, counts, reject, max_bytes, tick)
        else:
            _read_outcomes(index, source.outcomes, sorter, counts, quality, reject, strict, tick)
        counts.per_source.append(counts.records_read - before)
    return counts


def _read_jsonl(
    source: int,
    handle: BinaryIO,
    sorter: EventSorter,
    counts: InputCounts,
    reject: RejectSink,
    max_bytes: int,
    tick: Progress,
) -> None:
    readline, add, decode_key = handle.readline, sorter.add, _key_decoder.decode
    limit = max_bytes + 2  # room for the line's own "\r\n"
    number = read = 0
    while line := readline(limit):
        number += 1
        size = len(line)
        if size >= limit and line[-1:] != b"\n":
            size += _skip_rest(readline)
            counts.records_read += 1
            _reject(
                counts,
                reject,
                RejectedRecord(
                    source,
                    number,
                    "oversize",
                    f"{size} bytes exceeds the limit of {max_bytes}",
                    line[:TEXT_KEPT],
                    size,
                ),
            )
            read += size
            continue
        read += size
        if number & 1023 == 0:
            tick(read)
            read = 0
        raw = line.strip()
        if not raw:
            continue  # blank lines carry no record, as in `callwatch convert`
        counts.records_read += 1
        try:
            key = decode_key(raw)
        except (
            msgspec.DecodeError,
            msgspec.ValidationError,
            UnicodeDecodeError,
            ValueError,
            RecursionError,  # msgspec raises these on hostile input, as streams.codec knows
        ):
            event = decode(raw, max_bytes)  # only on failure: the precise reason
            if isinstance(event, Rejected):
                _reject(
                    counts,
                    reject,
                    RejectedRecord(
                        source, number, event.reason, event.detail, raw[:TEXT_KEPT], len(raw)
                    ),
                )
                continue
            add((micros(event.occurred_at), event.call_id, event.event_id, raw, source, number))
        else:
            if len(raw) > max_bytes:
                _reject(
                    counts,
                    reject,
                    RejectedRecord(
                        source,
                        number,
                        "oversize",
                        f"{len(raw)} bytes exceeds the limit of {max_bytes}",
                        raw[:TEXT_KEPT],
                        len(raw),
                    ),
                )
                continue
            add((micros(key.occurred_at), key.call_id, key.event_id, raw, source, number))
        counts.sorted_records += 1
        counts.events += 1
    tick(read)


def _skip_rest(readline: Callable[[int], bytes]) -> int:
    """Read past the rest of an over-long line, a piece at a time; its length."""
    skipped = 0
    while piece := readline(_READ_PIECE):
        skipped += len(piece)
        if piece[-1:] == b"\n":
            break
    return skipped


def _read_outcomes(
    source: int,
    outcomes: Iterator[Outcome],
    sorter: EventSorter,
    counts: InputCounts,
    quality: QualityReport,
    reject: RejectSink,
    strict: bool,
    tick: Progress,
) -> None:
    ordinal = 0
    for outcome in outcomes:
        ordinal += 1
        tick(1)
        if isinstance(outcome, Rejection):
            counts.records_read += 1
            _reject(
                counts, reject, RejectedRecord(source, outcome.line, outcome.reason, outcome.detail)
            )
            continue
        if isinstance(outcome, Duplicate):
            counts.records_read += 1
            counts.duplicate_records += 1
            continue
        counts.records_read += outcome.records
        line = outcome.line or ordinal
        place = (source, line)
        found = report_anomalies(outcome, source, place, quality)
        if strict and found is not None:
            counts.rejected[f"strict_{found}"] += outcome.records
            reject(
                RejectedRecord(source, line, f"strict_{found}", "--strict: a data-quality anomaly")
            )
            continue
        if outcome.records != 1:
            counts.records_at[place] = outcome.records
        counts.sorted_records += outcome.records
        for event in outcome.events:
            key = (micros(event.occurred_at), event.call_id, event.event_id)
            sorter.add((*key, encode(event), source, line))
            counts.events += 1


def report_anomalies(
    outcome: Converted, source: int, place: Place, quality: QualityReport
) -> str | None:
    """Count what the adapter noticed; the first kind, if any (``--strict`` rejects it)."""
    first: str | None = None
    for anomaly in outcome.anomalies:
        quality.add(anomaly.kind, anomaly.column, (source, anomaly.line), anomaly.detail)
        first = first or anomaly.kind
    for note in outcome.notes:  # e.g. "unparseable_time:on_scene": a value skipped
        kind, _, column = note.partition(":")
        quality.add(kind, column or None, place)
        first = first or kind
    return first


def _reject(counts: InputCounts, reject: RejectSink, record: RejectedRecord) -> None:
    counts.rejected[record.reason] += 1
    reject(record)


_SNIFF: Final = 8192
_MAGIC: Final = {
    b"\x1f\x8b": "gzip-compressed data (decompress it first)",
    b"PK\x03\x04": "a zip archive (extract it first)",
    b"BZh": "bzip2-compressed data (decompress it first)",
    b"\xfd7zXZ": "xz-compressed data (decompress it first)",
    b"%PDF": "a PDF document",
}


def binary_reason(path: Path) -> str | None:
    """Why the file is plainly not text (compressed, an archive, NUL bytes), or None."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF)
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"binary data (a NUL byte at offset {nul})"
    return None
