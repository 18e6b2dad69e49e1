"""The call page behind every action link: ``GET /a/{token}`` shows, ``POST /a/{token}`` acts.

A link (``streams.alerting.links``) is a signed, expiring capability for one
action on one alert by one recipient. Opening it shows the call page with the
button; only the page's POST acts, because mail scanners and chat unfurlers
open links on their own. The POST is refused unless it comes from the page
itself: a cross-site ``Origin`` or ``Sec-Fetch-Site``, or a missing or wrong
form token (HMAC over the link and a ``SameSite=Strict`` cookie nonce) is a
403. The request then goes to the alerts topic as an ack (or "escalate now")
record, keyed by call id like every ack; the alerter that holds the alert
records it, marks the link used and announces it. The page waits a few
seconds for that outcome so the supervisor reads what happened, not "sent".

The timeline comes from Elasticsearch (events, findings and the alerter's
records, all redacted when indexed) and the alerter's state on this worker.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from elastic_transport import TransportError
from elasticsearch import ApiError as EsApiError
from elasticsearch import AsyncElasticsearch

from callwatch.alerting.action_links import LINK_PATH
from callwatch.alerting.callpage import (
    Banner,
    Entry,
    Form,
    PageView,
    Refusal,
    Status,
    render_page,
    render_refusal,
)
from streams.alerting import links
from streams.alerting.delivery import Alert, CallAlerts
from streams.alerting.message import RULE_TEXT
from streams.alerting.records import ack_request
from streams.engine.policy import Policy

log = logging.getLogger("callwatch.actions")

COOKIE: Final = "cw_csrf"
OUTCOME_WAIT_SECONDS: Final = 6.0
MAX_FORM_BYTES: Final = 8 * 1024
TIMELINE_DOCS: Final = 300
SECURITY_HEADERS: Final = {
    # nothing but our own inline styles, and forms only to ourselves
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # the token is in the URL: never hand it to another site. (Not "no-referrer": with it
    # browsers send "Origin: null" on the page's own POST, which the origin check refuses.)
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Submit = Callable[[dict[str, Any]], Awaitable[None]]


# ---------------------------------------------------------------------- history


@dataclass(frozen=True)
class History:
    """What Elasticsearch knows of a call: redacted events, findings, alerter records."""

    events: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    records: list[dict[str, Any]]
    complete: bool = True  # False: Elasticsearch did not answer


class HistorySource:
    def __init__(self, es: AsyncElasticsearch, indices: Mapping[str, str]) -> None:
        self.es = es
        self.indices = indices

    async def history(self, call_id: str, dedup_key: str) -> History:
        try:
            events, findings, records = await asyncio.gather(
                self._search("events", {"term": {"call_id": call_id}}),
                self._search("findings", {"term": {"call_id": call_id}}),
                self._search("alerts", {"term": {"dedup_key": dedup_key}}),
            )
        except (EsApiError, TransportError) as exc:
            log.warning("call page: Elasticsearch did not answer (%s)", type(exc).__name__)
            return History([], [], [], complete=False)
        return History(events, findings, records)

    async def _search(self, name: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        found = await self.es.search(
            index=self.indices[name], query=query, size=TIMELINE_DOCS,
            ignore_unavailable=True,
        )
        return [hit["_source"] for hit in found["hits"]["hits"]]

    async def close(self) -> None:
        await self.es.close()


# ---------------------------------------------------------------------- timeline


def millis(value: object) -> int | None:
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def event_entry(doc: Mapping[str, Any]) -> Entry | None:
    at = millis(doc.get("occurred_at"))
    if at is None:
        return None
    kind = str(doc.get("type") or "event")
    parts: list[str] = []
    caller = _sub(doc, "caller")
    if kind == "call.received":
        text = "Call received"
        if caller.get("agency"):
            text += f" from {caller['agency']}"
    else:
        text = kind.replace(".", " ").replace("_", " ").capitalize()
    officer, line = _sub(doc, "officer"), _sub(doc, "line")
    for label, value in (
        ("type", doc.get("call_type")),
        ("line", line.get("kind") or doc.get("line_kind")),
        ("recorded", _yes_no(line.get("recorded", doc.get("recorded")))),
        ("unit", doc.get("unit")),
        ("rank", officer.get("rank")),
        ("role", doc.get("role")),
        ("basis", doc.get("basis")),
        ("disposition", doc.get("disposition")),
        ("report", doc.get("report_number")),
    ):
        if value not in (None, ""):
            parts.append(f"{label} {value}")
    note = doc.get("narrative") or doc.get("note") or doc.get("reason")
    if note:
        parts.append(f"“{str(note)[:200]}”")  # scrubbed at indexing
    return Entry(at, "event", f"{text}: {', '.join(parts)}" if parts else text)


def _sub(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, dict) else {}


def _yes_no(value: object) -> str | None:
    return None if value is None else ("yes" if value else "no")


def finding_entries(doc: Mapping[str, Any]) -> list[Entry]:
    rule, clause = str(doc.get("rule")), doc.get("clause")
    headline = RULE_TEXT[rule].headline if rule in RULE_TEXT else f"rule {rule} broken"
    entries = []
    violation = millis(doc.get("violation_at"))
    if violation is not None:
        detail = f" ({doc['detail']})" if doc.get("detail") else ""
        entries.append(Entry(violation, "finding", f"Policy breach, {clause}: {headline}{detail}"))
    resolved = millis(doc.get("resolved_at"))
    if resolved is not None and doc.get("status") == "resolved":
        entries.append(Entry(resolved, "finding", f"Breach cured (late), {clause}: {rule}"))
    if doc.get("status") == "retracted" and violation is not None:
        entries.append(Entry(violation, "finding", f"Finding withdrawn, {clause}: the rule was"
                             " met after all"))
    return entries


def record_entry(doc: Mapping[str, Any]) -> Entry | None:
    """One line per thing the alerter did; Alertmanager's periodic re-sends are noise."""
    at = millis(doc.get("at"))
    kind, outcome = doc.get("kind"), doc.get("outcome")
    if at is None or kind == "resend":
        return None
    to = str(doc.get("channel") or "")
    if doc.get("recipient_name"):
        to = f"{doc['recipient_name']} ({to})"
    said = f": “{doc['comment']}”" if doc.get("comment") else ""
    if kind in ("delivery", "repeat", "announcement", "reminder", "reopened") and to:
        what = {"delivery": "Alert", "repeat": "Alert (possible repeat)",
                "announcement": "Acknowledgement announced", "reminder": "Reminder",
                "reopened": "Open-again notice"}[str(kind)]
        if outcome == "sent":
            tier = doc.get("tier") or 0
            return Entry(at, "alert", f"{what} sent to {to}"
                         + (f" (escalation tier {tier})" if tier else ""))
        return Entry(at, "alert", f"{what} to {to} failed ({doc.get('error')}); retrying")
    if kind == "ack":
        if outcome == "acknowledged":
            return Entry(at, "ack", f"Acknowledged by {doc.get('by')}{said}")
        if outcome == "link_used":
            return Entry(at, "ack", "A used link was tried again: refused")
        if outcome == "already_acknowledged":
            return Entry(at, "ack", f"{doc.get('by')} acknowledged too (already taken)")
        return None
    if kind == "escalate":
        if outcome == "escalating":
            return Entry(at, "escalation", f"Escalate now, asked by {doc.get('by')}{said}")
        return None
    if kind in ("escalation", "reopened"):
        who = ", ".join(doc.get("recipient_names") or doc.get("channels") or []) or "nobody new"
        if kind == "reopened":
            return Entry(at, "escalation", "Acknowledgement timed out with the breach still"
                         f" open: open again, tier 0 told ({who})")
        reason = " (asked for)" if doc.get("reason") == "requested" else " (not acknowledged)"
        return Entry(at, "escalation", f"Escalated to tier {doc.get('tier')}{reason}: {who}")
    return None


def timeline(history: History, alert: Alert | None) -> list[Entry]:
    entries = [e for e in map(event_entry, history.events) if e is not None]
    for finding in history.findings:
        entries.extend(finding_entries(finding))
    entries.extend(e for e in map(record_entry, history.records) if e is not None)
    indexed_ack = any(r.get("kind") == "ack" and r.get("outcome") == "acknowledged"
                      for r in history.records)
    if alert is not None and alert.ack is not None and not indexed_ack:
        said = f": “{alert.ack.comment}”" if alert.ack.comment else ""
        entries.append(Entry(alert.ack.at, "ack", f"Acknowledged by {alert.ack.by}{said}"))
    return entries


# ---------------------------------------------------------------------- the pages


class ActionPages:
    def __init__(
        self,
        *,
        key: bytes,
        base_url: str,
        policy: Policy,
        timezone: str,
        submit: Submit,
        state_of: Callable[[str], CallAlerts | None],
        outcome_of: Callable[[str], str | None],
        history: HistorySource | None,
        now_ms: Callable[[], int],
    ) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")
        self.rules = {rule.id: rule for rule in policy.rules}
        self.policy = policy
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.submit = submit
        self.state_of = state_of
        self.outcome_of = outcome_of
        self.history = history
        self.now_ms = now_ms
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.secure_cookie = parts.scheme == "https"

    def routes(self, app: web.Application) -> None:
        app.router.add_get(LINK_PATH + "{token}", self.show)
        app.router.add_post(LINK_PATH + "{token}", self.act)

    # ------------------------------------------------------------------ GET
    async def show(self, request: web.Request) -> web.Response:
        checked = self._check(request.match_info["token"])
        if isinstance(checked, web.Response):
            return checked
        claim = checked
        done = request.query.get("done")
        history = await self._history(claim)
        call = self.state_of(claim.call_id)
        alert = call.alerts.get(claim.dedup_key) if call else None
        used_by = _used_by(claim, alert, history)
        nonce = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        banner: Banner | None = None
        form: Form | None = None
        status = 200
        if done:
            banner = self._done_banner(done, claim, alert, history)
        elif used_by is not None:
            banner = Banner("warn", f"This link has already been used ({used_by}). A link works"
                            " once: there is nothing more to do with it.")
            status = 409
        else:
            form = self._form(claim, nonce)
        if not history.complete:
            note = "The timeline is incomplete: the search service did not answer."
            banner = banner or Banner("warn", note)
        view = self._view(claim, alert, history, form, banner)
        response = _html(render_page(view), status)
        if form is not None:
            response.set_cookie(COOKIE, nonce, httponly=True, samesite="Strict",
                                secure=self.secure_cookie, path=LINK_PATH,
                                max_age=int(max(0, claim.expires_at - self.now_ms()) / 1000))
        return response

    # ------------------------------------------------------------------ POST
    async def act(self, request: web.Request) -> web.Response:
        if not self._same_origin(request):
            log.warning("action link POST refused: cross-site (Origin %r, Sec-Fetch-Site %r)",
                        request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site"))
            return _refuse(403, "Refused: this request came from another site",
                           "Acknowledge only from the callwatch page that the alert's link"
                           " opens.")
        checked = self._check(request.match_info["token"])
        if isinstance(checked, web.Response):
            return checked
        claim = checked
        form = await request.post()
        offered = form.get("csrf")
        if not links.csrf_ok(self.key, claim, request.cookies.get(COOKIE),
                             offered if isinstance(offered, str) else None):
            log.warning("action link POST refused: form token missing or wrong (%s)",
                        claim.dedup_key)
            return _refuse(403, "Refused: this form did not come from the callwatch page",
                           "Open the link from the alert again and press the button there.")
        call = self.state_of(claim.call_id)
        alert = call.alerts.get(claim.dedup_key) if call else None
        if alert is not None and claim.link_id in alert.used_links:
            return _refuse(409, "This link has already been used",
                           "A link works once. Open the call page from a newer alert.")
        by = self._name(claim, form.get("by"))
        if not by:
            return _refuse(400, "Please give your name",
                           "Go back and type your name: it is what the others are told.")
        comment = form.get("comment")
        request_id = uuid.uuid4().hex
        record = ack_request(
            claim.dedup_key, by=by, at=self.now_ms(), ack_id=request_id, via="link",
            comment=comment if isinstance(comment, str) else None,
            link_id=claim.link_id, recipient=claim.recipient, kind=claim.action,
        )
        await self.submit(record)
        log.warning("alert %s: %s requested through a link by %s", claim.dedup_key,
                    claim.action, by)
        await self._wait_for(request_id)
        raise web.HTTPSeeOther(f"{LINK_PATH}{request.match_info['token']}?done={request_id}",
                               headers=SECURITY_HEADERS)

    # ------------------------------------------------------------------ parts
    def _check(self, token: str) -> links.LinkClaim | web.Response:
        checked = links.verify(self.key, token, self.now_ms())
        if isinstance(checked, links.LinkClaim):
            if checked.dedup_key.rpartition("/")[2] not in self.rules:
                return _refuse(404, "This alert's rule is no longer in the policy",
                               "Ask an operator; nothing was done.")
            return checked
        if checked.reason == "expired" and checked.claim is not None:
            expired_at = datetime.fromtimestamp(checked.claim.expires_at / 1000, tz=self.zone)
            return _refuse(
                410, "This link has expired",
                f"It stopped working at {expired_at:%H:%M %Z} on {expired_at:%a %d %b}."
                " Nothing was done. Use the link in the newest alert for this call, or"
                f" acknowledge with: callwatch ack {checked.claim.dedup_key} --by YOUR-NAME",
            )
        log.warning("action link refused: %s", checked.reason)
        return _refuse(403, "This link is not valid",
                       "It was changed, cut off when copied, or not made by callwatch."
                       " Nothing was done. Open the link from the alert itself.")

    def _same_origin(self, request: web.Request) -> bool:
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return False
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # old browsers send none; the form token and cookie still guard
        return origin in (self.origin, f"{request.scheme}://{request.host}")

    def _name(self, claim: links.LinkClaim, offered: object) -> str:
        fixed = self._recipient_name(claim)
        if fixed:
            return fixed
        return offered.strip()[:120] if isinstance(offered, str) else ""

    def _recipient_name(self, claim: links.LinkClaim) -> str:
        """A person's own link carries their name (the on-call schedule's)."""
        if claim.recipient.startswith("channel:"):
            return ""
        call = self.state_of(claim.call_id)
        alert = call.alerts.get(claim.dedup_key) if call else None
        delivery = alert.deliveries.get(claim.channel) if alert else None
        if delivery is not None and delivery.recipient == claim.recipient:
            return delivery.recipient_name or claim.recipient
        return claim.recipient

    def _form(self, claim: links.LinkClaim, nonce: str) -> Form:
        name = self._recipient_name(claim)
        return Form(claim.action, f"{LINK_PATH}{links.sign(self.key, claim)}",
                    links.csrf_token(self.key, claim, nonce), name, bool(name))

    async def _history(self, claim: links.LinkClaim) -> History:
        if self.history is None:
            return History([], [], [], complete=False)
        return await self.history.history(claim.call_id, claim.dedup_key)

    async def _wait_for(self, request_id: str) -> None:
        deadline = asyncio.get_running_loop().time() + OUTCOME_WAIT_SECONDS
        while self.outcome_of(request_id) is None:
            if asyncio.get_running_loop().time() > deadline:
                return  # another worker holds the call: its outcome shows once indexed
            await asyncio.sleep(0.1)

    def _done_banner(
        self, request_id: str, claim: links.LinkClaim, alert: Alert | None, history: History
    ) -> Banner:
        outcome = self.outcome_of(request_id) or next(
            (str(r.get("outcome")) for r in history.records
             if r.get("record_id") == f"{claim.action}|{request_id}"), None)
        taken = alert.ack if alert is not None else None
        if outcome == "acknowledged":
            return Banner("ok", "Done: you have the call. Everyone else who got this alert is"
                          " being told, and escalation has stopped.")
        if outcome == "escalating":
            return Banner("ok", "Done: the next tier is being paged now.")
        if outcome in ("already_acknowledged", "acknowledged_already") and taken is not None:
            return Banner("warn", f"Already taken: {taken.by} acknowledged at"
                          f" {_hhmm(taken.at, self.zone)}. Nothing more is needed from you"
                          " unless they ask.")
        if outcome == "link_used":
            return Banner("warn", "This link had already been used: nothing more was done.")
        if outcome == "not_firing":
            return Banner("info", "The alert is no longer firing: nothing to escalate.")
        if outcome == "top_tier":
            return Banner("warn", "There is no further tier to escalate to: call the watch"
                          " commander directly.")
        if outcome is None:
            return Banner("info", "Sent. It will show in the timeline within seconds: reload"
                          " this page.")
        return Banner("warn", f"Not done: {outcome.replace('_', ' ')}.")

    def _view(
        self,
        claim: links.LinkClaim,
        alert: Alert | None,
        history: History,
        form: Form | None,
        banner: Banner | None,
    ) -> PageView:
        rule_id = claim.dedup_key.rpartition("/")[2]
        rule = self.rules[rule_id]
        text = RULE_TEXT.get(rule_id)
        status, line = self._status(alert, history, rule_id)
        return PageView(
            call_id=claim.call_id,
            rule=rule_id,
            severity=rule.severity,
            headline=text.headline if text else rule.summary,
            status=status,
            status_line=line,
            do_now=(text.action if text else f"Check the call against the policy: {rule.summary}")
            if status == "open" else _calm(status),
            clause=rule.clause,
            clause_text=rule.clause_text,
            policy_source=f"{self.policy.title} (policy {self.policy.name}"
                          f" {self.policy.version})",
            timezone=self.timezone,
            timeline=timeline(history, alert),
            form=form if status in ("open", "unknown") else None,
            banner=banner,
        )

    def _status(self, alert: Alert | None, history: History, rule: str) -> tuple[Status, str]:
        if alert is not None:
            if alert.state == "resolved":
                return "resolved", "RESOLVED: no action needed now"
            if alert.ack is not None:
                return "acknowledged", (f"TAKEN: {alert.ack.by} acknowledged at"
                                        f" {_hhmm(alert.ack.at, self.zone)}")
            tier = f" (escalation tier {alert.tier})" if alert.tier else ""
            return "open", f"OPEN: nobody has acknowledged yet{tier}"
        acks = [r for r in history.records
                if r.get("kind") == "ack" and r.get("outcome") == "acknowledged"]
        finding = next((f for f in history.findings if f.get("rule") == rule), None)
        if finding is not None and finding.get("status") in ("resolved", "retracted"):
            return "resolved", "RESOLVED: no action needed now"
        if acks:
            at = millis(acks[-1].get("at")) or 0
            return "acknowledged", f"TAKEN: {acks[-1].get('by')} acknowledged at" \
                                   f" {_hhmm(at, self.zone)}"
        return "unknown", "Status not known on this server: check the timeline"


def _calm(status: Status) -> str:
    if status == "acknowledged":
        return "Someone has the call. Do not act on it twice; help only if they ask."
    if status == "resolved":
        return "No action needed now. Review the call for the record."
    return "Check the timeline below."


def _used_by(claim: links.LinkClaim, alert: Alert | None, history: History) -> str | None:
    records = [r for r in history.records if r.get("link_id") == claim.link_id
               and r.get("outcome") in ("acknowledged", "escalating")]
    if records:
        record = records[0]
        verb = "acknowledged" if record.get("kind") == "ack" else "escalation asked"
        return f"{verb} by {record.get('by')}"
    if alert is not None and claim.link_id in alert.used_links:
        if alert.ack is not None:
            return f"acknowledged by {alert.ack.by}"
        return "used"
    return None


def _hhmm(at: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(at / 1000, tz=zone).strftime("%H:%M")


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers=SECURITY_HEADERS)


def _refuse(status: int, heading: str, text: str) -> web.Response:
    return _html(render_refusal(Refusal(heading, text)), status)
