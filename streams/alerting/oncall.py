"""Who is on call: rotations by day and time, and overrides, in the department's time zone.

A schedule file names people (each with the alert channels that reach them) and
schedules (one per escalation tier, e.g. ``supervisors``, ``watch-commanders``).
A schedule is a stack of rotations and a list of overrides:

- a **rotation** hands the pager from one person to the next every
  ``shift_hours``, counted in *wall-clock* time from ``start`` (local): a
  24-hour rotation starting at 19:00 hands off at 19:00 every day, summer and
  winter, so a turn across a daylight-saving change lasts 23 or 25 hours. A
  handoff whose wall time does not exist that day (inside the spring-forward
  gap) happens when the clocks jump; one that occurs twice (fall back) happens
  at the first. ``windows`` restrict it to some days and hours (a window whose
  end is not after its start runs past midnight, on the day it starts).
- an **override** puts one person on call from ``start`` to ``end`` (local).

Precedence, as PagerDuty's layers: an override beats every rotation (the last
one listed wins), and a later rotation beats an earlier one when both have
someone on duty. Times are unix milliseconds, given; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from streams.alerting.routing import LOG_CHANNEL, Target, Tier

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: Final[tuple[Day, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Shorter turns could vanish inside a spring-forward gap (an hour that never happens).
MIN_SHIFT_HOURS: Final = 2.0
HOUR_MS: Final = 3_600_000


class Person(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str  # as the announcements say it: "Sgt. Ray"
    channels: tuple[str, ...]  # alert channels (alerts file) that reach this person


class Window(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    start: str  # "HH:MM" local
    end: str  # "HH:MM" local; not after start: runs past midnight
    days: tuple[Day, ...] = DAYS  # the days a window starts on


class Rotation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    people: tuple[str, ...]
    start: str  # local, ISO without offset: "2024-01-01T19:00"; the first turn's start
    shift_hours: float = 24
    windows: tuple[Window, ...] = ()  # empty: always on duty


class Override(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    person: str
    start: str  # local, ISO without offset
    end: str


class Schedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rotations: tuple[Rotation, ...] = ()
    overrides: tuple[Override, ...] = ()


class OnCallFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Literal[1]
    timezone: str
    people: dict[str, Person]
    schedules: dict[str, Schedule]


@dataclass(frozen=True, slots=True)
class OnCall:
    person_id: str
    person: Person
    via: str  # "override" or the rotation's name


class ScheduleError(ValueError):
    """The schedule file is unusable; the message says where."""


# ---------------------------------------------------------------------- loading


def parse(raw: Any, source: str = "schedule") -> OnCallFile:
    try:
        parsed = msgspec.convert(raw, OnCallFile)
    except msgspec.ValidationError as exc:
        raise ScheduleError(f"{source}: {exc}") from None
    _check(parsed, source)
    return parsed


def load(path: Path) -> OnCallFile:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScheduleError(f"cannot read schedule file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScheduleError(f"schedule file {path} is not valid YAML: {exc}") from None
    return parse(raw, str(path))


def _check(oncall: OnCallFile, source: str) -> None:
    try:
        ZoneInfo(oncall.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{source}: unknown time zone {oncall.timezone!r}") from None
    for person_id, person in oncall.people.items():
        if not person.channels:
            raise ScheduleError(f"{source}: people.{person_id}: give at least one channel")
    for name, schedule in oncall.schedules.items():
        where = f"{source}: schedules.{name}"
        for index, rotation in enumerate(schedule.rotations):
            here = f"{where}.rotations[{index}]"
            if not rotation.people:
                raise ScheduleError(f"{here}: a rotation needs people")
            _known(oncall, rotation.people, here)
            if rotation.shift_hours < MIN_SHIFT_HOURS:
                raise ScheduleError(f"{here}: shift_hours must be at least {MIN_SHIFT_HOURS}")
            _local(rotation.start, f"{here}.start")
            for window in rotation.windows:
                _clock(window.start, f"{here}.windows.start")
                _clock(window.end, f"{here}.windows.end")
        for index, override in enumerate(schedule.overrides):
            here = f"{where}.overrides[{index}]"
            _known(oncall, (override.person,), here)
            if _local(override.end, f"{here}.end") <= _local(override.start, f"{here}.start"):
                raise ScheduleError(f"{here}: end must be after start")


def _known(oncall: OnCallFile, people: tuple[str, ...], where: str) -> None:
    unknown = [p for p in people if p not in oncall.people]
    if unknown:
        raise ScheduleError(
            f"{where}: {', '.join(unknown)} not under 'people'"
            f" (known: {', '.join(sorted(oncall.people))})"
        )


def _local(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(
            f"{where}: {text!r} is not a local date and time (2024-01-01T19:00)"
        ) from None
    if moment.tzinfo is not None:
        raise ScheduleError(
            f"{where}: give local time without an offset: the file's timezone applies"
        )
    return moment


def _clock(text: str, where: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"{where}: {text!r} is not HH:MM") from None


# ---------------------------------------------------------------------- wall time


def to_instant(local: datetime, zone: ZoneInfo) -> int:
    """The unix ms at which the zone's clocks show ``local`` (naive), the first time if
    twice (fall back); a wall time the clocks skip (spring forward) maps to the jump."""
    first = local.replace(tzinfo=zone, fold=0)
    if _wall(_ms(first), zone) == local:
        return _ms(first)
    # In the gap: fold=1 reads it with the later offset (earlier instant), fold=0 with
    # the earlier (later instant); the jump lies between. Find its first second.
    low, high = _ms(local.replace(tzinfo=zone, fold=1)), _ms(first)
    while high - low > 1000:
        middle = (low + high) // 2 // 1000 * 1000
        if middle <= low:
            break
        if _wall(middle, zone) >= local:
            high = middle
        else:
            low = middle
    return high


def wall_time(instant: int, zone: ZoneInfo) -> datetime:
    """What the zone's clocks show at ``instant`` (naive)."""
    return _wall(instant, zone)


def _wall(instant: int, zone: ZoneInfo) -> datetime:
    moment = datetime.fromtimestamp(instant / 1000, tz=UTC).astimezone(zone)
    return moment.replace(tzinfo=None, fold=0)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---------------------------------------------------------------------- rotations


def handoff(rotation: Rotation, zone: ZoneInfo, turn: int) -> int:
    """When turn ``turn`` (0: the first) of the rotation begins, unix ms."""
    start = datetime.fromisoformat(rotation.start)
    return to_instant(start + timedelta(hours=rotation.shift_hours * turn), zone)


def turn_at(rotation: Rotation, zone: ZoneInfo, instant: int) -> int | None:
    """The rotation's turn under way at ``instant``; None before its first turn."""
    first = handoff(rotation, zone, 0)
    if instant < first:
        return None
    shift_ms = rotation.shift_hours * HOUR_MS
    turn = int((instant - first) // shift_ms)
    # Wall-clock turns drift from the estimate by the zone's offset changes (hours).
    while handoff(rotation, zone, turn + 1) <= instant:
        turn += 1
    while turn > 0 and handoff(rotation, zone, turn) > instant:
        turn -= 1
    return turn


def on_duty(rotation: Rotation, zone: ZoneInfo, instant: int) -> str | None:
    """The person whose turn it is, if the rotation is on duty at ``instant``."""
    turn = turn_at(rotation, zone, instant)
    if turn is None or not _in_windows(rotation.windows, _wall(instant, zone)):
        return None
    return rotation.people[turn % len(rotation.people)]


def _in_windows(windows: tuple[Window, ...], local: datetime) -> bool:
    if not windows:
        return True
    for window in windows:
        start, end = time.fromisoformat(window.start), time.fromisoformat(window.end)
        for day in (local.date(), local.date() - timedelta(days=1)):
            if DAYS[day.weekday()] not in window.days:
                continue
            opens = datetime.combine(day, start)
            closes = datetime.combine(day if end > start else day + timedelta(days=1), end)
            if opens <= local < closes:
                return True
    return False


# ---------------------------------------------------------------------- who is on call


def on_call(oncall: OnCallFile, schedule: str, instant: int) -> OnCall | None:
    """Who the schedule pages at ``instant``, or None if nobody is on call then."""
    zone = ZoneInfo(oncall.timezone)
    plan = oncall.schedules[schedule]
    for override in reversed(plan.overrides):
        begins = to_instant(datetime.fromisoformat(override.start), zone)
        ends = to_instant(datetime.fromisoformat(override.end), zone)
        if begins <= instant < ends:
            return OnCall(override.person, oncall.people[override.person], "override")
    for rotation in reversed(plan.rotations):
        person_id = on_duty(rotation, zone, instant)
        if person_id is not None:
            return OnCall(person_id, oncall.people[person_id], rotation.name)
    return None


def channels_used(oncall: OnCallFile) -> Mapping[str, tuple[str, ...]]:
    """person id -> channels, for checking them against the alerts file."""
    return {person_id: person.channels for person_id, person in oncall.people.items()}


def tier_targets(oncall: OnCallFile | None, tier: Tier, now: int) -> tuple[Target, ...]:
    """The channels a tier tells at ``now``: the on-call person's, then the tier's own.

    Nobody on call (a gap in the schedule) leaves the tier's own channels; a tier
    with neither falls back to the log channel, so the page is at least recorded."""
    found: dict[str, Target] = {}
    if tier.oncall is not None and oncall is not None and tier.oncall in oncall.schedules:
        who = on_call(oncall, tier.oncall, now)
        if who is not None:
            for channel in who.person.channels:
                found.setdefault(channel, Target(channel, who.person_id, who.person.name))
    for channel in tier.channels:
        found.setdefault(channel, Target(channel))
    return tuple(found.values()) or (Target(LOG_CHANNEL),)
