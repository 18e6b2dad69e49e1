"""Two workers in one consumer group, one SIGKILLed: the other takes over.

Its partitions, the per-call state of those partitions (recovered from the
changelog), and the absence deadlines pending on them. The killed worker stays
a group member until its session times out (10 s here: BROKER_SESSION_TIMEOUT,
faust's default is 60 s), so that is most of the recovery time.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient

from schemas import schema_path
from streams.codec import encode
from tests.engine_helpers import ev
from tests.faults.accounting import (
    KnownStream,
    Ledger,
    Row,
    publish,
    read_topic,
    simulated_stream,
    wait_until,
)
from tests.faults.conftest import Pipeline
from tests.faults.scenario import Fault, Publisher, run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(900)]


def members(ledger: Ledger, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=ledger.bootstrap, request_timeout_ms=10_000)
    try:
        description = admin.describe_groups([group])[group]
        return len(description["members"]) if description["group_state"] == "Stable" else 0
    finally:
        admin.close()


def both_in_the_group(p: Pipeline) -> None:
    """Publish only once both workers hold partitions: this scenario is about a takeover.
    (A worker joining while the stream flows can hold the rebalance up to faust's
    broker_rebalance_timeout, 60 s: see the report.)"""
    group = p.env()["CALLWATCH_APP_ID"]
    wait_until("both workers in the group", lambda: members(p.ledger, group) == 2, 150, p.alive)


def committed(ledger: Ledger, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=ledger.bootstrap, request_timeout_ms=10_000)
    try:
        offsets = admin.list_group_offsets(group)[group]
        return {(tp.topic, tp.partition): o.offset for tp, o in offsets.items()}
    finally:
        admin.close()


def test_two_workers_one_killed_mid_stream(pipeline: Pipeline, fault_table) -> None:
    """The survivor takes over the killed worker's partitions and their call state."""
    fault = Fault(lambda p, pub: None)

    def inject(p: Pipeline, publisher: Publisher) -> None:
        ledger = p.ledger
        group = p.env()["CALLWATCH_APP_ID"]
        raw = ledger.topic("raw")
        # both workers own partitions and have committed some of them
        wait_until(
            "both workers processing",
            lambda: all(
                w.metric("callwatch_events_in_total", stage="ingest") > 0 for w in p.workers
            ),
            60,
            p.alive,
        )
        time.sleep(p.rng.uniform(0.5, 3.0))
        before = {tp: o for tp, o in committed(ledger, group).items() if tp[0] == raw}
        p.kill(p.workers[0])
        killed_at = time.monotonic()

        def all_partitions_move() -> bool:
            now = committed(ledger, group)
            return all(now.get(tp, 0) > o for tp, o in before.items())

        wait_until("every raw partition committed further", all_partitions_move, 180, p.alive)
        fault.recoveries.append(time.monotonic() - killed_at)

    fault.inject = inject
    run_scenario(
        pipeline,
        fault_table,
        "2 workers, one SIGKILLed mid-stream (takeover)",
        simulated_stream(),
        fault,
        rate=100,
        workers=2,
        before_publish=both_in_the_group,
    )


def short_deadline_policy(tmp: Path) -> Path:
    text = schema_path("policies/louisville.v1.yaml").read_text()
    policy = tmp / "policy.yaml"
    policy.write_text(text.replace("deadline_minutes: 10", "deadline_minutes: 0.25"))
    return policy


def ice_calls(n: int) -> list[bytes]:
    """Calls from ICE received now, no commanding officer: each due to break C2 in 15 s."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        received = ev("call.received", f"ICE-TAKEOVER-{i:02d}", 0, caller={"agency": "ICE"})
        fields = {f: getattr(received, f) for f in received.__struct_fields__}
        out.append(encode(type(received)(**{**fields, "occurred_at": now, "received_at": now})))
    return out


def test_two_workers_pending_deadlines_taken_over(pipeline: Pipeline, fault_table) -> None:
    """The deadlines pending on the killed worker's calls fire on the survivor, once each."""
    env = {
        "CALLWATCH_POLICY_FILE": str(short_deadline_policy(pipeline.tmp)),
        "CALLWATCH_LATENESS_SECONDS": "1",
    }
    a, b = pipeline.worker(**env), pipeline.worker(**env)
    ledger = pipeline.ledger
    both_in_the_group(pipeline)
    stream = KnownStream("12 ICE calls", 0, [], [], Counter(), Counter(), Counter(), set(), {})
    due_at = time.time() + 15  # ice_calls stamps the calls now; C2 falls due 15 s later
    stream.extend(ice_calls(12))
    stream.agency_calls = set(stream.events_per_call)
    stream.expected_findings = {(c, "commander-notified"): "open" for c in stream.agency_calls}
    publish(ledger.bootstrap, ledger.topic("raw"), stream.items, stream.keys)
    wait_until(
        "the calls processed, deadlines pending on both workers",
        lambda: (
            ledger.count("calls") == 12
            and all(w.metric("callwatch_deadlines_pending") > 0 for w in (a, b))
        ),
        60,
        pipeline.alive,
    )
    pending = a.metric("callwatch_deadlines_pending")
    assert not read_topic(ledger.bootstrap, ledger.topic("findings")), "fired before the kill"
    pipeline.kill(a)
    killed_at, killed_wall = time.monotonic(), time.time()
    row = Row(f"2 workers, one SIGKILLed with {pending:.0f} deadlines pending")

    def all_fired() -> bool:
        found = ledger.findings()
        return all(found.get(k, {}).get("status") == "open" for k in stream.expected_findings)

    try:
        wait_until("every deadline fired on the survivor", all_fired, 180, pipeline.alive)
        row.recovery_s = row.caught_up_s = time.monotonic() - killed_at
        row.notes.append(
            f"the deadlines fell due {due_at - killed_wall:.1f}s after the kill and fired"
            f" {time.time() - due_at:.1f}s after that (the consumer session timeout, 10 s"
            " here, then the rebalance and the table's recovery on the survivor)"
        )
        time.sleep(3)
    except AssertionError as exc:
        row.failures.append(str(exc)[:300])
    ledger.account(stream, row, pipeline.logs())
    opened = Counter(
        orjson.loads(m.value)["call_id"]
        for m in read_topic(ledger.bootstrap, ledger.topic("findings"))
        if orjson.loads(m.value)["transition"] == "opened"
    )
    if any(n != 1 for n in opened.values()):
        row.notes.append(f"deadlines fired more than once: {dict(opened)}")
    fault_table.append(row)
    row.assert_clean()
    assert set(opened) == stream.agency_calls
