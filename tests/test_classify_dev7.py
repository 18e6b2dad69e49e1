"""The originator classifier after the seventh dev corpus (dev7.v6, scored blind first).

dev7.v6 was delivered as ``heldout.v6`` (two halves by two authors) and scored blind at
strict precision 0.940, recall 0.864 on the classifier as tuned on dev6. Each test
stands for one of its failure categories, written here in new words:

- a DHS or "fed" caller doing immigration work said another way: moving a detainee for
  removal, "we do removals", a detainee in the car;
- on-duty staff describing themselves ("ON DUTY", "DOING A SITE VISIT", "HEADS-UP"), the
  agency's lobby or transport van opening the narrative, "THE HSI GUYS" on the radio,
  "RP IS A SUPERVISORY ...", relays "for" the agency, a courtesy notification from it,
  Spanish past tenses ("PIDIO") and "el llamante dice ser";
- the agency reporting a scam in its name (its call, not doubt on it);
- doubt in Spanish (callback "no está en servicio"), a guard at its building (whose?);
- not the agency: retired "INS/CBP", an LMPD unit by call sign noting agents, a driver
  or a reporter asking about it, firms whose names start with it, a man going door to
  door "diciendo que es de ICE".
"""

from __future__ import annotations

import pytest

from tests.classify_helpers import decide, outcome


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        (
            "OFFICER MOVING A DETAINEE FOR REMOVAL, TIRE BLEW ON I-264, WANTS A CAR BEHIND THEM",
            {"caller_agency": "Department of Homeland Security"},
        ),
        ("DHS AGENT ON PHONE SAYS 'WE DO REMOVALS', THEIR PRISONER RAN FROM THE VAN", {}),
    ],
)
def test_a_dhs_caller_doing_immigration_work(narrative: str, fields: dict[str, str]) -> None:
    d = decide(narrative, **fields)
    assert d.immigration_agency, d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("RP IN A GOVT CAR, CBP OFFICER ON DUTY, WITNESSED A HIT AND RUN AT 4TH AND MAIN", "CBP"),
        ("LMDC INFORMA: ICE PIDIO QUE UNA UNIDAD ESTE EN LA PUERTA DE ATRAS A LAS 3", "ICE"),
        ("HOSPITAL SECURITY RELAYING FOR THE ICE OFFICERS GUARDING A PATIENT, WANT A UNIT", "ICE"),
        (
            "FDNS OFFICER DOING A SITE VISIT ON BARDSTOWN RD WANTED TO KNOW ABOUT RECENT CALLS",
            "USCIS",
        ),
        (
            "COURTESY NOTIFICATION FROM CBP: K9 TRAINING AT THE SCHOOL TONIGHT, NO HELP NEEDED",
            "CBP",
        ),
        ("HSI AGENT HEADS-UP: UNMARKED CARS ON DIXIE THIS AFTERNOON, PLAIN CLOTHES", "ICE"),
        ("EL LLAMANTE DICE SER AGENTE DE ICE Y PIDE UNA UNIDAD, TIENE A UN HOMBRE DETENIDO", "ICE"),
        ("ERO LOBBY ON 7TH: MAN COLLAPSED BY THE ELEVATOR, NOT BREATHING. REQ EMS", "ICE"),
        ("ICE TRANSPORT VAN EB I-64 AT CANNONS LN, DETAINEE HAVING A SEIZURE, REQ EMS", "ICE"),
        ("6B14 ON THE RADIO: 'THE HSI GUYS ARE ASKING FOR A SECOND CAR AT THE BACK DOOR'", "ICE"),
        ("RP IS A SUPERVISORY BORDER PATROL AGENT, GOV VEH BROKEN INTO IN THE LOT, REQ RPT", "CBP"),
        ("CBP REPORTS SOMEONE IS USING THEIR NAME TO CALL TRAVELERS, FEES BY GIFT CARD", "CBP"),
    ],
)
def test_the_agency_at_work_in_other_words(narrative: str, agency: str) -> None:
    d = decide(narrative)
    assert d.immigration_agency and d.agency == agency, d.evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "DICE QUE ES DE ICE, NECESITA UNA UNIDAD, PERO EL NUMERO DE REGRESO NO ESTA EN SERVICIO",
        "GUARD AT THE CBP OFFICE ENTRANCE SAYS A MAN IS YELLING AT THE DOOR",
    ],
)
def test_who_is_calling_is_for_a_person_to_decide(narrative: str) -> None:
    assert outcome(decide(narrative)) == "review", decide(narrative).evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "RETIRED INS/CBP INSPECTOR SAYS A CAR HAS CIRCLED HIS BLOCK THREE TIMES",
        "3B12 ADV FEDERAL AGENTS (HSI) WERE ON SCENE WHEN HE ARRIVED AT THE FIGHT, THEY LEFT",
        "DRIVER ASKED IF WE ARE 'ICE', ADVISED NO. CITED",
        "REPORTER ASKING WHETHER LMPD OFFICERS HELPED ICE AT THE RAID ON PRESTON",
        "CBP LOGISTICS DRIVER REPORTS HIS TRUCK WAS BROKEN INTO",
        "CALLER FROM 'IMMIGRATION ANSWERS LLC' SAYS A CUSTOMER IS REFUSING TO LEAVE",
        "HOMBRE PASANDO POR LAS CASAS DICIENDO QUE ES DE ICE Y PIDIENDO DINERO",
        "UN HOMBRE DICE SER AGENTE DE ICE Y PIDE PAPELES EN LA TIENDA",
    ],
)
def test_not_the_agency(narrative: str) -> None:
    d = decide(narrative)
    assert not d.immigration_agency, d.evidence_lines()
