"""The originator classifier, its agency registry and the ``classify`` command."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from callwatch.classify_input import InputRecord, parse_line
from callwatch.commands.classify import classify_command, classify_lines
from callwatch.originator_evaluation import evaluate_corpus, format_evaluation
from schemas import schema_path
from schemas.events import Caller, CallReceived, CallUpdated
from streams.agency_registry import (
    RegistryError,
    default_registry,
    email_domain,
    load_registry,
    normalise_phone,
)
from streams.classify import (
    NOTHING,
    OriginatorDecision,
    OriginatorSignals,
    classify_event,
    classify_originator,
    signals_from_event,
)

CORPUS = Path(__file__).parent / "corpus" / "originators.jsonl"
REGISTRY = default_registry()


def decide(narrative: str | None = None, **fields: str) -> OriginatorDecision:
    return classify_originator(OriginatorSignals(narrative=narrative, **fields), REGISTRY)


def is_negative(d: OriginatorDecision) -> bool:
    return not d.immigration_agency and not d.review


# ------------------------------------------------------------------- corpus


def labels_of(rows: list[dict[str, str]]) -> list[str]:
    return [r["label"] for r in rows]


def _corpus() -> list[dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_corpus_is_large_and_labelled() -> None:
    rows = _corpus()
    labels = [r["label"] for r in rows]
    assert len(rows) >= 250
    assert {"positive", "negative", "review"} == set(labels)  # review: read as ambiguous
    assert labels.count("positive") >= 80
    assert labels.count("negative") >= 120
    assert labels.count("review") >= 25
    assert len({r["id"] for r in rows}) == len(rows), "corpus ids must be unique"


def test_corpus_precision_and_recall() -> None:
    with CORPUS.open(encoding="utf-8") as f:
        result = evaluate_corpus(f, REGISTRY)
    report = format_evaluation(result)
    assert not result.errors, report
    assert result.precision >= 0.97, report
    assert result.recall >= 0.95, report
    assert result.agency_wrong == 0, report
    # review load on true negatives stays small: reviewing is a person's time
    assert result.negatives_to_review <= 0.05 * result.counts["negative"], report
    assert result.counts["ambiguous"] == labels_of(_corpus()).count("review")


@pytest.mark.parametrize(
    "row", [r for r in _corpus() if r["label"] == "review"], ids=lambda r: r["id"]
)
def test_every_review_label_is_sent_to_review(row: dict[str, str]) -> None:
    record = parse_line(json.dumps(row), 1)
    assert isinstance(record, InputRecord)
    d = classify_originator(record.signals, REGISTRY)
    assert d.review, d.evidence_lines()
    assert not d.immigration_agency


# -------------------------------------------------------- explicit positives


@pytest.mark.parametrize(
    ("narrative", "agency", "component"),
    [
        ("ICE ERO AGENT REQ ASSIST", "ICE", "ERO"),
        ("HSI SA SMITH ON LINE 3", "ICE", "HSI"),
        ("caller states she is with immigration and customs enforcement", "ICE", None),
        ("BORDER PATROL AGT REQ BACKUP", "CBP", "USBP"),
        ("AGENTS WITH ICE ASKING FOR UNITS", "ICE", None),
        ("USCIS OFFICER REQ UNIT FOR DISORDERLY SUBJ IN LOBBY", "USCIS", None),
        ("I.C.E. AGENTS REQ BACKUP ON FOOT PURSUIT", "ICE", None),
        ("DHS/ICE AGENT REQ OFFICER FOR CIVIL STANDBY", "ICE", None),
        ("ASSIST OTHER AGENCY - ICE. AGENTS REQ PERIMETER", "ICE", None),
        # KyCIR, 2017: ICE asks LMPD to serve a warrant on a man it is releasing
        (
            "ICE AGENT ADV THEY ARE RELEASING SUBJ ON OWN RECOGNIZANCE AT ICE OFFICE 7TH ST. "
            "SUBJ HAS FTA WARRANT OUT OF HARDIN CO, ASKING IF LMPD WANTS TO COME SERVE IT",
            "ICE",
            None,
        ),
    ],
)
def test_agency_callers_are_flagged(narrative: str, agency: str, component: str | None) -> None:
    d = decide(narrative)
    assert d.immigration_agency, d.evidence_lines()
    assert not d.review
    assert d.agency == agency
    assert d.component == component
    assert d.confidence >= 0.8
    assert d.evidence


def test_unnamed_immigration_officer_flags_without_an_agency_name() -> None:
    d = decide("IMMIGRATION OFFICERS ON SCENE REQ ADDITIONAL UNITS")
    assert d.immigration_agency
    assert d.agency is None


# --------------------------------------------------------- explicit negatives


@pytest.mark.parametrize(
    "narrative",
    [
        # weather and things made of ice
        "ice on roadway",
        "icy roads, multiple vehs sliding",
        "BLACK ICE ON BRIDGE, REQ SALT TRUCK",
        "caller slipped on ice in parking lot, hurt ankle, req EMS",
        "ICE CREAM TRUCK",
        "ICE CREAM TRUCK DRIVER REQ ASSIST W/ JUVENILES THROWING ROCKS",
        "ICE MACHINE BROKEN INTO AT MOTEL",
        "SUBJ SELLING ICE OUT OF VEH AT APT COMPLEX",
        "DE-ICER SPILLED ON ROADWAY",
        "ICE CONTACT IN PHONE LISTED AS MOTHER",
        # words containing ICE / ERO, and people named like it
        "VICE DET REQ",
        "NOTICE OF EVICTION POSTED ON DOOR",
        "POLICE SERVICE REQUESTED AT OFFICE",
        "OFC RICE REQ BACKUP AT 4TH AND MAIN",
        "OFFICER PRICE REQ SUPERVISOR",
        "CALLER MARY BICE REPORTS VEH BROKEN INTO",
        "SGT ICE REQ ADDITIONAL UNIT FOR CROWD",
        "ZERO VISIBILITY, FOG ON I-71",
        "HERO'S WELCOME PARADE ROUTE",
        # other federal agencies
        "FBI AGENT REQ ASSIST W/ SEARCH WARRANT",
        "FBI SPECIAL AGENT ON LINE 2 REQ SUPERVISOR",
        "DEA AGENTS REQ MARKED UNIT FOR STOP ON TARGET VEH",
        "US MARSHALS REQ ASSIST SERVING WARRANT",
        "ATF AGENTS REQ UNITS FOR SEARCH WARRANT",
        "SECRET SERVICE ADVANCE TEAM REQ TRAFFIC CONTROL",
        "TSA AT SDF REQ UNIT FOR PASSENGER W/ FIREARM",
        "FEMA INSPECTOR REQ ESCORT TO DAMAGED HOMES",
        "FEDERAL PROTECTIVE SERVICE REQ ASSIST AT FEDERAL BUILDING",
        # civilians who mention ICE
        "caller afraid ICE will come",
        "neighbor says ICE took her husband",
        "CALLER'S SON WAS PICKED UP BY ICE, ASKING ABOUT HIS PROPERTY",
        "CALLER REPORTS ICE AGENTS AT NEIGHBORS HOUSE, ASKING IF LMPD IS INVOLVED",
        "LANDLORD THREATENED TO REPORT TENANT TO ICE",
        "PROTEST AGAINST ICE AT FEDERAL BUILDING",
        # impersonators: a crime report from a civilian
        "caller reports man claiming to be ICE demanding money",
        "CALLER REPORTS MALE AT DOOR SAYING HE IS WITH ICE, DEMANDING TO COME IN",
        "SCAM CALL - MALE POSING AS IMMIGRATION OFFICER DEMANDING GIFT CARDS",
        # a local officer reading a detainer
        "NCIC HIT IMMIGRATION DETAINER",
        "OFC ADV NCIC HIT ON SUBJ, ICE DETAINER, REQ TRANSPORT TO LMDC",
        # homeland security that is not DHS calling
        "HOMELAND SECURITY DRILL AT SCHOOL",
        "KENTUCKY OFFICE OF HOMELAND SECURITY REQ TRAFFIC CONTROL FOR EXERCISE",
        "DHS CASEWORKER REQ STANDBY FOR CHILD REMOVAL",
        # places and things
        "BORDER AVE AND S 4TH ST, VEH ACCIDENT",
        "WEDDING AT THE CUSTOMS HOUSE, GUEST INTOXICATED",
        "FEDERAL BLVD AND EUCLID AVE, HIT AND RUN",
        "BP GAS STATION CLERK REQ ASSIST W/ SHOPLIFTER",
        "BORDER/PORT RUNNER A/U",
        "IMMIGRATION LAWYER OFFICE BROKEN INTO OVERNIGHT",
        "IMMIGRATION COURT REQ ASSIST W/ DISRUPTIVE SUBJ IN LOBBY",
        # agents that are not federal
        "CALLER STATES SHE IS AN INSURANCE AGENT AND NEEDS A COPY OF REPORT",
        "AGENT FROM STATE FARM REQ REPORT NUMBER FOR ACCIDENT",
    ],
)
def test_false_friends_are_negative(narrative: str) -> None:
    d = decide(narrative)
    assert is_negative(d), d.evidence_lines()
    assert d.agency is None
    assert d.confidence < 0.4


def test_a_mention_that_was_ruled_out_leaves_evidence() -> None:
    d = decide("BLACK ICE, BRIDGE CLOSED")
    assert is_negative(d)
    assert d.evidence == ()
    assert [e.matched for e in d.ruled_out] == ["BLACK ICE"]
    assert "means something else" in d.ruled_out[0].detail
    d = decide("caller afraid ICE will come")
    assert any("not the caller" in e.detail for e in d.ruled_out)


@pytest.mark.parametrize(
    "name", ["RICE, JAMES", "PRICE, ANNA", "MING HSI", "HSI, MING", "JOHN ICE", "OFC ICE"]
)
def test_surnames_in_the_caller_field_are_negative(name: str) -> None:
    assert is_negative(decide("CALLER REPORTS THEFT", caller_name=name))


@pytest.mark.parametrize(
    "name", ["SA SMITH HSI", "AGT JONES ICE", "DOE, JANE (ICE)", "ICE", "HSI - DOE"]
)
def test_agency_marked_caller_field_is_positive(name: str) -> None:
    assert decide("REQ UNIT", caller_name=name).immigration_agency


# ------------------------------------------------- an agent in the caller field
# A title with no agency ("SA KIM DOE") adds up with a narrative that writes an
# immigration agency as the agent's own; neither is enough alone.


@pytest.mark.parametrize(
    ("name", "narrative", "agency"),
    [
        ("AGENT KIM DOE", "SUBJ IN ICE CUSTODY HAS LOCAL WARRANT, PICK UP AT ICE OFFICE", "ICE"),
        ("SA J. ROE", "INMATE IN HSI CUSTODY HAS OPEN JC WARRANT", "ICE"),
        ("S/A LEE", "CBP VEH RAMMED BY SUBJ ON DIXIE HWY, SUBJ FLED", "CBP"),
        ("DOE, JANE (SA)", "ICE OFFICERS AT REAR DOOR, SUBJ REFUSING TO COME OUT", "ICE"),
        ("SPECIAL AGENT R. ROE", "BORDER PATROL AGENTS IN FIELD, SUBJ FLED ON FOOT", "CBP"),
        (
            "AGT M. ROE",
            "WOULD LIKE A UNIT TO STOP BLK TAHOE FOR ICE, DRIVER HAS REMOVAL ORDER",
            "ICE",
        ),
    ],
)
def test_agent_title_and_own_agency_wording_add_up(name: str, narrative: str, agency: str) -> None:
    d = decide(narrative, caller_name=name)
    assert d.immigration_agency, d.evidence_lines()
    assert d.agency == agency
    assert any(e.signal == "caller_name" and "its own" in e.detail for e in d.evidence)
    # neither alone flags
    assert not decide(narrative, caller_name="KIM DOE").immigration_agency
    assert not decide("REQ UNIT", caller_name=name).immigration_agency


@pytest.mark.parametrize(
    ("name", "narrative", "fields", "expected"),
    [
        # "Agent" as a surname: a comma after it, or anywhere but the front
        ("AGENT, MARIA", "SUBJ IN ICE CUSTODY HAS LOCAL WARRANT", {}, "negative"),
        ("MARIA AGENT", "SUBJ IN ICE CUSTODY HAS LOCAL WARRANT", {}, "negative"),
        ("DO THANH", "SUBJ IN ICE CUSTODY HAS LOCAL WARRANT", {}, "negative"),
        # the custody is a relative's
        ("AGENT LUZ", "CALLER STATES HUSBAND IN ICE CUSTODY, NEEDS HIS CAR KEYS", {}, "negative"),
        ("AGENT LUZ", "HER SON IS IN ICE CUSTODY SINCE MONDAY", {}, "negative"),
        # once held, not now; a detainer read off NCIC; a civilian's fear
        ("SA X. ROE", "SUBJ PREVIOUSLY IN ICE CUSTODY, REQ UNITS", {}, "negative"),
        ("SA X. ROE", "SUBJ WAS RELEASED FROM ICE CUSTODY LAST WEEK", {}, "negative"),
        ("SA X. ROE", "SUBJ HAS ICE DETAINER PER NCIC, REQ TRANSPORT", {}, "negative"),
        ("SA X. ROE", "REQ CALL BACK FOR ICE TICKET INFO", {}, "negative"),
        ("SA X. ROE", "ICE CREAM TRUCK BLOCKING DRIVEWAY", {}, "negative"),
        # the agent is somebody else's
        ("SA X. ROE", "FBI AGENTS REQ UNITS, SUBJ IN ICE CUSTODY EARLIER", {}, "negative"),
        (
            "SA X. ROE",
            "SUBJ IN ICE CUSTODY, SERVE AT ICE OFFICE",
            {"caller_agency": "FBI"},
            "review",
        ),
        (
            "SA X. ROE",
            "SUBJ IN ICE CUSTODY, SERVE AT ICE OFFICE",
            {"caller_agency": "KSP"},
            "review",
        ),
        # not an agent's title
        ("OFC B. ROE", "SUBJ IN ICE CUSTODY, SERVE AT ICE OFFICE", {}, "review"),
        ("TFO B. ROE", "SUBJ IN ICE CUSTODY, SERVE AT ICE OFFICE", {}, "review"),
    ],
)
def test_agent_title_guards(
    name: str, narrative: str, fields: dict[str, str], expected: str
) -> None:
    d = decide(narrative, caller_name=name, **fields)
    got = "positive" if d.immigration_agency else "review" if d.review else "negative"
    assert got == expected, d.evidence_lines()


def test_agent_caller_event_without_a_stated_agency_is_flagged() -> None:
    event = CallReceived(
        event_id="e1",
        call_id="c1",
        occurred_at=datetime(2017, 4, 13, 9, 30, tzinfo=UTC),
        received_at=datetime(2017, 4, 13, 9, 30, tzinfo=UTC),
        source="test",
        caller=Caller(name="AGENT Kim Notreal", phone="502-555-0101"),
        narrative="SUBJECT IN ICE CUSTODY HAS LOCAL WARRANT, SERVE AT ICE OFFICE",
        call_type="WARRANT SERVICE",
    )
    d = classify_event(event, REGISTRY)
    assert d.immigration_agency and d.agency == "ICE", d.evidence_lines()
    # evidence reaches the oversight index unredacted: the title, never the name
    assert any("(AGENT in the caller field)" in line for line in d.evidence_lines())
    assert not any("NOTREAL" in line.upper() for line in d.evidence_lines())


def test_simulated_agency_wordings_flag_with_only_an_agent_title() -> None:
    """Every request the simulator words for an agency, on a call whose caller
    stated no agency: the title in the name field and the narrative must do."""
    from streams.simulation import agency_text as text

    requests = (
        text.CIVIL_REQUESTS
        + text.ADMIN_WARRANT_REQUESTS
        + text.CRIMINAL_WARRANT_REQUESTS
        + text.CRIME_REQUESTS
        + text.EMERGENCY_REQUESTS
    )
    missed = []
    for request in requests:
        for profile in text.AGENCY_PROFILES:
            narrative = request.format(agency=profile.shorthand)
            for name in ("SA KIM NOTREAL", "AGENT KIM NOTREAL"):
                for call_type in (*text.AGENCY_CALL_TYPES, *text.TROUBLE_CALL_TYPES):
                    d = decide(narrative, caller_name=name, call_type=call_type)
                    if not d.immigration_agency or d.agency != profile.agency:
                        missed.append((name, call_type, narrative, d.confidence))
    assert not missed, missed[:5]


# ---------------------------------------------------------------- ambiguous


@pytest.mark.parametrize(
    ("narrative", "fields"),
    [
        ("federal agent on line", {}),
        ("caller says he is an agent", {}),
        ("DHS", {}),
        ("SPECIAL AGENT JONES ON LINE 2 REQ SGT CALL HIM", {}),
        ("REQ ASSIST", {"caller_agency": "DHS"}),
        ("REQ ASSIST", {"caller_agency": "Department of Homeland Security"}),
        ("REQ UNIT", {"email": "jdoe@dhs.gov"}),
        ("REQ UNIT", {"agency_type": "police.federal"}),
        ("CALLER CLAIMS TO BE WITH ICE, REQ ADDRESS OF RESIDENT", {}),
    ],
)
def test_ambiguous_callers_go_to_review(narrative: str, fields: dict[str, str]) -> None:
    d = decide(narrative, **fields)
    assert d.review, d.evidence_lines()
    assert not d.immigration_agency
    assert 0.4 <= d.confidence < 0.8


def test_two_ambiguous_signals_never_add_up_to_a_flag() -> None:
    # DHS also covers FEMA, TSA, the Secret Service: wording alone cannot flag.
    d = decide("DHS AGENT REQ ASSIST", caller_agency="DHS", email="x@dhs.gov")
    assert d.review and not d.immigration_agency


def test_naming_a_dhs_component_settles_dhs() -> None:
    d = decide("REQ ASSIST", caller_agency="DHS", email="inspector@fema.dhs.gov")
    assert is_negative(d)


def test_another_agency_identified_by_a_system_turns_a_flag_into_review() -> None:
    d = decide("REQ ASSIST", agency_type="police.federal.fbi", email="j.doe@ice.dhs.gov")
    assert d.review and not d.immigration_agency
    assert any(e.signal == "conflict" for e in d.evidence)
    assert d.agency == "ICE"


# --------------------------------------------------------------- structured


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("502-555-0140", "5025550140"),
        ("(502) 555-0140", "5025550140"),
        ("+1 502 555 0140", "5025550140"),
        ("15025550140", "5025550140"),
        ("502.555.0140 ext. 12", "5025550140"),
        ("502-555-0140 x12", "5025550140"),
        ("call me", None),
    ],
)
def test_phone_normalisation(raw: str, digits: str | None) -> None:
    assert normalise_phone(raw) == digits


@pytest.mark.parametrize("field", ["phone", "callback_number"])
def test_registered_phone_is_strong(field: str) -> None:
    d = decide(None, **{field: "(502) 555-0144"})
    assert d.immigration_agency and d.agency == "ICE" and d.component == "ERO"


def test_phone_written_in_the_narrative_asks_for_review() -> None:
    d = decide("CB 502-555-0140 RE: SUBJ AT APT")
    assert d.review and d.agency == "ICE"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("john.doe@ice.dhs.gov", "positive"),
        ("Jane Roe <JANE.ROE@ICE.DHS.GOV>", "positive"),
        ("agent@ero.ice.dhs.gov", "positive"),  # a subdomain of a registered domain
        ("a@cbp.dhs.gov", "positive"),
        ("a@uscis.dhs.gov", "positive"),
        ("a@dhs.gov", "review"),
        ("a@hq.dhs.gov", "review"),
        ("a@fema.dhs.gov", "negative"),  # the most specific domain wins
        ("a@fbi.gov", "negative"),
        ("a@notice.gov", "negative"),  # label-wise, not substring
        ("a@justice.gov", "negative"),
        ("a@ice.dhs.gov.example.com", "negative"),
        ("ice@gmail.com", "negative"),
        ("not an address", "negative"),
    ],
)
def test_email_domains(email: str, expected: str) -> None:
    d = decide(None, email=email)
    got = "positive" if d.immigration_agency else "review" if d.review else "negative"
    assert got == expected, d.evidence_lines()


def test_email_domain_extraction() -> None:
    assert email_domain("Agent <a.b@ERO.ICE.DHS.GOV>") == "ero.ice.dhs.gov"
    assert email_domain("nobody") is None


@pytest.mark.parametrize(
    ("code", "agency"),
    [
        ("police.federal.ice", "ICE"),
        ("POLICE.FEDERAL.ICE", "ICE"),
        ("urn:emergency:service:responder.police.federal.ice", "ICE"),
        ("police.federal.ice.ero", "ICE"),  # sub-codes are covered
        ("police.federal.cbp", "CBP"),
    ],
)
def test_agency_type_codes(code: str, agency: str) -> None:
    d = decide(None, agency_type=code)
    assert d.immigration_agency and d.agency == agency
    assert d.confidence >= 0.9


@pytest.mark.parametrize(
    "code", ["police.federal.fbi", "police.federal.dea", "police.local", "fire", "psap"]
)
def test_other_agency_type_codes_are_negative(code: str) -> None:
    assert is_negative(decide(None, agency_type=code))


@pytest.mark.parametrize(
    "stated", ["ICE", "ICE ERO LOUISVILLE", "Homeland Security Investigations", "CBP OFO", "USCIS"]
)
def test_stated_agency_is_strong(stated: str) -> None:
    assert decide(None, caller_agency=stated).immigration_agency


@pytest.mark.parametrize("stated", ["ICE CREAM SHOP", "ICE HOUSE BAR", "FBI", "LMPD", "Citizen"])
def test_stated_agency_lookalikes(stated: str) -> None:
    assert is_negative(decide(None, caller_agency=stated))


# --------------------------------------------------------------- properties


def test_no_signals_is_the_shared_nothing_decision() -> None:
    assert decide() is NOTHING
    assert decide("LOUD MUSIC FROM APT 4", caller_name="DOE, JANE") is NOTHING


def test_decision_is_frozen() -> None:
    d = decide("ICE AGENT REQ ASSIST")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.review = True  # type: ignore[misc]


@settings(max_examples=300, deadline=None)
@given(
    narrative=st.one_of(st.none(), st.text(max_size=400)),
    name=st.one_of(st.none(), st.text(max_size=60)),
    agency=st.one_of(st.none(), st.text(max_size=60)),
    phone=st.one_of(st.none(), st.text(max_size=30)),
    email=st.one_of(st.none(), st.text(max_size=60)),
    code=st.one_of(st.none(), st.text(max_size=60)),
)
def test_any_input_gives_a_consistent_decision(
    narrative: str | None,
    name: str | None,
    agency: str | None,
    phone: str | None,
    email: str | None,
    code: str | None,
) -> None:
    signals = OriginatorSignals(
        caller_name=name,
        caller_agency=agency,
        agency_type=code,
        phone=phone,
        email=email,
        narrative=narrative,
    )
    d = classify_originator(signals, REGISTRY)
    assert 0.0 <= d.confidence <= 1.0
    assert not (d.immigration_agency and d.review)
    assert d.immigration_agency == (d.confidence >= 0.8)
    if d.immigration_agency or d.review:
        assert d.evidence


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "ICE",
                "HSI",
                "ERO",
                "DHS",
                "CBP",
                "AGENT",
                "SA",
                "REQ",
                "ASSIST",
                "ON",
                "LINE",
                "CALLER",
                "STATES",
                "SHE",
                "IS",
                "WITH",
                "FROM",
                "AFRAID",
                "NCIC",
                "DETAINER",
                "BLACK",
                "CREAM",
                ".",
                ",",
                ";",
                "/",
                "-",
                "U.S.",
                "I.C.E.",
                "BORDER",
                "PATROL",
                "FEDERAL",
            ]
        ),
        max_size=25,
    )
)
def test_agency_vocabulary_soup_never_crashes(words: list[str]) -> None:
    d = decide(" ".join(words))
    assert 0.0 <= d.confidence <= 1.0


# ------------------------------------------------------------------ events

_T = datetime(2017, 4, 13, 9, 30, tzinfo=UTC)


def test_signals_from_call_received() -> None:
    event = CallReceived(
        event_id="e1",
        call_id="c1",
        occurred_at=_T,
        received_at=_T,
        source="test",
        caller=Caller(name="SA DOE", agency="HSI", phone="502-555-0146"),
        narrative="REQ UNIT",
        call_type="ASSIST OTHER AGENCY",
    )
    signals = signals_from_event(event)
    assert signals.caller_agency == "HSI"
    assert signals.phone == "502-555-0146"
    assert signals.call_type == "ASSIST OTHER AGENCY"
    d = classify_event(event, REGISTRY)
    assert d.immigration_agency and d.agency == "ICE" and d.confidence >= 0.99


def test_signals_from_call_updated() -> None:
    event = CallUpdated(
        event_id="e2",
        call_id="c1",
        occurred_at=_T,
        received_at=_T,
        source="test",
        narrative="ICE AGENT ADV SUBJ FLED, REQ ADDITIONAL UNITS",
    )
    assert classify_event(event, REGISTRY).immigration_agency


# ----------------------------------------------------------------- registry


def _write(tmp_path: Path, text: str, name: str = "registry.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_registry_matches_its_json_schema() -> None:
    import jsonschema
    import yaml

    schema = json.loads(Path(schema_path("agency-registry.v1.schema.json")).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    doc = yaml.safe_load(Path(schema_path("agency-registry.v1.yaml")).read_text())
    jsonschema.validate(doc, schema)


def test_shipped_phone_numbers_are_fictitious_examples() -> None:
    doc_text = Path(schema_path("agency-registry.v1.yaml")).read_text()
    for number in REGISTRY._phones:
        assert number[3:6] == "555" and number[6:8] == "01", number
    assert "fictitious" in doc_text


def test_deployment_registry_extends_the_shipped_one(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
schema: callwatch.agency-registry/1
agencies:
  - id: ICE
    phones: ["502-555-0188"]
  - id: NEWCO
    kind: other
    name: A new federal agency
    names: [New Federal Office]
""",
    )
    registry = load_registry(path)
    d = classify_originator(OriginatorSignals(phone="502 555 0188"), registry)
    assert d.immigration_agency and d.agency == "ICE"
    # the shipped entries are still there
    assert classify_originator(OriginatorSignals(caller_agency="HSI"), registry).immigration_agency
    assert "NEWCO" in registry.agencies
    assert registry.sources[-1] == str(path)


def test_deployment_registry_can_replace_the_shipped_one(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
schema: callwatch.agency-registry/1
mode: replace
agencies:
  - id: ICE
    kind: immigration
    name: Immigration and Customs Enforcement
    abbreviations: [ICE]
""",
    )
    registry = load_registry(path)
    assert set(registry.agencies) == {"ICE"}
    decision = classify_originator(OriginatorSignals(caller_agency="CBP"), registry)
    assert decision is NOTHING


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema: callwatch.agency-registry/2\n", "schema"),
        ("schema: callwatch.agency-registry/1\nagencies: [{id: ice}]\n", "agencies[0].id"),
        (
            "schema: callwatch.agency-registry/1\nagencies: [{id: X, kind: spy, name: n}]\n",
            "agencies[0].kind",
        ),
        ("schema: callwatch.agency-registry/1\nextra: 1\n", "top level: must not contain"),
        ("schema: callwatch.agency-registry/1\nagencies: [\n", "not valid YAML"),
        ("- just a list\n", "top level"),
        (
            "schema: callwatch.agency-registry/1\n"
            "agencies: [{id: X, kind: other, name: n, phones: ['502 555 01000']}]\n",
            "not a 10-digit number",
        ),
        (
            "schema: callwatch.agency-registry/1\nmode: replace\n"
            "agencies: [{id: X, kind: other, name: n, names: [Same]},"
            " {id: Y, kind: other, name: m, names: [same]}]\n",
            "also a name of X",
        ),
        (
            "schema: callwatch.agency-registry/1\nagencies: [{id: NEW, names: [Thing]}]\n",
            "needs a kind and a name",
        ),
    ],
)
def test_bad_registry_fails_with_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read"):
        load_registry(tmp_path / "nope.yaml")


# ------------------------------------------------------------------ command


def _run(lines: list[str]) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    status = classify_lines(io.StringIO("\n".join(lines) + "\n"), out, REGISTRY)
    return status, [orjson.loads(line) for line in out.getvalue().splitlines()]


def test_classify_lines_one_output_per_input() -> None:
    status, out = _run(
        [
            '{"id": "a", "narrative": "ICE ERO AGENT REQ ASSIST"}',
            '{"id": "b", "narrative": "ice on roadway"}',
            '{"id": 3, "caller_agency": "DHS"}',
            '{"caller_email": "x@cbp.dhs.gov", "label": "ignored"}',
        ]
    )
    assert status == 0
    assert [o["id"] for o in out] == ["a", "b", 3, None]
    assert out[0]["immigration_agency"] is True and out[0]["agency"] == "ICE"
    assert out[0]["component"] == "ERO"
    assert out[1]["immigration_agency"] is False and out[1]["review"] is False
    assert out[2]["review"] is True and out[2]["agency"] is None
    assert out[3]["agency"] == "CBP"
    for o in out:
        assert set(o) >= {"id", "immigration_agency", "agency", "confidence", "review", "evidence"}
        for e in o["evidence"]:  # type: ignore[attr-defined]
            assert set(e) == {"signal", "matched", "detail"}


def test_classify_lines_reports_bad_lines_and_carries_on() -> None:
    status, out = _run(
        [
            "not json",
            "[1, 2]",
            '{"id": "x", "narrative": 42}',
            "",
            '{"id": "y", "narrative": "' + "A" * 9000 + '"}',
            '{"id": "z", "narrative": "HSI SA SMITH ON LINE 3"}',
        ]
    )
    assert status == 1
    assert len(out) == 5  # the blank line carries no record
    assert "invalid JSON" in out[0]["error"]  # type: ignore[operator]
    assert out[0]["line"] == 1
    assert "JSON object" in out[1]["error"]  # type: ignore[operator]
    assert out[2]["id"] == "x" and "narrative must be a string" in out[2]["error"]  # type: ignore[operator]
    assert out[3]["id"] == "y" and "longer than" in out[3]["error"]  # type: ignore[operator]
    assert out[4]["id"] == "z" and out[4]["immigration_agency"] is True


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("classify")(classify_command)

    @app.command("other")  # a second command, so "classify" is a subcommand as in the CLI
    def other() -> None:
        pass

    return app


def test_classify_command_reads_stdin() -> None:
    result = CliRunner().invoke(
        _app(), ["classify"], input='{"id": "a", "narrative": "BORDER PATROL AGT REQ BACKUP"}\n'
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["agency"] == "CBP"


def test_classify_command_evaluates_the_corpus() -> None:
    result = CliRunner().invoke(_app(), ["classify", "--evaluate", str(CORPUS)])
    assert result.exit_code == 0, result.output
    assert "strict (only a flag is a find):       precision 1.000  recall 1.000" in result.stdout
    assert "with review (a review counts as found): precision" in result.stdout
    assert "throughput:" in result.stdout and "records/s" in result.stdout


def test_classify_command_rejects_a_bad_registry(tmp_path: Path) -> None:
    path = _write(tmp_path, "schema: nope\n")
    result = CliRunner().invoke(_app(), ["classify", "--registry", str(path)], input="")
    assert result.exit_code == 2
    assert "schema" in result.output
