"""Bind the originator classifier to the engine: event in, ``Originator`` out."""

from __future__ import annotations

from pathlib import Path

from schemas.events import CallReceived, CallUpdated
from streams.agency_registry import load_registry
from streams.classify import classify_event
from streams.engine.state import Classifier, Originator


def make_classifier(registry_file: Path | None = None) -> Classifier:
    """Load (and validate) the agency registry once; classify with it per event."""
    registry = load_registry(registry_file)

    def classify(event: CallReceived | CallUpdated) -> Originator:
        decision = classify_event(event, registry)
        return Originator(
            immigration_agency=decision.immigration_agency,
            agency=decision.agency,
            confidence=round(decision.confidence, 3),
            review=decision.review,
            evidence=decision.cues(),
        )

    return classify
