"""The on-call schedule over time zones and daylight-saving changes (property tests).

Hypothesis picks zones with and without DST, half-hour DST (Lord Howe), the southern
hemisphere and 45-minute offsets, start times placed right around the zones' real
transitions, shift lengths and instants; the properties hold for every one.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.alerting import oncall
from streams.alerting.oncall import (
    OnCallFile,
    Override,
    Person,
    Rotation,
    Schedule,
    ScheduleError,
    Window,
    handoff,
    on_call,
    on_duty,
    tier_targets,
    to_instant,
    turn_at,
    wall_time,
)
from streams.alerting.routing import Target, Tier

HOUR = 3_600_000
ZONES = [
    "America/Kentucky/Louisville", "America/New_York", "America/Los_Angeles", "Europe/London",
    "Europe/Berlin", "Australia/Lord_Howe", "Australia/Sydney", "America/Santiago",
    "Pacific/Chatham", "Asia/Kolkata", "Asia/Kathmandu", "UTC",
]
PEOPLE = ("ray", "kim", "diaz", "ortiz")


@functools.cache
def transitions(zone: ZoneInfo, year: int) -> list[datetime]:
    """The zone's offset changes in ``year`` (local, naive), found hour by hour."""
    found, moment = [], datetime(year, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        moment += timedelta(hours=1)
        offset = moment.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(moment.astimezone(zone).replace(tzinfo=None))
        previous = offset
    return found


@st.composite
def rotations(draw: st.DrawFn) -> tuple[ZoneInfo, Rotation]:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    year = draw(st.integers(2024, 2026))
    changes = transitions(zone, year) or [datetime(year, 3, 10, 2, 0)]
    near = draw(st.sampled_from(changes))
    # start a few days before a transition, at any minute of the day
    start = (near - timedelta(days=draw(st.integers(0, 6)))).replace(
        hour=draw(st.integers(0, 23)), minute=draw(st.sampled_from([0, 15, 30, 45])),
        second=0, microsecond=0,
    )
    shift = draw(st.sampled_from([2, 3, 6, 8, 12, 24, 48, 168]))
    people = PEOPLE[: draw(st.integers(1, len(PEOPLE)))]
    return zone, Rotation("r", people, start.isoformat(timespec="minutes"), shift)


@settings(max_examples=300, deadline=None)
@given(rotations(), st.integers(0, 40 * 24 * HOUR))
def test_someone_is_always_on_call_and_turns_go_round_in_order(
    drawn: tuple[ZoneInfo, Rotation], offset: int
) -> None:
    zone, rotation = drawn
    first = handoff(rotation, zone, 0)
    instant = first + offset
    turn = turn_at(rotation, zone, instant)
    assert turn is not None
    # the turn under way began at or before the instant and ends after it
    assert handoff(rotation, zone, turn) <= instant < handoff(rotation, zone, turn + 1)
    assert on_duty(rotation, zone, instant) == rotation.people[turn % len(rotation.people)]
    assert turn_at(rotation, zone, first - 1) is None  # nobody before the first turn


@settings(max_examples=300, deadline=None)
@given(rotations(), st.integers(0, 60))
def test_handoffs_keep_wall_clock_time_across_daylight_saving(
    drawn: tuple[ZoneInfo, Rotation], turn: int
) -> None:
    zone, rotation = drawn
    start = datetime.fromisoformat(rotation.start)
    planned = start + timedelta(hours=rotation.shift_hours * turn)
    begins, ends = handoff(rotation, zone, turn), handoff(rotation, zone, turn + 1)
    assert begins < ends  # strictly increasing: no turn is empty or skipped
    shown = wall_time(begins, zone)
    if to_instant(planned, zone) == begins and wall_time(begins, zone) == planned:
        assert shown == planned  # the wall time exists: the handoff is at exactly it
    else:
        # the clocks skip it (spring forward): the handoff is the jump itself, the first
        # wall time after it, and never more than the size of the jump later
        assert shown > planned
        assert shown - planned <= timedelta(hours=2)
        assert wall_time(begins - 1000, zone) < planned
    # a turn lasts its shift, give or take the offset change inside it (at most 2 h)
    assert abs((ends - begins) - rotation.shift_hours * HOUR) <= 2 * HOUR


@settings(max_examples=200, deadline=None)
@given(rotations(), st.integers(0, 20 * 24 * HOUR), st.integers(1, 72))
def test_an_override_wins_exactly_within_its_hours(
    drawn: tuple[ZoneInfo, Rotation], offset: int, hours: int
) -> None:
    zone, rotation = drawn
    begins_local = datetime.fromisoformat(rotation.start) + timedelta(milliseconds=offset)
    begins_local = begins_local.replace(second=0, microsecond=0)
    ends_local = begins_local + timedelta(hours=hours)
    schedule = OnCallFile(
        version=1, timezone=zone.key,
        people={p: Person(p.title(), (f"email-{p}",)) for p in (*PEOPLE, "chief")},
        schedules={"sup": Schedule(
            rotations=(rotation,),
            overrides=(Override("chief", begins_local.isoformat(), ends_local.isoformat()),),
        )},
    )
    begins, ends = to_instant(begins_local, zone), to_instant(ends_local, zone)
    for instant in (begins - 1, begins, (begins + ends) // 2, ends - 1, ends):
        who = on_call(schedule, "sup", instant)
        if begins <= instant < ends:
            assert who is not None and who.person_id == "chief" and who.via == "override"
        elif instant >= handoff(rotation, zone, 0):
            assert who is not None and who.person_id != "chief" and who.via == "r"


@settings(max_examples=200, deadline=None)
@given(rotations(), st.integers(0, 30 * 24 * HOUR))
def test_a_night_window_is_on_duty_only_between_its_wall_clock_hours(
    drawn: tuple[ZoneInfo, Rotation], offset: int
) -> None:
    zone, rotation = drawn
    nights = Rotation("nights", rotation.people, rotation.start, rotation.shift_hours,
                      (Window("19:00", "07:00", ("mon", "tue", "wed", "thu", "fri")),))
    instant = handoff(nights, zone, 0) + offset
    local = wall_time(instant, zone)
    started_yesterday = local.hour < 7 and (local - timedelta(days=1)).weekday() < 5
    started_today = local.hour >= 19 and local.weekday() < 5
    expected = started_today or started_yesterday
    assert (on_duty(nights, zone, instant) is not None) == expected


def test_a_later_rotation_beats_an_earlier_one_and_a_gap_leaves_the_tier_channels() -> None:
    people = {"ray": Person("Sgt. Ray", ("email-ray",)), "kim": Person("Sgt. Kim", ("sms-kim",)),
              "diaz": Person("Lt. Diaz", ("email-diaz", "slack-diaz"))}
    schedule = OnCallFile(version=1, timezone="America/Kentucky/Louisville", people=people,
                          schedules={
                              "sup": Schedule(rotations=(
                                  Rotation("days", ("ray",), "2026-03-01T07:00", 24),
                                  Rotation("nights", ("kim",), "2026-03-01T19:00", 24,
                                           (Window("19:00", "07:00"),)),
                              )),
                              "cmd": Schedule(rotations=(
                                  Rotation("weekdays", ("diaz",), "2026-03-02T08:00", 24,
                                           (Window("08:00", "17:00", ("mon",)),)),
                              )),
                          })
    zone = ZoneInfo("America/Kentucky/Louisville")
    at = to_instant(datetime(2026, 3, 2, 3, 12), zone)  # a Monday, 03:12
    who = on_call(schedule, "sup", at)
    assert who is not None and (who.person_id, who.via) == ("kim", "nights")
    noon = to_instant(datetime(2026, 3, 2, 12, 0), zone)
    assert on_call(schedule, "sup", noon).person_id == "ray"  # type: ignore[union-attr]
    assert tier_targets(schedule, Tier(0, ("log",), "cmd"), noon) == (
        Target("email-diaz", "diaz", "Lt. Diaz"), Target("slack-diaz", "diaz", "Lt. Diaz"),
        Target("log"),
    )
    # Monday 03:12 the commander schedule has nobody: the tier's own channels, else the log
    assert tier_targets(schedule, Tier(0, ("email-duty",), "cmd"), at) == (
        Target("email-duty"),)
    assert tier_targets(schedule, Tier(0, (), "cmd"), at) == (Target("log"),)


def test_handoff_at_a_wall_time_the_clocks_skip_is_at_the_jump() -> None:
    zone = ZoneInfo("America/Kentucky/Louisville")
    rotation = Rotation("r", ("a", "b"), "2026-03-07T02:30", 24)
    jump = handoff(rotation, zone, 1)  # 2026-03-08 02:30 does not exist there
    assert datetime.fromtimestamp(jump / 1000, UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert wall_time(jump, zone) == datetime(2026, 3, 8, 3, 0)
    # fall back: 01:30 happens twice; the handoff is at the first
    autumn = Rotation("r", ("a", "b"), "2026-10-31T01:30", 24)
    first = handoff(autumn, zone, 1)
    assert datetime.fromtimestamp(first / 1000, UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # the turn across the fall-back lasts 25 hours, the one across spring forward 23.5
    # (02:30 standard time to the jump at 03:00 daylight time)
    assert handoff(autumn, zone, 2) - handoff(autumn, zone, 1) == 25 * HOUR
    assert handoff(rotation, zone, 1) - handoff(rotation, zone, 0) == 23.5 * HOUR


def test_mistakes_in_a_schedule_file_are_named() -> None:
    base = {"version": 1, "timezone": "America/Kentucky/Louisville",
            "people": {"ray": {"name": "Sgt. Ray", "channels": ["email-ray"]}},
            "schedules": {"sup": {"rotations": [
                {"name": "r", "people": ["ray"], "start": "2026-01-01T19:00"}]}}}
    assert oncall.parse(base).schedules["sup"].rotations[0].shift_hours == 24
    cases = [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"schedules": {"sup": {"rotations": [
            {"name": "r", "people": ["nobody"], "start": "2026-01-01T19:00"}]}}},
         "nobody not under 'people'"),
        ({"schedules": {"sup": {"rotations": [
            {"name": "r", "people": ["ray"], "start": "2026-01-01T19:00+01:00"}]}}},
         "without an offset"),
        ({"schedules": {"sup": {"rotations": [
            {"name": "r", "people": ["ray"], "start": "2026-01-01T19:00",
             "shift_hours": 0.5}]}}}, "at least 2.0"),
        ({"schedules": {"sup": {"overrides": [
            {"person": "ray", "start": "2026-01-02T00:00", "end": "2026-01-01T00:00"}]}}},
         "end must be after start"),
        ({"people": {"ray": {"name": "Sgt. Ray", "channels": []}}}, "at least one channel"),
    ]
    for change, message in cases:
        with pytest.raises(ScheduleError, match=message):
            oncall.parse({**base, **change})


def test_the_shipped_example_schedule_is_valid_and_pages_who_it_says() -> None:
    example = oncall.load(Path(__file__).resolve().parent.parent / "deploy/oncall.example.yaml")
    zone = ZoneInfo(example.timezone)

    def who(schedule: str, local: datetime) -> str | None:
        found = on_call(example, schedule, to_instant(local, zone))
        return found.person.name if found else None

    assert who("supervisors", datetime(2026, 3, 9, 3, 12)) == "Sgt. Kim"  # a night
    assert who("supervisors", datetime(2026, 3, 9, 12, 0)) == "Sgt. Ortiz"  # day turn 63
    assert who("supervisors", datetime(2026, 7, 4, 23, 0)) == "Sgt. Ray"  # the override
    assert who("watch-commanders", datetime(2026, 1, 12, 7, 59)) == "Lt. Diaz"
    assert who("watch-commanders", datetime(2026, 1, 12, 8, 0)) == "Lt. Chen"
