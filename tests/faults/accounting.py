"""Publish a known stream and account for every event of it.

A ``KnownStream`` is what a scenario sends to the raw topic: simulated events
(with the simulator's ground truth) plus, for the bad-input scenario, payloads
that must be dead-lettered. ``Ledger`` reads what the pipeline made of it --
every message on the events, deadletter, findings and alerts topics, and the
Elasticsearch documents by their deterministic ids -- and fills one row of the
fault table:

- accounted: raw messages that reached the events topic (valid) or the
  dead-letter topic (invalid), each counted at most as often as it was sent;
- findings: the ground truth's findings (agency calls only) present in the
  findings index with their final status; extra ones are counted separately;
- alerts: per expected finding, the alerter's log channel delivered alerts
  whose last one tells the finding's final state (firing or resolved), each
  alert once (without an alerter: the outbox, the alerts topic, holds them);
- duplicates: effects applied twice -- a call whose state holds more events
  than were sent for it, a finding whose history repeats a transition, more
  documents than distinct inputs. These must be zero in every scenario;
- repeats: the same event id, finding transition (finding id, transition,
  revision), alert id or dead letter sent more than once on a topic. At-least-once
  delivery allows them after a crash; the consumers ignore them by id. Also
  alerts the log channel sent again marked "possible repeat" because a crash
  cut off their first send (an unmarked second delivery is a duplicate).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from callwatch.producer import call_id_key
from streams.alerting import delivery as alert_state
from streams.codec import Rejected, decode, encode
from streams.engine.offline import OfflineRun
from streams.engine.policy import Policy, load_policy
from streams.engine.records import finding_id
from streams.engine.state import Engine
from streams.originator import make_classifier
from streams.simulate import SimulationConfig, simulate

START = datetime(2017, 4, 10, 6, tzinfo=UTC)
# How long after everything else is accounted for an alert may still be on its way:
# a send cut off by a crash goes again when its lease ends (channel timeout 10 s +
# 5 s), plus the restart and a tick. The accounting waits this long, no longer, and
# names whatever is still missing.
ALERT_WAIT_SECONDS = 40.0
# Seeds checked against the offline engine: with these configurations its final
# findings equal the simulator's ground truth on every agency call.
SEED = 2


@dataclass
class KnownStream:
    label: str
    seed: int
    items: list[bytes]  # raw payloads, in publish order (repeats allowed)
    keys: list[bytes | None]
    valid_ids: Counter[str]  # event id -> times sent
    invalid: Counter[bytes]  # payload -> times sent
    events_per_call: Counter[str]  # distinct valid events per call
    agency_calls: set[str]
    expected_findings: dict[tuple[str, str], str]  # (call, rule) -> final status
    truth_calls: set[str] = field(default_factory=set)  # every simulated call

    def __len__(self) -> int:
        return len(self.items)

    def extend(self, payloads: Iterable[bytes], keys: Iterable[bytes | None] | None = None) -> None:
        """Add payloads (valid or not) that carry no findings of their own."""
        payloads = list(payloads)
        key_list = list(keys) if keys is not None else [call_id_key(p) for p in payloads]
        for payload in payloads:
            event = decode(payload)
            if isinstance(event, Rejected):
                self.invalid[payload] += 1
            else:
                if self.valid_ids[event.event_id] == 0:
                    self.events_per_call[event.call_id] += 1
                self.valid_ids[event.event_id] += 1
        self.items.extend(payloads)
        self.keys.extend(key_list)

    def twice(self) -> KnownStream:
        """The same stream sent again after itself (a file replayed twice)."""
        return KnownStream(
            self.label + " x2",
            self.seed,
            self.items * 2,
            self.keys * 2,
            Counter({k: 2 * v for k, v in self.valid_ids.items()}),
            Counter({k: 2 * v for k, v in self.invalid.items()}),
            self.events_per_call,
            self.agency_calls,
            self.expected_findings,
            self.truth_calls,
        )


def simulated_stream(
    seed: int = SEED,
    hours: float = 3,
    agency_calls: int = 30,
    calls_per_hour: float = 20,
    policy: Policy | None = None,
    start: datetime = START,
) -> KnownStream:
    """A simulated feed and what it must produce.

    With the shipped policy the expected findings are the simulator's ground
    truth. With another policy (a short deadline, say) they come from the
    offline engine (``callwatch check``), after checking that the offline engine
    agrees with the truth under the shipped policy.
    """
    sim = simulate(
        SimulationConfig(
            start=start,
            seed=seed,
            hours=hours,
            agency_calls=agency_calls,
            calls_per_hour=calls_per_hour,
        )
    )
    agency = {t.call_id for t in sim.truth if t.immigration_agency}
    truth = {(t.call_id, f.rule): f.status for t in sim.truth for f in t.expected_findings}
    offline = offline_findings(sim.events, load_policy())
    assert {k: v for k, v in offline.items() if k[0] in agency} == truth, (
        f"seed {seed}: the offline engine disagrees with the ground truth; choose another seed"
    )
    if policy is not None:
        truth = offline_findings(sim.events, policy)
    items = [encode(e) for e in sim.events]
    return KnownStream(
        label=f"seed {seed}, {hours:g} h at {calls_per_hour:g} calls/h, {agency_calls} agency",
        seed=seed,
        items=items,
        keys=[e.call_id.encode() for e in sim.events],
        valid_ids=Counter(e.event_id for e in sim.events),
        invalid=Counter(),
        events_per_call=Counter(e.call_id for e in sim.events),
        agency_calls=agency,
        expected_findings={k: v for k, v in truth.items() if k[0] in agency},
        truth_calls={t.call_id for t in sim.truth},
    )


def offline_findings(events: Sequence[Any], policy: Policy) -> dict[tuple[str, str], str]:
    """Final findings of the offline engine (``callwatch check``) over the events."""
    run = OfflineRun(Engine(policy, make_classifier()))
    latest: dict[tuple[str, str], str] = {}
    for change in [*run.feed(events), *run.finish()]:
        latest[(change.call_id, change.rule.id)] = change.finding.status
    return {k: v for k, v in latest.items() if v != "retracted"}


# ------------------------------------------------------------------- publishing


def producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_request_size=2**21,
        retries=2**31 - 1,
        max_block_ms=120_000,
        request_timeout_ms=30_000,
        enable_idempotence=True,
    )


def publish(
    bootstrap: str,
    topic: str,
    items: Sequence[bytes],
    keys: Sequence[bytes | None],
    rate: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send items (``rate`` per second if given); raise if any was not delivered."""
    kafka = producer(bootstrap)
    failures: list[BaseException] = []
    started = time.monotonic()
    sent = 0
    try:
        for i, (item, key) in enumerate(zip(items, keys, strict=True)):
            if rate is not None:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if should_stop():
                break
            kafka.send(topic, key=key, value=item).add_errback(failures.append)
            sent += 1
        kafka.flush(timeout=180)
    finally:
        kafka.close(timeout=30)
    if failures:
        raise AssertionError(f"{len(failures)} of {sent} not delivered: {failures[0]!r}")
    return sent


# ------------------------------------------------------------------- reading


def read_topic(bootstrap: str, topic: str, timeout: float = 120) -> list[Any]:
    """Every message on ``topic``, from the beginning to the current end."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=16 * 2**20,
        max_partition_fetch_bytes=4 * 2**20,
        request_timeout_ms=30_000,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} did not reach its end in {timeout}s")
            for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                out.extend(
                    r for r in records if r.offset < end[TopicPartition(r.topic, r.partition)]
                )
        return out
    finally:
        consumer.close()


def topic_end(bootstrap: str, topics: Sequence[str]) -> int:
    """The sum of the end offsets of ``topics``: grows while the pipeline works."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        tps = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


# -------------------------------------------------------------------- the ledger


@dataclass
class Row:
    scenario: str
    events_in: int = 0
    accounted: int = 0
    findings_expected: int = 0
    findings_produced: int = 0
    findings_extra: int = 0
    alerts_expected: int = 0
    alerts_delivered: int = 0
    alerts_label: str = "outbox"
    duplicates: int = 0
    repeats: int = 0
    recovery_s: float | None = None
    caught_up_s: float | None = None
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # checks beyond the columns

    @property
    def lost(self) -> int:
        return self.events_in - self.accounted

    @property
    def clean(self) -> bool:
        return not self.problems()

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, f"{self.scenario}: " + "; ".join(problems + self.notes)

    def problems(self) -> list[str]:
        problems = list(self.failures)
        if self.lost:
            problems.append(f"{self.lost} events lost")
        if self.findings_produced != self.findings_expected:
            problems.append(
                f"findings {self.findings_produced}/{self.findings_expected} as expected"
            )
        if self.findings_extra:
            problems.append(f"{self.findings_extra} findings the truth does not have")
        if self.alerts_delivered != self.alerts_expected:
            problems.append(f"alerts {self.alerts_delivered}/{self.alerts_expected}")
        if self.duplicates:
            problems.append(f"{self.duplicates} duplicated effects")
        return problems


class Ledger:
    """What the pipeline of one topic/index prefix has produced so far."""

    def __init__(self, bootstrap: str, es_url: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.es = Elasticsearch(es_url, request_timeout=30, max_dead_node_backoff=1.0)

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def index(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    # cheap probes, polled while waiting ------------------------------------

    def count(self, name: str) -> int:
        try:
            self.es.indices.refresh(index=self.index(name), ignore_unavailable=True)
            return int(self.es.count(index=self.index(name))["count"])
        except Exception:  # ES down or index missing: nothing visible yet
            return -1

    def progress(self) -> int:
        """Grows while any stage makes progress (Kafka outputs, ES documents)."""
        try:
            kafka = topic_end(
                self.bootstrap, [self.topic(n) for n in ("events", "deadletter", "calls")]
            )
        except Exception:
            kafka = -1
        return kafka + self.count("events") + self.count("deadletters")

    def findings(self) -> dict[tuple[str, str], dict[str, Any]]:
        self.es.indices.refresh(index=self.index("findings"), ignore_unavailable=True)
        return {
            (d["_source"]["call_id"], d["_source"]["rule"]): d["_source"]
            for d in scan(self.es, index=self.index("findings"), query={"query": {"match_all": {}}})
        }

    def complete(self, stream: KnownStream) -> bool:
        """Every valid event and dead letter indexed, every expected finding final."""
        if self.count("events") < len(stream.valid_ids):
            return False
        if self.count("deadletters") < sum(stream.invalid.values()):
            return False
        try:
            found = self.findings()
        except Exception:
            return False
        have = {k: d["status"] for k, d in found.items() if k[0] in stream.agency_calls}
        if not all(have.get(k) == v for k, v in stream.expected_findings.items()):
            return False
        # and the engine has applied every event (its call pictures count them), or
        # dead-lettered it (an event for a call closed and evicted long before)
        late = self.engine_dead_letters()
        return self.applied() + late >= sum(stream.events_per_call.values())

    def engine_dead_letters(self) -> int:
        try:
            self.es.indices.refresh(index=self.index("deadletters"))
            query = {"term": {"stage": "engine"}}
            return int(self.es.count(index=self.index("deadletters"), query=query)["count"])
        except Exception:
            return 0

    def applied(self) -> int:
        """Events applied to call state, as the calls index last saw each call."""
        try:
            self.es.indices.refresh(index=self.index("calls"))
            result = self.es.search(
                index=self.index("calls"), size=0, aggs={"n": {"sum": {"field": "events"}}}
            )
            return int(result["aggregations"]["n"]["value"])
        except Exception:
            return -1

    # alerts: what is still owed, and where a missing one was last seen ------

    def missing_alerts(self, stream: KnownStream, logs: str) -> list[str]:
        """Finding ids whose last log-channel delivery is not the finding's final state."""
        last_kind: dict[str, str] = {}
        for delivery in delivered_alerts(logs):
            last_kind[delivery.alert_id.split("#", 1)[0]] = delivery.kind
        final = {"open": {"firing"}, "resolved": {"resolved", "cured"}}
        # not-assessable findings (needs_records) go to the review queue, never an alert
        return sorted(
            finding_id(call, rule)
            for (call, rule), status in stream.expected_findings.items()
            if status in final and last_kind.get(finding_id(call, rule)) not in final[status]
        )

    def trace_alert(self, dedup_key: str, logs: str) -> str:
        """Where a missing alert was last seen, stage by stage: the outbox (alerts
        topic), the alerter's state table (its changelog), the deliveries topic, the
        alerts index and the log channel."""
        call_id = dedup_key.split("/", 1)[0]
        parts = []
        intents = [
            orjson.loads(m.value) for m in read_topic(self.bootstrap, self.topic("alerts"), 30)
        ]
        mine = [i for i in intents if i.get("dedup_key") == dedup_key]
        parts.append(
            "outbox: " + (", ".join(i["alert_id"].split("#", 1)[1] for i in mine) or "nothing")
        )
        changelog = f"callwatch-{self.prefix}-alertstate-changelog"
        stored = [
            m.value for m in read_topic(self.bootstrap, changelog, 30)
            if m.key == call_id.encode() and m.value
        ]
        if stored:
            alert = alert_state.load(stored[-1]).alerts.get(dedup_key)
            if alert is None:
                parts.append("state table: the call, without this alert")
            else:
                channels = "; ".join(
                    f"{name} queue={d.queue} delivered={d.delivered} sending={d.sending}"
                    f" until={d.sending_until} next_at={d.next_at}"
                    for name, d in alert.deliveries.items()
                )
                parts.append(f"state table ({len(stored)} writes): {alert.state}, {channels}")
        else:
            parts.append("state table: nothing for the call")
        attempts = [
            orjson.loads(m.value)
            for m in read_topic(self.bootstrap, self.topic("deliveries"), 30)
        ]
        parts.append(
            "deliveries topic: "
            + (", ".join(
                f"{a.get('alert_id', '?').split('#', 1)[-1]} {a.get('kind')} {a.get('outcome')}"
                for a in attempts if a.get("dedup_key") == dedup_key
            ) or "nothing")
        )
        try:
            self.es.indices.refresh(index=self.index("alerts"), ignore_unavailable=True)
            query = {"term": {"dedup_key": dedup_key}}
            docs = int(self.es.count(index=self.index("alerts"), query=query)["count"])
        except Exception as exc:  # an index that is not there says so
            docs = -1
            parts.append(f"alerts index: unreadable ({type(exc).__name__})")
        if docs >= 0:
            parts.append(f"alerts index: {docs} document(s)")
        logged = [d.alert_id for d in delivered_alerts(logs) if d.alert_id.startswith(dedup_key)]
        parts.append("log channel: " + (", ".join(logged) or "nothing"))
        return f"{dedup_key}: " + "; ".join(parts)

    # the full account -------------------------------------------------------

    def account(self, stream: KnownStream, row: Row, logs: str = "") -> Row:
        """Fill ``row``; ``logs`` are the workers' logs, where the alerter's log
        channel records each alert it delivered."""
        row.events_in = len(stream.items)
        events = read_topic(self.bootstrap, self.topic("events"))
        dead = read_topic(self.bootstrap, self.topic("deadletter"))
        on_topic = Counter(orjson.loads(m.value)["event_id"] for m in events)
        accounted = sum(min(on_topic[i], n) for i, n in stream.valid_ids.items())
        if stream.invalid:
            # a dead letter names the raw record it stands for (its value may be cut short)
            raw = {
                (m.partition, m.offset): m.value
                for m in read_topic(self.bootstrap, self.topic("raw"))
            }
            positions = {
                (int(h["callwatch-source-partition"]), int(h["callwatch-source-offset"]))
                for h in (dict(m.headers) for m in dead)
                if h.get("callwatch-source-topic", b"").decode() == self.topic("raw")
            }
            dead_values = Counter(raw[pos] for pos in positions if pos in raw)
            accounted += sum(min(dead_values[p], n) for p, n in stream.invalid.items())
        row.accounted = accounted
        repeats = sum(max(0, on_topic[i] - stream.valid_ids[i]) for i in on_topic)
        unknown = set(on_topic) - set(stream.valid_ids)
        if unknown:
            row.notes.append(f"{len(unknown)} unexpected event ids on the events topic")
            row.duplicates += len(unknown)
        dead_sources = Counter(
            (
                h.get("callwatch-source-topic"),
                h.get("callwatch-source-partition"),
                h.get("callwatch-source-offset"),
            )
            for h in (dict(m.headers) for m in dead)
        )
        repeats += sum(n - 1 for n in dead_sources.values())

        # findings: the truth, in the index, with final status
        found = self.findings()
        agency = {k: d for k, d in found.items() if k[0] in stream.agency_calls}
        row.findings_expected = len(stream.expected_findings)
        row.findings_produced = sum(
            1 for k, v in stream.expected_findings.items() if agency.get(k, {}).get("status") == v
        )
        judged = stream.truth_calls or stream.agency_calls
        # anything else on a judged call is a false finding -- a retracted one too: its
        # alert went out before the events that cleared it (the clock ran ahead)
        extra = sorted(
            f"{c}/{r}" for c, r in found if c in judged and (c, r) not in stream.expected_findings
        )
        row.findings_extra = len(extra)
        if extra:
            row.notes.append(f"findings the truth does not have: {extra[:5]}")
        missing = [
            k for k, v in stream.expected_findings.items() if agency.get(k, {}).get("status") != v
        ]
        if missing:
            row.notes.append(f"findings missing or wrong: {missing[:5]}")
        for doc in found.values():
            transitions = [(h["transition"], h["at"]) for h in doc.get("history", [])]
            if len(transitions) != len(set(transitions)):
                row.duplicates += len(transitions) - len(set(transitions))
                row.notes.append(f"a transition twice in {doc.get('finding_id')}: {transitions}")
        finding_msgs = [
            orjson.loads(m.value) for m in read_topic(self.bootstrap, self.topic("findings"))
        ]
        per_transition = Counter(
            (f["finding_id"], f["transition"], f["revision"]) for f in finding_msgs
        )
        repeats += sum(n - 1 for n in per_transition.values())
        on_findings_topic = {(f["call_id"], f["rule"]) for f in finding_msgs}
        absent = set(stream.expected_findings) - on_findings_topic
        if absent:
            row.notes.append(f"{len(absent)} expected findings never on the findings topic")
            row.findings_produced -= len(absent)

        # alerts: intents in the outbox, one per finding, the last one telling its final state
        alert_msgs = [
            orjson.loads(m.value) for m in read_topic(self.bootstrap, self.topic("alerts"))
        ]
        per_alert = Counter(a["alert_id"] for a in alert_msgs)
        repeats += sum(n - 1 for n in per_alert.values())
        last_state = {a["dedup_key"]: a["state"] for a in alert_msgs}
        want = {"open": "firing", "resolved": "resolved"}
        # not-assessable findings (needs_records) go to the review queue, never an alert
        alerting = {k: v for k, v in stream.expected_findings.items() if v in want}
        row.alerts_expected = len(alerting)
        row.alerts_delivered = sum(
            1
            for (call, rule), status in alerting.items()
            if last_state.get(finding_id(call, rule)) == want[status]
        )
        deliveries = delivered_alerts(logs)
        if deliveries:
            # the alerter is there: count what it delivered, not what it was asked to
            row.alerts_label = "delivered"
            last_kind: dict[str, str] = {}
            for delivery in deliveries:
                last_kind[delivery.alert_id.split("#", 1)[0]] = delivery.kind
            final = {"open": {"firing"}, "resolved": {"resolved", "cured"}}
            row.alerts_delivered = sum(
                1
                for (call, rule), status in alerting.items()
                if last_kind.get(finding_id(call, rule)) in final[status]
            )
            # A send cut off by a crash goes again marked as a possible repeat
            # (streams.alerting.delivery): an at-least-once repeat the reader is told
            # of. An unmarked second delivery is a duplicate.
            unmarked = Counter(d.alert_id for d in deliveries if not d.possible_repeat)
            twice = [a for a, n in unmarked.items() if n > 1]
            if twice:
                row.duplicates += len(twice)
                row.notes.append(f"alerts delivered twice: {twice[:5]}")
            marked = [d.alert_id for d in deliveries if d.possible_repeat]
            repeats += len(marked)
            if marked:
                row.notes.append(
                    f"{len(marked)} alert(s) re-sent marked 'possible repeat' after a send"
                    f" the fault cut off: {marked[:5]}"
                )
        surplus = {k for k in last_state if k.split("/", 1)[0] in stream.agency_calls} - {
            finding_id(c, r) for c, r in alerting
        }
        if surplus:
            row.notes.append(f"alerts for findings the truth does not have: {sorted(surplus)[:5]}")

        # Elasticsearch: one document per distinct input, and tables recovered
        n_events = self.count("events")
        if n_events != len(stream.valid_ids):
            row.notes.append(f"events index holds {n_events}, expected {len(stream.valid_ids)}")
            row.duplicates += max(0, n_events - len(stream.valid_ids))
        # an event on the topic that never reached the index is lost to the dashboards
        indexed = {
            d["_id"]
            for d in scan(
                self.es,
                index=self.index("events"),
                query={"query": {"match_all": {}}},
                _source=False,
            )
        }
        unindexed = [i for i in stream.valid_ids if on_topic[i] and i not in indexed]
        if unindexed:
            row.accounted -= sum(min(on_topic[i], stream.valid_ids[i]) for i in unindexed)
            row.notes.append(f"{len(unindexed)} events on the topic never indexed: {unindexed[:5]}")
        # dead letters: one document per distinct dead letter on the topic
        n_dead = self.count("deadletters")
        distinct_dead = len(
            {
                (
                    h.get("callwatch-source-topic"),
                    h.get("callwatch-source-partition"),
                    h.get("callwatch-source-offset"),
                )
                for h in (dict(m.headers) for m in dead)
            }
        )
        if n_dead != distinct_dead:
            row.notes.append(f"deadletters index holds {n_dead}, the topic {distinct_dead}")
            row.duplicates += max(0, n_dead - distinct_dead)
        # valid events the engine dead-lettered (late, for a call evicted long before)
        late = Counter(
            (m.key or b"").decode()
            for m in dead
            if dict(m.headers).get("callwatch-stage") == b"engine"
        )
        if late:
            row.notes.append(
                f"{sum(late.values())} valid events dead-lettered by the engine "
                f"(late_after_eviction) for {len(late)} calls closed and evicted before them"
            )
        self.es.indices.refresh(index=self.index("calls"))
        calls = {
            d["_id"]: d["_source"].get("events", 0)
            for d in scan(self.es, index=self.index("calls"), query={"query": {"match_all": {}}})
        }
        over = [c for c, n in stream.events_per_call.items() if calls.get(c, 0) > n]
        under = [c for c, n in stream.events_per_call.items() if calls.get(c, 0) + late[c] < n]
        if over:
            row.duplicates += len(over)
            row.notes.append(f"calls whose state counts an event twice: {over[:5]}")
        if under:
            row.accounted -= sum(
                stream.events_per_call[c] - calls.get(c, 0) - late[c] for c in under
            )
            row.notes.append(f"calls whose state misses events (table not recovered): {under[:5]}")
        row.repeats = repeats
        return row


_ALERT_LINE = re.compile(r'^\[([^\]]+)\].*?(\{"event":"alert".*\})\s*$')


class LogDelivery(NamedTuple):
    alert_id: str
    kind: str
    possible_repeat: bool  # re-sent after a send was cut off, and marked so


def delivered_alerts(logs: str) -> list[LogDelivery]:
    """Each delivery the log channel recorded, in time order (over the logs of
    several workers).

    Escalations (tier > 0) re-send an unacknowledged alert on purpose; they are not
    deliveries of a new alert.
    """
    found = []
    for line in logs.splitlines():
        match = _ALERT_LINE.search(line)
        if match:
            doc = orjson.loads(match.group(2))
            if not doc.get("escalation_tier"):
                delivery = LogDelivery(
                    doc["alert_id"], doc["kind"], bool(doc.get("possible_repeat"))
                )
                found.append((match.group(1), delivery))
    found.sort(key=lambda f: f[0])  # stable: one worker's lines keep their order
    return [delivery for _, delivery in found]


def owed_to_a_slower_channel(deliveries: Sequence[LogDelivery], received: set[str]) -> set[str]:
    """The alert ids the log channel delivered that another message channel must have
    too: all of them, except an alert's messages up to its withdrawal when that
    channel had heard nothing of the alert before (withdrawn before anyone there heard
    of it: there is nothing to take back, so it is never sent; by design)."""
    owed: set[str] = set()
    episode: dict[str, list[str]] = {}
    heard: set[str] = set()  # alerts the channel has had a message of
    for delivery in deliveries:
        key = delivery.alert_id.split("#", 1)[0]
        episode.setdefault(key, []).append(delivery.alert_id)
        owed.add(delivery.alert_id)
        if delivery.alert_id in received:
            heard.add(key)
        if delivery.kind == "withdrawn":
            ids = episode.pop(key)
            if key not in heard:
                owed.difference_update(ids)
    return owed


def wait_until(
    what: str,
    probe: Callable[[], Any],
    timeout: float,
    alive: Callable[[], None] = lambda: None,
    interval: float = 0.5,
) -> float:
    """Poll ``probe`` until it is truthy; return the seconds it took."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < timeout:
        alive()
        last = probe()
        if last:
            return time.monotonic() - started
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last saw {last!r}")


def finding_key(call_id: str, rule: str) -> str:
    return finding_id(call_id, rule)
