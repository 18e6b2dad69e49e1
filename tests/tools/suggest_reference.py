"""Suggest a mapping for every shared reference CSV export and convert each with its draft.

    .venv/bin/python tests/tools/suggest_reference.py [DATA_DIR]

DATA_DIR defaults to ../shared/data beside the repository. Not a test: the reference
data is not part of the repository and may be absent. Prints, per export, the share of
rows the untouched suggestion converts and the events it makes next to the shipped
mapping's; exits 1 when a suggestion does not load or converts less than 90 %.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from streams.adapters import Collector, open_input
from streams.adapters.csv_mapping import read_csv
from streams.adapters.mapping import parse_mapping
from streams.adapters.suggest import suggest_mapping

EXPORTS = [
    ("sdpd-san-diego", "pd_calls_for_service_2023_datasd.csv", "sdpd-san-diego"),
    ("mpd-milwaukee", "mke_calls_2018-05.csv", "mpd-milwaukee"),
    ("berkeley-pd", "Berkeley_PD_-_Calls_for_Service_2018.csv", "berkeley-pd"),
    ("berkeley-pd", "Berkeley_PD_calls_for_service_2019.csv", "berkeley-pd"),
    ("sffd-san-francisco-fire", "sffd_calls_for_service_sample.csv", "sffd-san-francisco-fire"),
]


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    data = Path(argv[1]) if len(argv) > 1 else default
    if not data.is_dir():
        print(f"no reference data at {data}", file=sys.stderr)
        return 2
    at = datetime.now(UTC)
    ok = True
    print(f"{'export':<62} {'read':>7} {'conv':>7} {'share':>7} {'events':>7} {'shipped':>7}")
    for folder, name, shipped in EXPORTS:
        path = data / folder / name
        if not path.is_file():
            print(f"{folder}/{name}: missing, skipped")
            continue
        mapping = parse_mapping(suggest_mapping(path.read_bytes(), name, "suggested"))
        suggested = Collector()
        for _ in suggested.events(read_csv(path, mapping, received_at=at)):
            pass
        reference = Collector()
        for _ in reference.events(open_input(path, shipped, received_at=at).outcomes):
            pass
        t = suggested.tally
        share = t.records_converted / t.records_read if t.records_read else 0.0
        ok &= share >= 0.9 and t.adds_up
        print(
            f"{folder + '/' + name:<62} {t.records_read:>7} {t.records_converted:>7} "
            f"{share:>7.1%} {t.events_written:>7} {reference.tally.events_written:>7}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
