"""Plain-dict records of findings and calls, for topics, indices and alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from streams.engine.capabilities import declared
from streams.engine.facts import Fact
from streams.engine.policy import Policy
from streams.engine.state import CallState, FindingChange

# Ranks that count as a commanding officer when the caller does not pass its policy's
# own (those of the shipped Louisville policy: lieutenant and above).
DEFAULT_COMMANDING_RANKS: Final = frozenset(
    {"lieutenant", "captain", "major", "lieutenant_colonel", "colonel", "deputy_chief", "chief"}
)
# A finding in one of these states means the rule was broken on the call.
_VIOLATED: Final = ("open", "resolved")
# ... and in this one that it could not be judged (outcome not_assessable).
NEEDS: Final = "needs_records"


def iso(millis: int | None) -> str | None:
    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def finding_id(call_id: str, rule: str) -> str:
    """One finding per (call, rule): the document id and the alert dedup key."""
    return f"{call_id}/{rule}"


def finding_record(change: FindingChange, policy: Policy) -> dict[str, Any]:
    f = change.finding
    return {
        "finding_id": finding_id(change.call_id, change.rule.id),
        "call_id": change.call_id,
        "rule": change.rule.id,
        "clause": change.rule.clause,
        "clause_text": change.rule.clause_text,
        "summary": change.rule.summary,
        "severity": change.rule.severity,
        "policy": policy.name,
        "policy_version": policy.version,
        "status": f.status,
        "transition": change.transition,
        "violation_at": iso(f.violation_at),
        "resolved_at": iso(f.resolved_at),
        "detail": f.detail,
        "evidence": list(f.evidence),
        "agency": change.originator.agency,
        # broken (evidence the rule was not followed) or not_assessable (the facts it
        # needs are missing: the finding waits in the review queue, nobody is alerted)
        "outcome": f.outcome,
        "missing_fact": f.missing,
        # what the call's source declared it reports; None: not declared
        "source_provides": list(change.provides) if change.provides is not None else None,
        "history": [
            {"transition": h.transition, "at": iso(h.at), "detail": h.detail} for h in f.history
        ],
        "revision": len(f.history),
    }


def call_record(
    state: CallState, commanding_ranks: frozenset[str] = DEFAULT_COMMANDING_RANKS
) -> dict[str, Any]:
    """The current picture of one call, for the calls index.

    Besides the classification and the rule outcomes it carries what the oversight
    dashboards chart per call: minutes from the call to the first commanding officer
    (``commander_minutes``), the line the call came in on and whether the source says
    it was recorded, how many department units went on scene, and which rules were
    broken (``violated_rules``: findings open or resolved, not retracted).
    """
    o = state.originator
    received = _first(state.facts, "call.received")
    return {
        "call_id": state.call_id,
        "first_seen": iso(state.first_seen),
        "closed_at": iso(state.closed_at),
        "immigration_agency": o.immigration_agency,
        "agency": o.agency,
        "confidence": o.confidence,
        "review": o.review,
        "originator_evidence": list(o.evidence),
        "events": len(state.facts),
        "rules": {rule: f.status for rule, f in state.findings.items()},
        "open_findings": sum(1 for f in state.findings.values() if f.status == "open"),
        "violated_rules": sorted(r for r, f in state.findings.items() if f.status in _VIOLATED),
        # the review queue's "needs records": rules that could not be judged, and why
        "needs_records": sorted(r for r, f in state.findings.items() if f.status == NEEDS),
        "missing_facts": sorted(
            {f.missing for f in state.findings.values() if f.status == NEEDS and f.missing}
        ),
        "source_provides": _listed(declared(state.facts)),
        "commander_minutes": commander_minutes(state.facts, commanding_ranks),
        "line_kind": received.detail if received is not None else None,
        "recorded": received.recorded if received is not None else None,
        "units_on_scene": units_on_scene(state.facts),
    }


def commander_minutes(facts: Sequence[Fact], commanding_ranks: frozenset[str]) -> float | None:
    """Minutes from the call coming in to the first commanding officer notified, assigned
    or declining (as the commander-notified rule counts them); None if none yet."""
    if not facts:
        return None
    received = _first(facts, "call.received")
    start = received.t if received is not None else facts[0].t
    for fact in facts:
        if fact.type.startswith("commander.") and (
            fact.rank in commanding_ranks or fact.role == "commander"
        ):
            return round((fact.t - start) / 60_000, 2)
    return None


def units_on_scene(facts: Sequence[Fact]) -> int:
    """Distinct department units (not federal agents) that arrived on scene."""
    return len(
        {f.unit for f in facts if f.type == "unit.on_scene" and f.role != "federal" and f.unit}
    )


def _listed(kinds: tuple[str, ...] | None) -> list[str] | None:
    return list(kinds) if kinds is not None else None


def _first(facts: Sequence[Fact], kind: str) -> Fact | None:
    return next((f for f in facts if f.type == kind), None)


# Which finding transitions a supervisor hears about, and as what.
_ALERT_STATE = {
    "opened": "firing",
    "reopened": "firing",
    "resolved": "resolved",
    "retracted": "resolved",
}


def alert_intent(change: FindingChange, policy: Policy) -> dict[str, Any] | None:
    """What the alerter should deliver for this change, or None (e.g. an 'updated').

    ``dedup_key`` is the finding id: one alert per (call, rule), however often
    events repeat; ``alert_id`` names this particular message (its state and the
    finding's revision), so a redelivered intent is recognised as already sent.
    """
    if change.previous == NEEDS and change.transition == "retracted":
        return None  # nobody was alerted about a rule that could not be judged
    state: str | None = _ALERT_STATE.get(change.transition)
    if change.transition == NEEDS:
        # Not assessable goes to the review queue, never to a supervisor; only an alert
        # that had fired on evidence that no longer holds is withdrawn.
        state = "resolved" if change.previous == "open" else None
    if state is None:
        return None
    if change.transition == "opened" and change.finding.status == "resolved":
        state = "resolved"  # found already cured: tell, but do not page
    record = finding_record(change, policy)
    dedup_key = record["finding_id"]
    return {
        "alert_id": f"{dedup_key}#{state}#{record['revision']}",
        "dedup_key": dedup_key,
        "state": state,
        "withdrawn": change.transition in ("retracted", NEEDS),
        **{
            k: record[k]
            for k in (
                "call_id",
                "rule",
                "clause",
                "clause_text",
                "summary",
                "severity",
                "policy",
                "policy_version",
                "status",
                "transition",
                "violation_at",
                "resolved_at",
                "detail",
                "evidence",
                "agency",
                "outcome",
                "missing_fact",
                "source_provides",
            )
        },
    }
