"""The everyday calls that make up almost all of a dispatch floor's traffic, and
the false friends: ordinary calls whose text looks like an immigration agency's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from schemas.events import LineKind

CallerStyle = Literal[
    "civilian", "alarm_company", "business", "officer", "vice_detective", "federal_other"
]


@dataclass(frozen=True, slots=True)
class CallKind:
    call_type: str
    narratives: tuple[str, ...]
    weight: float = 1.0
    caller: CallerStyle = "civilian"
    line: LineKind = "911"
    priority: tuple[str, ...] = ("3",)
    units: tuple[int, int] = (1, 1)
    no_unit_share: float = 0.0  # handled by phone / no unit available
    on_view: bool = False  # an officer saw it: on scene the moment it is entered
    report_share: float = 0.3
    supervisor_share: float = 0.0
    dispositions: tuple[str, ...] = ("ADVISED", "NO REPORT")
    follow_ups: tuple[str, ...] = ()
    # False friends only
    false_friend: str | None = None
    caller_agency: str | None = None  # for officers and other agencies
    agency_type: str | None = None
    email_domain: str | None = None
    officer_surname: str | None = None  # the first unit's officer (Officer Rice)


_V = "{color} {make}"

ORDINARY: Final = (
    CallKind(
        "TRAFFIC STOP",
        ("TRAFFIC STOP " + _V + " KY TAG {tag}", "STOPPED " + _V + " FOR EXPIRED TAGS"),
        weight=9,
        caller="officer",
        line="radio",
        priority=("4",),
        on_view=True,
        units=(1, 2),
        report_share=0.15,
        dispositions=("CITATION", "WARNING", "ARREST"),
    ),
    CallKind(
        "DISTURBANCE",
        (
            "CALLER REPORTS 2 MALES YELLING IN PARKING LOT",
            "VERBAL DISTURBANCE AT GAS STATION, NO WEAPONS SEEN",
            "NEIGHBORS ARGUING IN FRONT YARD",
        ),
        weight=7,
        priority=("2", "3"),
        units=(1, 2),
        report_share=0.15,
        dispositions=("ADVISED", "GONE ON ARRIVAL", "SEPARATED PARTIES"),
        follow_ups=("CALLER ADVISES PARTIES NOW INSIDE",),
    ),
    CallKind(
        "BURGLARY ALARM",
        ("AUDIBLE ALARM, REAR DOOR ZONE", "MOTION ALARM INTERIOR, NO KEYHOLDER RESPONDING"),
        weight=6,
        caller="alarm_company",
        line="admin",
        priority=("3",),
        report_share=0.05,
        dispositions=("FALSE ALARM", "BUILDING SECURE"),
    ),
    CallKind(
        "WELFARE CHECK",
        (
            "CALLER REQ CHECK ON ELDERLY NEIGHBOR, NOT SEEN IN 2 DAYS",
            "MOTHER REQ CHECK ON ADULT SON, NOT ANSWERING PHONE",
        ),
        weight=6,
        line="admin",
        report_share=0.1,
        dispositions=("SUBJ OK", "ADVISED", "TRANSPORTED BY EMS"),
    ),
    CallKind(
        "DOMESTIC",
        (
            "FEMALE CALLER STATES BOYFRIEND PUSHED HER, HE IS STILL ON SCENE",
            "CALLER HEARS NEIGHBORS FIGHTING, SOUNDS OF GLASS BREAKING",
        ),
        weight=6,
        priority=("1", "2"),
        units=(2, 2),
        report_share=0.7,
        dispositions=("REPORT TAKEN", "ARREST", "SEPARATED PARTIES"),
        follow_ups=("CALLER DISCONNECTED, CALLBACK NO ANSWER",),
    ),
    CallKind(
        "THEFT",
        ("CALLER STATES PACKAGE STOLEN FROM PORCH", "CATALYTIC CONVERTER STOLEN OVERNIGHT"),
        weight=6,
        line="admin",
        priority=("4",),
        no_unit_share=0.25,
        report_share=0.85,
        dispositions=("REPORT TAKEN", "PHONE REPORT"),
    ),
    CallKind(
        "ACCIDENT NO INJURY",
        ("2 VEH ACCIDENT, NO INJURIES, BLOCKING LANE", "REAR END COLLISION IN TURN LANE"),
        weight=7,
        priority=("3",),
        report_share=0.5,
        dispositions=("REPORT TAKEN", "INFO EXCHANGED"),
    ),
    CallKind(
        "ACCIDENT W/ INJURY",
        ("2 VEH ACCIDENT, 1 COMPLAINING OF NECK PAIN, EMS ENRT", "VEH VS PEDESTRIAN, EMS ENRT"),
        weight=3,
        priority=("1",),
        units=(2, 3),
        report_share=0.95,
        supervisor_share=0.2,
        dispositions=("REPORT TAKEN",),
    ),
    CallKind(
        "NOISE COMPLAINT",
        ("LOUD MUSIC FROM APARTMENT ABOVE", "PARTY IN BACKYARD, AMPLIFIED MUSIC"),
        weight=5,
        line="admin",
        priority=("5",),
        no_unit_share=0.15,
        report_share=0.0,
        dispositions=("ADVISED", "GONE ON ARRIVAL"),
    ),
    CallKind(
        "SUSPICIOUS PERSON",
        ("MALE CHECKING CAR DOOR HANDLES", "SUBJ LOOKING INTO WINDOWS OF VACANT HOUSE"),
        weight=6,
        priority=("2", "3"),
        units=(1, 2),
        report_share=0.1,
        dispositions=("GONE ON ARRIVAL", "SUBJ ADVISED", "UNFOUNDED"),
    ),
    CallKind(
        "MEDICAL ASSIST",
        ("FEMALE FELL, CONSCIOUS AND BREATHING, EMS ENRT", "MALE DIFFICULTY BREATHING, EMS ENRT"),
        weight=5,
        priority=("2",),
        report_share=0.05,
        dispositions=("TRANSPORTED BY EMS", "ASSISTED EMS"),
    ),
    CallKind(
        "SHOPLIFTING",
        ("LOSS PREVENTION HAS 1 DETAINED", "SUBJ LEFT STORE WITH UNPAID MERCH, HEADED WB"),
        weight=4,
        caller="business",
        line="admin",
        priority=("3",),
        report_share=0.75,
        dispositions=("CITATION", "REPORT TAKEN", "GONE ON ARRIVAL"),
    ),
    CallKind(
        "VANDALISM",
        ("GRAFFITI ON SIDE OF BUILDING", "CAR WINDOWS BROKEN OVERNIGHT"),
        weight=3,
        line="admin",
        priority=("4",),
        no_unit_share=0.15,
        report_share=0.8,
        dispositions=("REPORT TAKEN", "PHONE REPORT"),
    ),
    CallKind(
        "PARKING COMPLAINT",
        ("VEH BLOCKING DRIVEWAY", "VEH PARKED IN FIRE LANE"),
        weight=3,
        line="admin",
        priority=("5",),
        no_unit_share=0.25,
        report_share=0.0,
        dispositions=("CITATION", "TOWED", "GONE ON ARRIVAL"),
    ),
    CallKind(
        "HIT AND RUN",
        ("CALLER'S PARKED VEH STRUCK, OTHER VEH LEFT SB", "HIT AND RUN, SUSPECT " + _V),
        weight=3,
        report_share=0.9,
        dispositions=("REPORT TAKEN",),
    ),
    CallKind(
        "FIGHT",
        ("MULTIPLE SUBJS FIGHTING OUTSIDE BAR", "2 FEMALES FIGHTING IN STREET"),
        weight=3,
        priority=("1", "2"),
        units=(2, 3),
        report_share=0.3,
        supervisor_share=0.3,
        dispositions=("GONE ON ARRIVAL", "ARREST", "SEPARATED PARTIES"),
    ),
    CallKind(
        "SHOTS FIRED",
        ("CALLER HEARD 3-4 SHOTS TO THE NORTH", "MULTIPLE CALLERS REPORT SHOTS IN AREA"),
        weight=2,
        priority=("1",),
        units=(2, 4),
        report_share=0.4,
        supervisor_share=0.5,
        dispositions=("UNFOUNDED", "REPORT TAKEN", "CASINGS RECOVERED"),
    ),
    CallKind(
        "STOLEN VEHICLE",
        ("CALLER STATES " + _V + " STOLEN FROM DRIVEWAY OVERNIGHT",),
        weight=2,
        line="admin",
        report_share=0.95,
        dispositions=("REPORT TAKEN",),
    ),
    CallKind(
        "TRESPASS",
        ("SUBJ REFUSING TO LEAVE STORE", "SUBJS IN VACANT BUILDING"),
        weight=2,
        caller="business",
        line="admin",
        report_share=0.2,
        dispositions=("SUBJ ADVISED", "ARREST", "GONE ON ARRIVAL"),
    ),
    CallKind(
        "MISSING PERSON",
        ("15 YOF DID NOT RETURN FROM SCHOOL", "ELDERLY MALE W/ DEMENTIA WALKED AWAY FROM HOME"),
        weight=1,
        priority=("2",),
        units=(1, 2),
        report_share=0.95,
        dispositions=("REPORT TAKEN", "LOCATED"),
    ),
    CallKind(
        "FOUND PROPERTY",
        ("CALLER FOUND WALLET IN PARKING LOT", "BICYCLE LEFT IN YARD FOR 3 DAYS"),
        weight=1,
        line="admin",
        priority=("5",),
        no_unit_share=0.4,
        report_share=0.5,
        dispositions=("PROPERTY COLLECTED", "ADVISED"),
    ),
    CallKind(
        "ROAD HAZARD",
        ("DEBRIS IN ROADWAY, LEFT LANE", "TRAFFIC LIGHT OUT AT INTERSECTION"),
        weight=2,
        priority=("3",),
        report_share=0.0,
        dispositions=("HAZARD REMOVED", "METRO PUBLIC WORKS NOTIFIED"),
    ),
    CallKind(
        "ASSIST OTHER AGENCY",
        ("KY STATE POLICE REQ UNIT FOR TRAFFIC CONTROL AT CRASH", "LMFD REQ UNIT FOR SCENE SAFETY"),
        weight=1,
        line="radio",
        caller="officer",
        report_share=0.05,
        dispositions=("ASSISTED OTHER AGENCY",),
    ),
)

FALSE_FRIENDS: Final = (
    CallKind(
        "ROAD HAZARD",
        ("CALLER ADVISES ICE ON ROADWAY AT OVERPASS, SEVERAL CARS SLIDING",),
        false_friend="ice_on_roadway",
        report_share=0.0,
        dispositions=("METRO PUBLIC WORKS NOTIFIED",),
    ),
    CallKind(
        "ACCIDENT NO INJURY",
        ("2 VEH SLID ON BLACK ICE, NO INJURIES, BOTH VEH IN DITCH",),
        false_friend="black_ice",
        report_share=0.5,
        dispositions=("REPORT TAKEN", "INFO EXCHANGED"),
    ),
    CallKind(
        "TRANSPORT",
        ("VICE UNIT REQ MARKED CAR FOR TRANSPORT OF 1 IN CUSTODY",),
        false_friend="vice_unit",
        caller="vice_detective",
        caller_agency="LMPD VICE",
        line="radio",
        report_share=0.0,
        dispositions=("TRANSPORTED",),
    ),
    CallKind(
        "TRAFFIC STOP",
        ("OFC RICE ON TRAFFIC STOP " + _V + ", REQ 2ND UNIT",),
        false_friend="officer_rice",
        caller="officer",
        caller_agency="LMPD",
        line="radio",
        on_view=True,
        units=(2, 2),
        officer_surname="Rice",
        report_share=0.1,
        dispositions=("CITATION", "WARNING"),
    ),
    CallKind(
        "ASSIST OTHER AGENCY",
        ("FBI AGENTS REQ MARKED UNIT FOR PERIMETER ON FEDERAL ARREST WARRANT",),
        false_friend="fbi",
        caller="federal_other",
        caller_agency="FBI",
        agency_type="police.federal.fbi",
        email_domain="fbi.gov",
        line="admin",
        units=(2, 2),
        report_share=0.3,
        dispositions=("ASSISTED OTHER AGENCY",),
    ),
    CallKind(
        "ASSIST OTHER AGENCY",
        ("DEA TASK FORCE REQ TRAFFIC STOP ON " + _V + ", PC FOR NARCOTICS",),
        false_friend="dea",
        caller="federal_other",
        caller_agency="DEA",
        agency_type="police.federal.dea",
        email_domain="dea.gov",
        line="admin",
        report_share=0.3,
        dispositions=("ASSISTED OTHER AGENCY", "ARREST"),
    ),
    CallKind(
        "ASSIST OTHER AGENCY",
        ("US MARSHALS FUGITIVE TASK FORCE REQ ASSIST ON FELONY WARRANT",),
        false_friend="us_marshals",
        caller="federal_other",
        caller_agency="U.S. Marshals Service",
        agency_type="police.federal.marshal",
        email_domain="usms.gov",
        line="admin",
        units=(2, 3),
        report_share=0.3,
        dispositions=("ASSISTED OTHER AGENCY", "ARREST"),
    ),
    CallKind(
        "ASSIST OTHER AGENCY",
        ("ATF AGENTS REQ UNIT TO STANDBY DURING SEARCH WARRANT",),
        false_friend="atf",
        caller="federal_other",
        caller_agency="ATF",
        agency_type="police.federal.atf",
        email_domain="atf.gov",
        line="admin",
        report_share=0.2,
        dispositions=("ASSISTED OTHER AGENCY",),
    ),
    CallKind(
        "DOMESTIC",
        ("CALLER STATES HUSBAND HIT HER, SHE IS AFRAID ICE WILL COME IF POLICE RESPOND",),
        false_friend="afraid_of_ice",
        priority=("1",),
        units=(2, 2),
        report_share=0.9,
        dispositions=("REPORT TAKEN", "ARREST"),
        follow_ups=("ADVISED CALLER LMPD DOES NOT ENFORCE IMMIGRATION LAW",),
    ),
    CallKind(
        "FRAUD",
        (
            "CALLER REPORTS MALE CLAIMING TO BE AN ICE AGENT DEMANDING $500 CASH OR HE WILL"
            " DEPORT HER HUSBAND",
        ),
        false_friend="ice_impersonator",
        line="admin",
        report_share=1.0,
        dispositions=("REPORT TAKEN",),
        follow_ups=("SUSP LEFT IN " + _V + ", NO ICE CREDENTIALS SHOWN",),
    ),
    CallKind(
        "TRAFFIC STOP",
        (
            "NCIC HIT RETURNED ICE IMMIGRATION DETAINER, NO LOCAL OR CRIMINAL WARRANT,"
            " SUBJ CITED AND RELEASED",
        ),
        false_friend="ncic_immigration_detainer",
        caller="officer",
        caller_agency="LMPD",
        line="radio",
        on_view=True,
        report_share=0.0,
        dispositions=("CITATION",),
    ),
    CallKind(
        "NOISE COMPLAINT",
        ("ICE CREAM TRUCK PLAYING MUSIC AFTER 10 PM",),
        false_friend="ice_cream_truck",
        line="admin",
        priority=("5",),
        report_share=0.0,
        dispositions=("ADVISED", "GONE ON ARRIVAL"),
    ),
    CallKind(
        "ASSIST OFFICER",
        ("OFC REQ ADDITIONAL UNIT FOR CROWD CONTROL, NOT AN EMERGENCY",),
        false_friend="lmpd_assist_officer_no_emergency",
        caller="officer",
        caller_agency="LMPD",
        line="radio",
        on_view=True,
        units=(2, 3),
        report_share=0.0,
        dispositions=("ASSISTED OFFICER",),
    ),
)

COLORS: Final = ("BLK", "WHI", "SIL", "RED", "BLU", "GRY", "GRN")
MAKES: Final = ("FORD F150", "HONDA CIVIC", "TOYOTA CAMRY", "CHEVY MALIBU", "NISSAN ALTIMA", "JEEP")
