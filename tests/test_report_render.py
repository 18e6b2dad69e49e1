"""The report as a reader sees it: real headless Chromium, the PDF as PNG pages.

A fixture with known counts (some of them small) goes through the aggregation
and the renderer; the HTML is screenshot by Chromium and its DOM read back,
the PDF is turned into PNG pages by pdftoppm and its text read by pdftotext.
Both must have every section, and no small count may appear in any table.
The pictures stay in pytest's temporary folder (their paths are printed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from callwatch.reporting.html import render
from callwatch.reporting.pdf import headless, html_to_pdf
from streams.report.aggregate import RuleInfo, figures

SECTIONS = (
    "About this report",
    "Immigration-agency calls by agency and component",
    "How each call was handled against each policy clause",
    "Time from the call to a commanding officer",
    "Alerts to supervisors",
    "Immigration-agency calls by month",
    "Methodology",
    "Log checkpoint",
)
RULES = [RuleInfo("commander-notified", "C2", "a commanding officer in time"),
         RuleInfo("call-recorded", "C4", "a recorded line")]  # fmt: skip


def fixture_calls() -> tuple[list[dict], list[dict], list[dict]]:
    """Known counts: ICE ERO 12, ICE HSI 3, CBP USBP 7, USCIS 1; Jan 14, Feb 9."""
    calls, findings, deliveries = [], [], []
    plan = [("ICE", "ERO", 12), ("ICE", "HSI", 3), ("CBP", "USBP", 7), ("USCIS", None, 1)]
    n = 0
    for agency, component, count in plan:
        for _ in range(count):
            month = "01" if n < 14 else "02"
            call_id = f"CALL-{n}"
            calls.append({
                "call_id": call_id, "immigration_agency": True, "agency": agency,
                "component": component, "first_seen": f"2024-{month}-{(n % 27) + 1:02d}T10:00:00Z",
                "commander_minutes": [4.0, 12.5, None][n % 3], "rules": {},
            })  # fmt: skip
            if n % 3 == 2:  # a third broke C2
                findings.append(
                    {"call_id": call_id, "rule": "commander-notified", "status": "open"}
                )
                key = f"{call_id}/commander-notified"
                deliveries.append({"call_id": call_id, "dedup_key": key, "kind": "delivery",
                                   "outcome": "sent", "severity": "critical"})  # fmt: skip
            if n == 5:
                findings.append({"call_id": call_id, "rule": "call-recorded", "status": "open",
                                 "outcome": "not_assessable"})  # fmt: skip
            n += 1
    return calls, findings, deliveries


class Cells(HTMLParser):
    """Every table cell's text, by table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[str]] = {}
        self._table: str | None = None
        self._in_td = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("data-table") or "?"
            self.tables[self._table] = []
        self._in_td = tag == "td"

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_td = False

    def handle_data(self, data: str) -> None:
        if self._in_td and self._table is not None:
            self.tables[self._table].append(data.strip())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    calls, findings, deliveries = fixture_calls()
    result = figures(calls, findings, deliveries, RULES, start="2024-01-01", end="2024-03-01")
    html = render(result, title="Test report", policy_versions=["lmpd 2017.07-1"],
                  source="a fixture", checkpoint=None, notes=[],
                  generated="2024-03-02")  # fmt: skip
    out = tmp_path_factory.mktemp("report") / "report.html"
    out.write_text(html)
    return out, result


def test_the_html_in_chromium_has_every_section_and_no_small_cell(rendered) -> None:
    html, result = rendered
    profile = tempfile.mkdtemp()
    try:
        dump = headless(profile, "--dump-dom", html.as_uri())
        dom = subprocess.run(dump, capture_output=True, timeout=120, check=True).stdout.decode()
        shot = html.with_name("report.png")
        snap = headless(profile, "--window-size=1100,2600", f"--screenshot={shot}", html.as_uri())
        subprocess.run(snap, capture_output=True, timeout=120, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 20_000  # a real picture, not a blank page
    for section in SECTIONS:
        assert section in dom, section
    cells = Cells()
    cells.feed(dom)
    assert set(cells.tables) == {"agency", "clauses", "commander", "alerts", "trend"}
    for name, texts in cells.tables.items():
        small = [t for t in texts if t.isdigit() and 0 < int(t) < 5]
        assert not small, f"{name} shows small counts {small}"
    # The known small cells are the ones withheld: ICE HSI 3 and USCIS 1.
    agency = result.tables["agency"]
    hsi = agency.columns.index("HSI")
    assert agency.cells.shown(agency.rows.index("ICE"), hsi) == "<5"
    assert (
        agency.cells.shown(agency.rows.index("USCIS"), agency.columns.index("not stated")) == "<5"
    )
    assert agency.cells.shown(len(agency.rows), len(agency.columns)) == "23"
    clauses = result.tables["clauses"]
    assert (
        clauses.cells.shown(clauses.rows.index("C4 call-recorded"), 2) == "<5"
    )  # not assessable 1


def test_the_pdf_pages_have_every_section_and_no_small_cell(rendered) -> None:
    html, _ = rendered
    pdf = html.with_name("report.pdf")
    html_to_pdf(html, pdf)
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", str(pdf), str(html.with_name("page"))], check=True
    )
    pages = sorted(html.parent.glob("page-*.png"))
    print(f"\npdf pages: {[str(p) for p in pages]}")
    assert pages and all(p.stat().st_size > 10_000 for p in pages)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode()  # fmt: skip
    for section in SECTIONS:
        assert " ".join(section.split()) in " ".join(text.split()), section
    table_text = text.split("Methodology")[0]
    rows = [line for line in table_text.splitlines() if "<5" in line or "*" in line]
    assert rows, "the suppressed cells are printed"
    for line in table_text.splitlines():
        if re.match(r"\s*(ICE|CBP|USCIS|C\d|critical|2024-\d\d|total)\b", line):
            numbers = [int(t) for t in re.findall(r"(?<![<\w.-])\d+(?![\w.:-])", line)]
            assert not [v for v in numbers if 0 < v < 5], f"small count printed: {line!r}"
