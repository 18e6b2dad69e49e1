"""NENA EIDO documents -> canonical events, on EIDOs written for these tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas.events import (
    CallClosed,
    CallReceived,
    CallUpdated,
    UnitDispatched,
    UnitOnScene,
)
from streams.adapters import Collector, Converted, Duplicate, Rejection
from streams.adapters.eido import convert_document, convert_json, read_eido_file
from streams.adapters.eido_xml import pidf_location
from streams.adapters.text import html_to_text

FIXTURES = Path(__file__).parent / "fixtures" / "adapters" / "eido"
RECEIVED_AT = datetime(2026, 1, 2, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def events(document: Any) -> list[Any]:
    outcome = convert_document(document, received_at=RECEIVED_AT)
    assert isinstance(outcome, Converted), outcome
    return list(outcome.events)


def test_federal_caller_agency_type_and_contact_come_from_the_eido() -> None:
    received = events(load("ice_request.json"))[0]
    assert isinstance(received, CallReceived)
    assert received.call_id == "urn:emergency:uid:incidentid:7f3a0c21:psap.example-city.gov"
    assert received.caller.agency_type == "police.federal.ice"
    assert received.caller.agency == "U.S. Immigration and Customs Enforcement"  # jCard org
    assert received.caller.name == "Dana Reyes"
    assert received.caller.phone == "+1-502-555-0143"  # the tel: URI, not the sip: one
    assert received.caller.callback_number == "+1-502-555-0199"
    assert received.occurred_at == datetime(2025, 3, 4, 16, 1, 30, 250000, tzinfo=UTC)
    assert received.source == "eido:chfe.example-city.gov"
    assert received.line.kind == "911"


def test_incident_type_priority_location_and_notes() -> None:
    received = events(load("ice_request.json"))[0]
    assert received.call_type == "ASSTAG - ASSIST OTHER AGENCY"
    assert received.priority == "P2"
    assert received.location.address == "600 W Jefferson St, Louisville, KY, 40202"
    assert (received.location.lat, received.location.lon) == (38.2542, -85.7594)
    assert received.location.beat == "Beat 12"
    # The note written before the call started is part of what dispatch knew at receipt.
    assert received.narrative == (
        "Caller states she is with ICE ERO & requests two units to assist at the address.\n"
        "Says she has an I-200 administrative warrant."
    )


def test_units_later_notes_and_disposition_in_time_order() -> None:
    sequence = events(load("ice_request.json"))
    assert [type(e) for e in sequence] == [
        CallReceived,
        UnitDispatched,
        CallUpdated,  # note-2, written after the call started
        UnitOnScene,
        CallUpdated,  # the incident snapshot restating type/priority/place
        CallClosed,
    ]
    times = [e.occurred_at for e in sequence]
    assert times == sorted(times)
    dispatched = sequence[1]
    assert dispatched.unit == "2A31" and dispatched.role == "patrol"
    assert sequence[2].narrative == "Sgt. notified; asked caller to call back on the recorded line."
    assert sequence[-1].disposition == "NoAction - Assistance declined by commander"


def test_a_federal_unit_gets_the_federal_role() -> None:
    document = load("ice_request.json")
    document["agentComponent"][1]["agencyReference"] = {"$ref": "ice-ero.dhs.gov"}
    dispatched = next(e for e in events(document) if isinstance(e, UnitDispatched))
    assert dispatched.role == "federal"
    assert dispatched.officer.agency == "U.S. Immigration and Customs Enforcement"


def test_the_psap_is_the_caller_agency_only_when_there_is_no_other() -> None:
    document = load("ice_request.json")
    document["agencyComponent"] = document["agencyComponent"][:1]
    document["callComponent"][0]["agencyReference"] = []
    received = events(document)[0]
    assert (received.caller.agency, received.caller.agency_type) == (
        "psap.example-city.gov",
        "psap",
    )


def test_event_ids_are_stable_and_unique() -> None:
    first = [e.event_id for e in events(load("ice_request.json"))]
    again = convert_document(load("ice_request.json"), received_at=datetime(2030, 1, 1, tzinfo=UTC))
    assert isinstance(again, Converted)
    assert first == [e.event_id for e in again.events]
    assert len(set(first)) == len(first)


def test_eido_without_call_component_uses_incident_time_and_closes() -> None:
    sequence = events(load("traffic_stop.json"))
    assert [type(e) for e in sequence] == [CallReceived, CallClosed]
    assert sequence[0].occurred_at == datetime(2025, 3, 5, 7, 58, tzinfo=UTC)
    assert sequence[0].call_type == "Traffic Stop"


def test_missing_prologue_timestamp_is_rejected_with_its_path() -> None:
    (outcome,) = read_eido_file(FIXTURES / "missing_timestamp.json", received_at=RECEIVED_AT)
    assert isinstance(outcome, Rejection)
    assert outcome.reason == "invalid_eido"
    assert "lastUpdateTimeStamp" in outcome.detail and "agencyComponent[2]" in outcome.detail


@pytest.mark.parametrize(
    ("mutate", "reason", "detail"),
    [
        (lambda d: d.update(eidoVersion="2.0"), "invalid_eido", "eidoVersion"),
        (
            lambda d: d["callComponent"][0].update(callStartTimestamp="2025-03-04T10:01:30"),
            "invalid_eido",
            "timezone",
        ),
        (lambda d: d.pop("eidoVersion"), "not_eido", "eidoVersion"),
        (lambda d: d["callComponent"][0].pop("direction"), "invalid_eido", "direction"),
    ],
)
def test_schema_rules_reject_with_a_reason(mutate: Any, reason: str, detail: str) -> None:
    document = load("ice_request.json")
    mutate(document)
    outcome = convert_document(document, received_at=RECEIVED_AT)
    assert isinstance(outcome, Rejection)
    assert outcome.reason == reason and detail in outcome.detail


def test_notify_wrapper_yields_each_eido_and_spots_repeats() -> None:
    outcomes = list(read_eido_file(FIXTURES / "notify_two_eidos.json", received_at=RECEIVED_AT))
    assert [type(o) for o in outcomes] == [Converted, Converted, Duplicate]
    collector = Collector()
    for outcome in outcomes:
        collector.accept(outcome)
    assert collector.tally.records_read == 3 and collector.tally.adds_up


def test_non_eido_json_and_broken_json_are_rejected() -> None:
    (subscribe,) = read_eido_file(FIXTURES / "subscribe_message.json", received_at=RECEIVED_AT)
    assert isinstance(subscribe, Rejection) and subscribe.reason == "not_eido"
    (broken,) = convert_json(b'{"eidoVersion": "1.0",', received_at=RECEIVED_AT)
    assert isinstance(broken, Rejection) and broken.reason == "invalid_json"
    outcomes = list(convert_json(b'[1, {"eidoVersion": "1.0"}]', received_at=RECEIVED_AT))
    assert [o.reason for o in outcomes if isinstance(o, Rejection)] == ["not_eido", "invalid_eido"]


def test_pidf_lo_parsing_tolerates_junk() -> None:
    assert pidf_location("<not xml").address is None
    assert (
        pidf_location("<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]><x>&a;</x>").address
        is None
    )


def test_html_notes_become_plain_text() -> None:
    assert html_to_text("<p>one &amp; two</p><p>three<br>four</p>") == "one & two\nthree\nfour"
    assert html_to_text("AT&amp;T &lt;tag&gt;") == "AT&T <tag>"


def test_location_takes_address_and_point_from_whichever_component_has_them() -> None:
    document = load("ice_request.json")
    geo_only = (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:Point><gml:pos>38.1 -85.1</gml:pos></gml:Point></presence>"
    )
    document["locationComponent"].insert(
        0,
        {
            "$id": "loc-geo",
            "lastUpdateTimeStamp": "2025-03-04T10:04:00-06:00",
            "updatedByAgencyReference": {"$ref": "psap.example-city.gov"},
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": geo_only,
        },
    )
    document["incidentComponent"]["locationReference"] = [
        {"$ref": "loc-geo"},
        {"$ref": "loc-scene"},
    ]
    location = events(document)[0].location
    assert (location.lat, location.lon) == (38.1, -85.1)
    assert location.address == "600 W Jefferson St, Louisville, KY, 40202"
