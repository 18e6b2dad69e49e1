"""``callwatch convert``: CAD exports and EIDO documents -> canonical events as JSON lines.

Events go to stdout, one JSON object per line; the summary goes to stderr, so
``callwatch convert calls.csv > events.jsonl`` keeps the two apart. The
summary's counts always add up: rows read = converted + duplicates + rejected.

Exit status: 0 when the input was converted (rejected rows are reported, not
fatal), 1 when rows were read but none could be converted (usually the wrong
mapping), 2 when the input or the mapping cannot be used at all.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from callwatch.progress import estimated_records, progress
from schemas.events import event_type
from streams.adapters import (
    Collector,
    Converted,
    InputError,
    MappingError,
    Rejection,
    Tally,
    open_input,
)
from streams.audit_input import report_anomalies
from streams.codec import encode
from streams.engine.facts import to_millis
from streams.quality import QualityReport, check_record

LOOKUP_DIR_ENV = "CALLWATCH_LOOKUP_DIR"


def convert(
    input: Path,
    mapping: Path | str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    lookup_dir: Path | None = None,
    received_at: datetime | None = None,
    strict: bool = False,
    quiet: bool = False,
) -> int:
    """Convert ``input``; ``mapping`` is a mapping file or a shipped mapping's short name."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if lookup_dir is None and os.environ.get(LOOKUP_DIR_ENV):
        lookup_dir = Path(os.environ[LOOKUP_DIR_ENV])
    # The one clock read: when callwatch first saw these events.
    received_at = received_at or datetime.now(UTC)
    collector = Collector()
    first_rejection: dict[str, Rejection] = {}
    quality = QualityReport()
    now_ms = to_millis(received_at)
    try:
        opened = open_input(
            input,
            mapping,
            received_at=received_at,
            lookup_dirs=[lookup_dir] if lookup_dir else [],
        )
        whole_call = opened.format != "jsonl"  # a JSON line is one event, not a call
        with progress("converting", estimated_records(input), quiet=quiet, stream=err) as advance:
            for ordinal, outcome in enumerate(opened.outcomes, 1):
                advance(1)
                if isinstance(outcome, Rejection):
                    first_rejection.setdefault(outcome.reason, outcome)
                elif isinstance(outcome, Converted):
                    kind = _quality(outcome, ordinal, quality, now_ms, whole_call)
                    if strict and kind is not None:  # --strict: the record is rejected
                        collector.tally.records_read += outcome.records
                        collector.tally.rejected[f"strict_{kind}"] += outcome.records
                        continue
                for event in collector.accept(outcome):
                    out.write(encode(event).decode("utf-8"))
                    out.write("\n")
        out.flush()
        stopped = ""
    except (InputError, MappingError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except BrokenPipeError:
        # `callwatch convert big.csv | head`: the reader has what it wanted. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        stopped = ", stopped early: output closed"
    how = opened.format + (f", mapping {opened.mapping_name}" if opened.mapping_name else "")
    err.write(f"converted {input} ({how}{stopped})\n")
    err.write(summary(collector.tally, first_rejection, record_word=_RECORD_WORD[opened.format]))
    err.write(quality_summary(quality, collector.tally.records_read, str(input)))
    tally = collector.tally
    return 1 if tally.records_read and not tally.records_converted else 0


_RECORD_WORD = {"csv": "rows", "jsonl": "lines", "eido": "documents"}


def _quality(
    outcome: Converted, ordinal: int, quality: QualityReport, now_ms: int, whole_call: bool
) -> str | None:
    """Count the record's anomalies (the adapter's and its events'); the first kind."""
    place = (0, outcome.line or ordinal)
    first = report_anomalies(outcome, 0, place, quality)
    events = [(to_millis(e.occurred_at), e.call_id, event_type(e)) for e in outcome.events]
    found = check_record(quality, place, events, received_at_ms=now_ms, whole_call=whole_call)
    return first or found


def quality_summary(quality: QualityReport, records: int, name: str) -> str:
    """The data-quality report, one line per anomaly (and column): count, share, lines."""
    entries = quality.entries()
    if not entries:
        return "  data quality: no anomalies found\n"
    lines = ["  data quality (anomaly, count, share of records, first lines):"]
    for kind, column, tally in entries:
        label = f"{kind}:{column}" if column else kind
        share = tally.count / records if records else 0.0
        where = ", ".join(str(line) for _source, line in tally.places)
        lines.append(f"    {label:<32}{tally.count:>10}  {share:>7.2%}  lines {where}")
    return "\n".join(lines) + "\n"


def summary(
    tally: Tally,
    first_rejection: dict[str, Rejection] | None = None,
    record_word: str = "rows",
) -> str:
    """The figures of one conversion, one per line, ending with the check that they add up."""
    first_rejection = first_rejection or {}
    rows = [
        (f"{record_word} read", tally.records_read),
        (f"{record_word} converted", tally.records_converted),
        (f"duplicate {record_word}", tally.duplicate_records),
        (f"{record_word} rejected", tally.records_rejected),
    ]
    place = "document" if record_word == "documents" else "line"
    lines = [f"  {label:<22}{count:>10}" for label, count in rows]
    for reason, count in sorted(tally.rejected.items()):
        example = first_rejection.get(reason)
        where = f"  first: {place} {example.line}: {example.detail[:160]}" if example else ""
        lines.append(f"    {reason:<20}{count:>10}{where}")
    lines.append(f"  {'events written':<22}{tally.events_written:>10}")
    lines.append(f"  {'duplicate events':<22}{tally.duplicate_events:>10}")
    for note, count in sorted(tally.notes.items()):
        lines.append(f"  skipped value: {note}: {count}")
    verdict = "ok" if tally.adds_up else "MISMATCH"
    lines.append(
        f"  counts add up ({verdict}): {tally.records_read} read = "
        f"{tally.records_converted} converted + {tally.duplicate_records} duplicate + "
        f"{tally.records_rejected} rejected"
    )
    return "\n".join(lines) + "\n"


def convert_command(
    input: Annotated[
        Path,
        typer.Argument(
            help="A CAD export (.csv), EIDO documents (.json) or canonical events (.jsonl).",
            dir_okay=False,
        ),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help=(
                "CSV mapping: a YAML file or a shipped mapping's name (sdpd-san-diego, "
                "mpd-milwaukee, berkeley-pd, sffd-san-francisco-fire). Default: the shipped "
                "mapping that fits the CSV header."
            ),
        ),
    ] = None,
    lookup_dir: Annotated[
        Path | None,
        typer.Option(
            "--lookup-dir",
            help=f"Folder of the mapping's code tables (default: ${LOOKUP_DIR_ENV}, then "
            "beside the data file).",
            file_okay=False,
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Reject records with a data-quality anomaly."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Convert a CAD export or EIDO documents to canonical events (JSON lines on stdout)."""
    raise typer.Exit(convert(input, mapping, lookup_dir=lookup_dir, strict=strict, quiet=quiet))
