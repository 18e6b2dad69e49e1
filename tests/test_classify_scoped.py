"""The originator classifier's cues scoped to the caller (issue 15 item 3).

Each test stands for a failure category seen on the second dev corpus (dev2.v1), written
here in new words, so a cue that only patched one record would fail them: doubt words
that describe the situation rather than the caller, agency names as dispatchers shorten
or misspell them, and mentions of an agency that is not the one calling.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callwatch.originator_evaluation import evaluate_corpus, format_evaluation
from tests.classify_helpers import REGISTRY, decide, outcome

# ------------------------------------------ doubt about the situation, not the caller


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        # the doubt is the subject's or the case's, the agency is calling
        ("ICE AGENT REQ UNIT AT SHEETZ ON DIXIE, SUBJ CLAIMS TO HAVE A KNIFE IN HIS BAG", "ICE"),
        ("HSI SA REQ CAR, MALE THEY STOPPED GAVE A FALSE DOB TWICE", "ICE"),
        ("CBP OFFICER REQ ASSIST, PAX PRESENTED FAKE PASSPORT AT SECONDARY", "CBP"),
        (
            "USCIS OFFICER REQ STANDBY FOR A BENEFIT FRAUD INTERVIEW AT THE APPLICANT'S HOME",
            "USCIS",
        ),
        ("ERO OFFICERS REQ UNIT, TARGET MADE THREATS AGAINST THE TEAM ON FACEBOOK", "ICE"),
        # "AT HOME DEPOT" is a store, not the agent's own home
        ("BORDER PATROL AGT REQ UNIT AT HOME DEPOT ON BARDSTOWN RD FOR A CROWD", "CBP"),
    ],
)
def test_doubt_words_about_the_situation_leave_the_caller_alone(
    narrative: str, agency: str
) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    assert d.agency == agency


@pytest.mark.parametrize(
    "narrative",
    [
        "RP ADV A MAN CLAIMING TO BE AN ICE AGENT IS KNOCKING ON DOORS ON HILL ST",
        "FAKE ICE OFFICERS WENT DOOR TO DOOR ASKING FOR PAPERS, RESIDENTS SCARED",
        # the scam's own wording: payment by an app
        "caller said he was an immigration officer and her husband would be deported "
        "unless she sent $900 on Venmo, RP wants report",
        "SUBJ FALSELY IDENTIFIED HIMSELF AS HSI TO GET INTO THE APT COMPLEX",
    ],
)
def test_doubt_about_who_someone_is_still_settles_it(narrative: str) -> None:
    assert outcome(decide(narrative)) == "negative", decide(narrative).evidence_lines()


@pytest.mark.parametrize(
    "narrative",
    [
        "ICE AGENT REQ UNIT TO 300 BLK E MAIN, LINE DROPPED, CB NO ANSWER",
        "CALLER STATES HE IS WITH ICE AND NEEDS A CAR, HUNG UP BEFORE GIVING A NAME",
        "RP SAYS SHE IS CBP, WATCHING A SUSP VEH IN HER OWN CAR, UNK IF ON DUTY",
    ],
)
def test_a_claim_nobody_could_check_goes_to_review(narrative: str) -> None:
    assert outcome(decide(narrative)) == "review", decide(narrative).evidence_lines()


def test_a_hang_up_alone_does_not_rule_a_mention_out() -> None:
    # a bare mention of the agency's office, and the call dropped: still worth a look
    d = decide("REQ UNIT AT THE ICE OFFICE, 7TH ST, CALLER DISCONNECTED")
    assert not d.immigration_agency
    assert not any("DISCONNECTED" in e.detail for e in d.ruled_out), d.evidence_lines()


# ------------------------------------------------------- names as dispatchers type them


@pytest.mark.parametrize(
    ("narrative", "agency"),
    [
        ("IMMIGRATIONS AND CUSTOMS AGT ON LINE 2 REQ SUPV", "ICE"),
        ("IMMIG & CUST ENF OFFICERS REQ 2 UNITS, SUBJ FLED ON FOOT", "ICE"),
        ("IMMIG OFFICER REQ CAR AT GREYHOUND", None),
        ("HOMELAND SEC INVEST. SA REQ UNIT FOR A KNOCK AT 12TH AND OAK", "ICE"),
        ("FRAUD DETECTION & NATL SECURITY OFFICER REQ STANDBY AT A SITE VISIT", "USCIS"),
        ("H S I REQ ONE CAR AT THE BUS STATION", "ICE"),
        ("RP STATED 'WE'RE WITH DHS IMMIGRATION, NEED A PERIMETER' 400 BLK OAK", None),
        ("CALLER SAYS SHE'S WITH IMMIGRATION, TEAM IS AT THE APTS, NEEDS A CAR", None),
        # a unit or office between the name and the title, a place before the verb
        ("USCIS ASYLUM DIVISION OFFICER REPORTING A THREATENING APPLICANT, WANTS RPT", "USCIS"),
        ("ICE FIELD OFFICE ON W BROADWAY ADV A DETAINEE IS BEING RELEASED", "ICE"),
        ("US CUSTOMS AND BORDER PROTECTION @ SDF CARGO REQ UNIT FOR A DRIVER", "CBP"),
    ],
)
def test_names_as_typed_are_read_as_the_caller(narrative: str, agency: str | None) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    assert d.agency == agency


@pytest.mark.parametrize(
    "narrative",
    [
        # shortened words stand for a name's word only inside a longer name
        "CUST ADV ANOTHER CUST THREW A DRINK AT HER, REQ UNIT",
        "CUST REQ UNIT, MALE REFUSING TO LEAVE THE STORE",
        "IMMIG REQ: NONE. RP ADV NOISE COMPLAINT",
        "ICE ON RDWY AT I-64 AND CANNONS LN, VEHS SLIDING, REQ SALT TRUCK",
    ],
)
def test_short_forms_and_weather_are_not_an_agency(narrative: str) -> None:
    assert outcome(decide(narrative)) == "negative", decide(narrative).evidence_lines()


# ------------------------------------------------------ mentions that are not the caller


@pytest.mark.parametrize(
    "narrative",
    [
        "CALLER IS DEA SA, HIS TEAM (DEA, LMPD, HSI TFO) IS ON A STOP ON 7TH, REQ MARKED UNIT",
        "ATF GROUP SUPV ADV TASK FORCE (ATF/ICE/LMPD) SERVING ATF WARR, REQ UNIT ON THE ALLEY",
        "OFFICE OF INSPECTOR GENERAL SA W/ DHS REQ UNIT TO STAND BY AT AN INTERVIEW",
        "KIDS IN 'ICE' COSTUMES RINGING DOORBELLS ON HALLOWEEN, RP ANNOYED",
        "RP NEEDS A POLICE REPORT FOR USCIS, HER PASSPORT WAS STOLEN",
        "RP RECEIVED A LETTER FROM USCIS FOR A MAN WHO DOES NOT LIVE THERE, REQ RPT",
        "RP SAYS NEIGHBOR (WORKS FOR ICE PER RP) REVS HIS TRUCK AT 5 AM",
        "LOS VECINOS CREEN QUE ES LA MIGRA EN UNA CAMIONETA BLANCA, PIDEN QUE LA POLICIA PASE",
        "A.T.F. AGENT ADV SHE WILL BE AT A PAWN SHOP FOR AN INSPECTION",
    ],
)
def test_mentions_that_are_not_the_caller_are_not_flagged(narrative: str) -> None:
    d = decide(narrative)
    assert outcome(d) == "negative", d.evidence_lines()


def test_a_group_whose_caller_is_not_named_goes_to_review() -> None:
    d = decide("TASK FORCE (HSI/USMS/KSP) REQ 2 CARS FOR A PERIMETER, CALLER'S AGENCY NOT GIVEN")
    assert outcome(d) == "review", d.evidence_lines()
    # but one person's badges in brackets are not a group: the HSI TFO is calling
    d = decide("DET A. BELL (LMPD, HSI TFO) REQ UNITS FOR AN HSI OPERATION")
    assert d.immigration_agency and d.agency == "ICE", d.evidence_lines()


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        ("RP'S PERSONAL CAR WAS KEYED AT KROGER", {"caller_agency": "ICE (off duty)"}),
        ("RP ADV HE IS OFF DUTY, HIS BIKE WAS STOLEN", {"caller_agency": "U.S. Border Patrol"}),
        ("NOISE COMPLAINT NEXT DOOR, NOT WORK RELATED", {"caller_name": "SA DOE, HSI"}),
    ],
)
def test_an_employee_off_duty_is_not_the_agency(narrative: str, fields: dict[str, str]) -> None:
    d = decide(narrative, **fields)
    assert outcome(d) == "negative", d.evidence_lines()
    assert any("calling for themselves" in e.detail for e in d.ruled_out)


def test_a_stated_agency_on_duty_still_flags() -> None:
    d = decide("REQ UNIT FOR A SUBJ WHO RAN FROM THEIR STOP", caller_agency="ICE ERO")
    assert d.immigration_agency and d.agency == "ICE"


def test_a_registered_number_against_the_text_goes_to_review() -> None:
    # 502-555-0140 is the shipped registry's (fictitious) ICE number
    d = decide("RP ADV HER SON WORKS FOR ICE, SHE CANNOT REACH HIM", phone="502-555-0140")
    assert outcome(d) == "review", d.evidence_lines()
    assert any(e.signal == "conflict" for e in d.evidence)
    # with nothing in the text against it, the number alone still flags
    assert decide("REQ CALLBACK RE A SUBJ", phone="502-555-0140").immigration_agency


def test_evidence_keeps_every_agency_read_in_one_clause() -> None:
    d = decide("FBI TASK FORCE (LMPD/HSI) SUPV REQ UNIT FOR A STOP. CALLER IS FBI SA")
    assert outcome(d) == "negative"
    assert any(e.signal == "narrative" and "HSI" in e.matched for e in d.ruled_out), (
        d.evidence_lines()
    )


def test_the_second_dev_corpus_meets_the_targets() -> None:
    # dev2.v1 was held out until its blind score (strict 0.933 / 0.881) was recorded, then
    # tuned on: this guards against regressions, it is no blind estimate
    path = Path(__file__).parent / "corpus" / "blind" / "dev2.v1.jsonl"
    with path.open(encoding="utf-8") as f:
        result = evaluate_corpus(f, REGISTRY)
    report = format_evaluation(result)
    assert not result.errors, report
    assert result.counts == {"positive": 143, "negative": 193, "ambiguous": 27}, report
    assert result.precision >= 0.98 and result.recall >= 0.98, report
    assert result.agency_wrong == 0, report
