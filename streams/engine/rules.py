"""The rule registry: one small, pure evaluation per policy rule.

A rule looks at all facts of one call (sorted by event time) and the current
time, and returns a ``Verdict``. Because a verdict depends only on the set of
facts and the time -- never on the order they arrived in -- late, duplicate and
out-of-order events give the same findings as in-order delivery.

Adding a rule: write a class with a ``Params`` struct and ``evaluate``, register
it in ``RULES``, and name it in the policy YAML.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

import msgspec

from streams.engine.facts import Fact

MINUTE: Final = 60_000
HOUR: Final = 60 * MINUTE

VerdictStatus = Literal["not_applicable", "compliant", "pending", "violation"]


@dataclass(frozen=True, slots=True)
class Verdict:
    status: VerdictStatus
    # violation: when it began (event time, ms); resolved_at when later cured
    violation_at: int | None = None
    resolved_at: int | None = None
    # pending: when it becomes a violation if nothing changes (an absence deadline)
    due_at: int | None = None
    evidence: tuple[str, ...] = ()
    detail: str = ""


NOT_APPLICABLE: Final = Verdict("not_applicable")
COMPLIANT: Final = Verdict("compliant")


@dataclass(frozen=True, slots=True)
class Context:
    commanding_ranks: frozenset[str]
    # Ordinary words for the supervisor reading an alert; filled by the engine.
    extra: dict[str, str] = field(default_factory=dict)


Facts = Sequence[Fact]


class Rule(ABC):
    Params: ClassVar[type[msgspec.Struct]]

    @abstractmethod
    def evaluate(self, facts: Facts, params: msgspec.Struct, ctx: Context, now: int) -> Verdict:
        """Judge one call's facts at time ``now`` with this rule's typed params."""


# ----------------------------------------------------------------------- helpers


def _first(facts: Sequence[Fact], *types: str) -> Fact | None:
    for fact in facts:
        if fact.type in types:
            return fact
    return None


def _received_at(facts: Sequence[Fact]) -> int:
    received = _first(facts, "call.received")
    return received.t if received is not None else facts[0].t


def _is_commander(fact: Fact, ctx: Context) -> bool:
    return fact.rank in ctx.commanding_ranks or fact.role == "commander"


def _department_dispatch(facts: Sequence[Fact]) -> Fact | None:
    for fact in facts:
        if fact.type == "unit.dispatched" and fact.role != "federal":
            return fact
    return None


def _absence(
    start: int, deadline: int, found: Fact | None, now: int, evidence: tuple[str, ...], what: str
) -> Verdict:
    """Something must happen by ``start + deadline``: compliant, pending, or late/missing."""
    due = start + deadline
    if found is not None and found.t <= due:
        return COMPLIANT
    if found is not None:
        return Verdict(
            "violation",
            violation_at=due,
            resolved_at=found.t,
            evidence=(*evidence, found.event_id),
            detail=f"{what} {(found.t - start) // 1000}s after the start, past the deadline",
        )
    if now < due:
        return Verdict("pending", due_at=due, evidence=evidence)
    return Verdict("violation", violation_at=due, evidence=evidence, detail=f"no {what}")


# ------------------------------------------------------------------------- rules


class CommanderNotified(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        deadline_minutes: float = 10

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        start = _received_at(facts)
        commander = next(
            (f for f in facts if f.type.startswith("commander.") and _is_commander(f, ctx)), None
        )
        dispatch = _department_dispatch(facts)
        first_evidence = tuple(f.event_id for f in facts[:1])
        if dispatch is not None and (commander is None or commander.t > dispatch.t):
            return Verdict(
                "violation",
                violation_at=dispatch.t,
                resolved_at=commander.t if commander is not None else None,
                evidence=(*first_evidence, dispatch.event_id)
                + ((commander.event_id,) if commander is not None else ()),
                detail="units were dispatched before a commanding officer was notified",
            )
        return _absence(
            start,
            int(params.deadline_minutes * MINUTE),
            commander,
            now,
            first_evidence,
            "commanding officer notified",
        )


class CommanderOnScene(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        grace_minutes: float = 10

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        arrivals = [f for f in facts if f.type == "unit.on_scene" and f.role != "federal"]
        officers = [f for f in arrivals if not _is_commander(f, ctx)]
        if not officers:
            return NOT_APPLICABLE
        commander = next((f for f in arrivals if _is_commander(f, ctx)), None)
        return _absence(
            officers[0].t,
            int(params.grace_minutes * MINUTE),
            commander,
            now,
            (officers[0].event_id,),
            "commanding officer on scene",
        )


class CallRecorded(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        unrecorded_line_kinds: frozenset[str] = frozenset({"cell", "offline"})

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        bad: list[Fact] = []
        reasons: list[str] = []
        for fact in facts:
            if fact.type in ("call.received", "callback.requested") and (
                fact.recorded is False or fact.detail in params.unrecorded_line_kinds
            ):
                bad.append(fact)
                where = "call came in" if fact.type == "call.received" else "call-back requested"
                reasons.append(f"{where} on an unrecorded line ({fact.detail})")
            elif fact.type == "recording.failed":
                bad.append(fact)
                reasons.append("recording failed")
        if not bad:
            return COMPLIANT
        return Verdict(
            "violation",
            violation_at=bad[0].t,
            evidence=tuple(f.event_id for f in bad),
            detail="; ".join(dict.fromkeys(reasons)),
        )


class LawfulBasis(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        lawful_bases: frozenset[str] = frozenset(
            {"criminal_warrant", "crime_occurred", "emergency"}
        )

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        dispatch = _department_dispatch(facts)
        if dispatch is None:
            return NOT_APPLICABLE
        bases = [f for f in facts if f.type == "basis.recorded" and f.t <= dispatch.t]
        if bases and bases[-1].detail in params.lawful_bases:
            return COMPLIANT
        basis = bases[-1].detail if bases else "none recorded"
        return Verdict(
            "violation",
            violation_at=dispatch.t,
            evidence=(dispatch.event_id, *(f.event_id for f in bases)),
            detail=f"units dispatched with basis: {basis}",
        )


class BodycamContinuous(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        activation_grace_seconds: float = 60

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        grace = int(params.activation_grace_seconds * 1000)
        closed = _first(facts, "call.closed")
        units = dict.fromkeys(
            f.unit for f in facts if f.type == "unit.on_scene" and f.role != "federal" and f.unit
        )
        if not units:
            return NOT_APPLICABLE
        problems: list[tuple[Fact, str]] = []
        pending = False
        for unit in units:
            mine = [f for f in facts if f.unit == unit]
            arrival = next(f for f in mine if f.type == "unit.on_scene")
            cleared = [f for f in mine if f.type == "unit.cleared"]
            end = cleared[-1].t if cleared else (closed.t if closed is not None else None)
            if end is None:
                pending = True
                continue
            problem = _camera_gap(mine, arrival.t, grace, end)
            if problem is not None:
                problems.append((arrival, f"unit {unit}: {problem}"))
        if problems:
            return Verdict(
                "violation",
                violation_at=min(f.t for f, _ in problems),
                evidence=tuple(f.event_id for f, _ in problems),
                detail="; ".join(reason for _, reason in problems),
            )
        return Verdict("pending") if pending else COMPLIANT


def _camera_gap(unit_facts: Sequence[Fact], arrival: int, grace: int, end: int) -> str | None:
    """Was the camera on from arrival (within the grace) until the unit cleared?"""
    if not any(f.type == "bodycam.activated" and f.t <= arrival + grace for f in unit_facts):
        return "camera not activated on arrival"
    for fact in unit_facts:
        # Switching off at or after clearing is normal; before it, the investigation's pattern.
        if fact.type == "bodycam.deactivated" and arrival <= fact.t < end:
            return "camera switched off before the unit cleared"
    return None


class ReportFiled(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        deadline_hours: float = 8

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        dispatch = _first(facts, "unit.dispatched")
        closed = _first(facts, "call.closed")
        if dispatch is None or closed is None:
            return NOT_APPLICABLE
        report = _first(facts, "report.filed")
        return _absence(
            closed.t,
            int(params.deadline_hours * HOUR),
            report,
            now,
            (closed.event_id,),
            "report filed",
        )


class CodingConsistent(Rule):
    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        trouble_call_types: tuple[str, ...] = ("TROUBLE",)
        not_in_trouble_phrases: tuple[str, ...] = ("not in trouble",)

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        coded = [f for f in facts if f.call_type]
        if not coded:
            return NOT_APPLICABLE
        current = coded[-1]
        call_type = (current.call_type or "").upper()
        if not any(t.upper() in call_type for t in params.trouble_call_types):
            return COMPLIANT
        saying = [f for f in facts if f.not_in_trouble]
        if not saying:
            return COMPLIANT
        return Verdict(
            "violation",
            violation_at=max(current.t, saying[0].t),
            evidence=(current.event_id, *(f.event_id for f in saying)),
            detail=f"coded {current.call_type!r} but the caller said they were not in trouble",
        )


RULES: Final[dict[str, Rule]] = {
    "commander-notified": CommanderNotified(),
    "commander-on-scene": CommanderOnScene(),
    "call-recorded": CallRecorded(),
    "lawful-basis": LawfulBasis(),
    "bodycam-continuous": BodycamContinuous(),
    "report-filed": ReportFiled(),
    "coding-consistent": CodingConsistent(),
}
