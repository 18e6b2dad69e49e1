"""NENA EIDO (NENA-STA-021) JSON documents -> canonical events.

An EIDO is a snapshot of an incident, not a log, so the events are read off
its timestamps: the earliest call start is the receipt, dispatch components
and unit statuses give unit events, dispositions close the call, and notes
written after the receipt become call updates. The call id is the incident
tracking identifier (the document's ``$id``); event ids are deterministic, so
a snapshot sent again (as NENA-STA-024 notifications are) adds nothing new.

The caller's agency matters most to callwatch: it is taken from the agencies
attached to the call (or, failing that, the document), preferring one that
is not the call-receiving PSAP and whose NENA agency type is federal (e.g.
``police.federal.ice``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from schemas.events import EVENT_TYPES, DispatchEvent, FactKind
from streams.adapters.eido_model import (
    Agency,
    Call,
    Callback,
    Eido,
    EmergencyResource,
    Notes,
    Person,
)
from streams.adapters.eido_xml import call_comments, pidf_location
from streams.adapters.event_ids import event_id
from streams.adapters.result import Converted, Duplicate, DuplicateRecords, Outcome, Rejection
from streams.adapters.text import clean_line, clean_narrative, html_to_text

# Bigger than any plausible EIDO (the NENA sample is 9 KB), small enough to refuse junk.
MAX_DOCUMENT_BYTES: Final = 16 * 1024 * 1024

# NENA Primary Unit Status registry values (normalised) -> the unit event they imply.
_UNIT_STATUS: Final = {
    "dispatched": "unit.dispatched",
    "assigned": "unit.dispatched",
    "enroute": "unit.en_route",
    "responding": "unit.en_route",
    "onscene": "unit.on_scene",
    "atscene": "unit.on_scene",
    "arrived": "unit.on_scene",
    "available": "unit.cleared",
    "cleared": "unit.cleared",
    "inquarters": "unit.cleared",
}
_RECEIVING_ROLES: Final = frozenset({"callreceiving", "psap"})
_CALL_KIND: Final = {"emergency": "911", "nonemergency": "admin", "administrative": "admin"}
EIDO_PROVIDES: Final[tuple[FactKind, ...]] = ("units", "narrative")


def read_eido_file(path: Path, *, received_at: datetime) -> Iterator[Outcome]:
    """One EIDO, a JSON array of them, or a NENA-STA-024 notify message wrapping them."""
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        yield Rejection("oversize", f"{size} bytes exceeds {MAX_DOCUMENT_BYTES}", 1, 1)
        return
    yield from convert_json(path.read_bytes(), received_at=received_at)


def convert_json(raw: bytes, *, received_at: datetime) -> Iterator[Outcome]:
    try:
        parsed: Any = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        yield Rejection("invalid_json", str(exc), 1, 1)
        return
    duplicates = DuplicateRecords()
    for record, document in enumerate(documents(parsed), 1):
        first = duplicates.first_seen([msgspec.json.encode(document)], record)
        if first is not None:
            yield Duplicate(record, first)
        else:
            yield convert_document(document, received_at=received_at, record=record)


def documents(parsed: Any) -> list[Any]:
    """The EIDOs in a decoded JSON value: itself, a list's items, or a notify's notification[]."""
    if isinstance(parsed, list):
        return parsed
    if isinstance(parsed, dict) and isinstance(parsed.get("event"), dict):
        notification = parsed["event"].get("notification")
        return notification if isinstance(notification, list) else []
    return [parsed]


def convert_document(
    document: Any, *, received_at: datetime, record: int = 1
) -> Converted | Rejection:
    """Events of one decoded EIDO, or why it was rejected (``line`` is the document's ordinal)."""
    if not isinstance(document, dict) or "eidoVersion" not in document:
        found = type(document).__name__
        detail = "no eidoVersion key" if isinstance(document, dict) else f"a JSON {found}"
        return Rejection("not_eido", f"not an EIDO document: {detail}", record, record)
    try:
        eido = msgspec.convert(document, Eido)
    except msgspec.ValidationError as exc:
        return Rejection("invalid_eido", str(exc), record, record)
    try:
        events = _EidoReader(eido, received_at).events()
    except msgspec.ValidationError as exc:
        return Rejection("schema_violation", str(exc), record, record)
    return Converted(tuple(events))


class _EidoReader:
    def __init__(self, eido: Eido, received_at: datetime) -> None:
        self.eido = eido
        self.received_at = received_at
        self.source = clean_line(f"eido:{eido.issuing_element_identification}") or "eido"
        self.call_id = eido.id
        self.agencies = {a.id: a for a in eido.agency_component}
        self.agent_agency = {a.id: a.agency_reference.ref for a in eido.agent_component}
        self.persons = {p.id: p for p in eido.person_component}
        self.callbacks = {c.id: c for c in eido.callback_component}
        self.locations = {loc.id: loc for loc in eido.location_component}
        self.resources = {r.id: r for r in eido.emergency_resource_component}
        self.additional = {a.id: a for a in eido.additional_data_component}
        self.calls = sorted(eido.call_component, key=lambda c: c.call_start_timestamp)
        self.call: Call | None = self.calls[0] if self.calls else None

    def events(self) -> list[DispatchEvent]:
        received = self._received_time()
        notes = sorted(self.eido.notes_component, key=lambda n: n.last_update_time_stamp)
        early = [n for n in notes if n.last_update_time_stamp <= received]
        events = [self._call_received(received, early)]
        events += [
            self._make(
                "call.updated",
                n.last_update_time_stamp,
                narrative=html_to_text(n.notes_action_comments),
                discriminator=n.id,
            )
            for n in notes
            if n.last_update_time_stamp > received
        ]
        events += self._incident_update(received)
        events += self._unit_events()
        events += self._closed()
        return sorted(events, key=lambda e: e.occurred_at)

    def _received_time(self) -> datetime:
        if self.call is not None:
            return self.call.call_start_timestamp
        if self.eido.incident_component is not None:
            return self.eido.incident_component.last_update_time_stamp
        return self.eido.last_update_time_stamp

    # --- call.received ---------------------------------------------------------------------

    def _call_received(self, at: datetime, early_notes: list[Notes]) -> DispatchEvent:
        call = self.call
        fields: dict[str, Any] = {
            "caller": self._caller(),
            "call_type": self._call_type(),
            "priority": self._priority(),
            "location": self._location(),
            "narrative": self._narrative(early_notes),
        }
        if call is not None:
            kind = _CALL_KIND.get(_normalise(call.standard_primary_call_type), "other")
            fields["line"] = _present({"kind": kind, "id": clean_line(call.queue_identifier)})
        # What an EIDO document can carry: units and notes. It has no commander steps,
        # body cameras, recording, legal basis or report, so those rules are not assessable.
        fields["provides"] = EIDO_PROVIDES
        return self._make("call.received", at, **fields)

    def _caller(self) -> dict[str, Any] | None:
        person = self._caller_person()
        callback = self._callback(person)
        agency = self._originating_agency()
        caller = {
            "name": _person_name(person) if person else None,
            "phone": _first_number(callback.call_back_information_uri) if callback else None,
            "callback_number": (
                _first_number([callback.updated_cbn.updated_cbn_identifier_uri])
                if callback and callback.updated_cbn
                else None
            ),
            "agency": clean_line(_jcard_name(agency.agency_jcard) or agency.id) if agency else None,
            "agency_type": clean_line(_most_specific(agency.agency_type)) if agency else None,
        }
        return _present(caller) or None

    def _caller_person(self) -> Person | None:
        linked = [
            self.persons[r.ref]
            for r in self._call_refs("person_reference")
            if r.ref in self.persons
        ]
        for person in [*linked, *self.persons.values()]:
            if any(
                _normalise(role) == "caller" for role in person.person_incident_role_registry_text
            ):
                return person
        return None

    def _callback(self, person: Person | None) -> Callback | None:
        for ref in (
            person.call_back_reference if person else None,
            self.call.call_back_reference if self.call else None,
        ):
            if ref is not None and ref.ref in self.callbacks:
                return self.callbacks[ref.ref]
        return None

    def _originating_agency(self) -> Agency | None:
        """The agency the call came from: attached to the call, not the PSAP, federal first."""
        linked = {r.ref for r in self._call_refs("agency_reference")}

        def rank(item: tuple[int, Agency]) -> tuple[bool, bool, bool, int]:
            index, agency = item
            return (_is_receiving(agency), agency.id not in linked, not _is_federal(agency), index)

        agencies = list(enumerate(self.eido.agency_component))
        return min(agencies, key=rank)[1] if agencies else None

    def _call_type(self) -> str | None:
        incident = self.eido.incident_component
        if incident is not None:
            code = incident.incident_type_internal_code
            text = (
                incident.incident_type_internal_text or incident.incident_type_common_registry_text
            )
            return clean_line(f"{code} - {text}" if code and code != text else text)
        if self.call is not None:
            return clean_line(self.call.local_call_type or self.call.standard_secondary_call_type)
        return None

    def _priority(self) -> str | None:
        incident = self.eido.incident_component
        if incident is not None:
            if incident.incident_priority_internal_text:
                return clean_line(incident.incident_priority_internal_text)
            if incident.incident_common_priority_number is not None:
                return str(incident.incident_common_priority_number)
        return clean_line(self.call.priority_identifier) if self.call else None

    def _location(self) -> dict[str, Any] | None:
        incident = self.eido.incident_component
        refs = [
            *(incident.location_reference if incident else ()),
            *self._call_refs("location_reference"),
        ]
        ordered = [self.locations[r.ref] for r in refs if r.ref in self.locations]
        ordered += [loc for loc in self.locations.values() if loc not in ordered]
        location: dict[str, Any] = {}
        for candidate in ordered:
            if candidate.location_by_value:
                found = pidf_location(candidate.location_by_value)
                if location.get("address") is None:
                    location["address"] = clean_line(found.address)
                if found.lat is not None and location.get("lat") is None:
                    location |= {"lat": found.lat, "lon": found.lon}
            if location.get("address") is None:
                location["address"] = clean_line(candidate.location_description_text)
        if incident is not None:
            location["beat"] = clean_line(incident.beat_or_dispatch_group_text)
        return _present(location) or None

    def _narrative(self, early_notes: list[Notes]) -> str | None:
        parts = [html_to_text(n.notes_action_comments) for n in early_notes]
        for ref in self._call_refs("additional_data_reference"):
            data = self.additional.get(ref.ref)
            if data is not None and data.additional_data_by_value:
                parts += call_comments(data.additional_data_by_value)
        return clean_narrative("\n".join(p for p in parts if p))

    # --- later events ----------------------------------------------------------------------

    def _incident_update(self, received: datetime) -> list[DispatchEvent]:
        """A later incident snapshot restates type, priority and place as a call update."""
        incident = self.eido.incident_component
        if incident is None or incident.last_update_time_stamp <= received:
            return []
        return [
            self._make(
                "call.updated",
                incident.last_update_time_stamp,
                call_type=self._call_type(),
                priority=self._priority(),
                location=self._location(),
                discriminator=incident.id,
            )
        ]

    def _unit_events(self) -> list[DispatchEvent]:
        events: list[DispatchEvent] = []
        for dispatch in self.eido.dispatch_component:
            for ref in dispatch.emergency_resource_reference:
                resource = self.resources.get(ref.ref)
                events.append(
                    self._unit(
                        "unit.dispatched", dispatch.last_update_time_stamp, ref.ref, resource
                    )
                )
        for resource in self.eido.emergency_resource_component:
            kind = _UNIT_STATUS.get(_normalise(resource.primary_unit_status_registry_text))
            if kind is not None:
                events.append(
                    self._unit(kind, resource.last_update_time_stamp, resource.id, resource)
                )
        return events

    def _unit(
        self, kind: str, at: datetime, resource_id: str, resource: EmergencyResource | None
    ) -> DispatchEvent:
        name = (resource.emergency_resource_name if resource else None) or resource_id
        unit = clean_line(name, 128) or resource_id[:128]
        fields: dict[str, Any] = {"unit": unit}
        agency = self._resource_agency(resource)
        if agency is not None and _is_federal(agency):
            fields["role"] = "federal"
            fields["officer"] = {
                "agency": clean_line(_jcard_name(agency.agency_jcard) or agency.id)
            }
        return self._make(kind, at, **fields)

    def _resource_agency(self, resource: EmergencyResource | None) -> Agency | None:
        if resource is None:
            return None
        for ref in resource.agent_reference:
            agency_id = self.agent_agency.get(ref.ref)
            if agency_id in self.agencies:
                return self.agencies[agency_id]
        return self.agencies.get(resource.updated_by_agency_reference.ref)

    def _closed(self) -> list[DispatchEvent]:
        incident = self.eido.incident_component
        if incident is None:
            return []
        dispositions = incident.disposition_component
        if dispositions:
            primary = min(
                dispositions,
                key=lambda d: (
                    d.disposition_primary_indicator is not True,
                    d.last_update_time_stamp,
                ),
            )
            code, text = (
                primary.disposition_common_registry_code,
                primary.disposition_description_text,
            )
            at = max(d.last_update_time_stamp for d in dispositions)
            return [
                self._make(
                    "call.closed", at, disposition=clean_line(f"{code} - {text}" if text else code)
                )
            ]
        if any(_normalise(s) == "closed" for s in incident.incident_status_common_registry_text):
            return [self._make("call.closed", incident.last_update_time_stamp)]
        return []

    # --- helpers ---------------------------------------------------------------------------

    def _call_refs(self, name: str) -> list[Any]:
        return [ref for call in self.calls for ref in getattr(call, name)]

    def _make(
        self,
        kind: str,
        at: datetime,
        *,
        discriminator: str = "",
        **fields: Any,
    ) -> DispatchEvent:
        unit = fields.get("unit")
        envelope = {
            "event_id": event_id(self.source, self.call_id, kind, at, unit, discriminator),
            "call_id": self.call_id,
            "occurred_at": at.astimezone(UTC),  # one spelling of time across all adapters
            "received_at": self.received_at,
            "source": self.source,
        }
        return msgspec.convert(_present(envelope | fields), EVENT_TYPES[kind])


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _normalise(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _is_receiving(agency: Agency) -> bool:
    roles = {_normalise(r) for r in agency.agency_role_description_registry_text}
    types = {_normalise(t) for t in agency.agency_type}
    return bool((roles | types) & _RECEIVING_ROLES)


def _is_federal(agency: Agency) -> bool:
    return any(".federal" in t.lower() for t in agency.agency_type)


def _most_specific(codes: Iterable[str]) -> str | None:
    """Of an agency's type codes, a federal one first, then the most dotted (most specific)."""
    ranked = sorted(codes, key=lambda c: (".federal" not in c.lower(), -c.count(".")))
    return ranked[0] if ranked else None


def _first_number(uris: Iterable[str]) -> str | None:
    """Prefer a tel: URI's number; otherwise the first URI as given (sip:...)."""
    uris = [u.strip() for u in uris if u and u.strip()]
    for uri in uris:
        if uri.lower().startswith("tel:"):
            return clean_line(uri[4:])
    return clean_line(uris[0]) if uris else None


def _person_name(person: Person) -> str | None:
    niem = person.nc_person_component
    for name in niem.name if niem else ():
        full = " ".join(t.value for t in name.person_full_name if t.value)
        parts = [t.value for t in (*name.person_given_name, *name.person_sur_name) if t.value]
        text = clean_line(full or " ".join(parts))
        if text:
            return text
    return None


def _jcard_name(jcard: str | None) -> str | None:
    """The org (or fn) of a jCard (RFC 7095): ["vcard", [[name, params, type, value], ...]]."""
    if not jcard:
        return None
    try:
        card: Any = msgspec.json.decode(jcard)
    except msgspec.DecodeError:
        return None
    if not (isinstance(card, list) and len(card) == 2 and isinstance(card[1], list)):
        return None
    found: dict[str, str] = {}
    for prop in card[1]:
        if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[0], str):
            value = prop[3]
            if isinstance(value, list):
                value = " ".join(str(v) for v in value if v)
            if isinstance(value, str) and value.strip():
                found.setdefault(prop[0].lower(), value.strip())
    return found.get("org") or found.get("fn")
