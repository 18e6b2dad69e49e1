"""deploy/prometheus and deploy/alertmanager: valid for the real tools, and in step
with the metrics callwatch/metrics.py actually exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callwatch.metrics import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "callwatch-health.yml"
RULES_TEST = PROMETHEUS / "rules" / "callwatch-health.test.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

REQUIRED_ALERTS = {
    "PipelineStalled",
    "ConsumerLagGrowing",
    "DeadLettersRising",
    "AlertDeliveryFailing",
    "IndexingFailing",
    "WorkerDown",
}

# A metric name, then optionally its {label matchers}.
SELECTOR = re.compile(r"\b(callwatch_[a-zA-Z0-9_]+)(?:\{([^}]*)\})?")
EQUALITY_MATCHER = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        # Never skip: a missing tool would silently stop checking the alerts.
        pytest.fail(
            f"{name} not found on PATH. Install it with "
            "`sudo deploy/local/install-debian-packages.sh` "
            "(Debian packages prometheus and prometheus-alertmanager)."
        )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_check_config() -> None:
    out = run(tool("promtool"), "check", "config", str(PROMETHEUS / "prometheus.yml"))
    # check config also checks the rule files it loads: make sure it loaded ours.
    assert "1 rule files found" in out.stdout


def test_promtool_check_rules() -> None:
    out = run(tool("promtool"), "check", "rules", str(RULES))
    assert f"{len(REQUIRED_ALERTS)} rules found" in out.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    out = run(tool("promtool"), "test", "rules", str(RULES_TEST))
    assert "SUCCESS" in out.stdout


def test_amtool_check_alertmanager_config() -> None:
    out = run(tool("amtool"), "check-config", str(ALERTMANAGER))
    assert "SUCCESS" in out.stdout


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def test_required_alerts_exist_and_each_is_unit_tested() -> None:
    alerts = {rule["alert"] for rule in rules()}
    assert alerts == REQUIRED_ALERTS
    tested = {
        case["alertname"]
        for test in load(RULES_TEST)["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")  # a test that only expects silence proves little
    }
    assert tested == REQUIRED_ALERTS


def test_every_alert_has_a_routable_severity_and_a_summary() -> None:
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_prometheus_sends_to_alertmanager_and_loads_only_the_rule_file() -> None:
    config = load(PROMETHEUS / "prometheus.yml")
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    # A glob here would also pick up the promtool test file and break startup.
    assert config["rule_files"] == ["rules/callwatch-health.yml"]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"callwatch"}


def exposed_samples() -> dict[str, list[dict[str, str]]]:
    """Every sample name the registry can expose, with the label sets present now.

    Derived from metric types, not from current samples, so a metric whose
    labelled series have not been created yet still counts as exposed.
    """
    suffixes = {
        "counter": ["_total"],
        "gauge": [""],
        "histogram": ["_bucket", "_count", "_sum"],
        "summary": ["", "_count", "_sum"],
        "info": ["_info"],
    }
    exposed: dict[str, list[dict[str, str]]] = {}
    for family in REGISTRY.collect():
        for suffix in suffixes[family.type]:
            exposed.setdefault(family.name + suffix, [])
        for sample in family.samples:
            exposed.setdefault(sample.name, []).append(dict(sample.labels))
    return exposed


def unknown_references(text: str, exposed: dict[str, list[dict[str, str]]]) -> list[str]:
    """Selectors in PromQL/series text naming a metric or label value we do not expose."""
    problems = []
    for name, matchers in SELECTOR.findall(text):
        if name not in exposed:
            problems.append(f"unknown metric {name}")
            continue
        wanted = {
            label: value
            for label, value in EQUALITY_MATCHER.findall(matchers)
            if label not in {"job", "instance"}  # added by the scrape, not by us
        }
        if wanted and not any(wanted.items() <= labels.items() for labels in exposed[name]):
            problems.append(f"{name} never has labels {wanted}")
    return problems


def test_rules_reference_only_metrics_and_label_values_callwatch_exposes() -> None:
    exposed = exposed_samples()
    exprs = "\n".join(rule["expr"] for rule in rules())
    referenced = {name for name, _ in SELECTOR.findall(exprs)}
    assert len(referenced) >= 5, referenced  # the regex really finds them
    assert unknown_references(exprs, exposed) == []


def test_rule_unit_tests_feed_series_callwatch_really_exposes() -> None:
    # Otherwise the unit tests could pass on made-up series while production differs.
    exposed = exposed_samples()
    series = "\n".join(
        s["series"] for test in load(RULES_TEST)["tests"] for s in test["input_series"]
    )
    assert unknown_references(series, exposed) == []


def test_reference_check_catches_drift() -> None:
    exposed = exposed_samples()
    assert unknown_references("rate(callwatch_events_handled_total[5m])", exposed) == [
        "unknown metric callwatch_events_handled_total"
    ]
    assert unknown_references('callwatch_dead_letters_total{reason="bad_vibes"}', exposed) == [
        "callwatch_dead_letters_total never has labels {'reason': 'bad_vibes'}"
    ]
    # Suffixes map onto their metric type.
    assert (
        unknown_references(
            "callwatch_processing_seconds_bucket callwatch_build_info callwatch_alerts_total",
            exposed,
        )
        == []
    )
    assert unknown_references("callwatch_processing_seconds_total", exposed) == [
        "unknown metric callwatch_processing_seconds_total"
    ]
