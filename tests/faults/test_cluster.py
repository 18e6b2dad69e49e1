"""A partition's leader killed on a three-broker cluster: the pipeline goes on, nothing is lost.

The ``cluster`` service profile runs three Kafka nodes (each broker and KRaft
controller, a quorum of three) and one Elasticsearch. The worker creates every
topic, Faust's changelogs included, with ``CALLWATCH_TOPIC_REPLICATION_FACTOR=3``
and ``CALLWATCH_TOPIC_MIN_INSYNC_REPLICAS=2`` (the production settings); the
brokers' own topics (consumer offsets, transactions) have the same. Each scenario
first checks that every topic of its pipeline, and the consumer offsets, really
are replicated so, then, mid-stream, finds the broker leading a partition of
``raw``, of ``events`` or of the engine's changelog, SIGKILLs it, checks that
another broker took the partition over, measures how long processing of that
partition paused, and starts the broker again after the outage
(``CALLWATCH_FAULT_DOWN_SECONDS``).

The pause is from the kill until both the partition itself takes writes again (its
new leader elected and its writers told) and the stage reading it writes its next
output for the same partition. It is mostly the brokers' defaults: the controller
fences a broker that stopped heartbeating after ``broker.session.timeout.ms``
(9 s) and only then elects new leaders.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from callwatch import local_services
from tests.conftest import Services
from tests.faults.accounting import Row, simulated_stream, wait_until
from tests.faults.conftest import DOWN_SECONDS, Pipeline, scenario_seed, start_service
from tests.faults.scenario import Fault, Publisher, run_scenario

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(1200)]

CLUSTER = os.environ.get("CALLWATCH_CLUSTER_PROFILE", "cluster")
REPLICAS = 3
MIN_INSYNC = 2
# the production settings (README, "Configuration")
REPLICATED = {
    "CALLWATCH_TOPIC_REPLICATION_FACTOR": str(REPLICAS),
    "CALLWATCH_TOPIC_MIN_INSYNC_REPLICAS": str(MIN_INSYNC),
}
PARTITIONS = 4  # CALLWATCH_TOPIC_PARTITIONS' default: every topic, changelogs included
# Slow enough that the stream is still flowing when the broker comes back.
RATE = 120


# ------------------------------------------------------------------ the cluster


@pytest.fixture(scope="session")
def cluster_services() -> Iterator[Services]:
    """The cluster, started once; stopped at the end if this session started it."""
    profile = local_services.PROFILES[CLUSTER]
    assert profile.kafka_nodes == REPLICAS, f"the {CLUSTER} profile must have {REPLICAS} nodes"
    already = all(s.healthy() for s in local_services.services(CLUSTER))
    local_services.up(CLUSTER, report=lambda m: print(f"[{CLUSTER}] {m}", file=sys.stderr))
    foreign = [s.name for s in local_services.services(CLUSTER) if s.pid() is None]
    if foreign:
        pytest.fail(
            f"the {CLUSTER} profile's {', '.join(foreign)} answer on its ports but were started"
            " from another checkout, so this suite cannot kill and restart them: run"
            f" `callwatch services down --profile {CLUSTER}` there"
        )
    yield Services(profile.kafka_bootstrap, profile.es_url)
    if not already and os.environ.get("CALLWATCH_KEEP_SERVICES") != "1":
        local_services.down(CLUSTER, report=lambda m: print(f"[{CLUSTER}] {m}", file=sys.stderr))


def node(node_id: int) -> local_services.Kafka:
    return local_services.Kafka(local_services.PROFILES[CLUSTER], node_id)


@contextlib.contextmanager
def admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, client_id="callwatch-fault-probe"
    )
    try:
        yield client
    finally:
        client.close()


def partitions(bootstrap: str, topics: list[str] | None = None) -> dict[TopicPartition, Any]:
    """Each partition's metadata (leader_id, replica_nodes, isr_nodes), as a broker sees it."""
    with admin(bootstrap) as client:
        described = client.describe_topics(topics)
    out = {}
    for topic in described:
        assert topic["error_code"] == 0, f"describing {topic['name']}: {topic}"
        for part in topic["partitions"]:
            out[TopicPartition(topic["name"], part["partition_index"])] = part
    return out


def whole_again(bootstrap: str) -> bool:
    """Every partition of every topic has all its replicas in sync."""
    try:
        return all(
            len(p["isr_nodes"]) == len(p["replica_nodes"]) for p in partitions(bootstrap).values()
        )
    except Exception:  # a broker still coming up: not yet
        return False


def restore_cluster(bootstrap: str) -> None:
    """Whatever the previous scenario did, each starts with every node up and in sync."""
    for kafka in local_services.kafka_nodes(CLUSTER):
        if not kafka.healthy():
            start_service(kafka)
    wait_until("every replica of the cluster in sync", lambda: whole_again(bootstrap), 180)


@pytest.fixture
def cluster_pipeline(
    cluster_services: Services, tmp_path: Path, fault_run: int, request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    seed = scenario_seed(request.node.name, fault_run)
    print(
        f"[faults] {request.node.name}: seed {seed} (CALLWATCH_FAULT_SEED={seed} replays it)",
        file=sys.stderr,
    )
    restore_cluster(cluster_services.kafka_bootstrap)
    p = Pipeline(cluster_services, tmp_path, seed=seed, rng=random.Random(seed))
    yield p
    for w in p.workers:
        w.stop()
    restore_cluster(cluster_services.kafka_bootstrap)


# ------------------------------------------------------------- replication


def pipeline_topics(p: Pipeline) -> list[str]:
    """Every topic of this pipeline (``PREFIX.*`` and Faust's ``APPID-*``)."""
    with admin(p.services.kafka_bootstrap) as client:
        names = client.list_topics()
    return sorted(n for n in names if n.startswith((f"{p.prefix}.", f"callwatch-{p.prefix}-")))


def assert_replicated(p: Pipeline, row_notes: list[str]) -> None:
    """Every topic of the pipeline, its changelogs and the consumer offsets included,
    has 3 replicas in sync and ``min.insync.replicas`` 2."""
    topics = pipeline_topics(p)
    must = {
        f"{p.prefix}.raw",
        f"{p.prefix}.events",
        changelog(p),
        f"callwatch-{p.prefix}-alertstate-changelog",
    }
    assert must <= set(topics), f"missing topics: {sorted(must - set(topics))} of {topics}"
    topics.append("__consumer_offsets")
    for tp, part in partitions(p.services.kafka_bootstrap, topics).items():
        assert len(part["replica_nodes"]) == REPLICAS, f"{tp}: replicas {part['replica_nodes']}"
        assert len(part["isr_nodes"]) == REPLICAS, f"{tp}: in sync {part['isr_nodes']}"
    with admin(p.services.kafka_bootstrap) as client:
        configs = client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics], config_filter="all"
        )["topic"]
    for topic in topics:
        value = configs[topic]["min.insync.replicas"]["value"]
        assert value == str(MIN_INSYNC), f"{topic}: min.insync.replicas={value}"
    row_notes.append(
        f"{len(topics)} topics (changelogs and __consumer_offsets included) checked:"
        f" {REPLICAS} replicas in sync, min.insync.replicas={MIN_INSYNC}"
    )


# --------------------------------------------------------------- the fault


def changelog(p: Pipeline) -> str:
    return f"callwatch-{p.prefix}-callstate-changelog"


class Ends:
    """End offsets of single partitions, read through whichever brokers are up."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)

    def __call__(self, tp: TopicPartition) -> int:
        try:
            return int(self.consumer.end_offsets([tp], timeout_ms=3000)[tp])
        except Exception:  # no leader yet: no progress either
            return -1

    def known(self, tp: TopicPartition, alive: Callable[[], None]) -> int:
        """The end offset as soon as a leader tells it."""
        deadline = time.monotonic() + 120
        while (end := self(tp)) < 0:
            assert time.monotonic() < deadline, f"no leader of {tp} told its end in 120 s"
            alive()
            time.sleep(0.25)
        return end

    def close(self) -> None:
        self.consumer.close()


def leader_killed(
    target: Callable[[Pipeline], str], downstream: Callable[[Pipeline], str]
) -> tuple[Fault, list[str]]:
    """Kill the leader of a partition of ``target`` mid-stream; restart it after the outage.

    The recovery recorded is the pause: from the kill until the partition, once its new
    leader is elected, takes a write, and then ``downstream`` (what the stage reading
    it writes, for the same calls: the same partition) grows again."""
    notes: list[str] = []
    recoveries: list[float] = []

    def inject(p: Pipeline, publisher: Publisher) -> None:
        time.sleep(p.rng.uniform(0.5, 3.0))  # mid-stream, at a point the seed picks
        bootstrap = p.services.kafka_bootstrap
        topic = target(p)
        partition = p.rng.randrange(PARTITIONS)
        tp = TopicPartition(topic, partition)
        out = TopicPartition(downstream(p), partition)
        before = partitions(bootstrap, [topic])[tp]
        leader = before["leader_id"]
        assert len(before["isr_nodes"]) == REPLICAS, f"{tp} not fully in sync: {before}"
        with admin(bootstrap) as client:
            controller = client.describe_cluster()["controller_id"]
        victim = node(leader)
        assert victim.pid() is not None, f"{victim.name} was not started by this suite"
        survivors = ",".join(
            n.bootstrap for n in local_services.kafka_nodes(CLUSTER) if n.node != leader
        )
        ends = Ends(survivors)
        try:
            assert victim.kill() == "killed"
            killed = time.monotonic()

            seen: list[int] = []  # the new leader, as the probe that found it saw it

            def new_leader() -> bool:
                try:
                    now = partitions(survivors, [topic])[tp]
                except Exception:  # the survivors still settling: not yet
                    return False
                if now["leader_id"] in (leader, -1) or leader in now["isr_nodes"]:
                    return False
                seen.append(now["leader_id"])
                return True

            # Not asked a second time: a later metadata request can fail while the
            # cluster settles (the suite saw it once), which is not the fault under test.
            elected = wait_until(f"a new leader of {tp}", new_leader, 120, p.alive, 0.25)
            successor = seen[-1]
            assert successor != leader, "the leader did not move"
            assert successor in before["replica_nodes"], f"{successor} is no replica of {tp}"
            written = ends.known(tp, p.alive)
            wait_until(f"{tp} to take writes again", lambda: ends(tp) > written, 120, p.alive, 0.25)
            read = ends.known(out, p.alive)
            wait_until(f"{out} to grow again", lambda: ends(out) > read, 120, p.alive, 0.25)
            paused = time.monotonic() - killed
        finally:
            ends.close()
        recoveries.append(paused)
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - killed)))
        p.alive()  # losing a broker must not crash the worker
        down = time.monotonic() - killed
        start_service(victim)
        restarted = time.monotonic()
        wait_until("every replica in sync again", lambda: whole_again(bootstrap), 180, p.alive)
        notes.append(
            f"{tp.topic}[{partition}]: leader node {leader}"
            f"{' (also the active controller)' if controller == leader else ''} SIGKILLed,"
            f" node {successor} led it {elected:.1f} s later; processing paused {paused:.1f} s;"
            f" node {leader} down {down:.0f} s, healthy {restarted - killed - down:.1f} s after"
            f" its start, every replica in sync {time.monotonic() - restarted:.1f} s later"
        )

    return Fault(inject, recoveries=recoveries), notes


def run_leader_kill(
    p: Pipeline,
    table: list[Row],
    what: str,
    target: Callable[[Pipeline], str],
    downstream: Callable[[Pipeline], str],
) -> None:
    fault, notes = leader_killed(target, downstream)
    replication: list[str] = []

    def account(row: Row) -> None:
        row.notes += replication + notes
        assert notes, "the fault never ran"

    run_scenario(
        p,
        table,
        f"3-broker cluster: leader of {what} SIGKILLed, restarted after {DOWN_SECONDS:.0f}s",
        simulated_stream(),
        fault,
        rate=RATE,
        worker_env=REPLICATED,
        before_publish=lambda p: assert_replicated(p, replication),
        account=account,
    )


def test_leader_of_raw_killed(cluster_pipeline: Pipeline, fault_table) -> None:
    run_leader_kill(
        cluster_pipeline,
        fault_table,
        "raw",
        lambda p: f"{p.prefix}.raw",
        lambda p: f"{p.prefix}.events",  # ingest's output
    )


def test_leader_of_events_killed(cluster_pipeline: Pipeline, fault_table) -> None:
    run_leader_kill(
        cluster_pipeline,
        fault_table,
        "events",
        lambda p: f"{p.prefix}.events",
        lambda p: f"{p.prefix}.calls",  # the engine's output
    )


def test_leader_of_the_engine_changelog_killed(cluster_pipeline: Pipeline, fault_table) -> None:
    run_leader_kill(
        cluster_pipeline,
        fault_table,
        "the engine's changelog",
        changelog,
        lambda p: f"{p.prefix}.calls",  # written by the engine in the same batches
    )
