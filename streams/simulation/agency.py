"""Events of one immigration-agency call, laid out from its ``Handling``.

The compliant shape (LMPD policy, July 2017): MetroSafe takes the call on a
recorded line, a commanding officer is notified within minutes and either declines
(the right answer to a civil request) or records a lawful basis before any unit is
dispatched, goes to the scene with the patrol units, every camera runs from arrival
to clearing, and a report follows the close. Each toggle of the handling bends one
of those steps; nothing else changes, so the planted findings are exactly the
toggles' findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from random import Random
from typing import Final

import msgspec

from schemas.events import (
    FACT_KINDS,
    Caller,
    DispatchEvent,
    LegalBasis,
    Line,
    LineKind,
    Location,
    Officer,
    Rank,
)
from streams.simulation import agency_text as text
from streams.simulation.handling import PATTERNS, Handling, expected_findings
from streams.simulation.people import (
    FEDERAL_BUILDING,
    UnitRoster,
    email,
    location,
    officer,
    person_name,
    phone,
)
from streams.simulation.timeline import CallBuilder, Unit, between, minutes, seconds
from streams.simulation.truth import CallTruth

COMMANDER_ON_SCENE_LIMIT: Final = timedelta(minutes=9)  # inside the policy's 10-minute grace
_NO_CAMERA: Final = tuple(k for k in FACT_KINDS if k != "camera")


@dataclass(frozen=True, slots=True)
class BuiltCall:
    events: list[DispatchEvent]
    truth: CallTruth
    closed_at: datetime


def build_agency_call(
    call_id: str, t0: datetime, pattern: str, rng: Random, source: str
) -> BuiltCall:
    variant = rng.choice(sorted(PATTERNS[pattern]))
    handling = PATTERNS[pattern][variant]
    # The re-enacted 2017 calls came from ICE (ERO or HSI); any agency may make the others.
    profiles = [
        p for p in text.AGENCY_PROFILES if handling.script == "standard" or p.agency == "ICE"
    ]
    profile = rng.choices(profiles, [p.weight for p in profiles])[0]
    call = _AgencyCall(CallBuilder(call_id, source, rng), rng, t0, handling, profile)
    closed_at = call.build()
    truth = CallTruth(
        call_id=call_id,
        immigration_agency=True,
        agency=profile.agency,
        caller_agency=call.caller.agency,
        pattern=pattern,
        variant=variant,
        false_friend=None,
        expected_findings=expected_findings(handling),
    )
    return BuiltCall(call.builder.events(), truth, closed_at)


@dataclass
class _AgencyCall:
    builder: CallBuilder
    rng: Random
    t0: datetime
    h: Handling
    profile: text.AgencyProfile
    caller: Caller = field(init=False)
    lawful_kind: LegalBasis = field(init=False, default="criminal_warrant")

    @property
    def agency(self) -> str:
        return self.profile.shorthand

    def build(self) -> datetime:
        """Plan every event; returns when the call closed."""
        narrative, call_type, where = self._request()
        line = self._line()
        # As a word: "OFFICER" contains "ICE", and must not count as naming it.
        named = re.search(rf"\b{re.escape(self.agency)}\b", narrative) is not None
        self.caller = self._caller(needs_stated_agency=not named)
        self.builder.received(
            self.t0,
            caller=self.caller,
            line=line,
            call_type=call_type,
            priority="2",
            location=where,
            narrative=narrative,
            # The simulator declares what it simulates; a feed without a camera system
            # says so, and sends no camera records.
            provides=FACT_KINDS if self.h.camera_feed else _NO_CAMERA,
        )
        self._recording(line)
        self._callback()
        self._script_notes()
        commanding = officer(self.rng, self.rng.choice(("lieutenant",) * 4 + ("captain",)))
        if not self.h.units_sent:
            return self._declined(commanding)
        return self._assisted(commanding, where)

    # --- the request

    def _request(self) -> tuple[str, str, Location]:
        rng, h = self.rng, self.h
        if h.script == "manpower_april_13":
            request = "{agency} AGENTS COULD USE MORE MANPOWER, SUBJ RAN FROM AGENTS AT APT COMPLEX"
            where = Location(address=f"{rng.randint(40, 49)}00 BLOCK NEWPORT RD", beat="6-3")
        elif h.script == "clear_house_march_30":
            request = (
                "{agency} AGENT WATCHING HOUSE, REQ A CAR OR TWO TO HELP KNOCK ON THE DOOR,"
                " CLEAR THE HOUSE"
            )
            where = location(rng)
        elif h.script == "mailboxes_k9":
            request = (
                "{agency} AGENTS REQ BACKUP AND K-9 ASAP, SUBJ HIT MAILBOXES W/ SUV"
                " AND RAN INTO WOODS"
            )
            self.lawful_kind = "crime_occurred"
            where = location(rng)
        elif not h.units_sent or h.basis in ("missing", "not_lawful"):
            request = rng.choice(text.CIVIL_REQUESTS + text.ADMIN_WARRANT_REQUESTS[:1])
            where = location(rng)
        elif h.basis == "administrative_warrant":
            request = rng.choice(text.ADMIN_WARRANT_REQUESTS)
            where = location(rng)
        else:
            if h.basis == "lawful":
                self.lawful_kind = rng.choice(
                    ("criminal_warrant", "criminal_warrant", "crime_occurred", "emergency")
                )
            request = rng.choice(
                {
                    "criminal_warrant": text.CRIMINAL_WARRANT_REQUESTS,
                    "crime_occurred": text.CRIME_REQUESTS,
                    "emergency": text.EMERGENCY_REQUESTS,
                }[self.lawful_kind]
            )
            where = FEDERAL_BUILDING if "OFFICE" in request else location(rng)
        if self.h.callback == "unrecorded" and h.script == "standard" and rng.random() < 0.5:
            request = rng.choice(text.AGENCY_FREE_NOTES)  # the whole call was "call me back"
        narrative = request.format(agency=self.agency)
        if self.lawful_kind == "emergency" and h.units_sent and h.basis == "lawful":
            call_type = rng.choice(text.EMERGENCY_CALL_TYPES)
        elif "WARRANT" in narrative and "ADMIN" not in narrative and "I-205" not in narrative:
            call_type = text.WARRANT_CALL_TYPE
        else:
            call_type = rng.choice(text.AGENCY_CALL_TYPES)
        if h.trouble_coded_not_in_trouble and rng.random() < 0.5:
            call_type = rng.choice(text.TROUBLE_CALL_TYPES)  # coded trouble from the start
        return narrative, call_type, where

    def _caller(self, *, needs_stated_agency: bool) -> Caller:
        rng, profile = self.rng, self.profile
        stated = needs_stated_agency or rng.random() < 0.85
        number = phone(rng)
        return Caller(
            name=f"SA {person_name(rng)}" if rng.random() < 0.5 else f"AGENT {person_name(rng)}",
            agency=rng.choice(profile.stated) if stated else None,
            agency_type=profile.agency_type if rng.random() < 0.3 else None,
            phone=number,
            email=email(rng, profile.email_domain) if rng.random() < 0.35 else None,
            callback_number=number if rng.random() < 0.3 else None,
        )

    # --- phone lines

    def _line(self) -> Line:
        rng = self.rng
        if self.h.line_recorded:
            kind: LineKind = rng.choice(("admin", "admin", "admin", "911"))
            return Line(kind=kind, id=f"MS-{kind.upper()}-{rng.randint(1, 12)}", recorded=True)
        return rng.choice(
            (
                Line(kind="cell", recorded=False),
                Line(kind="cell"),  # the source did not say; a cell is never recorded
                Line(kind="offline", recorded=False),
                Line(kind="direct", id=f"DESK-{rng.randint(1, 9)}", recorded=False),
            )
        )

    def _recording(self, line: Line) -> None:
        if not self.h.line_recorded:
            return
        self.builder.recording_started(self.t0, line)
        if self.h.recording_fails:
            failed_at = self.t0 + seconds(self.rng, 20, 110)
            self.builder.recording_failed(failed_at, line, "RECORDER FAULT")
        else:
            # The phone call ends after a few minutes; so does its recording. Normal.
            stopped_at = self.t0 + minutes(self.rng, 2, 5)
            self.builder.recording_stopped(stopped_at, line, "CALL ENDED")

    def _callback(self) -> None:
        rng, at = self.rng, self.t0 + seconds(self.rng, 30, 90)
        number = self.caller.callback_number or self.caller.phone or phone(rng)
        if self.h.callback == "recorded":
            self.builder.callback(
                at,
                number=number,
                line_kind="admin",
                recorded=True,
                requested_rank="lieutenant",
                narrative="AGENT REQ LT CALL BACK, RETURNED ON RECORDED ADMIN LINE",
            )
        elif self.h.callback == "unrecorded":
            kind: LineKind
            rank: Rank
            if self.h.script == "mailboxes_k9" or rng.random() < 0.5:
                kind, rank, note = "offline", "sergeant", "REQ SGT CALL BACK OFFLINE"
            else:
                kind, rank, note = "cell", "officer", f"REQ OFFICER CALL BACK ON CELL {number}"
            self.builder.callback(
                at,
                number=number,
                line_kind=kind,
                recorded=False,
                requested_rank=rank,
                narrative=note,
            )

    def _script_notes(self) -> None:
        rng, t0, h = self.rng, self.t0, self.h
        if h.script == "manpower_april_13":
            self.builder.updated(
                t0 + seconds(rng, 30, 90),
                narrative="DISPATCH ASKED IF IN ANY KIND OF TROUBLE OR JUST NEED ASSISTANCE,"
                " AGENT: WE JUST NEED ASSISTANCE",
            )
            self.builder.updated(
                t0 + seconds(rng, 100, 150), narrative="AGENT ADVISED SUBJ HAS A BENCH WARRANT"
            )
        elif h.script == "clear_house_march_30":
            self.builder.updated(t0 + seconds(rng, 30, 90), narrative="NO SAFETY CONCERNS GIVEN")
        if h.trouble_coded_not_in_trouble:
            if h.script == "mailboxes_k9":
                note = (
                    "DISPATCH ASKED IF AGENTS ACTUALLY IN TROUBLE, AGENT: NOT RIGHT NOW,"
                    " JUST NEED HELP WHENEVER UNITS CAN GET HERE"
                )
            else:
                note = rng.choice(text.NOT_IN_TROUBLE_NOTES)
            self.builder.updated(
                t0 + seconds(rng, 40, 85),
                narrative=note,
                call_type=rng.choice(text.TROUBLE_CALL_TYPES),
                priority="1",
            )

    # --- a commander declines: nobody goes

    def _declined(self, commanding: Officer) -> datetime:
        rng, b = self.rng, self.builder
        notified = self.t0 + (
            minutes(rng, 12, 35) if self.h.commander == "late" else minutes(rng, 1, 5)
        )
        b.commander(notified, "notified", commanding, "MS NOTIFIED COMMANDING OFFICER PER POLICY")
        if self.h.commander == "notified_only":
            # Nobody takes the call; the agents give up and dispatch closes it.
            closed = notified + minutes(rng, 15, 40)
            b.updated(closed - minutes(rng, 1, 3), narrative="NO CALL BACK FROM COMMAND, AGENT CXL")
            b.closed(closed, "CANCELLED BY CALLER")
            return closed
        decided = notified + minutes(rng, 1, 6)
        # The commanding officer takes the call, then decides: taking it is the step C2 asks.
        b.commander(notified + seconds(rng, 20, 50), "assigned", commanding, "REVIEWING REQUEST")
        b.commander(
            decided,
            "declined",
            commanding,
            "NO LMPD ASSISTANCE: NO CRIMINAL WARRANT, CRIME OR EMERGENCY",
        )
        b.updated(
            decided + seconds(rng, 15, 60),
            narrative=f"{commanding.name} ADVISED {self.agency} NO LMPD UNITS PER POLICY",
        )
        closed = decided + minutes(rng, 1.5, 4)
        b.closed(closed, "DECLINED PER POLICY")
        return closed

    # --- units go

    def _assisted(self, commanding: Officer, where: Location) -> datetime:
        rng, b, h, t0 = self.rng, self.builder, self.h, self.t0
        assigned: datetime | None = None
        if h.commander == "after_dispatch":
            dispatch = t0 + seconds(rng, 90, 180)
            notified: datetime | None = dispatch + seconds(rng, 30, 180)
        elif h.commander in ("prompt", "late", "notified_only", "unknown_rank"):
            notified = t0 + (minutes(rng, 12, 35) if h.commander == "late" else minutes(rng, 1, 5))
            dispatch = notified + seconds(rng, 120, 330)
        else:
            notified = None
            dispatch = t0 + minutes(rng, 2, 10)
        if h.commander == "unknown_rank":
            # The CAD logged who took the call, without a rank: nobody can tell from the
            # feed whether a commanding officer handled it.
            unranked = msgspec.structs.replace(commanding, rank="unknown", name=person_name(rng))
            assert notified is not None
            b.commander(notified, "notified", unranked, "MS NOTIFIED PER POLICY")
            taken = notified + seconds(rng, 30, 90)
            b.commander(taken, "assigned", unranked, "WILL HANDLE")
        elif notified is not None:
            b.commander(
                notified, "notified", commanding, "MS NOTIFIED COMMANDING OFFICER PER POLICY"
            )
            if h.commander != "notified_only":
                assigned = notified + seconds(rng, 30, 90)
                b.commander(assigned, "assigned", commanding, "WILL RESPOND WITH UNITS")
        elif h.sergeant_stands_in:
            sergeant = officer(rng, "sergeant")
            b.commander(
                between(rng, t0 + timedelta(seconds=30), dispatch - timedelta(seconds=30)),
                "notified",
                sergeant,
                "SGT NOTIFIED",
            )
        # Before the commander's decision when there is one; else dispatch decides alone.
        basis_from = (
            assigned if assigned is not None and assigned < dispatch else t0 + timedelta(seconds=30)
        )
        self._basis(between(rng, basis_from, dispatch - timedelta(seconds=20)), dispatch)

        division = int((where.beat or "1-1").split("-")[0])
        roster = UnitRoster.for_division(rng, division)
        counts = {"manpower_april_13": 2, "clear_house_march_30": 2, "mailboxes_k9": 3}
        patrol = [roster.patrol() for _ in range(counts.get(h.script) or rng.randint(2, 3))]
        department = patrol + ([roster.supervisor()] if h.sergeant_stands_in else [])
        arrivals: dict[str, tuple[datetime, datetime]] = {}  # unit -> (on scene, cleared)
        for index, unit in enumerate(department):
            sent = dispatch if index == 0 else dispatch + seconds(rng, 0, 90)
            arrivals[unit.id] = self._respond(unit, sent)
        first_arrival = min(on for on, _ in arrivals.values())
        if h.script == "standard" and rng.random() < 0.2:
            self._cancelled(roster.patrol(), dispatch + seconds(rng, 0, 60))

        on_scene_units = list(department)
        if assigned is not None and h.commander_presence != "absent":
            unit = roster.commander(commanding)
            arrivals[unit.id] = self._commander_responds(
                unit, max(assigned, dispatch), first_arrival
            )
            on_scene_units.append(unit)
        last_cleared = max(cleared for _, cleared in arrivals.values())
        if h.script != "standard" or rng.random() < 0.3:
            last_cleared = max(last_cleared, self._federal_unit(roster, last_cleared))

        lapses = dict(zip((u.id for u in patrol), h.bodycam_lapses, strict=False))
        for unit in on_scene_units:
            on, cleared = arrivals[unit.id]
            if not h.camera_feed:
                continue
            if unit.role == "commander" and rng.random() < 0.5:
                continue  # a commander's camera is not required: often it is not reported
            self._camera(unit, on, cleared, lapses.get(unit.id))

        b.updated(
            between(rng, first_arrival, last_cleared),
            narrative=self._scene_note(),
        )
        closed = last_cleared + minutes(rng, 1, 8)
        outcomes = ("ASSISTED OTHER AGENCY", "ARREST MADE", "REPORT TAKEN")
        b.closed(closed, rng.choice(outcomes) if h.script == "standard" else outcomes[0])
        self._report(closed)
        return closed

    def _basis(self, at: datetime, dispatch: datetime) -> None:
        rng, b, h = self.rng, self.builder, self.h
        if h.basis == "lawful":
            if rng.random() < 0.2 and at - self.t0 >= timedelta(seconds=20):
                # A first, undetermined basis, then the real one: only the latest counts.
                b.basis(
                    between(rng, self.t0 + timedelta(seconds=5), at - timedelta(seconds=10)),
                    "unknown",
                    "VERIFYING WITH AGENT",
                )
            self._lawful_basis(at)
        elif h.basis == "after_dispatch":
            self._lawful_basis(dispatch + minutes(rng, 2, 10))
        elif h.basis == "not_lawful":
            basis: LegalBasis = rng.choice(("civil_immigration", "none", "unknown"))
            b.basis(at, basis, "ASSIST REQUESTED BY AGENT")
        elif h.basis == "administrative_warrant":
            b.basis(
                at,
                "administrative_warrant",
                "AGENT HAS ADMIN WARRANT ONLY",
                reference=rng.choice(("I-200", "I-205")),
            )

    def _lawful_basis(self, at: datetime) -> None:
        rng = self.rng
        if self.lawful_kind == "criminal_warrant":
            reference = f"JC WARRANT {self.t0:%y}-{rng.choice('FM')}-{rng.randint(1, 999_999):06d}"
            self.builder.basis(at, "criminal_warrant", "ACTIVE LOCAL WARRANT CONFIRMED", reference)
        elif self.lawful_kind == "crime_occurred":
            self.builder.basis(at, "crime_occurred", "CRIME REPORTED BY AGENTS")
        else:
            self.builder.basis(at, "emergency", "AGENT INJURED / THREAT TO SAFETY")

    def _respond(self, unit: Unit, sent: datetime) -> tuple[datetime, datetime]:
        rng, b = self.rng, self.builder
        b.dispatched(sent, unit)
        rolling = sent + seconds(rng, 20, 120)
        b.en_route(rolling, unit)
        on = rolling + minutes(rng, 3, 20)
        b.on_scene(on, unit)
        cleared = on + minutes(rng, 15, 75)
        b.cleared(cleared, unit)
        return on, cleared

    def _cancelled(self, unit: Unit, sent: datetime) -> None:
        """A unit called off before arriving: never on scene, so no camera is due."""
        rng, b = self.rng, self.builder
        b.dispatched(sent, unit)
        rolling = sent + seconds(rng, 20, 90)
        b.en_route(rolling, unit)
        b.cleared(rolling + minutes(rng, 1, 4), unit)

    def _commander_responds(
        self, unit: Unit, earliest: datetime, first_arrival: datetime
    ) -> tuple[datetime, datetime]:
        rng, b = self.rng, self.builder
        sent = earliest + seconds(rng, 0, 60)
        b.dispatched(sent, unit)
        rolling = sent + seconds(rng, 10, 60)
        b.en_route(rolling, unit)
        soonest = rolling + timedelta(minutes=2)
        if self.h.commander_presence == "late":
            on = max(first_arrival + minutes(rng, 14, 40), soonest)
        else:
            on = max(first_arrival + seconds(rng, -180, 360), soonest)
            if on > first_arrival + COMMANDER_ON_SCENE_LIMIT:
                raise AssertionError(f"{self.builder.call_id}: commander cannot arrive in time")
        b.on_scene(on, unit)
        cleared = on + minutes(rng, 10, 50)
        b.cleared(cleared, unit)
        return on, cleared

    def _federal_unit(self, roster: UnitRoster, department_done: datetime) -> datetime:
        """The agents themselves, logged on scene; the policy's rules leave them out.

        Returns when they cleared."""
        call_sign = {"BORDER PATROL": "USBP"}.get(self.agency, self.agency)
        unit = roster.federal(self.caller.agency or self.agency, call_sign)
        self.builder.on_scene(self.t0 + seconds(self.rng, 0, 60), unit)
        cleared = department_done + seconds(self.rng, 0, 300)
        self.builder.cleared(cleared, unit)
        return cleared

    def _camera(self, unit: Unit, on: datetime, cleared: datetime, lapse: str | None) -> None:
        rng, b = self.rng, self.builder
        if lapse == "not_reported":
            return
        if lapse == "on_late":
            # Switched on minutes into the incident: the records show it was off at arrival.
            b.camera_on(on + minutes(rng, 3, 12), unit)
            b.camera_off(cleared + seconds(rng, 0, 45), unit)
            return
        b.camera_on(on + seconds(rng, -90, 40), unit)
        if lapse == "off_early":
            # Switched off mid-incident ("at the top of the stairs"), never back on.
            off = between(rng, on + timedelta(minutes=2), cleared - timedelta(minutes=3))
            b.camera_off(off, unit)
        else:
            b.camera_off(cleared + seconds(rng, 0, 45), unit)

    def _scene_note(self) -> str:
        if self.h.script == "manpower_april_13":
            return "OFC OFFERED TOW OF ABANDONED VEH FOR AGENT"
        if self.h.script == "mailboxes_k9":
            return "K-9 ENRT, PERIMETER SET AT TREE LINE"
        return self.rng.choice(("SCENE SECURE", "SUBJ DETAINED WITHOUT INCIDENT", "UNITS CLEARING"))

    def _report(self, closed: datetime) -> None:
        rng = self.rng
        number = f"80-{self.t0:%y}-{rng.randint(1, 999_999):06d}"
        if self.h.report == "prompt":
            self.builder.report(closed + minutes(rng, 5, 300), number)
        elif self.h.report == "late":
            self.builder.report(closed + minutes(rng, 8 * 60 + 10, 13 * 60), number)
