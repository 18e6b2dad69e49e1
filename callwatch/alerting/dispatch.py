"""Drives the pure delivery state against real channels: what is due goes out, outcomes come back.

The state lives in a key-value store (the alerter's changelog-backed table,
keyed by call id) and is only ever changed by load -> pure function -> save
with no ``await`` in between, so the agent, the timer and the channel tasks,
all on one event loop, never overwrite each other's changes.

A send cannot be atomic with the record of its outcome, so it is bracketed:
the attempt is recorded as in flight and made durable (``durable``: the
changelog write acknowledged by Kafka) before the channel is called; the
outcome is made durable with the next attempt's record, or after the last. A
worker killed in between leaves the in-flight record; whoever owns the call
next sends the message again once its lease ends, marked as a possible repeat
(``streams.alerting.delivery``). Waiting for durability is bounded
(``DURABLE_WAIT_SECONDS``): with Kafka down, alerts still go out, unbracketed,
rather than wait for it.

A graceful stop (``stop``) starts nothing new, lets the sends under way finish
within a grace period and records their outcomes, hands back the attempts that
never reached their channel (due again at once, not marked as possible
repeats), and makes the state durable before the worker commits and exits.
Only a send still running when the grace ends is left in flight, as after a
crash: it may have reached the far end, so it goes again, marked, once its lease
ends.

Each channel has at most one task in flight. A slow or dead channel therefore
holds up only its own messages: the others keep going, and its own messages
wait in the state (durable) with backoff instead of piling up as retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

from callwatch import metrics
from callwatch.alerting.action_links import LinkSigner
from callwatch.alerting.base import DeliveryError, Outgoing
from callwatch.alerting.config import AlertsSetup, escalation_minutes
from streams.alerting import delivery as state
from streams.alerting.delivery import Ack, CallAlerts, ReceiveOutcome, Work
from streams.alerting.message import Message, render
from streams.alerting.records import (
    ack_record,
    attempt_record,
    escalation_record,
    is_escalate_request,
)
from streams.alerting.routing import Route, route_for
from streams.engine.deadlines import DeadlineQueue

log = logging.getLogger("callwatch.alerter")

# While a channel is busy, its other due work is looked at again this soon.
BUSY_RECHECK_MS: Final = 250
# End-to-end latency is observed only for live alerts; a replay's violation
# times are history, not pipeline latency.
LIVE_WINDOW_S: Final = 24 * 3600
# An attempt's lease outlasts the channel timeout by this much, so a live
# worker always records the outcome before its lease ends.
LEASE_MARGIN_MS: Final = 5_000
# How long a send waits for its in-flight record to reach Kafka.
DURABLE_WAIT_SECONDS: Final = 5.0
# Outcomes of recent requests (ack, escalate now), for the page that submitted them.
OUTCOMES_KEPT: Final = 1000

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
Durable = Callable[[], Awaitable[None]]


async def _nothing_to_flush() -> None:
    return None


class Store(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...

    def items(self) -> Iterable[tuple[bytes, bytes]]: ...


class Dispatcher:
    def __init__(
        self,
        setup: AlertsSetup,
        store: Store,
        emit: Emit,
        now_ms: Callable[[], int],
        owns: Callable[[str], bool] = lambda call_id: True,
        durable: Durable = _nothing_to_flush,
        signer: LinkSigner | None = None,
    ) -> None:
        # ``owns``: whether this worker is the one delivering for a call. The
        # in-memory table may still hold calls of partitions a rebalance moved away, and
        # two workers delivering the same alert would send it twice.
        self.owns = owns
        self.setup = setup
        self.store = store
        self.emit = emit
        self.now_ms = now_ms
        self.durable = durable
        self.signer = signer  # None: messages carry no action links
        self.outcomes: dict[str, str] = {}  # request (ack) id -> outcome, newest last
        self.lease_ms = int(setup.timeout_seconds * 1000) + LEASE_MARGIN_MS
        self.kinds = setup.kinds
        self.queue = DeadlineQueue()
        self.busy: set[str] = set()
        self.failing_since: dict[str, int] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._tick_lock = asyncio.Lock()
        self._observed: set[str] = set()  # alert ids whose latency was observed
        self.stopping = False  # a graceful stop has begun: start nothing new
        self._closed = False

    # ------------------------------------------------------------------ state
    def _load(self, call_id: str) -> CallAlerts | None:
        raw = self.store.get(call_id.encode())
        return state.load(raw) if raw else None

    def _save(self, call: CallAlerts) -> None:
        self.store.set(call.call_id.encode(), state.dump(call))
        self.queue.set(call.call_id, state.next_due(call))

    def _route_of(self, alert: state.Alert) -> Route:
        return route_for(self.setup.routes, alert.severity, alert.rule)

    def rebuild(self) -> int:
        """Re-schedule everything pending from the store (after a restart or rebalance)."""
        self.queue.clear()
        for key, raw in self.store.items():
            if raw and self.owns(key.decode()):
                self.queue.set(key.decode(), state.next_due(state.load(raw)))
        return len(self.queue)

    @property
    def pending(self) -> int:
        return len(self.queue)

    # ------------------------------------------------------------------ inputs
    def receive(self, intent: Mapping[str, Any]) -> ReceiveOutcome:
        call_id = str(intent["call_id"])
        call = self._load(call_id) or CallAlerts(call_id=call_id)
        route = route_for(self.setup.routes, str(intent["severity"]), str(intent["rule"]))
        outcome = state.receive(
            call, intent, route, self.kinds, self.now_ms(), self.setup.targets
        )
        if outcome == "duplicate":
            alert = call.alerts[str(intent["dedup_key"])]
            for channel in state.delivered_on(alert, str(intent["alert_id"])):
                metrics.alert(self.setup.channels[channel].channel_type, "deduplicated")
            return outcome
        self._save(call)
        return outcome

    async def acknowledge(self, request: Mapping[str, Any]) -> str:
        """A person's request: an acknowledgement, or "escalate now" from a link."""
        call_id, key = str(request["call_id"]), str(request["dedup_key"])
        request_id = str(request["ack_id"])
        if request_id in self.outcomes:
            return self.outcomes[request_id]  # this very request, redelivered: recorded
        call = self._load(call_id) or CallAlerts(call_id=call_id)
        now = self.now_ms()
        at = _millis(str(request["at"])) or now
        link_id = request.get("link_id")
        who = str(request["by"])
        outcome: str
        if state.used_by_request(call, key, request_id):
            # this very request, redelivered after a restart: recorded already
            return "escalating" if is_escalate_request(request) else "acknowledged"
        if is_escalate_request(request):
            outcome = state.escalate_now(call, key, who, now, link_id, request_id)
            changed = outcome == "escalating"
        else:
            ack = Ack(by=who, at=at, comment=request.get("comment"), ack_id=request_id,
                      via=str(request.get("via") or ""))
            alert = call.alerts.get(key)
            if alert is not None and alert.ack is not None and alert.ack.ack_id == request_id:
                return "acknowledged"  # this very ack, redelivered after a restart
            outcome = state.acknowledge(call, key, ack, self.kinds, now, link_id)
            changed = outcome == "acknowledged"
        if changed:
            self._save(call)
            log.warning("alert %s: %s by %s", key, outcome, who)
        else:
            log.warning("request on %s by %s: %s", key, who, outcome)
        self._remember(request_id, outcome)
        await self.emit(call_id, ack_record(request, outcome, call.alerts.get(key)))
        return outcome

    def _remember(self, request_id: str, outcome: str) -> None:
        self.outcomes[request_id] = outcome
        while len(self.outcomes) > OUTCOMES_KEPT:
            del self.outcomes[next(iter(self.outcomes))]

    def call_state(self, call_id: str) -> CallAlerts | None:
        """The call's alert state as this worker holds it (None: not here)."""
        return self._load(call_id)

    # ------------------------------------------------------------------ time
    async def tick(self) -> None:
        """Escalate what is due and start a task for every idle channel with due work."""
        if self._tick_lock.locked() or self.stopping:
            return
        async with self._tick_lock:
            now = self.now_ms()
            work: dict[str, list[Work]] = {}
            for call_id in self.queue.pop_due(now):
                call = self._load(call_id) if self.owns(call_id) else None
                if call is None:
                    continue
                before = state.dump(call)
                escalations = state.escalate(
                    call, self._route_of, now, self.setup.targets, self.kinds
                )
                # not only escalations change the state: reminders and re-openings too
                changed, waiting = state.dump(call) != before, False
                for item in state.due_work(call, now):
                    if item.channel not in self.setup.channels:
                        self._unknown_channel(call, item, now)
                        changed = True
                    elif item.channel in self.busy:
                        waiting = True
                    else:
                        work.setdefault(item.channel, []).append(item)
                if changed:
                    self.store.set(call_id.encode(), state.dump(call))
                due = state.next_due(call)
                if waiting:  # look again soon, without spinning on every tick
                    due = max(due or 0, now + BUSY_RECHECK_MS)
                self.queue.set(call_id, due)
                for escalation in escalations:
                    alert = call.alerts[escalation.dedup_key]
                    log.warning(
                        "alert %s (%s): tier %d told (%s)", escalation.dedup_key,
                        escalation.reason, escalation.tier,
                        ", ".join(f"{t.channel}{' for ' + t.recipient if t.recipient else ''}"
                                  for t in escalation.targets) or "no new channel",
                    )
                    await self.emit(call_id, escalation_record(alert, escalation, now))
            for channel, items in work.items():
                self.busy.add(channel)
                task = asyncio.ensure_future(self._deliver(channel, items))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def _unknown_channel(self, call: CallAlerts, item: Work, now: int) -> None:
        # The alerts file lost a channel that still owes messages: keep them (the
        # channel may come back) and say so, at the slowest retry pace.
        log.error("channel %r owes %s but is no longer configured", item.channel, item.alert_id)
        state.failed(call, item, "channel not configured", self.setup.backoff, now)

    async def _deliver(self, name: str, items: list[Work]) -> None:
        channel = self.setup.channels[name]
        # Least-tried first: a message the far end keeps refusing must not stand in
        # front of the others forever.
        items = sorted(items, key=lambda w: (w.retry, w.attempt))
        groups = [items] if channel.batches else [[item] for item in items]
        try:
            for index, group in enumerate(groups):
                if self.stopping:  # the rest was never started: still due in the state
                    break
                group = self._start(group)
                if not group:
                    continue
                try:
                    await self._make_durable()  # also carries the previous group's outcome
                except asyncio.CancelledError:
                    # Stopped before the channel was called: nobody can have this
                    # message. Without this it stayed "in flight" until its lease ended
                    # (channel timeout + 5 s) and only then went out, marked as a
                    # possible repeat: the alert missing after a rolling restart (#21).
                    self._release(group)
                    raise
                now = self.now_ms()
                try:
                    outgoing = [Outgoing(w, self._render(w), now) for w in group]
                    await asyncio.wait_for(channel.send(outgoing), self.setup.timeout_seconds)
                except Exception as exc:  # any failure is retried, never fatal
                    retry_at = await self._failed(name, group, _describe(exc))
                    if isinstance(exc, DeliveryError) and not exc.channel_down:
                        continue
                    # the channel is down: the rest wait for the same retry, untried
                    self._defer([w for g in groups[index + 1 :] for w in g], retry_at)
                    return
                await self._succeeded(name, group)
            await self._make_durable()
        finally:
            self.busy.discard(name)

    def _release(self, group: list[Work]) -> None:
        now = self.now_ms()
        for work in group:
            call = self._load(work.call_id)
            if call is not None and state.released(call, work, now):
                self._save(call)

    def _start(self, group: list[Work]) -> list[Work]:
        """Record the group's attempts as in flight; keep only work still owed."""
        now, started = self.now_ms(), []
        for work in group:
            call = self._load(work.call_id)
            if call is not None and state.started(call, work, self.lease_ms, now):
                self._save(call)
                started.append(work)
        return started

    async def _make_durable(self) -> None:
        try:
            await asyncio.wait_for(self.durable(), DURABLE_WAIT_SECONDS)
        except Exception as exc:  # Kafka slow, down or the producer stopping
            metrics.ALERT_STATE_UNFLUSHED.inc()
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("alert state not confirmed in Kafka (%s); delivering anyway", reason)

    def _render(self, work: Work) -> Message:
        intent = work.intent
        route = route_for(self.setup.routes, str(intent["severity"]), str(intent["rule"]))
        links = self.signer.links(work, self.now_ms()) if self.signer is not None else None
        return render(
            intent,
            self.setup.context.call_url_template,
            timezone=self.setup.context.timezone,
            escalated_after_minutes=escalation_minutes(route, work.tier),
            acknowledged_by=work.acked_by,
            possible_repeat=work.possible_repeat,
            links=links,
        )

    async def _succeeded(self, name: str, group: list[Work]) -> None:
        channel = self.setup.channels[name]
        now = self.now_ms()
        if name in self.failing_since:
            down = (now - self.failing_since.pop(name)) / 1000
            log.warning("channel %s delivering again after %.0f s of failures", name, down)
        for work in group:
            call = self._load(work.call_id)
            if call is None or not state.succeeded(call, work, channel.kind, now):
                continue
            self._save(call)
            metrics.alert(channel.channel_type, "repeated" if work.possible_repeat else "sent")
            self._observe_latency(work, now)
            await self.emit(
                work.call_id,
                attempt_record(work, channel_type=channel.channel_type, outcome="sent",
                               attempt=work.attempt, at=now),
            )

    async def _failed(self, name: str, group: list[Work], error: str) -> int:
        channel = self.setup.channels[name]
        now = self.now_ms()
        if name not in self.failing_since:
            self.failing_since[name] = now
            log.warning("channel %s failing (%s); retrying with backoff", name, error)
        retry_at = now + self.setup.backoff.initial_ms
        for work in group:
            call = self._load(work.call_id)
            if call is None:
                continue
            due = state.failed(call, work, error, self.setup.backoff, now)
            self._save(call)
            retry_at = max(retry_at, due or now)
            # every failed attempt will be retried; "failed" is counted once, when a
            # message has kept failing long enough for operators to hear of it
            metrics.alert(channel.channel_type, "retried")
            if state.failures(call, work) == self.setup.failed_after_attempts:
                metrics.alert(channel.channel_type, "failed")
                log.error("alert %s still undelivered on %s after %d attempts (%s)",
                          work.alert_id, name, self.setup.failed_after_attempts, error)
            await self.emit(
                work.call_id,
                attempt_record(work, channel_type=channel.channel_type, outcome="failed",
                               attempt=work.attempt, at=now, error=error, next_attempt_at=due),
            )
        return retry_at

    def _defer(self, items: list[Work], until: int) -> None:
        for work in items:
            call = self._load(work.call_id)
            if call is not None:
                state.deferred(call, work, until)
                self._save(call)

    def _observe_latency(self, work: Work, now: int) -> None:
        if work.resend or work.intent.get("state") != "firing" or work.alert_id in self._observed:
            return
        if len(self._observed) > 100_000:  # only a guard against double counting
            self._observed.clear()
        self._observed.add(work.alert_id)
        violation = _millis(str(work.intent.get("violation_at") or ""))
        if violation is not None and 0 <= now - violation <= LIVE_WINDOW_S * 1000:
            metrics.observe_end_to_end(violation / 1000, now / 1000)

    async def stop(self, grace_seconds: float) -> int:
        """Stop delivering gracefully; returns how many sends the grace cut off.

        1. Start nothing new (``tick`` and each channel task's next group check
           ``stopping``); what is due stays due in the state for the next owner.
        2. Let the sends under way finish for up to ``grace_seconds``: their
           outcomes are recorded as usual.
        3. Cancel what is still running. An attempt cancelled before its channel
           was called is handed back (``_release``); one cancelled during the call
           stays in flight and is re-sent after its lease, marked.
        4. Make the state durable, so the changelog has all of it before the
           worker commits its offsets and exits.
        """
        self.stopping = True
        running = set(self.tasks)
        if running:
            _done, running = await asyncio.wait(running, timeout=grace_seconds)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if running:
            log.warning("stopping: %d alert send(s) still running after %.0f s were cut off;"
                        " they go again after their lease, marked as possible repeats",
                        len(running), grace_seconds)
        await self._make_durable()
        await self.close()
        return len(running)

    async def close(self) -> None:
        """Cancel whatever is running and close the channels (idempotent)."""
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if not self._closed:
            self._closed = True
            for channel in self.setup.channels.values():
                await channel.aclose()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DeliveryError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    log.exception("unexpected error delivering an alert")
    return f"unexpected {type(exc).__name__}"


def _millis(iso: str) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None
