"""``callwatch replay``: play a historical file into Kafka at N times real speed.

Events are sent in event-time order, spaced by the gaps between their
``occurred_at`` divided by --speed; --as-fast-as-possible drops the spacing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from callwatch.commands.sending import fail, occurred_at, read_input, report_rejections, send
from callwatch.settings import Settings
from streams.replay_schedule import replay_order, send_offsets


def replay_command(
    input: Annotated[
        Path, typer.Argument(help="Events (.jsonl), a CAD export (.csv) or EIDO (.json).")
    ],
    speed: Annotated[
        float, typer.Option(help="Times real speed: 60 plays an hour in a minute.")
    ] = 1.0,
    as_fast_as_possible: Annotated[
        bool, typer.Option("--as-fast-as-possible", help="Ignore the gaps; keep the order.")
    ] = False,
    max_gap: Annotated[
        float | None,
        typer.Option(min=0.0, help="Cap any quiet stretch at this many (replay) seconds."),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="CSV mapping: a file or a shipped name.")
    ] = None,
) -> None:
    """Replay a historical file at N times real speed (or as fast as possible)."""
    if speed <= 0:
        fail("--speed must be positive")
    source = read_input(input, mapping)
    items = list(source.items)  # the schedule needs every time up front
    times = [occurred_at(item) for item in items]
    order = replay_order(times)
    schedule = (
        None
        if as_fast_as_possible
        else send_offsets([times[i] for i in order], speed=speed, max_gap=max_gap)
    )
    if schedule:
        typer.echo(f"replaying {len(items)} events over {schedule[-1]:.0f}s", err=True)
    send(
        [items[i] for i in order],
        total=len(items),
        settings=Settings(),
        schedule=schedule,
        label="replaying",
    )
    report_rejections(source.tally)
