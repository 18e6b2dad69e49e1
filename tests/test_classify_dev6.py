"""The originator classifier after the sixth dev corpus (dev6.v5, scored blind first).

dev6.v5 was delivered as ``heldout.v5`` and scored blind at strict precision 0.938,
recall 0.840 on the classifier as tuned on dev5. Each test stands for one of its failure
categories, written here in new words (never the corpus's records):

- on-duty staff meeting an ordinary incident: what they witness, see or hear, on
  surveillance, from a government car; the agency's own vehicle broken down or hit;
- introductions dispatch types: "OFFICER <NAME>, <AGENCY>.", "<NAME> HERE FROM <AGENCY>",
  a Spanish "pregunta", a "removal officer", DHS moving a deportee to a removal flight;
- the agency as something else's object: a relay to it, a call type "coded as assist",
  "no ICE request", and its answer to a call LMPD made to it;
- people who are not it: one party to a dispute described by job, a retired officer
  ("RET."), a volunteer or hotline reporting agents, a carrier whose name borrows "CBP".
"""

from __future__ import annotations

import pytest

from tests.classify_helpers import decide


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("HSI AGENTS ON SURVEILLANCE NEAR PRESTON HWY HEARD SHOTS FROM A HOUSE", "ICE"),
        ("ICE AGENTS SITTING ON SURVEILLANCE OFF DIXIE SEE A MAN BEATING A WOMAN IN A CAR", "ICE"),
        ("DEPORTATION OFFICER DRIVING A GOVT CAR WITNESSED A CRASH AT 7TH AND BROADWAY", "ICE"),
        ("CBP TRANSPORT VAN BROKE DOWN ON I-65 SB WITH TWO DETAINEES ABOARD", "CBP"),
        ("HOMELAND SECURITY INVESTIGATIONS VEHICLE WAS REAR-ENDED AT 3RD AND OAK", "ICE"),
    ],
)
def test_on_duty_staff_meeting_an_ordinary_incident(narrative: str, agency: str) -> None:
    d = decide(narrative)
    assert d.immigration_agency and d.agency == agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("OFFICER KAREN LUTZ, IMMIGRATION AND CUSTOMS ENFORCEMENT. STATES SHE NEEDS A UNIT", "ICE"),
        ("TOM REYES HERE FROM IMMIGRATION AND CUSTOMS, ASKING IF A UNIT CAN STAND BY", "ICE"),
        ("AGENTE DE INMIGRACION PREGUNTA SI HAY UNIDADES PARA ACOMPANARLOS", "IMMIGRATION"),
        ("REMOVAL OFFICER ON THE LINE, SAYS WE DO REMOVALS, NEEDS A UNIT", "IMMIGRATION"),
        ("DHS OFFICERS ESCORTING A DEPORTEE TO A REMOVAL FLIGHT AT SDF REQ AN ESCORT CAR", None),
    ],
)
def test_an_agency_introduced_the_way_dispatch_types_it(narrative: str, agency: str | None) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    if agency is not None:
        assert (d.agency or "IMMIGRATION") == agency, d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "SGT REQUESTING METROSAFE RELAY TO CBP THAT THE DRIVER HAS BEEN RELEASED",
        "SGT ASKS RECORDS FOR ALL RUNS TYPED AS ASSIST CBP LAST YEAR FOR AN AUDIT",
        "JAIL CALLING TO NOTIFY FAMILY OF AN INMATE'S HOSPITAL STAY. NO ICE REQUEST, NO HOLD",
        "2B14 ASKS DISPATCH TO CONTACT ICE TO CONFIRM A DETAINER. ICE SAID NO DETAINER ON FILE",
    ],
)
def test_the_agency_as_the_object_of_someone_elses_doing(narrative: str) -> None:
    d = decide(narrative)
    assert not d.immigration_agency and not d.review, d.evidence_lines()


def test_an_agency_calling_back_on_its_own_is_still_the_caller() -> None:
    d = decide("ICE DUTY OFFICER CALLED BACK, SAID THEY NEED A UNIT AT THE SPEEDWAY")
    assert d.immigration_agency and d.agency == "ICE", d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "NEIGHBOR DISPUTE OVER A FENCE, ONE OF THEM IS AN HSI AGENT, CIVIL MATTER ADVISED",
        "RET. ICE OFFICER REPORTS HIS MAILBOX WAS VANDALIZED",
        "VOLUNTEER WITH AN IMMIGRANT RIGHTS HOTLINE SAYS ICE AGENTS WERE SEEN AT THE APTS",
        "CALLER FROM CBP FREIGHT (TRUCKING COMPANY) REPORTS A STOLEN TRAILER FROM THE LOT",
        "CALLER SAYS AN ICE VAN HIT HER MAILBOX AND KEPT GOING",
    ],
)
def test_people_who_are_not_the_agency(narrative: str) -> None:
    d = decide(narrative)
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("AGT WITH ICE SAYS THE MAN AT THE DOOR CLAIMS TO BE A US CITIZEN, WANT AN OFFICER", "ICE"),
        ("DHS AGENT SAYS SHE WORKS DEPORTATIONS, ASKS IF LMPD HAS A LOCAL WARRANT ON HIM", None),
        ("CALLER SAID 'BORDER PATROL, WE NEED A UNIT' AT THE TRUCK STOP ON FERN VALLEY", "CBP"),
        ("OFF. W/ U.S. CUSTOMS AND BORDER PROTECTION ON DUTY REPORTING A WRONG WAY DRIVER", "CBP"),
    ],
)
def test_the_agency_speaking_in_its_own_words(narrative: str, agency: str | None) -> None:
    """A subject's claim to be a citizen is no doubt on the caller; "we need" after the
    agency's name is the agency speaking; deportations are immigration work."""
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    if agency is not None:
        assert d.agency == agency, d.evidence_lines()


def test_a_prank_saying_we_are_the_agency_is_not_the_agency() -> None:
    d = decide("KIDS CALLING 911 SAYING 'THIS IS ICE, WE'RE COMING FOR YOU' AND LAUGHING")
    assert not d.immigration_agency, d.evidence_lines()


def test_a_reporter_named_with_their_group_is_not_the_caller() -> None:
    d = decide("ORGANIZER FROM A FAITH COALITION SAYS IMMIGRATION AGENTS ARE PARKED BY THE CHURCH")
    assert not d.immigration_agency, d.evidence_lines()


def test_an_employees_quarrel_with_a_neighbour_is_not_flagged() -> None:
    d = decide("NEIGHBOR DISPUTE OVER A PROPERTY LINE, CALLER SAYS SHE IS A CBP OFFICER")
    assert not d.immigration_agency, d.evidence_lines()
