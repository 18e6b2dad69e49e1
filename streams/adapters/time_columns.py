"""One event time of a mapping, read from a row: the shapes real exports write.

A time may be one column in the mapping's formats, an epoch in seconds or
milliseconds, a date column plus a time-of-day column, or a time of day alone
(placed on the call's receipt date). Two things make a written time doubtful,
and both are reported as anomalies rather than guessed silently:

- a 12-hour clock written without AM/PM (`` 6:31:45``) has two readings; the one
  nearest the row's ``clock_from`` column wins, else (after the receipt) the first
  one not before the receipt; with neither, the time is read as written and
  reported as ``ambiguous_clock``;
- a time of day that is earlier than the receipt belongs to the next day
  (``midnight_rollover``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final
from zoneinfo import ZoneInfo

from streams.adapters.mapping import CsvMapping, PackedUnits, TimeSpec
from streams.adapters.timestamps import TimestampError

Row = dict[str, str | None]
# (kind, column, detail): an anomaly about the row, turned into result.Anomaly by the caller.
Report = Callable[[str, str, str], None]

# A unit event a little before the receipt is a clock skew, not the next day: only a time
# more than this before the receipt is rolled over midnight.
ROLLOVER_GRACE: Final = timedelta(hours=1)
# Epochs are seconds up to here, milliseconds beyond (1e11 s is the year 5138).
_EPOCH_MS_ABOVE: Final = 100_000_000_000


@dataclass(frozen=True, slots=True)
class _Clock:
    formats: tuple[str, ...]
    time_formats: tuple[str, ...]
    zone: tzinfo
    sentinels: frozenset[date]


class EventTime:
    """Compiled once per event of a mapping; ``read`` per row."""

    def __init__(
        self,
        at: str | TimeSpec,
        mapping: CsvMapping,
        *,
        is_received: bool,
        receipt_date_column: str | None,
    ) -> None:
        spec = TimeSpec(column=at) if isinstance(at, str) else at
        self._spec = spec
        self._is_received = is_received
        zone = ZoneInfo(spec.timezone or mapping.timezone)
        formats = tuple(spec.formats) if spec.formats else tuple(mapping.datetime_formats)
        time_formats = tuple(mapping.time_formats)
        if spec.formats and spec.date is None and spec.column is None:
            time_formats = tuple(spec.formats)  # a time-only column's own formats
        self._clock = _Clock(formats, time_formats, zone, frozenset(mapping.sentinel_dates))
        self._reference = _Clock(
            tuple(mapping.datetime_formats), time_formats, zone, self._clock.sentinels
        )
        # A time of day without its own date is placed by the receipt, and so is one whose
        # date column is the receipt's own date (the date a call was received, not the unit's).
        self._placed_by_receipt = spec.time is not None and (
            spec.date is None or (spec.date == receipt_date_column and not is_received)
        )
        self.label = describe(at)
        self.column = spec.column or spec.time or spec.date or ""

    def read(self, values: Row, receipt: datetime | None, report: Report) -> datetime | None:
        """Aware UTC time, None when absent or a sentinel; TimestampError when unreadable."""
        spec, clock = self._spec, self._clock
        if spec.epoch is not None:
            return _epoch(values.get(spec.column or ""), spec.epoch, clock.sentinels)
        if spec.column is not None:
            raw = values.get(spec.column)
            if raw is None:
                return None
            naive_or_aware = _strptime(raw, clock.formats, "datetime_formats")
            day: date | None = None
        else:
            raw_time = values.get(spec.time or "")
            if raw_time is None:
                return None
            if spec.date is not None:
                raw_date = values.get(spec.date)
                if raw_date is None:
                    return None
                day = _strptime(raw_date, clock.formats, "datetime_formats").date()
            else:
                if receipt is None:
                    return None
                day = receipt.astimezone(clock.zone).date()
            clock_time = _strptime(raw_time, clock.time_formats, "time_formats").time()
            naive_or_aware = datetime.combine(day, clock_time)
        if naive_or_aware.date() in clock.sentinels:
            return None
        if naive_or_aware.tzinfo is not None:
            return naive_or_aware.astimezone(UTC)  # the export wrote an offset: nothing to place
        candidates = [naive_or_aware]
        if spec.clock == "12h" and 1 <= naive_or_aware.hour <= 12:
            morning = naive_or_aware.replace(hour=naive_or_aware.hour % 12)
            candidates = [morning, morning + timedelta(hours=12)]
        return self._choose(candidates, values, receipt, report)

    def _choose(
        self, candidates: list[datetime], values: Row, receipt: datetime | None, report: Report
    ) -> datetime:
        spec, zone = self._spec, self._clock.zone
        as_written = _localise(
            candidates[-1] if len(candidates) == 1 else _written(candidates), zone
        )
        if len(candidates) > 1 and spec.clock_from is not None:
            reference = self._reference_time(values.get(spec.clock_from))
            if reference is not None:
                local = [_localise(c, zone) for c in candidates]
                if self._placed_by_receipt:
                    local += [_localise(c + timedelta(days=1), zone) for c in candidates]
                return min(local, key=lambda at: (abs(at - reference), at))
        if (
            receipt is not None
            and not self._is_received
            and (len(candidates) > 1 or self._placed_by_receipt)
        ):
            days = [0, 1] if self._placed_by_receipt else [0]
            earliest = receipt - ROLLOVER_GRACE
            for shift in days:
                for candidate in sorted(candidates):
                    at = _localise(candidate + timedelta(days=shift), zone)
                    if at >= earliest:
                        if shift:
                            report(
                                "midnight_rollover",
                                self.column,
                                f"{candidate.time()} is before the receipt: read as the next day",
                            )
                        return at
        if len(candidates) > 1:
            reason = (
                f"{spec.clock_from!r} is empty or unreadable"
                if spec.clock_from is not None
                else "no column tells AM from PM"
            )
            report(
                "ambiguous_clock",
                self.column,
                f"{_written(candidates).time()} could be AM or PM ({reason}): read as written",
            )
        return as_written

    def _reference_time(self, raw: str | None) -> datetime | None:
        if raw is None:
            return None
        text = raw.strip()
        try:
            if text.lstrip("-").isdigit():
                unit = "ms" if abs(int(text)) > _EPOCH_MS_ABOVE else "s"
                return _epoch(text, unit, self._reference.sentinels)
            parsed = _strptime(text, self._reference.formats, "datetime_formats")
        except TimestampError:
            return None
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        return _localise(parsed, self._reference.zone)


def read_unit_time(
    raw: str,
    units: PackedUnits,
    mapping: CsvMapping,
    receipt: datetime | None,
    report: Report,
) -> datetime | None:
    """A packed unit's own time: a timestamp, or a time of day placed by the receipt."""
    zone = ZoneInfo(units.timezone or mapping.timezone)
    try:
        parsed = _strptime(raw, tuple(mapping.datetime_formats), "datetime_formats")
    except TimestampError:
        clock = _strptime(raw, tuple(mapping.time_formats), "time_formats").time()
        if receipt is None:
            return None
        local = receipt.astimezone(zone)
        at = _localise(datetime.combine(local.date(), clock), zone)
        if at < receipt - ROLLOVER_GRACE:
            report(
                "midnight_rollover",
                units.column,
                f"{clock} is before the receipt: read as the next day",
            )
            at = _localise(datetime.combine(local.date() + timedelta(days=1), clock), zone)
        return at
    if parsed.date() in mapping.sentinel_dates:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else _localise(parsed, zone)


def describe(at: str | TimeSpec | None) -> str:
    """How rejections and notes name an event's time."""
    if at is None:
        return "the packed units' own times"
    if isinstance(at, str):
        return f"column {at!r}"
    if at.date is not None and at.time is not None:
        return f"columns {at.date!r} + {at.time!r}"
    return f"column {at.column or at.time!r}" if at.column is None else f"column {at.column!r}"


def _written(candidates: list[datetime]) -> datetime:
    # The hour as the export wrote it: 12:05 stays 12:05, 6:31 stays 06:31.
    morning, evening = sorted(candidates)
    return evening if morning.hour == 0 else morning


def _localise(naive: datetime, zone: tzinfo) -> datetime:
    # fold=0: an ambiguous local time (DST fall-back) is read as the first one.
    return naive.replace(tzinfo=zone).astimezone(UTC)


def _epoch(raw: str | None, unit: str, sentinels: frozenset[date]) -> datetime | None:
    if raw is None:
        return None
    text = raw.strip()
    try:
        number = float(text)
    except ValueError:
        raise TimestampError(f"{text[:60]!r} is not an epoch in {unit}") from None
    seconds = number / 1000 if unit == "ms" else number
    try:
        at = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise TimestampError(f"{text[:60]!r} is out of range for an epoch in {unit}") from None
    return None if at.date() in sentinels else at


def _strptime(value: str, formats: Sequence[str], setting: str) -> datetime:
    # Always in the declared order: which format wins must not depend on earlier rows.
    text = value.strip()
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise TimestampError(f"{text[:60]!r} matches none of the {setting}")
