"""Score the originator classifier on a labelled corpus: precision, recall, review load.

Each record's outcome is *flagged* (``immigration_agency``), *review* (a person
should look) or *negative*. Labels are ``positive``, ``negative`` and
``ambiguous`` (``review`` is read as ``ambiguous``: older corpora used it).

How a review counts is reported both ways, because both matter:

- **strict** (the headline, and what the targets apply to): only a flag is a
  find. A positive sent to review is a miss, since no supervisor is alerted; a
  negative sent to review is not a false positive.
- **with review**: a review counts as found. A positive sent to review is found
  (a person will see it), and a negative sent to review is a false positive (a
  person's time spent on it).

Ambiguous records are left out of both: they are reported on their own, by how
many went to review, were flagged, or were let go. A flagged positive naming the
wrong agency still counts as found, but is listed and counted apart.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from callwatch.classify_input import FLAT_KEYS, InputError, InputRecord, parse_line
from streams.agency_registry import AgencyRegistry
from streams.classify import OriginatorDecision, OriginatorSignals, classify_originator

Label = Literal["positive", "negative", "ambiguous"]
Outcome = Literal["positive", "review", "negative"]
LABELS: Final[tuple[Label, ...]] = ("positive", "negative", "ambiguous")
_LABEL_ALIASES: Final[dict[str, Label]] = {
    "positive": "positive",
    "negative": "negative",
    "ambiguous": "ambiguous",
    "review": "ambiguous",
}
# The blind corpus names an unnamed immigration agency IMMIGRATION; the classifier
# reports no agency name for it.
GENERIC_AGENCY: Final = "IMMIGRATION"
TARGET: Final = 0.98


@dataclass(frozen=True, slots=True)
class Miss:
    id: object
    label: Label
    got: Outcome
    agency_expected: str | None
    agency_got: str | None
    confidence: float
    text: str
    evidence: tuple[str, ...]


@dataclass(slots=True)
class Evaluation:
    name: str = ""
    counts: dict[Label, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    true_positive: int = 0  # positive, flagged
    false_positive: int = 0  # negative, flagged
    false_negative: int = 0  # positive, not flagged (review or negative)
    true_negative: int = 0  # negative, not flagged
    positives_to_review: int = 0
    negatives_to_review: int = 0
    ambiguous_outcomes: dict[Outcome, int] = field(
        default_factory=lambda: {"review": 0, "positive": 0, "negative": 0}
    )
    agency_wrong: int = 0
    errors: list[str] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)
    texts_per_second: float = 0.0

    # -------------------------------------------------------- strict
    @property
    def precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        positives = self.true_positive + self.false_negative
        return self.true_positive / positives if positives else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    # --------------------------------------------------- with review
    @property
    def precision_with_review(self) -> float:
        found = self.true_positive + self.positives_to_review
        wrong = self.false_positive + self.negatives_to_review
        return found / (found + wrong) if found + wrong else 1.0

    @property
    def recall_with_review(self) -> float:
        positives = self.true_positive + self.false_negative
        found = self.true_positive + self.positives_to_review
        return found / positives if positives else 1.0

    @property
    def review_queue(self) -> int:
        """Every record sent to review, whatever its label."""
        return (
            self.positives_to_review + self.negatives_to_review + self.ambiguous_outcomes["review"]
        )

    @property
    def review_recall(self) -> float:
        """Share of ambiguous records that went to review."""
        total = self.counts["ambiguous"]
        return self.ambiguous_outcomes["review"] / total if total else 1.0

    @property
    def meets_target(self) -> bool:
        return self.precision >= TARGET and self.recall >= TARGET


def outcome_of(decision: OriginatorDecision) -> Outcome:
    if decision.immigration_agency:
        return "positive"
    return "review" if decision.review else "negative"


def read_corpus(lines: Iterable[str]) -> tuple[list[tuple[InputRecord, Label]], list[str]]:
    """The labelled records of a corpus, and a message for each line that is not one."""
    records: list[tuple[InputRecord, Label]] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = parse_line(line, number)
            if not isinstance(parsed, InputRecord) or parsed.event_type is not None:
                raise InputError(f"line {number}: a labelled corpus holds flat records")
            raw_label = parsed.annotations.get("label")
            label = _LABEL_ALIASES.get(raw_label) if isinstance(raw_label, str) else None
            if label is None:
                raise InputError(
                    f"line {number}: label must be one of positive, negative, ambiguous "
                    f"(or review), got {raw_label!r}"
                )
        except InputError as exc:
            errors.append(str(exc))
            continue
        records.append((parsed, label))
    return records, errors


def evaluate_corpus(
    lines: Iterable[str], registry: AgencyRegistry, name: str = "", time_it: bool = False
) -> Evaluation:
    records, errors = read_corpus(lines)
    result = Evaluation(name=name, errors=errors)
    for record, label in records:
        _score(result, record, label, classify_originator(record.signals, registry))
    if time_it and records:
        result.texts_per_second = throughput([r.signals for r, _ in records], registry)
    return result


def throughput(
    inputs: Sequence[OriginatorSignals], registry: AgencyRegistry, seconds: float = 0.3
) -> float:
    """Records classified per second of this process's CPU time, over repeated passes
    lasting at least ``seconds``: CPU time, so other work on a shared machine does not
    count against the classifier."""
    done = 0
    started = time.process_time()
    elapsed = 0.0
    while elapsed < seconds:
        for s in inputs:
            classify_originator(s, registry)
        done += len(inputs)
        elapsed = time.process_time() - started
    return done / elapsed if elapsed else 0.0


def _score(result: Evaluation, record: InputRecord, label: Label, d: OriginatorDecision) -> None:
    got = outcome_of(d)
    result.counts[label] += 1
    expected = record.annotations.get("agency")
    expected_agency = expected if isinstance(expected, str) and expected else None
    missed = False
    if label == "positive":
        if got == "positive":
            result.true_positive += 1
            if expected_agency is not None and not _same_agency(expected_agency, d.agency):
                result.agency_wrong += 1
                missed = True
        else:
            result.false_negative += 1
            result.positives_to_review += got == "review"
            missed = True
    elif label == "negative":
        if got == "positive":
            result.false_positive += 1
            missed = True
        else:
            result.true_negative += 1
            if got == "review":
                result.negatives_to_review += 1
                missed = True
    else:
        result.ambiguous_outcomes[got] += 1
        missed = got != "review"
    if missed:
        result.misses.append(
            Miss(
                record.id,
                label,
                got,
                expected_agency,
                d.agency,
                d.confidence,
                _text(record),
                d.evidence_lines(),
            )
        )


def _same_agency(expected: str, got: str | None) -> bool:
    if expected.upper() == GENERIC_AGENCY:
        return got is None
    return expected.upper() == (got or "")


def _text(record: InputRecord) -> str:
    s = record.signals
    fields = {
        "caller_name": s.caller_name,
        "caller_agency": s.caller_agency,
        "agency_type": s.agency_type,
        "caller_phone": s.phone,
        "caller_email": s.email,
        "callback_number": s.callback_number,
        "call_type": s.call_type,
        "narrative": s.narrative,
    }
    return " | ".join(f"{k}={v}" for k, v in fields.items() if v and k in FLAT_KEYS)


def format_evaluation(result: Evaluation) -> str:
    c = result.counts
    a = result.ambiguous_outcomes
    total = sum(c.values())
    lines = [
        f"records: {total} (positive {c['positive']}, negative {c['negative']}, "
        f"ambiguous {c['ambiguous']})",
        f"strict (only a flag is a find):       precision {result.precision:.3f}  "
        f"recall {result.recall:.3f}  F1 {result.f1:.3f}  "
        f"(TP {result.true_positive}, FP {result.false_positive}, "
        f"FN {result.false_negative}, TN {result.true_negative})",
        f"with review (a review counts as found): precision {result.precision_with_review:.3f}"
        f"  recall {result.recall_with_review:.3f}",
        f"review queue: {result.review_queue} (positives {result.positives_to_review}, "
        f"negatives {result.negatives_to_review}, ambiguous {a['review']})",
        f"ambiguous: {a['review']}/{c['ambiguous']} to review, {a['positive']} flagged, "
        f"{a['negative']} let go",
        f"flagged with the wrong agency: {result.agency_wrong}",
    ]
    if result.texts_per_second:
        lines.append(
            f"throughput: {result.texts_per_second:,.0f} records/s (CPU time, one core; a "
            "corpus is dense with agency wording, the slow path)"
        )
    lines.append(
        f"target (strict precision and recall >= {TARGET}): "
        + ("met" if result.meets_target else "NOT MET")
    )
    if result.errors:
        lines.append(f"unreadable lines: {len(result.errors)}")
        lines.extend(f"  {e}" for e in result.errors)
    if result.misses:
        lines.append(f"misclassified ({len(result.misses)}):")
        for m in result.misses:
            agency = (
                f", agency {m.agency_got} (expected {m.agency_expected})"
                if m.label == "positive" and m.got == "positive"
                else ""
            )
            lines.append(f"  [{m.id}] {m.label} -> {m.got} ({m.confidence:.2f}){agency}: {m.text}")
            lines.extend(f"      {e}" for e in m.evidence)
    return "\n".join(lines)
