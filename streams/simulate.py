"""A dispatch floor in a box: canonical events for a day of calls, plus ground truth.

Calls arrive as a Poisson process (55 an hour by default, San Diego's rate).
A configured number of them come from federal immigration agencies; each of those
is handled either compliantly or with one planted violation pattern (or a combo
re-enacting a 2017 call from the KyCIR investigation), and the ground truth lists
the exact findings the policy engine must end with. The rest are ordinary calls,
some carrying "false friend" text (black ice, the VICE unit, Officer Rice, FBI...)
that must not be taken for an immigration agency.

Pure: no I/O, no wall clock (the start is a parameter), seeded randomness. The
same config gives byte-identical events and truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from random import Random
from typing import Final

from schemas.events import DispatchEvent
from streams.codec import encode
from streams.simulation.agency import BuiltCall, build_agency_call
from streams.simulation.handling import (
    COMBO_PATTERNS,
    COMPLIANT,
    PATTERNS,
    RULE_IDS,
    VIOLATION_PATTERNS,
    ExpectedFinding,
    Handling,
    expected_findings,
)
from streams.simulation.ordinary import build_ordinary_call
from streams.simulation.ordinary_text import FALSE_FRIENDS, ORDINARY, CallKind
from streams.simulation.truth import (
    CallTruth,
    TruthSummary,
    read_truth_line,
    render_summary,
    truth_lines,
    truth_summary,
)

__all__ = [
    "COMBO_PATTERNS",
    "COMPLIANT",
    "DEFAULT_TAIL_HOURS",
    "PATTERNS",
    "RULE_IDS",
    "VIOLATION_PATTERNS",
    "CallTruth",
    "ExpectedFinding",
    "Handling",
    "Simulation",
    "SimulationConfig",
    "TruthSummary",
    "event_lines",
    "expected_findings",
    "read_truth_line",
    "render_summary",
    "simulate",
    "truth_lines",
    "truth_summary",
]

SAN_DIEGO_CALLS_PER_HOUR: Final = 55.0
DEFAULT_HOURS: Final = 24.0
# The longest deadline in louisville.v1.yaml is report-filed's 8 hours; a stream that
# runs an hour past it lets an event-time engine see every deadline fall due.
REPORT_DEADLINE_HOURS: Final = 8.0
DEFAULT_TAIL_HOURS: Final = REPORT_DEADLINE_HOURS + 1.0


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """What to simulate. Give ``hours`` or ``n_calls`` (default: 24 hours).

    ``n_calls`` counts the calls of the main window; the tail that follows the last
    agency call (``tail_hours``, ordinary traffic only) adds more.
    ``agency_calls`` wins over ``agency_share`` (a share of the main window's calls).
    """

    start: datetime
    seed: int = 0
    hours: float | None = None
    n_calls: int | None = None
    calls_per_hour: float = SAN_DIEGO_CALLS_PER_HOUR
    agency_calls: int | None = None
    agency_share: float = 0.02
    compliant_share: float = 0.3
    patterns: tuple[str, ...] = VIOLATION_PATTERNS
    false_friends: bool = True
    false_friend_share: float = 0.04
    tail_hours: float = DEFAULT_TAIL_HOURS
    source: str = "simulator"

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must carry a time zone, e.g. 2017-04-13T08:00:00-04:00")
        if self.hours is not None and self.n_calls is not None:
            raise ValueError("give hours or n_calls, not both")
        if self.hours is not None and self.hours <= 0:
            raise ValueError("hours must be positive")
        if self.n_calls is not None and self.n_calls < 0:
            raise ValueError("n_calls must not be negative")
        if self.calls_per_hour <= 0:
            raise ValueError("calls_per_hour must be positive")
        if self.agency_calls is not None and self.agency_calls < 0:
            raise ValueError("agency_calls must not be negative")
        for name in ("agency_share", "compliant_share", "false_friend_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.tail_hours < 0:
            raise ValueError("tail_hours must not be negative")
        unknown = [p for p in self.patterns if p not in VIOLATION_PATTERNS]
        if unknown:
            raise ValueError(
                f"unknown pattern(s) {', '.join(unknown)}; known: {', '.join(VIOLATION_PATTERNS)}"
            )
        if not self.patterns and self.compliant_share < 1.0 and self.agency_calls != 0:
            raise ValueError("no violation patterns chosen: set compliant_share to 1")


@dataclass(frozen=True, slots=True)
class Simulation:
    config: SimulationConfig
    events: list[DispatchEvent]  # sorted by occurred_at, then call_id, then event_id
    truth: list[CallTruth]  # one per call, by call_id
    window_end: datetime  # end of the main window; the tail runs past it


def simulate(config: SimulationConfig) -> Simulation:
    start = _stable_zone(config.start)
    arrivals = _Arrivals(Random(f"{config.seed}:arrivals"), start, config.calls_per_hour)
    if config.n_calls is not None:
        main = [arrivals.next() for _ in range(config.n_calls)]
        window_end = main[-1] if main else start
    else:
        window_end = start + timedelta(hours=config.hours or DEFAULT_HOURS)
        main = arrivals.until(window_end)

    plan = Random(f"{config.seed}:plan")
    agency_count = (
        config.agency_calls
        if config.agency_calls is not None
        else round(config.agency_share * len(main))
    )
    if agency_count > len(main):
        raise ValueError(
            f"{agency_count} agency calls do not fit in a window of {len(main)} calls;"
            " simulate more hours or calls"
        )
    agency_slots = sorted(plan.sample(range(len(main)), agency_count))
    built: dict[int, BuiltCall] = {}
    for slot, pattern in zip(agency_slots, _pattern_mix(plan, agency_count, config), strict=True):
        built[slot] = build_agency_call(
            _call_id(config, start, slot),
            main[slot],
            pattern,
            _call_rng(config, slot),
            config.source,
        )

    # Ordinary traffic keeps flowing until every deadline of the last agency call is due.
    received = list(main)
    if built and config.tail_hours > 0:
        last_close = max(call.closed_at for call in built.values())
        tail_end = last_close + timedelta(hours=config.tail_hours)
        while not received or received[-1] < tail_end:
            received.append(arrivals.next())

    ordinary_slots = [i for i in range(len(received)) if i not in built]
    kinds = _ordinary_kinds(plan, ordinary_slots, config)
    for slot in ordinary_slots:
        built[slot] = build_ordinary_call(
            _call_id(config, start, slot),
            received[slot],
            kinds[slot],
            _call_rng(config, slot),
            config.source,
        )

    calls = [built[slot] for slot in sorted(built)]
    events = sorted(
        (event for call in calls for event in call.events),
        key=lambda e: (e.occurred_at, e.call_id, e.event_id),
    )
    return Simulation(config, events, [call.truth for call in calls], window_end)


def event_lines(events: Iterable[DispatchEvent]) -> Iterator[bytes]:
    """Canonical JSON lines, as the ingest agent reads them."""
    for event in events:
        yield encode(event) + b"\n"


# ------------------------------------------------------------------ helpers


class _Arrivals:
    """Call receive times of a Poisson process, whole seconds, one after another."""

    def __init__(self, rng: Random, start: datetime, per_hour: float) -> None:
        self._rng = rng
        self._start = start
        self._per_second = per_hour / 3600.0
        self._elapsed = 0.0
        self._pending: datetime | None = None

    def next(self) -> datetime:
        if self._pending is not None:
            arrival, self._pending = self._pending, None
            return arrival
        self._elapsed += self._rng.expovariate(self._per_second)
        return self._start + timedelta(seconds=round(self._elapsed))

    def until(self, end: datetime) -> list[datetime]:
        """Arrivals before ``end``; the first one at or after it waits for ``next``."""
        out: list[datetime] = []
        while (arrival := self.next()) < end:
            out.append(arrival)
        self._pending = arrival
        return out


def _stable_zone(start: datetime) -> datetime:
    # Aware arithmetic is wall-clock arithmetic; across a DST change a named zone
    # would bend durations, so anything but a fixed offset runs in UTC.
    return start if isinstance(start.tzinfo, timezone) else start.astimezone(UTC)


def _call_id(config: SimulationConfig, start: datetime, slot: int) -> str:
    return f"SIM-{config.seed}-{start:%Y%m%dT%H%M}-{slot + 1:06d}"


def _call_rng(config: SimulationConfig, slot: int) -> Random:
    # One generator per call: a call's details do not shift when others change.
    return Random(f"{config.seed}:call:{slot}")


def _pattern_mix(plan: Random, count: int, config: SimulationConfig) -> list[str]:
    """Compliant calls by share; violations cycle through the chosen patterns so that,
    given enough calls, every pattern appears."""
    compliant = count if not config.patterns else round(config.compliant_share * count)
    order = list(config.patterns)
    plan.shuffle(order)
    mix = [COMPLIANT] * compliant + [order[i % len(order)] for i in range(count - compliant)]
    plan.shuffle(mix)
    return mix


def _ordinary_kinds(
    plan: Random, slots: list[int], config: SimulationConfig
) -> dict[int, CallKind]:
    weights = [kind.weight for kind in ORDINARY]
    kinds = {slot: plan.choices(ORDINARY, weights)[0] for slot in slots}
    if config.false_friends and slots:
        count = round(config.false_friend_share * len(slots))
        friends = list(FALSE_FRIENDS)
        plan.shuffle(friends)
        for i, slot in enumerate(sorted(plan.sample(slots, count))):
            kinds[slot] = friends[i % len(friends)]
    return kinds
