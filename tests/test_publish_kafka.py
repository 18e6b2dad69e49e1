"""Publishing to a real Kafka broker: the producer, and the simulate/publish/replay commands."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from typer.testing import CliRunner

from callwatch.commands.publish import publish_command
from callwatch.commands.replay import replay_command
from callwatch.commands.simulate import simulate_command
from callwatch.producer import BrokerUnavailable, connect, publish
from callwatch.settings import Settings
from schemas.events import DispatchEvent
from streams.codec import Rejected, decode, encode
from streams.simulate import SimulationConfig, event_lines, read_truth_line, simulate

START = datetime(2017, 4, 13, 6, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "adapters"
PARTITIONS = 3


@pytest.fixture
def settings(kafka_bootstrap: str, unique_prefix: str) -> Settings:
    return Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=unique_prefix)


def create_raw_topic(settings: Settings, partitions: int) -> Iterator[str]:
    topic = settings.topic("raw")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        yield topic
        admin.delete_topics([topic])
    finally:
        admin.close()


@pytest.fixture
def raw_topic(settings: Settings) -> Iterator[str]:
    """The raw topic, with several partitions so keying matters."""
    yield from create_raw_topic(settings, PARTITIONS)


@pytest.fixture
def one_partition_raw_topic(settings: Settings) -> Iterator[str]:
    """The raw topic on one partition: what is consumed is exactly the send order."""
    yield from create_raw_topic(settings, 1)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLWATCH_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("CALLWATCH_TOPIC_PREFIX", settings.topic_prefix)


def consume(
    settings: Settings, topic: str, expected: int, timeout: float = 30.0
) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of every message, in partition order, until ``expected`` arrived."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    messages: list[tuple[int, bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend((m.partition, m.key, m.value) for m in batch)
        # Anything beyond what we expected would be a duplicate: give it a moment to show.
        for batch in consumer.poll(timeout_ms=500).values():
            messages.extend((m.partition, m.key, m.value) for m in batch)
    finally:
        consumer.close()
    return messages


def event_of(value: bytes) -> DispatchEvent:
    event = decode(value)
    assert not isinstance(event, Rejected), event
    return event


def small_simulation(seed: int = 4) -> list[DispatchEvent]:
    return simulate(
        SimulationConfig(seed=seed, start=START, n_calls=40, agency_calls=6, tail_hours=0)
    ).events


def cli() -> typer.Typer:
    """The commands as the lead registers them in callwatch/cli.py."""
    app = typer.Typer()
    app.command("simulate")(simulate_command)
    app.command("publish")(publish_command)
    app.command("replay")(replay_command)
    return app


# ------------------------------------------------------------------ the producer


@pytest.mark.integration
def test_every_event_arrives_once_keyed_by_call_with_each_calls_order_kept(
    settings: Settings, raw_topic: str
) -> None:
    events = small_simulation()
    result = publish(events, raw_topic, settings=settings)
    assert result.sent == len(events)

    messages = consume(settings, raw_topic, len(events))
    assert len(messages) == len(events)
    received = [event_of(value) for _, _, value in messages]
    assert sorted(e.event_id for e in received) == sorted(e.event_id for e in events)
    partitions_of_call: dict[bytes, set[int]] = defaultdict(set)
    order_seen: dict[str, list[str]] = defaultdict(list)
    for (partition, key, _), event in zip(messages, received, strict=True):
        assert key == event.call_id.encode()
        partitions_of_call[key].add(partition)
        order_seen[event.call_id].append(event.event_id)
    assert all(len(p) == 1 for p in partitions_of_call.values())
    assert len({p for ps in partitions_of_call.values() for p in ps}) > 1  # keys spread out
    order_sent: dict[str, list[str]] = defaultdict(list)
    for event in events:
        order_sent[event.call_id].append(event.event_id)
    assert order_seen == order_sent


@pytest.mark.integration
def test_raw_lines_go_out_byte_for_byte_bad_ones_included(
    settings: Settings, raw_topic: str
) -> None:
    good = encode(small_simulation()[0])
    lines = [good + b"\n", b"this is not json\n", b'{"call_id": "X-1", "type": "bogus"}']
    publish(lines, raw_topic, settings=settings)
    messages = consume(settings, raw_topic, 3)
    sent = {(key, value) for _, key, value in messages}
    assert sent == {
        (event_of(good).call_id.encode(), good),
        (None, b"this is not json"),
        (b"X-1", b'{"call_id": "X-1", "type": "bogus"}'),
    }


@pytest.mark.integration
def test_a_rate_limit_paces_the_sends(settings: Settings, raw_topic: str) -> None:
    events = small_simulation()[:60]
    result = publish(events, raw_topic, rate=40.0, settings=settings)
    # 60 sends at 40/s with a burst of 4 cannot take less than 56/40 s.
    assert result.seconds >= 56 / 40
    assert len(consume(settings, raw_topic, 60)) == 60


def test_an_unreachable_broker_is_one_clear_error() -> None:
    nobody = Settings(kafka_bootstrap="127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(BrokerUnavailable, match=r"no Kafka broker reachable at 127\.0\.0\.1:9"):
        connect(nobody, bootstrap_timeout=1.0)


# ------------------------------------------------------------------ the commands


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_simulate_publish_sends_the_stream_and_writes_the_truth(
    settings: Settings, raw_topic: str, tmp_path: Path
) -> None:
    truth = tmp_path / "truth.jsonl"
    result = CliRunner().invoke(
        cli(),
        ["simulate", "--seed", "9", "--calls", "30", "--agency-calls", "4", "--tail-hours", "0",
         "--start", START.isoformat(), "--publish", "--truth", str(truth)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = simulate(
        SimulationConfig(seed=9, start=START, n_calls=30, agency_calls=4, tail_hours=0)
    )
    messages = consume(settings, raw_topic, len(expected.events))
    assert sorted(v for _, _, v in messages) == sorted(encode(e) for e in expected.events)
    lines = truth.read_bytes().splitlines()
    assert [read_truth_line(line) for line in lines] == expected.truth
    assert "immigration-agency: 4" in result.stderr


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_publish_sends_a_jsonl_file_as_is(
    settings: Settings, raw_topic: str, tmp_path: Path
) -> None:
    events = small_simulation()
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(event_lines(events)) + b"\n{broken\n")
    result = CliRunner().invoke(cli(), ["publish", str(source)])
    assert result.exit_code == 0, result.output
    messages = consume(settings, raw_topic, len(events) + 1)
    assert len(messages) == len(events) + 1
    assert b"{broken" in {v for _, _, v in messages}  # for the ingest agent to dead-letter
    assert f"sent {len(events) + 1} messages" in result.stderr


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_publish_converts_a_cad_export_with_the_adapters(
    settings: Settings, raw_topic: str
) -> None:
    result = CliRunner().invoke(
        cli(), ["publish", str(FIXTURES / "mpd_sample.csv"), "--mapping", "mpd-milwaukee"]
    )
    assert result.exit_code == 0, result.output
    messages = consume(settings, raw_topic, 1)
    sent = int(result.stderr.split("sent ")[1].split()[0])
    assert sent > 0 and len(messages) == sent
    assert all(k == event_of(v).call_id.encode() for _, k, v in messages)
    assert "could not be converted" in result.stderr  # the fixture has a bad row


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_replay_plays_event_time_at_the_given_speed_in_time_order(
    settings: Settings, one_partition_raw_topic: str, tmp_path: Path
) -> None:
    # Three calls written call by call, as exports are: not in event-time order.
    events = small_simulation()
    first_calls = sorted({e.call_id for e in events})[:3]
    chosen = [e for e in events if e.call_id in first_calls]
    grouped = sorted(chosen, key=lambda e: e.call_id)
    assert grouped != chosen
    span = chosen[-1].occurred_at - chosen[0].occurred_at
    speed = span / timedelta(seconds=2)  # the whole span in about two seconds
    source = tmp_path / "history.jsonl"
    source.write_bytes(b"".join(event_lines(grouped)))

    began = time.monotonic()
    result = CliRunner().invoke(cli(), ["replay", str(source), "--speed", str(speed)])
    elapsed = time.monotonic() - began
    assert result.exit_code == 0, result.output
    assert 1.9 <= elapsed < 10
    messages = consume(settings, one_partition_raw_topic, len(chosen))
    assert [event_of(v) for _, _, v in messages] == chosen  # sent in event-time order


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_replay_as_fast_as_possible_does_not_wait(
    settings: Settings, raw_topic: str, tmp_path: Path
) -> None:
    events = small_simulation()  # hours of event time
    source = tmp_path / "history.jsonl"
    source.write_bytes(b"".join(event_lines(events)))
    began = time.monotonic()
    result = CliRunner().invoke(cli(), ["replay", str(source), "--as-fast-as-possible"])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began < 20
    assert len(consume(settings, raw_topic, len(events))) == len(events)


def test_publishing_to_a_dead_broker_exits_2_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(event_lines(small_simulation()[:3])))
    result = CliRunner().invoke(cli(), ["publish", str(source)])
    assert result.exit_code == 2
    assert "no Kafka broker reachable at 127.0.0.1:9" in result.stderr
