"""The offline ``callwatch check`` benchmark: a six-month history, in time order and shuffled.

No services needed (``python -m tests.tools.bench --only check``). The history is
``callwatch simulate --hours 4380`` (about 240,000 calls, 2.5 million events),
written once to the scratch folder with a shuffled copy beside it. Each file is
checked by ``callwatch check --json -q`` as a subprocess; the figures are events/s
(wall time from start to exit, start-up included), CPU seconds, and the peak RSS of
the largest process (VmHWM of the check and the processes it forks, polled). The findings
of the shuffled file must equal the time-ordered file's, or the bench says so.

``--check-scale N`` adds a history N times longer (N shifted copies of the six
months, call ids made unique per copy), checked in time order: memory must not grow
with the length of the history. It is opt-in: at N=10 it is ~8 GB and ~25 M events.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.tools.bench_env import ROOT, callwatch_argv, proc_status, work_dir
from tests.tools.bench_load import SIM_START

Report = Callable[[str], None]
SIX_MONTHS_HOURS = 4380.0


def history(seed: int, hours: float, report: Report) -> Path:
    path = work_dir() / f"stream-seed{seed}-h{hours:g}.jsonl"
    done = path.with_suffix(".done")
    if not done.exists():
        report(f"[check] simulating {hours:g} h (seed {seed}) into {path}")
        callwatch = str(Path(sys.executable).parent / "callwatch")
        argv = [callwatch, "simulate", "--seed", str(seed), "--hours", f"{hours:g}"]
        argv += ["--start", SIM_START, "--out", str(path)]
        subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
        done.touch()
    return path


def shuffled(path: Path, seed: int, report: Report) -> Path:
    out = path.with_name(path.stem + "-shuffled.jsonl")
    done = out.with_suffix(".done")
    if not done.exists():
        report(f"[check] shuffling {path.name} into {out.name}")
        lines = path.read_bytes().splitlines(keepends=True)
        random.Random(seed).shuffle(lines)
        out.write_bytes(b"".join(lines))
        done.touch()
    return out


def longer(path: Path, scale: int, hours: float, report: Report) -> Path:
    """``scale`` copies of the history one after another, each shifted by its length,
    ending with the original."""
    out = path.with_name(path.stem + f"-x{scale}.jsonl")
    done = out.with_suffix(".done")
    if done.exists():
        return out
    report(f"[check] writing {scale} shifted copies of {path.name} into {out.name}")
    span = timedelta(hours=hours + 24)
    with out.open("wb") as sink:
        for copy in range(scale):
            # earlier copies first, the last one the original: shifted later, copies would
            # pass the day the check runs, and `check` rightly keeps future events from
            # moving its clock (no deadline fires, nothing is evicted)
            shift = span * (copy - (scale - 1))
            with path.open("rb") as source:
                for line in source:
                    event = orjson.loads(line)
                    for key in ("occurred_at", "received_at"):
                        moment = datetime.fromisoformat(event[key]) + shift
                        event[key] = moment.isoformat().replace("+00:00", "Z")
                    event["call_id"] = f"{event['call_id']}-{copy}"
                    event["event_id"] = f"{event['event_id']}-{copy}"
                    sink.write(orjson.dumps(event) + b"\n")
    done.touch()
    return out


def run_check(path: Path, code_root: Path | None, report: Report) -> dict[str, Any]:
    argv, extra = callwatch_argv(code_root, "check", "--json", "-q", str(path))
    report(f"[check] callwatch check --json -q {path.name}")
    out, err = work_dir() / "check-findings.jsonl", work_dir() / "check-summary.txt"
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            argv, stdout=stdout, stderr=stderr, env={**os.environ, **extra}, cwd=code_root or ROOT
        )
        peak = _PeakMemory(proc.pid)
        # wait4, not wait: the CPU of this child (and what it forked), not of every child
        _pid, status, usage = os.wait4(proc.pid, 0)
        peak.stop()
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    summary = orjson.loads(err.read_bytes().strip().splitlines()[-1])
    events = int(summary["events"])
    return {
        "file": str(path),
        "events": events,
        "calls": summary["calls"],
        "seconds": seconds,
        "events_per_second": events / seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_rss_bytes": peak.largest,
        "findings": summary["findings"],
        "exit_status": proc.returncode,
        "findings_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }


class _PeakMemory:
    """The largest VmHWM among the check process and the processes it forks, read from
    /proc every 0.1 s. Not ``ru_maxrss``: a child started from this process inherits its
    high-water mark (the shuffle above makes it large), whatever the child itself uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            for pid in (self.pid, *_children(self.pid)):
                with contextlib.suppress(OSError, KeyError, ValueError):  # it ended meanwhile
                    self.largest = max(self.largest, proc_status(pid, "VmHWM"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def offline_check(
    seed: int, hours: float, scale: int, code_root: Path | None, report: Report
) -> dict[str, Any]:
    ordered = history(seed, hours, report)
    results: dict[str, Any] = {"hours": hours}
    results["in_order"] = run_check(ordered, code_root, report)
    results["shuffled"] = run_check(shuffled(ordered, seed, report), code_root, report)
    results["same_findings"] = (
        results["in_order"]["findings_sha256"] == results["shuffled"]["findings_sha256"]
    )
    if scale > 1:
        results["longer"] = run_check(longer(ordered, scale, hours, report), code_root, report)
        results["longer"]["scale"] = scale
    return results
