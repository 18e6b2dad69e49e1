"""Delivery state of every alert on every channel: what is owed to whom, and when.

One ``CallAlerts`` per call holds its alerts (one per rule: the dedup key is the
finding id ``CALL/RULE``). Each alert keeps, per channel, a queue of the alert
ids (messages) still owed, the ones already delivered, and when to try next.
The state changes only through the functions below, on four inputs: an intent
from the engine (``receive``), the outcome of an attempt (``succeeded``,
``failed``, ``deferred``), an acknowledgement (``acknowledge``) and the passage
of time (``due_work``, ``escalate``). Times are unix milliseconds, given.

Two kinds of channel:

- message channels (e-mail, webhook, log) get every message, in order: the
  firing, then the resolution. An alert withdrawn before anyone was told is
  dropped silently: there is nothing to take back.
- latest-only channels (Alertmanager) want only the alert's current state,
  re-sent while it fires (``resend_ms``) so Alertmanager keeps it active; a
  newer intent replaces whatever was still queued.

An alert id already delivered on a channel is never queued there again, so an
intent the engine repeats (at-least-once) is absorbed here.

Sending is a side effect outside Kafka, so it cannot be recorded atomically
with its outcome. Before a message goes out the alerter records it as in flight
(``started``, made durable first) with a lease: a live worker always records
the outcome within the lease (the send times out before it ends). A message
still in flight when its lease ends was being sent by a worker that died or
lost the call: it is due again, as a *possible repeat* (``Work.possible_repeat``),
so the supervisor is told "you may have had this already", never left without
it and never sent an unmarked second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from streams.alerting.routing import Route, Target, Tier, channel_targets

AlertState = Literal["firing", "resolved"]
ReceiveOutcome = Literal["new", "updated", "duplicate"]
AckOutcome = Literal["acknowledged", "already_acknowledged", "unknown_alert", "link_used"]
EscalateOutcome = Literal[
    "escalating", "acknowledged_already", "not_firing", "top_tier", "unknown_alert", "link_used"
]
# Messages the alerter writes itself, after the engine's: an acknowledgement announced
# on the channels that carried the alert, a reminder while nobody acknowledges, and an
# alert open again because its acknowledgement timed out.
Notice = Literal["acknowledged", "reminder", "reopened"]
Targets = Callable[[Tier, int], Sequence[Target]]
USED_LINKS_KEPT: Final = 200  # per alert; links carry a deadline anyway

ERROR_CHARS: Final = 500  # how much of a channel's error message the state keeps


class ChannelKind(msgspec.Struct, frozen=True):
    latest_only: bool = False
    resend_ms: int | None = None


MESSAGE_CHANNEL: Final = ChannelKind()


class Backoff(msgspec.Struct, frozen=True):
    """Exponential backoff: ``initial_ms`` after the first failure, doubling, capped."""

    initial_ms: int = 2_000
    max_ms: int = 60_000
    factor: float = 2.0

    def delay(self, failures: int) -> int:
        exponent = max(0, failures - 1)
        # cap the exponent: factor ** 1000 overflows a float long before it matters
        return int(min(self.max_ms, self.initial_ms * self.factor ** min(exponent, 64)))


class Ack(msgspec.Struct, frozen=True):
    by: str
    at: int
    comment: str | None = None
    ack_id: str = ""
    via: str = ""


class Delivery(msgspec.Struct, kw_only=True, omit_defaults=True):
    tier: int = 0  # the escalation tier that added this channel
    queue: list[str] = []  # alert ids owed, oldest first
    delivered: list[str] = []  # alert ids this channel has acknowledged receiving
    failures: int = 0  # consecutive failed attempts
    attempts: int = 0  # every attempt on this channel for this alert; numbers attempt ids
    next_at: int | None = None  # when to try queue[0]
    resend_at: int | None = None  # latest-only channels: when to re-send the firing state
    last_error: str | None = None
    sending: str | None = None  # alert id of the attempt in flight (see ``started``)
    sending_until: int | None = None  # its lease: after this it is due again
    recipient: str = ""  # the person of the on-call schedule this channel reaches, if any
    recipient_name: str = ""


class Alert(msgspec.Struct, kw_only=True, omit_defaults=True):
    dedup_key: str
    call_id: str
    rule: str
    severity: str
    state: AlertState
    revision: int  # the finding's revision behind ``latest``
    latest: str  # alert id of the newest intent
    intents: dict[str, dict[str, Any]]  # alert id -> intent, for every id still queued
    fired_at: int | None = None  # when the alerter saw it fire: the escalation clock
    tier: int = 0  # highest escalation tier reached
    escalate_at: int | None = None
    ack: Ack | None = None
    deliveries: dict[str, Delivery] = {}
    renotify_ms: int | None = None  # from the route, when the incident started
    ack_timeout_ms: int | None = None
    remind_at: int | None = None  # the next reminder while unacknowledged
    reopen_at: int | None = None  # when the acknowledgement times out
    notices: int = 0  # numbers the alerter's own messages (announcements, reminders)
    timed_out_acks: list[Ack] = []  # acknowledgements that ran out with the alert firing
    # action links already used (each works once): link id -> the request that used it,
    # so the same request redelivered after a restart is told from a second use
    used_links: dict[str, str] = {}
    escalation_requested_by: str | None = None  # "escalate now", until it is done


class CallAlerts(msgspec.Struct, kw_only=True, omit_defaults=True):
    call_id: str
    alerts: dict[str, Alert] = {}


@dataclass(frozen=True, slots=True)
class Work:
    """One attempt to make: send ``alert_id`` (or re-send the firing state) on a channel."""

    call_id: str
    dedup_key: str
    channel: str
    alert_id: str
    intent: Mapping[str, Any]
    tier: int
    resend: bool
    attempt: int  # this attempt's number for (alert, channel), from 1
    retry: bool  # an earlier attempt of this message failed
    acked_by: str | None
    possible_repeat: bool = False  # an attempt of this message was cut off mid-send
    recipient: str = ""  # the person paged through this channel (on-call schedule), if any
    recipient_name: str = ""
    acked_until: int | None = None  # when the acknowledgement times out, if it does


@dataclass(frozen=True, slots=True)
class Escalation:
    dedup_key: str
    tier: int
    after_ms: int
    channels: tuple[str, ...]  # channels newly told
    targets: tuple[Target, ...] = ()  # the same, with the people they reach
    reason: Literal["unacknowledged", "requested", "ack_timeout"] = "unacknowledged"
    requested_by: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CallAlerts)


def dump(call: CallAlerts) -> bytes:
    return _encoder.encode(call)


def load(raw: bytes) -> CallAlerts:
    return _decoder.decode(raw)


def revision_of(alert_id: str) -> int:
    """The finding revision an alert id (``CALL/RULE#state#revision``) names."""
    _, _, revision = alert_id.rpartition("#")
    return int(revision) if revision.isdigit() else 0


def receive(
    call: CallAlerts,
    intent: Mapping[str, Any],
    route: Route,
    kinds: Mapping[str, ChannelKind],
    now: int,
    targets: Targets = channel_targets,
) -> ReceiveOutcome:
    """Take an alert intent into the call's state and queue it on the channels owed it.

    ``targets``: who a tier reaches at ``now`` (the on-call schedule); by default
    the tier's channels as they are."""
    key = str(intent["dedup_key"])
    alert_id = str(intent["alert_id"])
    state: AlertState = "firing" if intent["state"] == "firing" else "resolved"
    revision = revision_of(alert_id)
    withdrawn = bool(intent.get("withdrawn"))
    alert = call.alerts.get(key)
    if alert is None:
        alert = Alert(
            dedup_key=key,
            call_id=str(intent["call_id"]),
            rule=str(intent["rule"]),
            severity=str(intent["severity"]),
            state=state,
            revision=revision,
            latest=alert_id,
            intents={alert_id: dict(intent)},
        )
        call.alerts[key] = alert
        if state == "firing":
            _start_incident(alert, route, now)
        if not withdrawn:  # withdrawn before anyone heard of it: nothing to say
            for target in targets(route.tiers[0], now):
                alert.deliveries[target.channel] = _delivery_for(target, 0, [alert_id], now)
        return "new"
    if alert_id == alert.latest or revision <= alert.revision:
        return "duplicate"
    reopened = state == "firing" and alert.state == "resolved"
    alert.state = state
    alert.revision = revision
    alert.latest = alert_id
    alert.intents[alert_id] = dict(intent)
    if reopened:
        _start_incident(alert, route, now)
        for target in targets(route.tiers[0], now):
            alert.deliveries.setdefault(target.channel, _delivery_for(target, 0, [], None))
    _drop_stale_notices(alert)
    if state == "resolved":
        alert.escalate_at = None
        alert.remind_at = None
        alert.reopen_at = None
    for channel, delivery in alert.deliveries.items():
        _enqueue(delivery, alert_id, withdrawn, kinds.get(channel, MESSAGE_CHANNEL), now)
    _forget_unqueued_intents(alert)
    return "updated"


def _start_incident(alert: Alert, route: Route, now: int) -> None:
    alert.fired_at = now
    alert.tier = 0
    alert.ack = None
    alert.escalate_at = route.escalate_at(now, 0)
    alert.renotify_ms = route.renotify_ms
    alert.ack_timeout_ms = route.ack_timeout_ms
    alert.remind_at = now + route.renotify_ms if route.renotify_ms else None
    alert.reopen_at = None
    alert.escalation_requested_by = None


def _delivery_for(target: Target, tier: int, queue: list[str], now: int | None) -> Delivery:
    return Delivery(
        tier=tier,
        queue=list(queue),
        next_at=now if queue else None,
        recipient=target.recipient,
        recipient_name=target.recipient_name,
    )


def _enqueue(
    delivery: Delivery, alert_id: str, withdrawn: bool, kind: ChannelKind, now: int
) -> None:
    if withdrawn and not delivery.delivered:
        delivery.queue.clear()  # never told: the withdrawal would only confuse
        delivery.next_at = None
        return
    if kind.latest_only:
        delivery.queue = [alert_id]
        delivery.resend_at = None
        delivery.next_at = now
        return
    if not delivery.queue:
        delivery.next_at = now
    delivery.queue.append(alert_id)


def _forget_unqueued_intents(alert: Alert) -> None:
    keep = {alert.latest}
    for delivery in alert.deliveries.values():
        keep.update(delivery.queue)
    for alert_id in [a for a in alert.intents if a not in keep]:
        del alert.intents[alert_id]


def due_work(call: CallAlerts, now: int) -> Iterator[Work]:
    """Every attempt due at ``now``: the head of each queue, or a firing alert's re-send."""
    for alert in call.alerts.values():
        acked_by = alert.ack.by if alert.ack else None
        acked_until = alert.reopen_at if alert.ack else None
        for channel, delivery in alert.deliveries.items():
            if delivery.queue:
                if delivery.next_at is not None and delivery.next_at <= now:
                    head = delivery.queue[0]
                    yield Work(
                        call.call_id,
                        alert.dedup_key,
                        channel,
                        head,
                        alert.intents[head],
                        delivery.tier,
                        False,
                        delivery.attempts + 1,
                        delivery.failures > 0,
                        acked_by,
                        _cut_off(delivery, head, now),
                        delivery.recipient,
                        delivery.recipient_name,
                        acked_until,
                    )
            elif (
                alert.state == "firing"
                and delivery.resend_at is not None
                and delivery.resend_at <= now
            ):
                yield Work(
                    call.call_id,
                    alert.dedup_key,
                    channel,
                    alert.latest,
                    alert.intents[alert.latest],
                    delivery.tier,
                    True,
                    delivery.attempts + 1,
                    delivery.failures > 0,
                    acked_by,
                    _cut_off(delivery, alert.latest, now),
                    delivery.recipient,
                    delivery.recipient_name,
                    acked_until,
                )


def _cut_off(delivery: Delivery, alert_id: str, now: int) -> bool:
    """An attempt of ``alert_id`` started and its lease ran out without an outcome."""
    return (
        delivery.sending == alert_id
        and delivery.sending_until is not None
        and delivery.sending_until <= now
    )


def next_due(call: CallAlerts) -> int | None:
    """The earliest time anything about this call needs doing, or None."""
    times: list[int] = []
    for alert in call.alerts.values():
        if alert.state == "firing":
            if alert.ack is None:
                times.extend(t for t in (alert.escalate_at, alert.remind_at) if t is not None)
            elif alert.reopen_at is not None:
                times.append(alert.reopen_at)
        for delivery in alert.deliveries.values():
            if delivery.queue and delivery.next_at is not None:
                times.append(delivery.next_at)
            elif not delivery.queue and alert.state == "firing" and delivery.resend_at:
                times.append(delivery.resend_at)
    return min(times) if times else None


def _delivery(call: CallAlerts, work: Work) -> tuple[Alert, Delivery] | None:
    alert = call.alerts.get(work.dedup_key)
    if alert is None:
        return None
    delivery = alert.deliveries.get(work.channel)
    return None if delivery is None else (alert, delivery)


def started(call: CallAlerts, work: Work, lease_ms: int, now: int) -> bool:
    """The attempt is about to go out: in flight until an outcome, or until the lease ends.

    Returns False if the state no longer owes this work (nothing to send)."""
    found = _delivery(call, work)
    if found is None:
        return False
    _alert, delivery = found
    if not work.resend and (not delivery.queue or delivery.queue[0] != work.alert_id):
        return False
    delivery.sending = work.alert_id
    delivery.sending_until = now + lease_ms
    # not due again before the lease ends: then it is a possible repeat (due_work)
    if work.resend:
        delivery.resend_at = delivery.sending_until
    else:
        delivery.next_at = delivery.sending_until
    return True


def released(call: CallAlerts, work: Work, now: int) -> bool:
    """Undo ``started`` for an attempt that never reached its channel (a graceful
    stop cut it off before the call): due again at once, and not a possible repeat,
    since nobody can have received it. Returns False if it was not in flight."""
    found = _delivery(call, work)
    if found is None:
        return False
    _alert, delivery = found
    if delivery.sending != work.alert_id:
        return False
    _settled(delivery)
    if work.resend:
        delivery.resend_at = now
    elif delivery.queue:
        delivery.next_at = now
    return True


def _settled(delivery: Delivery) -> None:
    delivery.sending = None
    delivery.sending_until = None


def succeeded(call: CallAlerts, work: Work, kind: ChannelKind, now: int) -> bool:
    """The channel took the message. Returns False if the state no longer knows it."""
    found = _delivery(call, work)
    if found is None:
        return False
    alert, delivery = found
    _settled(delivery)
    delivery.attempts += 1
    delivery.failures = 0
    delivery.last_error = None
    if not work.resend:
        if work.alert_id in delivery.queue:
            delivery.queue.remove(work.alert_id)
        if work.alert_id not in delivery.delivered:
            delivery.delivered.append(work.alert_id)
        delivery.next_at = now if delivery.queue else None
    firing_is_current = alert.state == "firing" and work.alert_id == alert.latest
    delivery.resend_at = (
        now + kind.resend_ms
        if kind.resend_ms and firing_is_current and not delivery.queue
        else None
    )
    _forget_unqueued_intents(alert)
    return True


def failed(call: CallAlerts, work: Work, error: str, backoff: Backoff, now: int) -> int | None:
    """The attempt failed; schedule the retry. Returns when it is due (None if moot)."""
    found = _delivery(call, work)
    if found is None:
        return None
    _alert, delivery = found
    _settled(delivery)
    delivery.attempts += 1
    delivery.failures += 1
    delivery.last_error = error[:ERROR_CHARS]
    retry_at = now + backoff.delay(delivery.failures)
    if work.resend:
        delivery.resend_at = retry_at
    else:
        delivery.next_at = retry_at
    return retry_at


def failures(call: CallAlerts, work: Work) -> int:
    """How many attempts in a row have failed on the work's alert and channel."""
    found = _delivery(call, work)
    return 0 if found is None else found[1].failures


def deferred(call: CallAlerts, work: Work, until: int) -> None:
    """Not attempted (the channel just failed another message): try again at ``until``."""
    found = _delivery(call, work)
    if found is None:
        return
    _alert, delivery = found
    if work.resend:
        delivery.resend_at = max(delivery.resend_at or 0, until)
    elif delivery.queue:
        delivery.next_at = max(delivery.next_at or 0, until)


def acknowledge(
    call: CallAlerts,
    dedup_key: str,
    ack: Ack,
    kinds: Mapping[str, ChannelKind] | None = None,
    now: int | None = None,
    link_id: str | None = None,
) -> AckOutcome:
    """Record who acknowledged the alert; an acknowledged alert escalates no further.

    The acknowledgement is announced on every channel that carried the alert, so
    nobody else acts on it too; an escalation message not yet delivered to a later
    tier is withdrawn (nobody there needs it now). ``link_id``: the action link it
    came through, which works once."""
    alert = call.alerts.get(dedup_key)
    if alert is None:
        return "unknown_alert"
    if link_id is not None and link_id in alert.used_links:
        return "link_used"
    if alert.ack is not None:
        return "already_acknowledged"
    at = ack.at if now is None else now
    alert.ack = ack
    alert.escalate_at = None
    alert.remind_at = None
    alert.escalation_requested_by = None
    if link_id is not None:
        _use_link(alert, link_id, ack.ack_id)
    if alert.state != "firing":
        return "acknowledged"
    alert.reopen_at = at + alert.ack_timeout_ms if alert.ack_timeout_ms else None
    _drop_stale_notices(alert)
    for delivery in alert.deliveries.values():
        if delivery.tier > 0 and not delivery.delivered and delivery.sending is None:
            delivery.queue.clear()  # the escalation stops before it reaches anyone
            delivery.next_at = None
    _notify(alert, "acknowledged", {"ack": _ack_fields(ack)}, kinds or {}, at)
    _forget_unqueued_intents(alert)
    return "acknowledged"


def escalate_now(
    call: CallAlerts,
    dedup_key: str,
    by: str,
    now: int,
    link_id: str | None = None,
    request_id: str = "",
) -> EscalateOutcome:
    """ "Escalate now" from an alert: the next tier is told at the next step of time."""
    alert = call.alerts.get(dedup_key)
    if alert is None:
        return "unknown_alert"
    if link_id is not None and link_id in alert.used_links:
        return "link_used"
    if alert.state != "firing":
        return "not_firing"
    if alert.ack is not None:
        return "acknowledged_already"
    if alert.escalate_at is None:
        return "top_tier"
    alert.escalate_at = now
    alert.escalation_requested_by = by
    if link_id is not None:
        _use_link(alert, link_id, request_id)
    return "escalating"


def _use_link(alert: Alert, link_id: str, request_id: str) -> None:
    alert.used_links[link_id] = request_id
    for oldest in list(alert.used_links)[:-USED_LINKS_KEPT]:
        del alert.used_links[oldest]


def used_by_request(call: CallAlerts | None, dedup_key: str, request_id: str) -> bool:
    """Whether this very request already used its link (a redelivery, not a second use)."""
    alert = call.alerts.get(dedup_key) if call is not None else None
    return alert is not None and bool(request_id) and request_id in alert.used_links.values()


def _ack_fields(ack: Ack) -> dict[str, Any]:
    return {"by": ack.by, "at": ack.at, "comment": ack.comment, "via": ack.via}


def _notify(
    alert: Alert,
    notice: Notice,
    extra: Mapping[str, Any],
    kinds: Mapping[str, ChannelKind],
    now: int,
) -> None:
    """Queue one of the alerter's own messages on every message channel that carried
    the alert; latest-only channels (Alertmanager) re-send its state at once instead,
    which now says who acknowledged (a silence there)."""
    alert.notices += 1
    notice_id = f"{alert.latest}#{notice}#{alert.notices}"
    intent = dict(alert.intents[alert.latest])
    intent.update(extra, alert_id=notice_id, notice=notice, notice_of=alert.latest)
    queued = False
    for channel, delivery in alert.deliveries.items():
        if not delivery.delivered:
            continue  # never told of this alert: nothing to follow up
        if kinds.get(channel, MESSAGE_CHANNEL).latest_only:
            if not delivery.queue and alert.state == "firing":
                delivery.resend_at = now
            continue
        if not delivery.queue:
            delivery.next_at = now
        delivery.queue.append(notice_id)
        queued = True
    if queued:
        alert.intents[notice_id] = intent


def _drop_stale_notices(alert: Alert) -> None:
    """Reminders and re-open notices still queued say something no longer true."""
    for delivery in alert.deliveries.values():
        stale = [
            a
            for a in delivery.queue
            if a != delivery.sending
            and alert.intents.get(a, {}).get("notice") in ("reminder", "reopened")
        ]
        for alert_id in stale:
            delivery.queue.remove(alert_id)
        if not delivery.queue:
            delivery.next_at = None


def escalate(
    call: CallAlerts,
    route_of: Callable[[Alert], Route],
    now: int,
    targets: Targets = channel_targets,
    kinds: Mapping[str, ChannelKind] | None = None,
) -> list[Escalation]:
    """The passage of time for the call's firing alerts.

    An acknowledgement that has timed out opens the alert again (tier 0 told once
    more, escalation restarted); an unacknowledged alert gets its reminder when due;
    and every unacknowledged alert whose next tier is due moves up the ladder."""
    done: list[Escalation] = []
    kinds = kinds or {}
    for alert in call.alerts.values():
        if alert.state != "firing" or alert.fired_at is None:
            continue
        route = route_of(alert)
        if alert.ack is not None and alert.reopen_at is not None and alert.reopen_at <= now:
            done.append(_reopen(alert, route, now, targets, kinds))
        if alert.ack is None and alert.remind_at is not None and alert.remind_at <= now:
            minutes = (now - alert.fired_at) / 60_000
            _notify(alert, "reminder", {"unacknowledged_minutes": minutes}, kinds, now)
            interval = alert.renotify_ms or 0
            alert.remind_at = now + interval if interval > 0 else None
        while alert.ack is None and alert.escalate_at is not None and alert.escalate_at <= now:
            tier_index = alert.tier + 1
            if tier_index >= len(route.tiers):  # the routes changed under us
                alert.escalate_at = None
                break
            tier = route.tiers[tier_index]
            reached = tuple(targets(tier, now))
            added = tuple(t for t in reached if t.channel not in alert.deliveries)
            for target in added:
                alert.deliveries[target.channel] = _delivery_for(
                    target, tier_index, [alert.latest], now
                )
            alert.tier = tier_index
            requested_by = alert.escalation_requested_by
            alert.escalation_requested_by = None
            alert.escalate_at = route.escalate_at(alert.fired_at, tier_index)
            if requested_by is not None and alert.escalate_at is not None:
                # asked for early: the tier after this one keeps its own time from now
                alert.escalate_at = max(alert.escalate_at, now + _gap(route, tier_index))
            done.append(
                Escalation(
                    alert.dedup_key,
                    tier_index,
                    tier.after_ms,
                    tuple(t.channel for t in added),
                    added,
                    "requested" if requested_by else "unacknowledged",
                    requested_by,
                )
            )
    return done


def _gap(route: Route, tier: int) -> int:
    return route.tiers[tier + 1].after_ms - route.tiers[tier].after_ms


def _reopen(
    alert: Alert,
    route: Route,
    now: int,
    targets: Targets,
    kinds: Mapping[str, ChannelKind],
) -> Escalation:
    assert alert.ack is not None
    previous = alert.ack
    alert.timed_out_acks.append(previous)
    alert.ack = None
    alert.fired_at = now
    alert.tier = 0
    alert.escalate_at = route.escalate_at(now, 0)
    alert.remind_at = now + alert.renotify_ms if alert.renotify_ms else None
    alert.reopen_at = None
    reached = tuple(targets(route.tiers[0], now))
    added = tuple(t for t in reached if t.channel not in alert.deliveries)
    for target in added:  # whoever is on call now, if the shift changed meanwhile
        alert.deliveries[target.channel] = _delivery_for(target, 0, [alert.latest], now)
    minutes = (now - previous.at) / 60_000
    _notify(
        alert,
        "reopened",
        {"previous_ack": _ack_fields(previous), "ack_minutes": minutes},
        kinds,
        now,
    )
    return Escalation(alert.dedup_key, 0, 0, tuple(t.channel for t in added), added, "ack_timeout")


def delivered_on(alert: Alert, alert_id: str) -> Sequence[str]:
    """Channels that already have ``alert_id``: a repeated intent is absorbed there."""
    return [c for c, d in alert.deliveries.items() if alert_id in d.delivered]
