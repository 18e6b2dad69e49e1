"""The ``callwatch`` command."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from callwatch import local_services

app = typer.Typer(
    help="Watch dispatch (CAD) events for calls from federal immigration agencies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(help="Run real Kafka and Elasticsearch locally (no Docker).")
app.add_typer(services_app, name="services")

ProfileOption = typer.Option(
    "demo",
    "--profile",
    help="demo (19092/19200), test (29092/29200), faults (28092/28200), bench (49092/49200)"
    " or cluster (three Kafka nodes 27092-27097, replication 3, min ISR 2; ES 27200)",
)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@services_app.command("up")
def services_up(profile: str = ProfileOption) -> None:
    """Fetch (once), start and wait for Kafka and Elasticsearch."""
    try:
        p = local_services.up(profile, report=lambda m: typer.echo(m, err=True))
    except local_services.ServiceError as exc:
        _fail(str(exc))
    else:
        typer.echo(f"CALLWATCH_KAFKA_BOOTSTRAP={p.kafka_bootstrap}")
        typer.echo(f"CALLWATCH_ES_URL={p.es_url}")


@services_app.command("down")
def services_down(profile: str = ProfileOption) -> None:
    """Stop the services this profile started."""
    try:
        local_services.down(profile, report=lambda m: typer.echo(m, err=True))
    except local_services.ServiceError as exc:
        _fail(str(exc))


@services_app.command("status")
def services_status(profile: str = ProfileOption) -> None:
    """Show whether each service is running and healthy."""
    try:
        for name, state in local_services.status(profile).items():
            typer.echo(f"{name}: {state}")
    except local_services.ServiceError as exc:
        _fail(str(exc))


def main() -> None:  # pragma: no cover - entry point
    sys.exit(app())


@app.command("worker")
def worker(
    loglevel: str = typer.Option("warning", help="Faust log level"),
) -> None:
    """Run the pipeline's agents (ingest, engine, indexer) until stopped."""
    from pydantic import ValidationError

    from callwatch.kafka_admin import KafkaUnavailable
    from callwatch.settings import Settings
    from callwatch.worker import run_worker
    from streams.engine.policy import PolicyError

    try:
        settings = Settings()
        run_worker(settings, loglevel=loglevel)
    except ValidationError as exc:
        _fail(f"invalid settings: {exc}")
    except (PolicyError, KafkaUnavailable, ValueError) as exc:
        _fail(str(exc))


@app.command("demo")
def demo(
    seconds: float = typer.Option(0, help="stop after this many seconds (0: until Ctrl-C)"),
    rate: float = typer.Option(200, help="events per second the simulator publishes"),
    hours: float = typer.Option(24, help="hours of simulated dispatch traffic"),
    seed: int | None = typer.Option(None, help="simulator seed (default: random)"),
) -> None:
    """Run services, a worker and a simulated feed; show flagged calls as they happen."""
    from callwatch.demo import run_demo

    try:
        run_demo(seconds, rate, hours, seed)
    except local_services.ServiceError as exc:
        _fail(str(exc))


@app.command("check")
def check(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", help="events files or CAD exports, in any order"
    ),
    mapping: str | None = typer.Option(None, "--mapping", help="CSV mapping file or shipped name"),
    policy: Path | None = typer.Option(None, "--policy", help="policy YAML (default: Louisville)"),
    registry: Path | None = typer.Option(None, "--registry", help="agency registry YAML"),
    as_of: str | None = typer.Option(
        None, "--as-of", help="judge deadlines as of this ISO time (default: the last event's)"
    ),
    include_retracted: bool = typer.Option(False, "--include-retracted"),
    strict: bool = typer.Option(
        False, "--strict", help="reject records with a data-quality anomaly instead of using them"
    ),
    max_rejected_share: float = typer.Option(
        0.5, "--max-rejected-share", min=0.0, max=1.0,
        help="exit 1 when more than this share of the records is rejected",
    ),
    max_gap_hours: float = typer.Option(
        24.0, "--max-gap-hours", min=0.0,
        help="report events of one call further apart than this (events_far_apart)",
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="write each rejected record here (JSON lines: file, line, text)"
    ),
    as_json: bool = typer.Option(False, "--json", help="the summary as one JSON object"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, help="processes for the engine (default: up to 2 cores)"
    ),
    spill_dir: Path | None = typer.Option(
        None, "--spill-dir", help="where sorted runs are spilled (default: $TMPDIR)"
    ),
) -> None:
    """Audit files offline with the live engine, in any input order; findings as JSON lines.

    Exit status: 0 ok; 1 no event could be used, or more than --max-rejected-share of
    the records were rejected; 2 an input, the mapping or the policy is unusable.
    """
    from datetime import datetime

    from callwatch.commands.check import CheckOptions, default_jobs, run_check
    from streams.adapters import InputError, MappingError
    from streams.engine.policy import PolicyError, load_policy
    from streams.engine.state import Engine
    from streams.originator import make_classifier

    try:
        loaded = load_policy(policy)
        engine = Engine(loaded, make_classifier(registry))
        options = CheckOptions(
            mapping=mapping,
            as_of=datetime.fromisoformat(as_of) if as_of else None,
            include_retracted=include_retracted,
            strict=strict,
            max_rejected_share=max_rejected_share,
            max_gap_hours=max_gap_hours,
            rejects=rejects,
            as_json=as_json,
            quiet=quiet,
            jobs=jobs or default_jobs(),
            spill_dir=spill_dir,
        )
        summary = run_check(inputs, engine=engine, policy=loaded, options=options)
    except (PolicyError, InputError, MappingError, ValueError, OSError) as exc:
        _fail(str(exc))
    raise typer.Exit(summary["exit_status"])


def _register_tools() -> None:
    """Commands whose modules import adapters and clients: registered, imported lazily by typer."""
    from callwatch.commands.classify import INPUT_HELP, classify_command
    from callwatch.commands.convert import convert_command
    from callwatch.commands.publish import publish_command
    from callwatch.commands.replay import replay_command
    from callwatch.commands.simulate import simulate_command

    app.command(
        "convert", help="Convert a CAD export, EIDO documents or JSON lines to canonical events."
    )(convert_command)
    app.command(
        "classify",
        help="Classify originators from JSON lines on stdin (or --evaluate a labelled corpus).",
        epilog=INPUT_HELP,
    )(classify_command)
    app.command("simulate", help="Generate a realistic dispatch stream with planted violations.")(
        simulate_command
    )
    app.command("publish", help="Send any supported input to Kafka's raw topic.")(publish_command)
    app.command("replay", help="Play a historical file at N times real speed.")(replay_command)
    from callwatch.commands.ack import ack_command

    app.command("ack", help="Acknowledge an alert: recorded, and stops its escalation.")(
        ack_command
    )


_register_tools()


def _register_dashboards() -> None:
    from callwatch.dashboards import dashboards_import_command

    dashboards_app = typer.Typer(help="Kibana dashboards (saved objects in dashboards/).")
    app.add_typer(dashboards_app, name="dashboards")
    dashboards_app.command("import", help="Load the dashboards into Kibana.")(
        dashboards_import_command
    )


_register_dashboards()


def _register_mapping() -> None:
    from callwatch.commands.mapping import mapping_app

    app.add_typer(mapping_app, name="mapping")


_register_mapping()


def _register_sources() -> None:
    from callwatch.commands.eido_source import eido_ws_command

    source_app = typer.Typer(help="Live feeds, published to Kafka's raw topic.")
    app.add_typer(source_app, name="source")
    source_app.command("eido-ws", help="Subscribe to a NENA-STA-024 EIDO WebSocket feed.")(
        eido_ws_command
    )


_register_sources()


def _register_ledger() -> None:
    """The log of record: verify it, report from it, make its signing key."""
    from callwatch.commands.ledger import keygen_command
    from callwatch.commands.report import report_command
    from callwatch.commands.verify import verify_command

    app.command("verify", help="Check the ledger against its signed checkpoint (cron-friendly).")(
        verify_command
    )
    app.command("report", help="A transparency report for a period, as HTML and PDF.")(
        report_command
    )
    ledger_app = typer.Typer(help="The tamper-evident log of record.")
    app.add_typer(ledger_app, name="ledger")
    ledger_app.command("keygen", help="Write a new Ed25519 key pair for checkpoints.")(
        keygen_command
    )


_register_ledger()
