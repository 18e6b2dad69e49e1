"""`callwatch source eido-ws URL` against a local NENA-STA-024 notifier written here,
fed with the NENA sample EIDOs in ../shared/data/nena-eido (read at test time).

The notifier grants a short subscription (so the source must renew it), drops the
connection once right after sending an update and before its acknowledgement,
and re-sends what was not acknowledged on the next subscription, as a notifier
must. Every update must reach the raw topic exactly once, each acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from callwatch.sources.eido_ws import SUBPROTOCOL
from streams.adapters import Converted
from streams.adapters.eido import convert_document
from streams.adapters.eido import documents as eido_documents
from tests.conftest import ROOT
from tests.faults.accounting import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

def shared_samples() -> Path:
    """../shared beside the checkout (CI, the main checkout), or beside its parent
    (a worktree under wt/)."""
    for base in (ROOT.parent, ROOT.parent.parent):
        folder = base / "shared" / "data" / "nena-eido" / "samples"
        if folder.is_dir():
            return folder
    return ROOT.parent / "shared" / "data" / "nena-eido" / "samples"


SAMPLES = shared_samples()
INCIDENT = "a56e556d871"  # the incident id every NENA sample carries


def sample_updates(copies: int = 4) -> list[dict[str, Any]]:
    """The samples' EIDO documents, each also as updates of ``copies`` other incidents."""
    files = sorted(SAMPLES.rglob("*.json"))
    assert files, f"the NENA samples are not at {SAMPLES}"
    base = []
    for path in files:
        try:
            parsed = json.loads(path.read_text())
        except ValueError:
            continue
        base += [d for d in eido_documents(parsed) if isinstance(d, dict) and "$id" in d]
    assert base, "no EIDO document among the samples"
    text = [json.dumps(doc) for doc in base]
    return [json.loads(t.replace(INCIDENT, f"{INCIDENT}{n}")) for n in range(copies) for t in text]


class Notifier(threading.Thread):
    """An STA-024 notifier on 127.0.0.1 (asyncio in its own thread)."""

    def __init__(self, updates: list[dict[str, Any]], expires: int = 3) -> None:
        super().__init__(daemon=True)
        self.updates = updates
        self.expires = expires
        self.acked: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.subscribes: list[dict[str, Any]] = []
        self.connections = 0
        self.dropped = False
        self.port = 0
        self.ready = threading.Event()
        self.stop_event: asyncio.Event | None = None

    def run(self) -> None:
        asyncio.run(self.main())

    async def main(self) -> None:
        self.stop_event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        async with serve(self.session, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            await self.stop_event.wait()

    def stop(self) -> None:
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)

    async def answer_subscribe(self, ws: ServerConnection, message: dict[str, Any]) -> None:
        request = message["subscribe"]
        self.subscribes.append(request)
        await ws.send(json.dumps({"subscribeResponse": {
            "requestId": request["requestId"], "subscriptionId": "sub-1",
            "expires": self.expires, "statusCode": 200, "statusText": "OK",
        }}))

    async def session(self, ws: ServerConnection) -> None:
        self.connections += 1
        await self.answer_subscribe(ws, json.loads(await ws.recv()))
        for number, update in enumerate(self.updates):
            transaction = f"tx-{number}"
            if self.acked[transaction]:
                continue  # acknowledged on an earlier connection
            await ws.send(json.dumps({"event": {
                "subscriptionId": "sub-1", "transactionId": transaction,
                "notification": [update],
            }}))
            self.sent[transaction] += 1
            if number == 3 and not self.dropped:  # the line drops before the ack arrives
                self.dropped = True
                await ws.close()
                return
            while True:  # renewals may come before the acknowledgement
                message = json.loads(await ws.recv())
                if "subscribe" in message:
                    await self.answer_subscribe(ws, message)
                    continue
                response = message["eventResponse"]
                assert response["statusCode"] == 200, response
                self.acked[response["transactionId"]] += 1
                break
            await asyncio.sleep(0.2)  # slow enough for a renewal to fall in between
        # everything delivered: keep the subscription alive (renewals) until stopped
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                decoded = json.loads(message)
                if "subscribe" in decoded:
                    await self.answer_subscribe(ws, decoded)


def test_eido_feed_reaches_raw_once_each_across_a_reconnect(
    pipeline_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    updates = sample_updates()
    notifier = Notifier(updates)
    notifier.start()
    assert notifier.ready.wait(10)
    log = tmp_path / "source.log"
    env = {**os.environ, **pipeline_env}
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "callwatch"), "source", "eido-ws",
         f"ws://127.0.0.1:{notifier.port}/IncidentData/ent", "--expires", "10",
         "--max-backoff", "2"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 90
        while len(notifier.acked) < len(updates) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.3)
        time.sleep(3)  # a renewal or two after the last update
        assert len(notifier.acked) == len(updates), (notifier.acked, log.read_text())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        notifier.stop()

    assert notifier.dropped and notifier.connections >= 2  # it reconnected
    assert notifier.sent["tx-3"] == 2  # the cut-off update was re-sent ...
    assert all(count == 1 for count in notifier.acked.values())  # ... and acknowledged once
    renewals = [s for s in notifier.subscribes if "subscriptionId" in s]
    assert renewals, "the subscription was never renewed"
    assert all(s["requestType"] == "EIDO" for s in notifier.subscribes if "requestType" in s)

    records = read_topic(kafka_bootstrap, f"{pipeline_env['CALLWATCH_TOPIC_PREFIX']}.raw")
    decoded = [(r, json.loads(r.value)) for r in records]
    events = [doc for _, doc in decoded if "event_id" in doc]
    # an EIDO the adapter rejects goes on as it came, for ingest to dead-letter with a reason
    rejected = [doc for _, doc in decoded if "event_id" not in doc]
    assert all(convert_document(d, received_at=datetime.now(UTC)).__class__ is not Converted
               for d in rejected)
    assert events, "no event published"
    ids = Counter(e["event_id"] for e in events)
    assert all(n == 1 for n in ids.values()), f"published twice: {ids.most_common(3)}"
    calls = {e["call_id"] for e in events}
    assert len(calls) == 4  # one call per incident the updates belong to
    assert all(r.key == doc["call_id"].encode() for r, doc in decoded if "event_id" in doc)
    assert f"{len(ids)} events published" in log.read_text()  # the source's own count agrees
