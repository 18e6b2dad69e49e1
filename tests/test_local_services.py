"""Local services' small decisions that a flaky start would otherwise hide."""

from __future__ import annotations

import base64

from callwatch import local_services


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    # 1 in 64 random ids start with "-", which kafka-storage's parser reads as an option;
    # 5,000 draws meet one with probability 1 - (63/64)**5000, all but certainly
    for _ in range(5000):
        cluster_id = local_services._kafka_cluster_id()
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


# ------------------------------------------------------------------ lifecycle
# A throwaway profile on ports of its own: these tests never touch a running profile.

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.conftest import free_port  # noqa: E402

LIFECYCLE = "lifecycle-test"


@pytest.fixture
def throwaway_profile() -> local_services.Profile:
    profile = local_services.Profile(LIFECYCLE, *(free_port() for _ in range(4)))
    local_services.PROFILES[LIFECYCLE] = profile  # type: ignore[index]
    yield profile
    local_services.down(LIFECYCLE, report=lambda _m: None)
    del local_services.PROFILES[LIFECYCLE]  # type: ignore[attr-defined]
    shutil.rmtree(local_services.services_dir() / LIFECYCLE, ignore_errors=True)


def test_a_pid_file_left_by_a_killed_run_is_recovered(throwaway_profile) -> None:
    kafka = local_services.Kafka(throwaway_profile)
    kafka.workdir.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    kafka.pidfile.write_text(str(dead.pid))
    assert kafka.pid() is None and not kafka.pidfile.exists()
    # a pid reused by an unrelated process (here: this test's own) is not ours either,
    # and stopping the service must not signal it
    kafka.pidfile.write_text(str(os.getpid()))
    assert kafka.pid() is None and not kafka.pidfile.exists()
    kafka.pidfile.write_text(str(os.getpid()))
    assert kafka.stop() == "not running"


@pytest.mark.integration
def test_a_failed_start_stops_what_it_had_started(throwaway_profile) -> None:
    # Something that is not Elasticsearch holds its port: Kafka starts, then ES cannot.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", throwaway_profile.es_http_port))
        squatter.listen(1)
        said: list[str] = []
        with pytest.raises(local_services.ServiceError, match="not callwatch's elasticsearch"):
            local_services.up(LIFECYCLE, report=said.append)
    assert said[0].startswith("kafka: started"), said  # it really had started Kafka
    assert said[-1] == "kafka: stopped (the start failed)", said
    kafka = local_services.Kafka(throwaway_profile)
    assert kafka.pid() is None, "the Kafka this start launched was left running"
    assert not local_services.port_open(throwaway_profile.kafka_port)


@pytest.mark.integration
def test_as_root_from_a_folder_the_es_user_cannot_enter_es_files_go_where_it_can(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout in a 0700 folder (a home directory, ``mktemp -d``): Elasticsearch
    still starts, its distribution and data placed under the fallback root. (Not as
    root, Elasticsearch runs as this user, from the checkout itself.)"""
    import tempfile

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    services = private / "services"
    # the ES distribution from this run's own cache, so nothing is downloaded again
    (services / "cache").mkdir(parents=True)
    home = local_services.es_home()
    os.symlink(home, services / "cache" / home.name)
    fallback = Path(tempfile.mkdtemp(prefix="callwatch-es-root-", dir="/tmp"))
    os.chmod(fallback, 0o755)  # as /var/lib/callwatch would be
    monkeypatch.setenv("CALLWATCH_SERVICES_DIR", str(services))
    monkeypatch.setattr(local_services, "ES_ROOT_FALLBACK", fallback)
    profile = local_services.Profile("root-placement", *(free_port() for _ in range(4)))
    es = local_services.Elasticsearch(profile)
    try:
        if os.geteuid() != 0:
            assert es._places() == (local_services.es_home(), es.workdir)
            return
        assert es.start(timeout=240).startswith("started")
        assert es.healthy()
        placed = list(fallback.glob("*/root-placement/elasticsearch/data"))
        assert placed, f"no data folder under {fallback}"
        assert not (services / "root-placement" / "elasticsearch" / "data").exists()
        assert es.pidfile.parent == services / "root-placement" / "elasticsearch"
        assert es.pid() is not None  # recognised as ours, though it runs from elsewhere
    finally:
        es.stop()
        assert not local_services.port_open(profile.es_http_port), "left running"
        shutil.rmtree(fallback, ignore_errors=True)


# ------------------------------------------------------------------ the cluster profile


def test_the_cluster_profile_is_three_replicated_nodes_on_ports_of_their_own() -> None:
    cluster = local_services.PROFILES["cluster"]
    nodes = local_services.kafka_nodes("cluster")
    assert [n.name for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    ports = [p for n in nodes for p in (n.port, n.controller_port)]
    ports += [cluster.es_http_port, cluster.es_transport_port]
    assert len(set(ports)) == len(ports) and all(p < 32768 for p in ports)  # below ephemeral
    others = {
        p
        for name, profile in local_services.PROFILES.items()
        if name != "cluster"
        for n in range(1, profile.kafka_nodes + 1)
        for p in (*profile.kafka_node_ports(n), profile.es_http_port, profile.es_transport_port)
    }
    assert not set(ports) & others
    assert cluster.kafka_bootstrap == "127.0.0.1:27092,127.0.0.1:27094,127.0.0.1:27096"
    props = dict(line.split("=", 1) for line in nodes[1].properties().splitlines() if "=" in line)
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:27093,2@127.0.0.1:27095,3@127.0.0.1:27097"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:27094,CONTROLLER://127.0.0.1:27095"
    for key, value in {
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
    }.items():
        assert props[key] == value, key


def test_single_node_profiles_keep_their_one_kafka() -> None:
    for name in ("demo", "test", "faults", "bench"):
        (kafka,) = local_services.kafka_nodes(name)
        profile = local_services.PROFILES[name]
        assert kafka.name == "kafka" and kafka.port == profile.kafka_port
        assert profile.kafka_bootstrap == f"127.0.0.1:{profile.kafka_port}"
        props = kafka.properties()
        assert "node.id=1\n" in props and "offsets.topic.replication.factor=1\n" in props
        assert "default.replication.factor" not in props
    with pytest.raises(ValueError):
        local_services.Kafka(local_services.PROFILES["demo"], node=2)
