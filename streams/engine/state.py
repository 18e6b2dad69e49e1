"""Per-call state and the pure transition function that drives it.

``Engine.apply(state, event, now)`` and ``Engine.tick(state, now)`` return the
next state and what changed. Nothing here knows about Kafka or Faust: the live
agent keeps states in a changelog-backed table, the offline checker in a dict,
and both call these two functions, so replaying history gives exactly what live
processing gave.

Times are event time in epoch milliseconds. ``now`` is supplied by the caller's
clock (the stream's watermark when replaying, the wall clock when live).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

import msgspec

from schemas.events import CallClosed, CallReceived, CallUpdated, DispatchEvent
from streams.engine.capabilities import declared
from streams.engine.facts import Fact, fact_from_event
from streams.engine.policy import BoundRule, Policy
from streams.engine.rules import RULES, Context, Verdict

HOUR: Final = 3_600_000
DAY: Final = 24 * HOUR

# needs_records: the rule could not be judged (its outcome is not_assessable); the
# call waits in the review queue for records, and no supervisor is alerted.
FindingStatus = Literal["open", "resolved", "retracted", "needs_records"]
Transition = Literal["opened", "resolved", "retracted", "reopened", "updated", "needs_records"]
Outcome = Literal["broken", "not_assessable"]


class Originator(msgspec.Struct, frozen=True, array_like=True, omit_defaults=True):
    """The classifier's decision about who originated the call (the strongest seen)."""

    immigration_agency: bool = False
    agency: str | None = None
    confidence: float = 0.0
    review: bool = False
    evidence: tuple[str, ...] = ()


class HistoryEntry(msgspec.Struct, frozen=True, array_like=True):
    transition: Transition
    at: int
    detail: str


class FindingState(msgspec.Struct, array_like=True):
    status: FindingStatus
    violation_at: int  # not_assessable: when the rule could have been judged
    resolved_at: int | None
    detail: str
    evidence: tuple[str, ...]
    history: list[HistoryEntry]
    # Trailing, with defaults: states written before outcomes existed still load.
    outcome: Outcome = "broken"
    missing: str | None = None  # not_assessable: the fact that is missing


class CallState(msgspec.Struct, omit_defaults=True):
    call_id: str
    facts: list[Fact] = []
    originator: Originator = Originator()
    findings: dict[str, FindingState] = {}
    due_at: int | None = None  # earliest absence deadline still pending
    closed_at: int | None = None
    evict_at: int | None = None
    tombstone: bool = False  # evicted: only kept to recognise late events for it
    first_seen: int | None = None


@dataclass(frozen=True, slots=True)
class FindingChange:
    call_id: str
    rule: BoundRule
    transition: Transition
    finding: FindingState
    originator: Originator
    previous: FindingStatus | None = None  # the finding's status before this change
    provides: tuple[str, ...] | None = None  # the kinds the call's source declared


@dataclass(slots=True)
class Step:
    state: CallState | None  # None: delete the call's state
    changes: list[FindingChange] = field(default_factory=list)
    duplicate: bool = False  # the event had been applied before
    late: bool = False  # the event arrived after the call's state was evicted
    # the call was just recognised as from an immigration agency, or queued for review
    newly_flagged: Literal["immigration", "review"] | None = None


Classifier = Callable[[CallReceived | CallUpdated], Originator]

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(CallState)


def dump_state(state: CallState) -> bytes:
    return _encoder.encode(state)


def load_state(raw: bytes) -> CallState:
    return _decoder.decode(raw)


class Engine:
    """Applies events and the passage of time to one call's state."""

    def __init__(
        self,
        policy: Policy,
        classify: Classifier,
        retain_after_close_ms: int = DAY,
        tombstone_ms: int = 7 * DAY,
    ) -> None:
        self.policy = policy
        self.classify = classify
        self.retain_after_close_ms = retain_after_close_ms
        self.tombstone_ms = tombstone_ms
        self._ctx = Context(commanding_ranks=policy.commanding_ranks)
        phrases: tuple[str, ...] = ()
        for bound in policy.rules:
            phrases += tuple(getattr(bound.params, "not_in_trouble_phrases", ()))
        self._phrases = tuple(p.casefold() for p in phrases)

    # ------------------------------------------------------------------ events

    def apply(self, state: CallState | None, event: DispatchEvent, now: int) -> Step:
        if state is None:
            state = CallState(call_id=event.call_id)
        if state.tombstone:
            return Step(state, late=True)
        fact = fact_from_event(event, self._phrases)
        facts = state.facts
        event_id = fact.event_id
        for seen in facts:  # a plain loop: any() over a generator costs twice as much
            if seen.event_id == event_id:
                return Step(state, duplicate=True)
        # Keep facts in event-time order whatever order they arrived in; most arrive in
        # order, so check the end before bisecting.
        if not facts or (facts[-1].t, facts[-1].event_id) <= (fact.t, event_id):
            facts.append(fact)
        else:
            bisect.insort(facts, fact, key=_fact_order)
        if state.first_seen is None or fact.t < state.first_seen:
            state.first_seen = fact.t
        if isinstance(event, CallClosed):
            state.closed_at = max(state.closed_at or 0, fact.t)
        before = state.originator
        if isinstance(event, CallReceived | CallUpdated):
            state.originator = _stronger(before, self.classify(event))
        step = self._evaluate(state, now)
        after = state.originator
        if after.immigration_agency and not before.immigration_agency:
            step.newly_flagged = "immigration"
        elif after.review and not before.review and not after.immigration_agency:
            step.newly_flagged = "review"
        return step

    # -------------------------------------------------------------------- time

    def tick(self, state: CallState, now: int) -> Step:
        """Let time pass: fire due deadlines, evict closed calls after retention."""
        if state.evict_at is not None and now >= state.evict_at:
            if state.tombstone:
                return Step(None)
            if state.due_at is None or now >= state.due_at:
                step = self._evaluate(state, now)  # fire anything due first
                tomb = CallState(
                    call_id=state.call_id,
                    originator=state.originator,
                    closed_at=state.closed_at,
                    tombstone=True,
                    evict_at=now + self.tombstone_ms,
                )
                return Step(tomb, changes=step.changes)
        return self._evaluate(state, now)

    def next_wakeup(self, state: CallState) -> int | None:
        due, evict = state.due_at, state.evict_at
        if due is None:
            return evict
        return due if evict is None or due <= evict else evict

    # -------------------------------------------------------------- evaluation

    def _evaluate(self, state: CallState, now: int) -> Step:
        step = Step(state)
        state.due_at = None
        if state.originator.immigration_agency and state.facts:
            for bound in self.policy.rules:
                verdict = RULES[bound.id].evaluate(state.facts, bound.params, self._ctx, now)
                if verdict.status == "pending" and verdict.due_at is not None:
                    due = verdict.due_at
                    state.due_at = due if state.due_at is None else min(state.due_at, due)
                change = _transition(state, bound, verdict, now)
                if change is not None:
                    step.changes.append(change)
        if state.closed_at is not None:
            state.evict_at = max(state.closed_at + self.retain_after_close_ms, state.due_at or 0)
        return step


def _fact_order(fact: Fact) -> tuple[int, str]:
    return (fact.t, fact.event_id)


def _stronger(current: Originator, new: Originator) -> Originator:
    """Once a call is known to come from an immigration agency, it stays so."""
    if current.immigration_agency and not new.immigration_agency:
        return current
    if new.immigration_agency and not current.immigration_agency:
        return new
    if new.review and not current.review and not current.immigration_agency:
        return new
    return new if new.confidence > current.confidence else current


def _transition(
    state: CallState, bound: BoundRule, verdict: Verdict, now: int
) -> FindingChange | None:
    """Move one rule's finding to match its verdict; return the change, if any."""
    existing = state.findings.get(bound.id)
    previous = existing.status if existing is not None else None
    provides = declared(state.facts)
    if verdict.status in ("violation", "not_assessable"):
        assert verdict.violation_at is not None
        outcome: Outcome = "broken" if verdict.status == "violation" else "not_assessable"
        status: FindingStatus
        if outcome == "not_assessable":
            status = "needs_records"
        else:
            status = "resolved" if verdict.resolved_at is not None else "open"
        first: Transition = "opened" if outcome == "broken" else "needs_records"
        if existing is None:
            finding = FindingState(
                status,
                verdict.violation_at,
                verdict.resolved_at,
                verdict.detail,
                verdict.evidence,
                [HistoryEntry(first, verdict.violation_at, verdict.detail)],
                outcome,
                verdict.missing,
            )
            if status == "resolved":
                assert verdict.resolved_at is not None
                finding.history.append(
                    HistoryEntry("resolved", verdict.resolved_at, verdict.detail)
                )
            state.findings[bound.id] = finding
            return FindingChange(
                state.call_id, bound, first, finding, state.originator, None, provides
            )
        same = (
            existing.status == status
            and existing.resolved_at == verdict.resolved_at
            and existing.evidence == verdict.evidence
            and existing.detail == verdict.detail
            and existing.missing == verdict.missing
        )
        if same:
            return None
        transition: Transition
        if outcome == "not_assessable":
            transition = "updated" if existing.status == "needs_records" else "needs_records"
        elif existing.status == "needs_records":
            transition = "opened"  # records came and show the rule broken: now alert
        elif existing.status == "retracted":
            transition = "reopened"
        elif status == "resolved" and existing.status == "open":
            transition = "resolved"
        else:
            transition = "updated"
        at = (
            verdict.resolved_at
            if transition == "resolved" and verdict.resolved_at
            else (verdict.violation_at)
        )
        existing.status = status
        existing.violation_at = verdict.violation_at
        existing.resolved_at = verdict.resolved_at
        existing.detail = verdict.detail
        existing.evidence = verdict.evidence
        existing.outcome = outcome
        existing.missing = verdict.missing
        existing.history.append(HistoryEntry(transition, at, verdict.detail))
        return FindingChange(state.call_id, bound, transition, existing, state.originator, previous)
    # compliant, pending or not applicable: a finding on record was shown wrong by late facts
    if existing is not None and existing.status != "retracted":
        existing.status = "retracted"
        existing.history.append(
            HistoryEntry("retracted", now, "later events showed the rule was met")
        )
        return FindingChange(
            state.call_id, bound, "retracted", existing, state.originator, previous, provides
        )
    return None
