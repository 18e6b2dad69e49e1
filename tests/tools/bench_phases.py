"""The benchmark's measurements, one function per phase. Each returns a plain dict.

- ``state_size``: per-call state built by the Engine for open calls.
- ``throughput``: a backlog published at once, timed from publication until every
  event is in Elasticsearch (all agents on); then a paced run at a share of that
  rate, watching whether the lag grows; then the raw ceiling (an aiokafka consumer
  that only reads and decodes the same topic).
- ``latency``: 500 events/s with event time = wall time, plus probe calls that
  break a rule at once (publication -> finding / alert intent / delivery) and
  later miss an absence deadline (how late it fires).
- ``memory``: a worker holding N open calls: its VmHWM.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiokafka import AIOKafkaConsumer

from callwatch import local_services
from tests.tools.bench_env import (
    CpuMeter,
    Es,
    Worker,
    delete_topics,
    proc_status,
    work_dir,
)
from tests.tools.bench_load import (
    Message,
    Stream,
    open_calls,
    probe,
    producer,
    publish_all,
    publish_paced,
    retime,
)
from tests.tools.bench_profile import Profile, Sampler

Report = Callable[[str], None]


@dataclass
class Config:
    seed: int = 7
    hours: float = 2400  # ~1.5 million events, ~130,000 calls
    warmup: int = 2_000
    burst: int = 60_000
    burst_timeout: float = 240
    sustain_seconds: float = 30
    sustain_share: float = 0.8
    latency_rate: float = 500
    latency_seconds: float = 60
    probes_per_second: float = 10
    probe_deadline_seconds: float = 6  # commander-notified deadline in the bench policy
    probe_lateness_seconds: float = 2  # CALLWATCH_LATENESS_SECONDS for the latency worker
    memory_calls: int = 100_000
    memory_events_per_call: int | None = 1  # the live load: each call's first event
    profile: bool = False
    code_root: Path | None = None  # run workers and `check` from another copy of the code
    worker_env: dict[str, str] = field(default_factory=dict)
    deliveries_topic: str = "deliveries"  # the alerter's delivery records, when it exists


# ------------------------------------------------------------------------- helpers


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": pick(0.50),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": ordered[-1],
    }


def wait_count(
    es: Es, index: str, target: int, timeout: float, worker: Worker, poll: float = 0.25
) -> list[tuple[float, int]]:
    """Poll the index's document count until it reaches ``target``; the samples taken."""
    samples: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.assert_running()
        count = es.count(index)
        samples.append((time.monotonic(), count))
        if count >= target:
            break
        time.sleep(poll)
    return samples


def slope(points: Sequence[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def histogram_quantile(worker: Worker, name: str, q: float) -> dict[str, float | None]:
    """From a Prometheus histogram: the upper bound of the bucket holding quantile q."""
    buckets: list[tuple[float, float]] = []
    total = count = 0.0
    for (sample, labels), value in worker.metrics().items():
        d = dict(labels)
        if sample == f"{name}_bucket":
            buckets.append((float(d["le"]), value))
        elif sample == f"{name}_sum":
            total = value
        elif sample == f"{name}_count":
            count = value
    buckets.sort()
    bound = None
    for le, cumulative in buckets:
        if count and cumulative >= q * count:
            bound = le
            break
    return {"count": count, "mean": (total / count) if count else None, f"p{q * 100:g}_le": bound}


def _phase_cleanup(worker: Worker, profile: local_services.Profile) -> None:
    worker.stop()
    Es(profile.es_url).delete_prefix(worker.prefix)
    delete_topics(profile.kafka_bootstrap, worker.prefix)


# -------------------------------------------------------------------- state size


def state_size(stream: Stream, cfg: Config, report: Report) -> dict[str, Any]:
    """Mean ``len(dump_state(state))`` over open calls built by the live Engine."""
    from callwatch.bootstrap import build_engine
    from callwatch.settings import Settings
    from streams.codec import Rejected, decode
    from streams.engine.facts import to_millis
    from streams.engine.state import CallState, dump_state

    _policy, engine = build_engine(Settings())
    out: dict[str, Any] = {}
    variants: list[tuple[str, int | None]] = [("until_close", None)]
    if cfg.memory_events_per_call is not None:
        variants.append((f"first_{cfg.memory_events_per_call}", cfg.memory_events_per_call))
    for name, per_call in variants:
        messages, calls = open_calls(stream.messages, cfg.memory_calls, per_call)
        states: dict[str, CallState] = {}
        for _key, value in messages:
            event = decode(value)
            assert not isinstance(event, Rejected)
            step = engine.apply(states.get(event.call_id), event, to_millis(event.occurred_at))
            if step.state is not None:
                states[event.call_id] = step.state
        sizes = [len(dump_state(s)) for s in states.values()]
        out[name] = {
            "calls": calls,
            "events": len(messages),
            "mean_bytes": statistics.fmean(sizes),
            "p99_bytes": percentiles(sizes)["p99"],
            "max_bytes": max(sizes),
            "mean_facts": statistics.fmean(len(s.facts) for s in states.values()),
        }
        report(f"[state] {calls:,} open calls ({name}): mean {out[name]['mean_bytes']:.0f} B/call")
    return out


# -------------------------------------------------------------------- throughput


def throughput(
    profile: local_services.Profile, stream: Stream, cfg: Config, report: Report
) -> dict[str, Any]:
    worker = Worker(profile, "tp", dict(cfg.worker_env), code_root=cfg.code_root).start()
    try:
        worker.wait_ready()
        return _throughput(worker, profile, stream, cfg, report)
    finally:
        _phase_cleanup(worker, profile)


def _throughput(
    worker: Worker,
    profile: local_services.Profile,
    stream: Stream,
    cfg: Config,
    report: Report,
) -> dict[str, Any]:
    es = Es(profile.es_url)
    index, raw = worker.index("events"), worker.topic("raw")
    msgs = stream.messages
    warm = msgs[: cfg.warmup]
    burst = msgs[cfg.warmup : cfg.warmup + cfg.burst]
    asyncio.run(publish_all(profile.kafka_bootstrap, raw, warm))
    if wait_count(es, index, len(warm), 120, worker)[-1][1] < len(warm):
        raise RuntimeError(f"warm-up events not indexed; see {worker.log}")

    report(f"[throughput] publishing {len(burst):,} events at once, timing until all indexed")
    target = len(warm) + len(burst)
    meter = CpuMeter(worker.pid)
    sampler = Sampler(worker.pid, work_dir() / "profile-worker.raw") if cfg.profile else None
    started = time.monotonic()
    publish_seconds = asyncio.run(publish_all(profile.kafka_bootstrap, raw, burst))
    samples = wait_count(es, index, target, cfg.burst_timeout, worker)
    done_at, final = samples[-1]
    cpu = meter.stop()
    prof: Profile | None = sampler.stop() if sampler else None
    indexed = final - len(warm)
    elapsed = done_at - started
    rate = indexed / elapsed
    # the steady part: from 20% to 90% of the backlog indexed
    steady_pts = [
        (t, c) for t, c in samples if len(warm) + 0.2 * indexed <= c <= len(warm) + 0.9 * indexed
    ]
    engine_seconds = worker.metric("callwatch_processing_seconds_sum", stage="engine")
    out: dict[str, Any] = {
        "events": indexed,
        "complete": final >= target,
        "publish_seconds": publish_seconds,
        "seconds": elapsed,
        "events_per_second": rate,
        "steady_events_per_second": slope(steady_pts) if len(steady_pts) > 2 else None,
        "cpu_seconds": cpu,
        "worker_cpu_ms_per_event": 1000 * cpu["worker"] / max(1, indexed),
        "engine_processing_seconds_sum": engine_seconds,
        "profile": prof.as_dict() if prof else None,
    }
    report(f"[throughput] {indexed:,} events in {elapsed:.1f}s: {rate:,.0f} events/s")

    # --- can the pipeline hold a share of that rate without the lag growing?
    next_at = target
    attempts = []
    for share in (cfg.sustain_share, cfg.sustain_share * 0.6, cfg.sustain_share * 0.35):
        sustain_rate = max(50.0, round(share * rate / 50) * 50)
        count = int(sustain_rate * cfg.sustain_seconds)
        seq = msgs[next_at : next_at + count]
        if len(seq) < count:
            break
        report(f"[sustain] {sustain_rate:,.0f} events/s for {cfg.sustain_seconds:.0f}s")
        attempt = asyncio.run(_sustain(worker, es, profile, raw, index, seq, sustain_rate, next_at))
        next_at += len(seq)
        attempts.append(attempt)
        verdict = "held" if attempt["held"] else "NOT held"
        report(
            f"[sustain] lag at end {attempt['lag_end']:,} events, growth "
            f"{attempt['lag_growth_per_second']:,.0f}/s: {verdict}"
        )
        if attempt["held"]:
            break
    out["sustain"] = attempts
    held = [a for a in attempts if a["held"]]
    out["sustained_events_per_second"] = held[0]["rate"] if held else None

    # --- the raw ceiling over the same topic, with the worker idle
    report("[ceiling] an aiokafka consumer that only reads and decodes the same events")
    out["ceiling"] = asyncio.run(_ceiling(profile.kafka_bootstrap, raw, next_at))
    return out


async def _sustain(
    worker: Worker,
    es: Es,
    profile: local_services.Profile,
    raw: str,
    index: str,
    seq: Sequence[Message],
    rate: float,
    base: int,
) -> dict[str, Any]:
    kafka = producer(profile.kafka_bootstrap)
    await kafka.start()
    published = [0]
    lag: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async def poll() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            count = await asyncio.to_thread(es.count, index)
            lag.append((time.monotonic() - t0, base + published[0] - count))
            await asyncio.sleep(0.5)

    poller = asyncio.create_task(poll())
    try:
        sent, seconds = await publish_paced(
            kafka, raw, seq, rate, on_tick=lambda n: published.__setitem__(0, n)
        )
    finally:
        stop.set()
        await poller
        await kafka.stop()
    caught_up = time.monotonic()
    tail = await asyncio.to_thread(wait_count, es, index, base + sent, 120, worker)
    # the lag's trend after a 5 s start (least squares: single samples swing by a second's
    # worth of events with Elasticsearch's refresh and the batching windows)
    growth = slope([p for p in lag if p[0] >= 5.0])
    lag_end = int(lag[-1][1]) if lag else 0
    # held: the lag (published - indexed) grew by less than 5% of the input rate, and
    # what was behind when publishing stopped was indexed within 10 s.
    # (A constant lag of a few seconds is the pipeline's latency -- batching windows and
    # Elasticsearch's 1 s refresh -- not a backlog.)
    drain = tail[-1][0] - caught_up
    held = growth <= 0.05 * rate and drain <= 10 and tail[-1][1] >= base + sent
    return {
        "rate": rate,
        "sent": sent,
        "seconds": seconds,
        "achieved_publish_rate": sent / seconds,
        "lag_end": lag_end,
        "lag_growth_per_second": growth,
        "drain_seconds_after": drain,
        "held": held,
        "lag_samples": [(round(t, 1), int(v)) for t, v in lag[::2]],
    }


async def _ceiling(bootstrap: str, topic: str, expected: int) -> dict[str, Any]:
    from streams.codec import Rejected, decode

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    cpu0 = time.process_time()
    started = time.monotonic()
    await consumer.start()
    count = rejected = 0
    try:
        while count < expected and time.monotonic() - started < 120:
            batch = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for records in batch.values():
                for record in records:
                    if isinstance(decode(record.value or b""), Rejected):
                        rejected += 1
                    count += 1
    finally:
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu0
        await consumer.stop()
    return {
        "events": count,
        "rejected": rejected,
        "seconds": seconds,
        "events_per_second": count / seconds,
        "cpu_seconds": cpu,
    }


# ----------------------------------------------------------------------- latency


def bench_policy(cfg: Config) -> Path:
    """The shipped policy with a short commander deadline, so probes miss it within seconds."""
    from schemas import schema_path
    from streams.engine.policy import DEFAULT_POLICY_FILE

    doc = yaml.safe_load(schema_path(DEFAULT_POLICY_FILE).read_text())
    doc["rules"]["commander-notified"]["params"]["deadline_minutes"] = (
        cfg.probe_deadline_seconds / 60
    )
    path = work_dir() / "bench-policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def latency(
    profile: local_services.Profile, stream: Stream, cfg: Config, report: Report
) -> dict[str, Any]:
    env = {
        "CALLWATCH_POLICY_FILE": str(bench_policy(cfg)),
        "CALLWATCH_LATENESS_SECONDS": f"{cfg.probe_lateness_seconds:g}",
        **cfg.worker_env,
    }
    worker = Worker(profile, "lat", env, code_root=cfg.code_root).start()
    try:
        worker.wait_ready()
        report(
            f"[latency] {cfg.latency_rate:.0f} events/s for {cfg.latency_seconds:.0f}s with "
            f"{cfg.probes_per_second:g} probe calls/s, event time = wall time"
        )
        # background traffic from the far end of the stream (unused by other phases)
        seconds = cfg.latency_seconds + cfg.probe_deadline_seconds + cfg.probe_lateness_seconds
        background = stream.messages[-int(cfg.latency_rate * (seconds + 5)) :]
        meter = CpuMeter(worker.pid)
        out = asyncio.run(_latency(worker, profile, cfg, background))
        out["cpu_seconds"] = meter.stop()
        out["deadline_histogram"] = histogram_quantile(
            worker, "callwatch_deadline_lateness_seconds", 0.99
        )
        return out
    finally:
        _phase_cleanup(worker, profile)


def _finding_key(value: bytes) -> tuple[str | None, dict[str, Any]]:
    """The finding a record is about: findings carry finding_id, alert intents (and,
    we expect, the alerter's delivery records) dedup_key; alert ids are KEY#state#rev."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None, {}
    if not isinstance(doc, dict):
        return None, {}
    for field_name in ("finding_id", "dedup_key"):
        if isinstance(doc.get(field_name), str):
            return doc[field_name], doc
    alert_id = doc.get("alert_id")
    if isinstance(alert_id, str):
        return alert_id.split("#", 1)[0], doc
    intent = doc.get("intent") or doc.get("alert")
    if isinstance(intent, dict) and isinstance(intent.get("dedup_key"), str):
        return intent["dedup_key"], intent
    return None, doc


async def _latency(
    worker: Worker, profile: local_services.Profile, cfg: Config, background: Sequence[Message]
) -> dict[str, Any]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=profile.kafka_bootstrap, client_id="bench")
    existing = set(admin.list_topics())
    admin.close()
    endpoints = {
        worker.topic("findings"): "finding",
        worker.topic("alerts"): "alert_intent",
    }
    deliveries = worker.topic(cfg.deliveries_topic)
    if deliveries in existing:
        endpoints[deliveries] = "alert_delivered"
    consumer = AIOKafkaConsumer(
        *endpoints,
        bootstrap_servers=profile.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    kafka = producer(profile.kafka_bootstrap, linger_ms=5)
    await kafka.start()
    raw = worker.topic("raw")
    sent_at: dict[str, float] = {}  # probe call id -> wall time of publication
    seen: dict[tuple[str, str], dict[str, Any]] = {}

    async def consume() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            received = time.time()
            for tp, records in batch.items():
                endpoint = endpoints[tp.topic]
                for record in records:
                    key, doc = _finding_key(record.value or b"")
                    if key is None or not key.startswith("PROBE-"):
                        continue
                    if doc.get("kind") not in (None, "delivery", "resend", "repeat"):
                        continue  # acks and escalations are not deliveries
                    if doc.get("outcome") not in (None, "sent"):
                        continue  # a failed attempt is not a delivered alert
                    if (endpoint, key) in seen:
                        continue
                    seen[(endpoint, key)] = {
                        "received": received,
                        "produced": record.timestamp / 1000,
                        "violation_at": doc.get("violation_at"),
                    }

    reader = asyncio.create_task(consume())
    rate, probe_every = cfg.latency_rate, 1.0 / cfg.probes_per_second
    started = time.monotonic()
    next_probe = started
    sent = bg = probes = 0
    # Probes for latency_seconds; the background traffic then goes on until the last
    # probe's deadline has passed, as a live feed would: when a feed stops, the clock
    # waits out its idle time (5 s) before moving on at wall-clock pace, which is a
    # property of a stopping feed, not of how late the timer fires.
    probing = cfg.latency_seconds
    total = probing + cfg.probe_deadline_seconds + cfg.probe_lateness_seconds + 3
    while time.monotonic() - started < total:
        due = int((time.monotonic() - started) * rate) + 1
        while sent < due:
            wall = time.time()
            if time.monotonic() >= next_probe and time.monotonic() - started < probing:
                probes += 1
                call_id = f"PROBE-{probes:06d}"
                key, value = probe(call_id, wall, recorded_line=False)
                sent_at[call_id] = wall
                next_probe += probe_every
            else:
                key, value = background[bg % len(background)]
                value = retime(value, wall)
                bg += 1
            await kafka.send(raw, value, key=key)
            sent += 1
        await asyncio.sleep(0.005)
    publish_seconds = time.monotonic() - started
    await kafka.flush()
    grace = 15.0
    wait_until = time.monotonic() + grace
    while time.monotonic() < wait_until:
        missing = [c for c in sent_at if (("finding", f"{c}/commander-notified")) not in seen]
        if not missing:
            break
        await asyncio.sleep(0.5)
    reader.cancel()
    await asyncio.gather(reader, return_exceptions=True)
    await consumer.stop()
    await kafka.stop()

    out: dict[str, Any] = {
        "rate": rate,
        "achieved_rate": sent / publish_seconds,
        "probes": probes,
        "endpoints": sorted(set(endpoints.values())),
    }
    for endpoint in sorted(set(endpoints.values())):
        lat = [
            (seen[(endpoint, f"{c}/call-recorded")]["received"] - t) * 1000
            for c, t in sent_at.items()
            if (endpoint, f"{c}/call-recorded") in seen
        ]
        out[f"publish_to_{endpoint}_ms"] = percentiles(lat)
        out[f"publish_to_{endpoint}_ms"]["missing"] = probes - len(lat)
    late_recv, late_prod, late_by_time = [], [], []
    for c, t in sent_at.items():
        hit = seen.get(("finding", f"{c}/commander-notified"))
        if hit is None or not hit["violation_at"]:
            continue
        due = datetime.fromisoformat(hit["violation_at"].replace("Z", "+00:00")).timestamp()
        fire_at = due + cfg.probe_lateness_seconds
        late_recv.append(hit["received"] - fire_at)
        late_prod.append(hit["produced"] - fire_at)
        late_by_time.append((t, hit["received"] - fire_at))
    out["deadline_late_seconds_received"] = percentiles(late_recv)
    out["deadline_late_seconds_produced"] = percentiles(late_prod)
    out["deadline_missing"] = probes - len(late_recv)
    # where in the run the late ones were: the worst lateness per tenth of the probes
    late_by_time.sort()
    tenth = max(1, len(late_by_time) // 10)
    out["deadline_worst_by_tenth"] = [
        round(max(v for _, v in late_by_time[i : i + tenth]), 2)
        for i in range(0, len(late_by_time), tenth)
    ]
    first = min(sent_at.values(), default=0.0)
    for endpoint in sorted(set(endpoints.values())):
        ms = [
            (t, (seen[(endpoint, f"{c}/call-recorded")]["received"] - t) * 1000)
            for c, t in sent_at.items()
            if (endpoint, f"{c}/call-recorded") in seen
        ]
        ms.sort()
        out[f"publish_to_{endpoint}_worst_ms_by_tenth"] = [
            round(max(v for _, v in ms[i : i + tenth])) for i in range(0, len(ms), tenth)
        ]
    out["probe_span_seconds"] = max(sent_at.values(), default=first) - first
    return out


# ------------------------------------------------------------------------ memory


def memory(
    profile: local_services.Profile, stream: Stream, cfg: Config, report: Report
) -> dict[str, Any]:
    messages, calls = open_calls(stream.messages, cfg.memory_calls, cfg.memory_events_per_call)
    worker = Worker(profile, "mem", dict(cfg.worker_env), code_root=cfg.code_root).start()
    try:
        worker.wait_ready()
        idle_rss = proc_status(worker.pid, "VmRSS")
        report(f"[memory] loading {calls:,} open calls ({len(messages):,} events) into a worker")
        started = time.monotonic()
        asyncio.run(publish_all(profile.kafka_bootstrap, worker.topic("raw"), messages))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            worker.assert_running()
            if worker.metric("callwatch_events_out_total", stage="engine") >= len(messages):
                break
            time.sleep(0.5)
        engine_done = time.monotonic() - started
        es = Es(profile.es_url)
        wait_count(es, worker.index("calls"), calls, 300, worker, poll=1.0)
        all_done = time.monotonic() - started
        hwm = proc_status(worker.pid, "VmHWM")
        rss = proc_status(worker.pid, "VmRSS")
        return {
            "calls": calls,
            "events": len(messages),
            "engine_seconds": engine_done,
            "indexed_seconds": all_done,
            "events_per_second": len(messages) / all_done,
            "idle_rss_bytes": idle_rss,
            "vm_hwm_bytes": hwm,
            "vm_rss_bytes": rss,
            "bytes_per_open_call": (hwm - idle_rss) / calls,
        }
    finally:
        _phase_cleanup(worker, profile)
