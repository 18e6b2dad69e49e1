"""``callwatch report``: the transparency report for a period, as HTML and PDF.

From the log of record (``--ledger-dir``, the default when CALLWATCH_LEDGER_DIR
is set: figures up to its latest signed checkpoint) or from a history
(``--history export.csv --mapping city``: the policy engine run offline, as
``callwatch check`` does), so an office can produce the report for a past year
from its CAD export.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer


def report_command(
    start: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
    end: str = typer.Option(..., "--to", help="day after the last, YYYY-MM-DD"),
    out: Path = typer.Option(Path("report.html"), "--out", help="the HTML file to write"),
    pdf: Path | None = typer.Option(None, "--pdf", help="also print it to this PDF file"),
    ledger_dir: Path | None = typer.Option(None, "--ledger-dir", help="the log of record"),
    history: Path | None = typer.Option(None, "--history", help="a CAD export or events file"),
    mapping: str | None = typer.Option(None, "--mapping", help="CSV mapping for --history"),
    policy_file: Path | None = typer.Option(None, "--policy", help="policy YAML for --history"),
    registry: Path | None = typer.Option(None, "--registry", help="agency registry YAML"),
    threshold: int = typer.Option(5, "--threshold", min=2, help="withhold counts below this"),
    title: str = typer.Option("Immigration-agency calls: transparency report", "--title"),
) -> None:
    """Write the report for calls received from --from up to (not including) --to."""
    from callwatch.ledger.audit import AuditError
    from callwatch.reporting.html import render
    from callwatch.reporting.pdf import PdfError, html_to_pdf
    from callwatch.reporting.sources import History, from_history, from_ledger
    from callwatch.settings import Settings
    from streams.engine.policy import PolicyError, load_policy
    from streams.report.aggregate import RuleInfo, figures

    def fail(message: str) -> None:
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2)

    try:
        policy = load_policy(policy_file)
        data: History
        if history is not None:
            from streams.engine.state import Engine
            from streams.originator import make_classifier

            data = from_history(history, policy, Engine(policy, make_classifier(registry)), mapping)
        else:
            directory = ledger_dir or Settings().ledger_dir
            if directory is None:
                fail("give --history FILE, or --ledger-dir (or set CALLWATCH_LEDGER_DIR)")
            assert directory is not None
            data = from_ledger(directory)
        rules = [RuleInfo(r.id, r.clause, r.summary) for r in policy.rules]
        deadlines = [getattr(r.params, "deadline_minutes", None) for r in policy.rules]
        deadline = float(next((d for d in deadlines if d is not None), 10.0))
        result = figures(
            data.calls, data.findings, data.deliveries, rules,
            start=start, end=end, threshold=threshold, deadline_minutes=deadline,
        )  # fmt: skip
        html = render(
            result,
            title=title,
            policy_versions=data.policy_versions,
            source=data.source,
            checkpoint=data.checkpoint,
            notes=data.notes,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        out.write_text(html)
        if pdf is not None:
            html_to_pdf(out, pdf)
    except (AuditError, PolicyError, PdfError, OSError, ValueError) as exc:
        fail(str(exc))
    typer.echo(
        f"report: {result.calls} immigration-agency calls, {start} to {end}: {out}"
        + (f", {pdf}" if pdf else "")
    )
