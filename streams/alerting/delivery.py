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

from streams.alerting.routing import Route

AlertState = Literal["firing", "resolved"]
ReceiveOutcome = Literal["new", "updated", "duplicate"]
AckOutcome = Literal["acknowledged", "already_acknowledged", "unknown_alert"]

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


@dataclass(frozen=True, slots=True)
class Escalation:
    dedup_key: str
    tier: int
    after_ms: int
    channels: tuple[str, ...]  # channels newly told


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
) -> ReceiveOutcome:
    """Take an alert intent into the call's state and queue it on the channels owed it."""
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
            for channel in route.tiers[0].channels:
                alert.deliveries[channel] = Delivery(queue=[alert_id], next_at=now)
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
        for channel in route.tiers[0].channels:
            alert.deliveries.setdefault(channel, Delivery())
    if state == "resolved":
        alert.escalate_at = None
    for channel, delivery in alert.deliveries.items():
        _enqueue(delivery, alert_id, withdrawn, kinds.get(channel, MESSAGE_CHANNEL), now)
    _forget_unqueued_intents(alert)
    return "updated"


def _start_incident(alert: Alert, route: Route, now: int) -> None:
    alert.fired_at = now
    alert.tier = 0
    alert.ack = None
    alert.escalate_at = route.escalate_at(now, 0)


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
        if alert.escalate_at is not None and alert.state == "firing" and alert.ack is None:
            times.append(alert.escalate_at)
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


def acknowledge(call: CallAlerts, dedup_key: str, ack: Ack) -> AckOutcome:
    """Record who acknowledged the alert; an acknowledged alert escalates no further."""
    alert = call.alerts.get(dedup_key)
    if alert is None:
        return "unknown_alert"
    if alert.ack is not None:
        return "already_acknowledged"
    alert.ack = ack
    alert.escalate_at = None
    return "acknowledged"


def escalate(call: CallAlerts, route_of: Callable[[Alert], Route], now: int) -> list[Escalation]:
    """Move every firing, unacknowledged alert whose next tier is due up the ladder."""
    done: list[Escalation] = []
    for alert in call.alerts.values():
        while (
            alert.state == "firing"
            and alert.ack is None
            and alert.fired_at is not None
            and alert.escalate_at is not None
            and alert.escalate_at <= now
        ):
            route = route_of(alert)
            tier_index = alert.tier + 1
            if tier_index >= len(route.tiers):  # the routes changed under us
                alert.escalate_at = None
                break
            tier = route.tiers[tier_index]
            added = tuple(c for c in tier.channels if c not in alert.deliveries)
            for channel in added:
                alert.deliveries[channel] = Delivery(
                    tier=tier_index, queue=[alert.latest], next_at=now
                )
            alert.tier = tier_index
            alert.escalate_at = route.escalate_at(alert.fired_at, tier_index)
            done.append(Escalation(alert.dedup_key, tier_index, tier.after_ms, added))
    return done


def delivered_on(alert: Alert, alert_id: str) -> Sequence[str]:
    """Channels that already have ``alert_id``: a repeated intent is absorbed there."""
    return [c for c, d in alert.deliveries.items() if alert_id in d.delivered]
