"""Which kinds of fact a call's source can report, and which a rule is missing.

A rule can only be broken on evidence. When the source says it cannot report a
kind of fact (a CAD export with no camera columns), or simply reports nothing of
that kind, the honest outcome is "not assessable", never "broken". Sources
declare their kinds on ``call.received`` (``provides``); a source that declares
nothing is judged on what arrives, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from schemas.events import FactKind
from streams.engine.facts import Fact

# The event types that show a source does report a kind of fact, whatever it declared.
KIND_OF_EVENT: Final[dict[str, FactKind]] = {
    "unit.dispatched": "units",
    "unit.en_route": "units",
    "unit.on_scene": "units",
    "unit.cleared": "units",
    "commander.notified": "commander",
    "commander.assigned": "commander",
    "commander.declined": "commander",
    "bodycam.activated": "camera",
    "bodycam.deactivated": "camera",
    "recording.started": "recording",
    "recording.stopped": "recording",
    "recording.failed": "recording",
    "basis.recorded": "basis",
    "report.filed": "report",
}


def declared(facts: Sequence[Fact]) -> tuple[str, ...] | None:
    """The kinds the call's source declared on ``call.received``; None: not declared."""
    for fact in facts:
        if fact.type == "call.received":
            return fact.provides
    return None


def unprovided(facts: Sequence[Fact], kinds: Iterable[FactKind]) -> FactKind | None:
    """The first of ``kinds`` the source declared it cannot report and no fact shows."""
    provides = declared(facts)
    if provides is None:
        return None
    for kind in kinds:
        if kind not in provides and not any(KIND_OF_EVENT.get(f.type) == kind for f in facts):
            return kind
    return None
