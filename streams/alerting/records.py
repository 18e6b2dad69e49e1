"""Plain-dict records of acknowledgements and of what the alerter did, for Kafka and the index.

Every delivery attempt, acknowledgement and escalation becomes one record on the
``deliveries`` topic, indexed into ``PREFIX-alerts`` under its ``record_id``.
The ids are deterministic, so a record repeated after a restart overwrites its
first copy instead of counting twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal

from streams.alerting.delivery import Alert, Escalation, Work
from streams.engine.records import iso

ACK_KIND: Final = "ack"
ESCALATE_KIND: Final = "escalate"  # "escalate now", from an action link
COMMENT_CHARS: Final = 1000
NAME_CHARS: Final = 120
AckVia = Literal["http", "cli", "link"]


def split_dedup_key(dedup_key: str) -> tuple[str, str]:
    """``CALL/RULE`` -> (call id, rule); call ids may contain '/', rule ids may not."""
    call_id, slash, rule = dedup_key.rpartition("/")
    if not slash or not call_id or not rule:
        raise ValueError(f"{dedup_key!r} is not an alert key (CALL_ID/RULE)")
    return call_id, rule


def ack_request(
    dedup_key: str,
    *,
    by: str,
    at: int,
    ack_id: str,
    via: AckVia,
    comment: str | None = None,
    link_id: str | None = None,
    recipient: str | None = None,
    kind: Literal["ack", "escalate"] = ACK_KIND,
) -> dict[str, Any]:
    """The acknowledgement (or an "escalate now") as produced to the alerts topic, keyed
    by call id. ``link_id``/``recipient``: the action link it came through."""
    call_id, rule = split_dedup_key(dedup_key)
    if not by.strip():
        raise ValueError("an acknowledgement needs the name of who acknowledges")
    record = {
        "kind": kind,
        "ack_id": ack_id,
        "dedup_key": dedup_key,
        "call_id": call_id,
        "rule": rule,
        "by": by.strip()[:NAME_CHARS],
        "at": iso(at),
        "comment": (comment or "").strip()[:COMMENT_CHARS] or None,
        "via": via,
    }
    if link_id is not None:
        record["link_id"] = link_id
        record["recipient"] = recipient
    return record


def is_ack(record: Mapping[str, Any]) -> bool:
    return record.get("kind") == ACK_KIND


def is_escalate_request(record: Mapping[str, Any]) -> bool:
    return record.get("kind") == ESCALATE_KIND


def is_request(record: Mapping[str, Any]) -> bool:
    """A person's request (acknowledge, escalate now) rather than an engine intent."""
    return is_ack(record) or is_escalate_request(record)


def _alert_fields(intent: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: intent.get(k)
        for k in ("alert_id", "dedup_key", "call_id", "rule", "severity", "clause", "agency")
    } | {"policy_version": intent.get("policy_version"), "state": intent.get("state")}


def attempt_record(
    work: Work,
    *,
    channel_type: str,
    outcome: Literal["sent", "failed"],
    attempt: int,
    at: int,
    error: str | None = None,
    next_attempt_at: int | None = None,
) -> dict[str, Any]:
    return {
        "record_id": f"{work.dedup_key}|{work.channel}|{attempt}",
        "kind": _attempt_kind(work),
        **_alert_fields(work.intent),
        "alert_id": work.alert_id,
        "channel": work.channel,
        "channel_type": channel_type,
        "tier": work.tier,
        "recipient": work.recipient or None,
        "recipient_name": work.recipient_name or None,
        "notice_of": work.intent.get("notice_of"),
        "attempt": attempt,
        "outcome": outcome,
        "error": error,
        "at": iso(at),
        "next_attempt_at": iso(next_attempt_at),
    }


def _attempt_kind(work: Work) -> str:
    """delivery; resend (Alertmanager's periodic re-send of a firing alert); repeat
    (a message sent again, marked as a possible repeat, after a crash cut its send off);
    or the alerter's own messages: announcement (of an acknowledgement), reminder,
    reopened (an acknowledgement timed out)."""
    if work.resend:
        return "resend"
    if work.possible_repeat:
        return "repeat"
    notice = work.intent.get("notice")
    return _NOTICE_KINDS.get(str(notice), "delivery") if notice else "delivery"


_NOTICE_KINDS: Final = {
    "acknowledged": "announcement",
    "reminder": "reminder",
    "reopened": "reopened",
}


def ack_record(request: Mapping[str, Any], outcome: str, alert: Alert | None) -> dict[str, Any]:
    """An acknowledgement or an "escalate now", with what came of it."""
    intent: Mapping[str, Any] = alert.intents.get(alert.latest, {}) if alert else {}
    kind = str(request.get("kind") or ACK_KIND)
    return {
        "record_id": f"{kind}|{request['ack_id']}",
        "kind": kind,
        "link_id": request.get("link_id"),
        "recipient": request.get("recipient"),
        **_alert_fields(intent),
        "dedup_key": request["dedup_key"],
        "call_id": request["call_id"],
        "rule": request.get("rule"),
        "outcome": outcome,
        "by": request.get("by"),
        "comment": request.get("comment"),
        "via": request.get("via"),
        "at": request.get("at"),
    }


def escalation_record(alert: Alert, escalation: Escalation, at: int) -> dict[str, Any]:
    """Who was paged when: the tier, its channels and the people they reach."""
    reopened = escalation.reason == "ack_timeout"
    return {
        "record_id": f"{alert.dedup_key}|escalation|{alert.fired_at}|{escalation.tier}"
        + ("|reopened" if reopened else ""),
        "kind": "reopened" if reopened else "escalation",
        **_alert_fields(alert.intents.get(alert.latest, {})),
        "tier": escalation.tier,
        "channels": list(escalation.channels),
        "recipients": [t.recipient for t in escalation.targets if t.recipient],
        "recipient_names": [t.recipient_name for t in escalation.targets if t.recipient_name],
        "reason": escalation.reason,
        "by": escalation.requested_by,
        "outcome": "reopened" if reopened else "escalated",
        "at": iso(at),
    }
