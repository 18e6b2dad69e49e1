"""JSON lines of canonical events -> validated events, one rejection per bad line.

This is the format callwatch itself writes (``callwatch convert``) and what a
producer that already speaks the contract sends; each line goes through the
same decoder as the live stream, so a file and the stream reject alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from streams.adapters.result import Converted, Duplicate, DuplicateRecords, Outcome, Rejection
from streams.codec import DEFAULT_MAX_BYTES, Rejected, decode


def read_jsonl(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Outcome]:
    with path.open("rb") as handle:
        yield from convert_lines(handle, max_bytes=max_bytes)


def convert_lines(
    lines: Iterable[bytes], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[Outcome]:
    """Blank lines are skipped, not counted: they carry no record."""
    duplicates = DuplicateRecords()
    record = 0
    for number, line in enumerate(lines, 1):
        raw = line.strip()
        if not raw:
            continue
        record += 1
        decoded = decode(raw, max_bytes)
        if isinstance(decoded, Rejected):
            yield Rejection(decoded.reason, decoded.detail, number, record)
            continue
        first = duplicates.first_seen_bytes(raw, number)
        if first is not None:
            yield Duplicate(number, first)
            continue
        yield Converted((decoded,))
