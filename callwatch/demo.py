"""``callwatch demo``: the whole pipeline on this machine, watching a simulated feed.

Starts (or reuses) the demo profile's Kafka and Elasticsearch, a worker, and the
simulator publishing a day of dispatch traffic with immigration-agency calls in
it, then prints each flagged call and each policy finding as Elasticsearch
receives them. Ctrl-C (or ``--seconds``) stops everything it started.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from rich.console import Console

from callwatch import local_services

ROOT = Path(__file__).resolve().parent.parent
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "warning": "yellow", "review": "cyan"}


def run_demo(seconds: float, rate: float, hours: float, seed: int | None) -> None:
    console = Console(stderr=False)
    profile = local_services.PROFILES["demo"]
    services = local_services.services("demo")
    started_services = not all(s.healthy() for s in services)
    console.print(
        "[bold]callwatch demo[/]: starting Kafka and Elasticsearch (first run downloads them)"
    )
    local_services.up("demo", report=lambda m: console.print(f"  {m}"))
    seed = seed if seed is not None else random.randrange(1_000_000)
    run_dir = ROOT / ".demo"
    run_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "CALLWATCH_KAFKA_BOOTSTRAP": profile.kafka_bootstrap,
        "CALLWATCH_ES_URL": profile.es_url,
        "CALLWATCH_DATA_DIR": str(run_dir / "worker"),
    }
    callwatch = str(Path(sys.executable).parent / "callwatch")
    children: list[subprocess.Popen[bytes]] = []
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        worker_log = (run_dir / "worker.log").open("ab")
        children.append(
            subprocess.Popen(
                [callwatch, "worker", "--loglevel", "info"],
                env=env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        port = env.get("CALLWATCH_WEB_PORT", "6066")
        console.print(
            f"  worker: started (log {run_dir / 'worker.log'}); metrics at http://127.0.0.1:{port}/metrics"
        )
        truth = run_dir / f"truth-{seed}.jsonl"
        sim_log = (run_dir / "simulate.log").open("ab")
        children.append(
            subprocess.Popen(
                [
                    callwatch,
                    "simulate",
                    "--seed",
                    str(seed),
                    "--hours",
                    str(hours),
                    "--publish",
                    "--rate",
                    str(rate),
                    "--truth",
                    str(truth),
                ],
                env=env,
                stdout=sim_log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        console.print(
            f"  simulator: publishing {hours:g} h of dispatch traffic (seed {seed}) "
            f"at {rate:g} events/s; ground truth in {truth}"
        )
        console.print(
            f"  documents: {profile.es_url}/callwatch-calls/_search?q=immigration_agency:true  "
            f"and {profile.es_url}/callwatch-findings/_search\n"
        )
        _watch(console, Elasticsearch(profile.es_url), seconds, stop, children[0])
    finally:
        console.print("\nstopping what the demo started ...")
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_services:
            local_services.down("demo", report=lambda m: console.print(f"  {m}"))
        else:
            console.print("  services were already running before the demo; left running")


def _watch(
    console: Console,
    es: Elasticsearch,
    seconds: float,
    stop: dict[str, bool],
    worker: subprocess.Popen[bytes],
) -> None:
    seen_calls: set[str] = set()
    seen_findings: set[tuple[str, str]] = set()
    started = time.monotonic()
    while not stop["now"]:
        if seconds and time.monotonic() - started >= seconds:
            break
        if worker.poll() is not None:
            console.print("[red]the worker stopped; see .demo/worker.log[/]")
            break
        for call in _search(
            es, "callwatch-calls", {"term": {"immigration_agency": True}}, "first_seen"
        ):
            if call["call_id"] not in seen_calls:
                seen_calls.add(call["call_id"])
                console.print(
                    f"[bold magenta]FLAGGED[/] call {call['call_id']}  originator "
                    f"[bold]{call.get('agency')}[/] (confidence {call.get('confidence'):.2f})  "
                    f"evidence: {', '.join(call.get('originator_evidence', [])[:3])}"
                )
        for f in _search(es, "callwatch-findings", {"match_all": {}}, "violation_at"):
            key = (f["finding_id"], f["status"])
            if key not in seen_findings:
                seen_findings.add(key)
                style = SEVERITY_STYLE.get(f["severity"], "white")
                console.print(
                    f"  [{style}]{f['severity'].upper():8}[/] {f['rule']:20} {f['status']:9} "
                    f"call {f['call_id']}  ({f['clause']}) {f['detail']}"
                )
        time.sleep(2)
    console.print(
        f"\n{len(seen_calls)} immigration-agency calls flagged, "
        f"{len({k[0] for k in seen_findings})} findings"
    )


def _search(
    es: Elasticsearch, index: str, query: dict[str, Any], sort: str
) -> list[dict[str, Any]]:
    try:
        hits = es.search(index=index, query=query, size=500, sort=[{sort: "asc"}])["hits"]["hits"]
    except Exception:  # the index may not exist yet in the first seconds
        return []
    return [h["_source"] for h in hits]
