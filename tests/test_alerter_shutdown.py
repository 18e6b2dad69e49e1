"""A graceful stop of the alerter: nothing it was about to send is lost or held back.

Issue 21: after a SIGTERM mid-stream one alert reached the log channel only
long after the restart. The worker had recorded the attempt as in flight (its
lease: channel timeout + 5 s) and was waiting for Kafka to confirm that record
when the stop cancelled the send, before the channel was called. The restarted
worker then had to wait out the lease, and sent the alert marked as a possible
repeat although nobody could have had it. These tests stop the dispatcher at
each point between receiving an intent and recording its delivery, then start a
new dispatcher over the same state (what the changelog holds after the stop),
as the restarted worker does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from callwatch.alerting.base import Outgoing
from streams.alerting import delivery as st
from tests.test_alerting_core import (
    T0,
    Clock,
    FakeChannel,
    MemoryStore,
    dispatcher_with,
    intent,
    settle,
)

FIRING = "C-1/commander-notified#firing#1"


def _sending(store: MemoryStore, channel: str = "hook") -> str | None:
    call = st.load(store.data[b"C-1"])
    return call.alerts["C-1/commander-notified"].deliveries[channel].sending


def test_stopped_while_the_in_flight_record_awaits_kafka_the_alert_goes_at_once_unmarked() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        confirmed = asyncio.Event()  # Kafka has not confirmed the in-flight record yet

        async def slow_kafka() -> None:
            await confirmed.wait()

        d.durable = slow_kafka
        d.receive(intent())
        await d.tick()
        await asyncio.sleep(0.01)  # the send task recorded the attempt and now waits
        assert _sending(store) == FIRING
        assert hook.received == []

        async def kafka_back() -> None:
            return None

        d.durable = kafka_back  # the stop's own flush gets through
        cut_off = await d.stop(grace_seconds=0.05)
        assert cut_off == 1
        assert hook.received == []
        assert _sending(store) is None  # handed back, not left in flight

        # the restarted worker: same state, sends it at once and unmarked
        d2, records = dispatcher_with({"hook": hook}, store, clock)
        assert d2.rebuild() == 1
        clock.now += 1_000  # well inside the old lease
        await settle(d2)
        assert hook.received == [FIRING]
        assert hook.possible_repeats == [False]
        assert [(r["kind"], r["outcome"]) for r in records] == [("delivery", "sent")]

    asyncio.run(scenario())


def test_a_send_under_way_at_the_stop_finishes_within_the_grace_and_is_not_sent_again() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        release = asyncio.Event()

        class Slow(FakeChannel):
            async def send(self, items: Sequence[Outgoing]) -> None:
                await release.wait()  # the far end answers a little later
                await super().send(items)

        hook = Slow("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        d.setup = dataclasses.replace(d.setup, timeout_seconds=5.0)
        d.receive(intent())
        await d.tick()
        await asyncio.sleep(0.01)
        asyncio.get_running_loop().call_later(0.1, release.set)
        assert await d.stop(grace_seconds=2.0) == 0
        assert hook.received == [FIRING]
        assert _sending(store) is None

        d2, records = dispatcher_with({"hook": hook}, store, clock)
        d2.rebuild()
        clock.now += 120_000
        await settle(d2)
        assert hook.received == [FIRING]  # delivered once, recorded as delivered
        assert records == []

    asyncio.run(scenario())


def test_a_send_still_running_when_the_grace_ends_goes_again_after_its_lease_marked() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        hook.hang = True
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        d.receive(intent())
        await d.tick()
        await asyncio.sleep(0.01)
        assert await d.stop(grace_seconds=0.05) == 1
        assert _sending(store) == FIRING  # it may have reached the far end

        hook.hang = False
        d2, _ = dispatcher_with({"hook": hook}, store, clock)
        d2.rebuild()
        clock.now += 1_000
        await settle(d2)
        assert hook.received == []
        clock.now = T0 + d2.lease_ms
        await settle(d2)
        assert hook.received == [FIRING]
        assert hook.possible_repeats == [True]

    asyncio.run(scenario())


def test_once_stopping_nothing_new_is_started() -> None:
    async def scenario() -> None:
        clock, store = Clock(), MemoryStore()
        hook = FakeChannel("hook")
        d, _ = dispatcher_with({"hook": hook}, store, clock)
        await d.stop(grace_seconds=0.05)
        d.receive(intent())  # an intent read while the worker stops is still recorded
        await settle(d)
        assert hook.received == []
        d2, _ = dispatcher_with({"hook": hook}, store, clock)
        assert d2.rebuild() == 1
        await settle(d2)
        assert hook.received == [FIRING]

    asyncio.run(scenario())
