"""Events of one ordinary call: a realistic timeline, and no expected findings.

The immigration policy's rules apply only to calls from immigration agencies, so
an ordinary call may lack a commander, a camera or a report without any finding;
the simulator leaves such gaps in on purpose, as a check that the engine keeps
its rules to the calls they are for.
"""

from __future__ import annotations

from datetime import datetime
from random import Random

from schemas.events import Caller, Line
from streams.simulation.agency import BuiltCall
from streams.simulation.ordinary_text import COLORS, MAKES, CallKind
from streams.simulation.people import (
    UnitRoster,
    email,
    location,
    officer,
    person_name,
    phone,
)
from streams.simulation.timeline import CallBuilder, Unit, between, minutes, seconds
from streams.simulation.truth import CallTruth


def build_ordinary_call(
    call_id: str, t0: datetime, kind: CallKind, rng: Random, source: str
) -> BuiltCall:
    builder = CallBuilder(call_id, source, rng)
    where = location(rng)
    roster = UnitRoster.for_division(rng, int((where.beat or "1-1").split("-")[0]))
    first_unit = roster.patrol(surname=kind.officer_surname)
    caller = _caller(kind, rng, first_unit)
    builder.received(
        t0,
        caller=caller,
        line=_line(kind, rng),
        call_type=kind.call_type,
        priority=rng.choice(kind.priority),
        location=where,
        narrative=_fill(rng.choice(kind.narratives), rng),
    )
    sends_units = kind.on_view or rng.random() >= kind.no_unit_share
    if sends_units:
        closed = _units_respond(builder, kind, rng, t0, roster, first_unit)
    else:
        closed = t0 + minutes(rng, 3, 45)
        builder.closed(closed, "HANDLED BY PHONE")
    if kind.follow_ups:
        builder.updated(between(rng, t0, closed), narrative=_fill(rng.choice(kind.follow_ups), rng))
    elif rng.random() < 0.25:
        builder.updated(between(rng, t0, closed), narrative="CALLER CALLED BACK WITH SAME INFO")
    if rng.random() < kind.report_share:
        builder.report(closed + minutes(rng, 2, 360), f"80-{t0:%y}-{rng.randint(1, 999_999):06d}")
    truth = CallTruth(
        call_id=call_id,
        immigration_agency=False,
        agency=None,
        caller_agency=caller.agency,
        pattern="ordinary",
        variant=None,
        false_friend=kind.false_friend,
        expected_findings=(),
    )
    return BuiltCall(builder.events(), truth, closed)


def _units_respond(
    builder: CallBuilder,
    kind: CallKind,
    rng: Random,
    t0: datetime,
    roster: UnitRoster,
    first_unit: Unit,
) -> datetime:
    units = [first_unit] + [roster.patrol() for _ in range(rng.randint(*kind.units) - 1)]
    if rng.random() < kind.supervisor_share:
        units.append(roster.supervisor())
    urgent = rng.random() < 0.3
    dispatch = t0 + (minutes(rng, 0.5, 4) if urgent else minutes(rng, 1, 15))
    cleared_times: list[datetime] = []
    for index, unit in enumerate(units):
        if kind.on_view and index == 0:
            # The officer is already there: entered, dispatched and on scene at once.
            builder.dispatched(t0, unit)
            on = t0
        else:
            sent = dispatch + seconds(rng, 0, 120)
            builder.dispatched(sent, unit)
            rolling = sent + seconds(rng, 15, 120)
            builder.en_route(rolling, unit)
            if index > 0 and rng.random() < 0.08:
                cancelled = rolling + minutes(rng, 1, 5)  # called off before arriving
                builder.cleared(cancelled, unit)
                cleared_times.append(cancelled)
                continue
            on = rolling + minutes(rng, 3, 20)
        builder.on_scene(on, unit)
        cleared = on + minutes(rng, 10, 90)
        builder.cleared(cleared, unit)
        cleared_times.append(cleared)
        _camera(builder, rng, unit, on, cleared, not_before=t0)
    closed = max(cleared_times) + minutes(rng, 1, 10)  # after the last camera is off
    builder.closed(closed, rng.choice(kind.dispositions))
    return closed


def _camera(
    builder: CallBuilder,
    rng: Random,
    unit: Unit,
    on: datetime,
    cleared: datetime,
    *,
    not_before: datetime,
) -> None:
    """Mostly by the book; sometimes not, which is no finding on an ordinary call."""
    habit = rng.random()
    if habit < 0.08:
        return
    builder.camera_on(max(not_before, on + seconds(rng, -60, 45)), unit)
    if habit < 0.12:
        builder.camera_off(between(rng, on, cleared), unit)
    else:
        builder.camera_off(cleared + seconds(rng, 0, 40), unit)


def _caller(kind: CallKind, rng: Random, first_unit: Unit) -> Caller:
    if kind.caller in ("officer", "vice_detective"):
        who = first_unit.officer if kind.caller == "officer" else officer(rng, "detective")
        return Caller(name=who.name, agency=kind.caller_agency or "LMPD")
    if kind.caller == "federal_other":
        return Caller(
            name=f"SA {person_name(rng)}",
            agency=kind.caller_agency,
            agency_type=kind.agency_type if rng.random() < 0.4 else None,
            phone=phone(rng),
            email=email(rng, kind.email_domain)
            if kind.email_domain and rng.random() < 0.4
            else None,
        )
    if kind.caller == "alarm_company":
        return Caller(
            name=f"OPERATOR {rng.randint(100, 999)}", agency="ALARM MONITORING CO", phone=phone(rng)
        )
    if kind.caller == "business":
        return Caller(name=person_name(rng), phone=phone(rng))
    number = phone(rng)
    return Caller(name=person_name(rng), phone=number, callback_number=number)


def _line(kind: CallKind, rng: Random) -> Line:
    if kind.line == "radio":
        return Line(kind="radio", id=f"CH-{rng.randint(1, 8)}")
    return Line(kind=kind.line, id=f"MS-{kind.line.upper()}-{rng.randint(1, 12)}", recorded=True)


# No vowels, B or H: a random plate never spells ICE, CBP or DHS.
_PLATE_LETTERS = "CDFGJKLMNPRSTVWXZ"


def _fill(template: str, rng: Random) -> str:
    plate = f"{rng.randint(100, 999)}{''.join(rng.choice(_PLATE_LETTERS) for _ in range(3))}"
    return template.format(color=rng.choice(COLORS), make=rng.choice(MAKES), tag=plate)
