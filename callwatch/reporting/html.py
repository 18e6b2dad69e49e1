"""The report as one self-contained HTML page: tables, inline SVG charts, no external files.

Charts are drawn only from published figures: a withheld count is never drawn
to scale (a bar's height would give it away); it shows as a marked stub.
"""

from __future__ import annotations

from html import escape
from typing import Final

from streams.ledger.checkpoint import SignedCheckpoint
from streams.report.aggregate import Figures, Table

CSS: Final = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d2733;
       max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; line-height: 1.45; font-size: 11pt; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; color: #0b3954; }
h2 { font-size: 1.15rem; margin: 1.8rem 0 .5rem; color: #0b3954; border-bottom: 2px solid #d6e2ea;
     padding-bottom: .2rem; break-after: avoid; }
p.lead { color: #4a5a6a; margin-top: 0; }
table, svg, dl { break-inside: avoid; }
table { border-collapse: collapse; margin: .4rem 0 .3rem; font-size: .95em; }
th, td { border: 1px solid #c9d5de; padding: .28rem .6rem; }
th { background: #eef3f7; text-align: left; font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; min-width: 3.2rem; }
tr.total td, td.total { font-weight: 600; background: #f6f9fb; }
td.primary { background: #fff4d6; color: #7a5300; }
td.complementary { background: #f0eef7; color: #4b3f78; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
.facts dt { font-weight: 600; color: #4a5a6a; }
.facts dd { margin: 0; }
.note { color: #4a5a6a; font-size: .9em; }
pre.checkpoint { background: #f6f9fb; border: 1px solid #d6e2ea; padding: .6rem; font-size: .8em;
                 white-space: pre-wrap; word-break: break-all; }
svg text { font-family: inherit; }
"""


def _cell(table: Table, r: int, c: int) -> str:
    mark = table.cells.marks[r][c]
    last_r, last_c = len(table.rows), len(table.columns)
    classes = ["n"] + ([mark] if mark else []) + (["total"] if r == last_r or c == last_c else [])
    return f'<td class="{" ".join(classes)}">{escape(table.cells.shown(r, c))}</td>'


def table_html(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in (table.row_label, *table.columns, "total"))
    body = []
    for r, label in enumerate((*table.rows, "total")):
        cls = ' class="total"' if r == len(table.rows) else ""
        cells = "".join(_cell(table, r, c) for c in range(len(table.columns) + 1))
        body.append(f"<tr{cls}><th>{escape(label)}</th>{cells}</tr>")
    withheld = any(m for row in table.cells.marks for m in row)
    legend = (
        f'<p class="note"><b>&lt;{table.cells.threshold}</b>: between 1 and '
        f"{table.cells.threshold - 1}; <b>*</b>: withheld so that the totals cannot reveal "
        "a small count.</p>"
        if withheld
        else ""
    )
    return (
        f'<table data-table="{table.key}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{legend}"
    )


def trend_chart(table: Table) -> str:
    """Bars of calls per month (the published monthly totals)."""
    months = table.rows
    width, height, left, bottom = 640, 220, 40, 30
    column = len(table.columns)
    values = [table.cells.values[r][column] for r in range(len(months))]
    published = [not table.cells.marks[r][column] for r in range(len(months))]
    if not any(published):
        return '<p class="note">Monthly totals are all withheld (small numbers): no chart.</p>'
    top = max([v for v, p in zip(values, published, strict=True) if p] or [1])
    slot = (width - left - 10) / max(1, len(months))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Immigration-agency calls by month">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" '
        'stroke="#8899a6"/>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left - 6}" y="22" text-anchor="end" font-size="11">{top}</text>',
    ]
    plot = height - bottom - 20
    for i, (month, value, shown) in enumerate(zip(months, values, published, strict=True)):
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        if shown:
            h = plot * value / top if top else 0
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{w:.1f}" '
                f'height="{h:.1f}" fill="#2a6f97"/>'
            )
            parts.append(
                f'<text x="{x + w / 2:.1f}" y="{height - bottom - h - 4:.1f}" '
                f'text-anchor="middle" font-size="11">{value}</text>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{height - bottom - 12}" width="{w:.1f}" height="12" '
                'fill="#fff4d6" stroke="#7a5300" stroke-dasharray="3 2"/>'
            )
            parts.append(
                f'<text x="{x + w / 2:.1f}" y="{height - bottom - 16}" text-anchor="middle" '
                f'font-size="11">{escape(table.cells.shown(i, column))}</text>'
            )
        parts.append(
            f'<text x="{x + w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'font-size="11">{escape(month)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def clause_chart(table: Table) -> str:
    """Share of calls that broke each clause, where the row's figures are published."""
    width, row_h, left = 640, 26, 230
    height = row_h * len(table.rows) + 24
    broken_col = table.columns.index("broken")
    total_col = len(table.columns)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'aria-label="Share of calls breaking each clause">'
    ]
    span = width - left - 60
    for r, label in enumerate(table.rows):
        y = 8 + r * row_h
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
        )
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{span}" height="16" fill="#eef3f7"/>')
        marks = table.cells.marks[r]
        if marks[broken_col] or marks[total_col] or not table.cells.values[r][total_col]:
            parts.append(
                f'<text x="{left + 6}" y="{y + 15}" font-size="11" fill="#7a5300">'
                "withheld (small numbers)</text>"
            )
            continue
        share = table.cells.values[r][broken_col] / table.cells.values[r][total_col]
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{span * share:.1f}" height="16" fill="#c8553d"/>'
        )
        parts.append(f'<text x="{left + span + 6}" y="{y + 15}" font-size="11">{share:.0%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(
    figures: Figures,
    *,
    title: str,
    policy_versions: list[str],
    source: str,
    checkpoint: SignedCheckpoint | None,
    notes: list[str],
    generated: str,
) -> str:
    t = figures.tables
    k = figures.threshold
    if checkpoint is not None:
        cp = checkpoint.checkpoint
        verify = (
            f"<p>The figures were computed from the first {cp.size:,} entries of the log of "
            f"record <code>{escape(cp.origin)}</code>, whose signed checkpoint is below. "
            "Anyone holding the log and the office's public key can check that the log still "
            "matches it: <code>callwatch verify --checkpoint checkpoint.txt --public-key "
            "ledger.pub</code>.</p>"
            f'<pre class="checkpoint">{escape(checkpoint.text())}</pre>'
        )
    else:
        verify = (
            "<p>These figures were computed offline from a history, not from a signed log "
            "of record: there is no checkpoint to verify them against.</p>"
        )
    sections = [
        f"<h1>{escape(title)}</h1>",
        '<p class="lead">Calls to the police from federal immigration agencies, and how they '
        "were handled against the department's policy.</p>",
        '<section id="about"><h2>About this report</h2><dl class="facts">'
        f"<dt>Period</dt><dd>{escape(figures.start)} to {escape(figures.end)} (end excluded)</dd>"
        f"<dt>Immigration-agency calls</dt><dd>{figures.calls:,}</dd>"
        f"<dt>Policy</dt><dd>{escape(', '.join(policy_versions) or 'unknown')}</dd>"
        f"<dt>Computed from</dt><dd>{escape(source)}</dd>"
        f"<dt>Generated</dt><dd>{escape(generated)}</dd></dl></section>",
        f'<section id="agencies"><h2>{escape(t["agency"].title)}</h2>{table_html(t["agency"])}'
        "</section>",
        f'<section id="clauses"><h2>{escape(t["clauses"].title)}</h2>'
        '<p class="note">Each call is counted once per rule: <b>met</b> (the rule held, or did '
        "not apply), <b>broken</b> (a finding opened, even if cured later), <b>not "
        "assessable</b> (the record lacked what the rule needs).</p>"
        f"{table_html(t['clauses'])}{clause_chart(t['clauses'])}</section>",
        f'<section id="commander"><h2>{escape(t["commander"].title)}</h2>'
        f"{table_html(t['commander'])}</section>",
        f'<section id="alerts"><h2>{escape(t["alerts"].title)}</h2>{table_html(t["alerts"])}'
        "</section>",
        f'<section id="trend"><h2>{escape(t["trend"].title)}</h2>{trend_chart(t["trend"])}'
        f"{table_html(t['trend'])}</section>",
        '<section id="methodology"><h2>Methodology</h2>'
        "<p>Every call dispatch recorded is read by callwatch's classifier, which decides from "
        "agency codes, known telephone numbers and e-mail domains, the caller's stated agency "
        "and the narrative whether the caller was a federal immigration agency (ICE, CBP, "
        "USCIS); undecided calls go to a review queue and are not counted here. Each "
        "immigration-agency call is judged against each rule of the policy by the same engine "
        "that runs live, on event time. A call is counted in the month it was received. "
        "Times to a commanding officer run from the call's receipt to the first lieutenant "
        "or above notified or assigned.</p>"
        f"<p><b>Small-cell suppression.</b> Counts from 1 to {k - 1} are shown as "
        f"<b>&lt;{k}</b> so that no handful of calls can be tied to the people on them. "
        "Because totals are shown, further cells are withheld (<b>*</b>) wherever a reader "
        "could otherwise work a small count out from a total; every withheld cell can take "
        "more than one value consistent with everything published. Charts draw only "
        "published figures. The report carries no call number, name, telephone number or "
        "address.</p>" + "".join(f'<p class="note">{escape(n)}</p>' for n in notes) + "</section>",
        f'<section id="verification"><h2>Log checkpoint</h2>{verify}</section>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )
