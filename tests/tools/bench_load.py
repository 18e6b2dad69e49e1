"""Load for the benchmark: a seeded simulated stream, probes, and aiokafka publishers.

The stream is ``callwatch simulate`` output (canonical JSON lines) written once into
the benchmark's scratch directory and reused by later runs with the same seed and
length. Every phase slices it; the latency phase re-times events to the wall clock
so that event time is wall time, as on a live feed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer

from tests.tools.bench_env import work_dir

SIM_START = "2024-01-01T00:00:00+00:00"  # fixed, so the same seed gives the same bytes
Message = tuple[bytes, bytes]  # key (call id), value (canonical JSON)


@dataclass(frozen=True)
class Stream:
    path: Path
    messages: list[Message]  # in event-time order, as the simulator wrote them
    generate_seconds: float  # 0 when reused from an earlier run


def simulated_stream(seed: int, hours: float, report: Callable[[str], None]) -> Stream:
    path = work_dir() / f"stream-seed{seed}-h{hours:g}.jsonl"
    done = path.with_suffix(".done")
    took = 0.0
    if not done.exists():
        report(f"[load] simulating {hours:g} h of dispatch traffic (seed {seed}) into {path}")
        started = time.monotonic()
        callwatch = str(Path(sys.executable).parent / "callwatch")
        subprocess.run(
            [
                callwatch,
                "simulate",
                "--seed",
                str(seed),
                "--hours",
                f"{hours:g}",
                "--start",
                SIM_START,
                "--out",
                str(path),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        took = time.monotonic() - started
        done.touch()
    messages = [(call_id_of(line), line) for line in read_lines(path)]
    report(f"[load] {len(messages):,} events in {path}")
    return Stream(path, messages, took)


def read_lines(path: Path) -> list[bytes]:
    with path.open("rb") as handle:
        return [line.rstrip(b"\n") for line in handle if line.strip()]


_CALL_ID = b'"call_id":"'
_TYPE = b'"type":"'


def call_id_of(line: bytes) -> bytes:
    start = line.index(_CALL_ID) + len(_CALL_ID)
    return line[start : line.index(b'"', start)]


def type_of(line: bytes) -> bytes:
    start = line.index(_TYPE) + len(_TYPE)
    return line[start : line.index(b'"', start)]


def open_calls(
    messages: Sequence[Message], calls: int, per_call: int | None
) -> tuple[list[Message], int]:
    """The events of the first ``calls`` calls up to (not including) their closing, at most
    ``per_call`` each (None: all of them), in stream order; and how many calls that is."""
    kept: dict[bytes, int] = {}
    closed: set[bytes] = set()
    out: list[Message] = []
    for key, value in messages:
        if key in closed:
            continue
        n = kept.get(key)
        if n is None:
            if len(kept) >= calls:
                continue
            n = 0
        if type_of(value) == b"call.closed":
            closed.add(key)
            continue
        if per_call is not None and n >= per_call:
            continue
        kept[key] = n + 1
        out.append((key, value))
    return out, len(kept)


# -------------------------------------------------------------------------- probes


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=UTC).isoformat().replace("+00:00", "Z")


def retime(value: bytes, wall: float) -> bytes:
    """The same event, happening (and received) now."""
    doc = orjson.loads(value)
    doc["occurred_at"] = doc["received_at"] = iso(wall)
    return orjson.dumps(doc)


def probe(call_id: str, wall: float, *, recorded_line: bool) -> Message:
    """An ICE call coming in now. On a cell line it breaks ``call-recorded`` at once (an
    immediate finding and a critical alert); on a recorded line with no commander ever
    notified it breaks ``commander-notified`` when that absence deadline falls due."""
    line = {"kind": "admin", "recorded": True} if recorded_line else {"kind": "cell"}
    doc = {
        "type": "call.received",
        "event_id": f"{call_id}.001",
        "call_id": call_id,
        "occurred_at": iso(wall),
        "received_at": iso(wall),
        "source": "bench",
        "caller": {"name": "SA J. Example", "agency": "ICE"},
        "line": line,
        "call_type": "ASSIST OTHER AGENCY",
        "narrative": "ICE ERO AGENT REQ ASSIST",
    }
    return call_id.encode(), orjson.dumps(doc)


# ----------------------------------------------------------------------- publishing


def producer(bootstrap: str, linger_ms: int = 5) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="callwatch-bench",
        acks="all",
        linger_ms=linger_ms,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


async def publish_all(bootstrap: str, topic: str, messages: Iterable[Message]) -> float:
    """Send everything as fast as the client can; seconds until all are acknowledged."""
    started = time.monotonic()
    kafka = producer(bootstrap, linger_ms=20)
    await kafka.start()
    try:
        futures = [await kafka.send(topic, value, key=key) for key, value in messages]
        await kafka.flush()
        for future in futures:
            future.result()  # raises if any was not delivered
    finally:
        await kafka.stop()
    return time.monotonic() - started


async def publish_paced(
    kafka: AIOKafkaProducer,
    topic: str,
    messages: Sequence[Message],
    rate: float,
    on_tick: Callable[[int], None] | None = None,
) -> tuple[int, float]:
    """Send ``messages`` at ``rate`` per second (10 ms steps); return (sent, seconds)."""
    started = time.monotonic()
    sent = 0
    total = len(messages)
    while sent < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        while sent < due:
            key, value = messages[sent]
            await kafka.send(topic, value, key=key)
            sent += 1
        if on_tick is not None:
            on_tick(sent)
        await asyncio.sleep(0.01)
    await kafka.flush()
    return sent, time.monotonic() - started
