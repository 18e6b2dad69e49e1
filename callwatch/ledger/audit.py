"""Checking a log directory: signatures, the root, every entry, proofs.

``audit`` answers one question for ``callwatch verify``: does this log match
the signed checkpoint, and if not, which entry is the first to differ? It
reads the files without taking the writer lock (a verifier must not stop the
worker); a torn last line of a write in progress is left out, not reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from callwatch.ledger.signing import signature_problem
from callwatch.ledger.store import ENTRIES, HASH, LATEST, LEAVES, read_checkpoints, split_lines
from streams.ledger.checkpoint import CheckpointError, SignedCheckpoint, parse
from streams.ledger.entries import parse_entry
from streams.ledger.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from streams.ledger.verify import Tamper, leaf_hashes, locate


class AuditError(RuntimeError):
    """The log cannot be checked at all (missing files, unreadable checkpoint)."""


@dataclass
class LogFiles:
    entries: list[bytes]
    stored: list[bytes]  # leaves.sha256
    torn_bytes: int
    kept: list[SignedCheckpoint]

    @classmethod
    def read(cls, directory: Path) -> LogFiles:
        if not (directory / ENTRIES).is_file():
            raise AuditError(f"no ledger in {directory} ({ENTRIES} missing)")
        entries, torn = split_lines((directory / ENTRIES).read_bytes())
        raw = (directory / LEAVES).read_bytes() if (directory / LEAVES).exists() else b""
        stored = [raw[i : i + HASH] for i in range(0, len(raw) - len(raw) % HASH, HASH)]
        try:
            kept = read_checkpoints(directory)
        except RuntimeError as exc:
            raise AuditError(str(exc)) from None
        return cls(entries, stored, torn, kept)


@dataclass
class Audit:
    checkpoint: SignedCheckpoint
    entries: int
    problems: list[str] = field(default_factory=list)
    tamper: Tamper | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def load_checkpoint(path: Path) -> SignedCheckpoint:
    try:
        return parse(path.read_text())
    except OSError as exc:
        raise AuditError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except (CheckpointError, UnicodeDecodeError) as exc:
        raise AuditError(f"{path}: {exc}") from None


def latest_checkpoint(directory: Path) -> SignedCheckpoint:
    if not (directory / LATEST).exists():
        raise AuditError(f"no checkpoint in {directory} yet ({LATEST} missing)")
    return load_checkpoint(directory / LATEST)


def _root(hashes: Sequence[bytes], size: int) -> bytes:
    return Frontier.of(hashes[:size]).root()


def audit(files: LogFiles, checkpoint: SignedCheckpoint, public: Ed25519PublicKey) -> Audit:
    result = Audit(checkpoint, len(files.entries))
    cp = checkpoint.checkpoint
    problem = signature_problem(checkpoint, public)
    if problem:
        result.problems.append(f"checkpoint at size {cp.size}: {problem}")
        return result
    if files.torn_bytes:
        result.notes.append(f"a last entry being written ({files.torn_bytes} bytes) left out")
    recomputed = leaf_hashes(files.entries)
    stored_ok = len(files.stored) >= cp.size and _root(files.stored, cp.size) == cp.root
    if stored_ok:
        # The stored hashes are the signed ones: compare every entry with them.
        result.tamper = locate(files.entries, files.stored)
    elif len(recomputed) >= cp.size and _root(recomputed, cp.size) == cp.root:
        result.problems.append(f"{LEAVES} was changed: it no longer reproduces the signed root")
        result.tamper = locate(files.entries, recomputed)  # entries are fine; check the rest
    else:
        result.problems.append(
            f"the log does not reproduce the signed root at size {cp.size}"
            + (f" (it has {len(recomputed)} entries)" if len(recomputed) < cp.size else "")
        )
        result.tamper = _bound(files, recomputed, public) or _by_index(files.entries)
    if result.tamper is not None:
        result.problems.insert(0, result.tamper.message())
    if not result.problems:
        result.problems.extend(_chain(files.kept, files.stored, public))
    return result


def _by_index(entries: Sequence[bytes]) -> Tamper | None:
    """Without authentic hashes, an entry whose own index is out of place still shows."""
    for i, line in enumerate(entries):
        try:
            index = parse_entry(line).get("index")
        except ValueError:
            return Tamper("changed", i, "it is not a ledger entry")
        if index != i:
            if isinstance(index, int) and index < i:
                return Tamper("inserted", i, f"it says it is entry {index}")
            return Tamper("removed", i, f"it says it is entry {index}")
    return None


def _bound(files: LogFiles, recomputed: Sequence[bytes], public: Ed25519PublicKey) -> Tamper | None:
    """The hashes were rewritten too: the first kept checkpoint that fails bounds the change."""
    previous = 0
    for signed in files.kept:
        cp = signed.checkpoint
        if signature_problem(signed, public) is not None or cp.size > len(recomputed):
            continue
        if _root(recomputed, cp.size) != cp.root:
            indexed = _by_index(files.entries[: cp.size])
            if indexed is not None:
                return indexed
            return Tamper(
                "changed",
                previous,
                f"an entry from {previous} to {cp.size - 1} differs (the checkpoint at "
                f"{previous} still matches, the one at {cp.size} does not)",
            )
        previous = cp.size
    return None


def _chain(
    kept: Sequence[SignedCheckpoint], hashes: Sequence[bytes], public: Ed25519PublicKey
) -> list[str]:
    """Every kept checkpoint is signed and consistent with the next (RFC 9162 proofs)."""
    problems = []
    for signed in kept:
        problem = signature_problem(signed, public)
        if problem:
            problems.append(f"kept checkpoint at size {signed.checkpoint.size}: {problem}")
    for old, new in pairwise(kept):
        a, b = old.checkpoint, new.checkpoint
        if b.size > len(hashes):
            problems.append(f"checkpoint at size {b.size} is beyond the log ({len(hashes)})")
            continue
        proof = consistency_proof(hashes, a.size, b.size)
        if not verify_consistency(a.size, b.size, a.root, b.root, proof):
            problems.append(f"checkpoints at sizes {a.size} and {b.size} are not consistent")
    return problems


def prove_inclusion(
    files: LogFiles, checkpoint: SignedCheckpoint, index: int
) -> tuple[bool, list[bytes]]:
    cp = checkpoint.checkpoint
    if not 0 <= index < cp.size:
        raise AuditError(f"entry {index} is not in the checkpointed tree of {cp.size}")
    proof = inclusion_proof(files.stored, index, cp.size)
    leaf = leaf_hashes([files.entries[index]])[0]
    return verify_inclusion(index, cp.size, leaf, proof, cp.root), proof


def prove_consistency(
    files: LogFiles, old: SignedCheckpoint, new: SignedCheckpoint
) -> tuple[bool, list[bytes]]:
    a, b = old.checkpoint, new.checkpoint
    if a.size > b.size or b.size > len(files.stored):
        return False, []
    proof = consistency_proof(files.stored, a.size, b.size)
    return verify_consistency(a.size, b.size, a.root, b.root, proof), proof


def find_entry(files: LogFiles, entry_id: str) -> int:
    for i, line in enumerate(files.entries):
        if parse_entry(line).get("id") == entry_id:
            return i
    raise AuditError(f"no entry with id {entry_id!r}")
