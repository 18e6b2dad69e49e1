"""``callwatch check``'s summary for people: tables (rich) on stderr.

Colours only on a terminal; in a pipe or a file the same tables in plain text.
Long id lists are cut to the first few: ``--json`` gives them all.
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from rich.console import Console
from rich.table import Table

IDS_SHOWN: Final = 20


def render_summary(
    summary: dict[str, Any], stream: TextIO, findings: dict[str, list[str]] | None = None
) -> None:
    """``findings``: each call's findings as "rule: status", for the table of calls."""
    console = Console(file=stream, width=None if stream.isatty() else 110, highlight=False)
    counts = Table(title="callwatch check", show_header=False, title_justify="left")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for label, value in (
        ("records read", summary["records_read"]),
        ("  converted", summary["records_converted"]),
        ("  duplicate records", summary["duplicate_records"]),
        ("  rejected", summary["rejected_total"]),
        *((f"    {reason}", n) for reason, n in summary["records_rejected"].items()),
        ("events applied", summary["events"]),
        ("  duplicate events (same event id)", summary["duplicate_events"]),
        ("  late, after the call was evicted", summary["late_after_eviction"]),
        ("calls", summary["calls"]),
        ("immigration-agency calls", summary["immigration_agency_calls"]),
        ("review-queue calls", summary["review_calls"]),
        ("findings", summary["findings"]),
    ):
        counts.add_row(label, f"{value:,}")
    console.print(counts)
    verdict = "ok" if summary["counts_add_up"] else "MISMATCH"
    console.print(
        f"counts add up ({verdict}): {summary['records_read']:,} read = "
        f"{summary['records_converted']:,} converted + {summary['duplicate_records']:,} "
        f"duplicate + {summary['rejected_total']:,} rejected"
    )
    _calls(console, "immigration-agency calls", summary["flagged_calls"], findings or {})
    _calls(console, "review-queue calls", summary["review_queue_calls"], findings or {})
    _quality(console, summary["data_quality"])
    if summary["exit_status"] != 0:
        console.print(f"[bold red]error:[/] {summary['exit_reason']}")


def _calls(console: Console, title: str, ids: list[str], findings: dict[str, list[str]]) -> None:
    if not ids:
        console.print(f"{title}: none")
        return
    shown = ids[:IDS_SHOWN]
    rest = len(ids) - len(shown)
    table = Table(title=f"{title} ({len(ids):,})", title_justify="left")
    table.add_column("call id", no_wrap=True)
    table.add_column("findings (rule: status)", overflow="fold")
    for call_id in shown:
        table.add_row(call_id, ", ".join(findings.get(call_id, [])) or "none")
    if rest:
        table.add_row(f"… and {rest:,} more", "--json lists every id")
    console.print(table)


def _quality(console: Console, entries: list[dict[str, Any]]) -> None:
    if not entries:
        console.print("data quality: no anomalies found")
        return
    table = Table(title="data quality", title_justify="left")
    for column, justify in (
        ("anomaly", "left"),
        ("column", "left"),
        ("count", "right"),
        ("share of records", "right"),
        ("first places", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for entry in entries:
        table.add_row(
            entry["kind"],
            entry["column"] or "",
            f"{entry['count']:,}",
            f"{entry['share']:.2%}",
            ", ".join(entry["first"]),
        )
    console.print(table)
