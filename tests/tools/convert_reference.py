"""Convert every shared reference export with its mapping and print the figures per dataset.

    .venv/bin/python tests/tools/convert_reference.py [DATA_DIR]

DATA_DIR defaults to ../shared/data beside the repository. Not a test: the
reference data is not part of the repository and may be absent. Exits 1 when
a dataset's counts do not add up or an EIDO sample is not handled as expected.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from streams.adapters import Collector, Rejection, open_input

# (dataset folder, file, mapping); the file names are the ones SOURCE.md lists.
CSV_EXPORTS = [
    ("sdpd-san-diego", "pd_calls_for_service_2023_datasd.csv", "sdpd-san-diego"),
    ("mpd-milwaukee", "mke_calls_2018-05.csv", "mpd-milwaukee"),
    ("berkeley-pd", "Berkeley_PD_-_Calls_for_Service_2018.csv", "berkeley-pd"),
    ("berkeley-pd", "Berkeley_PD_calls_for_service_2019.csv", "berkeley-pd"),
    ("sffd-san-francisco-fire", "sffd_calls_for_service_sample.csv", "sffd-san-francisco-fire"),
]
# SOURCE.md: EidoWithJcard.json misses the required lastUpdateTimeStamp everywhere.
INVALID_EIDO_SAMPLES = {"EidoWithJcard.json"}


def main(argv: list[str]) -> int:
    default = Path(__file__).resolve().parents[3] / "shared" / "data"
    data = Path(argv[1]) if len(argv) > 1 else default
    if not data.is_dir():
        print(f"no reference data at {data}", file=sys.stderr)
        return 2
    received_at = datetime.now(UTC)
    ok = True
    header = (
        f"{'dataset / file':<62} {'read':>7} {'conv':>7} {'dup':>4} {'rej':>5} "
        f"{'events':>7} {'dupev':>5} {'adds up':>7} {'s':>5}"
    )
    print(header)
    print("-" * len(header))
    for folder, name, mapping in CSV_EXPORTS:
        path = data / folder / name
        if not path.is_file():
            print(f"{folder}/{name}: missing, skipped")
            continue
        started = time.perf_counter()
        collector = Collector()
        kinds: Counter[str] = Counter()
        opened = open_input(path, mapping, received_at=received_at)
        for event in collector.events(opened.outcomes):
            kinds[str(type(event).__struct_config__.tag)] += 1
        seconds = time.perf_counter() - started
        t = collector.tally
        ok &= t.adds_up
        print(
            f"{folder + '/' + name:<62} {t.records_read:>7} {t.records_converted:>7} "
            f"{t.duplicate_records:>4} {t.records_rejected:>5} {t.events_written:>7} "
            f"{t.duplicate_events:>5} {'yes' if t.adds_up else 'NO':>7} {seconds:>5.1f}"
        )
        for reason, count in sorted(t.rejected.items()):
            print(f"    rejected {reason}: {count}")
        for note, count in sorted(t.notes.items()):
            print(f"    skipped value {note}: {count}")
        print("    events: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    print()
    print("NENA EIDO samples")
    for path in sorted((data / "nena-eido" / "samples").rglob("*.json")):
        if "WebSocketTestFiles" in path.parts and path.name != "NotifyWithEido.json":
            continue  # subscribe/response messages carry no EIDO
        collector = Collector()
        rejections: list[Rejection] = []
        for outcome in open_input(path, received_at=received_at).outcomes:
            if isinstance(outcome, Rejection):
                rejections.append(outcome)
            collector.accept(outcome)
        t = collector.tally
        expect_invalid = path.name in INVALID_EIDO_SAMPLES
        as_expected = (t.records_rejected > 0) == expect_invalid and t.adds_up
        ok &= as_expected
        verdict = "rejected" if rejections else "converted"
        detail = f" ({rejections[0].reason}: {rejections[0].detail})" if rejections else ""
        print(
            f"  {path.relative_to(data / 'nena-eido' / 'samples')}: {verdict}, "
            f"{t.events_written} events{detail} -> {'as expected' if as_expected else 'UNEXPECTED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
