"""``callwatch publish``: send an input file to Kafka's raw topic, as fast as allowed.

Canonical JSON lines go out byte for byte (bad lines included: the ingest agent
dead-letters them with a reason); CSV exports and EIDO documents are converted
by the adapters first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callwatch.commands.sending import count_lines, read_input, report_rejections, send
from callwatch.settings import Settings


def publish_command(
    input: Annotated[
        Path, typer.Argument(help="Events (.jsonl), a CAD export (.csv) or EIDO (.json).")
    ],
    mapping: Annotated[
        str | None,
        typer.Option(help="CSV mapping: a file or a shipped name (default: from the header)."),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="At most this many messages a second.")
    ] = None,
) -> None:
    """Send any supported input to Kafka's raw topic, with a progress bar."""
    source = read_input(input, mapping)
    total = count_lines(input) if source.format == "jsonl" else None
    send(source.items, total=total, settings=Settings(), rate=rate, label="publishing")
    report_rejections(source.tally)
