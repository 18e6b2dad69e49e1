"""An external merge sort of events by event time, so an audit reads any input order.

``callwatch check`` must give the findings live processing gives, whatever order
the file is in (newest first, shuffled, grouped by call, several files), without
holding the history in memory. Records are buffered, sorted and spilled to disk as
runs of msgspec-encoded blocks once the buffer is full; reading back is a k-way
merge of the runs (or just the runs one after the other when they do not overlap,
as for a file already in time order). Memory is one buffer while reading and one
block per run while merging, whatever the length of the history.

The order is total and the same for any input order: event time (microseconds),
then call id, then event id, then the payload bytes (so exact copies meet, and the
first kept of two records sharing an event id does not depend on the input order),
then the record's place (source, line).
"""

from __future__ import annotations

import heapq
import struct
from collections.abc import Iterator
from itertools import chain, pairwise
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

# (event time in microseconds, call id, event id, payload, source index, line)
Record = tuple[int, str, str, bytes, int, int]

# Enough to sort fast in memory, small enough for the memory target (~60 MB buffered).
RUN_RECORDS: Final = 150_000
RUN_BYTES: Final = 48 * 2**20
# Records per block in a run file; the merge holds one decoded block per run.
BLOCK_RECORDS: Final = 256
# More runs than this are merged in rounds, so open files and block buffers stay bounded.
MAX_FANOUT: Final = 128

_LENGTH: Final = struct.Struct("<I")
_encoder: Final = msgspec.msgpack.Encoder()
_block_decoder: Final = msgspec.msgpack.Decoder(list[tuple[int, str, str, bytes, int, int]])


class EventSorter:
    """Collects records, then yields them in order. Spills to ``spill_dir`` when large."""

    def __init__(
        self,
        spill_dir: Path,
        *,
        run_records: int = RUN_RECORDS,
        run_bytes: int = RUN_BYTES,
        block_records: int = BLOCK_RECORDS,
        max_fanout: int = MAX_FANOUT,
    ) -> None:
        self.spill_dir = spill_dir
        self.run_records = run_records
        self.run_bytes = run_bytes
        self.block_records = block_records
        self.max_fanout = max(2, max_fanout)
        self.records = 0
        self.runs: list[Run] = []
        self._buffer: list[Record] = []
        self._buffered_bytes = 0
        self._sealed = False
        self._written = 0  # run files written, for their names

    def add(self, record: Record) -> None:
        self._buffer.append(record)
        self.records += 1
        self._buffered_bytes += len(record[3])
        if len(self._buffer) >= self.run_records or self._buffered_bytes >= self.run_bytes:
            self._spill()

    def seal(self) -> None:
        """No more records: spill what is buffered (if anything was spilled before), so
        that the merge can be read as many times as wanted (``--strict`` reads twice)."""
        if self._sealed:
            return
        self._sealed = True
        if self.runs and self._buffer:
            self._spill()
        else:
            self._buffer.sort()
        while len(self.runs) > self.max_fanout:
            group, self.runs = self.runs[: self.max_fanout], self.runs[self.max_fanout :]
            self.runs.append(self._write_run(_merge(group)))
            for run in group:
                run.path.unlink()

    def sorted(self) -> Iterator[Record]:
        """Every record added, in order. Can be called again after it is exhausted."""
        self.seal()
        if not self.runs:
            return iter(self._buffer)
        return _merge(self.runs)

    def _spill(self) -> None:
        self._buffer.sort()
        self.runs.append(self._write_run(iter(self._buffer)))
        self._buffer = []
        self._buffered_bytes = 0

    def _write_run(self, records: Iterator[Record]) -> Run:
        path = self.spill_dir / f"run-{self._written:05d}.bin"
        self._written += 1
        first: Record | None = None
        last: Record | None = None
        count = 0
        with path.open("wb") as handle:
            block: list[Record] = []
            for record in records:
                if first is None:
                    first = record
                block.append(record)
                if len(block) >= self.block_records:
                    _write_block(handle, block)
                    count += len(block)
                    last = block[-1]
                    block = []
            if block:
                _write_block(handle, block)
                count += len(block)
                last = block[-1]
        assert first is not None and last is not None, "an empty run is never written"
        return Run(path, first, last, count)


class Run:
    """One sorted run on disk, with its first and last records (to tell overlaps)."""

    __slots__ = ("count", "first", "last", "path")

    def __init__(self, path: Path, first: Record, last: Record, count: int) -> None:
        self.path = path
        self.first = first
        self.last = last
        self.count = count

    def __iter__(self) -> Iterator[Record]:
        with self.path.open("rb") as handle:
            read, decode, unpack = handle.read, _block_decoder.decode, _LENGTH.unpack
            while head := read(4):
                (size,) = unpack(head)
                yield from decode(read(size))


def _write_block(handle: BinaryIO, block: list[Record]) -> None:
    data = _encoder.encode(block)
    handle.write(_LENGTH.pack(len(data)))
    handle.write(data)


def _merge(runs: list[Run]) -> Iterator[Record]:
    """The runs' records in order: chained when each run starts after the one before
    ends (input already in time order needs no heap), else a heap merge."""
    ordered = sorted(runs, key=lambda run: run.first)
    if all(a.last <= b.first for a, b in pairwise(ordered)):
        return chain.from_iterable(ordered)
    return heapq.merge(*ordered)
