"""Reading the timestamps real CAD exports write, into aware UTC datetimes.

Exports write local wall-clock time without an offset, in more than one
format per file, and use placeholder dates (1900-01-01) for "never happened".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo


class TimestampError(ValueError):
    """A value is present but matches none of the formats."""


class TimestampParser:
    """Parses with a list of strptime formats, localising naive times to one zone."""

    def __init__(
        self,
        formats: Sequence[str],
        zone: tzinfo,
        sentinel_dates: Iterable[date] = (),
        time_formats: Sequence[str] = ("%H:%M", "%H:%M:%S"),
    ) -> None:
        self._formats = tuple(formats)
        self._time_formats = tuple(time_formats)
        self._zone = zone
        self._sentinels = frozenset(sentinel_dates)

    def parse(self, raw: str | None) -> datetime | None:
        """Aware UTC time, None for a missing or sentinel value; TimestampError otherwise."""
        if raw is None:
            return None
        parsed = self._strptime(raw.strip(), self._formats, "datetime_formats")
        return self._finish(parsed)

    def parse_parts(self, raw_date: str | None, raw_time: str | None) -> datetime | None:
        """A date from one column and a time of day from another (Berkeley's EVENTDT + EVENTTM)."""
        if raw_date is None or raw_time is None:
            return None
        day = self._strptime(raw_date.strip(), self._formats, "datetime_formats").date()
        clock = self._strptime(raw_time.strip(), self._time_formats, "time_formats").time()
        return self._finish(datetime.combine(day, clock))

    def _finish(self, parsed: datetime) -> datetime | None:
        if parsed.date() in self._sentinels:
            return None
        if parsed.tzinfo is None:
            # fold=0: an ambiguous local time (DST fall-back) is read as the first one.
            parsed = parsed.replace(tzinfo=self._zone)
        return parsed.astimezone(UTC)

    @staticmethod
    def _strptime(value: str, formats: tuple[str, ...], setting: str) -> datetime:
        # Always in the declared order: which format wins must not depend on earlier rows,
        # or ambiguous values (01/02 as day/month vs month/day) would parse by accident.
        for fmt in formats:
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                continue
        raise TimestampError(f"{value[:60]!r} matches none of the {setting}")
