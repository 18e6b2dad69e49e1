"""The log on disk: append-only files, crash-safe, one writer at a time.

A log directory holds::

    entries.jsonl        one canonical entry per line (streams.ledger.entries)
    leaves.sha256        the 32-byte leaf hash of each entry, in order
    checkpoints/         every signed checkpoint, named by tree size
    checkpoint.txt       the latest signed checkpoint (what gets published)
    writer.lock          flock'ed by the one process appending

Appends go in batches: the entries, then their hashes, then ``fsync`` of both;
the writer acknowledges its Kafka input only after that, so whatever Kafka
re-delivers after a crash is either in the log (and dropped as a repeat, by id)
or not (and appended). A kill mid-append can leave a *torn* last line, or fewer
or more hashes than entries. ``LedgerStore.open`` repairs exactly those cases
and says so in the log (never silently): a torn line is cut off (its record was
never acknowledged, so Kafka delivers it again), a missing hash is recomputed
from its complete entry, a hash without an entry is dropped. Anything else (a
complete line that is not an entry, an entry whose hash differs, an index out of
place, a log that no longer matches its latest checkpoint) is not a crash but a
change to the log: the writer refuses to extend it, and ``callwatch verify``
says where it is.

The lock is an ``flock`` on ``writer.lock``: on one host (or a file system with
working locks) a second writer waits until the first has let go or died, so
two workers handing the ledger partition over between them can never
interleave appends. The kernel releases the lock of a killed process.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from streams.ledger.checkpoint import Checkpoint, CheckpointError, SignedCheckpoint, parse
from streams.ledger.entries import Appended, LedgerState, Proposal, parse_entry
from streams.ledger.merkle import leaf_hash

log = logging.getLogger("callwatch.ledger")

ENTRIES: Final = "entries.jsonl"
LEAVES: Final = "leaves.sha256"
CHECKPOINTS: Final = "checkpoints"
LATEST: Final = "checkpoint.txt"
LOCK: Final = "writer.lock"
HASH: Final = 32


class LedgerCorrupt(RuntimeError):
    """The log was changed (not merely cut short by a crash): it must not be extended."""


class LedgerBusy(RuntimeError):
    """Another process holds the writer lock."""


@dataclass
class Recovery:
    """What opening the log had to repair after a crash (all zero: a clean shutdown)."""

    torn_bytes: int = 0
    hashes_recomputed: int = 0
    hashes_dropped: int = 0

    def __bool__(self) -> bool:
        return bool(self.torn_bytes or self.hashes_recomputed or self.hashes_dropped)


@dataclass(frozen=True)
class Added:
    proposal: Proposal
    index: int
    new: bool  # False: the same id was already logged (a repeat), at ``index``


def split_lines(data: bytes) -> tuple[list[bytes], int]:
    """Complete lines, and the length of a trailing incomplete one (a torn write)."""
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1] if end else []
    return lines, len(data) - end


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_checkpoints(directory: Path) -> list[SignedCheckpoint]:
    """Every checkpoint kept in ``checkpoints/``, smallest tree first."""
    folder = directory / CHECKPOINTS
    found = []
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        try:
            found.append(parse(path.read_text()))
        except (CheckpointError, UnicodeDecodeError) as exc:
            raise LedgerCorrupt(f"{path}: {exc}") from None
    return sorted(found, key=lambda s: (s.checkpoint.size, s.checkpoint.time_ms))


class LedgerStore:
    def __init__(self, directory: Path, lock: BinaryIO) -> None:
        self.directory = directory
        self._lock = lock
        self.state = LedgerState()
        self.recovery = Recovery()
        self.latest: SignedCheckpoint | None = None
        self._entries: BinaryIO | None = None
        self._leaves: BinaryIO | None = None
        self._lines: list[bytes] = []
        self._hashes: list[bytes] = []

    # --- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path) -> LedgerStore:
        """Take the writer lock (or raise ``LedgerBusy``), then load and repair the log."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / CHECKPOINTS).mkdir(exist_ok=True)
        lock = (directory / LOCK).open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise LedgerBusy(f"another process is writing the ledger in {directory}") from None
        store = cls(directory, lock)
        try:
            store._load()
        except BaseException:
            store.close()
            raise
        return store

    def _load(self) -> None:
        entries_path, leaves_path = self.directory / ENTRIES, self.directory / LEAVES
        data = entries_path.read_bytes() if entries_path.exists() else b""
        lines, torn = split_lines(data)
        if torn:
            with entries_path.open("r+b") as f:
                f.truncate(len(data) - torn)
                os.fsync(f.fileno())
            self.recovery.torn_bytes = torn
            log.warning(
                "ledger: cut off a torn last entry (%d bytes) left by a crash mid-append; "
                "its record was never acknowledged and is read again from Kafka",
                torn,
            )
        hashes = leaves_path.read_bytes() if leaves_path.exists() else b""
        stored = [hashes[i : i + HASH] for i in range(0, len(hashes) - len(hashes) % HASH, HASH)]
        if len(hashes) % HASH or len(stored) > len(lines):
            keep = min(len(stored), len(lines))
            self.recovery.hashes_dropped = len(hashes) // HASH - keep + (len(hashes) % HASH > 0)
            stored = stored[:keep]
            with leaves_path.open("r+b" if leaves_path.exists() else "wb") as f:
                f.truncate(keep * HASH)
                os.fsync(f.fileno())
            log.warning("ledger: dropped hashes of entries a crash did not write")
        missing = lines[len(stored) :]
        self.recovery.hashes_recomputed = len(missing)
        checkpoints = read_checkpoints(self.directory)
        self.latest = checkpoints[-1] if checkpoints else None
        want = self.latest.checkpoint if self.latest else None
        for index, line in enumerate(lines):
            leaf = leaf_hash(line)
            if index < len(stored) and stored[index] != leaf:
                raise LedgerCorrupt(
                    f"entry {index} does not match its recorded hash; run `callwatch verify`"
                )
            try:
                entry = parse_entry(line)
            except ValueError:
                raise LedgerCorrupt(f"entry {index} is not a ledger entry") from None
            if entry.get("index") != index:
                raise LedgerCorrupt(f"entry {index} says it is entry {entry.get('index')}")
            self.state.restore(index, str(entry["id"]), str(entry["kind"]), leaf)
            if want is not None and self.state.size == want.size and self.root() != want.root:
                raise LedgerCorrupt(f"the log no longer matches its checkpoint at size {want.size}")
        if want is not None and self.state.size < want.size:
            raise LedgerCorrupt(
                f"the log has {self.state.size} entries but was checkpointed at {want.size}"
            )
        if missing:
            with leaves_path.open("ab") as f:
                f.write(b"".join(leaf_hash(line) for line in missing))
                os.fsync(f.fileno())
            log.warning(
                "ledger: recomputed the hashes of %d complete entries a crash left unhashed",
                len(missing),
            )
        self._entries = entries_path.open("ab")
        self._leaves = leaves_path.open("ab")

    # --- appending ----------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.state.size

    def root(self) -> bytes:
        return self.state.frontier.root()

    def append(self, proposals: Iterable[Proposal]) -> list[Added]:
        """Give each proposal its place (or find it logged); durable only after ``commit``."""
        added = []
        for proposal in proposals:
            outcome = self.state.append(proposal)
            if isinstance(outcome, Appended):
                self._lines.append(outcome.entry + b"\n")
                self._hashes.append(outcome.leaf)
                added.append(Added(proposal, outcome.index, True))
            else:
                added.append(Added(proposal, outcome.index, False))
        return added

    def commit(self) -> None:
        """Write what ``append`` took, entries before hashes, and fsync both."""
        if not self._lines:
            return
        assert self._entries is not None and self._leaves is not None, "ledger closed"
        self._entries.write(b"".join(self._lines))
        self._entries.flush()
        os.fsync(self._entries.fileno())
        self._leaves.write(b"".join(self._hashes))
        self._leaves.flush()
        os.fsync(self._leaves.fileno())
        self._lines.clear()
        self._hashes.clear()

    def checkpoint(
        self, sign: Callable[[Checkpoint], SignedCheckpoint], origin: str, time_ms: int
    ) -> SignedCheckpoint:
        """Sign the committed tree and keep the checkpoint (atomically: tmp file, rename)."""
        self.commit()
        signed = sign(Checkpoint(origin, self.size, self.root(), time_ms))
        text = signed.text().encode()
        _write_atomically(self.directory / CHECKPOINTS / f"{self.size:012d}.txt", text)
        _write_atomically(self.directory / LATEST, text)
        self.latest = signed
        return signed

    def close(self) -> None:
        for handle in (self._entries, self._leaves):
            if handle is not None:
                handle.close()
        self._entries = self._leaves = None
        if not self._lock.closed:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
