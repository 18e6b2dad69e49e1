"""docker-compose.yml, checked statically (no Docker engine needed): services,
pinned images, health checks, ports, and worker settings that Settings reads."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from callwatch.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"

REQUIRED_SERVICES = {
    "kafka",
    "elasticsearch",
    "kibana",
    "prometheus",
    "alertmanager",
    "worker",
    "simulator",
}
CALLWATCH_SERVICES = ("worker", "simulator", "dashboards")
# Services that run once and exit: no health to check, never restarted.
ONE_SHOT = {"dashboards"}
# A version tag: 3.9.1, v2.55.1, 8.19.7 (optionally with a suffix like -slim).
VERSION_TAG = re.compile(r"^v?\d+(\.\d+)+([-.][\w.-]+)?$")
SECRET_FIELDS = {"kafka_sasl_password", "es_api_key", "es_password"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())  # also resolves the x-* anchors
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_required_services_present(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= REQUIRED_SERVICES


def test_every_image_is_pinned_to_a_version(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image (a built service must still be tagged)"
        reference = image.split("@", 1)[0]  # a digest is fine on top of a tag
        repository, _, tag = reference.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and VERSION_TAG.match(tag), f"{name}: {image} is not a version"
        assert "${" not in image, f"{name}: the tag must not depend on the environment"


def test_built_image_is_tagged_with_the_project_version(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in CALLWATCH_SERVICES:
        assert services[name]["image"] == f"callwatch:{project_version()}", name
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert "healthcheck" not in service, f"{name} exits when done: nothing to check"
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name}: no healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: list-form depends_on does not wait for health"
        for dependency, spec in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}"
    assert set(services["worker"]["depends_on"]) >= {"kafka", "elasticsearch"}
    assert "kafka" in services["simulator"]["depends_on"]
    assert "elasticsearch" in services["kibana"]["depends_on"]


def published_ports(services: dict[str, dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    """(service, host ip, host port, container port) for every short-form mapping."""
    found = []
    for name, service in services.items():
        for mapping in service.get("ports", []):
            assert isinstance(mapping, str), f"{name}: use the short 'ip:host:container' form"
            ip, host, container = mapping.split(":")
            found.append((name, ip, int(host), int(container.split("/")[0])))
    return found


def test_ports_are_sane_unique_and_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    ports = published_ports(services)
    assert ports
    for name, ip, host, container in ports:
        # Kafka and Elasticsearch have no authentication in this stack.
        assert ip == "127.0.0.1", f"{name} publishes on {ip}"
        assert 1024 <= host <= 65535 and 1 <= container <= 65535, name
    hosts = [host for _, _, host, _ in ports]
    assert len(hosts) == len(set(hosts)), f"host port published twice: {sorted(hosts)}"
    # Scaled replicas would collide on a published port.
    assert "ports" not in services["worker"]


def test_host_ports_match_the_settings_defaults(services: dict[str, dict[str, Any]]) -> None:
    # So the CLI on the host reaches the compose stack with no configuration.
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    ports = {(name, host) for name, _, host, _ in published_ports(services)}
    assert ("kafka", int(defaults.kafka_servers[0].rpartition(":")[2])) in ports
    assert ("elasticsearch", urlsplit(defaults.es_url).port) in ports


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):  # bind mounts start with a path
                used.add(source)
    assert used, "no named volumes"
    assert used == declared, f"used {sorted(used)}, declared {sorted(declared)}"
    for name in ("kafka", "elasticsearch", "prometheus", "alertmanager"):
        assert any(not v.startswith((".", "/")) for v in compose["services"][name]["volumes"]), (
            f"{name} keeps its data in the container"
        )


def test_monitoring_mounts_the_repo_configs(services: dict[str, dict[str, Any]]) -> None:
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in services["alertmanager"]["volumes"]
    assert (ROOT / "deploy/prometheus/prometheus.yml").is_file()
    assert (ROOT / "deploy/alertmanager/alertmanager.yml").is_file()


@pytest.mark.parametrize("name", CALLWATCH_SERVICES)
def test_callwatch_env_uses_only_settings_fields(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(services[name])
    assert env, f"{name}: no environment"
    for key in env:
        assert key.startswith("CALLWATCH_"), f"{name}: {key} is not read by callwatch"
        field = key.removeprefix("CALLWATCH_").lower()
        assert field in Settings.model_fields, f"{name}: {key} is not a Settings field"
        assert field not in SECRET_FIELDS, f"{name}: {key} is a secret; it must not be in the file"
    # The values must also be valid: load them the way the process will.
    for key in list(os.environ):
        if key.startswith("CALLWATCH_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    if name != "dashboards":  # Kibana is all it talks to
        assert settings.kafka_servers == ["kafka:9092"]


def test_worker_has_the_essential_settings(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["worker"])
    bootstrap_host = env["CALLWATCH_KAFKA_BOOTSTRAP"].rpartition(":")[0]
    assert bootstrap_host in services, "Kafka bootstrap must name the kafka service"
    assert urlsplit(env["CALLWATCH_ES_URL"]).hostname in services
    # Both processes must agree on topic names.
    simulator = environment(services["simulator"])
    assert simulator["CALLWATCH_TOPIC_PREFIX"] == env["CALLWATCH_TOPIC_PREFIX"]
    assert simulator["CALLWATCH_KAFKA_BOOTSTRAP"] == env["CALLWATCH_KAFKA_BOOTSTRAP"]


def test_worker_metrics_port_agrees_with_healthcheck_and_prometheus(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = services["worker"]
    port = environment(worker)["CALLWATCH_WEB_PORT"]
    assert environment(worker)["CALLWATCH_WEB_HOST"] == "0.0.0.0"  # scrapeable
    assert f":{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    assert port in [str(p) for p in worker["expose"]]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "callwatch")
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert str(job["dns_sd_configs"][0]["port"]) == port


def test_commands(services: dict[str, dict[str, Any]]) -> None:
    assert services["worker"]["command"] == ["worker"]
    assert services["simulator"]["command"] == ["simulate", "--rate", "5"]


def test_dockerfile_runs_callwatch_worker_as_non_root() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["callwatch"\]$', text, re.M)
    assert re.search(r'^CMD \["worker"\]$', text, re.M)


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # An allow-list: everything excluded, then only the build inputs let back in.
    assert rules[0] == "*"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "callwatch", "streams", "agents", "schemas"}
    assert "**/.env" in rules


def test_dashboards_are_imported_once_kibana_is_healthy(
    services: dict[str, dict[str, Any]],
) -> None:
    service = services["dashboards"]
    assert service["depends_on"] == {"kibana": {"condition": "service_healthy"}}
    assert service["restart"] == "no"  # a one-shot: done once it exited 0
    command = service["command"]
    assert command[:2] == ["dashboards", "import"]
    kibana_url = command[command.index("--kibana-url") + 1]
    assert urlsplit(kibana_url).hostname == "kibana"
    assert urlsplit(kibana_url).port == int(services["kibana"]["ports"][0].split(":")[-1])
    # the image has no dashboards/ folder: the file comes from the repo, read-only
    path = command[command.index("--file") + 1]
    mounts = {m.split(":")[1]: m for m in service["volumes"]}
    folder = str(Path(path).parent)
    assert mounts[folder] == f"./dashboards:{folder}:ro"
    assert (ROOT / "dashboards" / Path(path).name).is_file()


def test_readme_docker_section_ends_with_the_oversight_dashboard_url() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Docker", 1)[1].split("\n## ", 1)[0].strip()
    last = section.splitlines()[-1]
    dashboard_ids = re.findall(r'"id":"(callwatch-dashboard-oversight)"',
                               (ROOT / "dashboards" / "callwatch.ndjson").read_text())
    assert dashboard_ids, "the oversight dashboard's id changed"
    assert f"http://127.0.0.1:5601/app/dashboards#/view/{dashboard_ids[0]}" in last
