"""Building one call's events: typed helpers that stamp the envelope for us.

Calls are planned as "this happens at that time"; the builder puts the events in
time order (insertion order breaks ties, so a cause planned before its effect at
the same second stays first), numbers them and fills in the envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import TypedDict

from schemas.events import (
    FACT_KINDS,
    BasisRecorded,
    BodycamActivated,
    BodycamDeactivated,
    CallbackRequested,
    CallClosed,
    Caller,
    CallReceived,
    CallUpdated,
    CommanderAction,
    CommanderAssigned,
    CommanderDeclined,
    CommanderNotified,
    DispatchEvent,
    FactKind,
    LegalBasis,
    Line,
    LineKind,
    Location,
    Officer,
    Rank,
    RecordingFailed,
    RecordingStarted,
    RecordingStopped,
    ReportFiled,
    UnitCleared,
    UnitDispatched,
    UnitEnRoute,
    UnitOnScene,
    UnitRole,
)


def seconds(rng: Random, low: float, high: float) -> timedelta:
    """A whole number of seconds in [low, high]: CAD systems stamp to the second."""
    return timedelta(seconds=rng.randint(round(low), round(high)))


def minutes(rng: Random, low: float, high: float) -> timedelta:
    return seconds(rng, low * 60, high * 60)


def between(rng: Random, earliest: datetime, latest: datetime) -> datetime:
    """A whole-second instant in [earliest, latest]."""
    span = int((latest - earliest).total_seconds())
    if span < 0:
        raise ValueError(f"empty interval: {earliest.isoformat()} > {latest.isoformat()}")
    return earliest + timedelta(seconds=rng.randint(0, span))


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    officer: Officer
    role: UnitRole = "patrol"


class _Envelope(TypedDict):
    event_id: str
    call_id: str
    occurred_at: datetime
    received_at: datetime
    source: str


# Builds the event once its envelope (id, exporter receive time) is known.
_Factory = Callable[[_Envelope], DispatchEvent]


@dataclass(frozen=True, slots=True)
class _Planned:
    at: datetime
    factory: _Factory


_COMMANDER_EVENTS: dict[
    CommanderAction, type[CommanderNotified] | type[CommanderAssigned] | type[CommanderDeclined]
] = {
    "notified": CommanderNotified,
    "assigned": CommanderAssigned,
    "declined": CommanderDeclined,
}


class CallBuilder:
    """Collects one call's events; ``events()`` returns them ordered and numbered."""

    def __init__(self, call_id: str, source: str, rng: Random) -> None:
        self.call_id = call_id
        self._source = source
        self._rng = rng
        self._planned: list[_Planned] = []

    @property
    def last_at(self) -> datetime:
        return max(p.at for p in self._planned)

    def events(self) -> list[DispatchEvent]:
        ordered = sorted(enumerate(self._planned), key=lambda item: (item[1].at, item[0]))
        built: list[DispatchEvent] = []
        for number, (_, planned) in enumerate(ordered, start=1):
            # The exporter sees each event a moment after it happens.
            lag = timedelta(milliseconds=self._rng.randint(150, 2500))
            envelope: _Envelope = {
                "event_id": f"{self.call_id}.{number:03d}",
                "call_id": self.call_id,
                "occurred_at": planned.at,
                "received_at": planned.at + lag,
                "source": self._source,
            }
            built.append(planned.factory(envelope))
        return built

    def _plan(self, at: datetime, factory: _Factory) -> None:
        self._planned.append(_Planned(at, factory))

    # --- the call itself

    def received(
        self,
        at: datetime,
        *,
        caller: Caller,
        line: Line,
        call_type: str,
        priority: str,
        location: Location,
        narrative: str,
        provides: tuple[FactKind, ...] | None = FACT_KINDS,
    ) -> None:
        self._plan(
            at,
            lambda env: CallReceived(
                **env,
                caller=caller,
                line=line,
                call_type=call_type,
                priority=priority,
                location=location,
                narrative=narrative,
                provides=provides,
            ),
        )

    def updated(
        self,
        at: datetime,
        *,
        narrative: str | None = None,
        call_type: str | None = None,
        priority: str | None = None,
    ) -> None:
        self._plan(
            at,
            lambda env: CallUpdated(
                **env, narrative=narrative, call_type=call_type, priority=priority
            ),
        )

    def closed(self, at: datetime, disposition: str) -> None:
        self._plan(at, lambda env: CallClosed(**env, disposition=disposition))

    def report(self, at: datetime, report_number: str) -> None:
        self._plan(at, lambda env: ReportFiled(**env, report_number=report_number))

    # --- phone lines and recording

    def callback(
        self,
        at: datetime,
        *,
        number: str,
        line_kind: LineKind,
        recorded: bool | None,
        requested_rank: Rank,
        narrative: str,
    ) -> None:
        self._plan(
            at,
            lambda env: CallbackRequested(
                **env,
                number=number,
                line_kind=line_kind,
                recorded=recorded,
                requested_rank=requested_rank,
                narrative=narrative,
            ),
        )

    def recording_started(self, at: datetime, line: Line) -> None:
        self._plan(at, lambda env: RecordingStarted(**env, line=line))

    def recording_stopped(self, at: datetime, line: Line, reason: str) -> None:
        self._plan(at, lambda env: RecordingStopped(**env, line=line, reason=reason))

    def recording_failed(self, at: datetime, line: Line, reason: str) -> None:
        self._plan(at, lambda env: RecordingFailed(**env, line=line, reason=reason))

    # --- commanders and the legal basis

    def commander(self, at: datetime, action: CommanderAction, officer: Officer, note: str) -> None:
        kind = _COMMANDER_EVENTS[action]
        self._plan(at, lambda env: kind(**env, officer=officer, note=note))

    def basis(
        self, at: datetime, basis: LegalBasis, note: str, reference: str | None = None
    ) -> None:
        self._plan(
            at, lambda env: BasisRecorded(**env, basis=basis, reference=reference, note=note)
        )

    # --- units and their cameras

    def dispatched(self, at: datetime, unit: Unit) -> None:
        self._plan(
            at,
            lambda env: UnitDispatched(**env, unit=unit.id, officer=unit.officer, role=unit.role),
        )

    def en_route(self, at: datetime, unit: Unit) -> None:
        self._plan(
            at, lambda env: UnitEnRoute(**env, unit=unit.id, officer=unit.officer, role=unit.role)
        )

    def on_scene(self, at: datetime, unit: Unit) -> None:
        self._plan(
            at, lambda env: UnitOnScene(**env, unit=unit.id, officer=unit.officer, role=unit.role)
        )

    def cleared(self, at: datetime, unit: Unit) -> None:
        self._plan(
            at, lambda env: UnitCleared(**env, unit=unit.id, officer=unit.officer, role=unit.role)
        )

    def camera_on(self, at: datetime, unit: Unit) -> None:
        self._plan(at, lambda env: BodycamActivated(**env, unit=unit.id, officer=unit.officer))

    def camera_off(self, at: datetime, unit: Unit) -> None:
        self._plan(at, lambda env: BodycamDeactivated(**env, unit=unit.id, officer=unit.officer))
