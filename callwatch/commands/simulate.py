"""``callwatch simulate``: a day of dispatch traffic with planted violations, and its truth.

Events go to --out as canonical JSON lines (stdout by default) or, with --publish,
to Kafka's raw topic; the ground truth goes to --truth; a summary of what was
planted goes to stderr.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from callwatch.commands.sending import fail, send
from callwatch.settings import Settings
from streams.replay_schedule import send_offsets
from streams.simulate import (
    DEFAULT_TAIL_HOURS,
    SAN_DIEGO_CALLS_PER_HOUR,
    VIOLATION_PATTERNS,
    SimulationConfig,
    event_lines,
    render_summary,
    simulate,
    truth_lines,
    truth_summary,
)


def simulate_command(
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bytes.")] = 0,
    hours: Annotated[
        float | None, typer.Option(help="Length of the main window (default 24).")
    ] = None,
    calls: Annotated[
        int | None, typer.Option("--calls", help="Number of calls instead of --hours.")
    ] = None,
    agency_calls: Annotated[
        int | None,
        typer.Option(help="Immigration-agency calls (default: 2% of the window's calls)."),
    ] = None,
    compliant_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of agency calls handled by the book.")
    ] = 0.3,
    patterns: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated violation patterns (default all): "
            + ", ".join(VIOLATION_PATTERNS)
        ),
    ] = None,
    false_friends: Annotated[
        bool, typer.Option(help="Plant ordinary calls with ICE-like text (black ice, VICE...).")
    ] = True,
    calls_per_hour: Annotated[float, typer.Option(min=0.01)] = SAN_DIEGO_CALLS_PER_HOUR,
    tail_hours: Annotated[
        float, typer.Option(min=0.0, help="Ordinary traffic after the last agency call closes.")
    ] = DEFAULT_TAIL_HOURS,
    start: Annotated[
        str, typer.Option(help="ISO time with an offset (2017-04-13T08:00:00-04:00), or 'now'.")
    ] = "now",
    out: Annotated[
        str | None, typer.Option(help="Events file, or '-' for stdout (default unless --publish).")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write the ground truth (JSON lines) here.")
    ] = None,
    publish: Annotated[bool, typer.Option(help="Send the events to Kafka's raw topic.")] = False,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="With --publish: at most this many events/s.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option(help="With --publish: send each event when its time comes.")
    ] = False,
) -> None:
    """Simulate dispatch events (with ground truth) to a file or to Kafka."""
    if (rate is not None or realtime) and not publish:
        fail("--rate and --realtime pace publishing; add --publish")
    try:
        config = SimulationConfig(
            seed=seed,
            start=_parse_start(start),
            hours=hours,
            n_calls=calls,
            calls_per_hour=calls_per_hour,
            agency_calls=agency_calls,
            compliant_share=compliant_share,
            patterns=VIOLATION_PATTERNS if patterns is None else _split(patterns),
            false_friends=false_friends,
            tail_hours=tail_hours,
        )
        sim = simulate(config)
    except ValueError as exc:
        fail(str(exc))

    if truth is not None:
        truth.write_bytes(b"".join(truth_lines(sim.truth)))
    target = out if out is not None else (None if publish else "-")
    if target == "-":
        sys.stdout.buffer.writelines(event_lines(sim.events))
        sys.stdout.buffer.flush()
    elif target is not None:
        Path(target).write_bytes(b"".join(event_lines(sim.events)))
    typer.echo(render_summary(truth_summary(sim.truth)), err=True)
    if publish:
        schedule = send_offsets([e.occurred_at for e in sim.events]) if realtime else None
        send(
            sim.events,
            total=len(sim.events),
            settings=Settings(),
            rate=rate,
            schedule=schedule,
            label="simulating",
        )


def _parse_start(text: str) -> datetime:
    if text == "now":
        # The command layer may read the clock; the simulator itself never does.
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--start {text!r} is not an ISO time or 'now'")
    if parsed.tzinfo is None:
        fail(f"--start {text!r} needs an offset, e.g. {text}+00:00")
    return parsed


def _split(patterns: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in patterns.split(",") if p.strip())
