"""``callwatch mapping suggest EXPORT``: a first mapping for a new city's export.

Prints the suggested mapping (YAML, each choice explained in a comment) on
stdout or to ``--out``. The suggestion is loaded as a mapping before it is
written, so what it prints always loads; ``--try`` also converts the export
with it and prints the figures on stderr, the quickest way to see how many
rows the draft already converts.

Exit status: 0 when a mapping was suggested, 2 when the export cannot be read
or holds nothing to suggest from.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from streams.adapters import Collector, InputError, MappingError
from streams.adapters.csv_mapping import read_csv
from streams.adapters.mapping import CsvMapping, parse_mapping
from streams.adapters.suggest import suggest_mapping

mapping_app = typer.Typer(help="Write and check mappings for CAD exports.", no_args_is_help=True)


def suggest(
    export: Path,
    out: TextIO,
    err: TextIO,
    *,
    source: str | None = None,
    try_it: bool = False,
) -> int:
    try:
        data = export.read_bytes()
    except OSError as exc:
        err.write(f"error: {export}: {exc.strerror or exc}\n")
        return 2
    try:
        text = suggest_mapping(data, export.name, source or _source_name(export))
    except ValueError as exc:
        err.write(f"error: {export}: {exc}\n")
        return 2
    try:
        mapping = parse_mapping(text, origin="the suggested mapping")
    except MappingError as exc:  # a defect of the suggester, not of the export
        err.write(f"error: {exc}\n")
        return 2
    out.write(text)
    out.flush()
    if try_it:
        err.write(trial(export, mapping))
    return 0


def trial(export: Path, mapping: CsvMapping) -> str:
    """Convert the export with the mapping; the figures, one line each."""
    collector = Collector()
    anomalies: dict[str, int] = {}
    try:
        for outcome in read_csv(export, mapping, received_at=datetime.now(UTC)):
            for anomaly in getattr(outcome, "anomalies", ()):
                anomalies[anomaly.kind] = anomalies.get(anomaly.kind, 0) + 1
            collector.accept(outcome)
    except (InputError, MappingError) as exc:
        return f"tried it: {exc}\n"
    t = collector.tally
    share = t.records_converted / t.records_read if t.records_read else 0.0
    lines = [
        f"tried it on {export}: {t.records_read} records read, {t.records_converted} converted "
        f"({share:.1%}), {t.duplicate_records} duplicate, {t.records_rejected} rejected, "
        f"{t.events_written} events",
    ]
    lines += [f"  rejected {reason}: {count}" for reason, count in sorted(t.rejected.items())]
    lines += [f"  anomaly {kind}: {count}" for kind, count in sorted(anomalies.items())]
    return "\n".join(lines) + "\n"


def _source_name(export: Path) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in export.stem.lower()).strip("-")
    return (stem or "export")[:64]


@mapping_app.command("suggest")
def suggest_command(
    export: Annotated[
        Path,
        typer.Argument(help="A CAD export: CSV, a JSON document or NDJSON.", dir_okay=False),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the mapping here (default: stdout).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="The `source` of the events (default: the file name)."),
    ] = None,
    try_it: Annotated[
        bool,
        typer.Option("--try", help="Also convert the export with it and print the figures."),
    ] = False,
) -> None:
    """Propose a mapping for EXPORT, each choice explained in a YAML comment."""
    if out is None:
        raise typer.Exit(suggest(export, sys.stdout, sys.stderr, source=source, try_it=try_it))
    with out.open("w", encoding="utf-8") as handle:
        code = suggest(export, handle, sys.stderr, source=source, try_it=try_it)
    if code:
        out.unlink(missing_ok=True)
    raise typer.Exit(code)
