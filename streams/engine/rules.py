"""The rule registry: one small, pure evaluation per policy rule.

A rule looks at all facts of one call (sorted by event time) and the current
time, and returns a ``Verdict``. Because a verdict depends only on the set of
facts and the time -- never on the order they arrived in -- late, duplicate and
out-of-order events give the same findings as in-order delivery.

Outcomes are three-valued: met (``compliant``), broken (``violation``: only on
evidence) and ``not_assessable`` (the facts the rule needs are not there: the
source cannot report them, or did not for this unit). Each rule names the kinds
of fact it ``needs`` (``schemas.events.FactKind``); "not assessable" carries the
missing kind and the reason, and is decided once the call has closed (records
trail the call) unless the source declared it cannot report the kind at all.

Adding a rule: write a class with a ``Params`` struct and ``evaluate``, register
it in ``RULES``, and name it in the policy YAML.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final, Literal

import msgspec

from schemas.events import FactKind, UnitRole
from streams.engine.capabilities import unprovided
from streams.engine.facts import Fact

MINUTE: Final = 60_000
HOUR: Final = 60 * MINUTE

VerdictStatus = Literal["not_applicable", "compliant", "pending", "violation", "not_assessable"]


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
    # not_assessable: the fact that is missing (a FactKind, or e.g. "commander_rank")
    missing: str | None = None


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
    # The kinds of fact the rule cannot be judged without.
    needs: ClassVar[tuple[FactKind, ...]] = ()

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


def _closed_at(facts: Sequence[Fact]) -> int | None:
    closed = _first(facts, "call.closed")
    return closed.t if closed is not None else None


def _is_commander(fact: Fact, ctx: Context) -> bool:
    return fact.rank in ctx.commanding_ranks or fact.role == "commander"


def _rank_unknown(fact: Fact) -> bool:
    return fact.rank in (None, "unknown") and fact.role != "commander"


def _unit_role(fact: Fact, ctx: Context) -> str:
    """The role a policy's ``roles`` lists match: a commanding officer is a commander
    whatever unit they drive."""
    return "commander" if _is_commander(fact, ctx) else (fact.role or "patrol")


def _department_dispatch(facts: Sequence[Fact]) -> Fact | None:
    for fact in facts:
        if fact.type == "unit.dispatched" and fact.role != "federal":
            return fact
    return None


def _after(start: int, fact: Fact) -> str:
    return f"{max(0, fact.t - start) // MINUTE} min after the call came in"


def _not_assessable(at: int, missing: str, detail: str, evidence: tuple[str, ...]) -> Verdict:
    return Verdict(
        "not_assessable", violation_at=at, missing=missing, detail=detail, evidence=evidence
    )


def _unreported(facts: Sequence[Fact], kinds: tuple[FactKind, ...], what: str) -> Verdict | None:
    """Not assessable when the source declared it cannot report one of ``kinds``."""
    kind = unprovided(facts, kinds)
    if kind is None:
        return None
    detail = f"the source reports no {kind} records: {what} cannot be judged"
    return _not_assessable(_received_at(facts), kind, detail, tuple(f.event_id for f in facts[:1]))


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

# A commanding officer has *taken* the call (C2: "handles"): accepted it
# (commander.assigned) or decided on it (commander.declined: no help is appropriate).
# A notification is only MetroSafe's half of the step, and a commanding officer's unit
# dispatched alongside the others has not decided anything.
_TAKES: Final = frozenset({"commander.assigned", "commander.declined"})


class CommanderNotified(Rule):
    """C2: a commanding officer takes the call within the deadline, before any unit goes.

    The id stays ``commander-notified`` (alert dedup keys, acks and dashboards name
    it); what it checks is that a commanding officer *handled* the call. Notified,
    assigned and on scene are distinct facts, and the finding names the step missing.
    """

    needs = ("commander",)

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        deadline_minutes: float = 10

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        start = _received_at(facts)
        due = start + int(params.deadline_minutes * MINUTE)
        first_evidence = tuple(f.event_id for f in facts[:1])
        took = next((f for f in facts if f.type in _TAKES and _is_commander(f, ctx)), None)
        maybe = next((f for f in facts if f.type in _TAKES and _rank_unknown(f)), None)
        # Units other than the commanding officer's own: sent before anyone took the call?
        dispatch = next(
            (
                f
                for f in facts
                if f.type == "unit.dispatched" and f.role != "federal" and not _is_commander(f, ctx)
            ),
            None,
        )

        def in_time(fact: Fact | None) -> bool:
            return fact is not None and fact.t <= due and (dispatch is None or fact.t <= dispatch.t)

        if took is not None and in_time(took):
            return COMPLIANT
        if maybe is not None and in_time(maybe) and (now >= due or dispatch is not None):
            return _not_assessable(
                min(due, dispatch.t) if dispatch is not None else due,
                "commander_rank",
                f"commander of unknown rank assigned {_after(start, maybe)}: check the roster",
                (*first_evidence, maybe.event_id),
            )
        if dispatch is not None and (took is None or took.t > dispatch.t):
            if took is None and (lacking := _unreported(facts, self.needs, "who took the call")):
                return lacking
            return Verdict(
                "violation",
                violation_at=dispatch.t,
                resolved_at=took.t if took is not None else None,
                evidence=(*first_evidence, dispatch.event_id)
                + ((took.event_id,) if took is not None else ()),
                detail=f"units dispatched {_after(start, dispatch)} before a commanding"
                f" officer took the call ({_steps(facts, ctx, start)})",
            )
        if took is not None:  # late, and nothing was dispatched before it
            return Verdict(
                "violation",
                violation_at=due,
                resolved_at=took.t,
                evidence=(*first_evidence, took.event_id),
                detail=f"a commanding officer took the call {_after(start, took)}, past the"
                f" {params.deadline_minutes:g}-min deadline ({_steps(facts, ctx, start)})",
            )
        if now < due:
            return Verdict("pending", due_at=due, evidence=first_evidence)
        if lacking := _unreported(facts, self.needs, "who took the call"):
            return lacking
        return Verdict(
            "violation",
            violation_at=due,
            evidence=first_evidence,
            detail=f"no commanding officer took the call within {params.deadline_minutes:g} min"
            f" ({_steps(facts, ctx, start)})",
        )


def _steps(facts: Sequence[Fact], ctx: Context, start: int) -> str:
    """Which of the commander steps happened, in words: the missing one stands out."""
    notified = next(
        (f for f in facts if f.type == "commander.notified" and _is_commander(f, ctx)), None
    )
    stand_in = next(
        (
            f
            for f in facts
            if f.type.startswith("commander.")
            and not _is_commander(f, ctx)
            and not _rank_unknown(f)
        ),
        None,
    )
    unknown = next((f for f in facts if f.type.startswith("commander.") and _rank_unknown(f)), None)
    parts: list[str] = []
    if notified is not None:
        parts.append(f"notified {_after(start, notified)} but nobody took the call in time")
    if stand_in is not None:
        action = stand_in.type.split(".", 1)[1]
        parts.append(f"a {stand_in.rank} was {action}, not a commanding officer")
    if unknown is not None:
        parts.append(f"an officer of unknown rank was {unknown.type.split('.', 1)[1]}")
    return "; ".join(parts) or "no commanding officer was notified or assigned"


class CommanderOnScene(Rule):
    needs = ("units", "commander")

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        grace_minutes: float = 10
        # Whose arrival calls for a commanding officer on scene (C3: "accompanies officers").
        roles: frozenset[UnitRole] = frozenset({"patrol", "supervisor", "specialty", "other"})

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        arrivals = [f for f in facts if f.type == "unit.on_scene" and f.role != "federal"]
        officers = [f for f in arrivals if _unit_role(f, ctx) in params.roles]
        if not officers:
            closed = _closed_at(facts)
            if closed is not None and (lacking := _unreported(facts, ("units",), "arrivals")):
                return lacking
            return NOT_APPLICABLE
        commander = next((f for f in arrivals if _is_commander(f, ctx)), None)
        verdict = _absence(
            officers[0].t,
            int(params.grace_minutes * MINUTE),
            commander,
            now,
            (officers[0].event_id,),
            "commanding officer on scene",
        )
        if verdict.status == "violation" and commander is None:
            missing = _unreported(facts, self.needs, "whether a commanding officer was there")
            return missing or verdict
        return verdict


class CallRecorded(Rule):
    needs = ("recording",)

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        unrecorded_line_kinds: frozenset[str] = frozenset({"cell", "offline"})
        # Lines recorded by law or by design wherever the source says nothing more.
        recorded_line_kinds: frozenset[str] = frozenset({"911"})

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
        if bad:
            return Verdict(
                "violation",
                violation_at=bad[0].t,
                evidence=tuple(f.event_id for f in bad),
                detail="; ".join(dict.fromkeys(reasons)),
            )
        received = _first(facts, "call.received")
        shown = (received is not None and received.recorded is True) or any(
            f.type == "recording.started" for f in facts
        )
        if shown or (received is not None and received.detail in params.recorded_line_kinds):
            return COMPLIANT
        closed = _closed_at(facts)
        if closed is None:
            return Verdict("pending")  # a recording record may still come
        evidence = (received.event_id,) if received is not None else ()
        if lacking := _unreported(facts, self.needs, "whether the call was recorded"):
            return lacking
        line = received.detail if received is not None else "unknown"
        return _not_assessable(
            closed,
            "recording",
            f"the source did not say whether the line ({line}) was recorded",
            evidence,
        )


class LawfulBasis(Rule):
    needs = ("units", "basis")

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
            if _closed_at(facts) is not None and (
                lacking := _unreported(facts, ("units",), "whether units were dispatched")
            ):
                return lacking
            return NOT_APPLICABLE
        bases = [f for f in facts if f.type == "basis.recorded" and f.t <= dispatch.t]
        if bases and bases[-1].detail in params.lawful_bases:
            return COMPLIANT
        if not bases and (lacking := _unreported(facts, self.needs, "the basis for assisting")):
            return lacking
        basis = bases[-1].detail if bases else "none recorded"
        return Verdict(
            "violation",
            violation_at=dispatch.t,
            evidence=(dispatch.event_id, *(f.event_id for f in bases)),
            detail=f"units dispatched with basis: {basis}",
        )


CameraOutcome = Literal["met", "broken", "unknown"]


class BodycamContinuous(Rule):
    """C5, per unit: broken only on evidence (switched on late, off before clearing).
    A unit whose camera is never reported is not assessable, not "camera off"."""

    needs = ("units", "camera")

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        activation_grace_seconds: float = 60
        # Who must record (LMPD SOP on body-worn cameras: the officers who respond).
        # A commanding officer who accompanies them is not required to by default.
        roles: frozenset[UnitRole] = frozenset({"patrol", "supervisor", "specialty"})

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        grace = int(params.activation_grace_seconds * 1000)
        closed = _closed_at(facts)
        arrivals: dict[str, Fact] = {}
        for f in facts:
            wanted = f.type == "unit.on_scene" and f.role != "federal" and f.unit
            if wanted and f.unit and _unit_role(f, ctx) in params.roles:
                arrivals.setdefault(f.unit, f)
        if not arrivals:
            if closed is not None and (lacking := _unreported(facts, ("units",), "arrivals")):
                return lacking
            return NOT_APPLICABLE
        no_feed = unprovided(facts, ("camera",)) is not None
        broken: list[tuple[Fact, str]] = []
        unknown: list[tuple[Fact, str]] = []
        ends: list[int] = []
        pending = False
        for unit, arrival in arrivals.items():
            mine = [f for f in facts if f.unit == unit]
            cleared = [f.t for f in mine if f.type == "unit.cleared"]
            end = cleared[-1] if cleared else closed
            if end is None:
                pending = True
                continue
            ends.append(end)
            outcome, reason = _camera(mine, arrival.t, grace, end)
            if outcome == "broken":
                broken.append((arrival, f"unit {unit}: {reason}"))
            elif outcome == "unknown":
                unknown.append((arrival, f"unit {unit}" if no_feed else reason))
        if broken:
            notes = [reason for _, reason in broken]
            if unknown and not pending:
                notes.append("not assessable: " + ", ".join(reason for _, reason in unknown))
            return Verdict(
                "violation",
                violation_at=min(f.t for f, _ in broken),
                evidence=tuple(f.event_id for f, _ in broken),
                detail="; ".join(notes),
            )
        if pending or (unknown and closed is None and not no_feed):
            return Verdict("pending")  # camera records may still come for units on scene
        if unknown:
            units = ", ".join(reason for _, reason in unknown)
            detail = (
                f"the source reports no camera records ({units} on scene)" if no_feed else units
            )
            return _not_assessable(
                max(ends), "camera", detail, tuple(f.event_id for f, _ in unknown)
            )
        return COMPLIANT


def _camera(
    unit_facts: Sequence[Fact], arrival: int, grace: int, end: int
) -> tuple[CameraOutcome, str]:
    """Was the unit's camera on from arrival (within the grace) until it cleared?"""
    unit = unit_facts[0].unit
    camera = [f for f in unit_facts if f.type in ("bodycam.activated", "bodycam.deactivated")]
    if not camera:
        return "unknown", f"no camera records for unit {unit}"
    at_arrival = None  # the camera's last reported state by the end of the grace
    for fact in camera:
        if fact.t <= arrival + grace:
            at_arrival = fact.type
    if at_arrival == "bodycam.deactivated":
        return "broken", "camera switched off before arrival, not on at arrival"
    if at_arrival is None:
        late_on = next((f for f in camera if f.type == "bodycam.activated" and f.t < end), None)
        if late_on is not None:
            return "broken", f"camera switched on {(late_on.t - arrival) // 1000}s after arrival"
    for fact in camera:
        # Switching off at or after clearing is normal; before it, the investigation's pattern.
        if fact.type == "bodycam.deactivated" and arrival <= fact.t < end:
            return "broken", "camera switched off before the unit cleared"
    if at_arrival is None:
        return "unknown", f"camera records for unit {unit} do not show it on at arrival"
    return "met", ""


class ReportFiled(Rule):
    needs = ("units", "report")

    class Params(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        deadline_hours: float = 8

    def evaluate(
        self, facts: Sequence[Fact], params: msgspec.Struct, ctx: Context, now: int
    ) -> Verdict:
        assert isinstance(params, self.Params)
        dispatch = _first(facts, "unit.dispatched")
        closed = _first(facts, "call.closed")
        if closed is None:
            return NOT_APPLICABLE
        if dispatch is None:
            return _unreported(facts, ("units",), "whether units were dispatched") or (
                NOT_APPLICABLE
            )
        report = _first(facts, "report.filed")
        if report is None and (lacking := _unreported(facts, self.needs, "the report")):
            return lacking
        return _absence(
            closed.t,
            int(params.deadline_hours * HOUR),
            report,
            now,
            (closed.event_id,),
            "report filed",
        )


class CodingConsistent(Rule):
    needs = ("narrative",)

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
            return _unreported(facts, self.needs, "what the caller said") or COMPLIANT
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
