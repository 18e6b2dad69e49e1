"""Ground truth: what each simulated call is, and the findings it must end with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import msgspec

from streams.simulation.handling import RULE_IDS, ExpectedFinding


class CallTruth(msgspec.Struct, frozen=True):
    """One line of the ground-truth file.

    ``agency`` is the immigration agency the classifier should name (ICE, CBP,
    USCIS) and is null for every other call; ``caller_agency`` is what the caller
    stated, whatever it was (FBI, LMPD VICE ...). ``pattern`` is ``compliant``, a
    violation pattern, or ``ordinary``; ``false_friend`` names the text trap an
    ordinary call carries, if any.
    """

    call_id: str
    immigration_agency: bool
    agency: str | None
    caller_agency: str | None
    pattern: str
    variant: str | None
    false_friend: str | None
    expected_findings: tuple[ExpectedFinding, ...]


class TruthSummary(msgspec.Struct, frozen=True):
    calls: int
    immigration_agency_calls: int
    false_friend_calls: int
    by_pattern: dict[str, int]
    # rule -> {"open": n, "resolved": m, "needs_records": k}; every rule listed, even at zero
    by_rule: dict[str, dict[str, int]]
    calls_with_findings: int


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CallTruth)


def truth_lines(truth: Iterable[CallTruth]) -> Iterator[bytes]:
    for entry in truth:
        yield _encoder.encode(entry) + b"\n"


def read_truth_line(line: bytes) -> CallTruth:
    return _decoder.decode(line)


def truth_summary(truth: Iterable[CallTruth]) -> TruthSummary:
    entries = list(truth)
    by_rule: dict[str, dict[str, int]] = {
        rule: {"open": 0, "resolved": 0, "needs_records": 0} for rule in RULE_IDS
    }
    for entry in entries:
        for finding in entry.expected_findings:
            by_rule[finding.rule][finding.status] += 1
    patterns = Counter(e.pattern for e in entries if e.immigration_agency)
    return TruthSummary(
        calls=len(entries),
        immigration_agency_calls=sum(e.immigration_agency for e in entries),
        false_friend_calls=sum(e.false_friend is not None for e in entries),
        by_pattern=dict(sorted(patterns.items())),
        by_rule=by_rule,
        calls_with_findings=sum(bool(e.expected_findings) for e in entries),
    )


def render_summary(summary: TruthSummary) -> str:
    """The summary as a few aligned lines for a terminal."""
    lines = [
        f"calls: {summary.calls}  immigration-agency: {summary.immigration_agency_calls}"
        f"  false friends: {summary.false_friend_calls}"
        f"  agency calls with findings: {summary.calls_with_findings}",
        "patterns:",
        *(f"  {name:<28} {count:>5}" for name, count in summary.by_pattern.items()),
        "expected findings:            open  resolved  needs records",
        *(
            f"  {rule:<28} {counts['open']:>4}  {counts['resolved']:>8}"
            f"  {counts['needs_records']:>13}"
            for rule, counts in summary.by_rule.items()
        ),
    ]
    return "\n".join(lines)
