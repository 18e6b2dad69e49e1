"""``callwatch check``: the live engine, offline, over files in any order.

Reads any supported input (canonical JSON lines, a CSV export with a mapping,
EIDO documents), sorts every event by event time on disk (so the order of the
file does not matter and memory does not grow with the history), runs the
``Engine`` the worker runs with an event-time clock, and prints the final state of
every finding as JSON lines on stdout. The summary goes to stderr: counts that add
up, the flagged and review-queue calls by id, rejections by reason and the
data-quality report; ``--json`` makes it one JSON object.

Exit status: 0 when the audit can be trusted; 1 when no event could be used or
more than ``--max-rejected-share`` of the records were rejected (the findings are
still printed); 2 when an input, the mapping or the policy cannot be used at all.
The pieces are in ``streams.audit_input`` (first pass), ``streams.engine.sorted_input``
(the sort), ``streams.engine.audit`` (second pass) and ``streams.quality``.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson

from callwatch.check_parts import run_parts
from callwatch.check_summary import render_summary
from callwatch.progress import estimated_records, progress
from streams.adapters import InputError, open_input
from streams.audit_input import RejectedRecord, Source, binary_reason, read_inputs
from streams.engine.audit import AuditOptions, PartResult, final_findings
from streams.engine.facts import to_millis
from streams.engine.policy import Policy
from streams.engine.sorted_input import RUN_RECORDS, EventSorter
from streams.engine.state import Engine
from streams.quality import QualityReport

DEFAULT_MAX_REJECTED_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class CheckOptions:
    mapping: str | None = None
    as_of: datetime | None = None
    include_retracted: bool = False
    strict: bool = False
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    max_gap_hours: float = 24.0
    rejects: Path | None = None
    as_json: bool = False
    quiet: bool = False
    jobs: int = 1
    spill_dir: Path | None = None
    lookup_dirs: Sequence[Path] = field(default_factory=tuple)
    run_records: int = RUN_RECORDS  # records per sorted run (small in tests: many runs)


def run_check(
    input_path: Path | Sequence[Path],
    *,
    engine: Engine,
    policy: Policy,
    mapping: str | None = None,
    as_of: datetime | None = None,
    include_retracted: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    options: CheckOptions | None = None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """Audit the inputs; the summary, with ``exit_status`` and ``exit_reason``.

    Raises InputError or MappingError when an input or the mapping cannot be used.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    opts = options or CheckOptions(
        mapping=mapping, as_of=as_of, include_retracted=include_retracted
    )
    paths = [input_path] if isinstance(input_path, Path) else list(input_path)
    # The one clock read: when this run received the data ("the future" starts here).
    received_at = received_at or datetime.now(UTC)
    sources = _sources(paths, opts, received_at)
    quality = QualityReport()
    rejects = _Rejects(opts.rejects, paths)
    with (
        _few_collections(),
        tempfile.TemporaryDirectory(prefix="callwatch-check-", dir=opts.spill_dir) as spill,
    ):
        sorter = EventSorter(Path(spill), run_records=opts.run_records)
        total = sum(p.stat().st_size for p in paths)
        unit = "bytes" if all(s.outcomes is None for s in sources) else "records"
        with progress(
            "reading",
            total if unit == "bytes" else _estimate(paths),
            unit=unit,
            quiet=opts.quiet,
            stream=err,
        ) as advance:
            counts = read_inputs(
                sources,
                sorter,
                quality,
                strict=opts.strict,
                on_reject=rejects.add,
                progress=advance,
            )
        audit = AuditOptions(
            received_at_ms=to_millis(received_at),
            as_of_ms=to_millis(opts.as_of) if opts.as_of is not None else None,
            strict=opts.strict,
            max_gap_ms=int(opts.max_gap_hours * 3_600_000),
            jsonl_sources=frozenset(i for i, s in enumerate(sources) if s.outcomes is None),
            records_at=counts.records_at,
            spill_dir=Path(spill),
        )
        sorter.seal()
        passes = 2 if opts.strict else 1  # --strict reads the sorted records twice
        with progress(
            "auditing", sorter.records * passes, unit="events", quiet=opts.quiet, stream=err
        ) as advance:
            results = run_parts(
                sorter.sorted,
                engine,
                policy,
                audit,
                jobs=max(1, min(opts.jobs, 8)),
                spill_dir=Path(spill),
                on_reject=rejects.add,
                progress=advance,
            )
        # the finding records may be spilled runs in the folder: write them before it goes
        findings, by_call = _write_findings(results, opts.include_retracted, out)
    rejects.close()
    for result in results:
        quality.merge(result.quality)
    summary = _summary(sources, counts.records_read, counts, results, quality, findings)
    status, reason = _verdict(summary, opts.max_rejected_share)
    summary["exit_status"], summary["exit_reason"] = status, reason
    if opts.as_json:
        err.write(orjson.dumps(summary).decode() + "\n")
    else:
        render_summary(summary, err, by_call)
    return summary


def _sources(paths: list[Path], opts: CheckOptions, received_at: datetime) -> list[Source]:
    sources: list[Source] = []
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        why = binary_reason(path)
        if why is not None:
            raise InputError(
                f"{path}: {why}, not JSON lines, EIDO or CSV; nothing read (0 records)"
            )
        opened = open_input(
            path, opts.mapping, received_at=received_at, lookup_dirs=list(opts.lookup_dirs)
        )
        if opened.format == "jsonl":  # read by the audit itself (streams.audit_input)
            sources.append(Source(path, "jsonl"))
        else:
            sources.append(Source(path, opened.format, opened.mapping_name, opened.outcomes))
    return sources


def _write_findings(
    results: list[PartResult], include_retracted: bool, out: TextIO
) -> tuple[Counter[str], dict[str, list[str]]]:
    """Write the findings in id order; their count by status, and "rule: status" by call."""
    by_status: Counter[str] = Counter()
    by_call: dict[str, list[str]] = {}
    for key, status, record in final_findings(results):
        by_status[status] += 1
        if status == "retracted" and not include_retracted:
            continue
        call_id, _, rule = key.rpartition("/")
        by_call.setdefault(call_id, []).append(f"{rule}: {status}")
        out.write(record.decode() + "\n")
    return by_status, by_call


def _summary(
    sources: list[Source],
    records_read: int,
    counts: Any,
    results: list[PartResult],
    quality: QualityReport,
    findings: Counter[str],
) -> dict[str, Any]:
    rejected: Counter[str] = Counter(counts.rejected)
    later: Counter[str] = Counter()  # rejected in the second pass, after being sorted
    for result in results:
        later.update(result.rejected)
    rejected.update(later)
    sorted_duplicates = sum(r.duplicate_records for r in results)
    duplicate_records = counts.duplicate_records + sorted_duplicates
    rejected_total = sum(rejected.values())
    converted = counts.sorted_records - sorted_duplicates - sum(later.values())
    immigration = sorted(i for r in results for i in r.flagged_ids.get("immigration", []))
    review = sorted(i for r in results for i in r.flagged_ids.get("review", []))
    names = [str(s.path) for s in sources]
    watermarks = [r.watermark for r in results if r.watermark is not None]
    return {
        "inputs": [
            {"file": str(s.path), "format": s.format, "mapping": s.mapping_name, "records": n}
            for s, n in zip(sources, counts.per_source, strict=True)
        ],
        "records_read": records_read,
        "records_converted": converted,
        "duplicate_records": duplicate_records,
        "records_rejected": dict(sorted(rejected.items())),
        "rejected_total": rejected_total,
        "rejected_share": rejected_total / records_read if records_read else 0.0,
        "counts_add_up": records_read == converted + duplicate_records + rejected_total
        and converted >= 0,
        "events": sum(r.events_applied for r in results),
        "duplicate_events": sum(r.duplicate_events for r in results),
        "late_after_eviction": sum(r.late_events for r in results),
        "calls": sum(r.calls_seen for r in results),
        "immigration_agency_calls": len(immigration),
        "review_calls": len(review),
        "flagged_calls": immigration,
        "review_queue_calls": review,
        "findings": sum(n for s, n in findings.items() if s != "retracted"),
        "findings_by_status": dict(sorted(findings.items())),
        "last_event_at": _iso(max(watermarks)) if watermarks else None,
        "data_quality": [
            {
                "kind": kind,
                "column": column,
                "count": tally.count,
                "share": tally.count / records_read if records_read else 0.0,
                "first": [f"{names[source]}:{line}" for source, line in tally.places],
                "example": tally.detail or None,
            }
            for kind, column, tally in quality.entries()
        ],
    }


def _verdict(summary: dict[str, Any], max_share: float) -> tuple[int, str]:
    read, rejected = summary["records_read"], summary["rejected_total"]
    reasons = ", ".join(f"{r} {n:,}" for r, n in summary["records_rejected"].items())
    files = ", ".join(i["file"] for i in summary["inputs"])
    if read == 0:
        return 1, f"no records in {files}: nothing to audit (is the file empty?)"
    if summary["events"] == 0:
        if rejected == read:
            return 1, f"no event could be used: all {read:,} records were rejected ({reasons})"
        return 1, (
            f"no event could be used: of {read:,} records, {rejected:,} were rejected"
            + (f" ({reasons})" if reasons else "")
            + f" and {summary['duplicate_records']:,} were duplicates"
        )
    share = summary["rejected_share"]
    if share > max_share:
        return 1, (
            f"{share:.1%} of the records were rejected ({rejected:,} of {read:,}: {reasons}), "
            f"more than --max-rejected-share {max_share:.0%}: the findings do not cover "
            "this input; see --rejects FILE"
        )
    return 0, "ok"


def _estimate(paths: list[Path]) -> int | None:
    estimates = [estimated_records(path) for path in paths]
    return None if None in estimates else sum(e or 0 for e in estimates)


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class _Rejects:
    """``--rejects FILE``: one JSON line per rejected record, with its place and text.

    JSON lines carry their text through the audit; for other formats the text is read
    back from the input at the end, by line number."""

    def __init__(self, path: Path | None, inputs: list[Path]) -> None:
        self.inputs = inputs
        self.handle: BinaryIO | None = path.open("wb") if path is not None else None
        self.textless: list[RejectedRecord] = []

    def add(self, record: RejectedRecord) -> None:
        if self.handle is None:
            return
        if record.text is None:
            self.textless.append(record)
        else:
            self._write(record, record.text)

    def close(self) -> None:
        if self.handle is None:
            return
        by_source: dict[int, list[RejectedRecord]] = {}
        for record in self.textless:
            by_source.setdefault(record.source, []).append(record)
        for source, records in by_source.items():
            for record, text in _lines_at(self.inputs[source], records):
                self._write(record, text)
        self.handle.close()

    def _write(self, record: RejectedRecord, text: bytes) -> None:
        assert self.handle is not None
        size = record.size or len(text)
        entry = {
            "file": str(self.inputs[record.source]),
            "line": record.line,
            "reason": record.reason,
            "detail": record.detail,
            "text": text.decode("utf-8", "backslashreplace").rstrip("\r\n"),
            "bytes": size,
            "text_truncated": size > len(text),
        }
        self.handle.write(orjson.dumps(entry) + b"\n")


def _lines_at(path: Path, records: list[RejectedRecord]) -> list[tuple[RejectedRecord, bytes]]:
    wanted = sorted(records, key=lambda r: r.line)
    found: list[tuple[RejectedRecord, bytes]] = []
    index = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            while index < len(wanted) and wanted[index].line == number:
                found.append((wanted[index], line[:4096]))
                index += 1
            if index == len(wanted):
                break
    found.extend((record, b"") for record in wanted[index:])
    return found


@contextmanager
def _few_collections() -> Iterator[None]:
    """Millions of short-lived objects go through the audit; the default garbage
    collector thresholds made it scan the engine's long-lived states over and over
    (5-8% of the CPU). Objects alive at the start are frozen out of collection."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def default_jobs() -> int:
    """One process per core this process may use, at most two: more gains little, as
    every process reads all the sorted runs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))
