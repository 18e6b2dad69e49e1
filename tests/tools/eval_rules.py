"""Per-rule precision and recall of findings against the simulator's ground truth.

    python -m tests.tools.eval_rules [--seeds 1,2,3,4,5] [--agency-calls 300] [--strict]

Each seed simulates a history with many immigration-agency calls, every violation
pattern and the not-assessable situations (a unit whose camera is never reported, a
feed with no camera records, a commander notified whom nobody takes the call for, an
officer of unknown rank taking it). The stream goes through the same offline engine
as ``callwatch check``, with the real originator classifier, and each finding that
stands at the end is compared with the truth by (call, rule, status):

- ``broken``: the open and resolved findings (what supervisors are alerted about);
- ``not_assessable``: the ``needs_records`` findings (the review queue).

A found finding with the wrong status counts against both precision and recall.
Prints one line per rule and outcome, and exits 1 with ``--strict`` when a figure is
below the target (0.98).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from streams.engine.clock import EventClock
from streams.engine.offline import OfflineRun
from streams.engine.policy import load_policy
from streams.engine.state import Engine, FindingChange
from streams.originator import make_classifier
from streams.simulate import RULE_IDS, Simulation, SimulationConfig, simulate

TARGET = 0.98
START = datetime(2017, 1, 2, 6, 0, tzinfo=UTC)
Key = tuple[str, str]  # (call id, rule)


def outcome_of(status: str) -> str:
    return "not_assessable" if status == "needs_records" else "broken"


@dataclass
class Tally:
    true_positive: int = 0
    found: int = 0
    expected: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.true_positive / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.true_positive / self.expected if self.expected else None


def final_findings(sim: Simulation) -> dict[Key, str]:
    """The findings ``callwatch check`` ends with, retracted ones left out."""
    run = OfflineRun(Engine(load_policy(), make_classifier()), EventClock())
    latest: dict[Key, FindingChange] = {}
    for change in run.feed(sim.events):
        latest[(change.call_id, change.rule.id)] = change
    for change in run.finish():
        latest[(change.call_id, change.rule.id)] = change
    return {k: c.finding.status for k, c in latest.items() if c.finding.status != "retracted"}


def score(sim: Simulation, tallies: dict[tuple[str, str], Tally]) -> None:
    truth = {(t.call_id, f.rule): f.status for t in sim.truth for f in t.expected_findings}
    found = final_findings(sim)
    for (call, rule), status in found.items():
        tally = tallies[(rule, outcome_of(status))]
        tally.found += 1
        if truth.get((call, rule)) == status:
            tally.true_positive += 1
        else:
            tally.misses.append(f"extra {call}/{rule}={status} (truth {truth.get((call, rule))})")
    for (call, rule), status in truth.items():
        tallies[(rule, outcome_of(status))].expected += 1
        if found.get((call, rule)) != status:
            tallies[(rule, outcome_of(status))].misses.append(
                f"missed {call}/{rule}={status} (found {found.get((call, rule))})"
            )


def _figure(value: float | None) -> str:
    return "    -" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--agency-calls", type=int, default=300)
    parser.add_argument("--strict", action="store_true", help="exit 1 below the target")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for seed in seeds:
        config = SimulationConfig(
            start=START, seed=seed, hours=24 * 7, agency_calls=args.agency_calls
        )
        score(simulate(config), tallies)
    print(
        f"rule findings vs simulated ground truth: seeds {args.seeds},"
        f" {args.agency_calls} agency calls a seed (target {TARGET})"
    )
    header = ("rule", "outcome", "expected", "found", "precision", "recall")
    print("  {:<22} {:<15} {:>8} {:>6} {:>9} {:>7}".format(*header))
    below = False
    for rule in RULE_IDS:
        for outcome in ("broken", "not_assessable"):
            tally = tallies.get((rule, outcome))
            if tally is None or (tally.found == 0 and tally.expected == 0):
                continue
            low = any(v is not None and v < TARGET for v in (tally.precision, tally.recall))
            below |= low
            print(
                f"  {rule:<22} {outcome:<15} {tally.expected:>8} {tally.found:>6}"
                f" {_figure(tally.precision):>9} {_figure(tally.recall):>7}"
                + ("  BELOW TARGET" if low else "")
            )
            for miss in tally.misses[:3]:
                print(f"      {miss}")
    return 1 if below and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
