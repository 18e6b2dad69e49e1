"""``make bench``: callwatch against the real Kafka and Elasticsearch on this machine.

One run prints, in one table:

1. sustained end-to-end throughput (publication -> indexed, all agents on);
2. publication -> finding / alert latency, p50/p95/p99, at 500 events/s;
3. how late absence deadlines fire, p99;
4. the raw ceiling (an aiokafka consumer that only reads and decodes) and the
   pipeline's share of it;
5. offline ``callwatch check`` throughput over a large simulated file;
6. state size per open call, and the worker's peak memory holding 100,000 open calls.

It starts the ``bench`` profile's services (Kafka 49092, Elasticsearch 49200) and
stops them at the end if it started them; every phase runs its own worker with a
unique topic/index prefix and removes its topics and indices afterwards. Load
comes from the seeded simulator, written once to a scratch directory outside the
repository (``$TMPDIR/callwatch-bench``) and reused. Figures are never asserted.

    python -m tests.tools.bench                 # everything (about 10 minutes)
    python -m tests.tools.bench --quick         # smaller sizes, to try the bench itself
    python -m tests.tools.bench --profile       # also sample the worker and check with py-spy
    python -m tests.tools.bench --only throughput,latency --json out.json
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from tests.tools.bench_check import SIX_MONTHS_HOURS
from tests.tools.bench_check import offline_check as check_history
from tests.tools.bench_env import bench_services, machine, work_dir
from tests.tools.bench_load import simulated_stream
from tests.tools.bench_phases import (
    Config,
    latency,
    memory,
    state_size,
    throughput,
)

PHASES = ("check", "state", "throughput", "latency", "memory", "ledger")
TARGETS = {
    "throughput": 5_000,
    "latency_p99_ms": 500,
    "deadline_p99_s": 1.0,
    "ceiling_share": 0.25,
    "check": 80_000,
    "check_shuffled": 40_000,
    "check_rss_mib": 300,
    "state_bytes": 1024,
}


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    console = Console(stderr=True)
    say = console.print
    cfg = Config(profile=args.profile, worker_env=dict(args.worker_env), seed=args.seed)
    if args.code_root:
        cfg.code_root = Path(args.code_root).resolve()
    if args.quick:
        cfg.hours, cfg.burst, cfg.sustain_seconds = 240, 20_000, 15
        cfg.latency_seconds, cfg.memory_calls = 20, 10_000
    if args.hours:
        cfg.hours = args.hours
    phases = args.only.split(",") if args.only else list(PHASES)
    results: dict[str, Any] = {"machine": machine(), "config": vars(cfg).copy()}
    results["config"].pop("worker_env", None)
    results["config"]["code_root"] = str(cfg.code_root) if cfg.code_root else None
    results["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    began = time.monotonic()
    if "ledger" in phases:  # needs no services and no stream (tests/tools/bench_ledger.py)
        from tests.tools.bench_ledger import ledger_bench

        results["ledger"] = ledger_bench(args.quick, say, work_dir())
        if phases == ["ledger"]:
            out = Path(args.json) if args.json else work_dir() / f"ledger-{int(time.time())}.json"
            out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
            say(f"results: {out}")
            return 0

    if "check" in phases:  # its own history; needs no services and not the shared stream
        hours = args.check_hours or (720 if args.quick else SIX_MONTHS_HOURS)
        results["check"] = check_history(cfg.seed, hours, args.check_scale, cfg.code_root, say)
    if not set(phases) - {"check"}:
        return _finish(results, args, began, say)
    stream = simulated_stream(cfg.seed, cfg.hours, say)
    results["stream"] = {
        "path": str(stream.path),
        "events": len(stream.messages),
        "generate_seconds": stream.generate_seconds,
    }
    gc.freeze()  # the stream is a million-odd objects that never die: keep GC off them

    if "state" in phases:
        results["state"] = state_size(stream, cfg, say)
    live = [p for p in phases if p in ("throughput", "latency", "memory")]
    if live:
        with bench_services(args.keep_services, say) as profile:
            if "throughput" in phases:
                results["throughput"] = throughput(profile, stream, cfg, say)
            if "latency" in phases:
                results["latency"] = latency(profile, stream, cfg, say)
            if "memory" in phases:
                results["memory"] = memory(profile, stream, cfg, say)
    return _finish(results, args, began, say)


def _finish(results: dict[str, Any], args: argparse.Namespace, began: float, say: Any) -> int:
    results["seconds"] = time.monotonic() - began
    results["machine"]["loadavg_at_end"] = os.getloadavg()

    out = Path(args.json) if args.json else work_dir() / f"results-{int(time.time())}.json"
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    render(results, Console(width=max(160, Console().width)))
    say(f"results: {out}; took {results['seconds']:.0f}s")
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tools.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--profile", action="store_true", help="sample with py-spy")
    parser.add_argument("--only", help=f"comma-separated phases of {', '.join(PHASES)}")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, help="simulated hours in the stream file")
    parser.add_argument("--json", help="write the results here (default: the scratch dir)")
    parser.add_argument(
        "--check-hours", type=float, help="hours of the check phase's history (default 4380)"
    )
    parser.add_argument(
        "--check-scale",
        type=int,
        default=1,
        help="also check a history this many times longer (opt-in; 10: ~25 M events, ~8 GB)",
    )
    parser.add_argument(
        "--keep-services", action="store_true", help="leave the bench services running at the end"
    )
    parser.add_argument(
        "--code-root",
        help="run workers and check from this copy of the code (e.g. the tree before a "
        "change), with this venv",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        type=_pair,
        metavar="KEY=VALUE",
        help="extra environment for every worker",
    )
    return parser.parse_args(argv)


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


# ------------------------------------------------------------------------ rendering


def _n(value: float | None, fmt: str = ",.0f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{suffix}"


def _met(ok: bool | None) -> str:
    return "-" if ok is None else ("[green]yes[/]" if ok else "[red]no[/]")


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str]] = []
    tp = results.get("throughput")
    if tp:
        sustained = tp.get("sustained_events_per_second")
        burst = tp["events_per_second"]
        cpu = tp["cpu_seconds"]
        out.append(
            (
                "1. end-to-end throughput, publish -> indexed (events/s)",
                f"{_n(sustained)} sustained",
                f">= {TARGETS['throughput']:,}",
                _met(sustained is not None and sustained >= TARGETS["throughput"]),
                f"backlog of {tp['events']:,} drained at {burst:,.0f}/s in {tp['seconds']:.1f}s; "
                f"worker {tp['worker_cpu_ms_per_event']:.2f} CPU-ms/event; CPU s: worker "
                f"{cpu['worker']:.0f}, kafka {cpu.get('kafka', 0):.0f}, "
                f"es {cpu.get('elasticsearch', 0):.0f}, bench {cpu['bench']:.0f} "
                f"of {(os.cpu_count() or 1) * cpu['wall']:.0f}; the worker waited "
                f"{cpu['worker_waiting_for_cpu']:.0f}s for a CPU; one worker core's "
                f"capacity {1000 / tp['worker_cpu_ms_per_event']:,.0f}/s; paced runs: "
                + ", ".join(
                    f"{a['rate']:,.0f}/s {'held' if a['held'] else 'lag grew'}"
                    for a in tp.get("sustain", [])
                ),
            )
        )
    lat = results.get("latency")
    if lat:
        for endpoint, label in (
            ("alert_delivered", "alert delivered (deliveries topic)"),
            ("alert_intent", "alert intent on the outbox topic"),
            ("finding", "finding on the findings topic"),
        ):
            p = lat.get(f"publish_to_{endpoint}_ms")
            if not p:
                continue
            ok = p["p99"] is not None and p["p99"] <= TARGETS["latency_p99_ms"] and not p["missing"]
            out.append(
                (
                    f"2. publish -> {label} at {lat['rate']:.0f}/s, ms p50/p95/p99",
                    f"{_n(p['p50'])} / {_n(p['p95'])} / {_n(p['p99'])}",
                    f"p99 <= {TARGETS['latency_p99_ms']}",
                    _met(ok),
                    f"{p['n']} probes ({p['missing']} missing),"
                    f" achieved {lat['achieved_rate']:.0f}/s; worst per tenth of the run "
                    f"{lat.get(f'publish_to_{endpoint}_worst_ms_by_tenth')}; the worker "
                    f"waited {lat['cpu_seconds']['worker_waiting_for_cpu']:.0f}s for a CPU",
                )
            )
        d = lat["deadline_late_seconds_received"]
        h = lat["deadline_histogram"]
        out.append(
            (
                "3. absence deadline fired late, s p50/p99",
                f"{_n(d['p50'], '.2f')} / {_n(d['p99'], '.2f')}",
                f"p99 <= {TARGETS['deadline_p99_s']:g}",
                _met(d["p99"] is not None and d["p99"] <= TARGETS["deadline_p99_s"]),
                f"{d['n']} deadlines, measured at the findings consumer vs due + allowed "
                f"lateness; worker histogram p99 <= {_n(h.get('p99_le'), 'g')} s "
                f"(mean {_n(h.get('mean'), '.2f')} s); worst per tenth of the run "
                f"{lat.get('deadline_worst_by_tenth')}",
            )
        )
    if tp:
        c = tp["ceiling"]
        share = tp["events_per_second"] / c["events_per_second"]
        sustained = tp.get("sustained_events_per_second")
        out.append(
            (
                "4. raw ceiling: aiokafka read + decode (events/s)",
                f"{c['events_per_second']:,.0f}",
                "-",
                "-",
                f"{c['events']:,} events in {c['seconds']:.1f}s ({c['cpu_seconds']:.1f} CPU s)",
            )
        )
        out.append(
            (
                "4. pipeline / raw ceiling",
                f"{share:.0%} (drain),"
                f" {_n(sustained and sustained / c['events_per_second'], '.0%')} (sustained)",
                f">= {TARGETS['ceiling_share']:.0%}",
                _met(share >= TARGETS["ceiling_share"]),
                "",
            )
        )
    ck = results.get("check")
    if ck:
        for key, label, target in (
            ("in_order", "in time order", TARGETS["check"]),
            ("shuffled", "shuffled", TARGETS["check_shuffled"]),
            ("longer", f"{ck.get('longer', {}).get('scale', 0)}x longer, in order", None),
        ):
            run = ck.get(key)
            if not run:
                continue
            rss = run["peak_rss_bytes"] / 2**20
            rate_ok = None if target is None else run["events_per_second"] >= target
            out.append(
                (
                    f"5. offline `callwatch check`, {ck['hours']:g} h {label} (events/s; RSS)",
                    f"{run['events_per_second']:,.0f}/s; {rss:,.0f} MiB",
                    (f">= {target:,}/s; " if target else "") + f"<= {TARGETS['check_rss_mib']} MiB",
                    _met((rate_ok is None or rate_ok) and rss <= TARGETS["check_rss_mib"]),
                    f"{run['events']:,} events, {run['calls']:,} calls in {run['seconds']:.1f}s "
                    f"({run['events'] / run['cpu_seconds']:,.0f}/CPU-s); peak RSS of the "
                    f"largest process; {run['findings']:,} findings; exit {run['exit_status']}"
                    + (
                        ""
                        if key != "shuffled"
                        else "; findings identical to in order"
                        if ck["same_findings"]
                        else "; [red]FINDINGS DIFFER from in order[/]"
                    ),
                )
            )
    st = results.get("state")
    if st:
        full = st["until_close"]
        extra = [f"{k}: {v['mean_bytes']:.0f} B" for k, v in st.items() if k != "until_close"]
        out.append(
            (
                "6. state per open call, mean len(dump_state) (bytes)",
                f"{full['mean_bytes']:,.0f}",
                f"<= {TARGETS['state_bytes']:,}",
                _met(full["mean_bytes"] <= TARGETS["state_bytes"]),
                f"{full['calls']:,} calls with every event before closing "
                f"({full['mean_facts']:.1f} facts, p99 {full['p99_bytes']:,} B); "
                + "; ".join(extra),
            )
        )
    mem = results.get("memory")
    if mem:
        out.append(
            (
                f"6. worker peak memory, {mem['calls']:,} open calls (VmHWM)",
                f"{mem['vm_hwm_bytes'] / 2**20:,.0f} MiB",
                "-",
                "-",
                f"idle {mem['idle_rss_bytes'] / 2**20:,.0f} MiB; "
                f"{mem['bytes_per_open_call']:,.0f} B/call over idle; {mem['events']:,} events "
                f"loaded at {mem['events_per_second']:,.0f}/s",
            )
        )
    return out


def render(results: dict[str, Any], console: Console) -> None:
    m = results["machine"]
    console.print(
        f"[bold]callwatch bench[/] {results['started']}: {m['cpu']} x{m['cores']}, "
        f"{m['memory_gib']} GiB, Python {m['python']}, faust-streaming {m['faust-streaming']}, "
        f"aiokafka {m['aiokafka']}, Kafka {m['kafka']}, Elasticsearch {m['elasticsearch']}; "
        f"load average {m['loadavg_at_start'][0]:.1f} at start, "
        f"{m['loadavg_at_end'][0]:.1f} at end"
    )
    table = Table(show_lines=True)
    for column in ("measure", "result", "target", "met", "notes"):
        table.add_column(column, overflow="fold")
    for row in rows(results):
        table.add_row(*row)
    console.print(table)
    for name, prof in profiles(results):
        render_profile(name, prof, console)


def profiles(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    tp = results.get("throughput") or {}
    if tp.get("profile"):
        out.append(("worker during the throughput backlog", tp["profile"]))
    ck = results.get("check") or {}
    if ck.get("profile"):
        out.append(("callwatch check", ck["profile"]))
    return out


def render_profile(name: str, prof: dict[str, Any], console: Console) -> None:
    console.print(
        f"\n[bold]profile: {name}[/] ({prof['samples']:,} samples over {prof['seconds']}s; "
        f"Python busy {prof['busy_share']:.0%} of wall time)"
    )
    table = Table("self %", "function (innermost frame)", "incl. %", "own code (inclusive)")
    own = prof["own_inclusive"]
    for i, (func, share) in enumerate(prof["self"]):
        o = own[i] if i < len(own) else ("", 0.0)
        table.add_row(f"{share:.1%}", func, f"{o[1]:.1%}" if o[0] else "", o[0])
    console.print(table)
    console.print(
        "by package (innermost frame): "
        + ", ".join(f"{area} {share:.0%}" for area, share in prof["areas"])
    )


if __name__ == "__main__":
    sys.exit(main())
