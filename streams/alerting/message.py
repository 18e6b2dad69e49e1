"""What a supervisor reads: one alert intent rendered as a title, a body and an action.

Written for someone woken at 3 a.m.: the first line says what happened on which
call; the body adds the policy clause, the one thing to do now, the link to the
call and how to acknowledge. Channels only lay this text out (Slack blocks, an
e-mail, Alertmanager annotations); they never write their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

MessageKind = Literal[
    "firing", "resolved", "cured", "withdrawn", "acknowledged", "reminder", "reopened"
]


@dataclass(frozen=True, slots=True)
class RuleText:
    headline: str  # what happened, as a short clause ("no commanding officer notified")
    action: str  # what to do now


# One entry per rule of the shipped policy; a rule a local policy adds falls back
# to its own summary and a generic action (see _rule_text).
RULE_TEXT: Final[Mapping[str, RuleText]] = {
    # The id is historical: the rule is met only when a commanding officer took the call.
    "commander-notified": RuleText(
        "no commanding officer took the call in time",
        "Contact the on-duty commanding officer now and have them take the call. Hold any"
        " units not yet dispatched until the commanding officer decides what help, if any,"
        " is appropriate.",
    ),
    "commander-on-scene": RuleText(
        "officers on scene without a commanding officer",
        "Send a commanding officer to the scene now, or have the officers withdraw until"
        " one arrives.",
    ),
    "call-recorded": RuleText(
        "the call is not on a recorded line",
        "Move the conversation to a recorded line now; do not call back on a cell phone or"
        " 'offline'. Note the gap and preserve whatever record exists.",
    ),
    "lawful-basis": RuleText(
        "units dispatched without a lawful basis",
        "Check now that a criminal warrant, a crime or an emergency is documented. If none"
        " is, recall the units and tell the commanding officer. Civil immigration"
        " enforcement and administrative warrants are not a basis.",
    ),
    "bodycam-continuous": RuleText(
        "a body camera was off on scene",
        "Tell the units on scene to switch their body cameras on now and keep them on until"
        " they clear; have the reason recorded in the report.",
    ),
    "report-filed": RuleText(
        "no report filed",
        "Make sure the officers who responded file the report before the end of the shift.",
    ),
    "coding-consistent": RuleText(
        "call coded as an emergency the caller said it was not",
        "Send the call to dispatch QA for review and correct the call type if it was miscoded.",
    ),
}

REPEAT_NOTE: Final = (
    "POSSIBLE REPEAT: a callwatch worker stopped while sending this message, so you may"
    " have received it already. It is the same alert (same alert id): act on it once."
)

SEVERITY_LABEL: Final[Mapping[str, str]] = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "warning": "WARNING",
    "review": "REVIEW",
}


@dataclass(frozen=True, slots=True)
class Links:
    """The signed action links of one message for one recipient (``streams.alerting.links``)."""

    ack_url: str
    escalate_url: str | None  # critical alerts only
    expires_at: int  # unix ms


@dataclass(frozen=True, slots=True)
class Message:
    alert_id: str
    dedup_key: str
    call_id: str
    rule: str
    severity: str
    kind: MessageKind
    title: str  # one line: subject, Slack headline, Alertmanager summary
    what: str  # what happened, with the engine's detail
    policy: str  # the clause it breaks, quoted
    action: str  # what to do now
    call_url: str  # the call in the dashboards
    acknowledge: str  # how to acknowledge (empty when nothing is firing)
    body: str  # everything above as plain text, for e-mail and logs
    possible_repeat: bool = False  # a send of this very message was cut off: may be a repeat
    ack_url: str | None = None  # "I'm taking it": opens the action page
    escalate_url: str | None = None  # "Escalate now" (critical alerts)
    links_expire: str = ""  # when the links stop working, in the reader's time zone
    acknowledged_by: str | None = None  # who, on an acknowledgement announcement

    @property
    def firing(self) -> bool:
        """The alert is firing and wants someone to act: page, remind, re-open."""
        return self.kind in ("firing", "reminder", "reopened")


def call_url(template: str, call_id: str) -> str:
    """The dashboard link for a call: ``template`` with ``{call_id}`` URL-quoted in."""
    return template.replace("{call_id}", quote(call_id, safe=""))


def message_kind(intent: Mapping[str, Any]) -> MessageKind:
    notice = intent.get("notice")
    if notice in ("acknowledged", "reminder", "reopened"):
        return notice  # type: ignore[no-any-return]
    if intent.get("state") == "firing":
        return "firing"
    if intent.get("withdrawn"):
        return "withdrawn"
    if intent.get("transition") == "opened":
        return "cured"  # seen for the first time already resolved: tell, do not page
    return "resolved"


def render(
    intent: Mapping[str, Any],
    call_url_template: str,
    *,
    timezone: str = "UTC",
    escalated_after_minutes: float | None = None,
    acknowledged_by: str | None = None,
    possible_repeat: bool = False,
    links: Links | None = None,
) -> Message:
    """Render an alert intent (``streams.engine.records.alert_intent``) for people.

    ``possible_repeat``: an earlier send of this message was cut off (the worker
    stopped mid-send), so the reader may have it already; the title says so."""
    kind = message_kind(intent)
    rule = str(intent["rule"])
    call_id = str(intent["call_id"])
    severity = str(intent.get("severity", ""))
    text = _rule_text(rule, str(intent.get("summary", "")))
    clause = str(intent.get("clause", ""))
    zone = ZoneInfo(timezone)
    link = call_url(call_url_template, call_id)
    label = SEVERITY_LABEL.get(severity, severity.upper())
    agency = intent.get("agency") or "an immigration agency"
    violation_at = _when(intent.get("violation_at"), zone)
    resolved_at = _when(intent.get("resolved_at"), zone)
    detail = str(intent.get("detail") or "").strip()

    announced_by: str | None = None
    if kind == "firing":
        prefix = f"[{label}]" if escalated_after_minutes is None else f"[{label}, ESCALATED]"
        title = f"{prefix} Call {call_id}: {text.headline} ({clause})"
        what = f"Call {call_id} from {agency}: {text.headline} at {violation_at}."
        action = text.action
    elif kind == "acknowledged":
        ack = _mapping(intent.get("ack"))
        announced_by = str(ack.get("by") or "someone")
        said = _said(ack.get("comment"))
        title = f"[ACKNOWLEDGED] Call {call_id}: {announced_by} is on it ({clause})"
        what = (
            f"Acknowledged by {announced_by} at {_clock(ack.get('at'), zone)}{said}."
            f" Call {call_id} from {agency}: {text.headline} at {violation_at}."
            " Escalation has stopped."
        )
        action = f"Nothing, unless {announced_by} asks you for help: do not act on this call twice."
    elif kind == "reminder":
        minutes = float(intent.get("unacknowledged_minutes") or 0)
        title = f"[{label}, STILL UNACKNOWLEDGED] Call {call_id}: {text.headline} ({clause})"
        what = (
            f"Nobody has acknowledged this alert for {_minutes(minutes)}. Call {call_id}"
            f" from {agency}: {text.headline} at {violation_at}."
        )
        action = text.action
    elif kind == "reopened":
        previous = _mapping(intent.get("previous_ack"))
        who = str(previous.get("by") or "someone")
        title = f"[{label}, OPEN AGAIN] Call {call_id}: {text.headline} ({clause})"
        what = (
            f"{who} acknowledged this alert at {_clock(previous.get('at'), zone)}, but the"
            f" breach is still open {_minutes(float(intent.get('ack_minutes') or 0))} later,"
            f" so it is open again. Call {call_id} from {agency}: {text.headline} at"
            f" {violation_at}."
        )
        action = f"{text.action} If {who} is handling it, check with them first."
    elif kind == "cured":
        title = f"[{label}, ALREADY CURED] Call {call_id}: {text.headline} ({clause})"
        what = (
            f"Call {call_id} from {agency}: {text.headline} at {violation_at};"
            f" cured at {resolved_at}."
        )
        action = "Nothing urgent: the breach was cured late. Review the call for the record."
    elif kind == "resolved":
        title = f"[RESOLVED] Call {call_id}: {text.headline} ({clause})"
        what = f"Call {call_id}: {text.headline} since {violation_at}; resolved at {resolved_at}."
        action = "No action needed now. Review the call for the record."
    else:
        title = f"[WITHDRAWN] Call {call_id}: {text.headline} ({clause})"
        what = (
            f"Call {call_id}: later events showed the policy was met; the alert of"
            f" {violation_at} was wrong."
        )
        action = "No action needed; disregard the earlier alert."
    if detail and kind in ("firing", "reminder", "reopened", "cured", "resolved"):
        what = f"{what} Detail: {detail}."
    if escalated_after_minutes is not None and kind == "firing":
        what = (
            f"{what} Nobody acknowledged this alert within"
            f" {_minutes(escalated_after_minutes)}; it is now escalated to you."
        )
    if acknowledged_by and kind in ("resolved", "cured", "withdrawn"):
        what = f"{what} Acknowledged by {acknowledged_by}."
    clause_text = str(intent.get("clause_text") or intent.get("summary") or "")
    policy = f"{clause}: {clause_text}"
    source = " ".join(str(intent[k]) for k in ("policy", "policy_version") if intent.get(k))
    if source:
        policy = f"{policy} (policy {source})"
    dedup_key = str(intent["dedup_key"])
    pages = kind in ("firing", "reminder", "reopened")
    acknowledge = (
        f"callwatch ack {dedup_key} --by YOUR-NAME (or POST /alerts/{dedup_key}/ack)"
        if pages
        else ""
    )
    links = links if pages else None
    expires = _clock(links.expires_at, zone, with_day=True) if links else ""
    lines = [
        title,
        "",
        f"WHAT HAPPENED: {what}",
        f"POLICY: {policy}",
        f"DO NOW: {action}",
    ]
    evidence = _evidence_line(intent)
    if evidence and kind != "withdrawn":
        lines.insert(4, evidence)
    if links is not None:
        lines.append(f"I'M TAKING IT (acknowledge, one click): {links.ack_url}")
        if links.escalate_url:
            lines.append(f"ESCALATE NOW (tell the next tier at once): {links.escalate_url}")
        lines.append(f"(These links work once, for you only, until {expires}.)")
    lines.append(f"CALL: {link}")
    if acknowledge:
        lines.append(f"ACKNOWLEDGE: {acknowledge}")
    lines.append(f"Severity {severity}; alert {intent['alert_id']}.")
    if possible_repeat:
        title = f"{title} (possible repeat)"
        lines[0] = title
        lines.append(REPEAT_NOTE)
    return Message(
        alert_id=str(intent["alert_id"]),
        dedup_key=dedup_key,
        call_id=call_id,
        rule=rule,
        severity=severity,
        kind=kind,
        title=title,
        what=what,
        policy=policy,
        action=action,
        call_url=link,
        acknowledge=acknowledge,
        body="\n".join(lines) + "\n",
        possible_repeat=possible_repeat,
        ack_url=links.ack_url if links else None,
        escalate_url=links.escalate_url if links else None,
        links_expire=expires,
        acknowledged_by=announced_by,
    )


def _evidence_line(intent: Mapping[str, Any]) -> str:
    """What the finding stands on: alerts go out only for ``broken`` (evidence in the
    records); the source's declared fact kinds tell the reader what it could show."""
    outcome = intent.get("outcome")
    if not outcome:
        return ""
    provides = intent.get("source_provides")
    reports = ", ".join(provides) if provides else "not declared"
    return f"OUTCOME: {outcome} (on the records); the source reports: {reports}"


def _rule_text(rule: str, summary: str) -> RuleText:
    known = RULE_TEXT.get(rule)
    if known is not None:
        return known
    headline = f"rule {rule} broken"
    return RuleText(headline, f"Check the call against the policy now: {summary}".strip())


def _when(iso: object, zone: ZoneInfo) -> str:
    if not isinstance(iso, str) or not iso:
        return "an unknown time"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _said(comment: object) -> str:
    text = str(comment or "").strip()
    return f': "{text}"' if text else ""


def _clock(millis: object, zone: ZoneInfo, *, with_day: bool = False) -> str:
    """A time as a sleepy reader wants it: 03:12 (and the day, for deadlines)."""
    if not isinstance(millis, int | float):
        return "an unknown time"
    moment = datetime.fromtimestamp(millis / 1000, tz=zone)
    return moment.strftime("%a %d %b %H:%M %Z" if with_day else "%H:%M %Z")


def _minutes(value: float) -> str:
    if value < 1:
        return f"{round(value * 60)} seconds"
    whole = round(value)
    return f"{whole} minute" if whole == 1 else f"{whole} minutes"
