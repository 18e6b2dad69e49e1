"""``callwatch classify``: run the originator classifier over JSON lines.

Each input line is an object with any of ``id``, ``caller_agency``,
``caller_name``, ``caller_phone``, ``caller_email``, ``agency_type``,
``narrative`` (and, if present, ``callback_number`` and ``call_type``); other
keys are ignored, so a labelled corpus can be fed as is. Each line in gives one
line out: ``id``, ``immigration_agency``, ``agency``, ``component``,
``confidence``, ``review`` and ``evidence``, or ``id``/``line`` and ``error`` if
the line could not be read. Blank lines carry no record and are skipped.

``--evaluate CORPUS.jsonl`` scores a labelled corpus instead (``label`` is
positive, negative or review; ``agency`` optional) and prints precision, recall,
F1 and every misclassified example.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, TextIO

import orjson
import typer

from streams.agency_registry import AgencyRegistry, RegistryError, load_registry
from streams.classify import OriginatorDecision, OriginatorSignals, classify_originator

# input key -> OriginatorSignals field
_FIELDS: Final = {
    "caller_name": "caller_name",
    "caller_agency": "caller_agency",
    "agency_type": "agency_type",
    "caller_phone": "phone",
    "caller_email": "email",
    "callback_number": "callback_number",
    "narrative": "narrative",
    "call_type": "call_type",
}
_MAX_FIELD: Final = 8192  # the event schema's longest text field
LABELS: Final = ("positive", "negative", "review")


class InputError(ValueError):
    pass


def signals_from_record(record: object) -> OriginatorSignals:
    """The classifier's input from one JSON object; InputError says what is wrong."""
    if not isinstance(record, dict):
        raise InputError(f"expected a JSON object, got {type(record).__name__}")
    values: dict[str, str] = {}
    for key, name in _FIELDS.items():
        value = record.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InputError(f"{key} must be a string or null, got {type(value).__name__}")
        if len(value) > _MAX_FIELD:
            raise InputError(f"{key} is longer than {_MAX_FIELD} characters")
        values[name] = value
    return OriginatorSignals(**values)


def decision_record(record_id: object, decision: OriginatorDecision) -> dict[str, Any]:
    return {
        "id": record_id,
        "immigration_agency": decision.immigration_agency,
        "agency": decision.agency,
        "component": decision.component,
        "confidence": decision.confidence,
        "review": decision.review,
        "evidence": [
            {"signal": e.signal, "matched": e.matched, "detail": e.detail}
            for e in decision.evidence
        ],
    }


def _records(inp: TextIO) -> Iterator[tuple[int, object | InputError]]:
    """(line number, parsed JSON or the reason it could not be parsed), blank lines skipped."""
    for number, line in enumerate(inp, start=1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, InputError(f"invalid JSON: {exc}")


def _id_of(record: object) -> object:
    if isinstance(record, dict):
        value = record.get("id")
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return str(value)[:128]
    return None


def classify_lines(inp: TextIO, out: TextIO, registry: AgencyRegistry | None = None) -> int:
    """Classify every JSON line of ``inp`` onto ``out``; 0 if all were read, 1 if any was not.

    Never raises on bad input and never drops a line: a line that cannot be read
    gives an output line with ``error``.
    """
    registry = registry if registry is not None else load_registry()
    status = 0
    for number, record in _records(inp):
        try:
            if isinstance(record, InputError):
                raise record
            result = decision_record(
                _id_of(record), classify_originator(signals_from_record(record), registry)
            )
        except InputError as exc:
            status = 1
            result = {"id": _id_of(record), "line": number, "error": str(exc)}
        except Exception as exc:  # a classifier bug must not take the whole stream down
            status = 1
            result = {"id": _id_of(record), "line": number, "error": f"internal error: {exc!r}"}
        out.write(orjson.dumps(result).decode())
        out.write("\n")
    return status


# ----------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Miss:
    id: object
    label: str
    got: str  # positive / review / negative
    agency_expected: str | None
    agency_got: str | None
    confidence: float
    text: str


@dataclass(slots=True)
class Evaluation:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0
    positives_to_review: int = 0  # positive labels sent to review: caught, but not flagged
    negatives_to_review: int = 0  # review load from true negatives
    review_caught: int = 0  # review labels that got review (or a flag)
    agency_wrong: int = 0
    errors: list[str] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)

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

    @property
    def review_recall(self) -> float:
        total = self.counts["review"]
        return self.review_caught / total if total else 1.0


def _outcome(decision: OriginatorDecision) -> str:
    if decision.immigration_agency:
        return "positive"
    return "review" if decision.review else "negative"


def evaluate_corpus(lines: Iterable[str], registry: AgencyRegistry) -> Evaluation:
    """Score a labelled corpus. Precision and recall count only positive and negative
    labels; a positive sent to review counts as missed (it was not flagged)."""
    result = Evaluation()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
            signals = signals_from_record(record)
            label = record.get("label")
            if label not in LABELS:
                raise InputError(f"label must be one of {', '.join(LABELS)}, got {label!r}")
        except (orjson.JSONDecodeError, InputError) as exc:
            result.errors.append(f"line {number}: {exc}")
            continue
        decision = classify_originator(signals, registry)
        got = _outcome(decision)
        expected_agency = record.get("agency")
        result.counts[label] += 1
        missed = False
        if label == "positive":
            if got == "positive":
                result.true_positive += 1
                if expected_agency and decision.agency != expected_agency:
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
        elif decision.review or decision.immigration_agency:
            result.review_caught += 1
            missed = got != "review"
        else:
            missed = True
        if missed:
            text = " | ".join(
                f"{key}={record[key]}" for key in _FIELDS if isinstance(record.get(key), str)
            )
            result.misses.append(
                Miss(
                    record.get("id"),
                    label,
                    got,
                    expected_agency,
                    decision.agency,
                    decision.confidence,
                    text,
                )
            )
    return result


def format_evaluation(result: Evaluation) -> str:
    c = result.counts
    lines = [
        f"examples: {sum(c.values())} (positive {c['positive']}, negative {c['negative']}, "
        f"review {c['review']})",
        f"precision: {result.precision:.3f}  recall: {result.recall:.3f}  F1: {result.f1:.3f}"
        "  (positive and negative labels; a positive sent to review counts as missed)",
        f"true positives: {result.true_positive}  false positives: {result.false_positive}  "
        f"false negatives: {result.false_negative} (of which sent to review: "
        f"{result.positives_to_review})  true negatives: {result.true_negative}",
        f"review labels given review: {result.review_caught}/{c['review']} "
        f"({result.review_recall:.3f})",
        f"negatives sent to review: {result.negatives_to_review}",
        f"flagged with the wrong agency: {result.agency_wrong}",
    ]
    if result.errors:
        lines.append(f"unreadable lines: {len(result.errors)}")
        lines.extend(f"  {e}" for e in result.errors)
    if result.misses:
        lines.append("misclassified:")
        for m in result.misses:
            agency = (
                f" agency {m.agency_got} (expected {m.agency_expected})"
                if m.agency_expected and m.agency_got != m.agency_expected
                else ""
            )
            lines.append(
                f"  [{m.id}] label {m.label}, got {m.got} ({m.confidence:.2f}){agency}: {m.text}"
            )
    return "\n".join(lines)


# -------------------------------------------------------------------- command


def classify_command(
    registry: Annotated[
        Path | None,
        typer.Option("--registry", help="A registry file extending or replacing the shipped one."),
    ] = None,
    evaluate: Annotated[
        Path | None,
        typer.Option(
            "--evaluate",
            help="Score a labelled corpus (JSON lines with label) instead of reading stdin.",
        ),
    ] = None,
) -> None:
    """Classify call originators read as JSON lines on stdin; one JSON line out per line in."""
    try:
        loaded = load_registry(registry)
    except RegistryError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if evaluate is None:
        raise typer.Exit(classify_lines(sys.stdin, sys.stdout, loaded))
    try:
        with evaluate.open(encoding="utf-8") as f:
            result = evaluate_corpus(f, loaded)
    except OSError as exc:
        typer.secho(f"error: {evaluate}: {exc.strerror or exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(format_evaluation(result))
    raise typer.Exit(1 if result.errors else 0)
