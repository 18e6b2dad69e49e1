"""Bind the originator classifier to the engine: event in, ``Originator`` out."""

from __future__ import annotations

from pathlib import Path

from schemas.events import CallReceived, CallUpdated
from streams.classify import (
    OriginatorSignals,
    classify_originator,
    load_registry,
)
from streams.engine.state import Classifier, Originator


def make_classifier(registry_file: Path | None = None) -> Classifier:
    registry = load_registry(registry_file)

    def classify(event: CallReceived | CallUpdated) -> Originator:
        if isinstance(event, CallReceived):
            caller = event.caller
            signals = OriginatorSignals(
                caller_name=caller.name,
                caller_agency=caller.agency,
                agency_type=caller.agency_type,
                phone=caller.phone,
                email=caller.email,
                callback_number=caller.callback_number,
                narrative=event.narrative,
            )
        else:
            signals = OriginatorSignals(narrative=event.narrative)
        decision = classify_originator(signals, registry)
        return Originator(
            immigration_agency=decision.immigration_agency,
            agency=decision.agency,
            confidence=round(decision.confidence, 3),
            review=decision.review,
            evidence=tuple(f"{e.signal}:{e.matched}" for e in decision.evidence),
        )

    return classify
