"""Engine agent: events -> per-call state (changelog-backed table) -> findings and calls.

Absence deadlines live inside each call's state, so they survive a restart with
the table; an in-memory queue of wake-up times is rebuilt from the table after
every rebalance, and a one-second timer fires whatever is due.
"""

from __future__ import annotations

import time
from typing import Any, cast

import faust
import orjson
from faust.types import EventT, StreamT

from agents.batching import batches
from agents.topics import TopicNames, deadletter_headers
from callwatch import metrics
from callwatch.bootstrap import Components
from streams.codec import Rejected, decode
from streams.engine.deadlines import DeadlineQueue
from streams.engine.facts import to_millis
from streams.engine.records import alert_intent, call_record, finding_record
from streams.engine.state import Step, dump_state, load_state

BATCH = 500
WITHIN_SECONDS = 0.05
TICK_SECONDS = 0.5
# A pseudo-partition for the clock: event time restored from state after a restart.
RECOVERED_PARTITION = -1
# Finding transitions as counted in callwatch_findings_total ('updated' is not counted).
_COUNTED_TRANSITIONS: dict[str, metrics.FindingStatus] = {
    "opened": "opened",
    "reopened": "opened",
    "resolved": "resolved",
    "retracted": "retracted",
}


def register_engine(app: faust.App, topics: TopicNames, components: Components) -> None:
    engine = components.engine
    clock = components.clock
    policy = components.policy
    events_topic = app.topic(topics.events, value_serializer="raw", key_serializer="raw")
    calls_topic = app.topic(topics.calls, value_serializer="raw", key_serializer="raw")
    findings_topic = app.topic(topics.findings, value_serializer="raw", key_serializer="raw")
    alerts_topic = app.topic(topics.alerts, value_serializer="raw", key_serializer="raw")
    deadletter_topic = app.topic(topics.deadletter, value_serializer="raw", key_serializer="raw")
    # use_partitioner: the changelog partition is chosen by key hash, exactly as
    # the events topic was partitioned (both keyed by call id), instead of from
    # "the current event" -- which, in a batch or a timer, is not this key's.
    table = app.Table(
        "callstate",
        default=None,
        key_type=bytes,
        value_type=bytes,
        partitions=components.settings.topic_partitions,
        use_partitioner=True,
    )
    queue = DeadlineQueue()
    rebuild = {"needed": True}
    events_in = metrics.EVENTS_IN.labels(stage="engine")
    events_out = metrics.EVENTS_OUT.labels(stage="engine")
    seconds = metrics.PROCESSING_SECONDS.labels(stage="engine")
    last = metrics.LAST_PROCESSED.labels(stage="engine")

    async def emit(key: bytes, step: Step, now: int) -> None:
        """Persist the call's new state and send what changed."""
        if step.state is None:
            table.pop(key, None)
            queue.set(key.decode(), None)
        else:
            table[key] = dump_state(step.state)
            queue.set(step.state.call_id, engine.next_wakeup(step.state))
        for change in step.changes:
            record = finding_record(change, policy)
            await findings_topic.send(key=key, value=orjson.dumps(record))
            intent = alert_intent(change, policy)
            if intent is not None:
                await alerts_topic.send(key=key, value=orjson.dumps(intent))
            status = _COUNTED_TRANSITIONS.get(change.transition)
            if status is not None:
                metrics.finding(change.rule.id, change.rule.severity, status)
            if change.transition == "opened" and change.finding.status == "resolved":
                # found already cured (e.g. a late commander seen in one go): keep the gauge right
                metrics.finding(change.rule.id, change.rule.severity, "resolved")
        if step.state is not None and not step.state.tombstone:
            call = call_record(step.state)
            call["updated_at"] = _iso_now()
            await calls_topic.send(key=key, value=orjson.dumps(call))
            if step.newly_flagged == "immigration":
                metrics.immigration_call(step.state.originator.agency or "other")
            elif step.newly_flagged == "review":
                metrics.REVIEW_QUEUE_CALLS.inc()

    @app.agent(events_topic, name="callwatch.engine")
    async def process(stream: StreamT[bytes]) -> None:
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            started = time.perf_counter()
            for record in batch:
                raw = record.value if isinstance(record.value, bytes) else b""
                event = decode(raw)
                if isinstance(event, Rejected):  # only if something bypassed ingest
                    await _dead_letter(deadletter_topic, record, event.reason, event.detail)
                    continue
                clock.observe(to_millis(event.occurred_at), record.message.partition)
                key = event.call_id.encode()
                stored = table.get(key)
                step = engine.apply(load_state(stored) if stored else None, event, clock.now())
                if step.late:
                    await _dead_letter(
                        deadletter_topic,
                        record,
                        "late_after_eviction",
                        f"call {event.call_id} was closed and evicted before this event",
                    )
                    continue
                if not step.duplicate:
                    await emit(key, step, clock.now())
                events_out.inc()
            await app.producer.flush()
            events_in.inc(len(batch))
            seconds.observe((time.perf_counter() - started) / len(batch))
            last.set(time.time())

    @app.timer(TICK_SECONDS, name="callwatch.engine.deadlines")  # type: ignore[untyped-decorator]
    async def fire_deadlines() -> None:
        if not cast(Any, app.tables).recovery.completed.is_set():
            return
        if rebuild["needed"]:
            rebuild["needed"] = False
            queue.clear()
            latest = 0
            for _key, stored in list(table.items()):
                if stored:
                    state = load_state(stored)
                    queue.set(state.call_id, engine.next_wakeup(state))
                    latest = max(latest, state.facts[-1].t if state.facts else 0)
            if latest:
                # After a restart no event may come for a while: start the clock from the
                # latest event time the recovered state has seen, so deadlines still fire.
                clock.observe(latest, RECOVERED_PARTITION)
        now = clock.now()
        due = queue.pop_due(now)
        for call_id in due:
            key = call_id.encode()
            stored = table.get(key)
            if not stored:
                continue
            state = load_state(stored)
            due_at = engine.next_wakeup(state)
            step = engine.tick(state, now)
            for change in step.changes:
                if due_at is not None and change.transition == "opened":
                    metrics.DEADLINE_LATENESS_SECONDS.observe(max(0, now - due_at) / 1000)
            await emit(key, step, now)
        if due:
            await app.producer.flush()
        metrics.DEADLINES_PENDING.set(len(queue))

    async def _on_rebalance(sender: Any, **kwargs: Any) -> None:
        rebuild["needed"] = True

    cast(Any, app.on_rebalance_complete).connect(_on_rebalance)


async def _dead_letter(
    topic: faust.TopicT, record: EventT[bytes], reason: str, detail: str
) -> None:
    message = record.message
    await topic.send(
        key=record.key,
        value=record.value,
        headers=deadletter_headers(
            stage="engine",
            reason=reason,
            detail=detail,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
        ),
    )
    metrics.DEAD_LETTERS.labels(reason=reason).inc()


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
