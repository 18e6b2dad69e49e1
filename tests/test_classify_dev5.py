"""The originator classifier after the fifth dev corpus (dev5.v4, scored blind first).

dev5.v4 was delivered as ``heldout.v4`` and scored blind at strict precision 0.948,
recall 0.930 on the classifier as tuned on dev4. Each test stands for one of its failure
categories, written here in new words:

- a neighbour telling in Spanish what "un agente" did; a local officer having dispatch
  log that agents were seen, "no request from them"; a place in brackets ("the one with
  the USCIS office in it"); another agency saying it is the caller ("FPS CALLER");
- an employee's private life said through a field: a witness on the way home, a
  passer-by, a family visit, their own dog;
- task forces: "FBI LEAD", an agent "DETAILED TO HIDTA";
- requests said another way ("WONDERING IF WE CAN GET A CAR", "ASKING IF LMPD WANTS TO"),
  the incident's words after an opening agency ("ASKING IF", "DEPORTATION") not taken
  for a civilian's, a longer office name before the verb, a relayed call;
- doubt said of the person sought or checked on, not of the caller.
"""

from __future__ import annotations

import pytest

from tests.classify_helpers import decide, outcome


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        ("SENORA DICE QUE UN AGENTE DE ICE CHOCO SU CARRO EN LA ESQUINA Y SE FUE", {}),
        ("OFC 4B22 ASKS DISPATCH TO NOTE THAT ICE AGENTS ARE PARKED AT THE SCHOOL. NO REQ", {}),
        ("CBP AGENTS IN 2 SUVS AT THE TRUCK STOP, NO CONTACT FROM THEM. AREA CHECK ONLY", {}),
        ("GUARD AT THE OFFICE PARK (THE ONE WITH THE ICE OFFICE IN IT) REQ UNIT FOR A FIGHT", {}),
        (
            "SUSPICIOUS PACKAGE NEAR THE USCIS OFFICE ENTRANCE IN THE FED BLDG. FPS IS THE CALLER",
            {},
        ),
    ],
)
def test_an_agency_someone_else_talks_about_is_not_the_caller(
    narrative: str, fields: dict[str, str]
) -> None:
    d = decide(narrative, **fields)
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        ("WITNESSED A ROLLOVER ON I-71 DRIVING HOME, BOTH OK", {"caller_agency": "CBP"}),
        ("PASSERBY STOPPED TO HELP AT A FENDER BENDER ON BARDSTOWN RD", {"caller_agency": "ICE"}),
        ("IN TOWN VISITING FAMILY, HIS RENTAL CAR WAS KEYED OVERNIGHT", {"caller_agency": "HSI"}),
        ("HER OWN CAT IS STUCK IN A STORM DRAIN BEHIND THE HOUSE", {"caller_agency": "USCIS"}),
    ],
)
def test_an_employees_private_life_behind_a_field_is_not_flagged(
    narrative: str, fields: dict[str, str]
) -> None:
    d = decide(narrative, **fields)
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "TFO (HSI MEMBER ON THE FBI SAFE STREETS TF) REQ A CAR AT THE CHURCH. FBI LEAD PER CALLER",
        "SA SAYS HE IS HSI DETAILED TO HIDTA, REQ TOW FOR A SEIZED CAR, IT IS A HIDTA CASE",
    ],
)
def test_a_task_force_another_agency_leads(narrative: str) -> None:
    d = decide(narrative)
    assert not d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("ERO OFFICER WATCHING A HOUSE ON MANSLICK, WONDERING IF WE CAN GET A CAR TO HELP", "ICE"),
        ("CBP OFFICER AT THE AIR HUB FOUND PILLS IN A PARCEL, ASKING IF LMPD WANTS IT", "CBP"),
        ("ICE DEPORTATION OFFICER SCRATCHED BY A CAT AT A RESIDENCE, REQ EMS", "ICE"),
        (
            "ICE 4TH ST OFFICE - RELEASING A FEMALE TODAY WITH A BENCH WARRANT. CAN YOU SEND ONE",
            "ICE",
        ),
        (
            "CBP OFFICER DE LA TERMINAL DE CARGA DEL AEROPUERTO, AREA SUR, DICE QUE ROBARON UNA",
            "CBP",
        ),
        ("SHIVELY PD RELAYING, ICE AGENTS AT THE MOTEL WANT AN LMPD CAR TO STAND BY", "ICE"),
        ("INMIGRATION AGENT REQ A CAR AT THE BUS STATION", "IMMIGRATION"),
    ],
)
def test_an_agency_calling_in_other_words(narrative: str, agency: str) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    assert (d.agency or "IMMIGRATION") == agency, d.evidence_lines()


def test_a_hang_up_by_the_person_checked_on_is_no_doubt_on_the_caller() -> None:
    d = decide("USCIS SUPV REQ WELFARE CHECK ON AN EMPLOYEE WHO CALLED IN CONFUSED AND HUNG UP")
    assert d.immigration_agency and d.agency == "USCIS", d.evidence_lines()


def test_a_dropped_call_from_the_caller_is_still_a_doubt() -> None:
    d = decide("CALLER SAYS HE IS AN ICE AGENT NEEDING A CAR, THEN HUNG UP. CB NO ANSWER")
    assert outcome(d) == "review", d.evidence_lines()
