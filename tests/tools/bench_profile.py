"""Sampling profiles with py-spy, summarised: where a process spends its CPU.

py-spy (a dev dependency) samples the stacks of a running process from outside,
so the worker runs unmodified; ``--nonblocking`` keeps the overhead negligible.
Native code (orjson, msgspec, the C parts of asyncio) is charged to the Python
line that called it. The summary lists self time (the innermost frame) and,
for the project's own code, inclusive time, plus a split by package.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.tools.bench_env import which

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")
OWN = ("agents/", "streams/", "callwatch/", "schemas/")
AREAS = (
    ("agents/", "callwatch agents"),
    ("streams/", "callwatch pure core"),
    ("callwatch/", "callwatch (metrics, settings)"),
    ("faust/", "faust"),
    ("mode/", "mode (faust's service runtime)"),
    ("aiokafka/", "aiokafka"),
    ("kafka/", "kafka-python"),
    ("elasticsearch/", "elasticsearch client"),
    ("elastic_transport/", "elasticsearch client"),
    ("aiohttp/", "aiohttp"),
    ("asyncio/", "asyncio"),
    ("prometheus_client/", "prometheus_client"),
)


@dataclass
class Profile:
    samples: int = 0
    seconds: float = 0.0
    rate: int = 100
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)

    @property
    def busy(self) -> float:
        """Share of wall time the sampled process held the GIL (ran Python), when sampled
        with ``--gil``."""
        return self.samples / max(1.0, self.seconds * self.rate)

    def top(self, counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, count / max(1, self.samples)) for name, count in counter.most_common(n)]

    def as_dict(self, n: int = 15) -> dict[str, object]:
        return {
            "samples": self.samples,
            "seconds": round(self.seconds, 1),
            "busy_share": round(self.busy, 3),
            "self": [(k, round(v, 4)) for k, v in self.top(self.self_time, n)],
            "own_inclusive": [(k, round(v, 4)) for k, v in self.top(self.inclusive, n)],
            "areas": [(k, round(v, 4)) for k, v in self.top(self.areas, 12)],
        }


def _area(file: str) -> str:
    for needle, name in AREAS:
        if needle in file:
            return name
    return "other (stdlib, builtins)"


def summarise(raw: Path, seconds: float, rate: int) -> Profile:
    prof = Profile(seconds=seconds, rate=rate)
    if not raw.exists():
        return prof
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        prof.samples += count
        names = []
        for frame in frames:
            m = _FRAME.match(frame)
            func, file = (m["func"], m["file"]) if m else (frame, "")
            names.append((f"{func} ({file})", file))
        leaf, leaf_file = names[-1]
        prof.self_time[leaf] += count
        prof.areas[_area(leaf_file)] += count
        for name in {n for n, file in names if any(o in file for o in OWN)}:
            prof.inclusive[name] += count
    return prof


class Sampler:
    """py-spy attached to a pid until ``stop``."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.out = out
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        tool = which("py-spy")
        if tool is None:
            return
        self.proc = subprocess.Popen(
            [
                tool,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--gil",  # only samples holding the GIL: CPU time, not time spent waiting
                "--nolineno",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.started = time.monotonic()

    def stop(self) -> Profile | None:
        if self.proc is None:
            return None
        seconds = time.monotonic() - self.started
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        return summarise(self.out, seconds, self.rate)


def run_profiled(
    argv: list[str],
    out: Path,
    rate: int = 100,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Profile | None, float]:
    """Run a command under py-spy; return its profile and wall seconds."""
    tool = which("py-spy")
    started = time.monotonic()
    if tool is None:
        subprocess.run(
            argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
        )
        return None, time.monotonic() - started
    subprocess.run(
        [
            tool,
            "record",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nolineno",
            "--nonblocking",
            "--output",
            str(out),
            "--",
            *argv,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    seconds = time.monotonic() - started
    return summarise(out, seconds, rate), seconds
