"""The transparency report's figures, from call, finding and alert records.

Input is what the log of record (or an offline ``check`` over a history) holds:
the last picture of each immigration-agency call, the last state of each
finding, and the alerter's delivery records. Output is counts only, in 2-D
tables that ``suppression`` protects; no call id, name, number or address is
carried into the report.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from streams.report.suppression import Suppressed, suppress

OUTCOMES: Final = ("met", "broken", "not assessable")
CO_BUCKETS: Final = ("within 10 min", "10 to 30 min", "over 30 min", "none recorded")
ALERT_COLUMNS: Final = ("sent", "acknowledged", "escalated")
UNKNOWN: Final = "not stated"
# Components of the immigration agencies, as the agency registry and classifier name them.
COMPONENTS: Final = frozenset({"ERO", "HSI", "USBP", "OFO", "AMO", "FDNS"})
_BROKEN: Final = ("open", "resolved")


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    row_label: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: Suppressed


@dataclass(frozen=True)
class RuleInfo:
    rule: str
    clause: str
    summary: str


@dataclass
class Figures:
    start: str
    end: str
    threshold: int
    calls: int
    tables: dict[str, Table] = field(default_factory=dict)
    months: tuple[str, ...] = ()


def outcome(finding: Mapping[str, Any] | None, status: str | None) -> str:
    """met / broken / not assessable for one call and rule.

    A finding may say itself that the rule could not be judged (``outcome:
    not_assessable``, ``assessable: false`` or that status); otherwise open or
    resolved (cured late) is broken, and retracted or no finding is met.
    """
    if finding is not None:
        said = str(finding.get("outcome") or "").replace("-", "_")
        if said == "not_assessable" or finding.get("assessable") is False:
            return "not assessable"
        status = str(finding.get("status") or status or "")
    if status in ("not_assessable", "not-assessable"):
        return "not assessable"
    return "broken" if status in _BROKEN else "met"


def component_of(call: Mapping[str, Any]) -> str:
    """The agency's component (ERO, HSI, USBP, OFO, ...): the call's own field where the
    record has one, else as the classifier's evidence names it ("registered to ICE ERO")."""
    if call.get("component"):
        return str(call["component"])
    agency = call.get("agency")
    if agency:
        pattern = re.compile(rf"\b{re.escape(str(agency))} ([A-Z]{{2,5}})\b")
        for line in call.get("originator_evidence") or ():
            for found in pattern.finditer(str(line)):
                if found.group(1) in COMPONENTS:
                    return found.group(1)
    return UNKNOWN


def _table(
    key: str,
    title: str,
    row_label: str,
    rows: Sequence[str],
    columns: Sequence[str],
    counts: Counter[tuple[str, str]],
    threshold: int,
) -> Table:
    cells = [[counts[(r, c)] for c in columns] for r in rows]
    return Table(key, title, row_label, tuple(rows), tuple(columns), suppress(cells, threshold))


def _ordered(found: Iterable[str], preferred: Sequence[str]) -> list[str]:
    seen = set(found)
    return [p for p in preferred if p in seen] + sorted(seen - set(preferred))


def figures(
    calls: Iterable[Mapping[str, Any]],
    findings: Iterable[Mapping[str, Any]],
    deliveries: Iterable[Mapping[str, Any]],
    rules: Sequence[RuleInfo],
    *,
    start: str,
    end: str,
    threshold: int = 5,
    deadline_minutes: float = 10,
) -> Figures:
    """Every table of the report for calls first seen in [start, end) (ISO dates/times)."""
    chosen = [
        c
        for c in calls
        if c.get("immigration_agency") and start <= str(c.get("first_seen") or "") < end
    ]
    ids = {c["call_id"] for c in chosen}
    by_call_rule = {(f["call_id"], f["rule"]): f for f in findings if f.get("call_id") in ids}
    out = Figures(start, end, threshold, len(chosen))

    agency = Counter((c.get("agency") or UNKNOWN, component_of(c)) for c in chosen)
    agencies = _ordered((a for a, _ in agency), ("ICE", "CBP", "USCIS"))
    components = _ordered((p for _, p in agency), ("ERO", "HSI", "USBP", "OFO", UNKNOWN))
    out.tables["agency"] = _table(
        "agency", "Immigration-agency calls by agency and component", "agency",
        agencies, components, agency, threshold,
    )  # fmt: skip

    clauses: Counter[tuple[str, str]] = Counter()
    labels = [f"{r.clause} {r.rule}" for r in rules]
    for c in chosen:
        statuses = c.get("rules") or {}
        for r, label in zip(rules, labels, strict=True):
            found = by_call_rule.get((c["call_id"], r.rule))
            clauses[(label, outcome(found, statuses.get(r.rule)))] += 1
    out.tables["clauses"] = _table(
        "clauses", "How each call was handled against each policy clause", "clause and rule",
        labels, OUTCOMES, clauses, threshold,
    )  # fmt: skip

    co: Counter[tuple[str, str]] = Counter()
    for c in chosen:
        minutes = c.get("commander_minutes")
        if minutes is None:
            bucket = CO_BUCKETS[3]
        elif minutes <= deadline_minutes:
            bucket = CO_BUCKETS[0]
        elif minutes <= 30:
            bucket = CO_BUCKETS[1]
        else:
            bucket = CO_BUCKETS[2]
        co[(c.get("agency") or UNKNOWN, bucket)] += 1
    out.tables["commander"] = _table(
        "commander", "Time from the call to a commanding officer", "agency",
        agencies, CO_BUCKETS, co, threshold,
    )  # fmt: skip

    alerts: dict[str, set[tuple[str, str]]] = {c: set() for c in ALERT_COLUMNS}
    severity: dict[str, str] = {}
    for d in deliveries:
        if d.get("call_id") not in ids:
            continue
        key = str(d.get("dedup_key") or "")
        severity.setdefault(key, str(d.get("severity") or UNKNOWN))
        kind, result = d.get("kind"), d.get("outcome")
        if kind in ("delivery", "repeat", "resend") and result == "sent":
            alerts["sent"].add((key, severity[key]))
        elif kind == "ack" and result in ("acknowledged", "already_acknowledged"):
            alerts["acknowledged"].add((key, severity[key]))
        elif kind == "escalation":
            alerts["escalated"].add((key, severity[key]))
    sent: Counter[tuple[str, str]] = Counter()
    for column, keys in alerts.items():
        for _, sev in keys:
            sent[(sev, column)] += 1
    severities = _ordered((s for s, _ in sent), ("critical", "high", "warning", "review"))
    out.tables["alerts"] = _table(
        "alerts", "Alerts to supervisors (one per call and rule)", "severity",
        severities or ["critical"], ALERT_COLUMNS, sent, threshold,
    )  # fmt: skip

    month: Counter[tuple[str, str]] = Counter(
        (str(c["first_seen"])[:7], c.get("agency") or UNKNOWN) for c in chosen
    )
    out.months = tuple(sorted({m for m, _ in month}))
    out.tables["trend"] = _table(
        "trend", "Immigration-agency calls by month", "month",
        out.months or (start[:7],), agencies or ["ICE"], month, threshold,
    )  # fmt: skip
    return out
