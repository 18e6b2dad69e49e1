"""The originator classifier after the third dev corpus (dev3.v2, scored blind first).

Each test stands for a failure category seen on dev3.v2, written here in new words, so a
cue that only patched one record would fail them: another agency leading a group an
immigration agent belongs to, an employee's private business, a caller telling what
agents did to their own family, a private firm with an agency's letters, a building that
houses an agency, doubt about the subject rather than the caller, and the ways a caller
says who they are that the cues did not read (a form, "we're ...", a job title, "IMM").
"""

from __future__ import annotations

import pytest

from streams.agency_registry import registry_without_phones
from streams.classify import OriginatorSignals, classify_originator
from tests.classify_helpers import REGISTRY, decide, outcome


@pytest.mark.parametrize(
    "narrative",
    [
        "ATF GROUP W/ AN ERO OFFICER ATTACHED REQ 2 UNITS FOR A BUY-BUST, ATF IS THE LEAD",
        "HSI TFO CALLING FOR THE FBI-LED SAFE STREETS TASK FORCE, REQ PERIMETER ON ELM",
        "SA W/ HSI ON THE PHONE ON BEHALF OF THE DEA, REQ MARKED CAR FOR A STOP",
    ],
)
def test_an_immigration_member_of_a_group_another_agency_leads_is_not_the_caller(
    narrative: str,
) -> None:
    d = decide(narrative)
    assert not d.immigration_agency, d.evidence_lines()
    assert any("leads" in e.detail for e in d.ruled_out), d.evidence_lines()


def test_a_group_an_immigration_agency_leads_is_still_flagged() -> None:
    d = decide("HSI-LED TASK FORCE REQ 2 UNITS FOR A WARRANT AT 900 BLK ELM, DEA ASSISTING")
    assert d.immigration_agency and d.agency == "ICE", d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        ("LOUD MUSIC FROM THE DUPLEX NEXT DOOR SINCE 2300", {"caller_agency": "CBP"}),
        (
            "NEEDS A REPORT NUMBER FOR HIS INSURANCE, HIS CAR WAS KEYED AT THE MALL",
            {"email": "j.doe@ice.dhs.gov"},
        ),
        ("CALLER SAYS SHE IS AN ICE OFFICER, HER SON'S BIKE TAKEN FROM THE PORCH", {}),
    ],
)
def test_an_employees_private_business_is_never_a_flag(
    narrative: str, fields: dict[str, str]
) -> None:
    d = decide(narrative, **fields)
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "ICE AGENT REQ UNIT, HIS GOVT VEH WAS REAR-ENDED ON I-64, NEEDS A REPORT FOR INSURANCE",
        "CBP OFFICER ON DUTY REQ REPORT #, AGENCY SUV KEYED IN THE LOT, FOR THE INSURANCE CLAIM",
    ],
)
def test_insurance_for_the_governments_vehicle_is_the_agencys_business(narrative: str) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()


def test_the_agency_on_its_own_business_is_still_flagged_from_a_field() -> None:
    d = decide("REQ UNIT TO STAND BY WHILE THEY SERVE A WARRANT AT 12 ELM ST", caller_agency="CBP")
    assert d.immigration_agency and d.agency == "CBP", d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "RP STATES 'AGENTS FROM ICE DETAINED MY BROTHER AT WORK', WANTS TO KNOW WHERE HE IS",
        "caller says officers with immigration took our neighbor's kids' father yesterday",
    ],
)
def test_a_caller_telling_what_agents_did_to_their_own_is_a_civilian(narrative: str) -> None:
    assert outcome(decide(narrative)) != "positive", decide(narrative).evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "GUARD FROM HSI SECURITY SYSTEMS REPORTS A BREAK-IN AT THE WAREHOUSE ON PRESTON",
        "PATROL OFFICER OF HSI SECURITY CO (PRIVATE) REQ UNIT FOR TRESPASSER",
        "UNIT REQ BY THE CLINIC NEXT TO THE ICE OFFICE FOR A FALL VICTIM",
        "TSA SCREENER AT THE BUILDING THAT HOUSES CBP REQUESTS EMS FOR A FALL",
    ],
)
def test_a_private_firm_or_a_neighbouring_building_is_not_the_agency(narrative: str) -> None:
    assert not decide(narrative).immigration_agency, decide(narrative).evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("ERO OFC REQ UNIT, SUBJ INSISTS AND CLAIMS TO BE A US CITIZEN, NO ID", "ICE"),
        (
            "HSI SA ADV THE TARGET SAID HE WOULD SHOOT ANYONE WHO COMES TO HIS HOME, REQ 2 UNITS",
            "ICE",
        ),
        ("CBP OFFICER REQ CAR, THE DETAINEE CLAIMS TO BE SOMEONE ELSE", "CBP"),
    ],
)
def test_doubt_about_the_subject_is_no_doubt_about_the_agent(narrative: str, agency: str) -> None:
    d = decide(narrative)
    assert d.immigration_agency and d.agency == agency, d.evidence_lines()


def test_doubt_about_the_caller_still_counts_when_a_subject_is_named() -> None:
    d = decide("CALLER CLAIMS TO BE ICE AND WANTS A UNIT FOR A SUBJ AT 4TH AND ELM, HUNG UP")
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("PERIMETER NEEDED AT 400 BLK ELM, SUBJ RAN OUT THE BACK. WE ARE HSI", "ICE"),
        ("need a car at the motel lot, subject is sick. they're border patrol agents", "CBP"),
        ("CALLER IS THE ASSISTANT FIELD OFFICE DIRECTOR WITH ERO, REQ 2 CARS AT 7TH", "ICE"),
        ("ORIG: CBP | REQ: TRAFFIC CONTROL | LOC: I-65 MM 130", "CBP"),
        ("[10:01] CALLER: SA LOPEZ, HSI | REQ UNIT FOR PERIMETER", "ICE"),
        ("UNIT REQ TO 12 ELM. ** AGENT IS WITH USCIS **", "USCIS"),
        ("IMM OFFICERS REQ 2 UNITS AT 500 BLK OAK, SUBJ FLED ON FOOT", None),
        ("ISO (IMMIGRATION SERVICES OFFICER) ADV APPLICANT THREATENED STAFF, REQ UNIT", "USCIS"),
    ],
)
def test_ways_of_saying_who_is_calling(narrative: str, agency: str | None) -> None:
    d = decide(narrative)
    assert d.immigration_agency and d.agency == agency, d.evidence_lines()


def test_the_evaluation_registry_keeps_everything_but_the_example_numbers() -> None:
    bare = registry_without_phones()
    assert REGISTRY.by_phone("502-555-0140") is not None  # an example number, shipped
    assert bare.by_phone("502-555-0140") is None
    assert bare.by_email("x@ice.dhs.gov") is not None
    text = OriginatorSignals(narrative="ICE AGENT REQ UNIT AT 7TH ST")
    assert classify_originator(text, bare) == classify_originator(text, REGISTRY)
