"""Acting from the alert, without services: signed links, the delivery state's
announcements, reminders, ack timeouts and "escalate now", what each message says,
the Slack/Teams layouts, and the call page's HTML."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from callwatch.alerting.action_links import LinkSigner, load_link_key
from callwatch.alerting.actions import event_entry, record_entry
from callwatch.alerting.base import AlertsConfigError, Outgoing
from callwatch.alerting.callpage import Entry, Form, PageView, render_page
from callwatch.alerting.config import load_alerts
from callwatch.alerting.webhook import generic_payload, slack_payload, teams_payload
from callwatch.settings import Settings
from streams.alerting import delivery as st
from streams.alerting import links
from streams.alerting.delivery import Ack, CallAlerts, ChannelKind
from streams.alerting.message import Links, render
from streams.alerting.records import ack_record, attempt_record, escalation_record
from streams.alerting.routing import Route, Target, Tier
from tests.test_alerting_core import (
    MIN,
    T0,
    URL,
    Clock,
    FakeChannel,
    MemoryStore,
    dispatcher_with,
    intent,
    settle,
)

KEY = b"k" * 40
AM = {"am": ChannelKind(latest_only=True, resend_ms=60_000)}


# ---------------------------------------------------------------------- links


def a_claim(expires_at: int = T0 + 60 * MIN, action: links.Action = "ack") -> links.LinkClaim:
    return links.claim(action, dedup_key="C-1/commander-notified", alert_id="C-1/x#firing#1",
                       recipient="ray", channel="email-ray", expires_at=expires_at)


def test_a_link_verifies_until_it_expires_and_is_bound_to_its_claim() -> None:
    token = links.sign(KEY, a_claim())
    assert links.verify(KEY, token, T0) == a_claim()
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", token)  # URL-safe as it is
    expired = links.verify(KEY, token, T0 + 60 * MIN)
    assert isinstance(expired, links.Refused) and expired.reason == "expired"
    assert expired.claim == a_claim()  # the page can still name the alert
    # another key, a changed character, a claim swapped under the signature
    assert links.verify(b"x" * 40, token, T0) == links.Refused("forged")
    body, _, mac = token.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    assert links.verify(KEY, f"{flipped}.{mac}", T0) == links.Refused("forged")
    other = links.sign(KEY, a_claim(action="escalate")).partition(".")[0]
    assert links.verify(KEY, f"{other}.{mac}", T0) == links.Refused("forged")
    for junk in ("", "abc", "abc.", ".abc", "a.b.c", "é.é"):
        assert isinstance(links.verify(KEY, junk, T0), links.Refused)


def test_link_ids_differ_per_recipient_action_and_message_and_csrf_binds_the_cookie() -> None:
    ids = {links.link_id("A#firing#1", r, c, a) for r in ("ray", "kim")
           for c in ("email", "slack") for a in ("ack", "escalate")}
    assert len(ids) == 8
    claim = a_claim()
    token = links.csrf_token(KEY, claim, "nonce-1")
    assert links.csrf_ok(KEY, claim, "nonce-1", token)
    assert not links.csrf_ok(KEY, claim, "nonce-2", token)
    assert not links.csrf_ok(KEY, claim, None, token)
    assert not links.csrf_ok(KEY, a_claim(action="escalate"), "nonce-1", token)


def test_the_link_key_comes_from_a_file_or_the_environment_and_must_be_long(
    tmp_path: Path,
) -> None:
    assert load_link_key(Settings()) is None
    path = tmp_path / "key"
    path.write_text("s" * 32 + "\n")
    assert load_link_key(Settings(link_key_file=path)) == b"s" * 32
    path.write_text("short")
    with pytest.raises(AlertsConfigError, match="5 bytes; a link key needs 32") as error:
        load_link_key(Settings(link_key_file=path))
    assert "short" not in str(error.value)
    with pytest.raises(AlertsConfigError, match="not both"):
        load_link_key(Settings(link_key_file=path, link_key="e" * 40))  # type: ignore[arg-type]


def test_every_paging_message_carries_its_recipients_links_and_notices_none() -> None:
    signer = LinkSigner(KEY, "https://cw.pd.example", 30 * MIN)
    work = st.Work("C-1", "C-1/commander-notified", "email-ray", "C-1/commander-notified"
                   "#firing#1", intent(), 0, False, 1, False, None, recipient="ray",
                   recipient_name="Sgt. Ray")
    made = signer.links(work, T0)
    assert made.ack_url.startswith("https://cw.pd.example/a/") and made.escalate_url
    claim = links.verify(KEY, made.ack_url.rpartition("/")[2], T0)
    assert isinstance(claim, links.LinkClaim)
    assert (claim.recipient, claim.channel, claim.expires_at) == ("ray", "email-ray", T0 + 30 * MIN)
    message = render(intent(), URL, timezone="America/Kentucky/Louisville", links=made)
    assert f"I'M TAKING IT (acknowledge, one click): {made.ack_url}" in message.body
    assert f"ESCALATE NOW (tell the next tier at once): {made.escalate_url}" in message.body
    assert "work once, for you only, until" in message.body
    high = signer.links(st.Work("C-1", "C-1/commander-on-scene", "email", "a#firing#1",
                                intent(severity="high"), 0, False, 1, False, None), T0)
    assert high.escalate_url is None  # "escalate now" is for critical alerts
    resolved = render(intent(state="resolved"), URL, links=made)
    assert resolved.ack_url is None and made.ack_url not in resolved.body


# ---------------------------------------------------------------------- the state


def fired(route: Route, channels: dict[str, ChannelKind] | None = None) -> CallAlerts:
    call = CallAlerts(call_id="C-1")
    st.receive(call, intent(), route, channels or {}, T0)
    for work in list(st.due_work(call, T0)):
        st.succeeded(call, work, (channels or {}).get(work.channel, st.MESSAGE_CHANNEL), T0)
    return call


LADDER = Route(tiers=(Tier(0, ("email", "slack", "am")), Tier(15 * MIN, ("commander",))),
               renotify_ms=5 * MIN, ack_timeout_ms=30 * MIN)


def test_an_acknowledgement_is_announced_where_the_alert_went_and_stops_everything() -> None:
    call = fired(LADDER, AM)
    ack = Ack(by="Sgt. Ray", at=T0 + 2 * MIN, comment="Lt. Diaz is taking the call",
              ack_id="a1", via="link")
    assert st.acknowledge(call, "C-1/commander-notified", ack, AM, T0 + 2 * MIN, "L1") == (
        "acknowledged")
    work = list(st.due_work(call, T0 + 2 * MIN))
    notices = {w.channel: w for w in work if not w.resend}
    assert set(notices) == {"email", "slack"}  # the message channels that carried it
    assert all(w.intent["notice"] == "acknowledged" for w in notices.values())
    assert notices["email"].intent["ack"]["comment"] == "Lt. Diaz is taking the call"
    am = [w for w in work if w.channel == "am"]
    assert am and am[0].resend and am[0].acked_by == "Sgt. Ray"  # the silence goes now
    assert am[0].acked_until == T0 + 32 * MIN
    # no escalation, no reminder while acknowledged; the same link cannot act again
    assert st.escalate(call, lambda a: LADDER, T0 + 20 * MIN, kinds=AM) == []
    assert "commander" not in call.alerts["C-1/commander-notified"].deliveries
    again = Ack(by="Sgt. Kim", at=T0 + 3 * MIN, ack_id="a2")
    assert st.acknowledge(call, "C-1/commander-notified", again, AM, T0, "L1") == "link_used"
    assert st.acknowledge(call, "C-1/commander-notified", again, AM, T0, "L2") == (
        "already_acknowledged")
    message = render(notices["slack"].intent, URL, timezone="America/Kentucky/Louisville")
    assert message.kind == "acknowledged" and message.acknowledged_by == "Sgt. Ray"
    assert re.search(r'Acknowledged by Sgt\. Ray at \d\d:\d\d \w+: "Lt\. Diaz is taking the'
                     r' call"\.', message.what)
    assert message.title.startswith("[ACKNOWLEDGED] Call C-1: Sgt. Ray is on it")
    assert not message.ack_url and "Escalation has stopped" in message.what


def test_reminders_while_unacknowledged_then_an_ack_timeout_opens_it_again() -> None:
    call = fired(LADDER, AM)
    alert = call.alerts["C-1/commander-notified"]
    st.escalate(call, lambda a: LADDER, T0 + 5 * MIN, kinds=AM)
    reminders = [w for w in st.due_work(call, T0 + 5 * MIN) if not w.resend]
    assert {w.channel for w in reminders} == {"email", "slack"}
    assert {w.intent["notice"] for w in reminders} == {"reminder"}
    text = render(reminders[0].intent, URL)
    assert "STILL UNACKNOWLEDGED" in text.title and "for 5 minutes" in text.what
    assert alert.remind_at == T0 + 10 * MIN
    for work in reminders:
        st.succeeded(call, work, st.MESSAGE_CHANNEL, T0 + 5 * MIN)
    # acknowledged at 6 min; 30 min later still firing: open again, tier 0 first
    st.acknowledge(call, alert.dedup_key, Ack(by="Sgt. Ray", at=T0 + 6 * MIN, ack_id="a"),
                   AM, T0 + 6 * MIN)
    for work in [w for w in st.due_work(call, T0 + 6 * MIN) if not w.resend]:
        st.succeeded(call, work, st.MESSAGE_CHANNEL, T0 + 6 * MIN)
    assert st.next_due(call) is not None and st.next_due(call) <= T0 + 36 * MIN
    done = st.escalate(call, lambda a: LADDER, T0 + 36 * MIN, kinds=AM)
    assert [(e.reason, e.tier) for e in done] == [("ack_timeout", 0)]
    assert alert.ack is None and alert.timed_out_acks[0].by == "Sgt. Ray"
    assert alert.escalate_at == T0 + 51 * MIN  # the ladder restarts from now
    reopened = [w for w in st.due_work(call, T0 + 36 * MIN) if not w.resend]
    assert {w.intent["notice"] for w in reopened} == {"reopened"}
    message = render(reopened[0].intent, URL)
    assert "OPEN AGAIN" in message.title and "Sgt. Ray acknowledged this alert at" in message.what
    record = escalation_record(alert, done[0], T0 + 36 * MIN)
    assert record["kind"] == "reopened" and record["reason"] == "ack_timeout"
    # the resolution drops a reminder still queued: it would say something untrue
    st.escalate(call, lambda a: LADDER, T0 + 41 * MIN, kinds=AM)
    st.receive(call, intent(state="resolved", revision=2), LADDER, AM, T0 + 41 * MIN)
    queued = {a for d in alert.deliveries.values() for a in d.queue}
    assert all("#reminder#" not in a and "#reopened#" not in a for a in queued)


def test_escalate_now_tells_the_next_tier_at_once_and_records_who_asked() -> None:
    call = fired(LADDER, AM)
    assert st.escalate_now(call, "C-1/commander-notified", "Sgt. Ray", T0 + MIN, "E1") == (
        "escalating")
    done = st.escalate(call, lambda a: LADDER, T0 + MIN, kinds=AM)
    assert [(e.tier, e.reason, e.requested_by, e.channels) for e in done] == [
        (1, "requested", "Sgt. Ray", ("commander",))]
    assert st.escalate_now(call, "C-1/commander-notified", "Sgt. Ray", T0, "E1") == "link_used"
    # the request that used the link is known, so its redelivery is not a second use
    call2 = fired(LADDER, AM)
    st.escalate_now(call2, "C-1/commander-notified", "Sgt. Ray", T0, "E9", "req-9")
    assert st.used_by_request(call2, "C-1/commander-notified", "req-9")
    assert not st.used_by_request(call2, "C-1/commander-notified", "req-8")
    assert st.escalate_now(call, "C-1/commander-notified", "Sgt. Ray", T0, "E2") == "top_tier"
    record = escalation_record(call.alerts["C-1/commander-notified"], done[0], T0 + MIN)
    assert (record["by"], record["reason"], record["tier"]) == ("Sgt. Ray", "requested", 1)


def test_an_ack_withdraws_an_escalation_nobody_has_received_yet() -> None:
    call = fired(LADDER, AM)
    st.escalate(call, lambda a: LADDER, T0 + 15 * MIN, kinds=AM)
    assert call.alerts["C-1/commander-notified"].deliveries["commander"].queue
    st.acknowledge(call, "C-1/commander-notified", Ack(by="Sgt. Ray", at=T0 + 15 * MIN),
                   AM, T0 + 15 * MIN)
    assert not call.alerts["C-1/commander-notified"].deliveries["commander"].queue


def test_pages_reach_the_person_on_call_and_the_record_says_who() -> None:
    def targets(tier: Tier, now: int) -> tuple[Target, ...]:
        person = ("diaz", "Lt. Diaz") if now >= T0 + 10 * MIN else ("ray", "Sgt. Ray")
        return tuple(Target(c, *person) for c in tier.channels)

    route = Route(tiers=(Tier(0, ("email",)), Tier(15 * MIN, ("sms",))))
    call = CallAlerts(call_id="C-1")
    st.receive(call, intent(), route, {}, T0, targets)
    (work,) = st.due_work(call, T0)
    assert (work.recipient, work.recipient_name) == ("ray", "Sgt. Ray")
    record = attempt_record(work, channel_type="email", outcome="sent", attempt=1, at=T0)
    assert (record["recipient"], record["recipient_name"]) == ("ray", "Sgt. Ray")
    (escalation,) = st.escalate(call, lambda a: route, T0 + 15 * MIN, targets)
    assert escalation.targets == (Target("sms", "diaz", "Lt. Diaz"),)
    record = escalation_record(call.alerts["C-1/commander-notified"], escalation, T0)
    assert record["recipients"] == ["diaz"] and record["recipient_names"] == ["Lt. Diaz"]


def test_state_with_the_new_fields_round_trips() -> None:
    call = fired(LADDER, AM)
    st.acknowledge(call, "C-1/commander-notified", Ack(by="R", at=T0, via="link"), AM, T0, "L")
    assert st.load(st.dump(call)) == call


# ---------------------------------------------------------------------- channels


def announcement() -> dict[str, Any]:
    call = fired(LADDER, AM)
    st.acknowledge(call, "C-1/commander-notified",
                   Ack(by="Sgt. Ray", at=T0, comment="Lt. Diaz is taking the call"), AM, T0)
    (work,) = [w for w in st.due_work(call, T0) if w.channel == "slack"]
    return dict(work.intent)


def test_slack_and_teams_show_an_acknowledgement_as_one_clear_line_and_pages_as_buttons() -> None:
    ack = render(announcement(), URL, timezone="UTC")
    slack = slack_payload(ack)
    first = slack["blocks"][0]["text"]["text"]
    assert first.startswith(":white_check_mark: *Acknowledged by Sgt. Ray at ")
    assert '"Lt. Diaz is taking the call"' in first
    teams = teams_payload(ack)["attachments"][0]["content"]
    assert teams["body"][0]["color"] == "good" and "Acknowledged by Sgt. Ray" in (
        teams["body"][0]["text"])
    made = links.sign(KEY, a_claim())
    paging = render(intent(), URL, links=Links(f"https://x/a/{made}", "https://x/a/esc", T0))
    buttons = slack_payload(paging)["blocks"][2]["elements"]
    assert [(b["text"]["text"], b.get("style")) for b in buttons] == [
        ("I'm taking it", "primary"), ("Escalate now", "danger"), ("Open the call", None)]
    actions = teams_payload(paging)["attachments"][0]["content"]["actions"]
    assert [a["title"] for a in actions] == ["I'm taking it", "Escalate now", "Open the call"]


def test_the_generic_payload_carries_links_and_what_a_notice_follows() -> None:
    notice = announcement()
    work = st.Work("C-1", "C-1/commander-notified", "hook", notice["alert_id"], notice, 0,
                   False, 1, False, "Sgt. Ray")
    payload = generic_payload(Outgoing(work, render(notice, URL), T0))
    assert payload["kind"] == "acknowledged" and payload["acknowledged_by"] == "Sgt. Ray"
    assert payload["notice_of"] == "C-1/commander-notified#firing#1"
    assert payload["ack_url"] is None


def test_request_records_name_the_link_and_outcome() -> None:
    request = {"kind": "ack", "ack_id": "r1", "dedup_key": "C-1/commander-notified",
               "call_id": "C-1", "rule": "commander-notified", "by": "Sgt. Ray",
               "at": "2017-04-10T14:30:00Z", "via": "link", "link_id": "L1",
               "recipient": "ray", "comment": None}
    record = ack_record(request, "link_used", None)
    assert (record["record_id"], record["outcome"], record["link_id"]) == (
        "ack|r1", "link_used", "L1")
    assert ack_record({**request, "kind": "escalate"}, "escalating", None)["record_id"] == (
        "escalate|r1")


# ---------------------------------------------------------------------- the alerts file


def test_tiers_can_page_the_on_call_schedule(tmp_path: Path) -> None:
    (tmp_path / "oncall.yaml").write_text(
        "version: 1\ntimezone: America/Kentucky/Louisville\n"
        "people:\n  ray: {name: Sgt. Ray, channels: [email-ray]}\n"
        "schedules:\n  sup:\n    rotations:\n"
        "      - {name: all, people: [ray], start: '2020-01-01T07:00'}\n"
    )
    alerts = tmp_path / "alerts.yaml"
    email = {"type": "email", "host": "smtp", "tls": "none", "from": "cw@x.example",
             "to": ["ray@x.example"]}
    alerts.write_text(yaml.safe_dump({
        "oncall_file": "oncall.yaml",
        "channels": {"email-ray": email},
        "routes": [{"escalation": [{"after_minutes": 0, "oncall": "sup"}],
                    "renotify_minutes": 5, "ack_timeout_minutes": 30}],
    }))
    rules = ["commander-notified"]
    setup = load_alerts(alerts, rules)
    assert setup.routes[0].renotify_ms == 5 * MIN and setup.routes[0].ack_timeout_ms == 30 * MIN
    assert setup.targets(setup.routes[0].tiers[0], T0) == (
        Target("email-ray", "ray", "Sgt. Ray"),)
    (tmp_path / "oncall.yaml").write_text(
        (tmp_path / "oncall.yaml").read_text().replace("email-ray]", "pager-ray]"))
    with pytest.raises(AlertsConfigError, match="pager-ray not defined"):
        load_alerts(alerts, rules)
    alerts.write_text(alerts.read_text().replace("oncall: sup", "oncall: nights"))
    with pytest.raises(AlertsConfigError):
        load_alerts(alerts, rules)


# ---------------------------------------------------------------------- the page


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def test_the_page_escapes_everything_and_uses_no_script() -> None:
    view = PageView(
        call_id="C<1>", rule="commander-notified", severity="critical",
        headline="no commanding officer notified in time", status="open",
        status_line="OPEN: nobody has acknowledged yet", do_now="Call the <b>lieutenant</b>",
        clause="C2", clause_text="A commanding officer handles every call.",
        policy_source="LMPD", timezone="America/Kentucky/Louisville",
        timeline=[Entry(T0, "event", "Call received from ICE: “<script>x</script>”")],
        form=Form("ack", "/a/tok", "csrf\"", "", False),
    )
    html = render_page(view)
    parser = _Text()
    parser.feed(html)
    assert "script" not in parser.tags and "<b>" not in html and "C&lt;1&gt;" in html
    assert 'name=csrf value="csrf&quot;"' in html
    assert "I'm taking it" in "".join(parser.text)
    assert "width=device-width" in html  # phones


def test_timeline_lines_from_indexed_documents() -> None:
    event = {"type": "call.received", "occurred_at": "2017-04-10T14:20:00Z",
             "caller": {"agency": "ICE", "name": "[redacted]"}, "call_type": "ASSIST",
             "line": {"kind": "cell", "recorded": False}}
    entry = event_entry(event)
    assert entry is not None and entry.text == (
        "Call received from ICE: type ASSIST, line cell, recorded no")
    assert "[redacted]" not in entry.text
    sent = record_entry({"kind": "delivery", "outcome": "sent", "channel": "email-ray",
                         "recipient_name": "Sgt. Ray", "tier": 1, "at": "2017-04-10T14:31:00Z"})
    assert sent is not None and sent.text == (
        "Alert sent to Sgt. Ray (email-ray) (escalation tier 1)")
    assert record_entry({"kind": "resend", "at": "2017-04-10T14:31:00Z"}) is None


# ---------------------------------------------------------------------- the dispatcher


def test_the_dispatcher_sends_reminders_and_ack_announcements_with_links() -> None:
    """Reminders change the state without escalating: they must be saved and sent
    (they were not, at first: only escalations marked the state changed)."""
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        mail = FakeChannel("mail")
        dispatcher, records = dispatcher_with({"mail": mail}, store, clock)
        route = Route(tiers=(Tier(0, ("mail",)),), renotify_ms=5 * MIN)
        dispatcher.setup = replace(dispatcher.setup, routes=(route,))
        dispatcher.signer = LinkSigner(KEY, "https://cw.example", 30 * MIN)
        dispatcher.receive(intent())
        await settle(dispatcher)
        assert mail.received == ["C-1/commander-notified#firing#1"]
        clock.now += 5 * MIN
        await settle(dispatcher)
        assert mail.received[-1] == "C-1/commander-notified#firing#1#reminder#1"
        request = {"kind": "ack", "ack_id": "r1", "dedup_key": "C-1/commander-notified",
                   "call_id": "C-1", "by": "Sgt. Ray", "at": "2023-11-14T22:20:00Z",
                   "via": "link", "link_id": "L1", "recipient": "channel:mail"}
        assert await dispatcher.acknowledge(request) == "acknowledged"
        assert dispatcher.outcomes["r1"] == "acknowledged"
        await settle(dispatcher)
        assert mail.received[-1] == "C-1/commander-notified#firing#1#acknowledged#2"
        assert await dispatcher.acknowledge({**request, "ack_id": "r2"}) == "link_used"
        dispatcher.outcomes.clear()  # a restart: the same request read again from Kafka
        assert await dispatcher.acknowledge(request) == "acknowledged"
        escalate = {**request, "kind": "escalate", "ack_id": "r3", "link_id": "E1"}
        assert await dispatcher.acknowledge(escalate) == "acknowledged_already"
        clock.now += 20 * MIN
        await settle(dispatcher)
        assert len(mail.received) == 3  # no reminder once acknowledged
        kinds = [r["kind"] for r in records]
        assert kinds == ["delivery", "reminder", "ack", "announcement", "ack", "escalate"]

    asyncio.run(scenario())
