"""``make bench`` ledger figures, no services needed (``bench --only ledger``).

1. append throughput of the log: proposals appended in batches of 1,000, each batch
   fsynced (as the writer agent does), target >= 20,000 entries/s;
2. for a log of 1 M entries: reopening it (the writer's start-up), a signed
   checkpoint, and a full ``callwatch verify`` (every entry re-hashed, every
   kept checkpoint checked);
3. report generation for a six-month simulated history: the offline engine run,
   the aggregation with suppression, the HTML, and the PDF through Chromium.

Also runnable alone: ``python -m tests.tools.bench_ledger [--quick]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callwatch.ledger.audit import LogFiles, audit, latest_checkpoint
from callwatch.ledger.signing import generate, load_public_key
from callwatch.ledger.store import LedgerStore
from streams.ledger.entries import finding_proposal

TARGET_APPEND = 20_000
CALLWATCH = str(Path(sys.executable).parent / "callwatch")


def _proposals(start: int, count: int) -> list[Any]:
    return [
        finding_proposal(
            {"finding_id": f"CALL-{i}/commander-notified", "call_id": f"CALL-{i}", "rule":
             "commander-notified", "clause": "C2", "severity": "critical", "status": "open",
             "transition": "opened", "revision": 1, "policy_version": "2017.07-1",
             "violation_at": "2024-03-01T10:10:00Z", "agency": "ICE",
             "history": [{"transition": "opened", "at": "2024-03-01T10:10:00Z", "detail": "x"}]}
        )
        for i in range(start, start + count)
    ]  # fmt: skip


def ledger_bench(quick: bool, say: Callable[[str], None], work: Path) -> dict[str, Any]:
    entries = 100_000 if quick else 1_000_000
    months = 1 if quick else 6
    results: dict[str, Any] = {"entries": entries}
    scratch = Path(tempfile.mkdtemp(prefix="callwatch-ledger-bench-"))
    try:
        signer = generate(scratch / "k.key", scratch / "k.pub")
        store = LedgerStore.open(scratch / "log")
        batch = 1000
        say(f"ledger: appending {entries:,} entries in fsynced batches of {batch}")
        spent = 0.0
        for start in range(0, entries, batch):
            proposals = _proposals(start, batch)  # made outside the timing: Kafka gives them
            began = time.perf_counter()
            store.append(proposals)
            store.commit()
            spent += time.perf_counter() - began
            if start and start % 100_000 == 0:
                store.checkpoint(signer.sign, "bench", 1_700_000_000_000 + start)
        results["append_per_s"] = entries / spent
        began = time.perf_counter()
        store.checkpoint(signer.sign, "bench", 1_800_000_000_000)
        results["checkpoint_s"] = time.perf_counter() - began
        store.close()
        began = time.perf_counter()
        LedgerStore.open(scratch / "log").close()
        results["reopen_s"] = time.perf_counter() - began
        began = time.perf_counter()
        files = LogFiles.read(scratch / "log")
        checked = audit(
            files, latest_checkpoint(scratch / "log"), load_public_key(scratch / "k.pub")
        )
        results["verify_s"] = time.perf_counter() - began
        assert checked.ok, checked.problems
        results["log_bytes"] = sum(
            p.stat().st_size for p in (scratch / "log").iterdir() if p.is_file()
        )

        history = work / f"history-{months}mo.jsonl"
        if not history.exists():
            say(f"ledger: simulating a {months}-month history (once; cached in {work})")
            subprocess.run(
                [CALLWATCH, "simulate", "--seed", "7",
                 "--hours", str(months * 730), "--agency-calls", str(months * 40),
                 "--out", str(history)],
                check=True, capture_output=True,
            )  # fmt: skip
        began = time.perf_counter()
        done = subprocess.run(
            [CALLWATCH, "report", "--history", str(history),
             "--from", "2000-01-01", "--to", "2100-01-01", "--out", str(scratch / "r.html"),
             "--pdf", str(scratch / "r.pdf")],
            check=True, capture_output=True,
        )  # fmt: skip
        results["report_s"] = time.perf_counter() - began
        results["report_months"] = months
        results["report_summary"] = done.stdout.decode().strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    say(
        f"ledger: append {results['append_per_s']:,.0f} entries/s (target >= {TARGET_APPEND:,}); "
        f"{entries:,} entries: checkpoint {results['checkpoint_s'] * 1000:.1f} ms, reopen "
        f"{results['reopen_s']:.1f} s, verify {results['verify_s']:.1f} s, "
        f"{results['log_bytes'] / 1e6:.0f} MB on disk; report over {months} months "
        f"(engine + HTML + PDF) {results['report_s']:.1f} s"
    )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.gettempdir()) / "callwatch-bench"
    work.mkdir(exist_ok=True)
    ledger_bench(args.quick, print, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
