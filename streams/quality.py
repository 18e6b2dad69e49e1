"""The data-quality report: doubtful times and values, counted, with where to look.

Two kinds of anomaly end up here. Adapters report what only they can see while
converting a record (``Anomaly`` on ``Converted``: a 12-hour clock with no AM/PM,
a time-only column rolled over midnight, an unknown enum value mapped to a
default, a value that matched no format). ``CallChecks`` finds what only shows
across a call's events, over the time-ordered stream of an audit:

- ``unit_before_receipt``: a unit event earlier than the call's receipt;
- ``closed_before_dispatched``: the call closed before a unit was dispatched;
- ``events_far_apart``: two events of one call more than N hours apart;
- ``time_in_future``: an event later than when the run received the data;
- ``call_without_receipt``: events of a call that has no ``call.received``.

Each kind (and input column, when there is one) is counted, with its share of the
records read and the first few places (source, line) in input order of place, so a
user never has to find a time problem with a script of their own.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

# (source index, line), 1-based lines; the lowest few are kept per kind.
Place = tuple[int, int]
PLACES_KEPT: Final = 5
HOUR_MS: Final = 3_600_000
DEFAULT_MAX_GAP_HOURS: Final = 24.0
# Same as the live clock's allowance for a source clock a little ahead of ours.
FUTURE_TOLERANCE_MS: Final = 5 * 60_000
# A call idle this long is forgotten by the checks. The engine has forgotten it too
# by then (evicted a day after closing, its tombstone kept seven days more): a later
# event starts a new call for both.
FORGET_AFTER_MS: Final = 9 * 24 * HOUR_MS
_SWEEP_MIN: Final = 20_000  # calls remembered before the first sweep

UNIT_EVENTS: Final = frozenset(
    {"unit.dispatched", "unit.en_route", "unit.on_scene", "unit.cleared"}
)


@dataclass(slots=True)
class Tally:
    """One kind of anomaly (in one column): how often, and the first places."""

    count: int = 0
    places: list[Place] = field(default_factory=list)
    detail: str = ""  # the first detail seen, as an example

    def add(self, place: Place | None, detail: str, times: int = 1) -> None:
        self.count += times
        if not self.detail and detail:
            self.detail = detail
        if place is None:
            return
        places = self.places
        if len(places) < PLACES_KEPT:
            bisect.insort(places, place)
        elif place < places[-1]:
            bisect.insort(places, place)
            places.pop()


class QualityReport:
    """Anomalies by (kind, column)."""

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, str | None], Tally] = {}

    def add(
        self,
        kind: str,
        column: str | None = None,
        place: Place | None = None,
        detail: str = "",
        times: int = 1,
    ) -> None:
        tally = self.tallies.get((kind, column))
        if tally is None:
            tally = self.tallies[(kind, column)] = Tally()
        tally.add(place, detail, times)

    def merge(self, other: QualityReport) -> None:
        for (kind, column), theirs in other.tallies.items():
            mine = self.tallies.get((kind, column))
            if mine is None:
                mine = self.tallies[(kind, column)] = Tally()
            mine.count += theirs.count
            mine.detail = mine.detail or theirs.detail
            mine.places = sorted({*mine.places, *theirs.places})[:PLACES_KEPT]

    @property
    def total(self) -> int:
        return sum(t.count for t in self.tallies.values())

    def entries(self) -> list[tuple[str, str | None, Tally]]:
        """Most frequent first; ties by kind and column, so the order is stable."""
        return sorted(
            ((kind, column, t) for (kind, column), t in self.tallies.items()),
            key=lambda e: (-e[2].count, e[0], e[1] or ""),
        )


class _Call:
    __slots__ = ("closed", "dispatched_late", "early_units", "first", "last", "received")

    def __init__(self, first: Place) -> None:
        self.first = first
        self.received: int | None = None
        self.closed: tuple[int, Place] | None = None
        self.dispatched_late = False  # closed_before_dispatched reported already
        self.early_units: list[tuple[int, Place]] = []  # unit events before any receipt
        self.last = 0


class CallChecks:
    """The anomalies that need a call's events together, over a stream in time order.

    Memory is bounded: a call is forgotten once idle ``FORGET_AFTER_MS`` of event
    time (or the gap threshold, if longer); its next event starts a new call.
    ``flagged`` collects the place of every anomalous record when asked (``--strict``
    rejects them).
    """

    def __init__(
        self,
        report: QualityReport,
        *,
        received_at_ms: int | None,
        max_gap_ms: int = int(DEFAULT_MAX_GAP_HOURS * HOUR_MS),
        collect: bool = False,
    ) -> None:
        self.report = report
        self.future_after = None if received_at_ms is None else received_at_ms + FUTURE_TOLERANCE_MS
        self.max_gap_ms = max_gap_ms
        self.forget_after = max(FORGET_AFTER_MS, max_gap_ms)
        self.flagged: dict[Place, str] | None = {} if collect else None
        self._calls: dict[str, _Call] = {}
        self._sweep_at = _SWEEP_MIN

    def observe(self, t: int, call_id: str, kind: str, place: Place) -> None:
        if self.future_after is not None and t > self.future_after:
            self._found("time_in_future", place, f"{kind} at {t} ms")
        calls = self._calls
        call = calls.get(call_id)
        if call is not None and t - call.last > self.forget_after:
            # forgotten by now, whether or not a sweep has removed it yet: a new call
            del calls[call_id]
            self._close(call)
            call = None
        if call is None:
            call = calls[call_id] = _Call(place)
            if len(calls) > self._sweep_at:
                self._sweep(t)
        elif t - call.last > self.max_gap_ms:
            hours = (t - call.last) / HOUR_MS
            self._found("events_far_apart", place, f"{kind} {hours:.1f} h after the one before")
        call.last = t
        if kind == "call.received":
            if call.received is None:
                call.received = t
                for at, early in call.early_units:
                    if at < t:
                        self._found("unit_before_receipt", early, "")
                call.early_units = []
        elif kind in UNIT_EVENTS:
            if call.received is None:
                call.early_units.append((t, place))
            if (
                kind == "unit.dispatched"
                and call.closed is not None
                and call.closed[0] < t
                and not call.dispatched_late
            ):
                call.dispatched_late = True
                self._found("closed_before_dispatched", call.closed[1], "")
        elif kind == "call.closed" and call.closed is None:
            call.closed = (t, place)

    def finish(self) -> None:
        """The stream has ended: report what the calls still remembered lack."""
        for call in self._calls.values():
            self._close(call)
        self._calls.clear()

    def _sweep(self, now: int) -> None:
        """Drop the calls idle past the horizon. Runs when the table has doubled since
        the last sweep, so it costs O(1) per event; what is reported does not depend on
        when it runs (``observe`` treats an idle call as forgotten either way)."""
        horizon = now - self.forget_after
        calls = self._calls
        for call_id in [c for c, call in calls.items() if call.last < horizon]:
            self._close(calls.pop(call_id))
        self._sweep_at = max(_SWEEP_MIN, 2 * len(calls))

    def _close(self, call: _Call) -> None:
        if call.received is None:
            self._found("call_without_receipt", call.first, "")

    def _found(self, kind: str, place: Place, detail: str) -> None:
        self.report.add(kind, None, place, detail)
        if self.flagged is not None:
            self.flagged.setdefault(place, kind)


def places_of(places: Iterable[Place], names: list[str]) -> list[str]:
    """``file:line`` for each place, for people."""
    return [f"{names[source]}:{line}" for source, line in places]


def check_record(
    report: QualityReport,
    place: Place,
    events: Iterable[tuple[int, str, str]],
    *,
    received_at_ms: int,
    whole_call: bool,
    max_gap_ms: int = int(DEFAULT_MAX_GAP_HOURS * HOUR_MS),
) -> str | None:
    """``CallChecks`` over one record's (time, call id, type) events, for ``callwatch
    convert``, which streams records and does not sort: exact when the record holds its
    whole call (a CSV row or call, an EIDO document); otherwise (a JSON line) only the
    future is checked. The first anomaly's kind, if any."""
    if not whole_call:
        limit = received_at_ms + FUTURE_TOLERANCE_MS
        first: str | None = None
        for t, _call_id, kind in events:
            if t > limit:
                report.add("time_in_future", None, place, f"{kind} at {t} ms")
                first = first or "time_in_future"
        return first
    checks = CallChecks(report, received_at_ms=received_at_ms, max_gap_ms=max_gap_ms, collect=True)
    for t, call_id, kind in sorted(events):
        checks.observe(t, call_id, kind, place)
    checks.finish()
    return next(iter(checks.flagged.values()), None) if checks.flagged else None
