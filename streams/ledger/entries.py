"""Entries of the log: what is recorded, its deterministic id, and the canonical bytes.

An entry is a JSON object with sorted keys and no insignificant whitespace
(orjson's ``OPT_SORT_KEYS``: floats in their shortest round-trip form, UTF-8
as is), one per line in the entries file. Its bytes are what the leaf hash
covers, so the same entry always hashes the same, on any machine.

Each entry has an ``id`` derived only from what it records (the finding id and
revision, the delivery record id, the dead letter's source offset, ...). The
log is fed at least once, so the same thing can arrive twice; the writer keeps
the first and drops any later entry with the same id (``LedgerState``).

No personal data goes in: calls and findings arrive already redacted (as
indexed), a dead letter is recorded by the SHA-256 of its original bytes, not
the bytes, and free text is scrubbed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import orjson

from streams.ledger.merkle import Frontier, leaf_hash

Kind = Literal["finding", "delivery", "deadletter", "call", "policy"]
KINDS: Final[tuple[Kind, ...]] = ("finding", "delivery", "deadletter", "call", "policy")
VERSION: Final = 1


def canonical(value: Mapping[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Proposal:
    """Something to record, before the writer gives it a place in the log."""

    kind: Kind
    id: str
    at: str | None  # when it happened (event or alerter time), ISO 8601
    record: dict[str, Any]

    def to_bytes(self) -> bytes:
        return canonical({"kind": self.kind, "id": self.id, "at": self.at, "record": self.record})

    @classmethod
    def from_bytes(cls, raw: bytes) -> Proposal:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
            raise ValueError("not a ledger proposal")
        if not isinstance(doc.get("id"), str) or not isinstance(doc.get("record"), dict):
            raise ValueError("ledger proposal without id or record")
        return cls(doc["kind"], doc["id"], doc.get("at"), doc["record"])


def entry_bytes(index: int, proposal: Proposal) -> bytes:
    """The canonical entry at leaf ``index``: the bytes its leaf hash covers."""
    return canonical(
        {
            "v": VERSION,
            "index": index,
            "id": proposal.id,
            "kind": proposal.kind,
            "at": proposal.at,
            "record": proposal.record,
        }
    )


def parse_entry(raw: bytes) -> dict[str, Any]:
    doc = orjson.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("entry is not a JSON object")
    return doc


# --- what each kind of record becomes -------------------------------------------------


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def finding_proposal(finding: Mapping[str, Any]) -> Proposal:
    """One finding transition (the findings topic has each finding whenever it changes)."""
    rid = f"{finding['finding_id']}#{finding.get('revision')}/{finding.get('transition')}"
    history = finding.get("history") or []
    at = history[-1].get("at") if history else finding.get("violation_at")
    return Proposal("finding", f"finding/{rid}/{finding.get('status')}", at, dict(finding))


def delivery_proposal(record: Mapping[str, Any]) -> Proposal:
    """An alert delivery attempt, acknowledgement or escalation (the deliveries topic)."""
    rid = f"delivery/{record['record_id']}/{record.get('outcome')}"
    return Proposal("delivery", rid, record.get("at"), dict(record))


def deadletter_proposal(
    *,
    stage: str,
    reason: str,
    detail: str,
    original: bytes,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    scrub: Callable[[str], str],
) -> Proposal:
    """A dead letter, by where it came from and the hash of its bytes, never the bytes."""
    place = f"{stage}/{source_topic}/{source_partition}/{source_offset}"
    record = {
        "stage": stage,
        "reason": reason,
        "detail": scrub(detail)[:500],
        "source_topic": source_topic,
        "source_partition": source_partition,
        "source_offset": source_offset,
        "original_sha256": _digest(original),
        "original_bytes": len(original),
    }
    return Proposal("deadletter", f"deadletter/{place}", None, record)


def call_proposal(call: Mapping[str, Any]) -> Proposal | None:
    """The (redacted) picture of an immigration-agency or review call, when it changes."""
    if not (call.get("immigration_agency") or call.get("review")):
        return None
    record = dict(call)
    at = call.get("closed_at") or call.get("first_seen")
    return Proposal("call", f"call/{call['call_id']}/{_digest(canonical(record))[:16]}", at, record)


def policy_proposal(name: str, version: str, source: bytes) -> Proposal:
    """The policy a worker runs; the log records it each time it differs from the last."""
    digest = _digest(source)
    record = {"policy": name, "version": version, "sha256": digest}
    return Proposal("policy", f"policy/{name}/{version}/{digest[:16]}", None, record)


# --- the writer's state ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Appended:
    index: int
    entry: bytes
    leaf: bytes


@dataclass(frozen=True, slots=True)
class AlreadyLogged:
    index: int  # where the first copy is (a policy entry: the policy in force)


class LedgerState:
    """What the one writer needs to append: the frontier and the ids already logged.

    ``append`` gives a proposal the next index unless its id is logged already
    (at-least-once delivery repeats records). A policy proposal is appended when
    it differs from the policy last logged, so a change back is recorded too.
    """

    __slots__ = ("frontier", "ids", "leaves", "policy")

    def __init__(self) -> None:
        self.frontier = Frontier()
        self.leaves = bytearray()  # every leaf hash, 32 bytes each: receipts and proofs
        self.ids: dict[str, int] = {}
        self.policy: tuple[str, int] | None = None  # (id, index) of the policy in force

    @property
    def size(self) -> int:
        return self.frontier.size

    def leaf(self, index: int) -> bytes:
        return bytes(self.leaves[index * 32 : index * 32 + 32])

    def append(self, proposal: Proposal) -> Appended | AlreadyLogged:
        if proposal.kind == "policy":
            if self.policy is not None and self.policy[0] == proposal.id:
                return AlreadyLogged(self.policy[1])
        elif proposal.id in self.ids:
            return AlreadyLogged(self.ids[proposal.id])
        index = self.frontier.size
        entry = entry_bytes(index, proposal)
        leaf = leaf_hash(entry)
        self.restore(index, proposal.id, proposal.kind, leaf)
        return Appended(index, entry, leaf)

    def restore(self, index: int, entry_id: str, kind: str, leaf: bytes) -> None:
        """Take in an entry already in the log (re-opening it, or just appended)."""
        if index != self.frontier.size:
            raise ValueError(f"entry {index} restored at position {self.frontier.size}")
        self.frontier.append(leaf)
        self.leaves += leaf
        if kind == "policy":
            self.policy = (entry_id, index)
        else:
            self.ids.setdefault(entry_id, index)


def receipt(index: int, proposal: Proposal, leaf: bytes) -> dict[str, Any]:
    """The ``PREFIX-ledger`` document: where a record sits in the log, for dashboards."""
    record = proposal.record
    doc: dict[str, Any] = {
        "leaf_index": index,
        "entry_id": proposal.id,
        "kind": proposal.kind,
        "call_id": record.get("call_id"),
        "leaf_hash": leaf.hex(),
        "at": proposal.at,
    }
    if proposal.kind == "finding":
        doc |= {
            "finding_id": record.get("finding_id"),
            "revision": record.get("revision"),
            "status": record.get("status"),
        }
    elif proposal.kind == "delivery":
        doc["record_id"] = record.get("record_id")
        doc["status"] = record.get("outcome")
    elif proposal.kind == "deadletter":
        where = (record["source_topic"], record["source_partition"], record["source_offset"])
        doc["deadletter_id"] = "{}/{}/{}".format(*where)
    return doc
