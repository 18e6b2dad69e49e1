"""Engine agent: events -> per-call state (changelog-backed table) -> findings and calls.

Absence deadlines live inside each call's state, so they survive a restart with
the table; an in-memory queue of wake-up times is rebuilt from the table after
every rebalance, and a one-second timer fires whatever is due.

Order of writes, for at-least-once without loss: a batch (or a timer tick)
first makes its outputs durable (findings, alert intents, call pictures), then
stores the new states in the table and flushes their changelog records, and
only then is the batch acknowledged. A crash before the states are stored
replays the events against the old states and sends the outputs again
(repeats, ignored downstream by id); the other order could store a state whose
finding never went out, and the replayed event, now a duplicate, would not
send it again. A lock keeps the timer from reading a state a batch is still
writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any, cast

import faust
import orjson
from faust.types import EventT, StreamT

from agents.faust_compat import positions
from agents.faust_compat.batching import batches
from agents.faust_compat.in_order import InOrder
from agents.lifecycle import on_stopping
from agents.output import Headers, Output
from agents.topics import TopicNames, deadletter_headers
from agents.topics import partition_of as topics_partition_of
from callwatch import metrics
from callwatch.bootstrap import Components
from streams.codec import Rejected, decode
from streams.engine.clock import holds_time_back
from streams.engine.deadlines import DeadlineQueue
from streams.engine.facts import to_millis
from streams.engine.records import alert_intent, call_record, finding_record
from streams.engine.state import CallState, Step, dump_state, load_state

log = logging.getLogger(__name__)

BATCH = 500
WITHIN_SECONDS = 0.05
TICK_SECONDS = 0.5
ASK_TIMEOUT_SECONDS = 5.0  # asking Kafka where a partition stands
UNKNOWN_WARN_SECONDS = 60.0  # a partition still unplaced after this long is logged
# (topic, key, value, headers): one record of a batch's output
Message = tuple[str, bytes | None, bytes, Headers | None]
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
    calls_name, findings_name, alerts_name = topics.calls, topics.findings, topics.alerts
    events_name = topics.events
    deadletter_name = topics.deadletter
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
    watch = {"needed": True}
    seeds: dict[int, int] = {}  # partition -> recovered latest event time, not yet observed
    in_order = InOrder(app)  # each events partition's records applied in offset order
    lock = asyncio.Lock()  # a batch and a timer tick never interleave
    partitions = components.settings.topic_partitions
    severity_of = {rule.id: rule.severity for rule in policy.rules}

    def changes_out(key: bytes, step: Step, out: list[Message]) -> None:
        """Queue what changed, serialised now: a later event in the same batch may
        change the same finding again, and each transition must go out as it was."""
        for change in step.changes:
            out.append((findings_name, key, orjson.dumps(finding_record(change, policy)), None))
            intent = alert_intent(change, policy)
            if intent is not None:
                out.append((alerts_name, key, orjson.dumps(intent), None))
            status = _COUNTED_TRANSITIONS.get(change.transition)
            if status is not None:
                metrics.finding(change.rule.id, change.rule.severity, status)
            if change.transition == "opened" and change.finding.status == "resolved":
                # found already cured (e.g. a late commander seen in one go): keep the gauge right
                metrics.finding(change.rule.id, change.rule.severity, "resolved")
        if step.newly_flagged == "immigration" and step.state is not None:
            metrics.immigration_call(step.state.originator.agency or "other")
        elif step.newly_flagged == "review":
            metrics.review_queue_call()

    def picture(key: bytes, state: CallState | None, stamp: str, out: list[Message]) -> None:
        """Queue the call's current picture."""
        if state is not None and not state.tombstone:
            call = call_record(state)
            call["updated_at"] = stamp
            out.append((calls_name, key, orjson.dumps(call), None))

    def persist(key: bytes, state: CallState | None) -> None:
        """Store the call's state (table + changelog) and schedule its next wake-up."""
        if state is None:
            table.pop(key, None)
            queue.set(key.decode(), None)
            return
        table[key] = dump_state(state)
        queue.set(state.call_id, engine.next_wakeup(state))

    async def send_all(
        output: Output, messages: list[Message], states: dict[bytes, CallState | None]
    ) -> None:
        for topic, key, value, headers in messages:
            await output.send(topic, key, value, headers)
        await output.flush()  # the outputs are durable: now the states may be stored
        for key, state in states.items():
            persist(key, state)
        # Their changelog records are flushed by the consumer before it commits the
        # batch's offsets (faust flushes the producer first).

    def watch_partitions() -> None:
        """Make each events partition this worker owns count for the clock at once.

        A partition whose events are not in yet (its fetch is behind, or a backlog
        after an outage or a takeover) then holds time back, as the clock holds
        back for any partition still flowing, until its events arrive or it has been
        idle ``idle_ms``; otherwise the partitions already read would set the time,
        and its calls' deadlines would be judged before their events were seen
        (findings opened, then retracted).
        """
        for tp in app.assignor.assigned_actives():
            if tp.topic == events_name:
                clock.observe(0, tp.partition)

    # What Kafka said of partitions the consumer could not place (see faust_compat.positions):
    # their end offsets and where they start (the committed offset; 0 if none), until
    # the next rebalance.
    asked_end: dict[Any, int] = {}
    asked_start: dict[Any, int] = {}
    unknown_since: dict[Any, float] = {}
    asking: dict[str, asyncio.Future[None] | None] = {"task": None}

    def unread(consumer: Any, tp: Any) -> int | None:
        """Events of ``tp`` not yet processed (None while its end or start is unknown)."""
        end: int | None = consumer.highwater(tp)
        if end is None:
            end = asked_end.get(tp)
        if end is None or end == 0:
            return end
        position = in_order.next_offset(tp)
        if position is None:  # nothing processed since the assignment: where it starts
            position = consumer._committed_offset.get(tp)
        if position is None:
            position = asked_start.get(tp)
        return None if position is None else end - position

    async def place_unknown() -> None:
        """Ask Kafka where the partitions stand that the consumer cannot place: held
        back as unknown, they would otherwise hold every deadline back for good."""
        consumer = cast(Any, app.consumer)
        unknown = [
            tp for tp in app.assignor.assigned_actives()
            if tp.topic == events_name and unread(consumer, tp) is None
        ]
        now = time.monotonic()
        for tp in list(unknown_since):
            if tp not in unknown:
                del unknown_since[tp]
        if not unknown:
            return
        for tp in unknown:
            since = unknown_since.setdefault(tp, now)
            if now - since >= UNKNOWN_WARN_SECONDS:
                unknown_since[tp] = now  # warn again after as long
                log.warning(
                    "engine: where %s stands is still unknown after %.0f s; its calls'"
                    " deadlines, and every partition's on this worker, wait for it",
                    tp, UNKNOWN_WARN_SECONDS,
                )
        try:
            ends, committed = await asyncio.wait_for(
                positions.ask_kafka(consumer, unknown), ASK_TIMEOUT_SECONDS
            )
        except Exception as exc:  # Kafka unreachable or rebalancing: ask again next tick
            log.debug("engine: asking Kafka where %s stand failed: %r", unknown, exc)
            return
        asked_end.update(ends)
        # Never committed: the consumer reads it from the beginning.
        asked_start.update({tp: 0 if at is None else at for tp, at in committed.items()})

    def hold_backlogged() -> None:
        """Partitions with events not read yet, or not yet in Kafka from this worker's
        producer, keep holding time back (``clock.hold``),
        so a worker stalled for longer than the idle time (a slow commit, a busy host)
        does not let the other partitions' time fire their calls' deadlines early.
        A partition with nothing left to read starts its clock from its recovered
        state's latest event time, if it has not yet (see ``tick``)."""
        consumer = cast(Any, app.consumer)
        # Events this worker's ingest has not got into Kafka yet (a partition without a
        # leader during a failover) are still to come too.
        sending = positions.sending_to(app.producer, events_name)
        for tp in app.assignor.assigned_actives():
            if tp.topic != events_name:
                continue
            left = unread(consumer, tp)
            if holds_time_back(left) or tp.partition in sending:
                clock.hold(tp.partition)
            elif tp.partition in seeds:
                clock.observe(seeds.pop(tp.partition), tp.partition)

    def partition_of(key: bytes) -> int:
        """The events (and changelog) partition of a call."""
        return topics_partition_of(key, partitions)

    @app.agent(events_topic, name="callwatch.engine")
    async def process(stream: StreamT[bytes]) -> None:
        output = Output(app)
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            async with lock:
                started = time.perf_counter()
                if watch["needed"]:
                    watch["needed"] = False
                    watch_partitions()
                messages: list[Message] = []
                # The batch's calls, as they stand after its events: each call's state is
                # decoded and encoded once per batch, its changelog record and picture sent once.
                touched: dict[bytes, CallState] = {}
                applied = 0
                for record in batch:
                    # A call's events are applied in the order they were written; one
                    # past a gap waits for the gap to be read (agents.faust_compat.in_order).
                    if not in_order.admit(record):
                        continue
                    raw = record.value if isinstance(record.value, bytes) else b""
                    event = decode(raw)
                    if isinstance(event, Rejected):  # only if something bypassed ingest
                        dead = _dead_letter(deadletter_name, record, event.reason, event.detail)
                        messages.append(dead)
                        continue
                    key = event.call_id.encode()
                    if isinstance(record.key, bytes) and record.key != key:
                        # Under another key it may sit in another partition than its call's
                        # state and deadlines: applying it would split the call in two.
                        messages.append(_dead_letter(
                            deadletter_name, record, "contract_violation",
                            f"event {event.event_id} of call {event.call_id} keyed otherwise",
                        ))
                        continue
                    clock.observe(to_millis(event.occurred_at), record.message.partition)
                    state = touched.get(key)
                    if state is None:
                        stored = table.get(key)
                        state = load_state(stored) if stored else None
                    try:
                        step = engine.apply(state, event, clock.now_for(record.message.partition))
                    except Exception as exc:
                        # The core is deterministic: an event it cannot apply fails the same
                        # way on every retry, and exiting on it would crash-loop the worker.
                        log.exception("engine: event %s cannot be applied", event.event_id)
                        messages.append(_dead_letter(
                            deadletter_name, record, "contract_violation",
                            f"the engine cannot apply event {event.event_id}: {exc!r}"[:500],
                        ))
                        continue
                    if step.late:
                        messages.append(
                            _dead_letter(
                                deadletter_name,
                                record,
                                "late_after_eviction",
                                f"call {event.call_id} was closed and evicted before this event",
                            )
                        )
                        continue
                    applied += 1
                    if step.duplicate or step.state is None:
                        continue
                    touched[key] = step.state
                    changes_out(key, step, messages)
                stamp = _iso_now()
                for key, state in touched.items():
                    picture(key, state, stamp, messages)
                await send_all(output, messages, dict(touched))
                in_order.release()
            metrics.batch_processed("engine", len(batch), applied, time.perf_counter() - started)

    timer_output = Output(app)

    @app.timer(TICK_SECONDS, name="callwatch.engine.deadlines")  # type: ignore[untyped-decorator]
    async def fire_deadlines() -> None:
        if not cast(Any, app.tables).recovery.completed.is_set():
            return
        # In the background, one at a time: neither a batch nor this timer waits for
        # Kafka's answer (a tick that did ran over its interval on a busy start).
        if asking["task"] is None or asking["task"].done():
            asking["task"] = asyncio.ensure_future(place_unknown())
        async with lock:
            await tick()
        metrics.deadlines_pending(len(queue))

    async def tick() -> None:
        if watch["needed"]:
            watch["needed"] = False
            watch_partitions()
        if rebuild["needed"]:
            rebuild["needed"] = False
            queue.clear()
            # Only the calls of the partitions this worker owns: the in-memory table may
            # still hold calls of partitions a rebalance moved away, whose deadlines are
            # now another worker's.
            active = {
                tp.partition for tp in app.assignor.assigned_actives() if tp.topic == events_name
            }
            latest: dict[int, int] = {}
            open_findings: Counter[tuple[str, str]] = Counter()
            for key, stored in list(table.items()):
                partition = partition_of(key)
                if stored and partition in active:
                    state = load_state(stored)
                    queue.set(state.call_id, engine.next_wakeup(state))
                    if state.facts:
                        latest[partition] = max(latest.get(partition, 0), state.facts[-1].t)
                    for rule, finding in state.findings.items():
                        if finding.status == "open" and rule in severity_of:
                            open_findings[(rule, severity_of[rule])] += 1
            # The gauge counts the open findings of the calls this worker owns, from their
            # state: after a restart or a rebalance it starts right, not from zero.
            metrics.set_open_findings(open_findings)
            # After a restart no event may come for a while: start each partition's clock
            # from the latest event time its recovered state has seen, so deadlines still
            # fire -- per partition, and only once the partition has no unread events:
            # the recovered state can be ahead of the committed offset (a SIGKILL keeps
            # some of a batch's state changes and loses others), and its time would
            # judge the calls whose events are still to be read again (a false finding).
            seeds.clear()
            seeds.update(latest)
        hold_backlogged()
        due = queue.pop_due(clock.now())
        if not due:
            return
        messages: list[Message] = []
        states: dict[bytes, CallState | None] = {}
        stamp = _iso_now()
        for call_id in due:
            key = call_id.encode()
            stored = table.get(key)
            if not stored:
                continue
            state = load_state(stored)
            due_at = engine.next_wakeup(state)
            now = clock.now_for(partition_of(key))
            if due_at is not None and due_at > now:
                queue.set(call_id, due_at)  # its partition has not got there yet
                continue
            step = engine.tick(state, now)
            for change in step.changes:
                if due_at is not None and change.transition == "opened":
                    metrics.observe_deadline_lateness(due_at / 1000, now / 1000)
            changes_out(key, step, messages)
            picture(key, step.state, stamp, messages)
            states[key] = step.state
        await send_all(timer_output, messages, states)

    async def _stop_asking() -> None:
        task = asking["task"]
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    on_stopping(app, _stop_asking)

    async def _on_rebalance(sender: Any, **kwargs: Any) -> None:
        rebuild["needed"] = True
        watch["needed"] = True
        asked_end.clear()
        asked_start.clear()
        unknown_since.clear()

    cast(Any, app.on_rebalance_complete).connect(_on_rebalance)


def _dead_letter(topic: str, record: EventT[bytes], reason: str, detail: str) -> Message:
    message = record.message
    metrics.dead_letter(reason)
    value = record.value if isinstance(record.value, bytes) else b""
    headers = deadletter_headers(
        stage="engine",
        reason=reason,
        detail=detail,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
    )
    return (topic, record.key if isinstance(record.key, bytes) else None, value, headers)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
