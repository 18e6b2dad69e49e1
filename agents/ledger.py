"""Ledger agents: what the pipeline did, into the log of record, by exactly one writer.

Two agents, so that no existing agent changes:

- **forward** reads the findings, deliveries, dead-letter and calls topics (every
  partition, shared across workers like any agent) and turns each record into a
  ledger *proposal* (``streams.ledger.entries``: redacted, with a deterministic
  id) on ``PREFIX.ledger``. It acknowledges its input only once Kafka has the
  proposals: at least once, so a proposal can arrive twice, never not at all.
  At start-up each worker also proposes the policy it runs.
- **write** reads ``PREFIX.ledger``, which has **one partition**: Kafka gives it to
  one member of the group at a time, so one worker appends, in the topic's order.
  It holds the log directory's writer lock (``callwatch.ledger.store``) while it
  owns the partition; a worker taking over waits for the lock, then re-reads the
  log from disk. Repeats are dropped by entry id; a batch is acknowledged only
  once it is fsynced, so after a crash or a takeover the next writer re-reads
  exactly what might be missing: no gaps, no duplicates, no fork.

After appending, the writer indexes one ``PREFIX-ledger`` document per entry (id:
the leaf index), for repeats too, so a crash between the two cannot leave an
entry without its document. Signed checkpoints are written every
``CALLWATCH_LEDGER_CHECKPOINT_SECONDS`` when the log grew, and on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import faust
import orjson
from faust.types import EventT, StreamT

from agents.es_sink import BulkSink, Doc
from agents.faust_compat.batching import batches
from agents.output import Output
from agents.topics import TopicNames
from callwatch.bootstrap import Components
from callwatch.ledger.publish import publish
from callwatch.ledger.signing import Signer
from callwatch.ledger.store import LedgerBusy, LedgerStore
from schemas import schema_path
from streams.engine.policy import DEFAULT_POLICY_FILE
from streams.ledger.entries import (
    Proposal,
    call_proposal,
    deadletter_proposal,
    delivery_proposal,
    finding_proposal,
    policy_proposal,
    receipt,
)
from streams.redaction import scrub

log = logging.getLogger("callwatch.ledger")

LEDGER_KEY = b"ledger"
BATCH = 1000
WITHIN_SECONDS = 0.2
LOCK_RETRY_SECONDS = 0.5


def register_ledger(
    app: faust.App, topics: TopicNames, components: Components, signer: Signer
) -> None:
    settings = components.settings
    assert settings.ledger_dir is not None
    ledger_topic_name = settings.topic("ledger")
    ledger_topic = app.topic(
        ledger_topic_name, partitions=1, value_serializer="raw", key_serializer="raw"
    )
    sources = app.topic(
        topics.findings,
        topics.deliveries,
        topics.deadletter,
        topics.calls,
        value_serializer="raw",
        key_serializer="raw",
    )
    directory = settings.ledger_dir
    redact = components.redactor
    index = settings.index("ledger")
    output = Output(app)

    def propose(record: EventT[bytes]) -> Proposal | None:
        message = record.message
        value = record.value if isinstance(record.value, bytes) else b""
        try:
            if message.topic == topics.findings:
                return finding_proposal(redact.finding(orjson.loads(value)))
            if message.topic == topics.deliveries:
                done = orjson.loads(value)
                if done.get("comment"):
                    done["comment"] = scrub(done["comment"], [])
                return delivery_proposal(done)
            if message.topic == topics.calls:
                return call_proposal(redact.call(orjson.loads(value)))
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            log.warning(
                "ledger: %s offset %d is not a record; logged as a dead letter by its stage",
                message.topic,
                message.offset,
            )
            return None
        headers = {
            str(k): bytes(v).decode("utf-8", "replace")
            for k, v in cast(list[tuple[str, bytes]], message.headers or [])
        }
        return deadletter_proposal(
            stage=headers.get("callwatch-stage", "unknown"),
            reason=headers.get("callwatch-reason", "unknown"),
            detail=headers.get("callwatch-detail", ""),
            original=value,
            source_topic=headers.get("callwatch-source-topic", message.topic),
            source_partition=int(headers.get("callwatch-source-partition", message.partition)),
            source_offset=int(headers.get("callwatch-source-offset", message.offset)),
            scrub=lambda text: scrub(text, []),
        )

    @app.agent(sources, name="callwatch.ledger.forward")
    async def forward(stream: StreamT[bytes]) -> None:
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            for record in batch:
                proposal = propose(record)
                if proposal is not None:
                    await output.send(ledger_topic_name, LEDGER_KEY, proposal.to_bytes())
            await output.flush()  # proposals durable before the input is acknowledged

    policy_source = (settings.policy_file or schema_path(DEFAULT_POLICY_FILE)).read_bytes()
    policy = components.policy

    @app.task  # type: ignore[untyped-decorator]
    async def propose_policy() -> None:
        proposal = policy_proposal(policy.name, policy.version, policy_source)
        pending = await ledger_topic.send(key=LEDGER_KEY, value=proposal.to_bytes())
        await pending

    held: dict[str, Any] = {"store": None, "checkpointed_at": 0.0}
    sink_holder: dict[str, BulkSink] = {}

    async def store() -> LedgerStore:
        """The log, with its writer lock: wait for a previous writer to let go."""
        while held["store"] is None:
            try:
                held["store"] = LedgerStore.open(directory)
            except LedgerBusy:
                await asyncio.sleep(LOCK_RETRY_SECONDS)
                continue
            opened = cast(LedgerStore, held["store"])
            if opened.recovery:
                log.warning("ledger: opened after a crash: %s", opened.recovery)
            log.info("ledger: writing %s from entry %d", settings.ledger_dir, opened.size)
        return cast(LedgerStore, held["store"])

    async def checkpoint(why: str) -> None:
        current = held["store"]
        if current is None:
            return
        if current.latest is not None and current.latest.checkpoint.size == current.size:
            return  # nothing new since the last one
        signed = current.checkpoint(
            signer.sign, settings.ledger_origin, time.time_ns() // 1_000_000
        )
        held["checkpointed_at"] = time.monotonic()
        log.info("ledger: checkpoint at size %d (%s)", signed.checkpoint.size, why)
        if settings.ledger_publish:
            await publish(settings.ledger_publish, signed.text())

    @app.agent(ledger_topic, name="callwatch.ledger.write")
    async def write(stream: StreamT[bytes]) -> None:
        if "sink" not in sink_holder:
            sink_holder["sink"] = BulkSink(components.es_async())
        async for batch in batches(stream, BATCH, WITHIN_SECONDS):
            log_store = await store()
            proposals = []
            for record in batch:
                try:
                    proposals.append(Proposal.from_bytes(cast(bytes, record.value)))
                except ValueError:
                    log.warning(
                        "ledger: offset %d of %s is not a proposal; skipped",
                        record.message.offset,
                        ledger_topic_name,
                    )
            added = log_store.append(proposals)
            log_store.commit()  # fsynced before the batch is acknowledged
            docs = [
                Doc(
                    index, str(a.index), receipt(a.index, a.proposal, log_store.state.leaf(a.index))
                )
                for a in added
            ]
            if docs:
                await sink_holder["sink"].write(docs)
            if time.monotonic() - held["checkpointed_at"] >= settings.ledger_checkpoint_seconds:
                await checkpoint("interval")

    @app.timer(1.0, name="callwatch.ledger.checkpoints")  # type: ignore[untyped-decorator]
    async def checkpoints() -> None:
        if time.monotonic() - held["checkpointed_at"] >= settings.ledger_checkpoint_seconds:
            await checkpoint("interval")

    async def _let_go(why: str) -> None:
        current = held["store"]
        if current is None:
            return
        await checkpoint(why)
        current.close()
        held["store"] = None

    async def _on_rebalance(sender: Any, **kwargs: Any) -> None:
        owns = any(tp.topic == ledger_topic_name for tp in app.consumer.assignment())
        if not owns:
            await _let_go("handing the ledger partition over")

    cast(Any, app.on_rebalance_complete).connect(_on_rebalance)

    async def _on_shutdown(sender: Any, **kwargs: Any) -> None:
        await _let_go("shutdown")

    cast(Any, app.on_before_shutdown).connect(_on_shutdown)
