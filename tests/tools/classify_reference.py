"""Run the originator classifier over real public CAD exports, where every positive is false.

None of the calls in /work/shared/data involves an immigration agency (see its
README), yet they are full of "FEDERAL BLVD", "BORDER VILLAGE RD", "HOMELAND
SECURITY CHECKS" and "BORDER/PORT RUNNER". Each row's call type, description,
disposition and address become the narrative; the classifier must flag none.

    .venv/bin/python tests/tools/classify_reference.py [DATA_DIR] [--examples N]

Prints rows scanned, positives (must be 0), reviews, rows where some agency
wording was seen and ruled out, examples of each, and throughput. Exits 1 if
anything was flagged. Not a pytest module: the data is not part of the repo.
"""

from __future__ import annotations

import argparse
import csv
import html
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from streams.agency_registry import default_registry
from streams.classify import OriginatorSignals, classify_originator

DEFAULT_DATA = Path("/work/shared/data")
Row = tuple[str, str, OriginatorSignals]  # source, row id, signals


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        yield from csv.DictReader(f)


def _lookup(path: Path, key: str, value: str) -> dict[str, str]:
    if not path.exists():
        return {}
    return {r[key].strip(): r[value].strip() for r in _rows(path) if r.get(key)}


def _join(*parts: str | None) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip() and p.strip() != "null")


def san_diego(root: Path) -> Iterator[Row]:
    folder = root / "sdpd-san-diego"
    types = _lookup(folder / "pd_cfs_calltypes_datasd.csv", "call_type", "description")
    dispos = _lookup(folder / "pd_dispo_codes_datasd.csv", "dispo_code", "description")
    for r in _rows(folder / "pd_calls_for_service_2023_datasd.csv"):
        code = r["call_type"]
        address = _join(
            r["address_number_primary"],
            r["address_dir_primary"],
            r["address_road_primary"],
            r["address_sfx_primary"],
        )
        cross = _join(
            r["address_dir_intersecting"],
            r["address_road_intersecting"],
            r["address_sfx_intersecting"],
        )
        narrative = _join(
            types.get(code, code),
            f"AT {address}",
            f"/ {cross}" if cross else None,
            f"- {dispos.get(r['disposition'], r['disposition'])}",
        )
        yield (
            "sdpd-san-diego",
            r["incident_num"],
            OriginatorSignals(narrative=narrative, call_type=code),
        )


def milwaukee(root: Path) -> Iterator[Row]:
    for r in _rows(root / "mpd-milwaukee" / "mke_calls_2018-05.csv"):
        yield (
            "mpd-milwaukee",
            r["id"],
            OriginatorSignals(
                narrative=_join(r["nature"], "AT", r["location"], "-", r["status"]),
                call_type=r["nature"],
            ),
        )


def berkeley(root: Path) -> Iterator[Row]:
    for path in sorted((root / "berkeley-pd").glob("*.csv")):
        for r in _rows(path):
            narrative = _join(
                r["OFFENSE"],
                "-",
                r["CVLEGEND"],
                "AT",
                html.unescape(r["Block_Location"]),
                "/",
                html.unescape(r["BLKADDR"]),
            )
            yield (
                "berkeley-pd",
                r["CASENO"],
                OriginatorSignals(narrative=narrative, call_type=r["OFFENSE"]),
            )


def sf_fire(root: Path) -> Iterator[Row]:
    for path in sorted((root / "sffd-san-francisco-fire").glob("*.csv")):
        for r in _rows(path):
            narrative = _join(
                r["Call Type"],
                "-",
                r["Call Type Group"],
                "AT",
                r["Address"],
                "-",
                r["Call Final Disposition"],
                "- UNIT",
                r["Unit ID"],
                r["Unit Type"],
                "-",
                r["Neighborhooods - Analysis Boundaries"],
            )
            yield (
                "sffd-san-francisco-fire",
                r["RowID"],
                OriginatorSignals(narrative=narrative, call_type=r["Call Type"]),
            )


SOURCES = (san_diego, milwaukee, berkeley, sf_fire)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args(argv)
    registry = default_registry()

    rows = [row for source in SOURCES for row in source(args.data)]
    scanned: Counter[str] = Counter()
    positives: list[tuple[Row, str]] = []
    reviews: list[tuple[Row, str]] = []
    ruled_out: list[tuple[Row, str]] = []
    started = time.perf_counter()
    for row in rows:
        source, _, signals = row
        scanned[source] += 1
        decision = classify_originator(signals, registry)
        if not decision.evidence and not decision.ruled_out:
            continue
        why = "; ".join(decision.evidence_lines())
        if decision.immigration_agency:
            positives.append((row, why))
        elif decision.review:
            reviews.append((row, why))
        else:
            ruled_out.append((row, why))
    elapsed = time.perf_counter() - started

    print(f"data: {args.data}")
    for source, count in sorted(scanned.items()):
        print(f"  {source}: {count} rows")
    print(f"rows scanned: {sum(scanned.values())}")
    print(f"positives: {len(positives)} (every one is a false positive)")
    print(f"review: {len(reviews)}")
    print(f"agency wording seen and ruled out: {len(ruled_out)}")
    per_call = elapsed * 1e6 / len(rows)
    print(f"throughput: {len(rows) / elapsed:,.0f} calls/s ({per_call:.1f} µs/call)")
    for title, found in (("positives", positives), ("review", reviews), ("ruled out", ruled_out)):
        if found:
            print(f"examples ({title}):")
            for (source, row_id, signals), why in found[: args.examples]:
                print(f"  [{source} {row_id}] {signals.narrative}\n      {why}")
    return 1 if positives else 0


if __name__ == "__main__":
    sys.exit(main())
