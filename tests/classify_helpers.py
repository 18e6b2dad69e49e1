"""What the classifier's tests share: one decision from a narrative and fields, and
its outcome as the evaluation corpora label it."""

from __future__ import annotations

from streams.agency_registry import default_registry
from streams.classify import OriginatorDecision, OriginatorSignals, classify_originator

REGISTRY = default_registry()


def decide(narrative: str | None = None, **fields: str) -> OriginatorDecision:
    return classify_originator(OriginatorSignals(narrative=narrative, **fields), REGISTRY)


def outcome(d: OriginatorDecision) -> str:
    return "positive" if d.immigration_agency else "review" if d.review else "negative"
