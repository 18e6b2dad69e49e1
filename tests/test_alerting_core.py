"""The alerting core without services: messages, routing, delivery state, signatures,
the alerts file, ack tokens, and the dispatcher driving fake channels."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from callwatch.alerting.acks import authenticate, load_tokens
from callwatch.alerting.base import (
    AlertsConfigError,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryError,
    Outgoing,
)
from callwatch.alerting.config import AlertsSetup, load_alerts
from callwatch.alerting.dispatch import Dispatcher
from callwatch.alerting.email import EmailChannel, message_id
from callwatch.alerting.webhook import slack_payload, teams_payload
from streams.alerting import delivery as st
from streams.alerting.delivery import Ack, Backoff, CallAlerts, ChannelKind
from streams.alerting.message import RULE_TEXT, call_url, render
from streams.alerting.records import ack_request, split_dedup_key
from streams.alerting.routing import LOG_ONLY, Route, Tier, route_for
from streams.alerting.signing import signed_headers, verify
from streams.engine.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent
URL = "https://dash.example/calls/{call_id}"
MIN = 60_000
T0 = 1_700_000_000_000


def intent(
    rule: str = "commander-notified",
    state: str = "firing",
    revision: int = 1,
    call_id: str = "C-1",
    severity: str = "critical",
    transition: str | None = None,
    withdrawn: bool = False,
) -> dict[str, Any]:
    key = f"{call_id}/{rule}"
    return {
        "alert_id": f"{key}#{state}#{revision}",
        "dedup_key": key,
        "state": state,
        "withdrawn": withdrawn,
        "call_id": call_id,
        "rule": rule,
        "clause": "C2",
        "clause_text": "A commanding officer handles every call from immigration agents.",
        "summary": "A commanding officer is notified within the deadline.",
        "severity": severity,
        "policy": "lmpd-immigration-assistance",
        "policy_version": "2017.07-1",
        "status": "open" if state == "firing" else "resolved",
        "transition": transition or ("opened" if state == "firing" else "resolved"),
        "violation_at": "2017-04-10T14:29:20Z",
        "resolved_at": None if state == "firing" else "2017-04-10T14:46:18Z",
        "detail": "units were dispatched before a commanding officer was notified",
        "evidence": [],
        "agency": "ICE",
        "outcome": "broken",
        "missing_fact": None,
        "source_provides": ["units", "commander"],
    }


# ---------------------------------------------------------------------- messages


def test_every_shipped_rule_has_its_own_headline_and_action() -> None:
    assert {r.id for r in load_policy().rules} <= set(RULE_TEXT)


def test_a_firing_message_says_what_where_which_clause_what_to_do_and_links_the_call() -> None:
    m = render(intent(), URL, timezone="America/Kentucky/Louisville")
    assert m.kind == "firing"
    assert m.title == "[CRITICAL] Call C-1: no commanding officer took the call in time (C2)"
    assert "2017-04-10 10:29:20 EDT" in m.what  # local time for the reader
    assert "units were dispatched before" in m.what
    assert m.policy.startswith("C2: A commanding officer handles every call")
    assert "lmpd-immigration-assistance 2017.07-1" in m.policy
    assert m.action.startswith("Contact the on-duty commanding officer now")
    assert m.call_url == "https://dash.example/calls/C-1"
    assert "callwatch ack C-1/commander-notified" in m.acknowledge
    for part in ("WHAT HAPPENED:", "POLICY:", "DO NOW:", "CALL: https://dash", "ACKNOWLEDGE:"):
        assert part in m.body
    # what the finding stands on, and what the feed could show
    assert "OUTCOME: broken (on the records); the source reports: units, commander" in m.body


def test_resolution_cured_withdrawn_and_escalated_messages() -> None:
    resolved = render(intent(state="resolved", revision=2), URL, acknowledged_by="sgt-ray")
    assert resolved.title.startswith("[RESOLVED] Call C-1")
    assert "No action needed" in resolved.action and not resolved.acknowledge
    assert "Acknowledged by sgt-ray" in resolved.what
    cured = render(intent(state="resolved", transition="opened"), URL)
    assert cured.kind == "cured" and "ALREADY CURED" in cured.title
    withdrawn = render(
        intent(state="resolved", revision=2, withdrawn=True, transition="retracted"), URL
    )
    assert withdrawn.kind == "withdrawn" and "disregard" in withdrawn.action
    escalated = render(intent(), URL, escalated_after_minutes=15)
    assert "[CRITICAL, ESCALATED]" in escalated.title
    assert "within 15 minutes" in escalated.what


def test_call_url_quotes_the_call_id() -> None:
    assert call_url(URL, "A B/1") == "https://dash.example/calls/A%20B%2F1"


def test_slack_and_teams_payloads_carry_the_text_and_the_link() -> None:
    m = render(intent(), URL)
    slack = slack_payload(m)
    assert slack["text"] == m.title
    assert slack["blocks"][2]["elements"][0]["url"] == m.call_url
    card = teams_payload(m)["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["actions"][0]["url"] == m.call_url
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Do now"] == m.action


# ---------------------------------------------------------------------- routing

CRITICAL = Route(
    tiers=(Tier(0, ("am", "hook")), Tier(15 * MIN, ("commander",))),
    severities=frozenset({"critical"}),
)
HIGH = Route(tiers=(Tier(0, ("am",)),), severities=frozenset({"high"}))
ROUTES = (CRITICAL, HIGH)
KINDS = {"am": ChannelKind(latest_only=True, resend_ms=MIN)}


def test_the_first_matching_route_wins_and_nothing_matched_goes_to_the_log() -> None:
    assert route_for(ROUTES, "critical", "lawful-basis") is CRITICAL
    assert route_for(ROUTES, "high", "bodycam-continuous") is HIGH
    assert route_for(ROUTES, "review", "coding-consistent") is LOG_ONLY
    by_rule = Route(tiers=(Tier(0, ("x",)),), rules=frozenset({"report-filed"}))
    assert route_for((by_rule,), "warning", "report-filed") is by_rule
    assert route_for((by_rule,), "warning", "lawful-basis") is LOG_ONLY


def test_tiers_must_start_at_zero_and_increase() -> None:
    with pytest.raises(ValueError, match="first tier"):
        Route(tiers=(Tier(5, ("a",)),))
    with pytest.raises(ValueError, match="increasing"):
        Route(tiers=(Tier(0, ("a",)), Tier(0, ("b",))))


# ---------------------------------------------------------------------- delivery state


def fresh(*intents: dict[str, Any], now: int = T0) -> CallAlerts:
    call = CallAlerts(call_id="C-1")
    for i in intents:
        st.receive(call, i, route_for(ROUTES, i["severity"], i["rule"]), KINDS, now)
    return call


def due(call: CallAlerts, now: int) -> list[tuple[str, str, bool]]:
    return [(w.channel, w.alert_id, w.resend) for w in st.due_work(call, now)]


def succeed_all(call: CallAlerts, now: int) -> None:
    for work in list(st.due_work(call, now)):
        assert st.succeeded(call, work, KINDS.get(work.channel, st.MESSAGE_CHANNEL), now)


def test_a_firing_intent_is_owed_to_every_tier0_channel_once() -> None:
    call = fresh(intent())
    firing = "C-1/commander-notified#firing#1"
    assert due(call, T0) == [("am", firing, False), ("hook", firing, False)]
    assert st.next_due(call) == T0
    succeed_all(call, T0)
    assert st.receive(call, intent(), CRITICAL, KINDS, T0 + 5) == "duplicate"
    alert = call.alerts["C-1/commander-notified"]
    assert list(st.delivered_on(alert, firing)) == ["am", "hook"]
    assert due(call, T0 + 5) == []  # nothing owed twice


def test_message_channels_get_firing_then_resolution_in_order_after_an_outage() -> None:
    call = fresh(intent(), intent(state="resolved", revision=2))
    hook = [w for w in st.due_work(call, T0) if w.channel == "hook"]
    assert [w.alert_id for w in hook] == ["C-1/commander-notified#firing#1"]  # the head only
    backoff = Backoff(initial_ms=1000, max_ms=4000)
    retry_at = st.failed(call, hook[0], "HTTP 503", backoff, T0)
    assert retry_at == T0 + 1000
    assert [w.channel for w in st.due_work(call, T0 + 500)] == ["am"]
    second = next(w for w in st.due_work(call, T0 + 1000) if w.channel == "hook")
    assert second.retry and second.attempt == 2
    assert st.failed(call, second, "HTTP 503", backoff, T0 + 1000) == T0 + 3000
    third = next(w for w in st.due_work(call, T0 + 3000) if w.channel == "hook")
    assert st.failed(call, third, "HTTP 503", backoff, T0 + 3000) == T0 + 7000  # capped at 4 s
    fourth = next(w for w in st.due_work(call, T0 + 7000) if w.channel == "hook")
    assert st.succeeded(call, fourth, st.MESSAGE_CHANNEL, T0 + 7000)
    after = [w for w in st.due_work(call, T0 + 7000) if w.channel == "hook"]
    assert [w.alert_id for w in after] == ["C-1/commander-notified#resolved#2"]
    assert not after[0].retry


def test_a_send_cut_off_mid_flight_goes_again_after_its_lease_marked_as_a_possible_repeat() -> (
    None
):
    call = fresh(intent(), intent(state="resolved", revision=2))
    hook = next(w for w in st.due_work(call, T0) if w.channel == "hook")
    assert not hook.possible_repeat
    assert st.started(call, hook, 5_000, T0)
    # in flight: not due again while the sender may still be at it
    assert [w.channel for w in st.due_work(call, T0 + 4_999)] == ["am"]
    assert st.next_due(st.load(st.dump(call))) == T0  # am; the hook's lease is T0 + 5000
    # the worker died mid-send: whoever holds the state next sends it again, marked
    again = next(w for w in st.due_work(call, T0 + 5_000) if w.channel == "hook")
    assert (again.alert_id, again.possible_repeat) == (hook.alert_id, True)
    assert "(possible repeat)" in render(again.intent, URL, possible_repeat=True).title
    assert st.started(call, again, 5_000, T0 + 5_000)
    assert st.succeeded(call, again, st.MESSAGE_CHANNEL, T0 + 5_100)
    # the next message is an ordinary one: the mark belongs to the cut-off send only
    after = next(w for w in st.due_work(call, T0 + 5_100) if w.channel == "hook")
    assert after.alert_id.endswith("#resolved#2") and not after.possible_repeat
    # a send whose outcome was recorded (failed) is not a possible repeat either
    assert st.started(call, after, 5_000, T0 + 5_100)
    st.failed(call, after, "HTTP 503", Backoff(initial_ms=1000), T0 + 5_200)
    retry = next(w for w in st.due_work(call, T0 + 6_200) if w.channel == "hook")
    assert retry.retry and not retry.possible_repeat
    # work the state no longer owes is not started
    assert st.succeeded(call, retry, st.MESSAGE_CHANNEL, T0 + 6_300)
    assert not st.started(call, retry, 5_000, T0 + 6_400)


def test_alertmanager_gets_the_latest_state_and_firing_is_resent_until_resolved() -> None:
    call = fresh(intent())
    succeed_all(call, T0)
    am = call.alerts["C-1/commander-notified"].deliveries["am"]
    assert am.resend_at == T0 + MIN
    assert due(call, T0 + MIN) == [("am", "C-1/commander-notified#firing#1", True)]
    succeed_all(call, T0 + MIN)
    assert am.resend_at == T0 + 2 * MIN
    st.receive(call, intent(state="resolved", revision=2), CRITICAL, KINDS, T0 + 90_000)
    assert am.queue == ["C-1/commander-notified#resolved#2"] and am.resend_at is None
    succeed_all(call, T0 + 90_000)
    assert due(call, T0 + 10 * MIN) == []
    assert st.next_due(call) is None


def test_a_newer_state_replaces_what_alertmanager_had_not_yet_received() -> None:
    call = fresh(intent(), intent(state="resolved", revision=2))
    assert call.alerts["C-1/commander-notified"].deliveries["am"].queue == [
        "C-1/commander-notified#resolved#2"
    ]


def test_a_finding_withdrawn_before_anyone_heard_of_it_is_dropped() -> None:
    call = fresh(intent())
    hook_work = next(w for w in st.due_work(call, T0) if w.channel == "hook")
    st.failed(call, hook_work, "down", Backoff(), T0)
    retracted = intent(state="resolved", revision=2, withdrawn=True, transition="retracted")
    st.receive(call, retracted, CRITICAL, KINDS, T0 + 10)
    alert = call.alerts["C-1/commander-notified"]
    assert alert.deliveries["hook"].queue == [] and alert.deliveries["am"].queue == []
    assert st.next_due(call) is None


def test_unacknowledged_critical_alerts_escalate_and_acknowledged_ones_do_not() -> None:
    route_of = lambda alert: route_for(ROUTES, alert.severity, alert.rule)  # noqa: E731
    call = fresh(intent(), intent(rule="lawful-basis"))
    succeed_all(call, T0)
    assert st.next_due(call) == T0 + MIN  # the Alertmanager re-send comes first
    assert st.escalate(call, route_of, T0 + 14 * MIN) == []
    ack = Ack(by="sgt-ray", at=T0 + 2 * MIN, comment="on it", ack_id="a1")
    assert st.acknowledge(call, "C-1/lawful-basis", ack) == "acknowledged"
    assert st.acknowledge(call, "C-1/lawful-basis", ack) == "already_acknowledged"
    assert st.acknowledge(call, "C-1/nope", ack) == "unknown_alert"
    escalated = st.escalate(call, route_of, T0 + 15 * MIN)
    assert [(e.dedup_key, e.tier, e.channels) for e in escalated] == [
        ("C-1/commander-notified", 1, ("commander",))
    ]
    work = [w for w in st.due_work(call, T0 + 15 * MIN) if w.channel == "commander"]
    assert [(w.alert_id, w.tier) for w in work] == [("C-1/commander-notified#firing#1", 1)]
    assert st.escalate(call, route_of, T0 + 60 * MIN) == []  # top of the ladder
    # the resolution reaches everyone who was told, the escalation tier included
    st.receive(call, intent(state="resolved", revision=2), CRITICAL, KINDS, T0 + 61 * MIN)
    assert (
        call.alerts["C-1/commander-notified"]
        .deliveries["commander"]
        .queue[-1]
        .endswith("#resolved#2")
    )


def test_a_reopened_finding_is_a_new_incident() -> None:
    call = fresh(intent(), intent(state="resolved", revision=2))
    succeed_all(call, T0)
    succeed_all(call, T0)
    st.acknowledge(call, "C-1/commander-notified", Ack(by="x", at=T0))
    reopened = intent(revision=3, transition="reopened")
    assert st.receive(call, reopened, CRITICAL, KINDS, T0 + MIN) == "updated"
    alert = call.alerts["C-1/commander-notified"]
    assert alert.ack is None and alert.fired_at == T0 + MIN
    assert alert.escalate_at == T0 + 16 * MIN
    assert {c for c, _, _ in due(call, T0 + MIN)} == {"am", "hook"}


def test_state_round_trips_through_bytes() -> None:
    call = fresh(intent(), intent(rule="lawful-basis"))
    succeed_all(call, T0)
    assert st.load(st.dump(call)) == call


def test_backoff_doubles_and_caps() -> None:
    b = Backoff(initial_ms=1000, max_ms=30_000, factor=2)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5, 6, 100)] == [
        1000,
        2000,
        4000,
        8000,
        16000,
        30000,
        30000,
    ]


# ---------------------------------------------------------------------- signing, records


def test_webhook_signature_verifies_and_refuses_tampering_and_replay() -> None:
    secret, body = b"s3cret", b'{"alert_id": "x"}'
    headers = signed_headers(secret, 1_700_000_000, body)
    expected = hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Callwatch-Signature"] == f"sha256={expected}"
    sig, ts = headers["X-Callwatch-Signature"], headers["X-Callwatch-Timestamp"]
    assert verify(secret, body, sig, ts, now=1_700_000_010)
    assert not verify(secret, body + b" ", sig, ts, now=1_700_000_010)
    assert not verify(b"other", body, sig, ts, now=1_700_000_010)
    assert not verify(secret, body, sig, ts, now=1_700_000_000 + 3600)  # replayed an hour on
    assert not verify(secret, body, sig, "1700000001", now=1_700_000_010)  # timestamp changed
    assert not verify(secret, body, None, ts, now=1_700_000_010)


def test_dedup_keys_and_ack_requests() -> None:
    assert split_dedup_key("SIM-2/000407/commander-on-scene") == (
        "SIM-2/000407",
        "commander-on-scene",
    )
    for bad in ("no-slash", "/rule", "call/"):
        with pytest.raises(ValueError):
            split_dedup_key(bad)
    record = ack_request(
        "C-1/lawful-basis", by=" sgt-ray ", at=T0, ack_id="a", via="cli", comment="  x " * 600
    )
    assert record["kind"] == "ack" and record["call_id"] == "C-1" and record["by"] == "sgt-ray"
    assert len(record["comment"]) == 1000
    with pytest.raises(ValueError, match="who"):
        ack_request("C-1/lawful-basis", by=" ", at=T0, ack_id="a", via="cli")


def test_email_message_ids_are_stable_per_alert_and_channel() -> None:
    a = message_id("C-1/x#firing#1", "email-sup", "callwatch@pd.example")
    assert a == message_id("C-1/x#firing#1", "email-sup", "callwatch@pd.example")
    assert a != message_id("C-1/x#firing#1", "email-wc", "callwatch@pd.example")
    assert a.endswith("@pd.example>")


# ---------------------------------------------------------------------- the alerts file

RULES = [r.id for r in load_policy().rules]


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_without_a_file_everything_goes_to_the_log() -> None:
    setup = load_alerts(None, RULES)
    assert list(setup.channels) == ["log"]
    assert route_for(setup.routes, "critical", "lawful-basis").tiers[0].channels == ("log",)


def test_the_shipped_example_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "hmac"
    secret.write_text("0123456789abcdef\n")
    text = (ROOT / "deploy/alerts.example.yaml").read_text()
    path = tmp_path / "alerts.yaml"
    path.write_text(text.replace("/run/secrets/callwatch-webhook-hmac", str(secret)))
    monkeypatch.setenv("CALLWATCH_SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/T/B/x")
    monkeypatch.setenv("CALLWATCH_SMTP_PASSWORD", "pw")
    setup = load_alerts(path, RULES)
    assert set(setup.channels) == {
        "alertmanager",
        "oncall-slack",
        "oncall-webhook",
        "email-supervisors",
        "email-watch-commander",
        "log",
    }
    critical = route_for(setup.routes, "critical", "lawful-basis")
    assert [t.after_ms for t in critical.tiers] == [0, 15 * MIN]
    assert setup.kinds["alertmanager"] == ChannelKind(latest_only=True, resend_ms=MIN)
    assert setup.backoff == Backoff(initial_ms=2000, max_ms=60_000, factor=2)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"routes": [{"channels": ["pager"]}]}, "pager not defined"),
        (
            {"routes": [{"match": {"rule": ["comander-notified"]}, "channels": ["log"]}]},
            "comander-notified not in the policy",
        ),
        ({"routes": [{"match": {"severity": ["urgent"]}, "channels": ["log"]}]}, "severity"),
        (
            {
                "routes": [
                    {"channels": ["log"], "escalation": [{"after_minutes": 0, "channels": ["log"]}]}
                ]
            },
            "not both",
        ),
        (
            {"routes": [{"escalation": [{"after_minutes": 5, "channels": ["log"]}]}]},
            "start at after_minutes: 0",
        ),
        (
            {
                "channels": {
                    "m": {
                        "type": "email",
                        "host": "h",
                        "from": "a@b",
                        "to": ["c@d"],
                        "username": "u",
                        "password": "hunter2",
                    }
                }
            },
            "password_env",
        ),
        (
            {
                "channels": {
                    "m": {
                        "type": "email",
                        "host": "h",
                        "from": "a@b",
                        "to": ["c@d"],
                        "username": "u",
                        "password_env": "X",
                        "tls": "none",
                    }
                }
            },
            "without TLS",
        ),
        ({"channels": {"m": {"type": "pager"}}}, "'type' must be one of"),
        (
            {"channels": {"w": {"type": "webhook", "url": "https://x.invalid", "colour": 1}}},
            "channels.w.colour",
        ),
        ({"channels": {"w": {"type": "webhook"}}}, "exactly one of 'url' and 'url_env'"),
        ({"dashboard": {"call_url": "https://x.invalid/calls"}}, "{call_id}"),
        ({"dashboard": {"timezone": "Mars/Olympus"}}, "unknown time zone"),
    ],
)
def test_mistakes_in_the_alerts_file_are_named(
    tmp_path: Path, doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(AlertsConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_alerts(write(tmp_path, doc), RULES)


def test_missing_secrets_stop_start_up_without_showing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLWATCH_TEST_SMTP_PW", raising=False)
    email = {
        "type": "email",
        "host": "h",
        "from": "a@b",
        "to": ["c@d"],
        "username": "u",
        "password_env": "CALLWATCH_TEST_SMTP_PW",
    }
    with pytest.raises(AlertsConfigError, match=r"CALLWATCH_TEST_SMTP_PW .* is not set"):
        load_alerts(write(tmp_path, {"channels": {"m": email}}), RULES)
    hook = {"type": "webhook", "url": "https://x.invalid", "secret_file": str(tmp_path / "no")}
    with pytest.raises(AlertsConfigError, match="cannot read the secret file"):
        load_alerts(write(tmp_path, {"channels": {"w": hook}}), RULES)
    monkeypatch.setenv("CALLWATCH_TEST_SMTP_PW", "hunter2")
    setup = load_alerts(write(tmp_path, {"channels": {"m": email}}), RULES)
    channel = setup.channels["m"]
    assert isinstance(channel, EmailChannel)
    assert "hunter2" not in repr(vars(channel))


# ---------------------------------------------------------------------- ack tokens


def test_ack_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# who:token\nsgt-ray:0123456789abcdef0123\n\nlt-diaz: fedcba9876543210fedc\n")
    tokens = load_tokens(path)
    assert authenticate(tokens, "Bearer 0123456789abcdef0123") == "sgt-ray"
    assert authenticate(tokens, "bearer fedcba9876543210fedc") == "lt-diaz"
    assert authenticate(tokens, "Bearer 0123456789abcdef012") is None
    assert authenticate(tokens, "Basic 0123456789abcdef0123") is None
    assert authenticate(tokens, None) is None
    path.write_text("sgt-ray:short\n")
    with pytest.raises(AlertsConfigError, match="shorter than 16") as exc:
        load_tokens(path)
    assert "short" not in str(exc.value).replace("shorter", "")
    path.write_text("no-separator\n")
    with pytest.raises(AlertsConfigError, match="1: expected 'name:token'"):
        load_tokens(path)


# ---------------------------------------------------------------------- the dispatcher


class FakeConfig(ChannelConfig):
    type: str = "fake"


class FakeChannel(Channel):
    channel_type: ClassVar = "webhook"
    config_model: ClassVar = FakeConfig

    def __init__(self, name: str, latest_only: bool = False) -> None:
        super().__init__(name, FakeConfig(), ChannelContext(URL, "UTC", 1.0))
        self.down = False
        self.hang = False
        self.refuse: set[str] = set()  # call ids whose messages this channel rejects
        self.received: list[str] = []
        self.possible_repeats: list[bool] = []
        self.latest_only = latest_only

    @property
    def kind(self) -> ChannelKind:
        resend = MIN if self.latest_only else None
        return ChannelKind(latest_only=self.latest_only, resend_ms=resend)

    async def send(self, items: Sequence[Outgoing]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.down:
            raise DeliveryError("HTTP 503")
        if any(item.message.call_id in self.refuse for item in items):
            raise DeliveryError("HTTP 422", channel_down=False)
        self.received.extend(item.message.alert_id for item in items)
        self.possible_repeats.extend(item.message.possible_repeat for item in items)


class MemoryStore:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    def items(self) -> list[tuple[bytes, bytes]]:
        return list(self.data.items())


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def dispatcher_with(
    channels: dict[str, Channel], store: MemoryStore, clock: Clock
) -> tuple[Dispatcher, list[dict[str, Any]]]:
    setup = AlertsSetup(
        source="test",
        channels=channels,
        routes=(Route(tiers=(Tier(0, tuple(channels)),)),),
        backoff=Backoff(initial_ms=1000, max_ms=8000),
        timeout_seconds=0.2,
        context=ChannelContext(URL, "UTC", 0.2),
    )
    records: list[dict[str, Any]] = []

    async def emit(call_id: str, record: dict[str, Any]) -> None:
        records.append(record)

    return Dispatcher(setup, store, emit, clock), records


async def settle(d: Dispatcher) -> None:
    await d.tick()
    while d.tasks:
        await asyncio.gather(*list(d.tasks))


def test_a_dead_channel_neither_blocks_the_others_nor_loses_or_repeats_alerts() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        good, dead, stuck = FakeChannel("good"), FakeChannel("dead"), FakeChannel("stuck")
        dead.down, stuck.hang = True, True
        d, records = dispatcher_with({"good": good, "dead": dead, "stuck": stuck}, store, clock)
        for n in range(3):
            d.receive(intent(call_id=f"C-{n}"))
        await settle(d)
        assert len(good.received) == 3  # while one channel refuses and one hangs
        failures = [r for r in records if r["outcome"] == "failed"]
        assert {r["channel"] for r in failures} == {"dead", "stuck"}
        # one failed attempt per channel; its other messages were deferred, not tried
        assert len(failures) == 2
        assert {r["error"] for r in failures} == {"HTTP 503", "timed out"}

        # restart: a new dispatcher over the same (changelog) state; the channels recover
        dead.down, stuck.hang = False, False
        d2, records2 = dispatcher_with({"good": good, "dead": dead, "stuck": stuck}, store, clock)
        assert d2.rebuild() == 3
        clock.now += 1000
        await settle(d2)
        for channel in (good, dead, stuck):
            assert sorted(channel.received) == sorted(
                f"C-{n}/commander-notified#firing#1" for n in range(3)
            ), channel.name
        # the engine repeating an intent changes nothing
        d2.receive(intent(call_id="C-0"))
        clock.now += 10_000
        await settle(d2)
        assert len(good.received) == 3
        sent = [r for r in records2 if r["outcome"] == "sent"]
        assert len({r["record_id"] for r in sent}) == len(sent) == 6

    asyncio.run(scenario())


def test_an_attempt_is_durable_as_in_flight_before_the_channel_is_called() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        seen_at_send: list[str | None] = []
        durable_states: list[str | None] = []

        class Recording(FakeChannel):
            async def send(self, items: Sequence[Outgoing]) -> None:
                seen_at_send.append(durable_states[-1] if durable_states else None)
                await super().send(items)

        hook = Recording("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)

        async def durable() -> None:  # what Kafka would have when the flush returns
            call = st.load(store.data[b"C-1"])
            sending = call.alerts["C-1/commander-notified"].deliveries["hook"].sending
            durable_states.append(sending)

        d.durable = durable
        d.receive(intent())
        await settle(d)
        firing = "C-1/commander-notified#firing#1"
        assert hook.received == [firing]
        assert seen_at_send == [firing]  # in flight, durably, when the send began
        assert durable_states[-1] is None  # and the outcome made durable after it

    asyncio.run(scenario())


def test_with_kafka_unable_to_confirm_the_in_flight_record_alerts_still_go_out() -> None:
    from callwatch.metrics import REGISTRY

    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)

        async def kafka_down() -> None:
            raise RuntimeError("Cannot flush: Producer not Running")

        d.durable = kafka_down
        before = REGISTRY.get_sample_value("callwatch_alert_state_unflushed_total") or 0.0
        d.receive(intent())
        await settle(d)
        assert hook.received == ["C-1/commander-notified#firing#1"]
        after = REGISTRY.get_sample_value("callwatch_alert_state_unflushed_total")
        assert after == before + 2  # before the send and after it

    asyncio.run(scenario())


def test_a_worker_killed_mid_send_leaves_the_message_to_be_sent_again_marked() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        hook.hang = True  # the send is under way when the worker dies
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        d.receive(intent())
        await d.tick()
        await asyncio.sleep(0.05)
        for task in list(d.tasks):  # killed: no outcome recorded
            task.cancel()
        await asyncio.gather(*d.tasks, return_exceptions=True)

        hook.hang = False
        d2, records = dispatcher_with({"hook": hook}, store, clock)
        assert d2.rebuild() == 1
        clock.now += 1_000
        await settle(d2)
        assert hook.received == []  # within the lease: the old sender might finish
        repeated_before = metric("repeated")
        clock.now = T0 + d2.lease_ms
        await settle(d2)
        assert hook.received == ["C-1/commander-notified#firing#1"]
        assert hook.possible_repeats == [True]
        assert metric("repeated") == repeated_before + 1
        assert [(r["kind"], r["outcome"]) for r in records] == [("repeat", "sent")]
        clock.now += 60_000
        await settle(d2)
        assert len(hook.received) == 1

    asyncio.run(scenario())


def test_acks_are_recorded_once_and_stop_escalation() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        d, records = dispatcher_with({"good": FakeChannel("good")}, store, clock)
        d.receive(intent())
        request = ack_request(
            "C-1/commander-notified",
            by="sgt-ray",
            at=T0 + 5,
            ack_id="a1",
            via="http",
            comment="calling Lt. Diaz",
        )
        assert await d.acknowledge(request) == "acknowledged"
        assert await d.acknowledge(request) == "acknowledged"  # redelivered: no new record
        other = ack_request(
            "C-1/commander-notified", by="lt-diaz", at=T0 + 9, ack_id="a2", via="cli"
        )
        assert await d.acknowledge(other) == "already_acknowledged"
        acks = [r for r in records if r["kind"] == "ack"]
        assert [(r["by"], r["outcome"]) for r in acks] == [
            ("sgt-ray", "acknowledged"),
            ("lt-diaz", "already_acknowledged"),
        ]
        alert = st.load(store.data[b"C-1"]).alerts["C-1/commander-notified"]
        assert alert.ack is not None and alert.ack.comment == "calling Lt. Diaz"

    asyncio.run(scenario())


def metric(outcome: str) -> float:
    from callwatch.metrics import REGISTRY

    value = REGISTRY.get_sample_value(
        "callwatch_alerts_total", {"channel": "webhook", "outcome": outcome}
    )
    return value or 0.0


def test_a_message_the_channel_refuses_does_not_hold_up_the_others() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        hook.refuse = {"C-0"}
        d, records = dispatcher_with({"hook": hook}, store, clock)
        for n in range(3):
            d.receive(intent(call_id=f"C-{n}"))
        await settle(d)
        assert sorted(hook.received) == ["C-1/commander-notified#firing#1",
                                         "C-2/commander-notified#firing#1"]
        before = metric("failed"), metric("retried")
        for _ in range(5):  # it keeps failing alone, backing off, the others done
            clock.now += 10_000
            await settle(d)
        failed = [r for r in records if r["outcome"] == "failed"]
        assert [r["call_id"] for r in failed] == ["C-0"] * 6
        assert [r["attempt"] for r in failed] == [1, 2, 3, 4, 5, 6]
        # every failed attempt is a retry to come; operators hear once, at the 5th
        assert (metric("failed"), metric("retried")) == (before[0] + 1, before[1] + 5)
        hook.refuse.clear()
        clock.now += 10_000
        await settle(d)
        assert len(hook.received) == 3

    asyncio.run(scenario())


def test_a_worker_delivers_only_for_the_calls_it_owns() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        for n in range(2):
            d.receive(intent(call_id=f"C-{n}"))
        # another worker over the same table (calls it no longer owns kept) owns only C-1
        other, _ = dispatcher_with({"hook": hook}, store, clock)
        other.owns = lambda call_id: call_id == "C-1"
        assert other.rebuild() == 1
        await settle(other)
        assert hook.received == ["C-1/commander-notified#firing#1"]

    asyncio.run(scenario())


def test_the_pipeline_computes_partitions_as_the_kafka_producers_do() -> None:
    from kafka.partitioner.default import murmur2

    from agents.topics import partition_of

    for call_id in ("SIM-2-20170410T0600-000407", "ICE-1", "2017-041300123"):
        key = call_id.encode()
        assert partition_of(key, 4) == (murmur2(key) & 0x7FFFFFFF) % 4
